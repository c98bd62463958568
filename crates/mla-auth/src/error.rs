//! Why a token was refused, why the verifier could not be set up, and why a development token could not
//! be minted.

use std::path::PathBuf;

/// Why a token was refused. The variants are specific so that logs and metrics can tell an expired
/// token from a forged one; what goes back to the caller is [`AuthError::description`], a fixed text
/// that never echoes the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token was presented")]
    Missing,
    #[error("the token is longer than the limit")]
    TooLarge,
    #[error("the token is not a well-formed JWS compact serialization")]
    Malformed,
    #[error("the token's algorithm is not the one its key is pinned to")]
    AlgorithmNotAllowed,
    #[error("the token names a signing key that is not known")]
    UnknownKey,
    #[error("the token names no key id and more than one key is configured")]
    MissingKeyId,
    #[error("no signing keys are available: the identity provider has not been reached yet")]
    KeysUnavailable,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    #[error("the token is meant for another audience")]
    WrongAudience,
    #[error("the token lacks the required claim {0:?}")]
    MissingClaim(&'static str),
    /// The role name, cut to a few dozen characters so that a hostile token cannot flood the log.
    #[error("the token carries the role {0:?}, which the broker does not know")]
    UnknownRole(String),
    /// The claims are well formed but do not make a principal (for instance the partner role without a
    /// partner claim); the text is the domain's reason.
    #[error("the token's claims do not describe a valid principal: {0}")]
    InvalidPrincipal(String),
}

impl AuthError {
    /// A short fixed text for `WWW-Authenticate: Bearer error="invalid_token", error_description="..."`.
    /// It contains no quote or backslash, so it can be placed in a quoted string as is, and it never
    /// carries anything taken from the token.
    pub fn description(&self) -> &'static str {
        match self {
            AuthError::Missing => "no bearer token was presented",
            AuthError::TooLarge => "the token is too large",
            AuthError::Malformed => "the token is malformed",
            AuthError::AlgorithmNotAllowed => "the token's algorithm is not allowed",
            AuthError::UnknownKey => "the token's signing key is not known",
            AuthError::MissingKeyId => "the token names no key id",
            AuthError::KeysUnavailable => "no signing keys are available",
            AuthError::BadSignature => "the token's signature is invalid",
            AuthError::Expired => "the token has expired",
            AuthError::NotYetValid => "the token is not valid yet",
            AuthError::WrongIssuer => "the token's issuer is not accepted",
            AuthError::WrongAudience => "the token's audience is not accepted",
            AuthError::MissingClaim(_) => "the token lacks a required claim",
            AuthError::UnknownRole(_) => "the token carries an unknown role",
            AuthError::InvalidPrincipal(_) => "the token's claims do not describe a valid principal",
        }
    }

    /// The value of a `WWW-Authenticate` challenge (RFC 6750 section 3). A request that presented no
    /// token gets a bare `Bearer` challenge, as the RFC asks; every other refusal is `invalid_token`.
    pub fn www_authenticate(&self) -> String {
        match self {
            AuthError::Missing => "Bearer".to_owned(),
            other => format!("Bearer error=\"invalid_token\", error_description=\"{}\"", other.description()),
        }
    }

    /// True when the refusal is the broker's own trouble (its identity provider could not be reached)
    /// rather than the caller's; transports may answer "unavailable" instead of "unauthenticated".
    pub fn is_unavailable(&self) -> bool {
        matches!(self, AuthError::KeysUnavailable)
    }
}

/// Why a [`Verifier`](crate::Verifier) could not be built. These are operator mistakes, reported at
/// start-up with enough detail to fix them.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error("invalid token configuration: {0}")]
    InvalidConfig(String),
    #[error(
        "the HS256 secret is {len} bytes long; at least {min} bytes are required",
        min = crate::MIN_HS256_SECRET_BYTES
    )]
    WeakSecret { len: usize },
    #[error("cannot read the key file {}", path.display())]
    ReadKeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the key file {} cannot be used: {reason}", path.display())]
    KeyFile { path: PathBuf, reason: String },
    #[error("the JWKS URL {url:?} cannot be used: {reason}")]
    JwksUrl { url: String, reason: String },
    #[error("cannot build the HTTP client for JWKS fetching: {0}")]
    HttpClient(String),
}

/// Why a development token could not be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    #[error(
        "the HS256 secret is {len} bytes long; at least {min} bytes are required",
        min = crate::MIN_HS256_SECRET_BYTES
    )]
    WeakSecret { len: usize },
    #[error("the claims do not describe a valid principal: {0}")]
    InvalidPrincipal(String),
    #[error("the token lifetime must be between one second and one year")]
    InvalidTtl,
    #[error("the token could not be encoded: {0}")]
    Encoding(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_fit_in_a_quoted_string_and_name_nothing_from_the_token() {
        let hostile = "\"evil\\ role\r\nSet-Cookie: x".to_owned();
        let all = [
            AuthError::Missing,
            AuthError::TooLarge,
            AuthError::Malformed,
            AuthError::AlgorithmNotAllowed,
            AuthError::UnknownKey,
            AuthError::MissingKeyId,
            AuthError::KeysUnavailable,
            AuthError::BadSignature,
            AuthError::Expired,
            AuthError::NotYetValid,
            AuthError::WrongIssuer,
            AuthError::WrongAudience,
            AuthError::MissingClaim("exp"),
            AuthError::UnknownRole(hostile.clone()),
            AuthError::InvalidPrincipal(hostile.clone()),
        ];
        for error in all {
            let text = error.description();
            assert!(!text.is_empty());
            assert!(
                text.chars().all(|c| c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\'),
                "{text:?}"
            );
            assert!(!error.www_authenticate().contains("evil"));
        }
        assert_eq!(AuthError::Missing.www_authenticate(), "Bearer");
        assert_eq!(
            AuthError::Expired.www_authenticate(),
            "Bearer error=\"invalid_token\", error_description=\"the token has expired\""
        );
    }
}
