//! How the verifier is configured: which issuer and audience to accept and where the keys come from.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::dev::{DEV_AUDIENCE, DEV_ISSUER};

/// What a [`Verifier`](crate::Verifier) accepts.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The one `iss` value accepted.
    pub issuer: String,
    /// The audience the broker answers to: a token's `aud` must be or contain it.
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf`; at most [`AuthConfig::MAX_LEEWAY`].
    pub leeway: Duration,
    /// Where the verification keys come from.
    pub keys: KeySource,
}

impl AuthConfig {
    /// The leeway used unless configured otherwise.
    pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

    /// The largest leeway accepted: more would let expired tokens live on noticeably.
    pub const MAX_LEEWAY: Duration = Duration::from_secs(600);

    /// A configuration with the default leeway.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, keys: KeySource) -> Self {
        Self { issuer: issuer.into(), audience: audience.into(), leeway: Self::DEFAULT_LEEWAY, keys }
    }

    /// The development configuration: the HS256 secret from [`dev_secret`](crate::dev_secret) with
    /// [`DEV_ISSUER`] and [`DEV_AUDIENCE`], matching what [`mint_token`](crate::mint_token) is given by
    /// the `mla-broker token` command.
    pub fn development(secret: Vec<u8>) -> Self {
        Self::new(DEV_ISSUER, DEV_AUDIENCE, KeySource::Hs256Secret(secret))
    }
}

/// Where verification keys come from. Each key is pinned to one algorithm.
#[derive(Clone)]
pub enum KeySource {
    /// A shared HS256 secret of at least [`MIN_HS256_SECRET_BYTES`](crate::MIN_HS256_SECRET_BYTES)
    /// bytes. Meant for development: whoever can verify can also mint.
    Hs256Secret(Vec<u8>),
    /// A local file holding either one PEM public key (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`) or a
    /// JWKS document. A PEM key's algorithm follows from its type: RS256 for RSA, ES256 for P-256, ES384
    /// for P-384, EdDSA for Ed25519.
    File(PathBuf),
    /// An identity provider's JWKS endpoint, fetched at start-up, again when the document's lifetime
    /// runs out (timed refresh), and again when a token names a key id the cache does not hold (or
    /// when the start-up fetch failed). The lifetime is the response's `Cache-Control: max-age`, or
    /// `refresh_interval` when it states none, kept between `min_refresh_interval` and
    /// `max_refresh_interval`; `no-store` and `no-cache` mean the minimum. So a key the identity
    /// provider withdraws is refused at most one lifetime later. While the identity provider cannot
    /// be reached the cached keys stay in use, and a refresh is tried again every
    /// `min_refresh_interval`.
    JwksUrl {
        /// The JWKS document's URL (`https://`; `http://` is accepted but warned about off loopback).
        url: String,
        /// How long one fetch may take, connection included.
        fetch_timeout: Duration,
        /// The shortest time between two refreshes, so that tokens with made-up key ids (or an
        /// identity provider announcing `max-age=0`) cannot make the broker hammer the identity
        /// provider.
        min_refresh_interval: Duration,
        /// How long fetched keys are trusted when the response does not say (no `max-age`).
        refresh_interval: Duration,
        /// The longest time fetched keys are trusted, whatever `max-age` the response announces, so
        /// that a withdrawn key cannot stay trusted for a year because a cache header said so.
        max_refresh_interval: Duration,
    },
}

impl KeySource {
    /// The fetch timeout used by [`KeySource::jwks_url`].
    pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

    /// The minimum refresh interval used by [`KeySource::jwks_url`].
    pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

    /// The lifetime of a JWKS document without `max-age`, used by [`KeySource::jwks_url`].
    pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(5 * 60);

    /// The maximum refresh interval used by [`KeySource::jwks_url`].
    pub const DEFAULT_MAX_REFRESH_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

    /// A JWKS URL source with the default timeout and refresh intervals.
    pub fn jwks_url(url: impl Into<String>) -> Self {
        Self::JwksUrl {
            url: url.into(),
            fetch_timeout: Self::DEFAULT_FETCH_TIMEOUT,
            min_refresh_interval: Self::DEFAULT_MIN_REFRESH_INTERVAL,
            refresh_interval: Self::DEFAULT_REFRESH_INTERVAL,
            max_refresh_interval: Self::DEFAULT_MAX_REFRESH_INTERVAL,
        }
    }
}

// Written by hand so that the HS256 secret never reaches a log line through `{:?}`.
impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Hs256Secret(secret) => {
                f.debug_struct("Hs256Secret").field("len", &secret.len()).finish_non_exhaustive()
            }
            KeySource::File(path) => f.debug_tuple("File").field(path).finish(),
            KeySource::JwksUrl {
                url,
                fetch_timeout,
                min_refresh_interval,
                refresh_interval,
                max_refresh_interval,
            } => f
                .debug_struct("JwksUrl")
                .field("url", url)
                .field("fetch_timeout", fetch_timeout)
                .field("min_refresh_interval", min_refresh_interval)
                .field("refresh_interval", refresh_interval)
                .field("max_refresh_interval", max_refresh_interval)
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_secret() {
        let source = KeySource::Hs256Secret(b"super-secret-value-that-must-not-leak".to_vec());
        let shown = format!("{:?}", AuthConfig::new("iss", "aud", source));
        assert!(!shown.contains("super-secret"), "{shown}");
        assert!(shown.contains("len"), "{shown}");
    }
}
