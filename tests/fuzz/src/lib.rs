//! What the fuzz targets share with `examples/seeds.rs`, which writes their seed corpus: the token
//! target's keys and how it signs, and the message table of the gRPC target.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use hmac::{KeyInit as _, Mac as _};

/// The issuer and audience every fuzzed verifier accepts.
pub const ISSUER: &str = "https://idp.fuzz.example/realms/ncijc";
pub const AUDIENCE: &str = "mla-broker";

/// The development verifier's HS256 secret (32 bytes or more, as the verifier requires).
pub const HS256_SECRET: &[u8] = b"mla-fuzz-hs256-secret-not-for-production";

/// The JWKS verifier's two Ed25519 keys (seeds, ids): two, so that a token must name its key.
pub const ED25519_KEYS: [([u8; 32], &str); 2] = [([0x11; 32], "fuzz-key-1"), ([0x22; 32], "fuzz-key-2")];

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

pub fn ed25519_key(index: usize) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&ED25519_KEYS[index].0)
}

/// The JWKS document of [`ED25519_KEYS`].
pub fn jwks_document() -> String {
    let keys: Vec<serde_json::Value> = (0..ED25519_KEYS.len())
        .map(|i| {
            serde_json::json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(ed25519_key(i).verifying_key().to_bytes()),
                "kid": ED25519_KEYS[i].1,
                "alg": "EdDSA",
                "use": "sig",
            })
        })
        .collect();
    serde_json::json!({ "keys": keys }).to_string()
}

/// HMAC-SHA256 of `input` under `secret`, computed apart from the verifier's library.
pub fn hs256(secret: &[u8], input: &[u8]) -> Vec<u8> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(input);
    mac.finalize().into_bytes().to_vec()
}

/// Who signs a minted token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedBy {
    Hs256,
    Ed25519(usize),
}

/// A compact JWS of `header` and `payload` (JSON texts) signed by `by`.
pub fn sign(by: SignedBy, header: &str, payload: &str) -> String {
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let signature = match by {
        SignedBy::Hs256 => hs256(HS256_SECRET, input.as_bytes()),
        SignedBy::Ed25519(i) => ed25519_key(i).sign(input.as_bytes()).to_bytes().to_vec(),
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The gRPC requests the services parse, in the order of the target's first input byte.
pub const MESSAGES: [&str; 28] = [
    "CreateRequestRequest",
    "GetRequestRequest",
    "ListRequestsRequest",
    "UpdateRequestRequest",
    "TransitionRequestRequest",
    "ListRequestEventsRequest",
    "PostMessageRequest",
    "ListMessagesRequest",
    "MarkMessagesReadRequest",
    "PrintLetterRequest",
    "ErasePersonalDataRequest",
    "WatchEventsRequest",
    "CreatePartnerRequest",
    "GetPartnerRequest",
    "ListPartnersRequest",
    "UpdatePartnerRequest",
    "UploadDocumentRequest",
    "StartUploadRequest",
    "AppendUploadRequest",
    "GetUploadRequest",
    "CancelUploadRequest",
    "GetDocumentRequest",
    "ListDocumentsRequest",
    "DownloadDocumentRequest",
    "ReleaseDocumentsRequest",
    "DownloadEvidencePackageRequest",
    "GetStatisticsRequest",
    "GetHumanRightsReportRequest",
];

/// The selector byte of a message name in [`MESSAGES`].
pub fn message_selector(name: &str) -> u8 {
    MESSAGES.iter().position(|m| *m == name).expect("a message of the table") as u8
}
