//! Documents end to end, on both backends, over gRPC: the letter of request and its translation
//! shared with the partner, internal notes that never reach it, evidence withheld until a judge
//! releases it behind accepted assurances, downloads equal to uploads by digest, custody in the hash
//! chain with `audit verify` green, and bad uploads that store nothing.

use std::time::Duration;

use futures::StreamExt;
use mla_domain::Role;
use mla_proto::v1 as pb;
use mla_tests::*;
use pb::Action as A;
use pb::upload_document_request::Part;
use tonic::Code;

/// The first bytes of a PDF, so that the broker detects the media type from the content.
fn pdf(body: &str) -> Vec<u8> {
    format!("%PDF-1.7\n{body}\n%%EOF\n").into_bytes()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn metadata(request_id: &str, kind: pb::DocumentKind, file_name: &str) -> pb::DocumentMetadata {
    pb::DocumentMetadata {
        request_id: request_id.into(),
        kind: kind as i32,
        title: format!("{kind:?}"),
        file_name: file_name.into(),
        media_type: "application/pdf".into(),
        ..Default::default()
    }
}

/// The messages of an upload: the metadata, then the content in chunks of `chunk` bytes.
fn messages(metadata: pb::DocumentMetadata, content: &[u8], chunk: usize) -> Vec<pb::UploadDocumentRequest> {
    let first = pb::UploadDocumentRequest { part: Some(Part::Metadata(metadata)) };
    let chunks = content
        .chunks(chunk.max(1))
        .map(|c| pb::UploadDocumentRequest { part: Some(Part::Chunk(c.to_vec())) });
    std::iter::once(first).chain(chunks).collect()
}

async fn upload(
    broker: &Broker,
    token: &str,
    metadata: pb::DocumentMetadata,
    content: &[u8],
) -> Result<pb::Document, tonic::Status> {
    let stream = futures::stream::iter(messages(metadata, content, 1000));
    broker.documents().await.upload_document(authed(stream, token)).await.map(|r| r.into_inner())
}

/// The whole content of a document and the metadata sent before it.
async fn download(broker: &Broker, token: &str, id: &str) -> Result<(pb::Document, Vec<u8>), tonic::Status> {
    let call = pb::DownloadDocumentRequest { id: id.into(), offset: 0 };
    let mut stream = broker.documents().await.download_document(authed(call, token)).await?.into_inner();
    let mut document = None;
    let mut content = Vec::new();
    while let Some(message) = stream.next().await {
        let message = message?;
        if let Some(d) = message.document {
            document = Some(d);
        }
        content.extend_from_slice(&message.chunk);
    }
    Ok((document.expect("the first message carries the document"), content))
}

async fn list(broker: &Broker, token: &str, request_id: &str) -> Vec<pb::Document> {
    let call = pb::ListDocumentsRequest { request_id: request_id.into(), ..Default::default() };
    broker.documents().await.list_documents(authed(call, token)).await.expect("listed").into_inner().documents
}

async fn transition(broker: &Broker, token: &str, call: pb::TransitionRequestRequest) -> pb::Request {
    broker.requests().await.transition_request(authed(call, token)).await.expect("transition").into_inner()
}

/// A request France submitted and the NCIJC has under review.
async fn under_review(broker: &Broker) -> pb::Request {
    broker.register_partners(&["FR-MOJ", "DE-BJ"]).await;
    let request = broker.submitted_by("FR-MOJ", "Witness W-17").await;
    let registrar = broker.token_for("registrar");
    let legal = broker.token_for("legal_officer");
    transition(broker, &registrar, action(&request.id, A::Acknowledge)).await;
    transition(broker, &legal, action(&request.id, A::StartReview)).await
}

async fn the_letter_and_its_translation_are_shared_and_internal_notes_stay_home(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    let request = under_review(&broker).await;
    let france = broker.partner("FR-MOJ");
    let registrar = broker.token_for("registrar");
    let legal = broker.token_for("legal_officer");

    let letter_bytes = pdf("Demande d'entraide");
    let letter = pb::DocumentMetadata {
        language: "fr".into(),
        expected_sha256: sha256_hex(&letter_bytes),
        ..metadata(&request.id, pb::DocumentKind::LetterOfRequest, "demande.pdf")
    };
    let letter = upload(&broker, &france, letter, &letter_bytes).await.expect("France uploads its letter");
    assert_eq!(letter.sha256, sha256_hex(&letter_bytes));
    assert_eq!(letter.size_bytes, letter_bytes.len() as i64);
    assert_eq!(letter.detected_media_type, "application/pdf");
    assert_eq!(letter.release_state, pb::ReleaseState::NotApplicable as i32);
    assert_eq!(letter.uploaded_by.as_ref().map(|a| a.partner_code.as_str()), Some("FR-MOJ"));

    let arabic = pdf("طلب المساعدة القانونية");
    let translation = pb::DocumentMetadata {
        language: "ar".into(),
        translation_of: letter.id.clone(),
        ..metadata(&request.id, pb::DocumentKind::Translation, "ترجمة الطلب.pdf")
    };
    let translation = upload(&broker, &registrar, translation, &arabic).await.expect("the NCIJC translates");
    assert_eq!(translation.file_name, "ترجمة الطلب.pdf");
    assert_eq!(translation.translation_of, letter.id);

    let note = pb::DocumentMetadata {
        audience: pb::Audience::Internal as i32,
        media_type: "text/plain".into(),
        ..metadata(&request.id, pb::DocumentKind::Other, "note.txt")
    };
    let note = upload(&broker, &legal, note, b"Internal assessment").await.expect("an internal note");

    let seen: Vec<String> = list(&broker, &france, &request.id).await.into_iter().map(|d| d.id).collect();
    assert_eq!(seen, [letter.id.clone(), translation.id.clone()], "France sees the shared documents only");
    let staff: Vec<String> = list(&broker, &legal, &request.id).await.into_iter().map(|d| d.id).collect();
    assert_eq!(staff, [letter.id.clone(), translation.id.clone(), note.id.clone()]);

    let mut client = broker.documents().await;
    let hidden = client
        .get_document(authed(pb::GetDocumentRequest { id: note.id.clone() }, &france))
        .await
        .expect_err("the note does not exist for France");
    assert_eq!((hidden.code(), reason_of(&hidden).as_str()), (Code::NotFound, "DOCUMENT_NOT_FOUND"));
    let hidden = download(&broker, &france, &note.id).await.expect_err("nor can it be downloaded");
    assert_eq!(hidden.code(), Code::NotFound);
    let germany = broker.partner("DE-BJ");
    let other = download(&broker, &germany, &letter.id).await.expect_err("another partner sees nothing");
    assert_eq!(other.code(), Code::NotFound);

    let (document, content) = download(&broker, &registrar, &letter.id).await.expect("downloaded");
    assert_eq!(document.id, letter.id);
    assert_eq!(sha256_hex(&content), letter.sha256, "the download is the upload, by digest");
    let (_, arabic_back) = download(&broker, &france, &translation.id).await.expect("France reads it");
    assert_eq!(arabic_back, arabic);

    // A part from an offset, as a resumed download asks for it.
    let call = pb::DownloadDocumentRequest { id: letter.id.clone(), offset: 5 };
    let mut stream = client.download_document(authed(call, &france)).await.expect("a part").into_inner();
    let mut tail = Vec::new();
    while let Some(message) = stream.next().await {
        tail.extend_from_slice(&message.expect("a message").chunk);
    }
    assert_eq!(tail, letter_bytes[5..]);
    broker.stop().await;
}

async fn evidence_is_released_only_behind_accepted_assurances(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    let request = under_review(&broker).await;
    let france = broker.partner("FR-MOJ");
    let judge = broker.token_for("judge");
    let officer = broker.token_for("evidence_officer");
    let speciality = "Use only in proceedings 17/2026 of the Paris court";
    let proposed = pb::TransitionRequestRequest {
        conditions: vec![pb::Condition {
            kind: pb::ConditionKind::Speciality as i32,
            text: speciality.into(),
            ..Default::default()
        }],
        ..action(&request.id, A::ProposeConditions)
    };
    transition(&broker, &judge, proposed).await;

    let bank_records = pdf("Bank records of account 17");
    let evidence = metadata(&request.id, pb::DocumentKind::Evidence, "relevés.pdf");
    let evidence = upload(&broker, &officer, evidence, &bank_records).await.expect("evidence uploaded");
    assert_eq!(evidence.release_state, pb::ReleaseState::Withheld as i32);
    assert!(
        list(&broker, &france, &request.id).await.is_empty(),
        "withheld evidence is not listed to France"
    );
    let hidden = download(&broker, &france, &evidence.id).await.expect_err("nor downloadable");
    assert_eq!(hidden.code(), Code::NotFound);
    let added = broker.events(&france, &request.id).await;
    assert!(added.iter().all(|e| e.action != "DOCUMENT_ADDED"), "France does not learn of withheld evidence");

    let release = |token: &str, etag: &str| {
        let call = pb::ReleaseDocumentsRequest {
            request_id: request.id.clone(),
            document_ids: vec![evidence.id.clone()],
            etag: etag.into(),
            request_id_key: String::new(),
        };
        let token = token.to_owned();
        let broker = &broker;
        async move { broker.documents().await.release_documents(authed(call, &token)).await }
    };
    let pending = release(&judge, "").await.expect_err("a condition is pending");
    assert_eq!(
        (pending.code(), reason_of(&pending).as_str()),
        (Code::FailedPrecondition, "ASSURANCES_PENDING")
    );

    transition(&broker, &france, action(&request.id, A::AcceptConditions)).await;
    let early = release(&judge, "").await.expect_err("accepted, but not in execution yet");
    assert_eq!(reason_of(&early), "ASSURANCES_PENDING");
    let executing = transition(&broker, &officer, action(&request.id, A::StartExecution)).await;
    let officer_refused = release(&officer, "").await.expect_err("an evidence officer does not release");
    assert_eq!(officer_refused.code(), Code::PermissionDenied);
    let partner_refused = release(&france, "").await.expect_err("nor does the partner");
    assert_eq!(partner_refused.code(), Code::PermissionDenied);

    // Custody left the request's etag where the last transition put it.
    let released = release(&judge, &executing.etag).await.expect("released").into_inner().documents;
    assert_eq!(released[0].release_state, pb::ReleaseState::Released as i32);
    assert_eq!(released[0].use_restrictions, [speciality]);

    let seen = list(&broker, &france, &request.id).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].use_restrictions, [speciality]);
    let (document, content) = download(&broker, &france, &evidence.id).await.expect("France downloads it");
    assert_eq!(document.use_restrictions, [speciality]);
    assert_eq!(sha256_hex(&content), evidence.sha256);

    // Custody is in the chain: each event names the document and its digest, and the trail verifies.
    let trail = broker.events(&judge, &request.id).await;
    let custody: Vec<&str> =
        trail.iter().map(|e| e.action.as_str()).filter(|a| a.starts_with("DOCUMENT")).collect();
    assert_eq!(custody, ["DOCUMENT_ADDED", "DOCUMENTS_RELEASED", "DOCUMENT_DOWNLOADED"]);
    for event in trail.iter().filter(|e| e.action.starts_with("DOCUMENT")) {
        assert!(event.details.contains(&evidence.sha256), "{}", event.details);
        assert_eq!(event.from_state, event.to_state, "custody changes no state");
    }
    let downloaded = trail.last().expect("events");
    assert_eq!(downloaded.actor.as_ref().map(|a| a.partner_code.as_str()), Some("FR-MOJ"));
    let store = broker.open_store().await;
    let report = mla_store::verify_audit(store.as_ref()).await.expect("read").expect("the trail verifies");
    // The whole chain: what the judge reads and the partner's creation of its draft, which the NCIJC
    // never sees.
    assert_eq!((report.requests, report.events), (1, trail.len() + 1));
    broker.stop().await;
}

async fn bad_uploads_store_nothing(backend: Backend) {
    let Some(broker) = Broker::start_with(backend, |config| config.max_document_bytes = 4096).await else {
        return;
    };
    let request = under_review(&broker).await;
    let france = broker.partner("FR-MOJ");
    let annex = |name: &str| metadata(&request.id, pb::DocumentKind::SupportingDocument, name);

    let too_large =
        upload(&broker, &france, annex("big.bin"), &[7u8; 5000]).await.expect_err("over the limit");
    assert_eq!(
        (too_large.code(), reason_of(&too_large).as_str()),
        (Code::ResourceExhausted, "DOCUMENT_TOO_LARGE")
    );

    let wrong = pb::DocumentMetadata { expected_sha256: sha256_hex(b"something else"), ..annex("a.pdf") };
    let mismatch =
        upload(&broker, &france, wrong, &pdf("annex")).await.expect_err("not the announced digest");
    assert_eq!((mismatch.code(), reason_of(&mismatch).as_str()), (Code::InvalidArgument, "SHA256_MISMATCH"));

    let unknown = annex("a.pdf");
    let unknown = pb::DocumentMetadata { request_id: uuid::Uuid::now_v7().to_string(), ..unknown };
    let missing = upload(&broker, &france, unknown, b"x").await.expect_err("no such request");
    assert_eq!(missing.code(), Code::NotFound);
    let germany = broker.partner("DE-BJ");
    let foreign = upload(&broker, &germany, annex("a.pdf"), b"x").await.expect_err("not Germany's request");
    assert_eq!(foreign.code(), Code::NotFound);

    let no_metadata =
        futures::stream::iter([pb::UploadDocumentRequest { part: Some(Part::Chunk(b"x".to_vec())) }]);
    let refused = broker.documents().await.upload_document(authed(no_metadata, &france)).await;
    assert_eq!(refused.expect_err("metadata comes first").code(), Code::InvalidArgument);

    // A stream that breaks off: the client goes away after the first chunk.
    let (sender, receiver) = futures::channel::mpsc::unbounded();
    for message in messages(annex("cut.pdf"), &pdf("the beginning of a long file"), 10).into_iter().take(2) {
        sender.unbounded_send(message).expect("queued");
    }
    let mut client = broker.documents().await;
    let token = france.clone();
    let cut = tokio::spawn(async move { client.upload_document(authed(receiver, &token)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    cut.abort();
    drop(sender);
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert!(list(&broker, &france, &request.id).await.is_empty(), "no bad upload left a document");
    let judge = broker.token_for("judge");
    let trail = broker.events(&judge, &request.id).await;
    assert!(trail.iter().all(|e| e.action != "DOCUMENT_ADDED"), "nor a custody event");

    // A retry under the same idempotency key returns the first upload's document.
    let keyed = pb::DocumentMetadata { request_id_key: "fr-annex-1".into(), ..annex("annex.pdf") };
    let first = upload(&broker, &france, keyed.clone(), &pdf("annex")).await.expect("uploaded");
    let again = upload(&broker, &france, keyed, &pdf("annex")).await.expect("the retry");
    assert_eq!(again.id, first.id);
    assert_eq!(list(&broker, &france, &request.id).await.len(), 1);
    let store = broker.open_store().await;
    mla_store::verify_audit(store.as_ref()).await.expect("read").expect("the trail verifies");
    broker.stop().await;
}

/// `audit verify --content` re-hashes every document's content: intact after uploads (the same
/// content, shared by two documents, read once); a file changed or removed behind the broker's back is
/// named with its document (a file beside SQLite, chunk rows in PostgreSQL).
async fn content_verification_names_changed_and_missing_content(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    let request = under_review(&broker).await;
    let france = broker.partner("FR-MOJ");
    let letter = pdf("Demande");
    let first = metadata(&request.id, pb::DocumentKind::LetterOfRequest, "demande.pdf");
    let first = upload(&broker, &france, first, &letter).await.expect("uploaded");
    let again = metadata(&request.id, pb::DocumentKind::SupportingDocument, "copie.pdf");
    let again = upload(&broker, &france, again, &letter).await.expect("the same bytes again");
    assert_eq!(again.sha256, first.sha256);
    let store = broker.open_store().await;
    let content = broker.open_content().await;
    let report = mla_store::verify_content(store.as_ref(), content.as_ref()).await.expect("read");
    let report = report.expect("the content is intact");
    assert_eq!((report.documents, report.contents, report.bytes), (2, 1, letter.len() as u64));

    let findings =
        || async { mla_store::verify_content(store.as_ref(), content.as_ref()).await.expect("read") };
    tamper(&broker, &first.sha256, false).await;
    let changed = findings().await.expect_err("the change is caught");
    assert_eq!(changed.len(), 2, "both documents share the content: {changed:?}");
    assert!(changed[0].to_string().contains("changed"), "{}", changed[0]);
    tamper(&broker, &first.sha256, true).await;
    let missing = findings().await.expect_err("the loss is caught");
    assert!(missing[0].to_string().contains("missing"), "{}", missing[0]);
    broker.stop().await;
}

/// Changes the content stored under `sha256` behind the broker's back, or removes it: its file beside
/// SQLite, its chunk rows in PostgreSQL.
async fn tamper(broker: &Broker, sha256: &str, remove: bool) {
    match broker.database_url() {
        Some(url) => {
            let pool = sqlx::PgPool::connect(url).await.expect("PostgreSQL opens");
            let sql = match remove {
                true => "DELETE FROM contents WHERE sha256 = $1",
                false => {
                    "UPDATE content_chunks SET data = data || '\\x00'::bytea \
                     WHERE upload_id = (SELECT upload_id FROM contents WHERE sha256 = $1)"
                }
            };
            let changed = sqlx::query(sql).bind(sha256).execute(&pool).await.expect("rewritten");
            assert!(changed.rows_affected() > 0);
            pool.close().await;
        }
        None => {
            let file = broker.data_dir().join("content").join(&sha256[..2]).join(sha256);
            match remove {
                true => std::fs::remove_file(&file).expect("the file is removed"),
                false => std::fs::write(&file, b"%PDF-1.7 forged").expect("the file is rewritten"),
            }
        }
    }
}

/// A multipart body that breaks off inside the file part, through the gateway run alone in front of
/// the broker (`gateway --upstream`): the gateway cancels the upload it was streaming, and the
/// broker stores nothing.
async fn a_broken_multipart_upload_stores_nothing(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    let request = under_review(&broker).await;
    let gateway = broker.start_remote_gateway().await;
    let france = broker.partner("FR-MOJ");
    let metadata = serde_json::json!({"kind": "SUPPORTING_DOCUMENT", "title": "Cut short"});
    let (content_type, mut body) = form(&metadata, "cut.pdf", &pdf(&"x".repeat(100_000)));
    body.truncate(body.len() - 40_000);
    let http = http_client();
    let answer = http
        .post(format!("{gateway}/v1/requests/{}/documents", request.id))
        .bearer_auth(&france)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 400, "the body ended inside the file part");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(list(&broker, &france, &request.id).await.is_empty(), "nothing was stored");
    let judge = broker.token_for("judge");
    assert!(broker.events(&judge, &request.id).await.iter().all(|e| e.action != "DOCUMENT_ADDED"));
    broker.stop().await;
}

/// Auditors read documents but never add any.
async fn an_auditor_reads_but_does_not_upload(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    let request = under_review(&broker).await;
    let auditor = broker.staff("auditor-1", &[Role::Auditor]);
    let refused =
        upload(&broker, &auditor, metadata(&request.id, pb::DocumentKind::Other, "a.pdf"), b"x").await;
    assert_eq!(refused.expect_err("read-only").code(), Code::PermissionDenied);
    broker.stop().await;
}

/// A multipart/form-data body: the `metadata` part (JSON), then the `file` part.
fn form(metadata: &serde_json::Value, file_name: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = format!("mla-{}", uuid::Uuid::now_v7().simple());
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n").as_bytes(),
    );
    body.extend_from_slice(format!("Content-Type: application/json\r\n\r\n{metadata}\r\n").as_bytes());
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(b"Content-Type: application/pdf\r\n\r\n");
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn documents_over_rest(backend: Backend) {
    let Some(broker) = Broker::start_with(backend, |config| config.max_document_bytes = 64 * 1024).await
    else {
        return;
    };
    let request = under_review(&broker).await;
    let http = http_client();
    let base = broker.gateway_url();
    let france = broker.partner("FR-MOJ");
    let judge = broker.token_for("judge");
    let content = pdf(&"Procès-verbal d'audition. ".repeat(200));
    let upload = |token: String, metadata: serde_json::Value, content: Vec<u8>| {
        let (content_type, body) = form(&metadata, "pv.pdf", &content);
        http.post(format!("{base}/v1/requests/{}/documents", request.id))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let metadata = serde_json::json!({
        "kind": "SUPPORTING_DOCUMENT", "title": "Procès-verbal", "file_name": "محضر الاستماع.pdf",
        "language": "fr", "expected_sha256": sha256_hex(&content),
    });
    let answer = upload(france.clone(), metadata, content.clone()).await.expect("an answer");
    assert_eq!(answer.status(), 201);
    let location = answer.headers()["location"].to_str().expect("ASCII").to_owned();
    let document: serde_json::Value = answer.json().await.expect("JSON");
    assert_eq!(document["sha256"], sha256_hex(&content));
    assert_eq!(
        (document["kind"].as_str(), document["release_state"].as_str()),
        (Some("SUPPORTING_DOCUMENT"), Some("NOT_APPLICABLE"))
    );
    assert_eq!(document["media_type"], "application/pdf", "taken from the file part");
    assert_eq!(location, format!("/v1/documents/{}", document["id"].as_str().expect("an id")));

    let list: serde_json::Value = http
        .get(format!("{base}/v1/requests/{}/documents", request.id))
        .bearer_auth(&judge)
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(list["documents"].as_array().map(Vec::len), Some(1));
    let got = http.get(format!("{base}{location}")).bearer_auth(&judge).send().await.expect("an answer");
    assert_eq!(got.headers()["etag"], format!("\"{}\"", sha256_hex(&content)).as_str());

    let whole =
        http.get(format!("{base}{location}/content")).bearer_auth(&judge).send().await.expect("an answer");
    assert_eq!(whole.status(), 200);
    let headers = whole.headers().clone();
    assert_eq!(headers["etag"], format!("\"{}\"", sha256_hex(&content)).as_str());
    let digest = headers["repr-digest"].to_str().expect("ASCII");
    assert!(digest.starts_with("sha-256=:") && digest.ends_with(":"), "{digest}");
    let disposition = headers["content-disposition"].to_str().expect("ASCII");
    assert!(disposition.contains("filename*=UTF-8''%D9%85%D8%AD%D8%B6%D8%B1"), "{disposition}");
    assert_eq!(whole.bytes().await.expect("the content"), content);

    let part = http
        .get(format!("{base}{location}/content"))
        .bearer_auth(&france)
        .header("range", "bytes=9-99")
        .send()
        .await
        .expect("an answer");
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], format!("bytes 9-99/{}", content.len()).as_str());
    assert_eq!(part.bytes().await.expect("the part"), content[9..=99]);
    let past = http
        .get(format!("{base}{location}/content"))
        .bearer_auth(&france)
        .header("range", format!("bytes={}-", content.len()))
        .send()
        .await
        .expect("an answer");
    assert_eq!(past.status(), 416);

    let big = serde_json::json!({"kind": "OTHER", "title": "Too big"});
    let refused = upload(france.clone(), big, vec![1; 70 * 1024]).await.expect("an answer");
    assert_eq!(refused.status(), 413);
    let problem: serde_json::Value = refused.json().await.expect("problem+json");
    assert_eq!(problem["reason"], "DOCUMENT_TOO_LARGE");

    let release = http
        .post(format!("{base}/v1/requests/{}/documents:release", request.id))
        .bearer_auth(&judge)
        .json(&serde_json::json!({"document_ids": [document["id"]]}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(release.status(), 400, "a partner's annex is not withheld evidence");
    let problem: serde_json::Value = release.json().await.expect("problem+json");
    assert_eq!(problem["reason"], "NOT_WITHHELD");
    broker.stop().await;
}

/// The independent JOSE implementation the signatures are checked with (Python's jwcrypto, never the
/// broker's code), in a virtual environment `tests/jose/setup.sh` makes once per target directory.
/// `None`, said loudly, where python3 or its venv module is missing.
fn jose_python() -> Option<std::path::PathBuf> {
    static PYTHON: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let setup = concat!(env!("CARGO_MANIFEST_DIR"), "/jose/setup.sh");
            let venv = concat!(env!("CARGO_TARGET_TMPDIR"), "/jose-venv");
            let out = std::process::Command::new("sh").args([setup, venv]).output().expect("sh runs");
            match out.status.code() {
                Some(0) => Some(String::from_utf8_lossy(&out.stdout).trim().into()),
                Some(3) => {
                    eprintln!(
                        "SKIPPED: no independent JOSE verifier: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                    None
                }
                _ => panic!("tests/jose/setup.sh failed: {}", String::from_utf8_lossy(&out.stderr)),
            }
        })
        .clone()
}

/// Runs `tests/jose/verify.py` (off the runtime's thread, since it fetches the JWKS from this very
/// broker) and returns what it printed, or what it refused.
async fn jose_verify(
    python: &std::path::Path,
    jwks_url: &str,
    mode: &str,
    target: &str,
) -> Result<serde_json::Value, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/jose/verify.py");
    let mut command = std::process::Command::new(python);
    command.args([script, jwks_url, mode, target]);
    let out =
        tokio::task::spawn_blocking(move || command.output()).await.expect("joined").expect("python runs");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("the verifier prints JSON"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Evidence released to France behind its accepted speciality assurance; returns the request, the
/// evidence (as its upload answered), its bytes and the restriction.
async fn released_evidence(broker: &Broker, file_name: &str) -> (pb::Request, pb::Document, Vec<u8>, String) {
    let request = under_review(broker).await;
    let (france, judge) = (broker.partner("FR-MOJ"), broker.token_for("judge"));
    let officer = broker.token_for("evidence_officer");
    let restriction = "Use only in proceedings 9/2026".to_owned();
    let condition = pb::Condition {
        kind: pb::ConditionKind::Speciality as i32,
        text: restriction.clone(),
        ..Default::default()
    };
    let proposed = pb::TransitionRequestRequest {
        conditions: vec![condition],
        ..action(&request.id, A::ProposeConditions)
    };
    transition(broker, &judge, proposed).await;
    transition(broker, &france, action(&request.id, A::AcceptConditions)).await;
    transition(broker, &officer, action(&request.id, A::StartExecution)).await;
    let content = pdf("Phone extraction, device 3");
    let evidence = metadata(&request.id, pb::DocumentKind::Evidence, file_name);
    let evidence = upload(broker, &officer, evidence, &content).await.expect("evidence uploaded");
    let call = pb::ReleaseDocumentsRequest {
        request_id: request.id.clone(),
        document_ids: vec![evidence.id.clone()],
        ..Default::default()
    };
    broker.documents().await.release_documents(authed(call, &judge)).await.expect("released");
    (request, evidence, content, restriction)
}

async fn receipts_and_packages_verify_with_an_independent_jose_library(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    let (request, evidence, content, restriction) = released_evidence(&broker, "../../etc/relevé.PDF").await;
    let (france, judge) = (broker.partner("FR-MOJ"), broker.token_for("judge"));
    let jwks_url = format!("{}/.well-known/jwks.json", broker.gateway_url());
    let jwks: serde_json::Value =
        http_client().get(&jwks_url).send().await.expect("no token needed").json().await.expect("JSON");
    let kid = jwks["keys"][0]["kid"].as_str().expect("a kid").to_owned();
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");

    // The package over REST, as France exports it.
    let answer = http_client()
        .get(format!("{}/v1/requests/{}/evidence-package", broker.gateway_url(), request.id))
        .bearer_auth(&france)
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/zip");
    let package = answer.bytes().await.expect("the package");
    // And over gRPC, as a judge exports it: the same chunks a download streams.
    let call = pb::DownloadEvidencePackageRequest { request_id: request.id.clone() };
    let mut stream = broker
        .documents()
        .await
        .download_evidence_package(authed(call, &judge))
        .await
        .expect("a package")
        .into_inner();
    let mut over_grpc = Vec::new();
    while let Some(message) = stream.next().await {
        over_grpc.extend_from_slice(&message.expect("a chunk").chunk);
    }
    let germany = broker.partner("DE-BJ");
    let call = pb::DownloadEvidencePackageRequest { request_id: request.id.clone() };
    let hidden = broker.documents().await.download_evidence_package(authed(call, &germany)).await;
    assert_eq!(hidden.map(|_| ()).expect_err("not Germany's request").code(), Code::NotFound);
    let hidden = http_client()
        .get(format!("{}/v1/requests/{}/evidence-package", broker.gateway_url(), request.id))
        .bearer_auth(&germany)
        .send()
        .await
        .expect("an answer");
    assert_eq!(hidden.status(), 404, "nor over REST");

    let trail = broker.events(&france, &request.id).await;
    let exports = trail.iter().filter(|e| e.action == "EVIDENCE_PACKAGE_EXPORTED").count();
    assert_eq!(exports, 2, "each export is a custody event");
    let store = broker.open_store().await;
    mla_store::verify_audit(store.as_ref()).await.expect("read").expect("the trail verifies");

    // The broker's own offline check (`mla-broker verify-package`) agrees, and refuses a changed file
    // or another key.
    let jwks_text = http_client().get(&jwks_url).send().await.expect("an answer").text().await.expect("text");
    let offline = mla_broker::verify::verify_package(&jwks_text, std::io::Cursor::new(&package[..]));
    assert_eq!(offline.expect("verifies offline")["documents"][0]["sha256"], evidence.sha256.as_str());
    let mut forged = package.to_vec();
    let at = forged.windows(6).position(|w| w == b"%PDF-1").expect("the evidence is stored as is");
    forged[at + 10] ^= 1;
    assert!(mla_broker::verify::verify_package(&jwks_text, std::io::Cursor::new(&forged[..])).is_err());
    let stranger =
        mla_auth::BrokerKey::development(tempfile::tempdir().expect("a directory").path()).expect("a key");
    let other_keys = stranger.jwks().to_string();
    assert!(mla_broker::verify::verify_package(&other_keys, std::io::Cursor::new(&package[..])).is_err());
    let receipt = mla_auth::verify_jws(&jwks_text, &evidence.receipt).expect("the receipt verifies offline");
    assert!(mla_auth::verify_jws(&other_keys, &evidence.receipt).is_err());
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&receipt).expect("JSON")["document_id"],
        evidence.id.as_str()
    );

    let Some(python) = jose_python() else {
        broker.stop().await;
        return;
    };
    let receipt =
        jose_verify(&python, &jwks_url, "receipt", &evidence.receipt).await.expect("the receipt verifies");
    assert_eq!(receipt["document_id"], evidence.id.as_str());
    assert_eq!(receipt["request_id"], request.id.as_str());
    assert_eq!(receipt["sha256"], sha256_hex(&content).as_str());
    assert_eq!(receipt["size_bytes"], content.len());
    let uploader = evidence.uploaded_by.as_ref().expect("an uploader");
    assert_eq!(receipt["uploaded_by"]["subject"], uploader.subject.as_str());
    assert!(receipt["received_time"].as_str().is_some_and(|t| t.ends_with('Z')));

    let dir = tempfile::tempdir().expect("a directory");
    for (name, bytes) in [("rest.zip", &package[..]), ("grpc.zip", &over_grpc[..])] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("written");
        let manifest = jose_verify(&python, &jwks_url, "package", path.to_str().expect("UTF-8"))
            .await
            .unwrap_or_else(|refused| panic!("{name} does not verify: {refused}"));
        assert_eq!(manifest["signing_key"], kid.as_str());
        let documents = manifest["documents"].as_array().expect("documents");
        assert_eq!(documents.len(), 1, "the released evidence");
        assert_eq!(
            documents[0]["file"],
            format!("documents/{}.pdf", evidence.id),
            "never the uploader's path"
        );
        assert_eq!(documents[0]["use_restrictions"], serde_json::json!([restriction]));
        assert_eq!(documents[0]["receipt"], evidence.receipt.as_str());
        assert_eq!(manifest["request"]["conditions"][0]["status"], "ACCEPTED");
        let custody = manifest["custody_events"].as_array().expect("custody events");
        assert!(custody.iter().any(|e| e["action"] == "DOCUMENTS_RELEASED"));
        assert_eq!(custody.last().map(|e| e["action"].clone()), Some("EVIDENCE_PACKAGE_EXPORTED".into()));
        assert!(custody.last().is_some_and(|e| e["hash"] == manifest["audit_chain_head"]["hash"]));
    }
    let tampered = dir.path().join("tampered.zip");
    std::fs::write(&tampered, forged).expect("written");
    let refused = jose_verify(&python, &jwks_url, "package", tampered.to_str().expect("UTF-8")).await;
    assert!(refused.is_err(), "a changed file is refused");
    broker.stop().await;
}

/// A receipt whose payload was changed no longer verifies against the published key (checked here
/// with the `jsonwebtoken` crate, the broker signing with its own key path).
async fn a_tampered_receipt_fails(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    let request = under_review(&broker).await;
    let france = broker.partner("FR-MOJ");
    let letter = metadata(&request.id, pb::DocumentKind::LetterOfRequest, "demande.pdf");
    let letter = upload(&broker, &france, letter, &pdf("Demande")).await.expect("uploaded");
    let jwks: jsonwebtoken::jwk::JwkSet = http_client()
        .get(format!("{}/.well-known/jwks.json", broker.gateway_url()))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("a JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwks.keys[0]).expect("an Ed25519 key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let decode = |jws: &str| jsonwebtoken::decode::<serde_json::Value>(jws, &key, &validation);
    assert_eq!(decode(&letter.receipt).expect("genuine").claims["sha256"], letter.sha256.as_str());

    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = letter.receipt.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&b64.decode(parts[1]).expect("base64")).expect("JSON");
    claims["size_bytes"] = serde_json::json!(1);
    let forged = format!("{}.{}.{}", parts[0], b64.encode(claims.to_string()), parts[2]);
    let error = decode(&forged).expect_err("a changed receipt is refused");
    assert_eq!(error.kind(), &jsonwebtoken::errors::ErrorKind::InvalidSignature);

    // A retried upload answers the same receipt (Ed25519 signs deterministically).
    let retry = |key: &str| pb::DocumentMetadata {
        request_id_key: key.into(),
        ..metadata(&request.id, pb::DocumentKind::Other, "a.txt")
    };
    let first = upload(&broker, &france, retry("k-1"), b"annex").await.expect("uploaded");
    let again = upload(&broker, &france, retry("k-1"), b"annex").await.expect("replayed");
    assert_eq!((&again.id, &again.receipt), (&first.id, &first.receipt));
    // The uploader's side reads it again on the document; the other side gets none.
    let get = |token: String| {
        let call = pb::GetDocumentRequest { id: first.id.clone() };
        let broker = &broker;
        async move {
            broker.documents().await.get_document(authed(call, &token)).await.expect("read").into_inner()
        }
    };
    assert_eq!(get(france.clone()).await.receipt, first.receipt);
    assert_eq!(get(broker.token_for("registrar")).await.receipt, "");
    let listed = list(&broker, &france, &request.id).await;
    assert!(listed.iter().all(|d| !d.receipt.is_empty()), "France uploaded them all");
    broker.stop().await;
}

on_both_backends!(
    receipts_and_packages_verify_with_an_independent_jose_library,
    a_tampered_receipt_fails,
    a_broken_multipart_upload_stores_nothing,
    content_verification_names_changed_and_missing_content,
    documents_over_rest,
    the_letter_and_its_translation_are_shared_and_internal_notes_stay_home,
    evidence_is_released_only_behind_accepted_assurances,
    bad_uploads_store_nothing,
    an_auditor_reads_but_does_not_upload,
);
