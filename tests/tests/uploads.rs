//! Resumable uploads end to end, on both backends, over gRPC: a large document whose link drops goes
//! on from the last durable byte (on PostgreSQL through another replica), the document it makes is
//! the document an upload in one call makes, and every bad call changes nothing of what was kept.

use std::time::Duration;

use chrono::TimeDelta;
use futures::StreamExt;
use mla_app::App;
use mla_proto::v1 as pb;
use mla_tests::*;
use pb::Action as A;
use pb::append_upload_request::Part;
use pb::document_service_client::DocumentServiceClient;
use tonic::Code;
use tonic::transport::Channel;

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A phone extraction's worth of bytes (3 MiB and a little): not a multiple of any chunk size.
fn extraction() -> Vec<u8> {
    (0..3 * 1024 * 1024 + 4321).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

fn start(request_id: &str, content: &[u8], key: &str) -> pb::StartUploadRequest {
    pb::StartUploadRequest {
        metadata: Some(pb::DocumentMetadata {
            request_id: request_id.into(),
            kind: pb::DocumentKind::Evidence as i32,
            title: "Extraction of the seized phone".into(),
            file_name: "استخراج الهاتف.bin".into(),
            expected_sha256: sha256_hex(content),
            request_id_key: key.into(),
            ..Default::default()
        }),
        size_bytes: content.len() as i64,
    }
}

/// The messages of an append: the position, then `content` in chunks of 64 KiB.
fn append_messages(id: &str, offset: u64, content: &[u8]) -> Vec<pb::AppendUploadRequest> {
    let position = pb::UploadPosition { upload_id: id.into(), offset: offset as i64 };
    let first = pb::AppendUploadRequest { part: Some(Part::Position(position)) };
    let chunks =
        content.chunks(64 * 1024).map(|c| pb::AppendUploadRequest { part: Some(Part::Chunk(c.to_vec())) });
    std::iter::once(first).chain(chunks).collect()
}

async fn append(
    client: &mut DocumentServiceClient<Channel>,
    token: &str,
    id: &str,
    offset: u64,
    content: &[u8],
) -> Result<pb::UploadSession, tonic::Status> {
    let stream = futures::stream::iter(append_messages(id, offset, content));
    client.append_upload(authed(stream, token)).await.map(|r| r.into_inner())
}

async fn session(
    client: &mut DocumentServiceClient<Channel>,
    token: &str,
    id: &str,
) -> Result<pb::UploadSession, tonic::Status> {
    client.get_upload(authed(pb::GetUploadRequest { id: id.into() }, token)).await.map(|r| r.into_inner())
}

/// Goes on from the session's offset until the content is complete, as a client does after its
/// link came back: the broker may still be finishing the broken call (ABORTED), so it asks again.
async fn complete(
    client: &mut DocumentServiceClient<Channel>,
    token: &str,
    id: &str,
    content: &[u8],
) -> pb::UploadSession {
    let going_on = async {
        loop {
            let offset = session(client, token, id).await.expect("the session").offset as usize;
            match append(client, token, id, offset as u64, &content[offset..]).await {
                Ok(done) => return done,
                Err(status) if status.code() == Code::Aborted => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(status) => panic!("the upload cannot go on: {status:?}"),
            }
        }
    };
    within("the upload to complete", going_on).await
}

/// A request France submitted and the NCIJC has under review.
async fn under_review(broker: &Broker) -> pb::Request {
    broker.register_partners(&["FR-MOJ", "DE-BJ"]).await;
    let request = broker.submitted_by("FR-MOJ", "Seized phone").await;
    let requests = &mut broker.requests().await;
    for (who, step) in [("registrar", A::Acknowledge), ("legal_officer", A::StartReview)] {
        let token = broker.token_for(who);
        requests.transition_request(authed(action(&request.id, step), &token)).await.expect("a step");
    }
    request
}

/// A request under review, and an upload session of the evidence officer's for `extraction()`
/// (started under idempotency key `key`, none when empty).
struct Started {
    request: pb::Request,
    officer: String,
    content: Vec<u8>,
    client: DocumentServiceClient<Channel>,
    session: pb::UploadSession,
}

async fn started(broker: &Broker, key: &str) -> Started {
    let request = under_review(broker).await;
    let officer = broker.token_for("evidence_officer");
    let content = extraction();
    let mut client = broker.documents().await;
    let session = client.start_upload(authed(start(&request.id, &content, key), &officer)).await;
    let session = session.expect("a session").into_inner();
    Started { request, officer, content, client, session }
}

async fn a_broken_upload_goes_on_from_its_last_durable_byte(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    let Started { request, officer, content, mut client, session: started } =
        started(&broker, "phone-1").await;
    let client = &mut client;
    assert_eq!((started.offset, started.size_bytes), (0, content.len() as i64));
    assert!(started.document.is_none());
    let again = client.start_upload(authed(start(&request.id, &content, "phone-1"), &officer)).await;
    assert_eq!(again.expect("replayed").into_inner().id, started.id, "a retried start is the same session");

    // The link drops after 2 MiB: the call is cut off (its future dropped) once the broker holds them.
    let (sender, receiver) = futures::channel::mpsc::unbounded();
    for message in append_messages(&started.id, 0, &content[..2 * 1024 * 1024]) {
        sender.unbounded_send(message).expect("queued");
    }
    let mut cut = client.clone();
    let token = officer.clone();
    let call = tokio::spawn(async move { cut.append_upload(authed(receiver, &token)).await });
    let held = async {
        while session(client, &officer, &started.id).await.expect("the session").offset < 1024 * 1024 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    within("the first MiB to be durable", held).await;
    call.abort();
    drop(sender);

    // On PostgreSQL another replica takes the rest: the partial content is in the database.
    let replica = match backend {
        Backend::Postgres => Some(broker.replica().await),
        Backend::Sqlite => None,
    };
    let mut other = match &replica {
        Some(replica) => replica.documents().await,
        None => client.clone(),
    };
    let kept = session(&mut other, &officer, &started.id).await.expect("the session").offset;
    assert!((1024 * 1024..=2 * 1024 * 1024).contains(&kept), "kept {kept} bytes");

    let wrong =
        append(&mut other, &officer, &started.id, kept as u64 + 1, b"x").await.expect_err("a wrong offset");
    assert_eq!((wrong.code(), reason_of(&wrong).as_str()), (Code::Aborted, "UPLOAD_OFFSET_MISMATCH"));
    let details = tonic_types::StatusExt::get_error_details(&wrong);
    let offset = details.error_info().and_then(|info| info.metadata.get("upload_offset").cloned());
    assert_eq!(offset, Some(kept.to_string()), "the error names the offset to go on from");

    let done = complete(&mut other, &officer, &started.id, &content).await;
    assert_eq!(done.offset, content.len() as i64);
    let document = done.document.expect("the completed session's document");
    assert_eq!((document.sha256.as_str(), document.size_bytes), (sha256_hex(&content).as_str(), done.offset));
    assert_eq!(document.file_name, "استخراج الهاتف.bin");
    assert!(!document.receipt.is_empty(), "a receipt, as for an upload in one call");
    assert_eq!(document.release_state, pb::ReleaseState::Withheld as i32, "the NCIJC's evidence is withheld");

    // Completed: the last call again answers the same document, and it was added once.
    let repeated = append(client, &officer, &started.id, content.len() as u64, &[]).await.expect("answered");
    assert_eq!(repeated.document.map(|d| d.id), Some(document.id.clone()));
    let listed = client
        .list_documents(authed(
            pb::ListDocumentsRequest { request_id: request.id.clone(), ..Default::default() },
            &officer,
        ))
        .await
        .expect("listed")
        .into_inner()
        .documents;
    assert_eq!(listed.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), [document.id.as_str()]);
    let added = broker.events(&officer, &request.id).await;
    assert_eq!(added.iter().filter(|e| e.action == "DOCUMENT_ADDED").count(), 1);

    let download = pb::DownloadDocumentRequest { id: document.id.clone(), offset: 0 };
    let mut pieces =
        client.download_document(authed(download, &officer)).await.expect("a download").into_inner();
    let mut fetched = Vec::new();
    while let Some(piece) = pieces.next().await {
        fetched.extend_from_slice(&piece.expect("a piece").chunk);
    }
    assert_eq!(sha256_hex(&fetched), sha256_hex(&content), "the document is the content sent");
    let store = broker.open_store().await;
    assert!(mla_store::verify_audit(store.as_ref()).await.expect("read").is_ok(), "the trail verifies");
    if let Some(replica) = replica {
        replica.stop().await;
    }
}

async fn bad_calls_change_nothing_of_what_was_kept(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    let Started { request, officer, content, mut client, session: first } = started(&broker, "").await;
    let (client, id) = (&mut client, first.id);
    append(client, &officer, &id, 0, &content[..1000]).await.expect("a first part");

    // Someone else's session does not exist for them, whoever they are.
    for who in [broker.token_for("judge"), broker.partner("FR-MOJ"), broker.partner("DE-BJ")] {
        let status = session(client, &who, &id).await.expect_err("not theirs");
        assert_eq!((status.code(), reason_of(&status).as_str()), (Code::NotFound, "UPLOAD_NOT_FOUND"));
        let status = append(client, &who, &id, 1000, b"intruder").await.expect_err("not theirs");
        assert_eq!(status.code(), Code::NotFound);
        let cancel = client.cancel_upload(authed(pb::CancelUploadRequest { id: id.clone() }, &who)).await;
        assert_eq!(cancel.expect_err("not theirs").code(), Code::NotFound);
    }
    // Content past the declared size is refused; what came before it stays.
    let mut too_long = content[1000..].to_vec();
    too_long.push(0);
    let status = append(client, &officer, &id, 1000, &too_long).await.expect_err("past the size");
    assert_eq!((status.code(), fields_of(&status)), (Code::InvalidArgument, vec!["chunk".to_owned()]));
    let kept = session(client, &officer, &id).await.expect("the session").offset;
    assert!((1000..content.len() as i64).contains(&kept), "kept {kept}");

    // Content that is not the announced digest is discarded: the session starts again from 0.
    let mut altered = content.clone();
    *altered.last_mut().expect("a last byte") ^= 1;
    let status =
        append(client, &officer, &id, kept as u64, &altered[kept as usize..]).await.expect_err("altered");
    assert_eq!((status.code(), reason_of(&status).as_str()), (Code::InvalidArgument, "SHA256_MISMATCH"));
    assert_eq!(session(client, &officer, &id).await.expect("the session").offset, 0);
    let done = append(client, &officer, &id, 0, &content).await.expect("sent again whole");
    assert_eq!(done.document.map(|d| d.sha256), Some(sha256_hex(&content)));

    // Refused at the start, before any content: too large, a request the caller cannot see, bad input.
    let huge = pb::StartUploadRequest { size_bytes: 3 << 30, ..start(&request.id, &content, "") };
    let status = client.start_upload(authed(huge, &officer)).await.expect_err("over the limit");
    assert_eq!((status.code(), reason_of(&status).as_str()), (Code::ResourceExhausted, "DOCUMENT_TOO_LARGE"));
    let germany = broker.partner("DE-BJ");
    let status = client.start_upload(authed(start(&request.id, &content, ""), &germany)).await;
    assert_eq!(status.expect_err("not Germany's request").code(), Code::NotFound);
    let negative = pb::StartUploadRequest { size_bytes: -1, ..start(&request.id, &content, "") };
    let status = client.start_upload(authed(negative, &officer)).await.expect_err("a negative size");
    assert_eq!(fields_of(&status), vec!["size_bytes".to_owned()]);
    let auditor = broker.token_for("auditor");
    let status = client.start_upload(authed(start(&request.id, &content, ""), &auditor)).await;
    assert_eq!(status.expect_err("auditors do not upload").code(), Code::PermissionDenied);

    // Cancelled: gone, its partial content with it.
    let started = client.start_upload(authed(start(&request.id, &content, ""), &officer)).await;
    let cancelled = started.expect("a session").into_inner().id;
    append(client, &officer, &cancelled, 0, &content[..5000]).await.expect("a first part");
    client
        .cancel_upload(authed(pb::CancelUploadRequest { id: cancelled.clone() }, &officer))
        .await
        .expect("cancelled");
    let status = session(client, &officer, &cancelled).await.expect_err("cancelled");
    assert_eq!(status.code(), Code::NotFound);
    let partial = broker.open_content().await.resume(uuid::Uuid::parse_str(&cancelled).unwrap()).await;
    assert_eq!(partial.expect("readable").size(), 0, "nothing of it is left");
}

/// An unfinished session expires after a week: its owner no longer finds it, and the sweep removes
/// it with its partial content.
async fn unfinished_sessions_expire_with_their_content(backend: Backend) {
    let now = chrono::Utc::now();
    let Some((broker, clock)) = Broker::start_at(backend, now).await else { return };
    let Started { officer, content, mut client, session: started, .. } = started(&broker, "").await;
    let client = &mut client;
    let expiry = started.expire_time.expect("an expiry");
    assert_eq!(expiry.seconds, (now + TimeDelta::days(mla_app::UPLOAD_SESSION_DAYS)).timestamp());
    append(client, &officer, &started.id, 0, &content[..10_000]).await.expect("a first part");

    clock.advance(TimeDelta::days(mla_app::UPLOAD_SESSION_DAYS) + TimeDelta::seconds(1));
    let status = session(client, &officer, &started.id).await.expect_err("expired");
    assert_eq!(status.code(), Code::NotFound);
    let content_store = broker.open_content().await;
    let app = App::new(broker.open_store().await, Default::default(), Default::default())
        .with_content(content_store.clone(), mla_app::DEFAULT_MAX_DOCUMENT_BYTES)
        .with_clock(std::sync::Arc::new(clock.clone()));
    assert_eq!(app.sweep_expired_uploads().await.expect("swept"), 1);
    let id = uuid::Uuid::parse_str(&started.id).unwrap();
    assert!(broker.open_store().await.get_upload(id).await.expect("read").is_none());
    assert_eq!(content_store.resume(id).await.expect("readable").size(), 0);
}

/// While one call appends to a session, another is refused at once (the first goes on and completes
/// the upload): two writers would write over each other.
async fn a_session_takes_one_append_at_a_time(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    let Started { officer, content, mut client, session: first, .. } = started(&broker, "").await;
    let (client, id) = (&mut client, first.id);

    let (sender, receiver) = futures::channel::mpsc::unbounded();
    let mut messages = append_messages(&id, 0, &content).into_iter();
    for message in messages.by_ref().take(1 + 2 * 16) {
        sender.unbounded_send(message).expect("queued"); // the position and 2 MiB
    }
    let (mut first, token) = (client.clone(), officer.clone());
    let appending = tokio::spawn(async move { first.append_upload(authed(receiver, &token)).await });
    let held = async {
        while session(client, &officer, &id).await.expect("the session").offset < 1024 * 1024 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    within("the first call to be appending", held).await;

    let second = within("the second call's answer", append(client, &officer, &id, 0, b"other")).await;
    let refused = second.expect_err("one append at a time");
    assert_eq!((refused.code(), reason_of(&refused).as_str()), (Code::Aborted, "CONCURRENT_MODIFICATION"));

    for message in messages {
        sender.unbounded_send(message).expect("queued");
    }
    drop(sender);
    let done = within("the first call", appending).await.expect("the task").expect("completed").into_inner();
    assert_eq!(
        done.document.map(|d| d.sha256),
        Some(sha256_hex(&content)),
        "the first call was not disturbed"
    );
}

on_both_backends!(
    a_session_takes_one_append_at_a_time,
    a_broken_upload_goes_on_from_its_last_durable_byte,
    bad_calls_change_nothing_of_what_was_kept,
    unfinished_sessions_expire_with_their_content,
);
