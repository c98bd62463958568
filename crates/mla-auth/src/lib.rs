//! Bearer-token verification for the broker: a JWT in, a domain [`Principal`](mla_domain::Principal) out.
//!
//! The rules follow RFC 8725 (JWT best current practices):
//! - `iss`, `aud`, `exp` and `sub` are required; `nbf` is checked when present; a small leeway absorbs
//!   clock skew.
//! - Every key knows its one algorithm, and a token whose header names another algorithm is refused
//!   before any cryptography runs. That closes `alg: none`, the HS256-with-an-RSA-public-key confusion
//!   and any algorithm a key was not issued for.
//! - Tokens are refused cheaply (size, shape, header) before a key is looked up or a signature checked.
//! - A role name the broker does not know is refused, never ignored, so that a misconfigured identity
//!   provider fails loudly instead of granting less (or more) than intended. The only names skipped are
//!   Keycloak's built-in realm roles, see [`claims`].
//!
//! Keys come from an HS256 secret (development), a PEM or JWKS file, or a JWKS URL that is cached for
//! the document's `Cache-Control: max-age` (within configured bounds) and refreshed when that runs out
//! or when a token names an unknown `kid` (at most once per configured interval).
//!
//! This crate knows no transport: the gRPC layer turns an [`AuthError`] into `Unauthenticated` with
//! [`AuthError::www_authenticate`] as the challenge.

pub mod claims;
mod config;
mod dev;
mod error;
mod keys;
mod remote;
mod signing;
mod verifier;

pub use config::{AuthConfig, KeySource};
pub use dev::{DEV_AUDIENCE, DEV_ISSUER, DEV_SECRET_FILE, dev_secret, mint_token};
pub use error::{AuthError, AuthSetupError, MintError};
pub use signing::{BrokerKey, DEV_SIGNING_KEY_FILE, PublicJwk, verify_jws};
pub use verifier::{MAX_TOKEN_BYTES, Verifier, bearer_token};

/// The shortest HS256 secret accepted, in bytes. RFC 7518 section 3.2 requires an HMAC key at least as
/// long as the hash output (256 bits for HS256); shorter secrets are open to brute force.
pub const MIN_HS256_SECRET_BYTES: usize = 32;

/// The smallest RSA modulus accepted, in bits (RFC 7518 section 3.3).
pub const MIN_RSA_BITS: usize = 2048;
