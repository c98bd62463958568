//! Follows the announcements of committed events from every replica (`LISTEN`) into this store's
//! event signal, and recovers from a lost connection by re-reading the newest cursor.

use std::sync::Arc;
use std::time::Duration;

use mla_store::StoreResult;
use mla_store_sql::errors::db_error;
use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::watch;

use crate::EVENTS_CHANNEL;
use crate::dialect::PgDialect;

async fn newest_cursor(pool: &PgPool) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(cursor), 0) FROM events")
        .fetch_one(pool)
        .await
        .map_err(db_error::<PgDialect>)
}

pub async fn subscribe(listener_pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(listener_pool).await?;
    listener.listen(EVENTS_CHANNEL).await?;
    Ok(listener)
}

/// Follows the announcements of committed events (from every replica) into the signal. Announcements
/// are lost while the connection is down, so after every reconnection the signal is bumped with the
/// table's newest cursor, and watchers re-read: the table is the truth, the signal only a wake-up.
pub async fn follow_announcements(
    mut listener: PgListener,
    listener_pool: PgPool,
    pool: PgPool,
    signal: Arc<watch::Sender<i64>>,
) {
    let mut failures: u32 = 0;
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                failures = 0;
                match notification.payload().parse::<i64>() {
                    // Every announcement wakes the watchers, not only one that moves the newest cursor:
                    // cursors commit out of order, and a smaller one committing late is what lets the
                    // feed release the larger ones it held back (see the dialect's `push_settled`).
                    Ok(cursor) => signal.send_modify(|newest| *newest = (*newest).max(cursor)),
                    Err(_) => tracing::warn!(
                        payload = notification.payload(),
                        "ignoring a malformed event announcement"
                    ),
                }
            }
            // The connection was lost; the listener has reconnected and listens again (or will try on
            // the next call). Whatever was announced meanwhile is in the table.
            Ok(None) => {
                tracing::warn!("the event listener lost its connection; re-reading the newest cursor");
                bump(&pool, &signal).await;
            }
            Err(sqlx::Error::PoolClosed) => return,
            Err(error) => {
                failures = failures.saturating_add(1);
                let pause = Duration::from_millis(200u64.saturating_mul(1 << failures.min(5)));
                tracing::warn!(%error, ?pause, "the event listener failed; reconnecting");
                tokio::time::sleep(pause).await;
                if listener_pool.is_closed() {
                    return;
                }
                match subscribe(&listener_pool).await {
                    Ok(fresh) => {
                        listener = fresh;
                        bump(&pool, &signal).await;
                    }
                    Err(sqlx::Error::PoolClosed) => return,
                    Err(error) => tracing::warn!(%error, "the event listener cannot reconnect yet"),
                }
            }
        }
    }
}

/// Wakes every watcher with the table's newest cursor, even if it did not move.
async fn bump(pool: &PgPool, signal: &watch::Sender<i64>) {
    match newest_cursor(pool).await {
        Ok(newest) => signal.send_modify(|current| *current = (*current).max(newest)),
        Err(error) => {
            tracing::warn!(%error, "cannot read the newest cursor; waking the watchers anyway");
            signal.send_modify(|_| {});
        }
    }
}
