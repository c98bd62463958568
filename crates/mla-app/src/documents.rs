//! The documents' use cases: upload (content streamed into the content store while it is hashed and
//! measured, then the document and its custody event in one store write), read, list, download (its
//! custody event before the bytes go out) and release (the domain's gate, with the etag check).

use bytes::Bytes;
use futures::{Stream, StreamExt};
use mla_domain::audit::EventDraft;
use mla_domain::document::{self, Document, DocumentId, NewDocument, Received, Sha256};
use mla_domain::{Principal, Request, RequestId};
use mla_store::content::{ContentStore, ContentStream, ContentWriter};
use sha2::Digest as _;

use crate::{App, AppError, AppResult, Content, Page, decode_token, encode_token, next_token, page_limit};

/// How many first bytes the media type is detected from.
const SNIFF_BYTES: usize = 8192;

/// An upload as the caller describes it; its bytes come as a stream beside it.
#[derive(Debug, Clone)]
pub struct Upload {
    pub request_id: RequestId,
    pub document: NewDocument,
    /// When given, content with another digest is refused and nothing is stored.
    pub expected_sha256: Option<Sha256>,
}

/// Content coming in: written to the content store, measured, hashed and sniffed on the way.
pub(crate) struct Intake {
    writer: Box<dyn ContentWriter>,
    digest: Digest,
    head: Vec<u8>,
    limit: u64,
    too_long: fn(u64) -> AppError,
}

/// How an intake learns its content's SHA-256.
enum Digest {
    /// Hashed on the way in: the content starts in this call.
    Running(sha2::Sha256),
    /// The content began in an earlier call of upload session `id`: hashed from the store at the end.
    FromStore(uuid::Uuid),
}

impl Intake {
    /// New content in `writer`, refused with `too_long(limit)` past `limit` bytes.
    pub(crate) fn new(writer: Box<dyn ContentWriter>, limit: u64, too_long: fn(u64) -> AppError) -> Self {
        Self::with(writer, Digest::Running(sha2::Sha256::new()), limit, too_long)
    }

    /// Upload session `upload`'s content, going on in `writer` from what it holds.
    pub(crate) fn resumed(
        writer: Box<dyn ContentWriter>,
        upload: uuid::Uuid,
        limit: u64,
        too_long: fn(u64) -> AppError,
    ) -> Self {
        let digest = match writer.size() {
            0 => Digest::Running(sha2::Sha256::new()),
            _ => Digest::FromStore(upload),
        };
        Self::with(writer, digest, limit, too_long)
    }

    fn with(
        writer: Box<dyn ContentWriter>,
        digest: Digest,
        limit: u64,
        too_long: fn(u64) -> AppError,
    ) -> Self {
        Intake { writer, digest, head: Vec::with_capacity(SNIFF_BYTES), limit, too_long }
    }

    pub(crate) fn size(&self) -> u64 {
        self.writer.size()
    }

    /// Takes chunks until the stream ends or fails, or one would go past the limit.
    pub(crate) async fn take(
        &mut self,
        mut chunks: impl Stream<Item = AppResult<Bytes>> + Send + Unpin,
    ) -> AppResult<()> {
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            if self.writer.size() + chunk.len() as u64 > self.limit {
                return Err((self.too_long)(self.limit));
            }
            if let Digest::Running(hasher) = &mut self.digest {
                sniff(&mut self.head, &chunk);
                hasher.update(&chunk);
            }
            self.writer.write(&chunk).await?;
        }
        Ok(())
    }

    /// Makes what was taken durable (an upload session's new offset).
    pub(crate) async fn sync(&mut self) -> AppResult<()> {
        Ok(self.writer.sync().await?)
    }

    /// Commits the content if its digest is the expected one. A resumed upload's content is hashed
    /// from the store, where all of it now is.
    pub(crate) async fn finish(
        self,
        store: &dyn ContentStore,
        expected: Option<&Sha256>,
    ) -> AppResult<Received> {
        let Intake { mut writer, digest, mut head, .. } = self;
        let hasher = match digest {
            Digest::Running(hasher) => hasher,
            Digest::FromStore(upload) => {
                writer.sync().await?;
                let mut hasher = sha2::Sha256::new();
                let mut pieces = store.read_partial(upload).await?;
                while let Some(piece) = pieces.next().await {
                    let piece = piece?;
                    sniff(&mut head, &piece);
                    hasher.update(&piece);
                }
                hasher
            }
        };
        let sha256 = Sha256::from_bytes(hasher.finalize().into());
        if let Some(expected) = expected.filter(|expected| **expected != sha256) {
            return Err(AppError::DigestMismatch {
                expected: expected.to_string(),
                actual: sha256.to_string(),
            });
        }
        let size_bytes = i64::try_from(writer.size()).map_err(|e| AppError::Internal(e.to_string()))?;
        writer.commit(&sha256).await?;
        let detected = infer::get(&head).map_or("application/octet-stream", |kind| kind.mime_type());
        Ok(Received { sha256, size_bytes, detected_media_type: detected.to_owned() })
    }
}

/// Keeps the first [`SNIFF_BYTES`] of the content, which the media type is detected from.
fn sniff(head: &mut Vec<u8>, chunk: &[u8]) {
    let room = SNIFF_BYTES.saturating_sub(head.len()).min(chunk.len());
    head.extend_from_slice(&chunk[..room]);
}

/// A document on its way out: its metadata and its content from the offset asked for.
pub struct Download {
    pub document: Document,
    pub content: ContentStream,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download").field("document", &self.document).finish_non_exhaustive()
    }
}

impl App {
    pub(crate) fn content(&self) -> AppResult<&Content> {
        self.content.as_ref().ok_or_else(|| AppError::Unavailable("no content store is configured".into()))
    }

    /// Uploads a document: the request must be visible before a byte is read; the content is stored
    /// (durably, once per digest) only if it is complete, within the limit and as expected; then the
    /// domain decides and the document and its custody event are saved together. A retry with the same
    /// idempotency key returns the first upload's document without reading the content again.
    pub async fn upload_document(
        &self,
        principal: &Principal,
        upload: Upload,
        idempotency_key: Option<&str>,
        chunks: impl Stream<Item = AppResult<Bytes>> + Send + Unpin,
    ) -> AppResult<Document> {
        let payload = (&upload.request_id, &upload.document, &upload.expected_sha256);
        let (idempotency, replay) =
            self.idempotency::<Vec<Document>>(principal, idempotency_key, "UploadDocument", &payload).await?;
        if let Some(document) = replay.and_then(|documents| documents.into_iter().next()) {
            return Ok(document);
        }
        let request = self.load_visible(principal, upload.request_id).await?;
        document::may_upload(&request, principal)?;
        let translated = self.original_of(&upload.document).await?;
        let received = self.receive(chunks, upload.expected_sha256.as_ref()).await?;
        self.add_document(principal, &upload, translated.as_ref(), received, idempotency).await
    }

    /// The document a translation translates, as stored (the domain checks that it may be named).
    pub(crate) async fn original_of(&self, new: &NewDocument) -> AppResult<Option<Document>> {
        match new.translation_of {
            Some(id) => Ok(self.store.get_document(id).await?),
            None => Ok(None),
        }
    }

    /// Lets the domain add the received document to its request, and saves it with its custody event.
    pub(crate) async fn add_document(
        &self,
        principal: &Principal,
        upload: &Upload,
        translated: Option<&Document>,
        received: Received,
        idempotency: Option<mla_store::Idempotency>,
    ) -> AppResult<Document> {
        let id = DocumentId::from_uuid(uuid::Uuid::now_v7());
        let saved = self
            .save_custody(principal, upload.request_id, "", idempotency, |request| {
                let (document, event) = document::add(
                    request,
                    id,
                    upload.document.clone(),
                    received.clone(),
                    translated,
                    principal,
                    self.now(),
                )?;
                Ok((vec![document], event))
            })
            .await?;
        saved.into_iter().next().ok_or_else(|| AppError::Internal("the upload stored no document".into()))
    }

    /// Streams the content into the content store, hashing and measuring it; stores nothing unless it
    /// ends within the limit and with the expected digest.
    async fn receive(
        &self,
        chunks: impl Stream<Item = AppResult<Bytes>> + Send + Unpin,
        expected: Option<&Sha256>,
    ) -> AppResult<Received> {
        let content = self.content()?;
        // Dropping the writer on any early return below leaves nothing behind.
        let mut intake = Intake::new(content.store.writer().await?, content.max_bytes, |limit| {
            AppError::TooLarge { limit }
        });
        intake.take(chunks).await?;
        intake.finish(content.store.as_ref(), expected).await
    }

    /// One document, if the principal may see it and its request.
    pub async fn get_document(&self, principal: &Principal, id: DocumentId) -> AppResult<Document> {
        let (document, request) = self.load_document(id).await?;
        document::check_visible(&request, &document, principal)?;
        Ok(document)
    }

    /// A document and its request, whoever may see them; NOT_FOUND for a document that does not exist.
    async fn load_document(&self, id: DocumentId) -> AppResult<(Document, Request)> {
        let document = self.store.get_document(id).await?.ok_or(AppError::NotFound("document"))?;
        let request =
            self.store.get_request(document.request_id).await?.ok_or(AppError::NotFound("document"))?;
        Ok((document, request))
    }

    /// The documents of a request that the principal may see, oldest first.
    pub async fn list_documents(
        &self,
        principal: &Principal,
        request_id: RequestId,
        page_size: i32,
        page_token: &str,
    ) -> AppResult<Page<Document>> {
        let limit = page_limit(page_size)?;
        let request = self.load_visible(principal, request_id).await?;
        let side = document::reader_side(&request, principal)?;
        let after = decode_token(page_token, "d")?
            .map(|t| DocumentId::parse(&t))
            .transpose()
            .map_err(crate::bad_token)?;
        let mut documents = self.store.list_documents(request_id, side, after, limit + 1).await?;
        let next = next_token(&mut documents, limit as usize, |d| encode_token("d", &d.id.to_string()));
        Ok(Page { items: documents, next_page_token: next })
    }

    /// Hands out a document's content from `offset`, after recording the download in its request's
    /// chain.
    pub async fn download_document(
        &self,
        principal: &Principal,
        id: DocumentId,
        offset: u64,
    ) -> AppResult<Download> {
        let content = self.content()?;
        let (document, request) = self.load_document(id).await?;
        document::check_visible(&request, &document, principal)?;
        let size = u64::try_from(document.size_bytes).unwrap_or(0);
        if offset > size {
            return Err(AppError::OffsetOutOfRange { offset, size });
        }
        let stream = content.store.read(&document.sha256, offset).await?.ok_or_else(|| {
            AppError::Internal(format!("the content {} of document {id} is missing", document.sha256))
        })?;
        self.save_custody(principal, document.request_id, "", None, |request| {
            Ok((Vec::new(), document::download(request, &document, principal, self.now())?))
        })
        .await?;
        Ok(Download { document, content: stream })
    }

    /// Releases withheld evidence (the domain's gate), with the etag check on the request.
    pub async fn release_documents(
        &self,
        principal: &Principal,
        request_id: RequestId,
        ids: Vec<DocumentId>,
        etag: &str,
        idempotency_key: Option<&str>,
    ) -> AppResult<Vec<Document>> {
        let payload = (request_id, &ids, etag);
        let (idempotency, replay) =
            self.idempotency(principal, idempotency_key, "ReleaseDocuments", &payload).await?;
        if let Some(documents) = replay {
            return Ok(documents);
        }
        let mut documents = Vec::with_capacity(ids.len());
        for id in &ids {
            documents.push(self.store.get_document(*id).await?.ok_or(AppError::NotFound("document"))?);
        }
        self.save_custody(principal, request_id, etag, idempotency, |request| {
            Ok(document::release(request, documents.clone(), principal, self.now())?)
        })
        .await
    }

    /// The one write path of custody: let the domain decide on the request as the principal sees it
    /// and save at the version decided on (see [`App::beside`]).
    pub(crate) async fn save_custody(
        &self,
        principal: &Principal,
        request_id: RequestId,
        etag: &str,
        idempotency: Option<mla_store::Idempotency>,
        decide: impl Fn(&Request) -> AppResult<(Vec<Document>, EventDraft)> + Sync,
    ) -> AppResult<Vec<Document>> {
        let (decide, idempotency) = (&decide, idempotency.as_ref());
        self.beside(principal, request_id, etag, move |request| {
            Box::pin(async move {
                let (documents, event) = decide(&request)?;
                Ok(self.store.save_custody(&request, documents, event, idempotency).await)
            })
        })
        .await
    }
}
