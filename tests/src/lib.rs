//! The end-to-end harness: boots the broker in-process on port 0 over a fresh database, waits on its
//! health check, and hands out real gRPC clients and development tokens for any principal.

use std::sync::Arc;
use std::time::Duration;

use mla_app::App;
use mla_auth::{AuthConfig, Verifier};
use mla_domain::{PartnerCode, Role};
use mla_proto::v1 as pb;
use mla_store::Store;
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
    secret: Vec<u8>,
    shutdown: CancellationToken,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
    _data: tempfile::TempDir,
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
        let verifier = Verifier::new(AuthConfig::development(secret.clone())).await.expect("a verifier");
        let shutdown = CancellationToken::new();
        let app = App::new(store.clone(), Default::default(), shutdown.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let stop = shutdown.clone();
        let server =
            tokio::spawn(mla_grpc::serve(
                app,
                verifier,
                listener,
                None,
                async move { stop.cancelled().await },
            ));
        let broker = Broker { url, store, secret, shutdown, server, _data: data };
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

    /// Stops the broker as SIGTERM would, and waits for it to drain.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.server.await.expect("the server task").expect("a clean shutdown");
    }
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
