//! The live event feed: replay what the caller may see after a cursor, then follow new events as
//! they commit, on this replica or any other, with no gap and no duplicate at the seam.
//!
//! The events table is the truth and the cursor is the only state: the feed always reads "events
//! after my cursor" from the store, and the store's signal merely says when to read again. Each
//! watcher has a small bounded channel, so a slow consumer waits on its own channel and holds up
//! nobody else, and its memory stays bounded. Watchers that follow the same scope from the same cursor
//! share one read ([`SharedReads`]): a hundred followers of the feed cost one query per commit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use mla_domain::audit::Event;
use mla_domain::{Principal, Scope};
use mla_store::{EventReader, Store, StoreError};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::{App, AppError, AppResult};

/// Events read from the store at a time.
const PAGE: u32 = 200;
/// Events buffered for a watcher before the feed waits for it.
const BUFFER: usize = 64;
/// A wake-up can be lost (a dropped listener connection); the feed re-reads this often regardless.
const POLL: Duration = Duration::from_secs(5);

impl App {
    /// The events `principal` may see after `after_cursor`, then live ones, until the caller goes
    /// away or the service shuts down.
    pub fn watch_events(&self, principal: &Principal, after_cursor: i64) -> ReceiverStream<AppResult<Event>> {
        let (tx, rx) = mpsc::channel(BUFFER);
        let scope = Scope::of(principal);
        let store = self.store().clone();
        let reads = self.shared_reads.clone();
        let shutdown = self.shutdown.clone();
        let mut signal = store.event_signal();
        tokio::spawn(async move {
            let mut cursor = after_cursor;
            loop {
                // Mark the signal seen before reading, so a commit after the read wakes us up.
                let seen = *signal.borrow_and_update();
                let page = match reads.events_after(&store, &scope, cursor, seen).await {
                    Ok(page) => page,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                if page.is_empty() {
                    tokio::select! {
                        changed = signal.changed() => if changed.is_err() { return },
                        () = tokio::time::sleep(POLL) => {}
                        () = tx.closed() => return,
                        () = shutdown.cancelled() => return,
                    }
                    continue;
                }
                for event in page.iter() {
                    cursor = event.cursor;
                    tokio::select! {
                        sent = tx.send(Ok(event.clone())) => if sent.is_err() { return },
                        () = shutdown.cancelled() => return,
                    }
                }
            }
        });
        ReceiverStream::new(rx)
    }
}

/// A page of the feed as the watchers of one scope share it.
type SharedPage = Shared<BoxFuture<'static, Result<Arc<[Event]>, Arc<StoreError>>>>;

/// The feed's reads that are running, so that watchers asking for the same page join the read
/// instead of repeating it.
#[derive(Default)]
pub(crate) struct SharedReads {
    running: Mutex<HashMap<PageKey, SharedPage>>,
}

/// A page of the feed: the events a scope sees after a cursor, read once the signal showed `seen`.
/// A watcher joins only a read started after the signal it saw, so it is never handed a page read
/// before the commit that woke it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PageKey {
    scope: Scope,
    after_cursor: i64,
    seen: i64,
}

impl std::fmt::Debug for SharedReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedReads").field("running", &self.running().len()).finish()
    }
}

impl SharedReads {
    /// The events `scope` may see after `after_cursor`, read by this watcher or shared with another
    /// that asked for the same page since the signal showed `seen`.
    async fn events_after(
        &self,
        store: &Arc<dyn Store>,
        scope: &Scope,
        after_cursor: i64,
        seen: i64,
    ) -> AppResult<Arc<[Event]>> {
        let key = PageKey { scope: scope.clone(), after_cursor, seen };
        let read = self
            .running()
            .entry(key.clone())
            .or_insert_with(|| {
                let (store, reader) = (store.clone(), EventReader::Scope(scope.clone()));
                async move {
                    store.events_after(&reader, after_cursor, PAGE).await.map(Arc::from).map_err(Arc::new)
                }
                .boxed()
                .shared()
            })
            .clone();
        let page = read.await;
        // Whoever finishes first forgets the read: later watchers read afresh.
        self.running().remove(&key);
        page.map_err(|e| match &*e {
            StoreError::Unavailable(why) => AppError::Unavailable(why.clone()),
            StoreError::StorageFull(why) => AppError::StorageFull(why.clone()),
            other => AppError::Internal(other.to_string()),
        })
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<PageKey, SharedPage>> {
        // A panic while holding the lock leaves the map usable: at worst a read is repeated.
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
