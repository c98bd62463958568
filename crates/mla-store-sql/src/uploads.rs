//! The `upload_sessions` table: resumable uploads, recorded at their start (idempotently), read by
//! their owner's later calls, and removed once expired.

use mla_domain::Timestamp;
use mla_store::{Idempotency, StoreResult, UploadSession};
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::SqlStore;
use crate::dialect::{DbRow, Dialect, Driver, Value};
use crate::errors::{corrupt, db_error};
use crate::rows::{Fields, json, push_insert, truncated};
use crate::write::Begun;

const UPLOAD_COLUMNS: &str =
    "id, request_id, owner, document, expected_sha256, size_bytes, create_time, expire_time";

fn upload_from_row<D: Dialect>(row: &DbRow<D>) -> StoreResult<UploadSession> {
    let f = Fields::<D>::new(row);
    let expected_sha256 = f.opt_text("expected_sha256")?;
    Ok(UploadSession {
        id: f.id("id")?.as_uuid(),
        request_id: f.id("request_id")?,
        owner: f.text("owner")?,
        document: f.json("document")?,
        expected_sha256: expected_sha256
            .map(|raw| mla_domain::document::Sha256::parse(&raw).map_err(|e| corrupt("expected_sha256", e)))
            .transpose()?,
        size_bytes: f.int("size_bytes")?,
        create_time: f.time("create_time")?,
        expire_time: f.time("expire_time")?,
    })
}

impl<D: Dialect> SqlStore<D> {
    pub async fn create_upload(
        &self,
        session: UploadSession,
        key: Option<&Idempotency>,
    ) -> StoreResult<UploadSession> {
        let session = UploadSession {
            create_time: truncated(session.create_time),
            expire_time: truncated(session.expire_time),
            ..session
        };
        let mut tx = match self.begin(key, session.create_time).await? {
            Begun::Fresh(tx) => tx,
            Begun::Recorded(outcome) => return Ok(outcome),
        };
        let mut sql = QueryBuilder::new("INSERT INTO upload_sessions");
        push_insert::<D>(
            &mut sql,
            vec![
                ("id", Value::Uuid(Some(session.id))),
                ("request_id", Value::Id(session.request_id)),
                ("owner", Value::Text(&session.owner)),
                ("document", Value::Json(json(&session.document)?)),
                ("expected_sha256", Value::OptText(session.expected_sha256.as_ref().map(|s| s.as_str()))),
                ("size_bytes", Value::Int(session.size_bytes)),
                ("create_time", Value::Time(Some(session.create_time))),
                ("expire_time", Value::Time(Some(session.expire_time))),
            ],
        );
        D::Db::execute(&mut tx, sql).await.map_err(db_error::<D>)?;
        self.finish(tx, key, &session, None).await?;
        Ok(session)
    }

    pub async fn get_upload(&self, id: Uuid) -> StoreResult<Option<UploadSession>> {
        let mut sql = QueryBuilder::new(format!("SELECT {UPLOAD_COLUMNS} FROM upload_sessions WHERE id = "));
        Value::Uuid(Some(id)).push::<D>(&mut sql);
        let mut conn = self.reader.acquire().await.map_err(db_error::<D>)?;
        let row = D::Db::fetch_optional(&mut conn, sql).await.map_err(db_error::<D>)?;
        row.as_ref().map(upload_from_row::<D>).transpose()
    }

    pub async fn expired_uploads(&self, at: Timestamp, limit: u32) -> StoreResult<Vec<Uuid>> {
        let mut sql = QueryBuilder::new("SELECT id FROM upload_sessions WHERE expire_time < ");
        D::push_time(&mut sql, Some(at));
        sql.push(" ORDER BY expire_time LIMIT ");
        D::Db::bind_int(&mut sql, i64::from(limit));
        let mut conn = self.reader.acquire().await.map_err(db_error::<D>)?;
        let rows = D::Db::fetch_all(&mut conn, sql).await.map_err(db_error::<D>)?;
        rows.iter().map(|row| Ok(Fields::<D>::new(row).id("id")?.as_uuid())).collect()
    }

    pub async fn delete_upload(&self, id: Uuid) -> StoreResult<()> {
        let mut tx = self.writer.begin_with(D::BEGIN_WRITE).await.map_err(db_error::<D>)?;
        let mut sql = QueryBuilder::new("DELETE FROM upload_sessions WHERE id = ");
        Value::Uuid(Some(id)).push::<D>(&mut sql);
        D::Db::execute(&mut tx, sql).await.map_err(db_error::<D>)?;
        tx.commit().await.map_err(db_error::<D>)
    }
}
