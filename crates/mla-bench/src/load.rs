//! The closed-loop driver: a number of clients, each making its next call as soon as its last one
//! answered, and the figures every measurement is reported in (throughput, p50, p99).

use std::future::Future;
use std::time::{Duration, Instant};

/// What one measurement came to.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
}

impl Figures {
    /// The figures of `latencies` (one per operation) made in `elapsed`, wall-clock.
    pub fn of(elapsed: Duration, mut latencies: Vec<Duration>) -> Figures {
        assert!(!latencies.is_empty(), "a measurement of no operation");
        latencies.sort_unstable();
        let percentile = |p: f64| {
            let rank = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
            latencies[rank.min(latencies.len() - 1)]
        };
        Figures {
            per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
            p50: percentile(0.50),
            p99: percentile(0.99),
        }
    }
}

/// Makes `calls` calls spread over `clients` concurrent tasks, each with the client `connect` gives
/// it. Call number `i` (each index once, from 0) is `call(client, i)`, which hands the client back.
pub async fn drive<C, F, Fut>(clients: usize, calls: usize, connect: impl Fn() -> C, call: F) -> Figures
where
    C: Send + 'static,
    F: Fn(C, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = C> + Send,
{
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|first| {
            let mut client = connect();
            let call = call.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(calls / clients + 1);
                // Client `first` makes calls first, first + clients, ...: each index exactly once.
                for index in (first..calls).step_by(clients) {
                    let sent = Instant::now();
                    client = call(client, index).await;
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(calls);
    for task in futures::future::join_all(tasks).await {
        latencies.extend(task.expect("a client task"));
    }
    Figures::of(started.elapsed(), latencies)
}
