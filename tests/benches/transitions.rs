//! Load run: TransitionRequest at 32 concurrent gRPC clients against a broker booted in-process.
//! Each client acknowledges its own share of submitted requests, so every call is a real state
//! change (load, decide, save with the event). Prints calls per second and latency percentiles.
//!
//!     cargo bench -p mla-tests --bench transitions            # SQLite
//!     MLA_BENCH_BACKEND=postgres cargo bench -p mla-tests --bench transitions
//!
//! `MLA_BENCH_CALLS` sets the number of transitions (default 3,200).

use std::time::{Duration, Instant};

use mla_domain::Role;
use mla_proto::v1 as pb;
use mla_tests::*;

const CLIENTS: usize = 32;

#[tokio::main]
async fn main() {
    let calls: usize = std::env::var("MLA_BENCH_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(3_200);
    let backend = match std::env::var("MLA_BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let broker =
        Broker::start_with(backend, without_limits).await.expect("PostgreSQL is not skipped for a bench");
    broker.register_partners(&["FR-MOJ"]).await;
    let france = broker.partner("FR-MOJ");
    let registrar = broker.staff("registrar-1", &[Role::Registrar]);

    // Set-up, not measured: submitted requests, created by the partner.
    let mut client = broker.requests().await;
    let mut ids = Vec::with_capacity(calls);
    for i in 0..calls {
        let create = pb::CreateRequestRequest {
            request: Some(complete_request("", &format!("Load {i}"))),
            request_id: String::new(),
            ..Default::default()
        };
        let id = client.create_request(authed(create, &france)).await.expect("create").into_inner().id;
        client.transition_request(authed(action(&id, pb::Action::Submit), &france)).await.expect("submit");
        ids.push(id);
    }

    let started = Instant::now();
    let workers = ids.chunks(calls.div_ceil(CLIENTS)).map(|share| {
        let share = share.to_vec();
        let token = registrar.clone();
        let mut client = client.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share.len());
            for id in share {
                let t = Instant::now();
                client
                    .transition_request(authed(action(&id, pb::Action::Acknowledge), &token))
                    .await
                    .expect("acknowledge");
                latencies.push(t.elapsed());
            }
            latencies
        })
    });
    let mut latencies: Vec<Duration> = Vec::new();
    for worker in futures::future::join_all(workers).await {
        latencies.extend(worker.expect("a worker"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "backend={backend:?} clients={CLIENTS} transitions={} elapsed={:.2?} calls/s={:.0} p50={:.2?} p99={:.2?} max={:.2?}",
        latencies.len(),
        elapsed,
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        pct(1.0),
    );
    broker.stop().await;
}
