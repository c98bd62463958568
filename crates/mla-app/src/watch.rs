//! The live event feed: replay what the caller may see after a cursor, then follow new events as
//! they commit, on this replica or any other, with no gap and no duplicate at the seam.
//!
//! The events table is the truth and the cursor is the only state: the feed always reads "events
//! after my cursor" from the store, and the store's signal merely says when to read again. Each
//! watcher has a small bounded channel, so a slow consumer waits on its own channel and holds up
//! nobody else, and its memory stays bounded.

use std::time::Duration;

use mla_domain::audit::Event;
use mla_domain::{Principal, Scope};
use mla_store::EventReader;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::{App, AppResult};

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
        let reader = EventReader::Scope(Scope::of(principal));
        let store = self.store().clone();
        let shutdown = self.shutdown.clone();
        let mut signal = store.event_signal();
        tokio::spawn(async move {
            let mut cursor = after_cursor;
            loop {
                // Mark the signal seen before reading, so a commit after the read wakes us up.
                signal.borrow_and_update();
                let page = match store.events_after(&reader, cursor, PAGE).await {
                    Ok(page) => page,
                    Err(e) => {
                        let _ = tx.send(Err(e.into())).await;
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
                for event in page {
                    cursor = event.cursor;
                    tokio::select! {
                        sent = tx.send(Ok(event)) => if sent.is_err() { return },
                        () = shutdown.cancelled() => return,
                    }
                }
            }
        });
        ReceiverStream::new(rx)
    }
}
