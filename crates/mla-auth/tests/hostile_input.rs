//! Garbage, oversized and mutated tokens: every one is refused with an error, none panics, and the
//! cheap refusals happen before any key is consulted.

mod common;

use common::*;
use jsonwebtoken::Algorithm;
use mla_auth::{AuthError, KeySource, MAX_TOKEN_BYTES, Verifier};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

async fn verifiers() -> Vec<Verifier> {
    vec![
        hs256_verifier().await,
        verifier(KeySource::File(fixture_path("rsa-a.pub.pem"))).await,
        verifier(KeySource::File(fixture_path("ec-p256.pub.pem"))).await,
    ]
}

#[tokio::test]
async fn garbage_is_refused_without_panicking() {
    let huge_header = format!("{}.e30.c2ln", b64(format!(r#"{{"alg":"HS256","x":"{}"}}"#, "A".repeat(6000))));
    let valid = hs256(&staff_claims(&["judge"]));
    let garbage: Vec<String> = vec![
        String::new(),
        " ".into(),
        ".".into(),
        "..".into(),
        "...".into(),
        "a.b".into(),
        "a.b.c".into(),
        "a.b.c.d".into(),
        "Bearer abc".into(),
        "\u{0}\u{1}\u{2}".into(),
        "ü.ö.ä".into(),
        "////.++++.====".into(),
        "e30.e30.e30".into(),
        "bnVsbA.bnVsbA.bnVsbA".into(),
        format!("{}.e30.AA", b64("\u{feff}{\"alg\":\"HS256\"}")),
        format!("{}.e30.AA", b64(r#"{"alg":"HS256"}"#).repeat(3)),
        format!("{}.{}.AA", b64(r#"{"alg":"HS256"}"#), b64("not json")),
        format!("{}.{}.AA", b64(r#"{"alg":"HS256"}"#), b64([0xff, 0xfe, 0xfd])),
        format!("{}.e30.AA", b64([0xff, 0xfe, 0xfd])),
        huge_header,
        format!("{valid}."),
        format!(".{valid}"),
        valid.replace('.', ".."),
        "A".repeat(MAX_TOKEN_BYTES),
    ];
    for verifier in verifiers().await {
        for token in &garbage {
            assert!(verifier.verify(token).await.is_err(), "{token:.60}");
        }
    }
}

#[tokio::test]
async fn oversized_tokens_are_refused_before_decoding() {
    let claims = with(staff_claims(&["judge"]), "padding", serde_json::json!("x".repeat(100 * 1024)));
    let token = hs256(&claims);
    assert!(token.len() > 100 * 1024);
    assert_eq!(hs256_verifier().await.verify(&token).await, Err(AuthError::TooLarge));
    // Just inside the limit is decoded as usual (and refused for its bad signature).
    let just_inside = format!("{}.e30.{}", b64(r#"{"alg":"HS256"}"#), "A".repeat(MAX_TOKEN_BYTES - 30));
    assert!(just_inside.len() <= MAX_TOKEN_BYTES);
    assert_eq!(hs256_verifier().await.verify(&just_inside).await, Err(AuthError::BadSignature));
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn arbitrary_strings_never_panic_and_never_verify() {
    let runtime = runtime();
    let verifiers = runtime.block_on(verifiers());
    let mut runner = TestRunner::new(Config::with_cases(512));
    let shapes = prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_=+/ .-]{0,300}",
        "[A-Za-z0-9_-]{1,60}\\.[A-Za-z0-9_-]{1,60}\\.[A-Za-z0-9_-]{0,60}",
        proptest::collection::vec(any::<u8>(), 0..200).prop_map(|bytes| format!(
            "{}.{}.{}",
            b64(&bytes),
            b64(&bytes),
            b64(&bytes)
        )),
        (any::<String>(), any::<String>()).prop_map(|(header, payload)| format!(
            "{}.{}.AAAA",
            b64(header),
            b64(payload)
        )),
    ];
    runner
        .run(&shapes, |token| {
            for verifier in &verifiers {
                prop_assert!(runtime.block_on(verifier.verify(&token)).is_err());
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn any_change_to_a_valid_token_is_refused() {
    let runtime = runtime();
    let hs = runtime.block_on(hs256_verifier());
    let rsa = runtime.block_on(verifier(KeySource::File(fixture_path("rsa-a.pub.pem"))));
    let tokens = [
        (hs, hs256(&staff_claims(&["judge"]))),
        (rsa, sign(Algorithm::RS256, &rsa_key("rsa-a"), None, &staff_claims(&["judge"]))),
    ];
    for (verifier, token) in &tokens {
        assert!(runtime.block_on(verifier.verify(token)).is_ok());
    }
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
    let mut runner = TestRunner::new(Config::with_cases(512));
    runner
        .run(&(0usize..2, any::<prop::sample::Index>(), any::<prop::sample::Index>()), |(which, at, by)| {
            let (verifier, token) = &tokens[which];
            let mut bytes = token.clone().into_bytes();
            let at = at.index(bytes.len());
            let replacement = ALPHABET[by.index(ALPHABET.len())];
            prop_assume!(bytes[at] != replacement);
            bytes[at] = replacement;
            let mutated = String::from_utf8(bytes).unwrap();
            prop_assert!(runtime.block_on(verifier.verify(&mutated)).is_err(), "{mutated}");
            Ok(())
        })
        .unwrap();
}
