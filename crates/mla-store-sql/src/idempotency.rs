//! Idempotency records: claimed as the first statement of a write, given the write's outcome in the
//! same transaction, replayed to retries, and purged once older than the caller's cut.

use mla_domain::Timestamp;
use mla_store::{Idempotency, StoreError, StoreResult};
use sqlx::{Pool, QueryBuilder};

use crate::SqlStore;
use crate::dialect::{DbConnection, Dialect, Driver, Value};
use crate::errors::{corrupt, db_error};
use crate::rows::{Fields, json, push_insert};

/// Records purged per statement: each batch is a short transaction of its own, so that a purge of
/// many records never holds the write lock (SQLite) or many row locks (PostgreSQL) for long.
const PURGE_BATCH: i64 = 1000;

/// Claims a key for the write that runs in `conn`'s transaction, stamped with the write's own time
/// (the application's clock, the same instant the purge's cut is measured against). In PostgreSQL a
/// concurrent claim of the same key waits on the unique index until the first commits (then this finds
/// it taken) or rolls back (then this claims it). `false`: the key is taken.
pub async fn claim<D: Dialect>(
    conn: &mut DbConnection<D>,
    key: &Idempotency,
    at: Timestamp,
) -> StoreResult<bool> {
    let mut sql = QueryBuilder::new("INSERT INTO idempotency");
    push_insert::<D>(
        &mut sql,
        vec![
            ("scope", Value::Text(&key.scope)),
            ("key", Value::Text(&key.key)),
            ("fingerprint", Value::Text(&key.fingerprint)),
            ("create_time", Value::Time(Some(at))),
        ],
    );
    sql.push(" ON CONFLICT (scope, key) DO NOTHING");
    let result = D::Db::execute(conn, sql).await.map_err(db_error::<D>)?;
    Ok(D::rows_affected(&result) == 1)
}

/// Records the outcome of the write that claimed the key, in that write's transaction.
pub async fn record<D: Dialect, T: serde::Serialize>(
    conn: &mut DbConnection<D>,
    key: &Idempotency,
    outcome: &T,
) -> StoreResult<()> {
    let mut sql = QueryBuilder::new("UPDATE idempotency SET response = ");
    D::push_json(&mut sql, &json(outcome)?);
    push_key::<D>(&mut sql, key);
    D::Db::execute(conn, sql).await.map_err(db_error::<D>)?;
    Ok(())
}

/// The outcome recorded for `key`: `None` if there is no record (never made, or purged); a record
/// with another fingerprint is [`StoreError::IdempotencyMismatch`].
pub async fn recorded<D: Dialect>(
    conn: &mut DbConnection<D>,
    key: &Idempotency,
) -> StoreResult<Option<serde_json::Value>> {
    let mut sql = QueryBuilder::new("SELECT fingerprint, response FROM idempotency");
    push_key::<D>(&mut sql, key);
    let Some(row) = D::Db::fetch_optional(conn, sql).await.map_err(db_error::<D>)? else {
        return Ok(None);
    };
    let fields = Fields::<D>::new(&row);
    if fields.text("fingerprint")? != key.fingerprint {
        return Err(StoreError::IdempotencyMismatch);
    }
    match fields.opt_json("response")? {
        Some(response) => Ok(Some(response)),
        None => Err(corrupt("idempotency key", "committed without an outcome")),
    }
}

impl<D: Dialect> SqlStore<D> {
    pub async fn replay(&self, key: &Idempotency) -> StoreResult<Option<serde_json::Value>> {
        let mut conn = self.reader.acquire().await.map_err(db_error::<D>)?;
        recorded::<D>(&mut conn, key).await
    }

    pub async fn purge_idempotency(&self, created_before: Timestamp) -> StoreResult<u64> {
        purge::<D>(&self.writer, created_before).await
    }
}

/// Deletes the records made before `cut`, in batches, and says how many.
pub async fn purge<D: Dialect>(writer: &Pool<D::Db>, cut: Timestamp) -> StoreResult<u64> {
    let mut purged = 0;
    loop {
        let mut tx = writer.begin_with(D::BEGIN_WRITE).await.map_err(db_error::<D>)?;
        let mut sql = QueryBuilder::new(
            "DELETE FROM idempotency WHERE (scope, key) IN (SELECT scope, key FROM idempotency WHERE create_time < ",
        );
        D::push_time(&mut sql, Some(cut));
        sql.push(" LIMIT ");
        D::Db::bind_int(&mut sql, PURGE_BATCH);
        sql.push(")");
        let result = D::Db::execute(&mut *tx, sql).await.map_err(db_error::<D>)?;
        tx.commit().await.map_err(db_error::<D>)?;
        let deleted = D::rows_affected(&result);
        purged += deleted;
        if deleted < PURGE_BATCH as u64 {
            return Ok(purged);
        }
    }
}

fn push_key<D: Dialect>(sql: &mut QueryBuilder<D::Db>, key: &Idempotency) {
    sql.push(" WHERE scope = ");
    D::Db::bind_text(sql, Some(&key.scope));
    sql.push(" AND key = ");
    D::Db::bind_text(sql, Some(&key.key));
}
