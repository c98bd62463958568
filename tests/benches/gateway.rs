//! What the REST gateway costs: the same read made over gRPC and over HTTP through the gateway,
//! against one in-process broker on SQLite, from 32 concurrent clients; prints calls/s and p99 for
//! each face and their ratio. Run with `cargo bench -p mla-tests --bench gateway`
//! (`MLA_BENCH_CALLS` sets the number of calls per face, default 20000).

use std::time::{Duration, Instant};

use mla_domain::Role;
use mla_proto::v1 as pb;
use mla_tests::*;

const CLIENTS: usize = 32;

struct Figures {
    calls: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Figures {
    fn per_second(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&mut self, p: f64) -> Duration {
        self.latencies.sort_unstable();
        let index = ((self.latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
        self.latencies[index.min(self.latencies.len() - 1)]
    }
}

/// Runs `calls` calls of `call` spread over [`CLIENTS`] concurrent tasks, each with its own client.
async fn run<C, F, Fut>(calls: usize, make_client: impl Fn() -> C, call: F) -> Figures
where
    C: Send + 'static,
    F: Fn(C) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = C> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..CLIENTS {
        let share = calls / CLIENTS + usize::from(worker < calls % CLIENTS);
        let mut client = make_client();
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for _ in 0..share {
                let t = Instant::now();
                client = call(client).await;
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(calls);
    for task in tasks {
        latencies.extend(task.await.expect("a worker"));
    }
    Figures { calls, elapsed: started.elapsed(), latencies }
}

fn main() {
    let calls: usize = std::env::var("MLA_BENCH_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    runtime.block_on(bench(calls));
}

async fn bench(calls: usize) {
    let broker = Broker::start_with(Backend::Sqlite, without_limits).await.expect("SQLite is always there");
    broker.register_partners(&["FR-MOJ"]).await;
    let judge = broker.staff("judge-1", &[Role::Judge]);
    let create = pb::CreateRequestRequest {
        request: Some(complete_request("FR-MOJ", "Bench")),
        request_id: String::new(),
        ..Default::default()
    };
    let id = broker.requests().await.create_request(authed(create, &judge)).await.unwrap().into_inner().id;
    let base = broker.gateway_url();
    let channel = broker.channel().await;
    let http = http_client();
    let url = format!("{base}/v1/requests/{id}");

    // Warm both paths (connections, SQLite page cache, allocator) before measuring.
    let warm = calls / 10;
    let grpc_call = {
        let (id, judge) = (id.clone(), judge.clone());
        move |mut client: RequestServiceClient<tonic::transport::Channel>| {
            let message = authed(pb::GetRequestRequest { id: id.clone() }, &judge);
            async move {
                client.get_request(message).await.expect("GetRequest");
                client
            }
        }
    };
    let http_call = {
        let (url, judge) = (url.clone(), judge.clone());
        move |client: reqwest::Client| {
            let request = client.get(&url).bearer_auth(&judge);
            async move {
                let response = request.send().await.expect("GET");
                assert_eq!(response.status(), 200);
                response.bytes().await.expect("a body");
                client
            }
        }
    };
    run(warm, || RequestServiceClient::new(channel.clone()), grpc_call.clone()).await;
    run(warm, || http.clone(), http_call.clone()).await;

    let mut grpc = run(calls, || RequestServiceClient::new(channel.clone()), grpc_call).await;
    let mut rest = run(calls, || http.clone(), http_call).await;
    let (grpc_p99, rest_p99) = (grpc.percentile(0.99), rest.percentile(0.99));
    let (grpc_p50, rest_p50) = (grpc.percentile(0.50), rest.percentile(0.50));
    println!("GetRequest, {calls} calls per face, {CLIENTS} concurrent clients, one broker on SQLite");
    println!(
        "gRPC           : {:>8.0} calls/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        grpc.per_second(),
        grpc_p50.as_secs_f64() * 1e3,
        grpc_p99.as_secs_f64() * 1e3
    );
    println!(
        "REST (gateway) : {:>8.0} calls/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        rest.per_second(),
        rest_p50.as_secs_f64() * 1e3,
        rest_p99.as_secs_f64() * 1e3
    );
    println!(
        "REST / gRPC    : throughput x{:.2}, p99 x{:.2}",
        rest.per_second() / grpc.per_second(),
        rest_p99.as_secs_f64() / grpc_p99.as_secs_f64()
    );
    broker.stop().await;
}
