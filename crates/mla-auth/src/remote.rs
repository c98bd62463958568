//! Fetching an identity provider's JWKS document over HTTP(S), and when to fetch it again: when the
//! document's lifetime (its `Cache-Control: max-age`, within bounds) has run out, and when a token
//! names a key the cache lacks, never more often than the configured floor.
//!
//! The timed refresh is lazy: the verifier asks [`RemoteJwks::is_due`] on every token and refreshes
//! before using keys that have outlived their lifetime. A background task would refresh on its own,
//! but it needs a runtime to be spawned on, a handle to stop it with and a way to report its failures,
//! and it keeps fetching while no token arrives. The lazy deadline gives the same guarantee (no token
//! is checked against keys older than their lifetime while the identity provider answers), costs the
//! tokens that arrive just after the deadline the wait for one fetch, and is tested with a short
//! `max-age` rather than a clock.

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::header::{ACCEPT, AGE, CACHE_CONTROL, HeaderMap};

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
    lifetimes: Lifetimes,
    /// When the last refresh was attempted, successful or not. The lock also serialises refreshes, so
    /// that a burst of tokens naming a new key id, or arriving just after the deadline, makes one
    /// request, not one each.
    last_refresh: tokio::sync::Mutex<Option<Instant>>,
    /// When the cached keys are due for a refresh. Read on every verification, so it has its own
    /// short lock rather than the refresh lock, which is held across a fetch.
    due: Mutex<Instant>,
}

/// How long fetched keys are trusted before the next refresh.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lifetimes {
    /// The floor: the shortest time between two refreshes, whatever the reason.
    pub(crate) min: Duration,
    /// The lifetime of a document whose response states none.
    pub(crate) default: Duration,
    /// The ceiling: an identity provider announcing a longer lifetime is asked again after this.
    pub(crate) max: Duration,
}

impl Lifetimes {
    /// The lifetime of a document fetched with these response headers, within the bounds.
    ///
    /// `no-store` and `no-cache` mean "ask again before every use", which the floor turns into "ask
    /// again after the floor". `max-age` (the first one, as RFC 9111 section 4.2.1 allows) counts from
    /// when the response was generated, so an `Age` added by a cache on the way is taken off. A
    /// `max-age` that is not a number makes the document stale at once (RFC 9111 section 4.2.1 again).
    /// `Expires` is not read: identity providers that state a lifetime do it with `max-age`.
    pub(crate) fn of(&self, headers: &HeaderMap) -> Duration {
        let directives = headers
            .get_all(CACHE_CONTROL)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim);
        let mut max_age = None;
        for directive in directives {
            let (name, argument) = directive.split_once('=').unwrap_or((directive, ""));
            let name = name.trim();
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                return self.min;
            }
            if name.eq_ignore_ascii_case("max-age") && max_age.is_none() {
                max_age = Some(delta_seconds(argument.trim().trim_matches('"')).unwrap_or(0));
            }
        }
        let Some(max_age) = max_age else { return self.default.clamp(self.min, self.max) };
        let age = headers
            .get(AGE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| delta_seconds(value.trim()))
            .unwrap_or(0);
        Duration::from_secs(max_age.saturating_sub(age)).clamp(self.min, self.max)
    }
}

/// A non-negative number of seconds as HTTP writes it. A value too large for a `u64` is as good as
/// forever (RFC 9111 section 1.2.2 caps it anyway); anything that is not digits is `None`.
fn delta_seconds(raw: &str) -> Option<u64> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(raw.parse().unwrap_or(u64::MAX))
}

impl RemoteJwks {
    pub(crate) fn new(
        url: &str,
        fetch_timeout: Duration,
        lifetimes: Lifetimes,
    ) -> Result<Self, AuthSetupError> {
        let refuse =
            |reason: &str| AuthSetupError::JwksUrl { url: url.to_owned(), reason: reason.to_owned() };
        if lifetimes.max.is_zero() || lifetimes.min > lifetimes.max {
            return Err(refuse(
                "the maximum refresh interval must be positive and at least the minimum refresh interval",
            ));
        }
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
        Ok(Self {
            url: parsed,
            client,
            lifetimes,
            last_refresh: tokio::sync::Mutex::new(None),
            due: Mutex::new(Instant::now()),
        })
    }

    pub(crate) fn url(&self) -> &str {
        self.url.as_str()
    }

    /// Whether the cached keys have outlived their lifetime and must be refreshed before use.
    pub(crate) fn is_due(&self) -> bool {
        Instant::now() >= *self.due.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fetches the document once, for start-up. The attempt does not count towards the floor, so that
    /// an identity provider started together with the broker is asked again by the first token.
    pub(crate) async fn fetch_at_start_up(&self) -> Result<KeySet, String> {
        let sent = Instant::now();
        let (keys, lifetime) = self.fetch().await?;
        self.set_due(sent + lifetime);
        Ok(keys)
    }

    /// Refreshes unless a refresh was attempted less than the floor ago, and hands the new keys to
    /// `install` while the refresh lock is still held, so that a task that waited for this refresh
    /// finds them in place. `still_needed` is asked once the lock is held: when another task refreshed
    /// meanwhile, nothing is fetched.
    pub(crate) async fn refresh(&self, still_needed: impl FnOnce() -> bool, install: impl FnOnce(KeySet)) {
        let mut last_refresh = self.last_refresh.lock().await;
        if !still_needed() {
            return;
        }
        // A due refresh is never held back here: the deadline is always at least the floor after the
        // last attempt. Only the refreshes asked for by unknown key ids are.
        if let Some(at) = *last_refresh
            && at.elapsed() < self.lifetimes.min
        {
            return;
        }
        // The attempt counts even when it fails, so that an identity provider that is down is not
        // asked again by every token in the meantime.
        let sent = Instant::now();
        *last_refresh = Some(sent);
        match self.fetch().await {
            Ok((keys, lifetime)) => {
                tracing::info!(
                    url = %self.url,
                    keys = keys.len(),
                    next_refresh_in = ?lifetime,
                    "refreshed the JWKS signing keys"
                );
                install(keys);
                self.set_due(sent + lifetime);
            }
            Err(reason) => {
                // The cached keys are no fresher than before; they are tried again after the floor,
                // and kept until then.
                let retry = sent + self.lifetimes.min;
                let mut due = self.due.lock().unwrap_or_else(PoisonError::into_inner);
                *due = (*due).max(retry);
                tracing::warn!(
                    url = %self.url,
                    %reason,
                    retry_in = ?self.lifetimes.min,
                    "JWKS refresh failed; keeping the cached keys"
                );
            }
        }
    }

    fn set_due(&self, at: Instant) {
        *self.due.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }

    /// Fetches and parses the document, with the lifetime its response headers give it.
    async fn fetch(&self) -> Result<(KeySet, Duration), String> {
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
        let lifetime = self.lifetimes.of(response.headers());
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
        Ok((keys, lifetime))
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

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Lifetimes = Lifetimes {
        min: Duration::from_secs(30),
        default: Duration::from_secs(300),
        max: Duration::from_secs(86_400),
    };

    fn lifetime(headers: &[(&'static str, &'static str)]) -> Duration {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, value.parse().unwrap());
        }
        BOUNDS.of(&map)
    }

    #[test]
    fn max_age_sets_the_lifetime_within_the_floor_and_the_ceiling() {
        let secs = Duration::from_secs;
        assert_eq!(lifetime(&[]), secs(300), "no header: the default");
        assert_eq!(lifetime(&[("cache-control", "public, max-age=600")]), secs(600));
        assert_eq!(lifetime(&[("cache-control", "Max-Age=\"120\", must-revalidate")]), secs(120));
        assert_eq!(lifetime(&[("cache-control", "max-age=0")]), secs(30), "zero is raised to the floor");
        assert_eq!(lifetime(&[("cache-control", "max-age=31536000")]), secs(86_400), "a year is cut");
        assert_eq!(lifetime(&[("cache-control", "max-age=99999999999999999999999")]), secs(86_400));
        assert_eq!(lifetime(&[("cache-control", "max-age=600"), ("age", "500")]), secs(100));
        assert_eq!(lifetime(&[("cache-control", "max-age=600"), ("age", "900")]), secs(30));
        // The first max-age counts, also across header lines.
        assert_eq!(lifetime(&[("cache-control", "max-age=60"), ("cache-control", "max-age=6000")]), secs(60));
        // Anything that is not a count of seconds makes the document stale.
        assert_eq!(lifetime(&[("cache-control", "max-age=soon")]), secs(30));
        assert_eq!(lifetime(&[("cache-control", "max-age=-5")]), secs(30));
        assert_eq!(lifetime(&[("cache-control", "max-age")]), secs(30));
    }

    #[test]
    fn no_store_and_no_cache_mean_the_floor() {
        let floor = Duration::from_secs(30);
        assert_eq!(lifetime(&[("cache-control", "no-store")]), floor);
        assert_eq!(lifetime(&[("cache-control", "max-age=3600, No-Cache")]), floor);
        // Unrelated directives leave the default in place.
        assert_eq!(lifetime(&[("cache-control", "public, must-revalidate")]), Duration::from_secs(300));
    }
}
