//! `mla-broker document upload | fetch` against a running broker, on both backends: a retried upload
//! stores the document once; a fetch resumes from what an interrupted one left and names the file
//! only once its SHA-256 is the document's; what the caller may not see, or content that is not the
//! document, is an error that leaves no file.

use mla_broker::cli::{FetchArgs, RemoteArgs, UploadArgs};
use mla_broker::documents::{fetch, upload};
use mla_domain::Role;
use mla_tests::*;
use sha2::{Digest, Sha256};

fn remote(broker: &Broker, token: String) -> RemoteArgs {
    RemoteArgs { server: broker.url.clone(), server_ca: None, token }
}

async fn the_cli_uploads_once_and_fetches_resuming(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    broker.register_partners(&["FR-MOJ"]).await;
    let request = broker.submitted_by("FR-MOJ", "Bank records").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("extraction.bin");
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &content).unwrap();

    let args = UploadArgs {
        remote: remote(&broker, broker.partner("FR-MOJ")),
        request: request.id.clone(),
        kind: "supporting_document".into(),
        title: "Phone extraction".into(),
        audience: "SHARED".into(),
        language: None,
        translation_of: None,
        media_type: None,
        file_name: Some("استخراج الهاتف.bin".into()),
        file: file.clone(),
    };
    let document = upload(&args).await.expect("uploaded");
    assert_eq!(document.sha256, hex::encode(Sha256::digest(&content)));
    assert_eq!(document.size_bytes, content.len() as i64);
    assert!(!document.receipt.is_empty());
    assert_eq!(upload(&args).await.expect("uploaded again").id, document.id, "stored once");

    // An interrupted fetch left a third of the file: the next one goes on from there.
    let judge = broker.staff("judge-1", &[Role::Judge]);
    let out = dir.path().join("fetched.bin");
    std::fs::write(dir.path().join("fetched.bin.part"), &content[..1_000_000]).unwrap();
    let fetch_args =
        FetchArgs { remote: remote(&broker, judge.clone()), document: document.id.clone(), out: out.clone() };
    assert_eq!(fetch(&fetch_args).await.expect("fetched"), out);
    assert_eq!(std::fs::read(&out).unwrap(), content);
    assert!(!dir.path().join("fetched.bin.part").exists());

    // What was left is not the document's beginning: refused, and nothing kept.
    let other = dir.path().join("other.bin");
    std::fs::write(dir.path().join("other.bin.part"), b"not the document").unwrap();
    let wrong = fetch(&FetchArgs { out: other.clone(), ..fetch_args.clone() }).await.unwrap_err();
    assert!(wrong.to_string().contains("is not the document's"), "{wrong:#}");
    assert!(!other.exists() && !dir.path().join("other.bin.part").exists());

    // A request or document the caller may not see.
    let stranger = remote(&broker, broker.partner("DE-BJ"));
    let refused = upload(&UploadArgs { remote: stranger.clone(), ..args.clone() }).await.unwrap_err();
    assert!(refused.to_string().contains("NotFound"), "{refused:#}");
    let refused = fetch(&FetchArgs { remote: stranger, ..fetch_args }).await.unwrap_err();
    assert!(refused.to_string().contains("NotFound"), "{refused:#}");
    let bad_kind = upload(&UploadArgs { kind: "postcard".into(), ..args }).await.unwrap_err();
    assert!(bad_kind.to_string().contains("not a document kind"), "{bad_kind:#}");
    broker.stop().await;
}

on_both_backends!(the_cli_uploads_once_and_fetches_resuming);
