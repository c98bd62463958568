//! Development mode: the secret under the data directory and the tokens minted with it.

use std::time::Duration;

use mla_auth::{
    AuthConfig, AuthError, DEV_AUDIENCE, DEV_ISSUER, DEV_SECRET_FILE, MintError, Verifier, dev_secret,
    mint_token,
};
use mla_domain::{PartnerCode, Role};

#[test]
fn the_dev_secret_is_created_once_and_then_reused() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("nested/mla-data");
    let first = dev_secret(&data_dir).unwrap();
    assert_eq!(first.len(), 32);
    let stored = std::fs::read_to_string(data_dir.join(DEV_SECRET_FILE)).unwrap();
    assert_eq!(stored.trim(), hex::encode(&first));
    assert_eq!(dev_secret(&data_dir).unwrap(), first);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data_dir.join(DEV_SECRET_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let other_dir = tempfile::tempdir().unwrap();
    assert_ne!(dev_secret(other_dir.path()).unwrap(), first, "each installation gets its own secret");
}

#[test]
fn a_damaged_dev_secret_is_reported_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DEV_SECRET_FILE);
    for contents in ["not hex at all", "abcd", ""] {
        std::fs::write(&path, contents).unwrap();
        let error = dev_secret(dir.path()).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{contents:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), contents);
    }
}

#[tokio::test]
async fn minted_tokens_verify_with_the_development_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dev_secret(dir.path()).unwrap();
    let verifier = Verifier::new(AuthConfig::development(secret.clone())).await.unwrap();

    let staff = mint_token(
        &secret,
        DEV_ISSUER,
        DEV_AUDIENCE,
        "registrar-1",
        &[Role::Registrar, Role::Supervisor],
        None,
        Duration::from_secs(3600),
    )
    .unwrap();
    let principal = verifier.verify(&staff).await.unwrap();
    assert_eq!(principal.subject(), "registrar-1");
    assert_eq!(principal.role_names(), vec!["registrar", "supervisor"]);

    let code = PartnerCode::parse("UN-IIIM").unwrap();
    let partner = mint_token(
        &secret,
        DEV_ISSUER,
        DEV_AUDIENCE,
        "iiim-system",
        &[Role::Partner],
        Some(&code),
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(verifier.verify(&partner).await.unwrap().partner_code(), Some(&code));

    let payload: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            partner.split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    for claim in ["iss", "aud", "sub", "roles", "partner", "iat", "nbf", "exp"] {
        assert!(payload.get(claim).is_some(), "{claim} missing from {payload}");
    }
    assert_eq!(payload["exp"].as_u64().unwrap() - payload["iat"].as_u64().unwrap(), 60);

    // Another installation's secret does not verify here.
    let elsewhere = tempfile::tempdir().unwrap();
    let foreign = mint_token(
        &dev_secret(elsewhere.path()).unwrap(),
        DEV_ISSUER,
        DEV_AUDIENCE,
        "x",
        &[Role::Admin],
        None,
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(verifier.verify(&foreign).await, Err(AuthError::BadSignature));
}

#[test]
fn tokens_the_broker_would_refuse_are_not_minted() {
    let secret = [9u8; 32];
    let mint = |roles: &[Role], partner: Option<&PartnerCode>, ttl: u64| {
        mint_token(&secret, DEV_ISSUER, DEV_AUDIENCE, "s", roles, partner, Duration::from_secs(ttl))
    };
    let code = PartnerCode::parse("FR-MOJ").unwrap();
    assert!(matches!(mint(&[Role::Partner], None, 60), Err(MintError::InvalidPrincipal(_))));
    assert!(matches!(mint(&[Role::Judge], Some(&code), 60), Err(MintError::InvalidPrincipal(_))));
    assert!(matches!(mint(&[], None, 60), Err(MintError::InvalidPrincipal(_))));
    assert_eq!(mint(&[Role::Judge], None, 0), Err(MintError::InvalidTtl));
    assert_eq!(mint(&[Role::Judge], None, u64::MAX), Err(MintError::InvalidTtl));
    assert_eq!(
        mint_token(b"short", DEV_ISSUER, DEV_AUDIENCE, "s", &[Role::Judge], None, Duration::from_secs(60)),
        Err(MintError::WeakSecret { len: 5 })
    );
}

/// A verified token is remembered (its signature is not checked again on every call), but never past
/// its expiry: the same token, once expired, is refused.
#[tokio::test]
async fn a_remembered_token_still_expires() {
    let secret = vec![7u8; 32];
    let config = AuthConfig { leeway: Duration::ZERO, ..AuthConfig::development(secret.clone()) };
    let verifier = Verifier::new(config).await.unwrap();
    let token = mint_token(
        &secret,
        DEV_ISSUER,
        DEV_AUDIENCE,
        "judge-1",
        &[Role::Judge],
        None,
        Duration::from_secs(1),
    )
    .unwrap();
    assert_eq!(verifier.verify(&token).await.unwrap().subject(), "judge-1");
    assert_eq!(verifier.verify(&token).await.unwrap().subject(), "judge-1", "remembered");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(verifier.verify(&token).await, Err(AuthError::Expired));
}
