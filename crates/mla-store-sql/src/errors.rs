//! Driver errors in the store's terms, and the one error for a row the store cannot read back.

use mla_store::StoreError;

use crate::dialect::Dialect;

/// A row that the store cannot turn back into a domain value: the database was changed behind the
/// store's back, or by a newer version of it.
#[derive(Debug, thiserror::Error)]
#[error("stored {what} is not valid: {detail}")]
struct CorruptRow {
    what: &'static str,
    detail: String,
}

pub fn corrupt(what: &'static str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(Box::new(CorruptRow { what, detail: detail.to_string() }))
}

/// Maps a driver error to the store's terms: a database that cannot be reached or will not serve now
/// is worth a retry, so is one whose disk is full (once an operator has made room), anything else is
/// a fault.
pub fn db_error<D: Dialect>(error: sqlx::Error) -> StoreError {
    let full = match &error {
        sqlx::Error::Io(io) => io.kind() == std::io::ErrorKind::StorageFull,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| D::is_full_code(&code)),
        _ => false,
    };
    if full {
        return StoreError::StorageFull(error.to_string());
    }
    let unavailable = match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| D::is_unavailable_code(&code)),
        _ => false,
    };
    if unavailable {
        StoreError::Unavailable(error.to_string())
    } else {
        StoreError::Internal(Box::new(error))
    }
}

/// Like [`db_error`], but a unique violation means the thing already exists.
pub fn insert_error<D: Dialect>(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::AlreadyExists,
        _ => db_error::<D>(error),
    }
}

/// A failed migration: the database's own error when a statement failed, else a fault.
pub fn migrate_error<D: Dialect>(error: sqlx::migrate::MigrateError) -> StoreError {
    match error {
        sqlx::migrate::MigrateError::Execute(inner) => db_error::<D>(inner),
        other => StoreError::Internal(Box::new(other)),
    }
}

pub fn json_error(error: serde_json::Error) -> StoreError {
    StoreError::Internal(Box::new(error))
}
