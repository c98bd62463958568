//! The SQL that both storage backends of mla-broker share, generic over sqlx's `Database`: one write
//! template, one set of scope and event filters, one mapping between rows and domain values. A backend
//! crate brings its driver, its [`Dialect`] (storage encodings, write lock, cursor, text search) and
//! its connection set-up, and implements [`mla_store::Store`] with [`store_through_sql!`].
//!
//! The statements are built with sqlx's `QueryBuilder`, which renders each dialect's placeholders; the
//! texts it builds are the same on every call, so the drivers' prepared-statement caches serve them.

pub mod dialect;
pub mod documents;
pub mod errors;
pub mod events;
pub mod human_rights;
pub mod idempotency;
pub mod messages;
pub mod partners;
pub mod requests;
pub mod rows;
pub mod statistics;
pub mod uploads;
pub mod write;

use std::sync::Arc;

use sqlx::{Pool, QueryBuilder};
use tokio::sync::watch;

pub use dialect::{Dialect, Driver, Value};
use mla_store::StoreResult;

#[doc(hidden)]
pub use async_trait::async_trait;
#[doc(hidden)]
pub use tracing::Instrument;
#[doc(hidden)]
pub use uuid;

/// The storage every backend shares: a pool that writes and a pool that reads (in PostgreSQL the
/// same one; in SQLite a single write connection beside the readers), and the event signal.
#[derive(Debug)]
pub struct SqlStore<D: Dialect> {
    writer: Pool<D::Db>,
    reader: Pool<D::Db>,
    /// Whether `writer` and `reader` are one pool, which its use then reports once.
    one_pool: bool,
    signal: Arc<watch::Sender<i64>>,
}

impl<D: Dialect> Clone for SqlStore<D> {
    fn clone(&self) -> Self {
        SqlStore {
            writer: self.writer.clone(),
            reader: self.reader.clone(),
            one_pool: self.one_pool,
            signal: self.signal.clone(),
        }
    }
}

impl<D: Dialect> SqlStore<D> {
    /// A store over one migrated pool that both writes and reads.
    pub async fn one_pool(pool: Pool<D::Db>) -> StoreResult<Self> {
        Ok(SqlStore { one_pool: true, ..Self::new(pool.clone(), pool).await? })
    }

    /// The use of the store's pools: `read` and `write`, or `main` when they are one.
    pub fn pool_use(&self) -> Vec<mla_store::PoolUse> {
        if self.one_pool {
            vec![pool_use("main", &self.writer)]
        } else {
            vec![pool_use("write", &self.writer), pool_use("read", &self.reader)]
        }
    }

    /// A store over migrated pools, its signal starting at the newest stored cursor.
    pub async fn new(writer: Pool<D::Db>, reader: Pool<D::Db>) -> StoreResult<Self> {
        let mut conn = reader.acquire().await.map_err(errors::db_error::<D>)?;
        let sql = QueryBuilder::new("SELECT COALESCE(MAX(cursor), 0) AS newest FROM events");
        let row = D::Db::fetch_optional(&mut conn, sql).await.map_err(errors::db_error::<D>)?;
        let newest = match row {
            Some(row) => rows::Fields::<D>::new(&row).int("newest")?,
            None => 0,
        };
        let (signal, _) = watch::channel(newest);
        Ok(SqlStore { writer, reader, one_pool: false, signal: Arc::new(signal) })
    }

    /// The signal that carries the newest committed cursor (a backend that hears of other
    /// processes' events advances it too).
    pub fn signal(&self) -> &Arc<watch::Sender<i64>> {
        &self.signal
    }

    pub fn event_signal(&self) -> watch::Receiver<i64> {
        self.signal.subscribe()
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// The span of one operation on this database, in OpenTelemetry's terms a client span of the
    /// database system.
    pub fn span(&self, operation: &'static str) -> tracing::Span {
        tracing::info_span!(
            "db",
            otel.name = operation,
            otel.kind = "client",
            db.system.name = D::SYSTEM,
            db.operation.name = operation,
        )
    }

    pub async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.reader.acquire().await.map_err(errors::db_error::<D>)?;
        D::Db::execute(&mut conn, QueryBuilder::new("SELECT 1")).await.map_err(errors::db_error::<D>)?;
        Ok(())
    }
}

/// One pool's use as sqlx counts it: `size` is every open connection, idle ones included.
pub fn pool_use<DB: sqlx::Database>(name: &'static str, pool: &Pool<DB>) -> mla_store::PoolUse {
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
    mla_store::PoolUse {
        pool: name,
        in_use: pool.size().saturating_sub(idle),
        idle,
        max: pool.options().get_max_connections(),
    }
}

/// Moves the signal forward to `cursor` (never back), waking watchers only when it moved.
pub fn advance(signal: &watch::Sender<i64>, cursor: i64) {
    signal.send_if_modified(|newest| {
        let advanced = cursor > *newest;
        *newest = (*newest).max(cursor);
        advanced
    });
}

/// One store operation in a span of its own (`db`, named after the operation, with the database
/// system), the database's part of a call's trace. `traced!(self.sql, get_request(id))`.
#[doc(hidden)]
#[macro_export]
macro_rules! traced {
    ($sql:expr, $operation:ident ( $($arg:expr),* )) => {
        $crate::Instrument::instrument($sql.$operation($($arg),*), $sql.span(stringify!($operation))).await
    };
}

/// Implements [`mla_store::Store`] for a backend's store type whose field `$field` is a
/// [`SqlStore`]: every method is the shared one, so a new store method is written once, here and in
/// this crate, for every backend. Each runs in its own span ([`traced!`]), but for `ping`, which
/// readiness calls every few seconds and no caller waits on.
#[macro_export]
macro_rules! store_through_sql {
    ($store:ty, $field:ident) => {
        #[$crate::async_trait]
        impl ::mla_store::Store for $store {
            async fn create_request(
                &self,
                new: ::mla_domain::NewRequest,
                idempotency: Option<&::mla_store::Idempotency>,
            ) -> ::mla_store::StoreResult<::mla_domain::Request> {
                $crate::traced!(self.$field, create_request(new, idempotency))
            }

            async fn get_request(
                &self,
                id: ::mla_domain::RequestId,
            ) -> ::mla_store::StoreResult<Option<::mla_domain::Request>> {
                $crate::traced!(self.$field, get_request(id))
            }

            async fn list_requests(
                &self,
                query: &::mla_store::RequestQuery,
            ) -> ::mla_store::StoreResult<Vec<::mla_domain::Request>> {
                $crate::traced!(self.$field, list_requests(query))
            }

            async fn save_change(
                &self,
                expected_version: i64,
                change: ::mla_domain::Transition,
                idempotency: Option<&::mla_store::Idempotency>,
            ) -> ::mla_store::StoreResult<::mla_domain::Request> {
                $crate::traced!(self.$field, save_change(expected_version, change, idempotency))
            }

            async fn request_heads(
                &self,
                after: Option<::mla_domain::RequestId>,
                limit: u32,
            ) -> ::mla_store::StoreResult<Vec<::mla_store::RequestHead>> {
                $crate::traced!(self.$field, request_heads(after, limit))
            }

            async fn replay(
                &self,
                idempotency: &::mla_store::Idempotency,
            ) -> ::mla_store::StoreResult<Option<::serde_json::Value>> {
                $crate::traced!(self.$field, replay(idempotency))
            }

            async fn purge_idempotency(
                &self,
                created_before: ::mla_domain::Timestamp,
            ) -> ::mla_store::StoreResult<u64> {
                $crate::traced!(self.$field, purge_idempotency(created_before))
            }

            async fn request_events(
                &self,
                id: ::mla_domain::RequestId,
                reader: &::mla_store::EventReader,
                after_seq: i64,
                limit: u32,
            ) -> ::mla_store::StoreResult<Vec<::mla_domain::audit::Event>> {
                $crate::traced!(self.$field, request_events(id, reader, after_seq, limit))
            }

            async fn events_after(
                &self,
                reader: &::mla_store::EventReader,
                after_cursor: i64,
                limit: u32,
            ) -> ::mla_store::StoreResult<Vec<::mla_domain::audit::Event>> {
                $crate::traced!(self.$field, events_after(reader, after_cursor, limit))
            }

            fn event_signal(&self) -> ::tokio::sync::watch::Receiver<i64> {
                self.$field.event_signal()
            }

            async fn save_custody(
                &self,
                request: &::mla_domain::Request,
                documents: Vec<::mla_domain::document::Document>,
                event: ::mla_domain::audit::EventDraft,
                idempotency: Option<&::mla_store::Idempotency>,
            ) -> ::mla_store::StoreResult<Vec<::mla_domain::document::Document>> {
                $crate::traced!(self.$field, save_custody(request, documents, event, idempotency))
            }

            async fn save_message(
                &self,
                request: &::mla_domain::Request,
                message: ::mla_domain::correspondence::Message,
                event: ::mla_domain::audit::EventDraft,
                idempotency: Option<&::mla_store::Idempotency>,
            ) -> ::mla_store::StoreResult<::mla_domain::correspondence::Message> {
                $crate::traced!(self.$field, save_message(request, message, event, idempotency))
            }

            async fn save_read_receipt(
                &self,
                request: &::mla_domain::Request,
                ids: Vec<::mla_domain::correspondence::MessageId>,
                event: ::mla_domain::audit::EventDraft,
            ) -> ::mla_store::StoreResult<()> {
                $crate::traced!(self.$field, save_read_receipt(request, ids, event))
            }

            async fn get_message(
                &self,
                id: ::mla_domain::correspondence::MessageId,
            ) -> ::mla_store::StoreResult<Option<::mla_domain::correspondence::Message>> {
                $crate::traced!(self.$field, get_message(id))
            }

            async fn list_messages(
                &self,
                request_id: ::mla_domain::RequestId,
                reader: ::mla_domain::lifecycle::Side,
                after: Option<::mla_domain::correspondence::MessageId>,
                limit: u32,
            ) -> ::mla_store::StoreResult<Vec<::mla_domain::correspondence::Message>> {
                $crate::traced!(self.$field, list_messages(request_id, reader, after, limit))
            }

            async fn get_document(
                &self,
                id: ::mla_domain::document::DocumentId,
            ) -> ::mla_store::StoreResult<Option<::mla_domain::document::Document>> {
                $crate::traced!(self.$field, get_document(id))
            }

            async fn all_documents(
                &self,
                after: Option<::mla_domain::document::DocumentId>,
                limit: u32,
            ) -> ::mla_store::StoreResult<Vec<::mla_domain::document::Document>> {
                $crate::traced!(self.$field, all_documents(after, limit))
            }

            async fn list_documents(
                &self,
                request_id: ::mla_domain::RequestId,
                reader: ::mla_domain::lifecycle::Side,
                after: Option<::mla_domain::document::DocumentId>,
                limit: u32,
            ) -> ::mla_store::StoreResult<Vec<::mla_domain::document::Document>> {
                $crate::traced!(self.$field, list_documents(request_id, reader, after, limit))
            }

            async fn create_partner(
                &self,
                partner: ::mla_domain::Partner,
                idempotency: Option<&::mla_store::Idempotency>,
            ) -> ::mla_store::StoreResult<::mla_domain::Partner> {
                $crate::traced!(self.$field, create_partner(partner, idempotency))
            }

            async fn get_partner(
                &self,
                code: &::mla_domain::PartnerCode,
            ) -> ::mla_store::StoreResult<Option<::mla_domain::Partner>> {
                $crate::traced!(self.$field, get_partner(code))
            }

            async fn list_partners(
                &self,
                include_inactive: bool,
                after: Option<&::mla_domain::PartnerCode>,
                limit: u32,
            ) -> ::mla_store::StoreResult<Vec<::mla_domain::Partner>> {
                $crate::traced!(self.$field, list_partners(include_inactive, after, limit))
            }

            async fn update_partner(
                &self,
                partner: ::mla_domain::Partner,
                expected_version: i64,
                idempotency: Option<&::mla_store::Idempotency>,
            ) -> ::mla_store::StoreResult<::mla_domain::Partner> {
                $crate::traced!(self.$field, update_partner(partner, expected_version, idempotency))
            }

            async fn create_upload(
                &self,
                session: ::mla_store::UploadSession,
                idempotency: Option<&::mla_store::Idempotency>,
            ) -> ::mla_store::StoreResult<::mla_store::UploadSession> {
                $crate::traced!(self.$field, create_upload(session, idempotency))
            }

            async fn get_upload(
                &self,
                id: $crate::uuid::Uuid,
            ) -> ::mla_store::StoreResult<Option<::mla_store::UploadSession>> {
                $crate::traced!(self.$field, get_upload(id))
            }

            async fn expired_uploads(
                &self,
                at: ::mla_domain::Timestamp,
                limit: u32,
            ) -> ::mla_store::StoreResult<Vec<$crate::uuid::Uuid>> {
                $crate::traced!(self.$field, expired_uploads(at, limit))
            }

            async fn delete_upload(&self, id: $crate::uuid::Uuid) -> ::mla_store::StoreResult<()> {
                $crate::traced!(self.$field, delete_upload(id))
            }

            async fn ping(&self) -> ::mla_store::StoreResult<()> {
                self.$field.ping().await
            }

            async fn count_requests(
                &self,
                overdue_at: ::mla_domain::Timestamp,
            ) -> ::mla_store::StoreResult<::mla_store::RequestCounts> {
                self.$field.count_requests(overdue_at).await
            }

            async fn request_statistics(
                &self,
                query: &::mla_store::RequestQuery,
                now: ::mla_domain::Timestamp,
            ) -> ::mla_store::StoreResult<::mla_store::RequestStatistics> {
                $crate::traced!(self.$field, request_statistics(query, now))
            }

            async fn human_rights_report(
                &self,
                query: &::mla_store::RequestQuery,
            ) -> ::mla_store::StoreResult<::mla_store::HumanRightsEntries> {
                $crate::traced!(self.$field, human_rights_report(query))
            }

            fn pool_use(&self) -> Vec<::mla_store::PoolUse> {
                self.pools()
            }
        }
    };
}
