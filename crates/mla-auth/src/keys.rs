//! Verification keys, each pinned to one algorithm, and how they are read from an HS256 secret, a PEM
//! public key or a JWKS document.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde::Deserialize;

use crate::{MIN_HS256_SECRET_BYTES, MIN_RSA_BITS};

/// One key and the one algorithm it verifies.
#[derive(Clone)]
pub(crate) struct VerificationKey {
    pub(crate) kid: Option<String>,
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// What looking a token's key up found.
#[derive(Debug)]
pub(crate) enum Lookup<'a> {
    Found(&'a VerificationKey),
    /// A key was found, but for another algorithm than the token's header names.
    WrongAlgorithm,
    /// The token names a key id that no key has.
    UnknownKid,
    /// The token names no key id and there is more than one key to choose from.
    KidRequired,
    /// There are no keys at all (a JWKS URL not reached yet).
    Empty,
}

/// The keys of one source.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    keys: Vec<VerificationKey>,
}

impl KeySet {
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key for a token whose header names `kid` and `algorithm`.
    ///
    /// A key id may appear more than once (the same RSA key published for RS256 and PS256, say); the
    /// entry for the token's algorithm wins. A key without an id (a PEM file or the HS256 secret) is
    /// then its source's only key and is used whatever id the token names, because there is nothing
    /// to compare the id with.
    pub(crate) fn lookup(&self, kid: Option<&str>, algorithm: Algorithm) -> Lookup<'_> {
        if self.keys.is_empty() {
            return Lookup::Empty;
        }
        let only_key_without_id = match self.keys.as_slice() {
            [only] if only.kid.is_none() => Some(only),
            _ => None,
        };
        match kid {
            Some(kid) => {
                let named = self.keys.iter().filter(|key| key.kid.as_deref() == Some(kid));
                pick(named, algorithm)
                    .or_else(|| pick(only_key_without_id.into_iter(), algorithm))
                    .unwrap_or(Lookup::UnknownKid)
            }
            None => match self.keys.as_slice() {
                [only] => pick(std::iter::once(only), algorithm).unwrap_or(Lookup::KidRequired),
                _ => Lookup::KidRequired,
            },
        }
    }

    /// The development key.
    pub(crate) fn from_hs256_secret(secret: &[u8]) -> Result<Self, usize> {
        if secret.len() < MIN_HS256_SECRET_BYTES {
            return Err(secret.len());
        }
        let key = DecodingKey::from_secret(secret).map_err(|_| secret.len())?;
        Ok(Self { keys: vec![VerificationKey { kid: None, algorithm: Algorithm::HS256, key }] })
    }

    /// The keys of a key file: a JWKS document when it looks like JSON, otherwise one PEM public key.
    pub(crate) fn from_key_file(contents: &[u8]) -> Result<Self, String> {
        let looks_like_json = contents.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let set = if looks_like_json {
            Self::from_jwks_json(contents)?
        } else {
            Self { keys: vec![key_from_pem(contents)?] }
        };
        if set.is_empty() {
            return Err("the JWKS document holds no usable signature key".into());
        }
        Ok(set)
    }

    /// The usable keys of a JWKS document. Keys that are not for signatures, are symmetric, use an
    /// unsupported algorithm or curve, or are too weak are skipped with a warning, so that one odd
    /// entry published by an identity provider does not lock everyone out.
    pub(crate) fn from_jwks_json(document: &[u8]) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct RawJwkSet {
            keys: Vec<serde_json::Value>,
        }
        let raw: RawJwkSet = serde_json::from_slice(document)
            .map_err(|e| format!("not a JWKS document (a JSON object with a \"keys\" array): {e}"))?;
        let mut keys = Vec::with_capacity(raw.keys.len());
        for (index, entry) in raw.keys.into_iter().enumerate() {
            let kid = entry.get("kid").and_then(|kid| kid.as_str()).map(str::to_owned);
            let parsed = serde_json::from_value::<Jwk>(entry)
                .map_err(|e| format!("not a JWK: {e}"))
                .and_then(|jwk| key_from_jwk(&jwk));
            match parsed {
                Ok(key) => keys.push(key),
                Err(reason) => {
                    tracing::warn!(index, ?kid, %reason, "skipping a JWKS key the broker cannot use");
                }
            }
        }
        Ok(Self { keys })
    }
}

/// The candidate for `algorithm` among keys that match the token's key id; `None` when there is no
/// candidate at all.
fn pick<'a>(
    candidates: impl Iterator<Item = &'a VerificationKey>,
    algorithm: Algorithm,
) -> Option<Lookup<'a>> {
    let mut any = false;
    for key in candidates {
        if key.algorithm == algorithm {
            return Some(Lookup::Found(key));
        }
        any = true;
    }
    any.then_some(Lookup::WrongAlgorithm)
}

/// A key from one JWK. The algorithm is the JWK's `alg` when present (and it must fit the key type),
/// otherwise the one the key type implies: RS256 for RSA, ES256 for P-256, ES384 for P-384, EdDSA
/// for Ed25519.
fn key_from_jwk(jwk: &Jwk) -> Result<VerificationKey, String> {
    if let Some(key_use) = &jwk.common.public_key_use
        && *key_use != PublicKeyUse::Signature
    {
        return Err("the key is not for signatures (use is not \"sig\")".into());
    }
    if let Some(operations) = &jwk.common.key_operations
        && !operations.contains(&KeyOperations::Verify)
    {
        return Err("the key's key_ops do not include \"verify\"".into());
    }
    let implied = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(params) => match params.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return Err("the elliptic curve is not supported (use P-256 or P-384)".into()),
        },
        AlgorithmParameters::OctetKeyPair(params) => match params.curve {
            EllipticCurve::Ed25519 => Algorithm::EdDSA,
            _ => return Err("the curve is not supported (use Ed25519)".into()),
        },
        // A shared secret in a published key set would let anyone who can read it mint tokens; the
        // HS256 secret is configured on its own, never through a JWKS.
        AlgorithmParameters::OctetKey(_) => return Err("symmetric keys are not accepted from a JWKS".into()),
        _ => return Err("the key type is not supported".into()),
    };
    let algorithm = match jwk.common.key_algorithm {
        None => implied,
        Some(declared) => {
            let declared = signature_algorithm(declared)
                .ok_or_else(|| format!("the algorithm {declared} is not a supported signature algorithm"))?;
            // An RSA key may be meant for RS* or PS*; an EC key's algorithm is fixed by its curve.
            let fits = match implied.family() {
                AlgorithmFamily::Rsa => declared.family() == AlgorithmFamily::Rsa,
                _ => declared == implied,
            };
            if !fits {
                return Err(format!("the algorithm {declared:?} does not fit the key type"));
            }
            declared
        }
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("the key material is invalid: {e}"))?;
    check_usable(&key, algorithm)?;
    Ok(VerificationKey { kid: jwk.common.key_id.clone(), algorithm, key })
}

fn signature_algorithm(declared: KeyAlgorithm) -> Option<Algorithm> {
    let algorithm = Algorithm::try_from(declared).ok()?;
    (algorithm.family() != AlgorithmFamily::Hmac).then_some(algorithm)
}

/// A key from one PEM public key, its algorithm decided by its type.
fn key_from_pem(pem: &[u8]) -> Result<VerificationKey, String> {
    let text = std::str::from_utf8(pem).map_err(|_| "the file is neither a JWKS document nor PEM text")?;
    match text.matches("-----BEGIN ").count() {
        0 => return Err("the file is neither a JWKS document nor a PEM public key".into()),
        1 => {}
        _ => return Err("the file holds more than one PEM block; use a JWKS file for several keys".into()),
    }
    // A private key would "work" for RSA (the library digs the modulus out of it) but must not sit on
    // a verifier's disk: refuse it with a message that says what to do instead.
    if text.contains("PRIVATE KEY-----") {
        return Err("the file holds a private key; configure the public key (openssl pkey -pubout)".into());
    }
    if !text.contains("-----BEGIN PUBLIC KEY-----") && !text.contains("-----BEGIN RSA PUBLIC KEY-----") {
        return Err("the PEM block is not a public key (expected BEGIN PUBLIC KEY)".into());
    }
    let (key, algorithm) = if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        (key, Algorithm::RS256)
    } else if let Ok(key) = DecodingKey::from_ec_pem(pem) {
        // The library keeps the SEC1 point: 1 + 2 * 32 bytes for P-256, 1 + 2 * 48 for P-384.
        let algorithm = match key.try_get_as_bytes().map(<[u8]>::len) {
            Ok(65) => Algorithm::ES256,
            Ok(97) => Algorithm::ES384,
            _ => return Err("the elliptic curve is not supported (use P-256 or P-384)".into()),
        };
        (key, algorithm)
    } else if let Ok(key) = DecodingKey::from_ed_pem(pem) {
        (key, Algorithm::EdDSA)
    } else {
        return Err("the public key is not RSA, EC (P-256, P-384) or Ed25519".into());
    };
    check_usable(&key, algorithm)?;
    Ok(VerificationKey { kid: None, algorithm, key })
}

/// Refuses keys that could never verify anything, and RSA keys below [`MIN_RSA_BITS`], at load time
/// rather than on the first token.
fn check_usable(key: &DecodingKey, algorithm: Algorithm) -> Result<(), String> {
    if algorithm.family() == AlgorithmFamily::Rsa {
        let bits = rsa_modulus_bits(key).ok_or("the RSA key cannot be parsed")?;
        if bits < MIN_RSA_BITS {
            return Err(format!("the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"));
        }
    }
    if algorithm == Algorithm::EdDSA && !is_ed25519_public_key(key) {
        return Err("an Ed25519 public key is 32 bytes".into());
    }
    // Building a verifier parses EC and Ed25519 points; a probe signature that cannot match tells a
    // broken key (an error) from a working one (a plain "does not verify").
    jsonwebtoken::crypto::verify("AA", b"probe", key, algorithm)
        .map(|_| ())
        .map_err(|e| format!("the key cannot verify {algorithm:?} signatures: {e}"))
}

/// Whether an Ed25519 key holds the 32 bytes of a public key. The library slices the key to 32 bytes
/// unchecked: it panics on a shorter one (a JWKS `x` of 31 bytes, found by fuzzing) and ignores the
/// rest of a longer one.
pub(crate) fn is_ed25519_public_key(key: &DecodingKey) -> bool {
    key.try_get_as_bytes().is_ok_and(|bytes| bytes.len() == 32)
}

fn rsa_modulus_bits(key: &DecodingKey) -> Option<usize> {
    let jwk = Jwk::from_decoding_key(key, None).ok()?;
    let AlgorithmParameters::RSA(params) = jwk.algorithm else {
        return None;
    };
    let modulus = URL_SAFE_NO_PAD.decode(params.n.as_bytes()).ok()?;
    let first = modulus.iter().position(|&byte| byte != 0)?;
    let significant = &modulus[first..];
    Some(significant.len() * 8 - significant[0].leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: Option<&str>, algorithm: Algorithm) -> VerificationKey {
        VerificationKey {
            kid: kid.map(str::to_owned),
            algorithm,
            key: DecodingKey::from_secret(&[7; 32]).unwrap(),
        }
    }

    fn found(lookup: Lookup<'_>) -> Option<(Option<String>, Algorithm)> {
        match lookup {
            Lookup::Found(key) => Some((key.kid.clone(), key.algorithm)),
            _ => None,
        }
    }

    #[test]
    fn lookup_pins_the_algorithm_and_needs_a_kid_among_several_keys() {
        let set = KeySet {
            keys: vec![
                key(Some("a"), Algorithm::RS256),
                key(Some("a"), Algorithm::PS256),
                key(Some("b"), Algorithm::ES256),
            ],
        };
        assert_eq!(
            found(set.lookup(Some("a"), Algorithm::PS256)),
            Some((Some("a".into()), Algorithm::PS256))
        );
        assert!(matches!(set.lookup(Some("b"), Algorithm::HS256), Lookup::WrongAlgorithm));
        assert!(matches!(set.lookup(Some("c"), Algorithm::ES256), Lookup::UnknownKid));
        assert!(matches!(set.lookup(None, Algorithm::ES256), Lookup::KidRequired));
        assert!(matches!(KeySet::default().lookup(None, Algorithm::ES256), Lookup::Empty));
    }

    #[test]
    fn a_single_key_serves_tokens_without_kid_and_a_key_without_id_serves_any_kid() {
        let named = KeySet { keys: vec![key(Some("a"), Algorithm::ES256)] };
        assert!(found(named.lookup(None, Algorithm::ES256)).is_some());
        assert!(matches!(named.lookup(None, Algorithm::RS256), Lookup::WrongAlgorithm));
        assert!(matches!(named.lookup(Some("z"), Algorithm::ES256), Lookup::UnknownKid));
        let anonymous = KeySet { keys: vec![key(None, Algorithm::HS256)] };
        assert!(found(anonymous.lookup(Some("whatever"), Algorithm::HS256)).is_some());
        assert!(matches!(anonymous.lookup(Some("whatever"), Algorithm::RS256), Lookup::WrongAlgorithm));
    }

    #[test]
    fn jwks_entries_that_are_not_signature_keys_are_skipped() {
        let document = serde_json::json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA", "kid": "sym"},
            {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA", "kid": "p521"},
            {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": "not-on-curve"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "tiny", "alg": "RS256"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "enc", "use": "enc"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "oaep", "alg": "RSA-OAEP"},
            {"kty": "weird", "kid": 5},
            "not even an object"
        ]});
        let set = KeySet::from_jwks_json(document.to_string().as_bytes()).unwrap();
        assert!(set.is_empty(), "{set:?}");
        assert!(KeySet::from_key_file(document.to_string().as_bytes()).is_err());
        assert!(KeySet::from_jwks_json(b"[]").is_err());
        assert!(KeySet::from_jwks_json(b"{\"keys\": 5}").is_err());
    }

    #[test]
    fn ed25519_keys_of_another_length_are_skipped_not_a_panic() {
        let x = |len: usize| URL_SAFE_NO_PAD.encode(vec![0x42; len]);
        let document = serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": x(31), "kid": "short"},
            {"kty": "OKP", "crv": "Ed25519", "x": x(33), "kid": "long"},
            {"kty": "OKP", "crv": "Ed25519", "x": "", "kid": "empty"},
        ]});
        let set = KeySet::from_jwks_json(document.to_string().as_bytes()).unwrap();
        assert!(set.is_empty(), "{set:?}");
        let jws = "eyJhbGciOiJFZERTQSIsImtpZCI6InNob3J0In0.e30.AA";
        assert!(crate::verify_jws(&document.to_string(), jws).is_err());
    }

    #[test]
    fn short_hs256_secrets_are_refused() {
        assert_eq!(KeySet::from_hs256_secret(b"short").unwrap_err(), 5);
        assert_eq!(KeySet::from_hs256_secret(&[1; 32]).unwrap().len(), 1);
    }
}
