//! The end-to-end harness: boots the broker in-process on port 0 over a fresh database, waits on its
//! health check, and hands out real gRPC clients and development tokens for any principal.

use std::sync::Arc;
use std::time::Duration;

use mla_app::App;
use mla_auth::{AuthConfig, Verifier};
use mla_domain::{PartnerCode, Role};
use mla_proto::v1 as pb;
use mla_store::Store;
use mla_store_postgres::testing::TestDatabase;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic_types::StatusExt;

pub use pb::partner_service_client::PartnerServiceClient;
pub use pb::request_service_client::RequestServiceClient;

/// A broker running in this process, and what a test needs to talk to it.
#[derive(Debug)]
pub struct Broker {
    pub url: String,
    pub store: Arc<dyn Store>,
    /// The application and the verifier the server runs, kept so that a REST gateway can call the
    /// same services in-process.
    app: App,
    verifier: Verifier,
    secret: Vec<u8>,
    shutdown: CancellationToken,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
    _data: tempfile::TempDir,
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
        let data = tempfile::tempdir().expect("a temporary directory");
        let path = data.path().join("broker.db");
        let store =
            mla_store_sqlite::SqliteStore::open(path.to_str().expect("a UTF-8 path")).await.expect("open");
        Self::over(Arc::new(store), data).await
    }

    /// A broker over `store`, serving on a free port of the loopback interface.
    pub async fn over(store: Arc<dyn Store>, data: tempfile::TempDir) -> Broker {
        let secret = mla_auth::dev_secret(data.path()).expect("a development secret");
        Self::serving(store, data, secret, None).await
    }

    /// A broker on `backend`; `None` when PostgreSQL is skipped on purpose (`MLA_SKIP_POSTGRES=1`).
    pub async fn start(backend: Backend) -> Option<Broker> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite().await),
            Backend::Postgres => {
                let database = Arc::new(TestDatabase::create().await?);
                let data = tempfile::tempdir().expect("a temporary directory");
                let secret = mla_auth::dev_secret(data.path()).expect("a development secret");
                Some(Self::on_postgres(database, data, secret).await)
            }
        }
    }

    /// Another replica serving the same PostgreSQL database, trusting the same tokens: what several
    /// stateless `mla-broker serve` processes in front of one database are.
    pub async fn replica(&self) -> Broker {
        let database = self._database.clone().expect("replicas share a PostgreSQL database");
        Self::on_postgres(database, tempfile::tempdir().expect("a temporary directory"), self.secret.clone())
            .await
    }

    async fn on_postgres(database: Arc<TestDatabase>, data: tempfile::TempDir, secret: Vec<u8>) -> Broker {
        let store = mla_store_postgres::PostgresStore::connect(&database.url()).await.expect("connect");
        Self::serving(Arc::new(store), data, secret, Some(database)).await
    }

    async fn serving(
        store: Arc<dyn Store>,
        data: tempfile::TempDir,
        secret: Vec<u8>,
        database: Option<Arc<TestDatabase>>,
    ) -> Broker {
        let verifier = Verifier::new(AuthConfig::development(secret.clone())).await.expect("a verifier");
        let shutdown = CancellationToken::new();
        let app = App::new(store.clone(), Default::default(), shutdown.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let stop = shutdown.clone();
        let server =
            tokio::spawn(mla_grpc::serve(app.clone(), verifier.clone(), listener, None, async move {
                stop.cancelled().await
            }));
        let broker =
            Broker { url, store, app, verifier, secret, shutdown, server, _data: data, _database: database };
        broker.wait_until_serving().await;
        broker
    }

    async fn wait_until_serving(&self) {
        use tonic_health::pb::health_check_response::ServingStatus;
        use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
        let mut health = HealthClient::new(self.channel().await);
        for _ in 0..200 {
            let answer = health.check(HealthCheckRequest { service: String::new() }).await;
            if answer.is_ok_and(|a| a.get_ref().status == ServingStatus::Serving as i32) {
                return;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the broker did not report SERVING");
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

    /// A development token for a staff member with `roles`.
    pub fn staff(&self, subject: &str, roles: &[Role]) -> String {
        self.mint(subject, roles, None)
    }

    /// A development token for a partner's system.
    pub fn partner(&self, code: &str) -> String {
        let code = PartnerCode::parse(code).expect("a partner code");
        self.mint(&format!("{code}-system"), &[Role::Partner], Some(&code))
    }

    fn mint(&self, subject: &str, roles: &[Role], partner: Option<&PartnerCode>) -> String {
        mla_auth::mint_token(
            &self.secret,
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
        };
        let id = client.create_request(authed(create, &token)).await.expect("created").into_inner().id;
        client
            .transition_request(authed(action(&id, pb::Action::Submit), &token))
            .await
            .expect("submitted")
            .into_inner()
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

    /// The broker's services in this process, as `mla-broker serve` hands them to its gateway.
    pub fn in_process(&self) -> mla_grpc::InProcess {
        mla_grpc::in_process(self.app.clone(), self.verifier.clone())
    }

    /// Starts the REST gateway over the in-process services, on a free loopback port, until the
    /// broker stops; returns its base URL (`http://127.0.0.1:PORT`). Readiness pings the store, as
    /// the in-process upstream has no health service.
    pub async fn start_gateway(&self) -> String {
        let store = self.store.clone();
        let readiness = mla_gateway::Readiness::new(move || {
            let store = store.clone();
            async move { store.ping().await.is_ok() }
        });
        let config = mla_gateway::GatewayConfig { readiness: Some(readiness), ..Default::default() };
        self.serve_gateway(mla_gateway::router(self.in_process(), config)).await
    }

    /// Starts the REST gateway in front of the broker's gRPC port, as `mla-broker gateway --upstream`
    /// does; readiness asks the broker's health service.
    pub async fn start_remote_gateway(&self) -> String {
        let channel = mla_gateway::upstream_channel(&self.url, None).expect("a valid upstream URL");
        self.serve_gateway(mla_gateway::router(channel, mla_gateway::GatewayConfig::default())).await
    }

    async fn serve_gateway(&self, router: axum::Router) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let stop = self.shutdown.clone();
        tokio::spawn(mla_gateway::serve(listener, router, async move { stop.cancelled().await }));
        url
    }

    /// Stops the broker as SIGTERM would, and waits for it to drain.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.server.await.expect("the server task").expect("a clean shutdown");
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

/// An HTTP client for the REST gateway. reqwest is built without a bundled crypto provider, so ring
/// is installed first (a second install fails harmlessly and the first choice stands).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("an HTTP client")
}
