//! The broker's own signing key (Ed25519): what it signs (upload receipts, evidence packages' manifests)
//! any partner can check offline with any JOSE library against the JWKS it publishes.
//!
//! Signatures are compact JWS (RFC 7515) with `alg: EdDSA` (RFC 8037) and the key's RFC 7638 thumbprint
//! as `kid`. Ed25519 signatures are deterministic, so signing the same payload again gives the same JWS.

use std::fs;
use std::io;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde::Serialize;
use sha2::Digest as _;

/// The development signing key's file name inside the data directory.
pub const DEV_SIGNING_KEY_FILE: &str = "dev-signing-key.pem";

/// The broker's Ed25519 signing key and what it publishes of it.
#[derive(Clone)]
pub struct BrokerKey {
    encoding: EncodingKey,
    /// The public key, base64url (the JWK's `x`).
    x: String,
    kid: String,
}

impl std::fmt::Debug for BrokerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// One public key as a JWK (RFC 8037's OKP form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
}

impl BrokerKey {
    /// Reads a PKCS#8 PEM Ed25519 private key (`openssl genpkey -algorithm ed25519`).
    pub fn from_pem(pem: &str) -> io::Result<Self> {
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| io::Error::other(format!("not a PKCS#8 PEM Ed25519 private key: {e}")))?;
        Self::from_signing_key(&key)
    }

    /// Reads the key file an operator configured.
    pub fn from_file(path: &Path) -> io::Result<Self> {
        let pem = fs::read_to_string(path)?;
        Self::from_pem(&pem).map_err(|e| io::Error::other(format!("{}: {e}", path.display())))
    }

    fn from_signing_key(key: &ed25519_dalek::SigningKey) -> io::Result<Self> {
        let der = key.to_pkcs8_der().map_err(|e| io::Error::other(e.to_string()))?;
        let x = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
        // RFC 7638: the SHA-256 of the required members in lexicographic order, without spaces.
        let thumbprint_input = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(thumbprint_input.as_bytes()));
        Ok(Self { encoding: EncodingKey::from_ed_der(der.as_bytes()), x, kid })
    }

    /// The development key: read from `data_dir/dev-signing-key.pem`, or created there once (mode 0600
    /// on unix). A file that exists but holds no usable key is an error rather than overwritten, since
    /// receipts signed with it may be in partners' hands.
    pub fn development(data_dir: &Path) -> io::Result<Self> {
        let path = data_dir.join(DEV_SIGNING_KEY_FILE);
        match fs::read_to_string(&path) {
            Ok(pem) => return Self::from_pem(&pem),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        fs::create_dir_all(data_dir)?;
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|e| io::Error::other(format!("no randomness for the key: {e}")))?;
        let key = ed25519_dalek::SigningKey::from_bytes(&secret);
        let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| io::Error::other(e.to_string()))?;
        match crate::dev::create_private(&path, pem.as_bytes()) {
            Ok(()) => {
                tracing::warn!(
                    path = %path.display(),
                    "created a development signing key: receipts and packages signed with it are for development only"
                );
                Self::from_signing_key(&key)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Self::from_pem(&fs::read_to_string(&path)?),
            Err(e) => Err(e),
        }
    }

    /// The key's id: its RFC 7638 JWK thumbprint (SHA-256, base64url).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK.
    pub fn public_jwk(&self) -> PublicJwk {
        PublicJwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: self.x.clone(),
            kid: self.kid.clone(),
            alg: "EdDSA".into(),
            use_: "sig".into(),
        }
    }

    /// The JWKS document (`{"keys": [...]}`) that `/.well-known/jwks.json` serves.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.public_jwk()] })
    }

    /// A compact JWS of `payload` (its exact bytes) with `typ` in the protected header.
    pub fn sign(&self, typ: &str, payload: &[u8]) -> String {
        let header = serde_json::json!({ "alg": "EdDSA", "kid": self.kid, "typ": typ });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string().as_bytes()),
            URL_SAFE_NO_PAD.encode(payload)
        );
        // The key was checked when it was read; Ed25519 signing itself cannot fail.
        let signature =
            jsonwebtoken::crypto::sign(signing_input.as_bytes(), &self.encoding, Algorithm::EdDSA)
                .expect("an Ed25519 key read at start signs");
        format!("{signing_input}.{signature}")
    }
}

/// Checks a compact JWS offline against a JWKS document (`alg` EdDSA, `kid` one of the set's keys) and
/// returns its payload's bytes, or why it does not verify.
pub fn verify_jws(jwks: &str, jws: &str) -> Result<Vec<u8>, String> {
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_str(jwks).map_err(|e| format!("not a JWKS: {e}"))?;
    let header = jsonwebtoken::decode_header(jws.trim()).map_err(|e| format!("not a compact JWS: {e}"))?;
    if header.alg != Algorithm::EdDSA {
        return Err(format!("signed with {:?}, not EdDSA", header.alg));
    }
    let kid = header.kid.ok_or("the JWS names no key (kid)")?;
    let jwk = set.find(&kid).ok_or_else(|| format!("the JWKS has no key {kid}"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| format!("key {kid}: {e}"))?;
    if !crate::keys::is_ed25519_public_key(&key) {
        return Err(format!("key {kid} is not an Ed25519 public key (32 bytes)"));
    }
    let (signing_input, signature) = jws.trim().rsplit_once('.').ok_or("not a compact JWS")?;
    let (_, payload) = signing_input.split_once('.').ok_or("not a compact JWS")?;
    let genuine = jsonwebtoken::crypto::verify(signature, signing_input.as_bytes(), &key, Algorithm::EdDSA)
        .map_err(|e| format!("cannot check the signature: {e}"))?;
    if !genuine {
        return Err("the signature does not match: the content was changed or signed by another key".into());
    }
    URL_SAFE_NO_PAD.decode(payload).map_err(|e| format!("the payload is not base64url: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, jwk::Jwk};

    #[test]
    fn the_development_key_is_made_once_private_and_signs_what_its_jwk_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let key = BrokerKey::development(dir.path()).unwrap();
        assert_eq!(BrokerKey::development(dir.path()).unwrap().kid(), key.kid());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(DEV_SIGNING_KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let jws = key.sign("JWT", br#"{"document_id":"d"}"#);
        let jwk: Jwk = serde_json::from_value(serde_json::to_value(key.public_jwk()).unwrap()).unwrap();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let decoded = jsonwebtoken::decode::<serde_json::Value>(
            &jws,
            &DecodingKey::from_jwk(&jwk).unwrap(),
            &validation,
        );
        assert_eq!(decoded.unwrap().claims["document_id"], "d");
        assert_eq!(key.sign("JWT", b"{}"), key.sign("JWT", b"{}"), "Ed25519 is deterministic");
        let jwks = key.jwks().to_string();
        assert_eq!(verify_jws(&jwks, &jws).unwrap(), br#"{"document_id":"d"}"#);
        let (head, rest) = jws.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        // `e30` is `{}`: another payload under the same signature.
        assert!(verify_jws(&jwks, &format!("{head}.e30.{signature}")).is_err());
    }

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        // RFC 8037 appendix A.1/A.3: this key's thumbprint is kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k.
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n";
        let key = BrokerKey::from_pem(pem).unwrap();
        assert_eq!(key.public_jwk().x, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        assert!(BrokerKey::from_pem("not a key").is_err());
    }
}
