//! Resumable uploads, as tus and the cloud stores' resumable uploads have them: an upload session
//! records the document and its whole size first (checked then as the upload itself will be), its
//! content then arrives over as many calls as the link needs, each going on from the last durable
//! byte, and the call that brings the last byte adds the document, as an upload in one call would.
//! A session is its principal's alone, and expires with its partial content after
//! [`UPLOAD_SESSION_DAYS`].

use std::collections::HashSet;
use std::sync::Mutex;

use bytes::Bytes;
use chrono::TimeDelta;
use futures::Stream;
use mla_domain::Principal;
use mla_domain::document::{self, Document, DocumentId, Received, Sha256};
use mla_store::UploadSession;
use uuid::Uuid;

use crate::documents::Intake;
use crate::{App, AppError, AppResult, Upload};

/// How long an unfinished upload session and its partial content are kept.
pub const UPLOAD_SESSION_DAYS: i64 = 7;

/// An upload session as its owner sees it: how much of its content is durable, and its document once
/// the content is complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadStatus {
    pub session: UploadSession,
    pub offset: u64,
    pub document: Option<Document>,
}

/// The sessions this process is appending to: one call at a time per session, since two would
/// write over each other.
#[derive(Debug, Default)]
pub(crate) struct Appending(Mutex<HashSet<Uuid>>);

/// A session held for one call; released when dropped, however the call ends.
struct Turn<'a>(&'a Appending, Uuid);

impl Appending {
    fn take(&self, id: Uuid) -> Option<Turn<'_>> {
        let mut busy = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        busy.insert(id).then(|| Turn(self, id))
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.1);
    }
}

impl App {
    /// Starts an upload session for `size_bytes` bytes of content. The request must be visible, the
    /// principal may upload, the size is within the limit and the domain would add the document as
    /// described: all decided now, so that a refusal comes before the content does. A retry with the
    /// same idempotency key returns the same session, with its offset as it is now.
    pub async fn start_upload(
        &self,
        principal: &Principal,
        upload: Upload,
        size_bytes: u64,
        idempotency_key: Option<&str>,
    ) -> AppResult<UploadStatus> {
        let content = self.content()?;
        if size_bytes > content.max_bytes {
            return Err(AppError::TooLarge { limit: content.max_bytes });
        }
        let payload = (&upload.request_id, &upload.document, &upload.expected_sha256, size_bytes);
        let (idempotency, replay) =
            self.idempotency::<UploadSession>(principal, idempotency_key, "StartUpload", &payload).await?;
        if let Some(session) = replay {
            return self.get_upload(principal, session.id).await;
        }
        let request = self.load_visible(principal, upload.request_id).await?;
        let translated = self.original_of(&upload.document).await?;
        let size = i64::try_from(size_bytes).map_err(|_| AppError::TooLarge { limit: content.max_bytes })?;
        let announced = Received {
            sha256: Sha256::from_bytes([0; 32]),
            size_bytes: size,
            detected_media_type: String::new(),
        };
        let now = self.now();
        let id = DocumentId::from_uuid(Uuid::nil());
        document::add(&request, id, upload.document.clone(), announced, translated.as_ref(), principal, now)?;
        let session = UploadSession {
            id: Uuid::now_v7(),
            request_id: upload.request_id,
            owner: crate::principal_scope(principal),
            document: upload.document,
            expected_sha256: upload.expected_sha256,
            size_bytes: size,
            create_time: now,
            expire_time: now + TimeDelta::days(UPLOAD_SESSION_DAYS),
        };
        let session = self.store.create_upload(session, idempotency.as_ref()).await?;
        self.upload_status(principal, session).await
    }

    /// An upload session of the principal's, with its durable offset.
    pub async fn get_upload(&self, principal: &Principal, id: Uuid) -> AppResult<UploadStatus> {
        let session = self.owned_upload(principal, id).await?;
        self.upload_status(principal, session).await
    }

    /// Appends `chunks` to an upload session from `offset`, which must be the session's durable
    /// offset (else ABORTED, naming it). What arrives is kept even when the stream breaks off, so that
    /// the next call goes on from there. The call that completes the content adds the document (the
    /// digest checked first: a mismatch discards the content, and the session starts again from 0);
    /// a completed session answers its document again.
    pub async fn append_upload(
        &self,
        principal: &Principal,
        id: Uuid,
        offset: u64,
        chunks: impl Stream<Item = AppResult<Bytes>> + Send + Unpin,
    ) -> AppResult<UploadStatus> {
        let content = self.content()?;
        let session = self.owned_upload(principal, id).await?;
        let _turn = self.appending.take(id).ok_or(AppError::Conflict)?;
        let size = u64::try_from(session.size_bytes).unwrap_or(0);
        let (completion, completed) = self.completion(principal, &session).await?;
        if let Some(document) = completed {
            return match offset == size {
                true => Ok(UploadStatus { session, offset, document: Some(document) }),
                false => Err(AppError::UploadOffsetMismatch { offset: size }),
            };
        }
        let writer = content.store.resume(id).await?;
        if writer.size() != offset {
            return Err(AppError::UploadOffsetMismatch { offset: writer.size() });
        }
        let mut intake = Intake::resumed(writer, id, size, |size| {
            AppError::invalid("chunk", format!("the content goes past the session's size_bytes ({size})"))
        });
        let taken = intake.take(chunks).await;
        if let Err(error) = taken {
            // What arrived before the failure stays for the next call.
            intake.sync().await?;
            return Err(error);
        }
        if intake.size() < size {
            intake.sync().await?;
            return Ok(UploadStatus { offset: intake.size(), session, document: None });
        }
        let upload = Upload {
            request_id: session.request_id,
            document: session.document.clone(),
            expected_sha256: session.expected_sha256.clone(),
        };
        let received = match intake.finish(content.store.as_ref(), upload.expected_sha256.as_ref()).await {
            Err(mismatch @ AppError::DigestMismatch { .. }) => {
                content.store.discard(id).await?;
                return Err(mismatch);
            }
            received => received?,
        };
        let translated = self.original_of(&upload.document).await?;
        let document =
            self.add_document(principal, &upload, translated.as_ref(), received, completion).await?;
        Ok(UploadStatus { session, offset: size, document: Some(document) })
    }

    /// Cancels an upload session: its partial content goes at once, and the session with it.
    pub async fn cancel_upload(&self, principal: &Principal, id: Uuid) -> AppResult<()> {
        let content = self.content()?;
        self.owned_upload(principal, id).await?;
        let _turn = self.appending.take(id).ok_or(AppError::Conflict)?;
        content.store.discard(id).await?;
        Ok(self.store.delete_upload(id).await?)
    }

    /// Removes the upload sessions that expired, with their partial content, and says how many went.
    pub async fn sweep_expired_uploads(&self) -> AppResult<u64> {
        let content = self.content()?;
        let mut swept = 0;
        loop {
            let expired = self.store.expired_uploads(self.now(), 100).await?;
            if expired.is_empty() {
                return Ok(swept);
            }
            for id in expired {
                // Content first: a session whose content could not go is swept again later.
                content.store.discard(id).await?;
                self.store.delete_upload(id).await?;
                swept += 1;
            }
        }
    }

    /// The session, if it is the principal's and has not expired; any other is NOT_FOUND.
    async fn owned_upload(&self, principal: &Principal, id: Uuid) -> AppResult<UploadSession> {
        match self.store.get_upload(id).await? {
            Some(session)
                if session.owner == crate::principal_scope(principal) && session.expire_time > self.now() =>
            {
                Ok(session)
            }
            _ => Err(AppError::NotFound("upload")),
        }
    }

    async fn upload_status(&self, principal: &Principal, session: UploadSession) -> AppResult<UploadStatus> {
        let (_, document) = self.completion(principal, &session).await?;
        let offset = match document {
            Some(_) => u64::try_from(session.size_bytes).unwrap_or(0),
            None => self.content()?.store.resume(session.id).await?.size(),
        };
        Ok(UploadStatus { session, offset, document })
    }

    /// The idempotency record of a session's completion, and the document if it completed: whichever
    /// call brings the last byte, the document is added once.
    async fn completion(
        &self,
        principal: &Principal,
        session: &UploadSession,
    ) -> AppResult<(Option<mla_store::Idempotency>, Option<Document>)> {
        let key = format!("upload-session/{}", session.id);
        let (record, replay) =
            self.idempotency::<Vec<Document>>(principal, Some(&key), "CompleteUpload", &session.id).await?;
        Ok((record, replay.and_then(|documents| documents.into_iter().next())))
    }
}
