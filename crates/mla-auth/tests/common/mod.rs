//! Helpers shared by the integration tests: fixture keys, hand-made tokens and a tiny identity provider.

// Each test binary compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mla_auth::{AuthConfig, KeySource, Verifier};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ISSUER: &str = "https://idp.example.test/realms/ncijc";
pub const AUDIENCE: &str = "mla-broker";
/// A test-only HS256 secret (36 bytes, above the 32-byte minimum).
pub const SECRET: &[u8] = b"test-only-secret-0123456789abcdefXYZ";

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Claims the broker accepts: staff with the given roles, valid for ten minutes.
pub fn staff_claims(roles: &[&str]) -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "roles": roles,
        "iat": now(),
        "exp": now() + 600,
    })
}

/// `claims` with `key` changed to `value` (or removed when `value` is null).
pub fn with(mut claims: Value, key: &str, value: Value) -> Value {
    let object = claims.as_object_mut().unwrap();
    if value.is_null() {
        object.remove(key);
    } else {
        object.insert(key.to_owned(), value);
    }
    claims
}

pub fn sign(algorithm: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

pub fn hs256(claims: &Value) -> String {
    sign(Algorithm::HS256, &EncodingKey::from_secret(SECRET).unwrap(), None, claims)
}

pub fn rsa_key(name: &str) -> EncodingKey {
    EncodingKey::from_rsa_pem(&fixture(&format!("{name}.key.pem"))).unwrap()
}

pub fn ec_key(name: &str) -> EncodingKey {
    EncodingKey::from_ec_pem(&fixture(&format!("{name}.key.pem"))).unwrap()
}

pub fn ed_key(name: &str) -> EncodingKey {
    EncodingKey::from_ed_pem(&fixture(&format!("{name}.key.pem"))).unwrap()
}

/// The public JWK of a private key, with a key id, as an identity provider would publish it.
pub fn public_jwk(key: &EncodingKey, algorithm: Algorithm, kid: &str, declare_alg: bool) -> Value {
    let mut jwk = Jwk::from_encoding_key(key, algorithm).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    if !declare_alg {
        jwk.common.key_algorithm = None;
    }
    let mut value = serde_json::to_value(&jwk).unwrap();
    value["use"] = json!("sig");
    value
}

pub fn jwks(keys: &[Value]) -> Value {
    json!({ "keys": keys })
}

pub async fn verifier(keys: KeySource) -> Verifier {
    Verifier::new(AuthConfig::new(ISSUER, AUDIENCE, keys)).await.unwrap()
}

pub async fn hs256_verifier() -> Verifier {
    verifier(KeySource::Hs256Secret(SECRET.to_vec())).await
}

/// A JWKS URL source with the given minimum refresh interval and the default lifetimes otherwise.
pub fn jwks_source(url: &str, min_refresh_interval: Duration) -> KeySource {
    jwks_source_with_lifetimes(
        url,
        min_refresh_interval,
        KeySource::DEFAULT_REFRESH_INTERVAL,
        KeySource::DEFAULT_MAX_REFRESH_INTERVAL,
    )
}

/// A JWKS URL source with every refresh interval chosen by the test.
pub fn jwks_source_with_lifetimes(
    url: &str,
    min_refresh_interval: Duration,
    refresh_interval: Duration,
    max_refresh_interval: Duration,
) -> KeySource {
    KeySource::JwksUrl {
        url: url.to_owned(),
        fetch_timeout: Duration::from_secs(2),
        min_refresh_interval,
        refresh_interval,
        max_refresh_interval,
    }
}

/// A tiny identity provider serving a JWKS document that the test can change, counting the requests.
pub struct Idp {
    pub url: String,
    pub addr: SocketAddr,
    state: IdpState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

#[derive(Clone)]
struct IdpState {
    document: Arc<Mutex<Value>>,
    hits: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
    cache_control: Arc<Mutex<Option<String>>>,
}

async fn serve_jwks(State(state): State<IdpState>) -> Response {
    state.hits.fetch_add(1, Ordering::SeqCst);
    if state.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let document = state.document.lock().unwrap().clone();
    let mut response = axum::Json(document).into_response();
    if let Some(cache_control) = state.cache_control.lock().unwrap().as_deref() {
        response.headers_mut().insert(CACHE_CONTROL, cache_control.parse().unwrap());
    }
    response
}

impl Idp {
    pub async fn start(document: Value) -> Self {
        Self::start_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), document)
    }

    pub fn start_on(listener: TcpListener, document: Value) -> Self {
        let addr = listener.local_addr().unwrap();
        let state = IdpState {
            document: Arc::new(Mutex::new(document)),
            hits: Arc::new(AtomicUsize::new(0)),
            failing: Arc::new(AtomicBool::new(false)),
            cache_control: Arc::new(Mutex::new(None)),
        };
        let app = Router::new()
            .route("/realms/ncijc/protocol/openid-connect/certs", get(serve_jwks))
            .with_state(state.clone());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self {
            url: format!("http://{addr}/realms/ncijc/protocol/openid-connect/certs"),
            addr,
            state,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    pub fn publish(&self, document: Value) {
        *self.state.document.lock().unwrap() = document;
    }

    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    /// The `Cache-Control` header sent with the document from now on (none by default).
    pub fn set_cache_control(&self, value: &str) {
        *self.state.cache_control.lock().unwrap() = Some(value.to_owned());
    }

    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    /// Stops serving and waits until the port is closed.
    pub async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}
