//! The end-to-end harness: boots the broker through `mla_broker::run`, the very wiring that
//! `mla-broker serve` runs (gRPC and the REST gateway in one process), on port 0 over a fresh database,
//! waits on its health check, and hands out real gRPC clients and tokens for any principal.

pub mod gate;

use std::sync::Arc;
use std::time::Duration;

use mla_app::{ManualClock, SystemClock, TimeSource};
use mla_broker::{Config, Listeners, Secret};
use mla_domain::{PartnerCode, Role};
use mla_proto::v1 as pb;
use mla_store::Store;
use mla_store_postgres::testing::TestDatabase;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic_types::StatusExt;

pub use pb::document_service_client::DocumentServiceClient;
pub use pb::partner_service_client::PartnerServiceClient;
pub use pb::request_service_client::RequestServiceClient;
pub use pb::statistics_service_client::StatisticsServiceClient;

/// Every wait of a test on the broker is bounded by this: a broken promise fails the test instead of
/// hanging the run.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Waits for `future` at most [`PATIENCE`], failing the test with `what` if it does not complete.
pub async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("gave up after {PATIENCE:?} waiting for {what}"))
}

/// A broker running in this process, and what a test needs to talk to it.
#[derive(Debug)]
pub struct Broker {
    /// The gRPC API.
    pub url: String,
    /// The REST gateway, served by the same process.
    pub http_url: String,
    config: Config,
    secret: String,
    shutdown: CancellationToken,
    server: JoinHandle<anyhow::Result<()>>,
    _data: Arc<tempfile::TempDir>,
    /// The PostgreSQL database the broker serves, shared with its replicas; dropped with the last.
    _database: Option<Arc<TestDatabase>>,
}

/// The databases a broker runs on in the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test body once per backend, each as its own test: `on_both_backends!(name);`
/// expects `async fn name(backend: Backend)` in scope and makes `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn sqlite() {
                super::$scenario($crate::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$scenario($crate::Backend::Postgres).await
            }
        }
    )+};
}

impl Broker {
    /// A broker over a fresh SQLite database in a temporary directory.
    pub async fn sqlite() -> Broker {
        Self::start(Backend::Sqlite).await.expect("SQLite is always there")
    }

    /// A broker on `backend`; `None` when PostgreSQL is skipped on purpose (`MLA_SKIP_POSTGRES=1`).
    pub async fn start(backend: Backend) -> Option<Broker> {
        Self::launch(backend, Arc::new(SystemClock), |_| {}).await
    }

    /// A broker at a fixed instant that moves only when the test moves it.
    pub async fn start_at(backend: Backend, instant: mla_domain::Timestamp) -> Option<(Broker, ManualClock)> {
        let clock = ManualClock::at(instant);
        Some((Self::launch(backend, Arc::new(clock.clone()), |_| {}).await?, clock))
    }

    /// A broker with `configure` applied to the configuration the harness would use (TLS files, say),
    /// over a fresh SQLite database.
    pub async fn sqlite_with(configure: impl FnOnce(&mut Config)) -> Broker {
        Self::start_with(Backend::Sqlite, configure).await.expect("SQLite is always there")
    }

    /// A broker on `backend` with `configure` applied to the harness's configuration (a small document
    /// size limit, say); `None` when PostgreSQL is skipped on purpose.
    pub async fn start_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> Option<Broker> {
        Self::launch(backend, Arc::new(SystemClock), configure).await
    }

    /// A broker on `backend` over a fresh database and data directory, whose time is `clock`'s.
    async fn launch(
        backend: Backend,
        clock: Arc<dyn TimeSource>,
        configure: impl FnOnce(&mut Config),
    ) -> Option<Broker> {
        let data = Arc::new(tempfile::tempdir().expect("a temporary directory"));
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(Arc::new(TestDatabase::create().await?)),
        };
        let mut config = Config::with_data_dir(data.path());
        config.database_url = database.as_ref().map(|db| db.url());
        configure(&mut config);
        Some(Self::boot(config, test_secret(), clock, data, database).await)
    }

    /// Another replica serving the same PostgreSQL database, trusting the same tokens: what several
    /// stateless `mla-broker serve` processes in front of one database are.
    pub async fn replica(&self) -> Broker {
        let database = self._database.clone().expect("replicas share a PostgreSQL database");
        let data = Arc::new(tempfile::tempdir().expect("a temporary directory"));
        let config = Config { data_dir: data.path().to_owned(), ..self.config.clone() };
        Self::boot(config, self.secret.clone(), Arc::new(SystemClock), data, Some(database)).await
    }

    async fn boot(
        mut config: Config,
        secret: String,
        clock: Arc<dyn TimeSource>,
        data: Arc<tempfile::TempDir>,
        database: Option<Arc<TestDatabase>>,
    ) -> Broker {
        // A configured HS256 secret (with the development issuer and audience), so that replicas
        // trust each other's tokens as production replicas sharing a key do.
        config.jwt_hs256_secret = Some(Secret::new(secret.clone()));
        let grpc = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let http = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let scheme = if config.tls_cert.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}", grpc.local_addr().expect("an address"));
        let http_url = format!("http://{}", http.local_addr().expect("an address"));
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(mla_broker::run_with_clock(
            config.clone(),
            Listeners { grpc, http },
            clock,
            shutdown.clone(),
        ));
        let broker =
            Broker { url, http_url, config, secret, shutdown, server, _data: data, _database: database };
        broker.wait_until_serving().await;
        broker
    }

    /// The broker's PostgreSQL database; `None` on SQLite.
    pub fn database_url(&self) -> Option<&str> {
        self.config.database_url.as_deref().filter(|url| url.starts_with("postgres"))
    }

    /// The broker's data directory (its SQLite file and, beside SQLite, documents' content).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.config.data_dir
    }

    /// Every live row of every table of the broker's database, as text: what an erasure must leave
    /// without the erased identity. Read behind the broker's back, over a connection of its own.
    pub async fn live_rows(&self) -> Vec<String> {
        use sqlx::Row;
        let mut rows = Vec::new();
        match self.database_url() {
            Some(url) => {
                let pool = sqlx::PgPool::connect(url).await.expect("PostgreSQL opens");
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
                )
                .fetch_all(&pool)
                .await
                .expect("the tables are listed");
                for table in tables {
                    // The table names are the database's own, quoted.
                    let sql = sqlx::AssertSqlSafe(format!("SELECT to_jsonb(t)::text FROM \"{table}\" t"));
                    rows.extend(sqlx::query_scalar::<_, String>(sql).fetch_all(&pool).await.expect("read"));
                }
                pool.close().await;
            }
            _ => {
                let file = mla_broker::sqlite_file(&self.config).expect("a SQLite file");
                let pool =
                    sqlx::SqlitePool::connect(&format!("sqlite://{}", file.display())).await.expect("opens");
                let tables: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                        .fetch_all(&pool)
                        .await
                        .expect("the tables are listed");
                for table in tables {
                    let sql = sqlx::AssertSqlSafe(format!("SELECT * FROM \"{table}\""));
                    let all = sqlx::query(sql).fetch_all(&pool).await;
                    for row in all.expect("read") {
                        let cells = (0..row.columns().len()).map(|i| {
                            row.try_get::<Option<String>, _>(i).ok().flatten().unwrap_or_else(|| {
                                let bytes = row.try_get::<Option<Vec<u8>>, _>(i).ok().flatten();
                                String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned()
                            })
                        });
                        rows.push(format!("{table}: {}", cells.collect::<Vec<_>>().join(" | ")));
                    }
                }
                pool.close().await;
            }
        }
        rows
    }

    /// The broker's documents' content, opened anew as `audit verify --content` opens it.
    pub async fn open_content(&self) -> Arc<dyn mla_store::content::ContentStore> {
        let url = self.config.database_url.clone().unwrap_or_default();
        mla_broker::open_content(&url, &self.config.data_dir).await.expect("the content store opens")
    }

    /// The broker's store, opened anew on its database as an operator's tool (`audit verify`) would.
    pub async fn open_store(&self) -> Arc<dyn Store> {
        let url = self.config.database_url.clone().unwrap_or_default();
        mla_broker::open_store(&url, &self.config.data_dir).await.expect("the broker's database opens")
    }

    /// Waits until the broker answers ready on its gateway (the database reachable), which works
    /// whether gRPC is plain or behind (mutual) TLS: both listeners are served by the same `run`.
    async fn wait_until_serving(&self) {
        let http = http_client();
        let ready = format!("{}/readyz", self.http_url);
        let serving = async {
            loop {
                if http.get(&ready).send().await.is_ok_and(|answer| answer.status().is_success()) {
                    return;
                }
                assert!(!self.server.is_finished(), "the broker stopped while starting");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        within("the broker to answer ready", serving).await;
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url.clone()).expect("a URL").connect().await.expect("a connection")
    }

    pub async fn requests(&self) -> RequestServiceClient<Channel> {
        RequestServiceClient::new(self.channel().await)
    }

    pub async fn partners(&self) -> PartnerServiceClient<Channel> {
        PartnerServiceClient::new(self.channel().await)
    }

    pub async fn statistics(&self) -> StatisticsServiceClient<Channel> {
        StatisticsServiceClient::new(self.channel().await)
    }

    pub async fn documents(&self) -> DocumentServiceClient<Channel> {
        DocumentServiceClient::new(self.channel().await)
    }

    /// A development token for a staff member with `roles`.
    pub fn staff(&self, subject: &str, roles: &[Role]) -> String {
        self.mint(subject, roles, None)
    }

    /// A development token for a partner's system.
    pub fn partner(&self, code: &str) -> String {
        let code = PartnerCode::parse(code).expect("a partner code");
        self.mint(&format!("{code}-system"), &[Role::Partner], Some(&code))
    }

    /// A token for any subject, with `roles`, for `partner` when it is a partner's.
    pub fn mint(&self, subject: &str, roles: &[Role], partner: Option<&PartnerCode>) -> String {
        mla_auth::mint_token(
            self.secret.as_bytes(),
            mla_auth::DEV_ISSUER,
            mla_auth::DEV_AUDIENCE,
            subject,
            roles,
            partner,
            Duration::from_secs(600),
        )
        .expect("a token")
    }

    /// A token for one of [`PRINCIPALS`]: a staff role's name, or a partner's code.
    pub fn token_for(&self, who: &str) -> String {
        match Role::parse(who) {
            Some(role) => self.staff(&format!("{who}-1"), &[role]),
            None => self.partner(who),
        }
    }

    /// A request `partner` drafted and submitted to the NCIJC (INCOMING, SUBMITTED).
    pub async fn submitted_by(&self, partner: &str, title: &str) -> pb::Request {
        let token = self.partner(partner);
        let mut client = self.requests().await;
        let create = pb::CreateRequestRequest {
            request: Some(complete_request("", title)),
            request_id: String::new(),
            ..Default::default()
        };
        let id = client.create_request(authed(create, &token)).await.expect("created").into_inner().id;
        client
            .transition_request(authed(action(&id, pb::Action::Submit), &token))
            .await
            .expect("submitted")
            .into_inner()
    }

    /// A request's audit trail as `token`'s principal sees it (up to 500 events).
    pub async fn events(&self, token: &str, request_id: &str) -> Vec<pb::Event> {
        let call =
            pb::ListRequestEventsRequest { id: request_id.into(), page_size: 500, ..Default::default() };
        let mut client = self.requests().await;
        client.list_request_events(authed(call, token)).await.expect("events").into_inner().events
    }

    /// Registers active partners through the API, as an administrator would.
    pub async fn register_partners(&self, codes: &[&str]) {
        let admin = self.staff("admin", &[Role::Admin]);
        let mut partners = self.partners().await;
        for code in codes {
            let partner = pb::Partner {
                code: (*code).into(),
                name: format!("Central authority {code}"),
                country: code[..2].into(),
                kind: pb::PartnerKind::StateAuthority as i32,
                legal_bases: vec!["UNTOC art. 18".into()],
                active: true,
                ..Default::default()
            };
            partners
                .create_partner(authed(
                    pb::CreatePartnerRequest { partner: Some(partner), request_id: String::new() },
                    &admin,
                ))
                .await
                .expect("partner registered");
        }
    }

    /// The REST gateway that the broker serves beside gRPC, in-process (as `mla-broker serve` does).
    pub fn gateway_url(&self) -> String {
        self.http_url.clone()
    }

    /// Starts the REST gateway alone in front of the broker's gRPC port, as
    /// `mla-broker gateway --upstream` runs it, until the broker stops; returns its base URL.
    pub async fn start_remote_gateway(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        tokio::spawn(mla_broker::gateway_on(
            listener,
            self.url.clone(),
            None,
            Default::default(),
            self.shutdown.clone(),
        ));
        url
    }

    /// Stops the broker as SIGTERM would, and waits for it to drain.
    pub async fn stop(self) {
        self.shutdown.cancel();
        within("the broker to drain", self.server).await.expect("the server task").expect("a clean shutdown");
    }
}

/// Every kind of caller the authorization matrices check, in their column order: each staff role,
/// an administrator, the partner that owns the requests (FR-MOJ) and another partner (DE-BJ).
pub const PRINCIPALS: [&str; 9] = [
    "registrar",
    "legal_officer",
    "judge",
    "evidence_officer",
    "supervisor",
    "auditor",
    "admin",
    "FR-MOJ",
    "DE-BJ",
];

/// A fresh HS256 secret (at least 32 bytes) for one broker and its replicas.
fn test_secret() -> String {
    format!("{}{}", uuid::Uuid::now_v7().simple(), uuid::Uuid::now_v7().simple())
}

/// A configuration without per-caller limits, for load harnesses that measure the broker rather than
/// one caller's share of it.
pub fn without_limits(config: &mut Config) {
    config.rate_limit_per_second = 0;
    config.max_concurrent_calls = 0;
    config.max_streams = 0;
}

/// A call carrying a bearer token.
pub fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("ASCII"));
    request
}

/// A complete request (ready to submit) addressed to or coming from `partner_code`.
pub fn complete_request(partner_code: &str, title: &str) -> pb::Request {
    pb::Request {
        partner_code: partner_code.into(),
        request_type: pb::RequestType::Evidence as i32,
        priority: pb::Priority::Normal as i32,
        requesting_authority: "Investigating judge, Karkh court".into(),
        title: title.into(),
        summary_of_facts: "Facts of the case.".into(),
        measures: vec!["Hear witness W-17".into()],
        purpose: "Criminal proceedings".into(),
        legal_basis: "UNTOC art. 18".into(),
        ..Default::default()
    }
}

/// A transition with no details.
pub fn action(id: &str, action: pb::Action) -> pb::TransitionRequestRequest {
    pb::TransitionRequestRequest { id: id.into(), action: action as i32, ..Default::default() }
}

/// A transition with a reason.
pub fn action_with_reason(id: &str, action: pb::Action, reason: &str) -> pb::TransitionRequestRequest {
    pb::TransitionRequestRequest { reason: reason.into(), ..self::action(id, action) }
}

/// The `google.rpc.ErrorInfo` reason of a failed call.
pub fn reason_of(status: &tonic::Status) -> String {
    status.get_details_error_info().map(|info| info.reason).unwrap_or_default()
}

/// The fields named by the `google.rpc.BadRequest` of a failed call.
pub fn fields_of(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// A GET of `url` with `token` (and an `Accept` header if given): its status, content type and body.
/// The request is built at once, so the answer borrows nothing.
pub fn get_text(
    http: &reqwest::Client,
    url: String,
    token: &str,
    accept: Option<&str>,
) -> impl Future<Output = (u16, String, String)> + use<> {
    let mut request = http.get(url).bearer_auth(token);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    async move {
        let response = request.send().await.expect("an answer");
        let status = response.status().as_u16();
        let kind = response.headers().get("content-type").map(|v| v.to_str().expect("a header").to_owned());
        (status, kind.unwrap_or_default(), response.text().await.expect("a body"))
    }
}

/// An HTTP client for the REST gateway. reqwest is built without a bundled crypto provider, so ring
/// is installed first (a second install fails harmlessly and the first choice stands).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("an HTTP client")
}
