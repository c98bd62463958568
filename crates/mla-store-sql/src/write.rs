//! The one template of every write: claim the idempotency key first (or replay what it recorded), run
//! the write's statements, record the outcome, append the change's audit event last, commit, and wake
//! the watchers. Each write (`requests.rs`, `partners.rs`, and the tables still to come) fills in only
//! its own statements between [`SqlStore::begin`] and [`SqlStore::finish`].

use mla_domain::audit::EventDraft;
use mla_domain::{Request, Timestamp};
use mla_store::{Idempotency, StoreResult};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::{QueryBuilder, Transaction};

use crate::SqlStore;
use crate::dialect::{Dialect, Driver};
use crate::errors::{corrupt, db_error};
use crate::requests::not_at_version;
use crate::{events, idempotency};

/// A write's transaction, open.
pub type WriteTx<D> = Transaction<'static, <D as Dialect>::Db>;

/// How a write begins: with its transaction open and its key (if any) claimed, or with the outcome an
/// earlier call recorded under the key, in which case nothing is written.
#[derive(Debug)]
pub enum Begun<D: Dialect, T> {
    Fresh(WriteTx<D>),
    Recorded(T),
}

impl<D: Dialect> SqlStore<D> {
    /// Begins a write that happens `at` (its own time, which also stamps the idempotency record).
    pub async fn begin<T: DeserializeOwned>(
        &self,
        key: Option<&Idempotency>,
        at: Timestamp,
    ) -> StoreResult<Begun<D, T>> {
        let mut tx = self.writer.begin_with(D::BEGIN_WRITE).await.map_err(db_error::<D>)?;
        let Some(key) = key else { return Ok(Begun::Fresh(tx)) };
        // A record purged between the claim and the read leaves the key free: the second claim takes it.
        for _ in 0..2 {
            if idempotency::claim::<D>(&mut tx, key, at).await? {
                return Ok(Begun::Fresh(tx));
            }
            let recorded = idempotency::recorded::<D>(&mut tx, key).await;
            if matches!(recorded, Ok(None)) {
                continue;
            }
            tx.rollback().await.map_err(db_error::<D>)?;
            let outcome = recorded?.unwrap_or_default();
            return serde_json::from_value(outcome)
                .map(Begun::Recorded)
                .map_err(|e| corrupt("idempotent outcome", e));
        }
        Err(corrupt("idempotency key", "taken, but no record of it can be read"))
    }

    /// Begins a write beside `request`'s chain (custody of its documents, its correspondence), which
    /// changes nothing of the request: first its row, at the version the decision was made on, which
    /// locks it (so its chain cannot move) and counts one more such event, leaving the version (the
    /// etag) alone. A request at another version changes nothing: [`mla_store::StoreError::VersionConflict`].
    pub async fn begin_beside<T: DeserializeOwned>(
        &self,
        request: &Request,
        key: Option<&Idempotency>,
        at: Timestamp,
    ) -> StoreResult<Begun<D, T>> {
        let mut tx = match self.begin(key, at).await? {
            Begun::Fresh(tx) => tx,
            recorded => return Ok(recorded),
        };
        let mut sql =
            QueryBuilder::new("UPDATE requests SET custody_events = custody_events + 1 WHERE id = ");
        D::push_id(&mut sql, request.id);
        sql.push(" AND version = ");
        D::Db::bind_int(&mut sql, request.version);
        let result = D::Db::execute(&mut tx, sql).await.map_err(db_error::<D>)?;
        if D::rows_affected(&result) == 0 {
            return Err(not_at_version::<D>(tx, request.id).await);
        }
        Ok(Begun::Fresh(tx))
    }

    /// Ends a write: records `outcome` under the claimed key, appends the change's event to the
    /// request's chain (last), commits, and wakes this process's watchers.
    pub async fn finish<T: Serialize>(
        &self,
        mut tx: WriteTx<D>,
        key: Option<&Idempotency>,
        outcome: &T,
        event: Option<(EventDraft, &Request)>,
    ) -> StoreResult<()> {
        if let Some(key) = key {
            idempotency::record::<D, T>(&mut tx, key, outcome).await?;
        }
        let cursor = match event {
            Some((draft, request)) => Some(events::append::<D>(&mut tx, draft, request).await?),
            None => None,
        };
        tx.commit().await.map_err(db_error::<D>)?;
        if let Some(cursor) = cursor {
            crate::advance(&self.signal, cursor);
        }
        Ok(())
    }
}
