//! A JWKS URL served by a tiny local identity provider: key rotation, refresh on an unknown `kid`, the
//! refresh rate limit, the timed refresh within its bounds, and what happens while the identity
//! provider is down.

mod common;

use std::time::{Duration, Instant};

use common::*;
use jsonwebtoken::Algorithm;
use mla_auth::{AuthError, KeySource};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

fn token(key: &str, kid: &str) -> String {
    sign(Algorithm::RS256, &rsa_key(key), Some(kid), &staff_claims(&["legal_officer"]))
}

fn old_jwk() -> serde_json::Value {
    public_jwk(&rsa_key("rsa-a"), Algorithm::RS256, "old", true)
}

fn new_jwk() -> serde_json::Value {
    public_jwk(&rsa_key("rsa-b"), Algorithm::RS256, "new", false)
}

#[tokio::test]
async fn keys_rotate_without_a_restart() {
    let mut idp = Idp::start(jwks(&[old_jwk()])).await;
    let verifier = verifier(jwks_source(&idp.url, Duration::ZERO)).await;
    assert_eq!(idp.hits(), 1, "one fetch at start-up");
    assert!(verifier.verify(&token("rsa-a", "old")).await.is_ok());
    assert_eq!(idp.hits(), 1, "a known kid needs no fetch");

    // The identity provider publishes a new key next to the old one: a token with the new kid works at
    // once (one refresh), and the old key keeps working.
    idp.publish(jwks(&[old_jwk(), new_jwk()]));
    assert!(verifier.verify(&token("rsa-b", "new")).await.is_ok());
    assert_eq!(idp.hits(), 2);
    assert!(verifier.verify(&token("rsa-a", "old")).await.is_ok());
    assert_eq!(idp.hits(), 2);

    // The old key is withdrawn. Once a refresh has happened, tokens naming it are refused.
    idp.publish(jwks(&[new_jwk()]));
    assert_eq!(verifier.verify(&token("rsa-a", "unheard-of")).await, Err(AuthError::UnknownKey));
    assert_eq!(idp.hits(), 3);
    assert_eq!(verifier.verify(&token("rsa-a", "old")).await, Err(AuthError::UnknownKey));
    assert!(verifier.verify(&token("rsa-b", "new")).await.is_ok());
    // A token signed by the withdrawn key but naming the current kid does not verify either.
    assert_eq!(verifier.verify(&token("rsa-a", "new")).await, Err(AuthError::BadSignature));

    // The identity provider goes away: cached keys keep working, unknown kids are refused.
    idp.stop().await;
    let hits = idp.hits();
    assert!(verifier.verify(&token("rsa-b", "new")).await.is_ok());
    assert_eq!(verifier.verify(&token("rsa-b", "newer")).await, Err(AuthError::UnknownKey));
    assert!(verifier.verify(&token("rsa-b", "new")).await.is_ok());
    assert_eq!(idp.hits(), hits);
}

#[tokio::test]
async fn an_identity_provider_in_trouble_does_not_wipe_the_cache() {
    let idp = Idp::start(jwks(&[old_jwk()])).await;
    let verifier = verifier(jwks_source(&idp.url, Duration::ZERO)).await;

    idp.set_failing(true);
    assert_eq!(verifier.verify(&token("rsa-b", "new")).await, Err(AuthError::UnknownKey));
    assert!(verifier.verify(&token("rsa-a", "old")).await.is_ok());

    // A document with no usable key counts as a failed fetch too.
    idp.set_failing(false);
    idp.publish(serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "new"}]}));
    assert_eq!(verifier.verify(&token("rsa-b", "new")).await, Err(AuthError::UnknownKey));
    assert!(verifier.verify(&token("rsa-a", "old")).await.is_ok());
    idp.publish(serde_json::json!({"not": "a jwks"}));
    assert_eq!(verifier.verify(&token("rsa-b", "new")).await, Err(AuthError::UnknownKey));
    assert!(verifier.verify(&token("rsa-a", "old")).await.is_ok());
    assert_eq!(idp.hits(), 4);
}

#[tokio::test]
async fn hammering_with_unknown_kids_makes_at_most_one_refresh_per_interval() {
    let idp = Idp::start(jwks(&[old_jwk()])).await;
    let verifier = verifier(jwks_source(&idp.url, Duration::from_secs(3600))).await;
    assert_eq!(idp.hits(), 1);

    let mut attempts = JoinSet::new();
    for n in 0..64 {
        let verifier = verifier.clone();
        attempts.spawn(async move { verifier.verify(&token("rsa-a", &format!("ghost-{n}"))).await });
    }
    while let Some(result) = attempts.join_next().await {
        assert_eq!(result.unwrap(), Err(AuthError::UnknownKey));
    }
    assert_eq!(idp.hits(), 2, "one start-up fetch and one refresh");

    // Even a key that really was published meanwhile waits for the interval: that is the price of the
    // limit, and the reason it is configurable.
    idp.publish(jwks(&[old_jwk(), new_jwk()]));
    for n in 0..16 {
        assert_eq!(
            verifier.verify(&token("rsa-a", &format!("ghost-again-{n}"))).await,
            Err(AuthError::UnknownKey)
        );
    }
    assert_eq!(verifier.verify(&token("rsa-b", "new")).await, Err(AuthError::UnknownKey));
    assert_eq!(idp.hits(), 2);
    assert!(verifier.verify(&token("rsa-a", "old")).await.is_ok());
}

#[tokio::test]
async fn the_refresh_window_reopens_after_the_interval() {
    // The time window is what is tested here, so this test waits for it to pass.
    let interval = Duration::from_millis(300);
    let idp = Idp::start(jwks(&[old_jwk()])).await;
    let verifier = verifier(jwks_source(&idp.url, interval)).await;
    assert_eq!(verifier.verify(&token("rsa-b", "new")).await, Err(AuthError::UnknownKey));
    assert_eq!(idp.hits(), 2);
    idp.publish(jwks(&[old_jwk(), new_jwk()]));
    assert_eq!(verifier.verify(&token("rsa-b", "new")).await, Err(AuthError::UnknownKey));
    assert_eq!(idp.hits(), 2);
    tokio::time::sleep(interval + Duration::from_millis(50)).await;
    assert!(verifier.verify(&token("rsa-b", "new")).await.is_ok());
    assert_eq!(idp.hits(), 3);
}

#[tokio::test]
async fn an_identity_provider_down_at_start_up_is_fetched_lazily() {
    // Take a free port and close it again, so that nothing listens there at start-up.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/realms/ncijc/protocol/openid-connect/certs");

    let verifier = verifier(jwks_source(&url, Duration::ZERO)).await;
    assert_eq!(verifier.key_count(), 0);
    let refused = verifier.verify(&token("rsa-a", "old")).await;
    assert_eq!(refused, Err(AuthError::KeysUnavailable));
    assert!(refused.unwrap_err().is_unavailable());

    let idp = Idp::start_on(TcpListener::bind(addr).await.unwrap(), jwks(&[old_jwk()]));
    assert!(verifier.verify(&token("rsa-a", "old")).await.is_ok());
    assert_eq!(verifier.key_count(), 1);
    assert_eq!(idp.hits(), 1);
}

#[tokio::test]
async fn keys_from_a_jwks_url_are_pinned_to_their_algorithm() {
    let public_pem = fixture("rsa-a.pub.pem");
    let ec = public_jwk(&ec_key("ec-p256"), Algorithm::ES256, "ec", true);
    let idp = Idp::start(jwks(&[old_jwk(), ec])).await;
    let verifier = verifier(jwks_source(&idp.url, Duration::ZERO)).await;

    let confused_key = jsonwebtoken::EncodingKey::from_secret(&public_pem).unwrap();
    let confused = sign(Algorithm::HS256, &confused_key, Some("old"), &staff_claims(&["admin"]));
    assert_eq!(verifier.verify(&confused).await, Err(AuthError::AlgorithmNotAllowed));
    let pss = sign(Algorithm::PS256, &rsa_key("rsa-a"), Some("old"), &staff_claims(&["admin"]));
    assert_eq!(verifier.verify(&pss).await, Err(AuthError::AlgorithmNotAllowed));
    let es = sign(Algorithm::ES256, &ec_key("ec-p256"), Some("ec"), &staff_claims(&["admin"]));
    assert!(verifier.verify(&es).await.is_ok());
    let no_kid = sign(Algorithm::ES256, &ec_key("ec-p256"), None, &staff_claims(&["admin"]));
    assert_eq!(verifier.verify(&no_kid).await, Err(AuthError::MissingKeyId));
    assert_eq!(idp.hits(), 1, "none of these needs a refresh");
}

/// Runs `check` every few milliseconds until it returns true, for at most `bound`; whether it did.
async fn eventually(bound: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + bound;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Long enough for any refresh these tests expect, short enough that a missing one fails quickly.
const BOUND: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_withdrawn_key_is_refused_once_the_documents_max_age_has_run_out() {
    let idp = Idp::start(jwks(&[old_jwk(), new_jwk()])).await;
    idp.set_cache_control("public, max-age=2");
    let verifier = verifier(jwks_source(&idp.url, Duration::ZERO)).await;
    assert!(verifier.verify(&token("rsa-a", "old")).await.is_ok());

    // The old key is withdrawn. Within the document's lifetime the cache is used as it is.
    idp.publish(jwks(&[new_jwk()]));
    assert!(verifier.verify(&token("rsa-a", "old")).await.is_ok());
    assert_eq!(idp.hits(), 1, "no fetch within max-age");

    // Once the lifetime has run out, the next token is checked against a fresh copy: the withdrawn key
    // is refused, although no token ever named an unknown key id.
    let refused = eventually(BOUND, async || {
        verifier.verify(&token("rsa-a", "old")).await == Err(AuthError::UnknownKey)
    })
    .await;
    assert!(refused, "the withdrawn key is still accepted after max-age");
    assert_eq!(idp.hits(), 2, "one timed refresh");
    assert!(verifier.verify(&token("rsa-b", "new")).await.is_ok());
}

#[tokio::test]
async fn a_huge_max_age_is_cut_to_the_maximum_refresh_interval() {
    let idp = Idp::start(jwks(&[old_jwk(), new_jwk()])).await;
    idp.set_cache_control("max-age=31536000");
    let ceiling = Duration::from_millis(300);
    let verifier = verifier(jwks_source_with_lifetimes(
        &idp.url,
        Duration::ZERO,
        KeySource::DEFAULT_REFRESH_INTERVAL,
        ceiling,
    ))
    .await;
    idp.publish(jwks(&[new_jwk()]));
    let refused = eventually(BOUND, async || {
        verifier.verify(&token("rsa-a", "old")).await == Err(AuthError::UnknownKey)
    })
    .await;
    assert!(refused, "a year's max-age kept a withdrawn key beyond the maximum refresh interval");
    assert_eq!(idp.hits(), 2);
}

#[tokio::test]
async fn a_zero_max_age_or_no_store_refreshes_at_the_floor_and_no_faster() {
    for cache_control in ["max-age=0", "no-store"] {
        let floor = Duration::from_millis(300);
        let idp = Idp::start(jwks(&[old_jwk(), new_jwk()])).await;
        idp.set_cache_control(cache_control);
        let started = Instant::now();
        let verifier = verifier(jwks_source_with_lifetimes(
            &idp.url,
            floor,
            KeySource::DEFAULT_REFRESH_INTERVAL,
            KeySource::DEFAULT_MAX_REFRESH_INTERVAL,
        ))
        .await;
        // However fast tokens arrive, the identity provider is asked at most once per floor.
        let at_most = || 1 + started.elapsed().as_millis() / floor.as_millis();
        for _ in 0..50 {
            assert!(verifier.verify(&token("rsa-a", "old")).await.is_ok());
            assert!(idp.hits() as u128 <= at_most(), "{cache_control}: {} fetches", idp.hits());
        }

        // And it is asked again once the floor has passed.
        idp.publish(jwks(&[new_jwk()]));
        let refused = eventually(BOUND, async || {
            let refused = verifier.verify(&token("rsa-a", "old")).await == Err(AuthError::UnknownKey);
            assert!(idp.hits() as u128 <= at_most(), "{cache_control}: {} fetches", idp.hits());
            refused
        })
        .await;
        assert!(refused, "{cache_control}: the withdrawn key is still accepted after the floor");
    }
}

#[tokio::test]
async fn while_the_identity_provider_is_down_the_cached_keys_serve_and_the_refresh_is_retried() {
    let floor = Duration::from_millis(200);
    let idp = Idp::start(jwks(&[old_jwk(), new_jwk()])).await;
    let started = Instant::now();
    let verifier = verifier(jwks_source_with_lifetimes(
        &idp.url,
        floor,
        Duration::from_millis(400),
        KeySource::DEFAULT_MAX_REFRESH_INTERVAL,
    ))
    .await;

    // The document (no Cache-Control: the configured lifetime) expires while the identity provider
    // fails: every token is still checked against the cached keys, and the refresh is tried again
    // after the floor, not by every token.
    idp.set_failing(true);
    let retried = eventually(BOUND, async || {
        assert!(verifier.verify(&token("rsa-a", "old")).await.is_ok());
        assert!(idp.hits() as u128 <= 1 + started.elapsed().as_millis() / floor.as_millis());
        idp.hits() >= 3
    })
    .await;
    assert!(retried, "the failed refresh was not retried: {} fetches", idp.hits());

    // Back up, without the old key: a retry picks that up.
    idp.publish(jwks(&[new_jwk()]));
    idp.set_failing(false);
    let refused = eventually(BOUND, async || {
        verifier.verify(&token("rsa-a", "old")).await == Err(AuthError::UnknownKey)
    })
    .await;
    assert!(refused, "the withdrawn key is still accepted after the identity provider came back");
    assert!(verifier.verify(&token("rsa-b", "new")).await.is_ok());
}
