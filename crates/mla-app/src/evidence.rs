//! Non-repudiation: the receipts of uploads and the evidence package, both signed with the broker's
//! key so that a partner can check them offline with any JOSE library against the published JWKS.
//!
//! The package is a ZIP written as it streams out (no temporary file, no seeking): `manifest.json`,
//! `manifest.json.jws` (an attached compact JWS whose payload is exactly `manifest.json`'s bytes),
//! then every released document the reader may see as `documents/{id}.{ext}`, stored uncompressed.

use std::io::{self, Write};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use mla_domain::audit::{Actor, Event, canonical_time};
use mla_domain::document::{self, Document};
use mla_domain::{Principal, RequestId, Scope};
use mla_store::EventReader;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::{App, AppError, AppResult};

/// The JWS `typ` of an upload's receipt.
pub const RECEIPT_TYPE: &str = "mla-receipt+jwt";
/// The JWS `typ` of an evidence package's manifest.
pub const MANIFEST_TYPE: &str = "mla-evidence-manifest+jwt";
/// The manifest's format, for readers that will meet later versions.
pub const MANIFEST_FORMAT: &str = "mla-evidence-package/1";

/// How many bytes of the ZIP go out per message.
const PACKAGE_CHUNK_BYTES: usize = 256 * 1024;
/// Rows read per page while gathering the package.
const PAGE: u32 = 500;

impl App {
    /// The signed receipt of `document`'s upload; empty when the broker has no signing key. Ed25519 is
    /// deterministic, so a retried upload (or a later read) gets the very same receipt.
    pub fn receipt(&self, document: &Document) -> String {
        match &self.signing_key {
            Some(key) => {
                let payload = serde_json::to_vec(&document.receipt()).unwrap_or_default();
                key.sign(RECEIPT_TYPE, &payload)
            }
            None => String::new(),
        }
    }

    /// The receipt as `principal` may read it: the uploader's side gets it again (to replace a lost
    /// one), the other side gets none.
    pub fn receipt_for(&self, principal: &Principal, document: &Document) -> String {
        if document.is_uploaders_side(principal) { self.receipt(document) } else { String::new() }
    }

    /// Exports `request_id`'s evidence package for `principal`: the export is recorded in the
    /// request's chain first, then the manifest (with the chain's head as the reader sees it, the
    /// export included) is signed and the ZIP streams out.
    pub async fn export_evidence_package(
        &self,
        principal: &Principal,
        request_id: RequestId,
    ) -> AppResult<BoxStream<'static, AppResult<Bytes>>> {
        let content = self.content()?.store.clone();
        let key = self
            .signing_key
            .clone()
            .ok_or_else(|| AppError::Unavailable("no signing key is configured".into()))?;
        let request = self.load_visible(principal, request_id).await?;
        let side = document::reader_side(&request, principal)?;
        let mut documents = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.list_documents(request_id, side, after, PAGE).await?;
            after = page.last().map(|d| d.id);
            let last_page = page.len() < PAGE as usize;
            documents.extend(page.into_iter().filter(document::in_evidence_package));
            if last_page {
                break;
            }
        }
        let exported_time = self.now();
        self.save_custody(principal, request_id, "", None, |request| {
            Ok((Vec::new(), document::export_package(request, &documents, principal, exported_time)?))
        })
        .await?;
        let trail = self.trail(principal, request_id).await?;
        let head = trail.last().map(|e| json!({ "seq": e.seq, "hash": e.hash }));
        let custody: Vec<&Event> = trail.iter().filter(|e| document::is_custody(&e.action)).collect();
        let entries: Vec<serde_json::Value> = documents
            .iter()
            .map(|d| {
                json!({
                    "file": d.package_file_name(),
                    "document_id": d.id,
                    "kind": d.kind,
                    "title": d.title,
                    "file_name": d.file_name,
                    "media_type": d.media_type,
                    "detected_media_type": d.detected_media_type,
                    "language": d.language,
                    "sha256": d.sha256,
                    "size_bytes": d.size_bytes,
                    "use_restrictions": d.use_restrictions,
                    "uploaded_by": d.uploaded_by,
                    "create_time": canonical_time(d.create_time),
                    "receipt": self.receipt(d),
                })
            })
            .collect();
        let manifest = json!({
            "format": MANIFEST_FORMAT,
            "request": {
                "id": request.id,
                "state": request.state,
                "conditions": request.conditions,
            },
            "exported_time": canonical_time(exported_time),
            "exported_by": Actor::of(principal),
            "signing_key": key.kid(),
            "documents": entries,
            "custody_events": custody,
            "audit_chain_head": head,
        });
        let manifest = serde_json::to_vec_pretty(&manifest).map_err(|e| AppError::Internal(e.to_string()))?;
        let signature = key.sign(MANIFEST_TYPE, &manifest);

        let (sender, receiver) = mpsc::channel(4);
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let failed = sender.clone();
            let written = write_package(ChannelWriter { sender, buffer: Vec::new() }, |zip| {
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Stored);
                zip.start_file("manifest.json", options)?;
                zip.write_all(&manifest)?;
                zip.start_file("manifest.json.jws", options)?;
                zip.write_all(signature.as_bytes())?;
                for document in &documents {
                    let large = u64::try_from(document.size_bytes).unwrap_or(0) >= u64::from(u32::MAX);
                    zip.start_file(document.package_file_name(), options.large_file(large))?;
                    let mut stream = runtime
                        .block_on(content.read(&document.sha256, 0))
                        .map_err(io::Error::other)?
                        .ok_or_else(|| {
                            io::Error::other(format!("the content of document {} is missing", document.id))
                        })?;
                    while let Some(piece) = runtime.block_on(stream.next()) {
                        zip.write_all(&piece.map_err(io::Error::other)?)?;
                    }
                }
                Ok(())
            });
            if let Err(e) = written {
                // The reader may have left already; then nobody is waiting for the error either.
                let _ = failed
                    .blocking_send(Err(AppError::Internal(format!("the evidence package broke off: {e}"))));
            }
        });
        Ok(ReceiverStream::new(receiver).boxed())
    }

    /// A request's whole trail as `principal` may see it, oldest first.
    async fn trail(&self, principal: &Principal, request_id: RequestId) -> AppResult<Vec<Event>> {
        let reader = EventReader::Scope(Scope::of(principal));
        let mut events = Vec::new();
        loop {
            let after = events.last().map_or(0, |e: &Event| e.seq);
            let page = self.store.request_events(request_id, &reader, after, PAGE).await?;
            let last_page = page.len() < PAGE as usize;
            events.extend(page);
            if last_page {
                return Ok(events);
            }
        }
    }
}

type PackageWriter = zip::ZipWriter<zip::write::StreamWriter<ChannelWriter>>;

/// Writes the entries `fill` adds, then the ZIP's central directory.
fn write_package(
    out: ChannelWriter,
    fill: impl FnOnce(&mut PackageWriter) -> Result<(), zip::result::ZipError>,
) -> Result<(), zip::result::ZipError> {
    let mut zip = zip::ZipWriter::new_stream(out);
    fill(&mut zip)?;
    zip.finish()?.into_inner().flush()?;
    Ok(())
}

/// The ZIP's bytes into the response stream, a few hundred KiB at a time; when the reader leaves,
/// writing fails and the package is abandoned.
struct ChannelWriter {
    sender: mpsc::Sender<AppResult<Bytes>>,
    buffer: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= PACKAGE_CHUNK_BYTES {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buffer));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader left"))
    }
}
