//! The staff console at `/console`: a web page for the NCIJC's daily work, served from the binary
//! (no CDN, no build step). It is one more client of the REST API: the page calls `/v1/...` with the
//! signed-in user's bearer token, held in the page's memory, and every rule is the broker's. What
//! the gateway adds here is only the page's files, its sign-in settings and, in development mode,
//! a sign-in that issues a development token.
//!
//! Every answer carries a strict Content-Security-Policy (scripts and styles from the console's own
//! files only, no inline code, no framing), and the page builds its content as text, never as HTML.

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};

use crate::problem::ApiError;

const INDEX: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/console.js");
const STYLE: &str = include_str!("../console/console.css");

/// How staff sign in to the console.
#[derive(Debug, Clone, Default)]
pub struct ConsoleConfig {
    /// OpenID Connect sign-in (authorization code with PKCE, as Keycloak serves it).
    pub oidc: Option<OidcClient>,
    /// Development mode only: a sign-in that issues a development token for a name and a role.
    pub development: Option<DevelopmentSignIn>,
}

/// The identity provider and the console's public client there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OidcClient {
    /// The issuer (`iss`) of the broker's tokens, where `/.well-known/openid-configuration` lives.
    pub issuer: String,
    /// The console's client id (a public client: PKCE, no secret).
    pub client_id: String,
}

/// Issues a development token for a subject and a staff role, or says why not.
type IssueToken = dyn Fn(&str, &str) -> Result<String, String> + Send + Sync;

/// The development sign-in: what issues its tokens.
#[derive(Clone)]
pub struct DevelopmentSignIn(Arc<IssueToken>);

impl DevelopmentSignIn {
    pub fn new(issue: impl Fn(&str, &str) -> Result<String, String> + Send + Sync + 'static) -> Self {
        DevelopmentSignIn(Arc::new(issue))
    }
}

impl fmt::Debug for DevelopmentSignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DevelopmentSignIn(..)")
    }
}

/// What the page reads at start: how to sign in.
#[derive(Serialize)]
struct PageConfig<'a> {
    oidc: Option<&'a OidcClient>,
    development: bool,
}

#[derive(Deserialize)]
struct SignIn {
    subject: String,
    role: String,
}

#[derive(Serialize)]
struct Issued {
    token: String,
}

/// What the console's handlers share.
#[derive(Clone)]
struct Console {
    config: Arc<ConsoleConfig>,
    policy: HeaderValue,
}

/// The console's routes. Outside `/v1/`, so served without a token: the page itself holds no data.
pub fn routes(config: ConsoleConfig) -> Router {
    let policy = content_security_policy(config.oidc.as_ref());
    let console = Console { config: Arc::new(config), policy };
    Router::new()
        .route("/console", get(|| async { Redirect::permanent("/console/") }))
        .route(
            "/console/",
            get(|State(c): State<Console>| async move { c.page("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/console/console.js",
            get(|State(c): State<Console>| async move { c.page("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/console/console.css",
            get(|State(c): State<Console>| async move { c.page("text/css; charset=utf-8", STYLE) }),
        )
        .route("/console/config.json", get(page_config))
        .route("/console/session", post(development_sign_in))
        .with_state(console)
}

async fn page_config(State(console): State<Console>) -> Response {
    let config = &console.config;
    let body = PageConfig { oidc: config.oidc.as_ref(), development: config.development.is_some() };
    let json = serde_json::to_string(&body).expect("the console's settings serialise");
    console.page("application/json", json)
}

/// `POST /console/session {subject, role}`: a development token, in development mode only (404
/// otherwise, as if the route did not exist). The broker in development mode listens on loopback only.
async fn development_sign_in(State(console): State<Console>, body: Bytes) -> Response {
    let Some(issue) = &console.config.development else {
        return ApiError::new(StatusCode::NOT_FOUND, "no such route").into_response();
    };
    let Ok(SignIn { subject, role }) = serde_json::from_slice::<SignIn>(&body) else {
        return ApiError::new(StatusCode::BAD_REQUEST, "the body must be {\"subject\": ..., \"role\": ...}")
            .into_response();
    };
    match (issue.0)(subject.trim(), role.trim()) {
        Ok(token) => console
            .page("application/json", serde_json::to_string(&Issued { token }).expect("a token serialises")),
        Err(why) => ApiError::new(StatusCode::BAD_REQUEST, why).into_response(),
    }
}

impl Console {
    /// An answer of the console with its security headers. Not cached: the files are small and
    /// change with the binary.
    fn page(&self, content_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
        let headers = [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::CONTENT_SECURITY_POLICY, self.policy.clone()),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
        ];
        (headers, body.into()).into_response()
    }
}

/// Own files only; no inline script or style; calls to this origin and, for OpenID Connect, to the
/// identity provider's origin (discovery and the token exchange are `fetch` calls); no plugin, no
/// framing, no base or form target elsewhere.
fn content_security_policy(oidc: Option<&OidcClient>) -> HeaderValue {
    let provider =
        oidc.and_then(|oidc| origin(&oidc.issuer)).map(|origin| format!(" {origin}")).unwrap_or_default();
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         connect-src 'self'{provider}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    HeaderValue::try_from(policy).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

/// `https://idp.example:8443` of `https://idp.example:8443/realms/ncijc`.
fn origin(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_lets_the_page_call_the_identity_provider_and_nothing_else() {
        let oidc = OidcClient {
            issuer: "https://idp.example:8443/realms/ncijc".into(),
            client_id: "console".into(),
        };
        let policy = content_security_policy(Some(&oidc));
        let policy = policy.to_str().unwrap();
        assert!(policy.contains("connect-src 'self' https://idp.example:8443;"), "{policy}");
        assert!(policy.contains("script-src 'self';") && !policy.contains("unsafe"), "{policy}");
        let alone = content_security_policy(None);
        assert!(alone.to_str().unwrap().contains("connect-src 'self';"));
    }
}
