//! Serving: booting in-process on port 0 (health, authentication with the development secret, a live
//! stream that ends on shutdown, a clean return), the refusal of development mode off loopback, and
//! the real binary starting on a fresh directory and exiting 0 after SIGTERM.

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use common::{Answer, Scratch, Serving, http};
use mla_broker::Config;
use mla_broker::cli::TokenArgs;
use mla_domain::Role;
use mla_proto::v1::partner_service_client::PartnerServiceClient;
use mla_proto::v1::request_service_client::RequestServiceClient;
use mla_proto::v1::{ListPartnersRequest, WatchEventsRequest};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// A bound on every wait, so that a broken build fails the test instead of hanging it. Nothing waits
/// this long when things work: each wait ends on an event (a health update, a stream's end).
const PATIENCE: Duration = Duration::from_secs(60);

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future).await.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

async fn connect(addr: SocketAddr) -> Channel {
    let uri = format!("http://{}", SocketAddr::from(([127, 0, 0, 1], addr.port())));
    within("a connection", Endpoint::from_shared(uri).unwrap().connect()).await.expect("the broker accepts")
}

/// Follows the server's overall health watch until it reports SERVING. The overall entry (`""`)
/// exists from the server's first moment; the per-service entries appear only after the first
/// database probe, so watching one of them could race the probe and get NOT_FOUND.
async fn serving(channel: Channel) {
    health_reaches(channel, ServingStatus::Serving).await;
}

async fn health_reaches(channel: Channel, wanted: ServingStatus) {
    let request = HealthCheckRequest { service: String::new() };
    let mut updates = within("the health watch", HealthClient::new(channel).watch(request))
        .await
        .expect("health is open to every caller")
        .into_inner();
    loop {
        let update = within("a health update", updates.message())
            .await
            .expect("the health stream")
            .expect("an update");
        if update.status == wanted as i32 {
            return;
        }
    }
}

fn bearer<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// The gRPC listener given, and an HTTP one on a free port of the same interface.
async fn listeners(grpc: TcpListener) -> mla_broker::Listeners {
    let host = grpc.local_addr().unwrap().ip();
    let http = TcpListener::bind((host, 0)).await.unwrap();
    mla_broker::Listeners { grpc, http }
}

fn token(config: &Config, sub: &str, role: Role) -> String {
    let args = TokenArgs { sub: sub.into(), roles: vec![role], partner: None, ttl: Duration::from_secs(600) };
    mla_broker::mint_token(config, &args).expect("a development token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_boots_on_port_zero_authenticates_and_drains_live_streams_on_shutdown() {
    let scratch = Scratch::fresh();
    let config = Config::with_data_dir(scratch.data_dir());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(mla_broker::run(config.clone(), listeners(listener).await, shutdown.clone()));

    let channel = connect(addr).await;
    serving(channel.clone()).await;
    assert!(scratch.data_dir().join("broker.db").is_file(), "the default SQLite database is created");

    // Every call but health needs a token; the development secret the server made verifies ours.
    let mut partners = PartnerServiceClient::new(channel.clone());
    let anonymous = partners.list_partners(ListPartnersRequest::default()).await.unwrap_err();
    assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);
    let auditor = token(&config, "auditor-1", Role::Auditor);
    let listed = partners.list_partners(bearer(ListPartnersRequest::default(), &auditor)).await;
    assert!(listed.expect("an authenticated call succeeds").into_inner().partners.is_empty());

    // A live stream is open when shutdown begins: it must end, or draining would never finish.
    let mut requests = RequestServiceClient::new(channel);
    let mut events = requests
        .watch_events(bearer(WatchEventsRequest { after_cursor: String::new() }, &auditor))
        .await
        .expect("the watch opens")
        .into_inner();
    shutdown.cancel();
    within("the live stream to end", async {
        loop {
            match events.message().await {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return,
            }
        }
    })
    .await;
    within("the server to stop", server)
        .await
        .expect("the server task")
        .expect("run returns Ok after draining");
}

#[tokio::test]
async fn run_refuses_development_mode_off_loopback_before_touching_anything() {
    let scratch = Scratch::fresh();
    // The gRPC listener is on loopback, but the gateway's is not.
    let config = Config::with_data_dir(scratch.data_dir());
    let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = TcpListener::bind("0.0.0.0:0").await.unwrap();
    let refused = mla_broker::run(config, mla_broker::Listeners { grpc, http }, CancellationToken::new())
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("refusing to start in development mode"), "{refused}");
    assert!(refused.to_string().contains("http_addr = 0.0.0.0:"), "{refused}");

    // The address checked is the one actually listened on, not only the configured one.
    let config = Config::with_data_dir(scratch.data_dir());
    let listener = TcpListener::bind("0.0.0.0:0").await.unwrap();
    let refused =
        mla_broker::run(config, listeners(listener).await, CancellationToken::new()).await.unwrap_err();
    assert!(refused.to_string().contains("grpc_addr = 0.0.0.0:"), "{refused}");
    assert!(!scratch.data_dir().exists(), "no secret and no database may be created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_configured_key_any_address_is_allowed() {
    let scratch = Scratch::fresh();
    let config = Config {
        jwt_hs256_secret: Some(mla_broker::Secret::new("a-shared-secret-for-this-test-only-32b+")),
        http_addr: "0.0.0.0:8080".parse().unwrap(),
        ..Config::with_data_dir(scratch.data_dir())
    };
    let listener = TcpListener::bind("0.0.0.0:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(mla_broker::run(config, listeners(listener).await, shutdown.clone()));
    serving(connect(addr).await).await;
    assert!(!scratch.data_dir().join(mla_auth::DEV_SECRET_FILE).exists(), "no development secret is made");
    shutdown.cancel();
    within("the server to stop", server).await.unwrap().unwrap();
}

#[test]
fn serve_refuses_development_mode_on_a_public_address_with_a_clear_error() {
    let scratch = Scratch::fresh();
    for args in [&["--grpc-addr", "0.0.0.0:0", "serve"][..], &["--http-addr", "0.0.0.0:8080", "serve"]] {
        let finished = scratch.run(args);
        assert_eq!(finished.code, Some(1), "{finished:#?}");
        assert!(finished.stderr.contains("refusing to start in development mode"), "{finished:#?}");
        assert!(finished.stderr.contains("MLA_JWT_JWKS_URL"), "the error says how to fix it: {finished:#?}");
    }
    assert!(!scratch.data_dir().exists(), "nothing is created before the refusal");
}

/// The real binary on a fresh directory: it logs where it listens, accepts connections, and on
/// SIGTERM drains and exits 0.
#[cfg(unix)]
#[test]
fn serve_starts_on_a_fresh_directory_and_exits_zero_on_sigterm() {
    let scratch = Scratch::fresh();
    let mut broker = Serving::start(scratch.broker(&[]), "info");
    let seen = &broker.seen;
    assert!(seen.iter().any(|l| l.contains("DEVELOPMENT MODE")), "development mode is announced: {seen:#?}");
    std::net::TcpStream::connect(broker.grpc).expect("the gRPC port accepts connections");

    let rest = broker.terminate();
    let status = broker.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "exit after SIGTERM: {rest:#?}");
    assert!(rest.iter().any(|l| l.contains("stopped after draining")), "{rest:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_rest_calls_through_the_gateway_in_the_same_process() {
    let scratch = Scratch::fresh();
    let config = Config::with_data_dir(scratch.data_dir());
    let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc_addr = grpc.local_addr().unwrap();
    let listeners = listeners(grpc).await;
    let http_addr = listeners.http.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(mla_broker::run(config.clone(), listeners, shutdown.clone()));
    serving(connect(grpc_addr).await).await;

    let auditor = token(&config, "auditor-1", Role::Auditor);
    let answer = get(http_addr, "/v1/partners", Some(&auditor)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.body.contains("\"partners\""), "{answer:?}");
    let anonymous = get(http_addr, "/v1/partners", None).await;
    assert_eq!(anonymous.status, 401, "{anonymous:?}");
    assert_eq!(get(http_addr, "/readyz", None).await.status, 200);

    shutdown.cancel();
    within("the server to stop", server).await.unwrap().unwrap();
}

/// A GET over a plain socket, with a bearer token if given.
async fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> Answer {
    let bearer = token.map(|token| format!("Bearer {token}"));
    let headers: Vec<(&str, &str)> = bearer.iter().map(|bearer| ("authorization", bearer.as_str())).collect();
    http(addr, "GET", path, &headers, "").await
}

/// Behind a load balancer, stopping must not reset connections the balancer still sends: readiness
/// fails at once (both doors), calls go on being served, and the drain waits for the delay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_broker_is_unready_but_still_serving_until_its_delay_has_passed() {
    const DELAY: Duration = Duration::from_secs(6);
    let scratch = Scratch::fresh();
    let config = Config { shutdown_delay_seconds: 6, ..Config::with_data_dir(scratch.data_dir()) };
    let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc_addr = grpc.local_addr().unwrap();
    let listeners = listeners(grpc).await;
    let http_addr = listeners.http.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(mla_broker::run(config.clone(), listeners, shutdown.clone()));
    let channel = connect(grpc_addr).await;
    serving(channel.clone()).await;
    assert_eq!(get(http_addr, "/readyz", None).await.status, 200);

    let stopping = std::time::Instant::now();
    shutdown.cancel();
    health_reaches(channel, ServingStatus::NotServing).await;
    assert_eq!(get(http_addr, "/readyz", None).await.status, 503);
    assert_eq!(get(http_addr, "/healthz", None).await.status, 200, "alive all along");
    // New connections are still accepted and served, on both doors.
    let auditor = token(&config, "auditor-1", Role::Auditor);
    let mut partners = PartnerServiceClient::new(connect(grpc_addr).await);
    partners
        .list_partners(bearer(ListPartnersRequest::default(), &auditor))
        .await
        .expect("served while stopping");
    assert_eq!(get(http_addr, "/v1/partners", Some(&auditor)).await.status, 200);
    assert!(stopping.elapsed() < DELAY, "the checks above ran within the delay");

    within("the drain", server).await.unwrap().unwrap();
    assert!(stopping.elapsed() >= DELAY, "the drain began only after the delay");
    assert!(std::net::TcpStream::connect(grpc_addr).is_err(), "the listeners are closed once drained");
}

/// A replica that leaves migrations to a job (`migrate_on_start = false`) starts against an empty
/// database alive but not ready, serves nothing else meanwhile, and becomes ready once the job has
/// run; a schema a later version's job has moved ahead does not stop it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_leaves_migrations_to_a_job_is_ready_only_once_the_job_has_run() {
    let Some(database) = mla_store_postgres::testing::TestDatabase::create().await else { return };
    let scratch = Scratch::fresh();
    let config = Config {
        database_url: Some(database.url()),
        migrate_on_start: false,
        ..Config::with_data_dir(scratch.data_dir())
    };
    let boot = |config: Config| async move {
        let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let grpc_addr = grpc.local_addr().unwrap();
        let listeners = listeners(grpc).await;
        let http_addr = listeners.http.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(mla_broker::run(config, listeners, shutdown.clone()));
        (grpc_addr, http_addr, shutdown, server)
    };
    let (grpc_addr, http_addr, shutdown, server) = boot(config.clone()).await;
    let auditor = token(&config, "auditor-1", Role::Auditor);
    assert_eq!(get(http_addr, "/healthz", None).await.status, 200, "alive while waiting");
    for _ in 0..2 {
        assert_eq!(get(http_addr, "/readyz", None).await.status, 503);
        let call = get(http_addr, "/v1/partners", Some(&auditor)).await;
        assert!(call.status == 503 && call.head.contains("retry-after"), "{call:?}");
        tokio::time::sleep(Duration::from_millis(2500)).await;
    }
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        .fetch_one(&mut database.connect().await)
        .await
        .unwrap();
    assert_eq!(tables, 0, "the replica migrated nothing itself");

    mla_broker::migrate(Some(&database.url()), &scratch.data_dir()).await.expect("the migration job");
    serving(connect(grpc_addr).await).await;
    assert_eq!(get(http_addr, "/readyz", None).await.status, 200);
    assert_eq!(get(http_addr, "/v1/partners", Some(&auditor)).await.status, 200);
    shutdown.cancel();
    within("the first replica to stop", server).await.unwrap().unwrap();

    // A later version's job has applied a migration this version does not know: its replicas still
    // start (migrations only add), where migrating on start would refuse the unknown version.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990101000000, 'a later version', true, '\\x00', 0)",
    )
    .execute(&mut database.connect().await)
    .await
    .unwrap();
    let (grpc_addr, _, shutdown, server) = boot(config).await;
    serving(connect(grpc_addr).await).await;
    shutdown.cancel();
    within("the second replica to stop", server).await.unwrap().unwrap();
}
