//! Registered and broker claims, checked through an HS256 verifier: who a valid token speaks for, and
//! every way a token that is signed correctly is still refused.

mod common;

use common::*;
use mla_auth::AuthError;
use mla_domain::{PartnerCode, Role};
use serde_json::{Value, json};

async fn verify(claims: &Value) -> Result<mla_domain::Principal, AuthError> {
    hs256_verifier().await.verify(&hs256(claims)).await
}

#[tokio::test]
async fn a_staff_token_gives_a_staff_principal_with_its_roles() {
    let principal = verify(&staff_claims(&["registrar", "judge"])).await.unwrap();
    assert_eq!(principal.subject(), "alice");
    assert!(principal.is_ncijc());
    assert!(principal.has_role(Role::Registrar) && principal.has_role(Role::Judge));
    assert!(!principal.has_role(Role::Admin));
    assert_eq!(principal.partner_code(), None);
}

#[tokio::test]
async fn a_partner_token_gives_a_partner_principal_with_its_code() {
    let claims = with(staff_claims(&["partner"]), "partner", json!("FR-MOJ"));
    let principal = verify(&claims).await.unwrap();
    assert!(!principal.is_ncijc());
    assert_eq!(principal.partner_code(), Some(&PartnerCode::parse("FR-MOJ").unwrap()));
}

#[tokio::test]
async fn keycloak_realm_roles_count_and_its_builtins_are_skipped() {
    let claims = with(
        with(staff_claims(&[]), "roles", Value::Null),
        "realm_access",
        json!({"roles": ["offline_access", "default-roles-ncijc", "uma_authorization", "evidence_officer"]}),
    );
    let claims = with(claims, "aud", json!(["account", AUDIENCE]));
    let principal = verify(&claims).await.unwrap();
    assert_eq!(principal.role_names(), vec!["evidence_officer"]);

    let smuggled = with(claims, "realm_access", json!({"roles": ["evidence_officer", "realm-admin"]}));
    assert_eq!(verify(&smuggled).await, Err(AuthError::UnknownRole("realm-admin".into())));
}

#[tokio::test]
async fn an_unknown_role_refuses_the_token() {
    assert_eq!(
        verify(&staff_claims(&["judge", "superuser"])).await,
        Err(AuthError::UnknownRole("superuser".into()))
    );
}

#[tokio::test]
async fn roles_that_make_no_principal_are_refused() {
    // The partner role without a partner claim.
    assert!(matches!(verify(&staff_claims(&["partner"])).await, Err(AuthError::InvalidPrincipal(_))));
    // A partner claim on a staff token, and partner mixed with staff roles.
    let staff_with_code = with(staff_claims(&["judge"]), "partner", json!("FR-MOJ"));
    assert!(matches!(verify(&staff_with_code).await, Err(AuthError::InvalidPrincipal(_))));
    let mixed = with(staff_claims(&["partner", "admin"]), "partner", json!("FR-MOJ"));
    assert!(matches!(verify(&mixed).await, Err(AuthError::InvalidPrincipal(_))));
    // No roles at all.
    assert!(matches!(verify(&staff_claims(&[])).await, Err(AuthError::InvalidPrincipal(_))));
    let bad_code = with(staff_claims(&["partner"]), "partner", json!("fr; drop table"));
    assert!(matches!(verify(&bad_code).await, Err(AuthError::InvalidPrincipal(_))));
}

#[tokio::test]
async fn expired_tokens_are_refused_but_the_leeway_is_honoured() {
    let expired = with(staff_claims(&["judge"]), "exp", json!(now() - 120));
    assert_eq!(verify(&expired).await, Err(AuthError::Expired));
    // The default leeway is 30 seconds.
    let just_expired = with(staff_claims(&["judge"]), "exp", json!(now() - 10));
    assert!(verify(&just_expired).await.is_ok());
}

#[tokio::test]
async fn tokens_not_valid_yet_are_refused_beyond_the_leeway() {
    let future = with(staff_claims(&["judge"]), "nbf", json!(now() + 120));
    assert_eq!(verify(&future).await, Err(AuthError::NotYetValid));
    let almost = with(staff_claims(&["judge"]), "nbf", json!(now() + 10));
    assert!(verify(&almost).await.is_ok());
}

#[tokio::test]
async fn issuer_and_audience_must_be_ours() {
    let other_issuer = with(staff_claims(&["judge"]), "iss", json!("https://evil.example.test"));
    assert_eq!(verify(&other_issuer).await, Err(AuthError::WrongIssuer));
    let other_audience = with(staff_claims(&["judge"]), "aud", json!("another-service"));
    assert_eq!(verify(&other_audience).await, Err(AuthError::WrongAudience));
    let audiences_without_us = with(staff_claims(&["judge"]), "aud", json!(["account", "billing"]));
    assert_eq!(verify(&audiences_without_us).await, Err(AuthError::WrongAudience));
    let audiences_with_us = with(staff_claims(&["judge"]), "aud", json!(["account", AUDIENCE]));
    assert!(verify(&audiences_with_us).await.is_ok());
    // A JWT has one issuer; an array that merely contains ours is not accepted.
    let issuer_list = with(staff_claims(&["judge"]), "iss", json!([ISSUER, "https://evil.example.test"]));
    assert_eq!(verify(&issuer_list).await, Err(AuthError::Malformed));
}

#[tokio::test]
async fn required_claims_must_be_present() {
    for (claim, expected) in [("exp", "exp"), ("iss", "iss"), ("aud", "aud"), ("sub", "sub")] {
        let claims = with(staff_claims(&["judge"]), claim, Value::Null);
        assert_eq!(verify(&claims).await, Err(AuthError::MissingClaim(expected)), "{claim}");
    }
}

#[tokio::test]
async fn claims_of_the_wrong_type_are_malformed() {
    for (claim, value) in [
        ("exp", json!("tomorrow")),
        ("nbf", json!("yesterday")),
        ("roles", json!("judge")),
        ("sub", json!(42)),
        ("aud", json!(7)),
    ] {
        let claims = with(staff_claims(&["judge"]), claim, value);
        assert_eq!(verify(&claims).await, Err(AuthError::Malformed), "{claim}");
    }
}

#[tokio::test]
async fn a_tampered_payload_does_not_verify() {
    let token = hs256(&staff_claims(&["registrar"]));
    let parts: Vec<&str> = token.split('.').collect();
    let promoted = b64(serde_json::to_vec(&staff_claims(&["admin"])).unwrap());
    let tampered = format!("{}.{}.{}", parts[0], promoted, parts[2]);
    assert_eq!(hs256_verifier().await.verify(&tampered).await, Err(AuthError::BadSignature));
}

#[tokio::test]
async fn a_token_signed_with_another_secret_does_not_verify() {
    let other = jsonwebtoken::EncodingKey::from_secret(b"another-secret-of-enough-length-000").unwrap();
    let token = sign(jsonwebtoken::Algorithm::HS256, &other, None, &staff_claims(&["judge"]));
    assert_eq!(hs256_verifier().await.verify(&token).await, Err(AuthError::BadSignature));
}

#[tokio::test]
async fn the_secret_is_pinned_to_hs256() {
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET).unwrap();
    for algorithm in [jsonwebtoken::Algorithm::HS384, jsonwebtoken::Algorithm::HS512] {
        let token = sign(algorithm, &key, None, &staff_claims(&["judge"]));
        assert_eq!(
            hs256_verifier().await.verify(&token).await,
            Err(AuthError::AlgorithmNotAllowed),
            "{algorithm:?}"
        );
    }
}

#[tokio::test]
async fn the_only_key_without_an_id_serves_tokens_whatever_their_kid() {
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET).unwrap();
    let token = sign(jsonwebtoken::Algorithm::HS256, &key, Some("some-kid"), &staff_claims(&["judge"]));
    assert!(hs256_verifier().await.verify(&token).await.is_ok());
}

#[tokio::test]
async fn alg_none_is_refused_however_it_is_dressed() {
    let payload = b64(serde_json::to_vec(&staff_claims(&["admin"])).unwrap());
    let real = hs256(&staff_claims(&["admin"]));
    let real_signature = real.rsplit('.').next().unwrap();
    let verifier = hs256_verifier().await;
    for header in [
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"None"}"#,
        r#"{"alg":"NONE"}"#,
        r#"{"typ":"JWT","alg":"nOnE"}"#,
    ] {
        for signature in ["", real_signature] {
            let token = format!("{}.{payload}.{signature}", b64(header));
            assert_eq!(
                verifier.verify(&token).await,
                Err(AuthError::AlgorithmNotAllowed),
                "{header} {signature}"
            );
        }
    }
    // The right algorithm with the signature stripped is just malformed.
    let stripped = format!("{}.", real.rsplit_once('.').unwrap().0);
    assert_eq!(verifier.verify(&stripped).await, Err(AuthError::Malformed));
}

#[tokio::test]
async fn unsupported_critical_headers_are_refused() {
    let header = b64(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#);
    let payload = b64(serde_json::to_vec(&staff_claims(&["judge"])).unwrap());
    let signing_input = format!("{header}.{payload}");
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET).unwrap();
    let signature =
        jsonwebtoken::crypto::sign(signing_input.as_bytes(), &key, jsonwebtoken::Algorithm::HS256).unwrap();
    let token = format!("{signing_input}.{signature}");
    assert_eq!(hs256_verifier().await.verify(&token).await, Err(AuthError::Malformed));
}
