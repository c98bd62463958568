//! The `documents` table: a custody write (the documents it adds or releases, written beside the
//! request's chain: see [`SqlStore::begin_beside`]), and the readers, the list filtered in the query
//! by the reader's side.

use mla_domain::audit::EventDraft;
use mla_domain::document::{Audience, Document, DocumentId, DocumentKind, ReleaseState, Sha256};
use mla_domain::lifecycle::Side;
use mla_domain::{Request, RequestId};
use mla_store::{Idempotency, StoreResult};
use sqlx::QueryBuilder;

use crate::SqlStore;
use crate::dialect::{DbRow, Dialect, Driver, Value};
use crate::errors::{corrupt, db_error};
use crate::rows::{Fields, json, push_insert, truncated};
use crate::write::Begun;

/// `translation_of` is read as text (both backends write a UUID as its canonical text), since it may
/// be NULL.
pub const DOCUMENT_COLUMNS: &str = "id, request_id, kind, title, file_name, media_type, detected_media_type, \
     size_bytes, sha256, language, CAST(translation_of AS TEXT) AS translation_of, audience, release_state, use_restrictions, uploaded_by, \
     uploader_side, create_time";

fn document_row(document: &Document) -> StoreResult<Vec<(&'static str, Value<'_>)>> {
    Ok(vec![
        ("id", Value::Uuid(Some(document.id.as_uuid()))),
        ("request_id", Value::Id(document.request_id)),
        ("kind", Value::Text(document.kind.as_str())),
        ("title", Value::Text(document.title.as_str())),
        ("file_name", Value::Text(document.file_name.as_str())),
        ("media_type", Value::Text(&document.media_type)),
        ("detected_media_type", Value::Text(&document.detected_media_type)),
        ("size_bytes", Value::Int(document.size_bytes)),
        ("sha256", Value::Text(document.sha256.as_str())),
        ("language", Value::Text(&document.language)),
        ("translation_of", Value::Uuid(document.translation_of.map(|id| id.as_uuid()))),
        ("audience", Value::Text(document.audience.as_str())),
        ("release_state", Value::Text(document.release_state.as_str())),
        ("use_restrictions", Value::TextList(&document.use_restrictions)),
        ("uploaded_by", Value::Json(json(&document.uploaded_by)?)),
        ("uploader_side", Value::Text(document.uploader_side.as_str())),
        ("create_time", Value::Time(Some(document.create_time))),
    ])
}

fn document_from_row<D: Dialect>(row: &DbRow<D>) -> StoreResult<Document> {
    let f = Fields::<D>::new(row);
    let vocabulary = |what: &'static str, raw: String| corrupt(what, raw);
    let kind = f.text("kind")?;
    let audience = f.text("audience")?;
    let release_state = f.text("release_state")?;
    let side = f.text("uploader_side")?;
    let translation_of = f.opt_text("translation_of")?;
    let translation_of = translation_of
        .map(|raw| DocumentId::parse(&raw).map_err(|e| corrupt("translation_of", e)))
        .transpose()?;
    Ok(Document {
        id: DocumentId::from_uuid(f.id("id")?.as_uuid()),
        request_id: f.id("request_id")?,
        kind: DocumentKind::parse(&kind).ok_or_else(|| vocabulary("document kind", kind.clone()))?,
        title: f.short_text("title")?,
        file_name: f.short_text("file_name")?,
        media_type: f.text("media_type")?,
        detected_media_type: f.text("detected_media_type")?,
        size_bytes: f.int("size_bytes")?,
        sha256: Sha256::parse(&f.text("sha256")?).map_err(|e| corrupt("sha256", e))?,
        language: f.text("language")?,
        translation_of,
        audience: Audience::parse(&audience).ok_or_else(|| vocabulary("audience", audience.clone()))?,
        release_state: ReleaseState::parse(&release_state)
            .ok_or_else(|| vocabulary("release state", release_state.clone()))?,
        use_restrictions: f.text_list("use_restrictions")?,
        uploaded_by: f.json("uploaded_by")?,
        uploader_side: Side::parse(&side).ok_or_else(|| vocabulary("uploader side", side.clone()))?,
        create_time: f.time("create_time")?,
    })
}

impl<D: Dialect> SqlStore<D> {
    pub async fn save_custody(
        &self,
        request: &Request,
        documents: Vec<Document>,
        event: EventDraft,
        key: Option<&Idempotency>,
    ) -> StoreResult<Vec<Document>> {
        let documents: Vec<Document> = documents
            .into_iter()
            .map(|document| Document { create_time: truncated(document.create_time), ..document })
            .collect();
        let mut tx = match self.begin_beside(request, key, event.time).await? {
            Begun::Fresh(tx) => tx,
            Begun::Recorded(outcome) => return Ok(outcome),
        };
        for document in &documents {
            // A document's identity and content never change; a release sets what it may change.
            let mut sql = QueryBuilder::new("INSERT INTO documents");
            push_insert::<D>(&mut sql, document_row(document)?);
            sql.push(
                " ON CONFLICT (id) DO UPDATE SET release_state = excluded.release_state, \
                 use_restrictions = excluded.use_restrictions",
            );
            D::Db::execute(&mut tx, sql).await.map_err(db_error::<D>)?;
        }
        self.finish(tx, key, &documents, Some((event, request))).await?;
        Ok(documents)
    }

    pub async fn get_document(&self, id: DocumentId) -> StoreResult<Option<Document>> {
        let mut sql = QueryBuilder::new(format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = "));
        Value::Uuid(Some(id.as_uuid())).push::<D>(&mut sql);
        let mut conn = self.reader.acquire().await.map_err(db_error::<D>)?;
        let row = D::Db::fetch_optional(&mut conn, sql).await.map_err(db_error::<D>)?;
        row.as_ref().map(document_from_row::<D>).transpose()
    }

    pub async fn all_documents(&self, after: Option<DocumentId>, limit: u32) -> StoreResult<Vec<Document>> {
        let mut sql = QueryBuilder::new(format!("SELECT {DOCUMENT_COLUMNS} FROM documents"));
        if let Some(after) = after {
            sql.push(" WHERE id > ");
            Value::Uuid(Some(after.as_uuid())).push::<D>(&mut sql);
        }
        self.read_documents(sql, limit).await
    }

    pub async fn list_documents(
        &self,
        request_id: RequestId,
        reader: Side,
        after: Option<DocumentId>,
        limit: u32,
    ) -> StoreResult<Vec<Document>> {
        let mut sql =
            QueryBuilder::new(format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE request_id = "));
        D::push_id(&mut sql, request_id);
        // `Document::visible_from`, in the query: the uploader's side sees its own; the other side
        // sees shared documents that are not withheld.
        sql.push(" AND (uploader_side = ");
        D::Db::bind_text(&mut sql, Some(reader.as_str()));
        sql.push(" OR (audience = 'SHARED' AND release_state <> 'WITHHELD'))");
        if let Some(after) = after {
            sql.push(" AND id > ");
            Value::Uuid(Some(after.as_uuid())).push::<D>(&mut sql);
        }
        self.read_documents(sql, limit).await
    }

    /// The documents a query selects, in id order, at most `limit`.
    async fn read_documents(&self, mut sql: QueryBuilder<D::Db>, limit: u32) -> StoreResult<Vec<Document>> {
        sql.push(" ORDER BY id LIMIT ");
        D::Db::bind_int(&mut sql, i64::from(limit));
        let mut conn = self.reader.acquire().await.map_err(db_error::<D>)?;
        let rows = D::Db::fetch_all(&mut conn, sql).await.map_err(db_error::<D>)?;
        rows.iter().map(document_from_row::<D>).collect()
    }
}
