//! DocumentService: the upload's first message is parsed into the domain's terms and its chunks are
//! handed to the application as a stream (never gathered in memory); downloads stream the content
//! back behind the document's metadata.

use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt, stream};
use mla_app::{App, AppError, Upload, UploadSession, UploadStatus};
use mla_domain::ShortText;
use mla_domain::document::{self, Audience, DocumentId, NewDocument, Sha256};
use mla_domain::text::ParseError;
use mla_proto::v1 as pb;
use pb::document_service_server::DocumentService;
use pb::upload_document_request::Part;
use tonic::{Request, Response, Status, Streaming};

use crate::auth::principal;
use crate::convert::*;
use crate::error::status_of;
use crate::requests::key;

#[derive(Debug, Clone)]
pub struct Documents {
    pub app: App,
}

/// Parses an upload's metadata, collecting every violation under its contract path.
pub fn upload_in(m: &pb::DocumentMetadata) -> Result<Upload, Status> {
    let mut fields = Fields::default();
    let request_id = request_id_in(&mut fields, "metadata.request_id", &m.request_id);
    let kind = fields.take("metadata.kind", document_kind_in(m.kind));
    if kind.is_none() && m.kind == 0 {
        fields.refuse("metadata.kind", "a document kind is required");
    }
    let title = fields.take("metadata.title", ShortText::parse(m.title.clone()));
    if title.is_blank() {
        fields.refuse("metadata.title", "a title is required");
    }
    let file_name = fields.take("metadata.file_name", document::file_name(&m.file_name));
    let media_type = fields.take("metadata.media_type", document::media_type(&m.media_type));
    let language = fields.take("metadata.language", document::language(&m.language));
    let translation_of = fields.take("metadata.translation_of", optional_document_id(&m.translation_of));
    let audience = fields.take("metadata.audience", audience_in(m.audience)).unwrap_or(Audience::Shared);
    let expected_sha256 = if m.expected_sha256.is_empty() {
        None
    } else {
        fields.take("metadata.expected_sha256", Sha256::parse(&m.expected_sha256).map(Some))
    };
    let upload = kind.map(|kind| Upload {
        request_id,
        document: NewDocument { kind, title, file_name, media_type, language, translation_of, audience },
        expected_sha256,
    });
    fields.finish(upload)?.ok_or_else(|| Status::invalid_argument("a document kind is required"))
}

/// The metadata an upload session was started with, as the contract writes it.
fn metadata_out(session: &UploadSession) -> pb::DocumentMetadata {
    let d = &session.document;
    pb::DocumentMetadata {
        request_id: session.request_id.to_string(),
        kind: document_kind_out(d.kind),
        title: d.title.to_string(),
        file_name: d.file_name.to_string(),
        media_type: d.media_type.clone(),
        language: d.language.clone(),
        translation_of: d.translation_of.map(|id| id.to_string()).unwrap_or_default(),
        audience: audience_out(d.audience),
        expected_sha256: session.expected_sha256.as_ref().map(ToString::to_string).unwrap_or_default(),
        request_id_key: String::new(),
    }
}

impl Documents {
    fn session_out(&self, status: UploadStatus) -> pb::UploadSession {
        pb::UploadSession {
            id: status.session.id.to_string(),
            metadata: Some(metadata_out(&status.session)),
            size_bytes: status.session.size_bytes,
            offset: i64::try_from(status.offset).unwrap_or(i64::MAX),
            expire_time: Some(timestamp_out(status.session.expire_time)),
            document: status.document.map(|document| pb::Document {
                receipt: self.app.receipt(&document),
                ..document_out(document)
            }),
        }
    }
}

fn upload_id_in(fields: &mut Fields, field: &str, raw: &str) -> uuid::Uuid {
    fields.take(field, uuid::Uuid::parse_str(raw).map_err(|_| ParseError("not an upload session id".into())))
}

/// A stream's chunks after its first message. A broken stream (a dropped link, a cancelled call) ends
/// in an error: an upload in one call stores nothing of it, an upload session keeps what came before.
fn chunks_of<M>(
    messages: Streaming<M>,
    chunk: fn(M) -> Option<Vec<u8>>,
) -> impl Stream<Item = Result<Bytes, AppError>> + Send + Unpin
where
    M: Send + 'static,
{
    messages.map(move |message| match message.map(chunk) {
        Ok(Some(bytes)) => Ok(Bytes::from(bytes)),
        Ok(None) => Err(AppError::invalid("chunk", "only chunks follow the first message")),
        Err(status) => Err(AppError::invalid("chunk", format!("the upload broke off: {}", status.message()))),
    })
}

fn negative() -> ParseError {
    ParseError("must not be negative".into())
}

fn document_id_in(fields: &mut Fields, field: &str, raw: &str) -> DocumentId {
    fields
        .take(field, DocumentId::parse(raw).map(Some))
        .unwrap_or_else(|| DocumentId::from_uuid(uuid::Uuid::nil()))
}

#[tonic::async_trait]
impl DocumentService for Documents {
    async fn upload_document(
        &self,
        call: Request<Streaming<pb::UploadDocumentRequest>>,
    ) -> Result<Response<pb::Document>, Status> {
        let principal = principal(&call)?;
        let mut messages = call.into_inner();
        let metadata = match messages.message().await? {
            Some(pb::UploadDocumentRequest { part: Some(Part::Metadata(metadata)) }) => metadata,
            _ => {
                let mut fields = Fields::default();
                fields.refuse("metadata", "the first message of an upload carries the metadata");
                return Err(fields.finish(()).unwrap_err());
            }
        };
        let upload = upload_in(&metadata)?;
        // A broken stream (a dropped link, a cancelled call) ends the upload with an error, so that
        // nothing of it is stored.
        let chunks = messages.map(|message| match message {
            Ok(pb::UploadDocumentRequest { part: Some(Part::Chunk(chunk)) }) => Ok(Bytes::from(chunk)),
            Ok(_) => Err(AppError::invalid("chunk", "only chunks follow the metadata")),
            Err(status) => {
                Err(AppError::invalid("chunk", format!("the upload broke off: {}", status.message())))
            }
        });
        let document = self
            .app
            .upload_document(&principal, upload, key(&metadata.request_id_key), chunks)
            .await
            .map_err(|e| status_of(e.keyed_by("metadata.request_id_key")))?;
        let receipt = self.app.receipt(&document);
        Ok(Response::new(pb::Document { receipt, ..document_out(document) }))
    }

    async fn start_upload(
        &self,
        call: Request<pb::StartUploadRequest>,
    ) -> Result<Response<pb::UploadSession>, Status> {
        let principal = principal(&call)?;
        let m = call.into_inner();
        let Some(metadata) = m.metadata else {
            let mut fields = Fields::default();
            fields.refuse("metadata", "an upload session needs the document's metadata");
            return Err(fields.finish(()).unwrap_err());
        };
        let upload = upload_in(&metadata)?;
        let mut fields = Fields::default();
        let size = fields.take("size_bytes", u64::try_from(m.size_bytes).map_err(|_| negative()));
        let size = fields.finish(size)?;
        let status = self
            .app
            .start_upload(&principal, upload, size, key(&metadata.request_id_key))
            .await
            .map_err(|e| status_of(e.keyed_by("metadata.request_id_key")))?;
        Ok(Response::new(self.session_out(status)))
    }

    async fn append_upload(
        &self,
        call: Request<Streaming<pb::AppendUploadRequest>>,
    ) -> Result<Response<pb::UploadSession>, Status> {
        use pb::append_upload_request::Part;
        let principal = principal(&call)?;
        let mut messages = call.into_inner();
        let mut fields = Fields::default();
        let (id, offset) = match messages.message().await? {
            Some(pb::AppendUploadRequest { part: Some(Part::Position(position)) }) => {
                let id = upload_id_in(&mut fields, "position.upload_id", &position.upload_id);
                let offset =
                    fields.take("position.offset", u64::try_from(position.offset).map_err(|_| negative()));
                (id, offset)
            }
            _ => {
                fields.refuse("position", "the first message of an append names the session and offset");
                (uuid::Uuid::nil(), 0)
            }
        };
        let (id, offset) = fields.finish((id, offset))?;
        let chunks = chunks_of(messages, |message| match message.part {
            Some(Part::Chunk(chunk)) => Some(chunk),
            _ => None,
        });
        let status = self.app.append_upload(&principal, id, offset, chunks).await.map_err(status_of)?;
        Ok(Response::new(self.session_out(status)))
    }

    async fn get_upload(
        &self,
        call: Request<pb::GetUploadRequest>,
    ) -> Result<Response<pb::UploadSession>, Status> {
        let principal = principal(&call)?;
        let mut fields = Fields::default();
        let id = upload_id_in(&mut fields, "id", &call.get_ref().id);
        let id = fields.finish(id)?;
        let status = self.app.get_upload(&principal, id).await.map_err(status_of)?;
        Ok(Response::new(self.session_out(status)))
    }

    async fn cancel_upload(
        &self,
        call: Request<pb::CancelUploadRequest>,
    ) -> Result<Response<pb::CancelUploadResponse>, Status> {
        let principal = principal(&call)?;
        let mut fields = Fields::default();
        let id = upload_id_in(&mut fields, "id", &call.get_ref().id);
        let id = fields.finish(id)?;
        self.app.cancel_upload(&principal, id).await.map_err(status_of)?;
        Ok(Response::new(pb::CancelUploadResponse {}))
    }

    async fn get_document(
        &self,
        call: Request<pb::GetDocumentRequest>,
    ) -> Result<Response<pb::Document>, Status> {
        let principal = principal(&call)?;
        let mut fields = Fields::default();
        let id = document_id_in(&mut fields, "id", &call.get_ref().id);
        let id = fields.finish(id)?;
        let document = self.app.get_document(&principal, id).await.map_err(status_of)?;
        let receipt = self.app.receipt_for(&principal, &document);
        Ok(Response::new(pb::Document { receipt, ..document_out(document) }))
    }

    async fn list_documents(
        &self,
        call: Request<pb::ListDocumentsRequest>,
    ) -> Result<Response<pb::ListDocumentsResponse>, Status> {
        let principal = principal(&call)?;
        let m = call.into_inner();
        let mut fields = Fields::default();
        let id = request_id_in(&mut fields, "request_id", &m.request_id);
        let id = fields.finish(id)?;
        let page =
            self.app.list_documents(&principal, id, m.page_size, &m.page_token).await.map_err(status_of)?;
        Ok(Response::new(pb::ListDocumentsResponse {
            documents: page
                .items
                .into_iter()
                .map(|d| pb::Document { receipt: self.app.receipt_for(&principal, &d), ..document_out(d) })
                .collect(),
            next_page_token: page.next_page_token,
        }))
    }

    type DownloadDocumentStream =
        Pin<Box<dyn Stream<Item = Result<pb::DownloadDocumentResponse, Status>> + Send + 'static>>;

    async fn download_document(
        &self,
        call: Request<pb::DownloadDocumentRequest>,
    ) -> Result<Response<Self::DownloadDocumentStream>, Status> {
        let principal = principal(&call)?;
        let m = call.into_inner();
        let mut fields = Fields::default();
        let id = document_id_in(&mut fields, "id", &m.id);
        let offset = u64::try_from(m.offset).unwrap_or_else(|_| {
            fields.refuse("offset", "must not be negative");
            0
        });
        let id = fields.finish(id)?;
        let download = self.app.download_document(&principal, id, offset).await.map_err(status_of)?;
        let head =
            pb::DownloadDocumentResponse { document: Some(document_out(download.document)), chunk: vec![] };
        let content = download.content.map(|piece| match piece {
            Ok(bytes) => Ok(pb::DownloadDocumentResponse { document: None, chunk: bytes.to_vec() }),
            Err(e) => Err(status_of(e.into())),
        });
        Ok(Response::new(Box::pin(stream::once(async { Ok(head) }).chain(content))))
    }

    async fn release_documents(
        &self,
        call: Request<pb::ReleaseDocumentsRequest>,
    ) -> Result<Response<pb::ReleaseDocumentsResponse>, Status> {
        let principal = principal(&call)?;
        let m = call.into_inner();
        let mut fields = Fields::default();
        let request_id = request_id_in(&mut fields, "request_id", &m.request_id);
        let ids: Vec<DocumentId> = m
            .document_ids
            .iter()
            .enumerate()
            .map(|(i, raw)| document_id_in(&mut fields, &format!("document_ids[{i}]"), raw))
            .collect();
        let ids = fields.finish(ids)?;
        let released = self
            .app
            .release_documents(&principal, request_id, ids, &m.etag, key(&m.request_id_key))
            .await
            .map_err(|e| status_of(e.keyed_by("request_id_key")))?;
        Ok(Response::new(pb::ReleaseDocumentsResponse {
            documents: released.into_iter().map(document_out).collect(),
        }))
    }

    type DownloadEvidencePackageStream = Self::DownloadDocumentStream;

    async fn download_evidence_package(
        &self,
        call: Request<pb::DownloadEvidencePackageRequest>,
    ) -> Result<Response<Self::DownloadEvidencePackageStream>, Status> {
        let principal = principal(&call)?;
        let mut fields = Fields::default();
        let id = request_id_in(&mut fields, "request_id", &call.get_ref().request_id);
        let id = fields.finish(id)?;
        let package = self.app.export_evidence_package(&principal, id).await.map_err(status_of)?;
        let chunks = package.map(|piece| {
            piece
                .map(|bytes| pb::DownloadDocumentResponse { document: None, chunk: bytes.to_vec() })
                .map_err(status_of)
        });
        Ok(Response::new(Box::pin(chunks)))
    }

    async fn list_signing_keys(
        &self,
        _call: Request<pb::ListSigningKeysRequest>,
    ) -> Result<Response<pb::ListSigningKeysResponse>, Status> {
        let keys = self.app.signing_key().map(|key| key.public_jwk()).into_iter().map(|jwk| pb::SigningKey {
            kty: jwk.kty,
            crv: jwk.crv,
            x: jwk.x,
            kid: jwk.kid,
            alg: jwk.alg,
            r#use: jwk.use_,
        });
        Ok(Response::new(pb::ListSigningKeysResponse { keys: keys.collect() }))
    }
}
