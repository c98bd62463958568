//! Bearer tokens: arbitrary text through both verifiers (HS256 secret, JWKS file), tokens minted
//! here with fuzzed claims, and arbitrary key files.
//!
//! The first byte picks the mode: `R` raw token text (also read as an `Authorization` header), `M`
//! a token minted from fuzzed claims, `J` a key file (JWKS or PEM). Properties:
//! - nothing panics;
//! - a token is accepted only if its signature checks, by a computation apart from the verifier's,
//!   under the key its header names, with the key's one algorithm;
//! - a minted token is accepted iff its claims are valid, as the verifier's rules say (checked here
//!   from those rules, away from the time limits by a few seconds), and then its principal is the
//!   claims';
//! - verifying the same token twice gives the same answer (the verifier remembers tokens);
//! - a key file either fails to load or yields at least one key, and a JWKS read to check a receipt
//!   offline (`verify_jws`) refuses what it cannot check.

#![no_main]

use std::sync::LazyLock;

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use mla_auth::{AuthConfig, AuthError, KeySource, MAX_TOKEN_BYTES, Verifier, bearer_token};
use mla_domain::{PartnerCode, Principal, Role};
use mla_fuzz::{AUDIENCE, ED25519_KEYS, HS256_SECRET, ISSUER, SignedBy};

struct Fixture {
    runtime: tokio::runtime::Runtime,
    hs256: Verifier,
    jwks: Verifier,
    scratch: std::path::PathBuf,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let dir = std::env::temp_dir().join(format!("mla-fuzz-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let jwks_file = dir.join("jwks.json");
    std::fs::write(&jwks_file, mla_fuzz::jwks_document()).expect("the JWKS file");
    let verifier = |keys| runtime.block_on(Verifier::new(AuthConfig::new(ISSUER, AUDIENCE, keys)));
    let hs256 = verifier(KeySource::Hs256Secret(HS256_SECRET.to_vec())).expect("the HS256 verifier");
    let jwks = verifier(KeySource::File(jwks_file)).expect("the JWKS verifier");
    assert_eq!(jwks.key_count(), 2);
    Fixture { runtime, hs256, jwks, scratch: dir.join("key-file") }
});

/// The verifier's default leeway on `exp` and `nbf`, and how far from a limit a fuzzed time must lie
/// for the expectation to be certain.
const LEEWAY: i64 = AuthConfig::DEFAULT_LEEWAY.as_secs() as i64;
const MARGIN: i64 = 5;

fuzz_target!(|data: &[u8]| {
    let fixture = &*FIXTURE;
    match data.split_first() {
        Some((b'M', rest)) => {
            if let Ok(claims) = Claims::arbitrary_take_rest(Unstructured::new(rest)) {
                minted(fixture, &claims);
            }
        }
        Some((b'J', rest)) => key_file(fixture, rest),
        Some((b'R', rest)) => raw(fixture, &String::from_utf8_lossy(rest)),
        _ => raw(fixture, &String::from_utf8_lossy(data)),
    }
});

fn verify(fixture: &Fixture, verifier: &Verifier, token: &str) -> Result<Principal, AuthError> {
    let first = fixture.runtime.block_on(verifier.verify(token));
    let again = fixture.runtime.block_on(verifier.verify(token));
    assert_eq!(first, again, "the same token verified twice gave two answers");
    first
}

fn raw(fixture: &Fixture, text: &str) {
    if let Ok(token) = bearer_token(text) {
        assert!(!token.is_empty() && !token.chars().any(char::is_whitespace), "{token:?}");
        assert!(text.contains(token));
        let scheme = text.trim_start().split(' ').next().unwrap_or_default();
        assert!(scheme.eq_ignore_ascii_case("bearer"), "{text:?}");
    }
    for (verifier, jwks) in [(&fixture.hs256, false), (&fixture.jwks, true)] {
        if let Ok(principal) = verify(fixture, verifier, text) {
            check_accepted(text, jwks, &principal);
        }
    }
}

/// An accepted token's signature is checked again here, without the verifier's library, and its
/// registered claims are the ones the verifier was configured with.
fn check_accepted(token: &str, jwks: bool, principal: &Principal) {
    assert!(token.len() <= MAX_TOKEN_BYTES);
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts[..] else { panic!("accepted a token of {} parts", parts.len()) };
    let json = |part: &str| -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("accepted base64url"))
            .expect("accepted JSON")
    };
    let (header_json, claims) = (json(header), json(payload));
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("an accepted signature is base64url");
    let input = format!("{header}.{payload}");
    if jwks {
        assert_eq!(header_json["alg"], "EdDSA", "{token}");
        let kid = header_json["kid"].as_str().expect("a JWKS token names its key");
        let index = ED25519_KEYS.iter().position(|(_, id)| *id == kid).expect("a known key");
        let signature = ed25519_dalek::Signature::from_slice(&signature).expect("an Ed25519 signature");
        mla_fuzz::ed25519_key(index)
            .verifying_key()
            .verify_strict(input.as_bytes(), &signature)
            .expect("accepted a token its key did not sign");
    } else {
        assert_eq!(header_json["alg"], "HS256", "{token}");
        assert_eq!(signature, mla_fuzz::hs256(HS256_SECRET, input.as_bytes()), "accepted a forged token");
    }
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], principal.subject());
}

fn key_file(fixture: &Fixture, contents: &[u8]) {
    // The offline check of receipts reads a JWKS too (`mla-broker verify`).
    let receipt = mla_fuzz::sign(SignedBy::Ed25519(0), r#"{"alg":"EdDSA","kid":"fuzz-key-1"}"#, "{}");
    if let Ok(payload) = mla_auth::verify_jws(&String::from_utf8_lossy(contents), &receipt) {
        assert_eq!(payload, b"{}");
    }
    if std::fs::write(&fixture.scratch, contents).is_err() {
        return;
    }
    let config = AuthConfig::new(ISSUER, AUDIENCE, KeySource::File(fixture.scratch.clone()));
    if let Ok(verifier) = fixture.runtime.block_on(Verifier::new(config)) {
        assert!(verifier.key_count() >= 1, "a key file loaded without a key");
        let _ = fixture.runtime.block_on(verifier.verify(&mla_fuzz::sign(
            SignedBy::Ed25519(0),
            r#"{"alg":"EdDSA"}"#,
            "{}",
        )));
    }
}

// The claims of a minted token, and how it is signed.

#[derive(Arbitrary, Debug)]
struct Claims {
    signer: Signer,
    alg: Alg,
    kid: Kid,
    iss: Issuer,
    aud: Aud,
    sub: Option<String>,
    exp: Time,
    nbf: Time,
    roles: Option<Vec<RoleName>>,
    realm_roles: Option<Option<Vec<RoleName>>>,
    partner: PartnerClaim,
    tamper: Tamper,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Signer {
    Hs256,
    Ed1,
    Ed2,
}

#[derive(Arbitrary, Debug)]
enum Alg {
    /// The signer's own algorithm.
    Honest,
    Named(AlgName),
    Text(String),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum AlgName {
    Hs256,
    Hs384,
    Rs256,
    Es256,
    EdDsa,
    None,
}

#[derive(Arbitrary, Debug)]
enum Kid {
    Absent,
    /// The signer's own key id (none for HS256).
    Own,
    /// The other Ed25519 key's id.
    Other,
    Text(String),
}

#[derive(Arbitrary, Debug)]
enum Issuer {
    Expected,
    Absent,
    Other(String),
    List(Vec<String>),
}

#[derive(Arbitrary, Debug)]
enum Aud {
    Expected,
    Absent,
    Text(String),
    List(Vec<String>, bool),
    Number(i64),
}

/// A time relative to now, in seconds.
#[derive(Arbitrary, Debug)]
enum Time {
    Absent,
    Integer(i32),
    Fraction(i32),
    Text(String),
}

#[derive(Arbitrary, Debug)]
enum RoleName {
    Known(u8),
    KeycloakBuiltin(u8),
    Text(String),
}

#[derive(Arbitrary, Debug)]
enum PartnerClaim {
    Absent,
    Known(u8),
    Text(String),
    Number(i64),
}

#[derive(Arbitrary, Debug)]
enum Tamper {
    None,
    FlipSignatureBit(u16),
    DropSignatureTail,
    OtherPayload,
}

const PARTNERS: [&str; 3] = ["FR-MOJ", "UN-IIIM", "DE-BMJ-2"];
const BUILTINS: [&str; 3] = ["offline_access", "uma_authorization", "default-roles-ncijc"];

impl RoleName {
    fn name(&self) -> String {
        match self {
            RoleName::Known(i) => Role::ALL[*i as usize % Role::ALL.len()].as_str().to_owned(),
            RoleName::KeycloakBuiltin(i) => BUILTINS[*i as usize % BUILTINS.len()].to_owned(),
            RoleName::Text(text) => text.clone(),
        }
    }
}

impl Time {
    /// The claim's JSON value (`None` when absent) and the time it names, if it is one.
    fn value(&self, now: i64) -> (Option<serde_json::Value>, Option<i64>) {
        // Kept after 1970: a negative time is not a claim of this test.
        let at = |offset: i32| (now + i64::from(offset)).max(1_000_000);
        match self {
            Time::Absent => (None, None),
            Time::Integer(offset) => (Some(at(*offset).into()), Some(at(*offset))),
            // The library rounds a fraction to the nearest second.
            Time::Fraction(offset) => (Some((at(*offset) as f64 + 0.25).into()), Some(at(*offset))),
            Time::Text(text) => (Some(text.clone().into()), None),
        }
    }
}

/// Whether a minted token must be accepted: `None` when a time lies too near a limit to say.
fn expected(claims: &Claims, now: i64, jwks: bool) -> Option<bool> {
    let signer_alg = match claims.signer {
        Signer::Hs256 => "HS256",
        Signer::Ed1 | Signer::Ed2 => "EdDSA",
    };
    let alg = header_alg(claims);
    let own_kid = match claims.signer {
        Signer::Hs256 => None,
        Signer::Ed1 => Some(ED25519_KEYS[0].1),
        Signer::Ed2 => Some(ED25519_KEYS[1].1),
    };
    let kid = header_kid(claims);
    let signature_ok = matches!(claims.tamper, Tamper::None)
        && alg.as_deref() == Some(signer_alg)
        && if jwks {
            claims.signer != Signer::Hs256 && kid.as_deref() == own_kid
        } else {
            // The HS256 secret is the only key, without an id: any kid is served by it.
            claims.signer == Signer::Hs256
        };
    let iss_ok = match &claims.iss {
        Issuer::Expected => true,
        Issuer::Other(text) => text == ISSUER,
        Issuer::Absent | Issuer::List(_) => false,
    };
    let aud_ok = match &claims.aud {
        Aud::Expected => true,
        Aud::Text(text) => text == AUDIENCE,
        Aud::List(list, with) => *with || list.iter().any(|a| a == AUDIENCE),
        Aud::Absent | Aud::Number(_) => false,
    };
    let exp_ok = match claims.exp.value(now) {
        (None, _) | (Some(_), None) => Some(false),
        (Some(_), Some(exp)) => near(exp + LEEWAY - now).then_some(exp + LEEWAY >= now),
    };
    let nbf_ok = match claims.nbf.value(now) {
        (None, _) => Some(true),
        (Some(_), None) => Some(false),
        (Some(_), Some(nbf)) => near(now + LEEWAY - nbf).then_some(nbf <= now + LEEWAY),
    };
    let principal_ok = principal_of(claims).is_some();
    let size_ok = mint(claims, now).len() <= MAX_TOKEN_BYTES;
    let certain = signature_ok && iss_ok && aud_ok && principal_ok && size_ok;
    match (exp_ok, nbf_ok) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(certain),
        // A time near its limit only matters when everything else would be accepted.
        _ => (!certain).then_some(false),
    }
}

/// False when `distance` from a limit is within the margin of a slow run.
fn near(distance: i64) -> bool {
    distance.abs() > MARGIN
}

/// The principal the claims describe under the verifier's rules, if they describe one.
fn principal_of(claims: &Claims) -> Option<Principal> {
    let subject = claims.sub.as_deref()?;
    let mut roles = Vec::new();
    for name in claims.roles.iter().flatten() {
        roles.push(Role::parse(&name.name())?);
    }
    for name in claims.realm_roles.iter().flatten().flatten() {
        let name = name.name();
        if mla_auth::claims::is_keycloak_builtin_role(&name) {
            continue;
        }
        roles.push(Role::parse(&name)?);
    }
    let partner = match &claims.partner {
        PartnerClaim::Absent => None,
        PartnerClaim::Known(i) => Some(PartnerCode::parse(PARTNERS[*i as usize % PARTNERS.len()]).ok()?),
        PartnerClaim::Text(text) => Some(PartnerCode::parse(text).ok()?),
        PartnerClaim::Number(_) => return None,
    };
    Principal::from_claims(subject, roles, partner).ok()
}

fn header_alg(claims: &Claims) -> Option<String> {
    Some(match &claims.alg {
        Alg::Honest => match claims.signer {
            Signer::Hs256 => "HS256".to_owned(),
            Signer::Ed1 | Signer::Ed2 => "EdDSA".to_owned(),
        },
        Alg::Named(name) => match name {
            AlgName::Hs256 => "HS256",
            AlgName::Hs384 => "HS384",
            AlgName::Rs256 => "RS256",
            AlgName::Es256 => "ES256",
            AlgName::EdDsa => "EdDSA",
            AlgName::None => "none",
        }
        .to_owned(),
        Alg::Text(text) => text.clone(),
    })
}

fn header_kid(claims: &Claims) -> Option<String> {
    match (&claims.kid, claims.signer) {
        (Kid::Absent, _) | (Kid::Own, Signer::Hs256) => None,
        (Kid::Own, Signer::Ed1) | (Kid::Other, Signer::Ed2) => Some(ED25519_KEYS[0].1.to_owned()),
        (Kid::Own, Signer::Ed2) | (Kid::Other, Signer::Ed1 | Signer::Hs256) => {
            Some(ED25519_KEYS[1].1.to_owned())
        }
        (Kid::Text(text), _) => Some(text.clone()),
    }
}

fn mint(claims: &Claims, now: i64) -> String {
    let mut header = serde_json::Map::new();
    header.insert("alg".into(), header_alg(claims).into());
    header.insert("typ".into(), "JWT".into());
    if let Some(kid) = header_kid(claims) {
        header.insert("kid".into(), kid.into());
    }
    let mut payload = serde_json::Map::new();
    let iss: Option<serde_json::Value> = match &claims.iss {
        Issuer::Expected => Some(ISSUER.into()),
        Issuer::Absent => None,
        Issuer::Other(text) => Some(text.clone().into()),
        Issuer::List(list) => Some(list.clone().into()),
    };
    if let Some(iss) = iss {
        payload.insert("iss".into(), iss);
    }
    let aud: Option<serde_json::Value> = match &claims.aud {
        Aud::Expected => Some(AUDIENCE.into()),
        Aud::Absent => None,
        Aud::Text(text) => Some(text.clone().into()),
        Aud::List(list, with) => {
            let mut list = list.clone();
            if *with {
                list.push(AUDIENCE.into());
            }
            Some(list.into())
        }
        Aud::Number(n) => Some((*n).into()),
    };
    if let Some(aud) = aud {
        payload.insert("aud".into(), aud);
    }
    if let Some(sub) = &claims.sub {
        payload.insert("sub".into(), sub.clone().into());
    }
    for (name, time) in [("exp", &claims.exp), ("nbf", &claims.nbf)] {
        if let (Some(value), _) = time.value(now) {
            payload.insert(name.into(), value);
        }
    }
    if let Some(roles) = &claims.roles {
        payload.insert("roles".into(), roles.iter().map(RoleName::name).collect::<Vec<_>>().into());
    }
    if let Some(realm) = &claims.realm_roles {
        let roles = realm.as_ref().map(|roles| roles.iter().map(RoleName::name).collect::<Vec<_>>());
        payload.insert("realm_access".into(), serde_json::json!({ "roles": roles }));
    }
    match &claims.partner {
        PartnerClaim::Absent => {}
        PartnerClaim::Known(i) => {
            payload.insert("partner".into(), PARTNERS[*i as usize % PARTNERS.len()].into());
        }
        PartnerClaim::Text(text) => {
            payload.insert("partner".into(), text.clone().into());
        }
        PartnerClaim::Number(n) => {
            payload.insert("partner".into(), (*n).into());
        }
    }
    let header = serde_json::Value::Object(header).to_string();
    let payload = serde_json::Value::Object(payload).to_string();
    let by = match claims.signer {
        Signer::Hs256 => SignedBy::Hs256,
        Signer::Ed1 => SignedBy::Ed25519(0),
        Signer::Ed2 => SignedBy::Ed25519(1),
    };
    let token = mla_fuzz::sign(by, &header, &payload);
    let (input, signature) = token.rsplit_once('.').expect("a signed token");
    match claims.tamper {
        Tamper::None => token,
        Tamper::FlipSignatureBit(bit) => {
            let mut raw = URL_SAFE_NO_PAD.decode(signature).expect("our own signature");
            let at = usize::from(bit / 8) % raw.len();
            raw[at] ^= 1 << (bit % 8);
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw))
        }
        Tamper::DropSignatureTail => format!("{input}.{}", &signature[..signature.len() - 2]),
        Tamper::OtherPayload => {
            let (header, _) = input.split_once('.').expect("a signed token");
            let other = URL_SAFE_NO_PAD.encode(format!(r#"{{"sub":"mallory","iss":"{ISSUER}"}}"#));
            format!("{header}.{other}.{signature}")
        }
    }
}

fn minted(fixture: &Fixture, claims: &Claims) {
    let now = mla_fuzz::now();
    let token = mint(claims, now);
    for (verifier, jwks) in [(&fixture.hs256, false), (&fixture.jwks, true)] {
        let outcome = verify(fixture, verifier, &token);
        if let Ok(principal) = &outcome {
            check_accepted(&token, jwks, principal);
            let expected = principal_of(claims).expect("accepted claims that make no principal");
            assert_eq!(principal, &expected);
        }
        match expected(claims, now, jwks) {
            Some(true) => assert!(outcome.is_ok(), "refused valid claims ({outcome:?}): {claims:?}"),
            Some(false) => assert!(outcome.is_err(), "accepted invalid claims (jwks: {jwks}): {claims:?}"),
            None => {}
        }
    }
}
