//! Fetching an identity provider's JWKS document over HTTP(S), and the rate limit on refreshes.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::header::ACCEPT;

use crate::AuthSetupError;
use crate::keys::KeySet;

/// The largest JWKS document read. Real ones are a few KiB; the cap keeps a misbehaving or hostile
/// endpoint from filling memory.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// A JWKS endpoint and what is needed to fetch it politely.
#[derive(Debug)]
pub(crate) struct RemoteJwks {
    url: Url,
    client: reqwest::Client,
    min_refresh_interval: Duration,
    /// When the last refresh was attempted, successful or not. The lock also serialises refreshes, so
    /// that a burst of tokens naming a new key id makes one request, not one each.
    last_refresh: tokio::sync::Mutex<Option<Instant>>,
}

/// Whether a refresh went out.
#[derive(Debug)]
pub(crate) enum Refresh {
    /// The document was fetched and parsed into this many usable keys.
    Fetched(KeySet),
    /// The fetch failed; the cached keys stay.
    Failed,
    /// A refresh happened less than the minimum interval ago; nothing was sent.
    RateLimited,
}

impl RemoteJwks {
    pub(crate) fn new(
        url: &str,
        fetch_timeout: Duration,
        min_refresh_interval: Duration,
    ) -> Result<Self, AuthSetupError> {
        let refuse =
            |reason: &str| AuthSetupError::JwksUrl { url: url.to_owned(), reason: reason.to_owned() };
        let parsed = Url::parse(url).map_err(|e| refuse(&e.to_string()))?;
        match parsed.scheme() {
            "https" => {}
            "http" if is_loopback(&parsed) => {}
            "http" => tracing::warn!(
                url,
                "the JWKS URL uses plain http: anyone on the path can substitute signing keys; use https"
            ),
            _ => return Err(refuse("the scheme must be https (or http)")),
        }
        if fetch_timeout.is_zero() {
            return Err(refuse("the fetch timeout must be positive"));
        }
        // reqwest is built without a bundled rustls provider so that ring is used rather than
        // aws-lc-rs; it takes the process default, installed here unless the binary chose one first
        // (then `install_default` fails harmlessly and that choice stands).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(fetch_timeout)
            .connect_timeout(fetch_timeout)
            // A redirect could lead to a plain-http or foreign host; the operator configures the final URL.
            .redirect(reqwest::redirect::Policy::none())
            // Refreshes are rare, and a pooled connection to a restarted identity provider only fails
            // the next fetch; a fresh connection each time is simpler and just as cheap here.
            .pool_max_idle_per_host(0)
            .user_agent(concat!("mla-broker/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AuthSetupError::HttpClient(e.to_string()))?;
        Ok(Self { url: parsed, client, min_refresh_interval, last_refresh: tokio::sync::Mutex::new(None) })
    }

    pub(crate) fn url(&self) -> &str {
        self.url.as_str()
    }

    /// Fetches the document once, ignoring the rate limit: for start-up.
    pub(crate) async fn fetch(&self) -> Result<KeySet, String> {
        let mut response = self
            .client
            .get(self.url.clone())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| describe_reqwest_error(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the identity provider answered HTTP {status}"));
        }
        if response.content_length().is_some_and(|len| len > MAX_JWKS_BYTES as u64) {
            return Err(format!("the JWKS document is larger than {MAX_JWKS_BYTES} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe_reqwest_error(&e))? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!("the JWKS document is larger than {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let keys = KeySet::from_jwks_json(&body)?;
        if keys.is_empty() {
            // Treated as a failure so that a broken publication does not wipe out working keys.
            return Err("the JWKS document holds no usable signature key".into());
        }
        Ok(keys)
    }

    /// Refreshes unless a refresh was attempted less than the minimum interval ago. `still_missing`
    /// is asked once the refresh lock is held: when another task refreshed meanwhile and the wanted key
    /// arrived, nothing is fetched.
    pub(crate) async fn refresh(&self, still_missing: impl FnOnce() -> bool) -> Option<Refresh> {
        let mut last_refresh = self.last_refresh.lock().await;
        if !still_missing() {
            return None;
        }
        if let Some(at) = *last_refresh
            && at.elapsed() < self.min_refresh_interval
        {
            return Some(Refresh::RateLimited);
        }
        // The attempt counts even when it fails, so that an identity provider that is down is not
        // asked again by every token in the meantime.
        *last_refresh = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(url = %self.url, keys = keys.len(), "refreshed the JWKS signing keys");
                Some(Refresh::Fetched(keys))
            }
            Err(reason) => {
                tracing::warn!(url = %self.url, %reason, "JWKS refresh failed; keeping the cached keys");
                Some(Refresh::Failed)
            }
        }
    }
}

fn is_loopback(url: &Url) -> bool {
    // IPv6 hosts come bracketed, as in `http://[::1]:8080/`.
    let host = url.host_str().unwrap_or_default();
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// reqwest's top-level message is often just "error sending request"; the cause chain says why.
fn describe_reqwest_error(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
