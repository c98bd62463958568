//! The verifier: cheap refusals first, then the key pinned to the token's algorithm, then the signature
//! and the registered claims, then the broker's own claims into a principal.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use mla_domain::Principal;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::claims::BrokerClaims;
use crate::config::{AuthConfig, KeySource};
use crate::keys::{KeySet, Lookup, VerificationKey};
use crate::remote::{Lifetimes, RemoteJwks};
use crate::{AuthError, AuthSetupError};

/// The longest token accepted, in bytes. Real access tokens are one or two KiB; anything much longer is
/// refused before it is decoded, so that oversized input costs nothing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// How long a verified token is trusted again without its signature checked (never past its `exp`).
/// A partner's system sends the same token with every call, and an RS256 or ES256 signature costs tens
/// of microseconds in pure Rust; a minute keeps a withdrawn key's tokens alive no longer than the key
/// cache itself may (new keys forget every remembered token at once).
pub const REMEMBERED_FOR: Duration = Duration::from_secs(60);

/// How many verified tokens are remembered at most.
const REMEMBERED_TOKENS: u64 = 10_000;

/// Verifies bearer tokens. Cloning is cheap (the state is shared), so one verifier serves the whole
/// process; a JWKS URL source refreshes the shared key cache for every clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    /// Issuer, audience, leeway and required claims; the algorithm is filled in per key.
    validation: Validation,
    keys: RwLock<Arc<KeySet>>,
    remote: Option<RemoteJwks>,
    source: &'static str,
    /// Tokens verified lately, by their SHA-256 (the token itself is not kept).
    remembered: moka::sync::Cache<[u8; 32], Remembered>,
}

/// A verified token's principal, and until when it may be trusted without checking again.
#[derive(Clone)]
struct Remembered {
    principal: Principal,
    until: Instant,
}

/// Each remembered token expires at its own `until`.
struct UntilItsTime;

impl moka::Expiry<[u8; 32], Remembered> for UntilItsTime {
    fn expire_after_create(&self, _: &[u8; 32], remembered: &Remembered, now: Instant) -> Option<Duration> {
        Some(remembered.until.saturating_duration_since(now))
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.validation.iss)
            .field("audience", &self.inner.validation.aud)
            .field("source", &self.inner.source)
            .field("keys", &self.inner.current_keys().len())
            .finish()
    }
}

/// The parts of a token's header needed to choose a key; read before any cryptography.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

impl Verifier {
    /// Builds a verifier and loads its keys: reads the key file, or fetches the JWKS URL once. An
    /// identity provider that cannot be reached at start-up does not stop the broker from starting
    /// (the two are often started together): a warning is logged and the keys are fetched when the
    /// first token arrives.
    pub async fn new(config: AuthConfig) -> Result<Self, AuthSetupError> {
        if config.issuer.trim().is_empty() {
            return Err(AuthSetupError::InvalidConfig("the issuer must not be empty".into()));
        }
        if config.audience.trim().is_empty() {
            return Err(AuthSetupError::InvalidConfig("the audience must not be empty".into()));
        }
        if config.leeway > AuthConfig::MAX_LEEWAY {
            return Err(AuthSetupError::InvalidConfig(format!(
                "the leeway is {:?}; at most {:?} is accepted",
                config.leeway,
                AuthConfig::MAX_LEEWAY
            )));
        }
        let (keys, remote, source) = match &config.keys {
            KeySource::Hs256Secret(secret) => {
                let keys =
                    KeySet::from_hs256_secret(secret).map_err(|len| AuthSetupError::WeakSecret { len })?;
                (keys, None, "hs256-secret")
            }
            KeySource::File(path) => {
                // A small file read once at start-up; not worth a blocking-pool hop.
                let contents = read_key_file(path)
                    .map_err(|source| AuthSetupError::ReadKeyFile { path: path.clone(), source })?;
                let keys = KeySet::from_key_file(&contents)
                    .map_err(|reason| AuthSetupError::KeyFile { path: path.clone(), reason })?;
                (keys, None, "key-file")
            }
            KeySource::JwksUrl {
                url,
                fetch_timeout,
                min_refresh_interval,
                refresh_interval,
                max_refresh_interval,
            } => {
                let lifetimes = Lifetimes {
                    min: *min_refresh_interval,
                    default: *refresh_interval,
                    max: *max_refresh_interval,
                };
                let remote = RemoteJwks::new(url, *fetch_timeout, lifetimes)?;
                let keys = match remote.fetch_at_start_up().await {
                    Ok(keys) => keys,
                    Err(reason) => {
                        tracing::warn!(
                            url = remote.url(),
                            %reason,
                            "cannot fetch the JWKS signing keys at start-up; will retry when a token arrives"
                        );
                        KeySet::default()
                    }
                };
                (keys, Some(remote), "jwks-url")
            }
        };
        tracing::debug!(source, keys = keys.len(), "token verification keys loaded");

        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[config.issuer.as_str()]);
        validation.set_audience(&[config.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.leeway = config.leeway.as_secs();

        let remembered =
            moka::sync::Cache::builder().max_capacity(REMEMBERED_TOKENS).expire_after(UntilItsTime).build();
        Ok(Self {
            inner: Arc::new(Inner {
                validation,
                keys: RwLock::new(Arc::new(keys)),
                remote,
                source,
                remembered,
            }),
        })
    }

    /// Verifies a compact JWS token (without the `Bearer ` prefix) and returns who it speaks for.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = precheck(token)?;
        let algorithm = header.algorithm;
        let kid = header.kid.as_deref();
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let keys_due = self.inner.remote.as_ref().is_some_and(RemoteJwks::is_due);
        if !keys_due
            && let Some(remembered) = self.inner.remembered.get(&digest)
            && remembered.until > Instant::now()
        {
            return Ok(remembered.principal);
        }

        let mut keys = self.inner.current_keys();
        if let Some(remote) = &self.inner.remote {
            // Keys past their lifetime are refreshed before they vouch for a token, so that a key the
            // identity provider has withdrawn stops working. Otherwise only a key the cache lacks is
            // worth asking about: a known key named with the wrong algorithm, or a missing kid among
            // several keys, is not fixed by a refresh.
            let missing = |keys: &KeySet| {
                matches!(
                    resolve(keys, kid, algorithm),
                    Err(AuthError::UnknownKey | AuthError::KeysUnavailable)
                )
            };
            if remote.is_due() || missing(&keys) {
                let still_needed = || remote.is_due() || missing(&self.inner.current_keys());
                remote.refresh(still_needed, |fresh| self.inner.replace_keys(fresh)).await;
                keys = self.inner.current_keys();
            }
        }
        let key = resolve(&keys, kid, algorithm)?;
        let claims = self.check_signature_and_claims(token, key)?;
        let expires_at = claims.expires_at();
        let principal = claims.into_principal()?;
        if let Some(until) = expires_at.and_then(remembered_until) {
            self.inner.remembered.insert(digest, Remembered { principal: principal.clone(), until });
        }
        Ok(principal)
    }

    /// How many keys are cached now (for diagnostics and health reporting).
    pub fn key_count(&self) -> usize {
        self.inner.current_keys().len()
    }

    fn check_signature_and_claims(
        &self,
        token: &str,
        key: &VerificationKey,
    ) -> Result<BrokerClaims, AuthError> {
        let mut validation = self.inner.validation.clone();
        validation.algorithms = vec![key.algorithm];
        jsonwebtoken::decode::<BrokerClaims>(token, &key.key, &validation)
            .map(|data| data.claims)
            .map_err(|e| map_jwt_error(e.kind()))
    }
}

impl Inner {
    fn current_keys(&self) -> Arc<KeySet> {
        // A poisoned lock only means a writer panicked while swapping an `Arc`; the value is intact.
        self.keys.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn replace_keys(&self, keys: KeySet) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
        // A key may have been withdrawn: what it vouched for is checked again.
        self.remembered.invalidate_all();
    }
}

/// Until when a token expiring at `expires_at` (seconds since the epoch) may be remembered: at most
/// [`REMEMBERED_FOR`] from now, and not past its expiry; `None` when it expires now.
fn remembered_until(expires_at: u64) -> Option<Instant> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    let left = Duration::from_secs(expires_at).checked_sub(now)?;
    Some(Instant::now() + left.min(REMEMBERED_FOR))
}

/// Reads a key file of at most 1 MiB: a path pointing at something else (a device, a log) fails fast.
fn read_key_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    const LIMIT: u64 = 1024 * 1024;
    let mut contents = Vec::new();
    std::fs::File::open(path)?.take(LIMIT + 1).read_to_end(&mut contents)?;
    if contents.len() as u64 > LIMIT {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the key file is larger than 1 MiB",
        ));
    }
    Ok(contents)
}

/// The token's header, after the cheap checks.
struct CheckedHeader {
    algorithm: Algorithm,
    kid: Option<String>,
}

/// Refusals that need no key: size, shape, the header's encoding and the algorithm's name.
fn precheck(token: &str) -> Result<CheckedHeader, AuthError> {
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed);
    };
    let base64url = |part: &str| part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if header.is_empty()
        || payload.is_empty()
        || !base64url(header)
        || !base64url(payload)
        || !base64url(signature)
    {
        return Err(AuthError::Malformed);
    }
    let header = URL_SAFE_NO_PAD.decode(header).map_err(|_| AuthError::Malformed)?;
    let header: RawHeader = serde_json::from_slice(&header).map_err(|_| AuthError::Malformed)?;
    // `none`, unknown names and anything the library cannot verify end here, before a key is chosen.
    let algorithm = Algorithm::from_str(&header.alg).map_err(|_| AuthError::AlgorithmNotAllowed)?;
    if signature.is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok(CheckedHeader { algorithm, kid: header.kid })
}

fn resolve<'a>(
    keys: &'a KeySet,
    kid: Option<&str>,
    algorithm: Algorithm,
) -> Result<&'a VerificationKey, AuthError> {
    match keys.lookup(kid, algorithm) {
        Lookup::Found(key) => Ok(key),
        Lookup::WrongAlgorithm => Err(AuthError::AlgorithmNotAllowed),
        Lookup::UnknownKid => Err(AuthError::UnknownKey),
        Lookup::KidRequired => Err(AuthError::MissingKeyId),
        Lookup::Empty => Err(AuthError::KeysUnavailable),
    }
}

fn map_jwt_error(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => AuthError::MissingClaim(match claim.as_str() {
            "exp" => "exp",
            "iss" => "iss",
            "aud" => "aud",
            "sub" => "sub",
            "nbf" => "nbf",
            _ => "a registered claim",
        }),
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm | ErrorKind::MissingAlgorithm => {
            AuthError::AlgorithmNotAllowed
        }
        // A key that fails to parse at verification time cannot vouch for the token either.
        ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => AuthError::BadSignature,
        // Bad base64, bad JSON, bad UTF-8, claims of the wrong type, unsupported `crit` headers and
        // whatever a later library version adds: all malformed tokens.
        _ => AuthError::Malformed,
    }
}

/// The token in an `Authorization` header value: `Bearer <token>` (the scheme is case-insensitive, RFC
/// 7235). A header with another scheme counts as no bearer token at all.
pub fn bearer_token(authorization: &str) -> Result<&str, AuthError> {
    let Some((scheme, rest)) = authorization.trim_start().split_once(' ') else {
        return Err(if authorization.trim().eq_ignore_ascii_case("bearer") {
            AuthError::Malformed
        } else {
            AuthError::Missing
        });
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    let token = rest.trim_matches(' ');
    if token.is_empty() || token.chars().any(char::is_whitespace) {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verifier_can_be_shared_across_tasks() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        fn send<T: Send>(_: &T) {}
        shareable::<Verifier>();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let verifier = runtime
            .block_on(Verifier::new(AuthConfig::new("iss", "aud", KeySource::Hs256Secret(vec![1; 32]))))
            .unwrap();
        let verification = verifier.verify("a.b.c");
        send(&verification);
        assert!(runtime.block_on(verification).is_err());
    }

    #[test]
    fn bearer_tokens_are_taken_from_the_authorization_header() {
        assert_eq!(bearer_token("Bearer abc.def.ghi"), Ok("abc.def.ghi"));
        assert_eq!(bearer_token("bearer   abc.def.ghi "), Ok("abc.def.ghi"));
        assert_eq!(bearer_token("BEARER x"), Ok("x"));
        assert_eq!(bearer_token("Basic dXNlcjpwdw=="), Err(AuthError::Missing));
        assert_eq!(bearer_token(""), Err(AuthError::Missing));
        assert_eq!(bearer_token("Bearer"), Err(AuthError::Malformed));
        assert_eq!(bearer_token("Bearer "), Err(AuthError::Malformed));
        assert_eq!(bearer_token("Bearer a b"), Err(AuthError::Malformed));
        assert_eq!(bearer_token("Bearer a\tb"), Err(AuthError::Malformed));
    }

    #[test]
    fn cheap_checks_refuse_before_any_key_is_needed() {
        let header = |json: &str| URL_SAFE_NO_PAD.encode(json);
        let ok_header = header(r#"{"alg":"HS256","typ":"JWT"}"#);
        assert!(precheck(&format!("{ok_header}.e30.c2ln")).is_ok());
        assert_eq!(precheck("").err(), Some(AuthError::Missing));
        assert_eq!(precheck(&"a".repeat(MAX_TOKEN_BYTES + 1)).err(), Some(AuthError::TooLarge));
        for malformed in [
            "a.b".to_owned(),
            "...".to_owned(),
            "a.b.c.d".to_owned(),
            format!("{ok_header}.e30.c2ln="),
            format!("{ok_header}.e 30.c2ln"),
            ".e30.c2ln".to_owned(),
            format!("{ok_header}..c2ln"),
            format!("{ok_header}.e30."),
            format!("{}.e30.c2ln", header("[1,2]")),
            format!("{}.e30.c2ln", header(r#"{"alg":"HS256","kid":7}"#)),
            format!("{}.e30.c2ln", header(r#"{"kid":"x"}"#)),
            format!("{}.e30.c2ln", header(r#"{"alg":"HS256","alg":"none"}"#)),
            format!("{}.e30.c2ln", header(r#"{"alg":"none","alg":"HS256"}"#)),
            "bm90IGpzb24.e30.c2ln".to_owned(),
        ] {
            assert_eq!(precheck(&malformed).err(), Some(AuthError::Malformed), "{malformed}");
        }
        for not_allowed in [r#"{"alg":"none"}"#, r#"{"alg":"None"}"#, r#"{"alg":"HS1"}"#, r#"{"alg":""}"#] {
            let token = format!("{}.e30.", header(not_allowed));
            assert_eq!(precheck(&token).err(), Some(AuthError::AlgorithmNotAllowed), "{not_allowed}");
        }
    }

    #[test]
    fn library_errors_map_to_specific_refusals() {
        assert_eq!(map_jwt_error(&ErrorKind::ExpiredSignature), AuthError::Expired);
        assert_eq!(map_jwt_error(&ErrorKind::ImmatureSignature), AuthError::NotYetValid);
        assert_eq!(
            map_jwt_error(&ErrorKind::MissingRequiredClaim("aud".into())),
            AuthError::MissingClaim("aud")
        );
        assert_eq!(map_jwt_error(&ErrorKind::InvalidClaimFormat("exp".into())), AuthError::Malformed);
        assert_eq!(map_jwt_error(&ErrorKind::InvalidToken), AuthError::Malformed);
    }
}
