//! `mla-broker document upload | fetch`: a client of the broker's DocumentService, for partners'
//! engineers and NCIJC staff with a file on disk and a link that may drop.
//!
//! An upload is an upload session (StartUpload) whose idempotency key is made from what is uploaded,
//! so that the same command run again finds the same session: each attempt goes on from the bytes
//! the broker already holds (AppendUpload), and the broker checks the file's SHA-256, named at the
//! start, once it has them all. A fetch writes beside its destination and resumes from what it has
//! (DownloadDocument's `offset`); the file takes its name only once its SHA-256 is the document's.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::StreamExt as _;
use mla_proto::v1 as pb;
use pb::document_service_client::DocumentServiceClient;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::cli::{FetchArgs, RemoteArgs, UploadArgs};

/// How many times a call cut off by the link is made again.
const ATTEMPTS: u32 = 5;
/// The size of the messages an upload sends.
const CHUNK: usize = 1 << 20;

/// A DocumentService client and the bearer token it sends.
struct Remote {
    client: DocumentServiceClient<Channel>,
    token: String,
}

impl Remote {
    fn new(args: &RemoteArgs) -> anyhow::Result<Self> {
        let ca = match &args.server_ca {
            Some(path) => {
                Some(std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?)
            }
            None => None,
        };
        let channel = mla_gateway::upstream_channel(&args.server, ca.as_deref())
            .with_context(|| format!("cannot use {} as the broker's address", args.server))?;
        let client = DocumentServiceClient::new(channel).max_decoding_message_size(CHUNK * 8);
        Ok(Self { client, token: args.token.clone() })
    }

    fn call<T>(&self, message: T) -> anyhow::Result<tonic::Request<T>> {
        let mut request = tonic::Request::new(message);
        let bearer = format!("Bearer {}", self.token).parse().context("the token is not printable ASCII")?;
        request.metadata_mut().insert("authorization", bearer);
        Ok(request)
    }
}

/// Whether a failed call is worth making again: the link or the broker was unavailable for a
/// moment, not the call refused.
fn transient(status: &Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded | Code::Unknown | Code::Cancelled)
}

async fn pause(attempt: u32, status: &Status) {
    eprintln!("attempt {attempt} of {ATTEMPTS} cut off ({}): trying again", status.message());
    tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
}

/// SHA-256 (hex) and size of a file, read once.
async fn digest_of(path: &Path) -> anyhow::Result<(String, u64)> {
    let mut file =
        tokio::fs::File::open(path).await.with_context(|| format!("cannot read {}", path.display()))?;
    let (mut hasher, mut size, mut buffer) = (Sha256::new(), 0u64, vec![0u8; CHUNK]);
    loop {
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            return Ok((hex::encode(hasher.finalize()), size));
        }
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
}

/// Uploads a file as a document of a request and answers the stored document.
pub async fn upload(args: &UploadArgs) -> anyhow::Result<pb::Document> {
    let mut remote = Remote::new(&args.remote)?;
    let (sha256, size) = digest_of(&args.file).await?;
    let file_name = match &args.file_name {
        Some(name) => name.clone(),
        None => args.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    let kind = pb::DocumentKind::from_str_name(&format!("DOCUMENT_KIND_{}", args.kind.to_uppercase()))
        .with_context(|| {
            format!(
                "{} is not a document kind (LETTER_OF_REQUEST, SUPPORTING_DOCUMENT, TRANSLATION, ...)",
                args.kind
            )
        })?;
    let audience = pb::Audience::from_str_name(&format!("AUDIENCE_{}", args.audience.to_uppercase()))
        .with_context(|| format!("{} is not an audience (SHARED or INTERNAL)", args.audience))?;
    // The same file, for the same request and purpose, is the same intended upload.
    let key = hex::encode(Sha256::digest(
        format!("{}\n{}\n{sha256}\n{file_name}\n{}", args.request, args.kind, args.title).as_bytes(),
    ));
    let metadata = pb::DocumentMetadata {
        request_id: args.request.clone(),
        kind: kind as i32,
        title: args.title.clone(),
        file_name,
        media_type: args.media_type.clone().unwrap_or_default(),
        language: args.language.clone().unwrap_or_default(),
        translation_of: args.translation_of.clone().unwrap_or_default(),
        audience: audience as i32,
        expected_sha256: sha256,
        request_id_key: String::new(),
    };
    let key = format!("cli-upload-{}", &key[..32]);
    let session = start_upload(&mut remote, metadata, size, &key).await?;
    if let Some(document) = session.document {
        return Ok(document); // uploaded whole by an earlier run
    }
    eprintln!(
        "uploading {} ({size} bytes) in session {}, from byte {}",
        args.file.display(),
        session.id,
        session.offset
    );
    let (mut offset, mut attempt) = (session.offset, 1);
    loop {
        let outcome = match append_from(&mut remote, &args.file, &session.id, offset).await? {
            Ok(answer) => match answer.document {
                Some(document) => return Ok(document),
                None => {
                    bail!("the file ended at byte {} of {size}: was it changed meanwhile?", answer.offset)
                }
            },
            Err(status) => status,
        };
        // Cut off, or the broker still finishing the call that was: ask how far it got.
        if !(transient(&outcome) || outcome.code() == Code::Aborted) {
            bail!("the broker refused the upload ({:?}): {}", outcome.code(), outcome.message());
        }
        let held =
            remote.client.get_upload(remote.call(pb::GetUploadRequest { id: session.id.clone() })?).await;
        let held = held.map(|answer| answer.into_inner().offset).unwrap_or(offset);
        // Attempts count only while nothing gets through.
        attempt = if held > offset { 1 } else { attempt + 1 };
        if attempt > ATTEMPTS {
            bail!("the upload made no progress in {ATTEMPTS} attempts: {}", outcome.message());
        }
        pause(attempt, &outcome).await;
        offset = held;
    }
}

/// Starts the upload session, or finds the one an earlier run of the same upload started. A session
/// that expired since, or was cancelled, leaves its key taken: a new session gets a key of its own.
async fn start_upload(
    remote: &mut Remote,
    metadata: pb::DocumentMetadata,
    size: u64,
    key: &str,
) -> anyhow::Result<pb::UploadSession> {
    let mut attempt = 1;
    let mut metadata = pb::DocumentMetadata { request_id_key: key.to_owned(), ..metadata };
    loop {
        let start = pb::StartUploadRequest { metadata: Some(metadata.clone()), size_bytes: size as i64 };
        match remote.client.start_upload(remote.call(start)?).await {
            Ok(session) => return Ok(session.into_inner()),
            Err(status) if status.code() == Code::NotFound && metadata.request_id_key == key => {
                metadata.request_id_key = format!("{key}-{}", chrono::Utc::now().timestamp());
            }
            Err(status) if transient(&status) && attempt < ATTEMPTS => pause(attempt, &status).await,
            Err(status) => bail!("the broker refused the upload ({:?}): {}", status.code(), status.message()),
        }
        attempt += 1;
    }
}

/// One AppendUpload of the file's bytes from `offset` on: the broker's answer, or the status that cut
/// it off.
async fn append_from(
    remote: &mut Remote,
    path: &Path,
    id: &str,
    offset: i64,
) -> anyhow::Result<Result<pb::UploadSession, Status>> {
    use pb::append_upload_request::Part;
    let mut file =
        tokio::fs::File::open(path).await.with_context(|| format!("cannot read {}", path.display()))?;
    file.seek(std::io::SeekFrom::Start(u64::try_from(offset).unwrap_or(0))).await?;
    let position = pb::UploadPosition { upload_id: id.to_owned(), offset };
    let first = pb::AppendUploadRequest { part: Some(Part::Position(position)) };
    // A read that fails ends the stream early: the broker keeps what came, and the next attempt goes on.
    let chunks = futures::stream::unfold(file, |mut file| async move {
        let mut buffer = vec![0u8; CHUNK];
        match file.read(&mut buffer).await {
            Ok(0) | Err(_) => None,
            Ok(read) => {
                buffer.truncate(read);
                Some((pb::AppendUploadRequest { part: Some(Part::Chunk(buffer)) }, file))
            }
        }
    });
    let messages = futures::stream::iter([first]).chain(chunks);
    Ok(remote.client.append_upload(remote.call(messages)?).await.map(tonic::Response::into_inner))
}

/// Fetches a document into `args.out`, resuming from what an interrupted fetch left beside it, and
/// answers its path once its SHA-256 is the document's.
pub async fn fetch(args: &FetchArgs) -> anyhow::Result<PathBuf> {
    let mut remote = Remote::new(&args.remote)?;
    let partial = args.out.with_extension(match args.out.extension() {
        Some(ext) => format!("{}.part", ext.to_string_lossy()),
        None => "part".into(),
    });
    let mut expected = None;
    for attempt in 1..=ATTEMPTS {
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&partial)
            .await
            .with_context(|| format!("cannot write {}", partial.display()))?;
        let offset = file.metadata().await?.len();
        let call =
            remote.call(pb::DownloadDocumentRequest { id: args.document.clone(), offset: offset as i64 })?;
        let outcome: Result<(), Status> = async {
            let mut stream = remote.client.download_document(call).await?.into_inner();
            while let Some(message) = stream.next().await {
                let message = message?;
                if let Some(document) = message.document {
                    expected = Some((document.sha256, document.size_bytes));
                }
                file.write_all(&message.chunk).await.map_err(|e| Status::unknown(e.to_string()))?;
            }
            file.sync_all().await.map_err(|e| Status::unknown(e.to_string()))
        }
        .await;
        match outcome {
            Ok(()) => break,
            Err(status) if transient(&status) && attempt < ATTEMPTS => pause(attempt, &status).await,
            Err(status) => {
                bail!("the broker refused the download ({:?}): {}", status.code(), status.message())
            }
        }
    }
    let Some((sha256, size)) = expected else { bail!("the broker sent no document") };
    let (got, got_size) = digest_of(&partial).await?;
    if got != sha256 {
        // What was kept is not the document: start afresh next time.
        tokio::fs::remove_file(&partial).await.ok();
        bail!(
            "the content fetched ({got_size} bytes, SHA-256 {got}) is not the document's ({size} bytes, {sha256})"
        );
    }
    tokio::fs::rename(&partial, &args.out).await?;
    Ok(args.out.clone())
}
