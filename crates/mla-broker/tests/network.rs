//! Partners over imperfect networks: the real binary in a network namespace of the test's own,
//! reached over a veth pair that the test cuts (an nftables rule that drops the gRPC port's packets,
//! as when a partner's link or host vanishes without a word) and shapes (`tc tbf`, a slow link).
//!
//! - The streams of a client gone silent are ended by the broker's keepalive, which frees its
//!   WatchEvents allowance; many such abandoned streams leave no memory behind (measured).
//! - A call over a link too slow for its answer ends at the caller's deadline.
//!
//! Namespaces need root. Without it the test says so and passes, unless `MLA_TEST_REQUIRE_ROOT=1`
//! (as `.ci/run` sets it).

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::Scratch;
use mla_broker::cli::TokenArgs;
use mla_broker::{Config, Secret};
use mla_domain::Role;
use mla_proto::v1 as pb;
use mla_proto::v1::partner_service_client::PartnerServiceClient;
use mla_proto::v1::request_service_client::RequestServiceClient;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const GRPC_PORT: u16 = 50051;
const MAX_STREAMS: usize = 4;
/// The broker pings a silent connection after a second and gives up a second later.
const KEEPALIVE_SECONDS: &str = "1";
/// Long enough for the keepalive to notice a silent client and close its connection.
const NOTICED: Duration = Duration::from_secs(5);

/// A network namespace with a veth pair to this one, removed when dropped.
struct Namespace {
    name: String,
    host_link: String,
    broker_link: String,
    broker_ip: String,
}

impl Namespace {
    /// `None` when this process may not make namespaces (not root) and the test may skip.
    fn create() -> Option<Namespace> {
        let root = Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.trim_ascii() == b"0");
        let tools = ["ip", "tc", "nft"].iter().all(|tool| Command::new(tool).arg("-V").output().is_ok());
        if !(root && tools) {
            assert!(
                std::env::var("MLA_TEST_REQUIRE_ROOT").as_deref() != Ok("1"),
                "MLA_TEST_REQUIRE_ROOT=1, but the network test needs root, ip, tc and nft (root: {root})"
            );
            eprintln!("network: SKIPPED, network namespaces need root, ip, tc and nft (Debian's nftables)");
            return None;
        }
        let id = std::process::id();
        let subnet = format!("10.{}.{}", 100 + id % 100, (id / 100) % 250);
        let namespace = Namespace {
            name: format!("mla-net-{id}"),
            host_link: format!("mlah{}", id % 100_000),
            broker_link: format!("mlab{}", id % 100_000),
            broker_ip: format!("{subnet}.2"),
        };
        run(&["ip", "netns", "add", &namespace.name]);
        run(&[
            "ip",
            "link",
            "add",
            &namespace.host_link,
            "type",
            "veth",
            "peer",
            "name",
            &namespace.broker_link,
        ]);
        run(&["ip", "link", "set", &namespace.broker_link, "netns", &namespace.name]);
        run(&["ip", "addr", "add", &format!("{subnet}.1/24"), "dev", &namespace.host_link]);
        run(&["ip", "link", "set", &namespace.host_link, "up"]);
        namespace.inside(&[
            "ip",
            "addr",
            "add",
            &format!("{}/24", namespace.broker_ip),
            "dev",
            &namespace.broker_link,
        ]);
        namespace.inside(&["ip", "link", "set", &namespace.broker_link, "up"]);
        namespace.inside(&["ip", "link", "set", "lo", "up"]);
        Some(namespace)
    }

    fn inside(&self, command: &[&str]) {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(command);
        run(&full);
    }

    /// Every packet to or from the gRPC port dropped, silently: the client has vanished.
    fn cut(&self) {
        self.inside(&["nft", "add", "table", "inet", "mla"]);
        for (hook, port) in [("input", "dport"), ("output", "sport")] {
            let chain = format!("{{ type filter hook {hook} priority 0 ; }}");
            self.inside(&["nft", "add", "chain", "inet", "mla", hook, &chain]);
            self.inside(&[
                "nft",
                "add",
                "rule",
                "inet",
                "mla",
                hook,
                "tcp",
                port,
                &GRPC_PORT.to_string(),
                "drop",
            ]);
        }
    }

    fn mend(&self) {
        self.inside(&["nft", "delete", "table", "inet", "mla"]);
    }

    /// Both directions limited to `rate` (a token bucket: `tc tbf`, since `netem` is not in this kernel).
    fn shape(&self, rate: &str) {
        let tbf = ["root", "tbf", "rate", rate, "burst", "4kb", "latency", "200ms"];
        run(&[&["tc", "qdisc", "add", "dev", &self.host_link][..], &tbf].concat());
        self.inside(&[&["tc", "qdisc", "add", "dev", &self.broker_link][..], &tbf].concat());
    }

    fn unshape(&self) {
        run(&["tc", "qdisc", "del", "dev", &self.host_link, "root"]);
        self.inside(&["tc", "qdisc", "del", "dev", &self.broker_link, "root"]);
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // The veth pair goes with the namespace.
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

fn run(command: &[&str]) {
    let status = Command::new(command[0]).args(&command[1..]).status().expect("the command runs");
    assert!(status.success(), "{command:?} failed");
}

/// The broker process, killed when dropped.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Served {
    /// The broker's resident memory, in KiB.
    fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).expect("the broker runs");
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
        line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("a number of KiB")
    }
}

fn bearer<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

async fn connect(addr: SocketAddr) -> Channel {
    let endpoint =
        Endpoint::from_shared(format!("http://{addr}")).unwrap().connect_timeout(Duration::from_secs(5));
    endpoint.connect().await.expect("the broker accepts")
}

/// Opens a WatchEvents stream; the stream is kept open as long as the returned value lives.
async fn watch(channel: &Channel, token: &str) -> Result<tonic::Streaming<pb::Event>, tonic::Status> {
    let request = bearer(pb::WatchEventsRequest { after_cursor: String::new() }, token);
    RequestServiceClient::new(channel.clone()).watch_events(request).await.map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_clients_lose_their_streams_and_slow_links_keep_deadlines() {
    let Some(namespace) = Namespace::create() else { return };
    let scratch = Scratch::fresh();
    let secret = "a test secret of thirty-two bytes or more, for HS256";
    let grpc_addr: SocketAddr = format!("{}:{GRPC_PORT}", namespace.broker_ip).parse().unwrap();
    let http_addr = format!("{}:8080", namespace.broker_ip);
    let mut command = scratch.broker_under(
        &["ip", "netns", "exec", &namespace.name],
        &["--grpc-addr", &grpc_addr.to_string(), "--http-addr", &http_addr, "serve"],
    );
    command
        .env("MLA_JWT_HS256_SECRET", secret)
        .env("MLA_GRPC_KEEPALIVE_SECONDS", KEEPALIVE_SECONDS)
        .env("MLA_GRPC_KEEPALIVE_TIMEOUT_SECONDS", KEEPALIVE_SECONDS)
        .env("MLA_MAX_STREAMS", MAX_STREAMS.to_string());
    let broker = Served(command.spawn().expect("the broker starts in the namespace"));
    let mut config = Config::with_data_dir(scratch.data_dir());
    config.jwt_hs256_secret = Some(Secret::new(secret));
    let token = |sub: &str, role: Role| {
        let args =
            TokenArgs { sub: sub.into(), roles: vec![role], partner: None, ttl: Duration::from_secs(600) };
        mla_broker::mint_token(&config, &args).expect("a token")
    };
    let serving = async {
        loop {
            if let Ok(channel) = Endpoint::from_shared(format!("http://{grpc_addr}")).unwrap().connect().await
            {
                let check =
                    HealthClient::new(channel).check(HealthCheckRequest { service: String::new() }).await;
                if check.is_ok_and(|answer| answer.into_inner().status == ServingStatus::Serving as i32) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), serving).await.expect("the broker serves within a minute");

    // A caller with all its streams open is refused one more...
    let auditor = token("auditor-1", Role::Auditor);
    let vanishing = connect(grpc_addr).await;
    let mut held = Vec::new();
    for _ in 0..MAX_STREAMS {
        held.push(watch(&vanishing, &auditor).await.expect("a stream within the allowance"));
    }
    let refused = watch(&vanishing, &auditor).await.expect_err("one stream over the allowance");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    // ...until its link goes silent: the broker's pings go unanswered, it closes the connection,
    // and the streams it held no longer count against the caller.
    namespace.cut();
    tokio::time::sleep(NOTICED).await;
    namespace.mend();
    let back = connect(grpc_addr).await;
    let mut again = Vec::new();
    for n in 0..MAX_STREAMS {
        let stream = watch(&back, &auditor).await;
        again
            .push(stream.unwrap_or_else(|e| panic!("stream {n} after the silent client was dropped: {e:?}")));
    }
    drop((held, again, vanishing, back));

    // Many abandoned streams leave nothing behind: rounds of 200 streams from callers that vanish.
    let rounds = 4;
    let mut rss = Vec::new();
    for round in 0..rounds {
        let mut abandoned = Vec::new();
        for caller in 0..50 {
            let channel = connect(grpc_addr).await;
            let token = token(&format!("auditor-{round}-{caller}"), Role::Auditor);
            for _ in 0..MAX_STREAMS {
                abandoned.push(watch(&channel, &token).await.expect("a stream"));
            }
        }
        namespace.cut();
        tokio::time::sleep(NOTICED).await;
        namespace.mend();
        drop(abandoned);
        rss.push(broker.rss_kib());
    }
    println!("network: broker RSS after each round of 200 abandoned streams (KiB): {rss:?}");
    let growth = rss[rounds - 1].saturating_sub(rss[0]);
    assert!(growth < 8 * 1024, "the broker grew by {growth} KiB over {} more rounds: {rss:?}", rounds - 1);

    // A slow link: an answer too large to arrive in time ends at the caller's deadline.
    let registrar = token("registrar-1", Role::Registrar);
    let channel = connect(grpc_addr).await;
    let france = pb::Partner {
        code: "FR-MOJ".into(),
        name: "Central authority FR-MOJ".into(),
        country: "FR".into(),
        kind: pb::PartnerKind::StateAuthority as i32,
        legal_bases: vec!["UNTOC art. 18".into()],
        active: true,
        ..Default::default()
    };
    let register = pb::CreatePartnerRequest { partner: Some(france), request_id: String::new() };
    let registered = PartnerServiceClient::new(channel.clone())
        .create_partner(bearer(register, &token("admin-1", Role::Admin)))
        .await;
    assert!(registered.is_ok(), "{registered:?}");
    let mut requests = RequestServiceClient::new(channel);
    let request = pb::Request {
        partner_code: "FR-MOJ".into(),
        request_type: pb::RequestType::Evidence as i32,
        priority: pb::Priority::Normal as i32,
        requesting_authority: "Investigating judge, Karkh court".into(),
        title: "A long statement of facts".into(),
        summary_of_facts: "ع".repeat(20_000),
        measures: vec!["Hear witness W-17".into()],
        purpose: "Criminal proceedings".into(),
        legal_basis: "UNTOC art. 18".into(),
        ..Default::default()
    };
    let create = pb::CreateRequestRequest { request: Some(request), ..Default::default() };
    let created = requests.create_request(bearer(create, &registrar)).await;
    let id = created.map(|r| r.into_inner().id);
    namespace.shape("16kbit");
    // The caller's deadline travels as `grpc-timeout`; a gRPC client also enforces it itself (tonic
    // leaves that to its user, grpcio and grpc-go do it), which the timeout around the call does.
    let deadline = Duration::from_secs(1);
    let mut get = bearer(pb::GetRequestRequest { id: id.clone().unwrap_or_default() }, &registrar);
    get.set_timeout(deadline);
    let started = Instant::now();
    let answer = tokio::time::timeout(deadline, requests.get_request(get)).await;
    let took = started.elapsed();
    namespace.unshape();
    let id = id.expect("the request was created before the link slowed");
    assert!(answer.is_err(), "40 KB crossed a 16 kbit/s link within a second: is the link shaped?");
    assert!(
        took < deadline + Duration::from_secs(1),
        "the call ended {took:?} after it began, past its deadline"
    );
    // The abandoned call leaves nothing in the way: on the same connection, the next call is answered
    // at once once the link is fast again.
    let started = Instant::now();
    let again = requests.get_request(bearer(pb::GetRequestRequest { id: id.clone() }, &registrar)).await;
    assert!(again.is_ok(), "{again:?}");
    let recovered = started.elapsed();
    assert!(recovered < Duration::from_secs(5), "the next call took {recovered:?}");
    println!(
        "network: GetRequest over 16 kbit/s abandoned at its 1 s deadline after {took:?}; the next call {recovered:?}"
    );
}
