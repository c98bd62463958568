//! PEM and JWKS files: each key's algorithm follows from its type and is pinned, so algorithm
//! confusion (HS256 with the RSA public key as the secret, a key used for an algorithm it is not for)
//! is refused before any cryptography.

mod common;

use std::io::Write;

use common::*;
use jsonwebtoken::{Algorithm, EncodingKey};
use mla_auth::{AuthConfig, AuthError, AuthSetupError, KeySource, Verifier};

fn file(name: &str) -> KeySource {
    KeySource::File(fixture_path(name))
}

#[tokio::test]
async fn rs256_tokens_verify_against_an_rsa_public_key_pem() {
    let verifier = verifier(file("rsa-a.pub.pem")).await;
    let token = sign(Algorithm::RS256, &rsa_key("rsa-a"), None, &staff_claims(&["judge"]));
    assert_eq!(verifier.verify(&token).await.unwrap().subject(), "alice");
    // Signed by another RSA key.
    let forged = sign(Algorithm::RS256, &rsa_key("rsa-b"), None, &staff_claims(&["judge"]));
    assert_eq!(verifier.verify(&forged).await, Err(AuthError::BadSignature));
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_as_secret_is_refused() {
    let public_pem = fixture("rsa-a.pub.pem");
    let confused = EncodingKey::from_secret(&public_pem).unwrap();
    let token = sign(Algorithm::HS256, &confused, None, &staff_claims(&["admin"]));
    let verifier = verifier(file("rsa-a.pub.pem")).await;
    assert_eq!(verifier.verify(&token).await, Err(AuthError::AlgorithmNotAllowed));
    // The same with the DER bytes some libraries would use as the "secret".
    let der_ish = EncodingKey::from_secret(&public_pem[27..public_pem.len() - 25]).unwrap();
    let token = sign(Algorithm::HS256, &der_ish, None, &staff_claims(&["admin"]));
    assert_eq!(verifier.verify(&token).await, Err(AuthError::AlgorithmNotAllowed));
}

#[tokio::test]
async fn an_rsa_key_is_pinned_to_rs256_not_to_its_whole_family() {
    let verifier = verifier(file("rsa-a.pub.pem")).await;
    for algorithm in [Algorithm::RS384, Algorithm::RS512, Algorithm::PS256] {
        let token = sign(algorithm, &rsa_key("rsa-a"), None, &staff_claims(&["judge"]));
        assert_eq!(verifier.verify(&token).await, Err(AuthError::AlgorithmNotAllowed), "{algorithm:?}");
    }
}

#[tokio::test]
async fn ec_and_ed25519_keys_get_their_algorithm_from_the_key_type() {
    let cases = [
        ("ec-p256", Algorithm::ES256, ec_key("ec-p256"), Algorithm::ES384),
        ("ec-p384", Algorithm::ES384, ec_key("ec-p384"), Algorithm::ES256),
        ("ed25519", Algorithm::EdDSA, ed_key("ed25519"), Algorithm::ES256),
    ];
    for (name, algorithm, key, wrong) in cases {
        let verifier = verifier(file(&format!("{name}.pub.pem"))).await;
        let token = sign(algorithm, &key, None, &staff_claims(&["auditor"]));
        assert!(verifier.verify(&token).await.is_ok(), "{name}");
        // The header claims another algorithm (the signature is irrelevant: refused before crypto).
        let header = b64(format!(r#"{{"alg":"{wrong:?}","typ":"JWT"}}"#));
        let (_, rest) = token.split_once('.').unwrap();
        assert_eq!(
            verifier.verify(&format!("{header}.{rest}")).await,
            Err(AuthError::AlgorithmNotAllowed),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_jwks_file_picks_keys_by_kid_and_needs_a_kid_among_several() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    let document = jwks(&[
        public_jwk(&rsa_key("rsa-a"), Algorithm::RS256, "rsa-a", true),
        // No `alg`: the key type implies ES256.
        public_jwk(&ec_key("ec-p256"), Algorithm::ES256, "ec-1", false),
    ]);
    std::fs::write(&path, serde_json::to_vec_pretty(&document).unwrap()).unwrap();
    let verifier = verifier(KeySource::File(path)).await;
    assert_eq!(verifier.key_count(), 2);

    let rsa = sign(Algorithm::RS256, &rsa_key("rsa-a"), Some("rsa-a"), &staff_claims(&["judge"]));
    assert!(verifier.verify(&rsa).await.is_ok());
    let ec = sign(Algorithm::ES256, &ec_key("ec-p256"), Some("ec-1"), &staff_claims(&["judge"]));
    assert!(verifier.verify(&ec).await.is_ok());

    let unknown = sign(Algorithm::RS256, &rsa_key("rsa-a"), Some("rsa-z"), &staff_claims(&["judge"]));
    assert_eq!(verifier.verify(&unknown).await, Err(AuthError::UnknownKey));
    let no_kid = sign(Algorithm::RS256, &rsa_key("rsa-a"), None, &staff_claims(&["judge"]));
    assert_eq!(verifier.verify(&no_kid).await, Err(AuthError::MissingKeyId));
    // The EC key's kid with an RSA algorithm, and the RSA key's kid used for HS256 with its JWK as secret.
    let crossed = sign(Algorithm::RS256, &rsa_key("rsa-a"), Some("ec-1"), &staff_claims(&["judge"]));
    assert_eq!(verifier.verify(&crossed).await, Err(AuthError::AlgorithmNotAllowed));
    let confused_secret = serde_json::to_vec(&document["keys"][0]).unwrap();
    let confused = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(&confused_secret).unwrap(),
        Some("rsa-a"),
        &staff_claims(&["admin"]),
    );
    assert_eq!(verifier.verify(&confused).await, Err(AuthError::AlgorithmNotAllowed));
}

async fn setup_error(keys: KeySource) -> AuthSetupError {
    Verifier::new(AuthConfig::new(ISSUER, AUDIENCE, keys)).await.unwrap_err()
}

fn temp_file(contents: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(contents).unwrap();
    file
}

#[tokio::test]
async fn unusable_key_files_stop_the_start_with_a_reason() {
    let weak = setup_error(file("rsa-1024.pub.pem")).await;
    assert!(weak.to_string().contains("1024 bits"), "{weak}");
    let private = setup_error(file("rsa-a.key.pem")).await;
    assert!(private.to_string().contains("private key"), "{private}");

    let two_keys = [fixture("rsa-a.pub.pem"), fixture("rsa-b.pub.pem")].concat();
    let two = temp_file(&two_keys);
    let error = setup_error(KeySource::File(two.path().to_owned())).await;
    assert!(error.to_string().contains("more than one PEM block"), "{error}");

    for garbage in [
        &b""[..],
        b"hello",
        b"\xff\xfe\x00",
        b"{\"keys\": []}",
        b"{not json",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ] {
        let file = temp_file(garbage);
        assert!(
            matches!(
                setup_error(KeySource::File(file.path().to_owned())).await,
                AuthSetupError::KeyFile { .. }
            ),
            "{garbage:?}"
        );
    }
    assert!(matches!(
        setup_error(KeySource::File("/nonexistent/keys.pem".into())).await,
        AuthSetupError::ReadKeyFile { .. }
    ));
    let huge = temp_file(&vec![b' '; 2 * 1024 * 1024]);
    assert!(matches!(
        setup_error(KeySource::File(huge.path().to_owned())).await,
        AuthSetupError::ReadKeyFile { .. }
    ));
}

#[tokio::test]
async fn weak_secrets_and_odd_settings_stop_the_start() {
    assert!(matches!(
        setup_error(KeySource::Hs256Secret(b"short".to_vec())).await,
        AuthSetupError::WeakSecret { len: 5 }
    ));
    let mut config = AuthConfig::new(ISSUER, AUDIENCE, KeySource::Hs256Secret(SECRET.to_vec()));
    config.leeway = std::time::Duration::from_secs(3600);
    assert!(matches!(Verifier::new(config).await, Err(AuthSetupError::InvalidConfig(_))));
    let config = AuthConfig::new("", AUDIENCE, KeySource::Hs256Secret(SECRET.to_vec()));
    assert!(matches!(Verifier::new(config).await, Err(AuthSetupError::InvalidConfig(_))));
    for url in ["not a url", "ftp://idp.example.test/certs", "file:///etc/passwd"] {
        assert!(
            matches!(setup_error(KeySource::jwks_url(url)).await, AuthSetupError::JwksUrl { .. }),
            "{url}"
        );
    }
}
