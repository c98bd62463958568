//! Retention: idempotency keys and the outcomes they replay (request snapshots, personal data
//! included) are kept long enough for any client's retries, then swept; so are expired upload
//! sessions and their partial content.

use std::time::Duration;

use chrono::TimeDelta;

use crate::{App, AppResult};

impl App {
    /// Deletes the idempotency records older than `retention` (by the application's clock) and says
    /// how many went. A retry with a swept key runs anew, as a first call would.
    pub async fn sweep_idempotency_keys(&self, retention: TimeDelta) -> AppResult<u64> {
        Ok(self.store().purge_idempotency(self.now() - retention).await?)
    }

    /// Sweeps every `period` until shutdown. Every replica may run it: the sweep is idempotent.
    pub async fn keep_sweeping(&self, retention: TimeDelta, period: Duration) {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = self.shutdown.cancelled() => return,
            }
            match self.sweep_idempotency_keys(retention).await {
                Ok(0) => {}
                Ok(swept) => tracing::info!(swept, "expired idempotency keys swept"),
                // A database outage is reported by health; the next tick tries again.
                Err(error) => tracing::warn!(%error, "cannot sweep expired idempotency keys now"),
            }
            if self.content.is_some() {
                match self.sweep_expired_uploads().await {
                    Ok(0) => {}
                    Ok(swept) => tracing::info!(swept, "expired upload sessions swept"),
                    Err(error) => tracing::warn!(%error, "cannot sweep expired upload sessions now"),
                }
            }
        }
    }
}
