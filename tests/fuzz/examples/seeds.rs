//! Writes the committed seed corpus, `corpus/<target>/seed-<name>`: a few meaningful inputs per target
//! (valid tokens, encoded messages, JSON bodies, whole HTTP calls). Run it again after the inputs'
//! formats change: `cargo run --example seeds` in `tests/fuzz`.

use std::fs;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::pkcs8::EncodePublicKey as _;
use mla_fuzz::{AUDIENCE, ISSUER, SignedBy, message_selector};
use mla_proto::v1 as pb;
use prost::Message;

const REQUEST_ID: &str = "0192f0c1-7a3e-7cc0-8000-000000000001";
const DOCUMENT_ID: &str = "0192f0c1-7a3e-7cc0-8000-0000000000d1";
/// 2100-01-01: seeds stay valid tokens for as long as anyone fuzzes them.
const FAR_FUTURE: i64 = 4_102_444_800;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = root.join(target);
        fs::create_dir_all(&dir).expect("the corpus directory");
        fs::write(dir.join(format!("seed-{name}")), bytes).expect("a seed");
    };
    for (name, bytes) in token_seeds() {
        write("token", &name, &bytes);
    }
    for (name, bytes) in grpc_seeds() {
        write("grpc_messages", &name, &bytes);
    }
    for (name, text) in rest_seeds() {
        write("rest_bodies", &name, text.as_bytes());
    }
    for (name, bytes) in audit_seeds() {
        write("audit_chain", &name, &bytes);
    }
}

fn token(by: SignedBy, kid: Option<&str>, claims: serde_json::Value) -> String {
    let alg = if by == SignedBy::Hs256 { "HS256" } else { "EdDSA" };
    let mut header = serde_json::json!({ "alg": alg, "typ": "JWT" });
    if let Some(kid) = kid {
        header["kid"] = kid.into();
    }
    mla_fuzz::sign(by, &header.to_string(), &claims.to_string())
}

fn token_seeds() -> Vec<(String, Vec<u8>)> {
    let judge = serde_json::json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "judge-1", "roles": ["judge"],
        "iat": 1_767_225_600, "nbf": 1_767_225_600, "exp": FAR_FUTURE,
    });
    let partner = serde_json::json!({
        "iss": ISSUER, "aud": [AUDIENCE, "account"], "sub": "fr-system", "partner": "FR-MOJ",
        "realm_access": { "roles": ["partner", "offline_access", "default-roles-ncijc"] },
        "exp": FAR_FUTURE,
    });
    let expired = serde_json::json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "registrar-1", "roles": ["registrar"], "exp": 1_767_225_600,
    });
    let key1 = mla_fuzz::ED25519_KEYS[0].1;
    let hs = token(SignedBy::Hs256, None, judge.clone());
    let ed = token(SignedBy::Ed25519(0), Some(key1), partner);
    let mut seeds = vec![
        ("raw-hs256-judge".to_owned(), format!("R{hs}").into_bytes()),
        ("raw-eddsa-partner".to_owned(), format!("R{ed}").into_bytes()),
        ("raw-bearer-header".to_owned(), format!("RBearer {hs}").into_bytes()),
        (
            "raw-expired".to_owned(),
            format!("R{}", token(SignedBy::Hs256, Some("any"), expired)).into_bytes(),
        ),
        (
            "raw-wrong-key".to_owned(),
            format!("R{}", token(SignedBy::Ed25519(1), Some(key1), judge)).into_bytes(),
        ),
        ("raw-alg-none".to_owned(), b"ReyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0.".to_vec()),
        ("jwks".to_owned(), format!("J{}", mla_fuzz::jwks_document()).into_bytes()),
        (
            "jwks-odd-entries".to_owned(),
            br#"J{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"small"},{"kty":"EC","crv":"P-256","x":"AA","y":"AA"},{"kty":"oct","k":"c2VjcmV0"},{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","use":"enc"}]}"#
                .to_vec(),
        ),
    ];
    // Found by this target: an Ed25519 `x` of 31 bytes made the JWKS loader panic (now refused).
    seeds.push((
        "crash-jwks-ed25519-x-31-bytes".to_owned(),
        br#"J{"keys":[{"alg":"EdDSA","crv":"Ed25519","kid":"fuzz-key-1","kty":"OKP","use":"sig","x":"0EqyMnQrtKs6E2i9RhXk5tAiSrcaAWuvhSCjMsl3hzc"},{"alg":"EdDSA","crv":"Ed25519","kid":"fuzz-key-2","kty":"OKP","usse":"sig","x":"oJql9HpnWYAv-VX43C0qFKXJnSO-_hkEn_5ODRVpPA"}]}"#
            .to_vec(),
    ));
    let pem = mla_fuzz::ed25519_key(0)
        .verifying_key()
        .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .expect("a PEM public key");
    seeds.push(("pem-ed25519".to_owned(), format!("J{pem}").into_bytes()));
    // Minted tokens: the bytes become claims through `arbitrary`; a few shapes to start from.
    for (i, fill) in [0x00u8, 0x01, 0x10, 0x7f, 0xff].into_iter().enumerate() {
        let mut bytes = vec![b'M'];
        bytes.extend((0..96u8).map(|k| fill.wrapping_add(k.wrapping_mul(i as u8 + 1))));
        seeds.push((format!("minted-{i}"), bytes));
    }
    seeds
}

fn grpc_seeds() -> Vec<(String, Vec<u8>)> {
    fn seed(name: &str, message: impl Message) -> (String, Vec<u8>) {
        let mut bytes = vec![message_selector(name)];
        bytes.extend(message.encode_to_vec());
        (name.to_owned(), bytes)
    }
    let time = |seconds| Some(prost_types::Timestamp { seconds, nanos: 123_456_789 });
    let request = pb::Request {
        id: REQUEST_ID.into(),
        partner_code: "FR-MOJ".into(),
        request_type: pb::RequestType::Evidence as i32,
        priority: pb::Priority::Urgent as i32,
        urgency_reason: "Detention ends on Friday.\nWitness leaves the country.".into(),
        requesting_authority: "Investigative Court of Karkh".into(),
        partner_reference: "FR/2026/0042".into(),
        title: "Bank records of a suspect".into(),
        summary_of_facts: "Funds were moved through an account in Paris.".into(),
        offences: vec!["Money laundering".into(), "تمويل الإرهاب".into()],
        measures: vec!["Production of bank records".into()],
        purpose: "Trace the funds".into(),
        legal_basis: "UNTOC art. 18".into(),
        persons: vec![pb::Person {
            name: "A. B.".into(),
            role: pb::PersonRole::Suspect as i32,
            nationality: "IQ".into(),
            protected: false,
        }],
        confidentiality: pb::Confidentiality::Confidential as i32,
        assignee: "legal-officer-1".into(),
        due_time: time(1_767_225_600),
        ..Default::default()
    };
    let metadata = pb::DocumentMetadata {
        request_id: REQUEST_ID.into(),
        kind: pb::DocumentKind::LetterOfRequest as i32,
        title: "Letter of request".into(),
        file_name: "letter.pdf".into(),
        media_type: "application/pdf".into(),
        language: "ar".into(),
        translation_of: String::new(),
        audience: pb::Audience::Shared as i32,
        expected_sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
        request_id_key: "key-1".into(),
    };
    let partner = pb::Partner {
        code: "UN-IIIM".into(),
        name: "International, Impartial and Independent Mechanism".into(),
        country: String::new(),
        kind: pb::PartnerKind::InternationalMechanism as i32,
        legal_bases: vec!["UNSC res. 2379".into()],
        active: true,
        channel: pb::Channel::Paper as i32,
        ..Default::default()
    };
    vec![
        seed(
            "CreateRequestRequest",
            pb::CreateRequestRequest {
                request: Some(request.clone()),
                request_id: "key-1".into(),
                on_behalf_of_partner: "UN-IIIM".into(),
                received_via: pb::ReceivedVia::DiplomaticNote as i32,
                effective_time: time(1_767_000_000),
                letter_reference: "NV-17/2026".into(),
            },
        ),
        seed("GetRequestRequest", pb::GetRequestRequest { id: REQUEST_ID.into() }),
        seed(
            "ListRequestsRequest",
            pb::ListRequestsRequest {
                page_size: 20,
                state: pb::State::UnderReview as i32,
                direction: pb::Direction::Incoming as i32,
                partner_code: "FR-MOJ".into(),
                awaiting_role: "judge".into(),
                query: "bank".into(),
                received_after: time(1_760_000_000),
                order_by: "due_time".into(),
                ..Default::default()
            },
        ),
        seed(
            "UpdateRequestRequest",
            pb::UpdateRequestRequest {
                request: Some(request),
                update_mask: Some(prost_types::FieldMask { paths: vec!["title".into(), "due_time".into()] }),
                etag: "3".into(),
                request_id: "key-2".into(),
                reason: "The court moved the hearing.".into(),
            },
        ),
        seed(
            "TransitionRequestRequest",
            pb::TransitionRequestRequest {
                id: REQUEST_ID.into(),
                action: pb::Action::ProposeConditions as i32,
                etag: "4".into(),
                reason: "Assurances are needed.".into(),
                conditions: vec![pb::Condition {
                    kind: pb::ConditionKind::DeathPenaltyNonImposition as i32,
                    text: "No death penalty will be imposed.".into(),
                    ..Default::default()
                }],
                refusal_grounds: vec![pb::RefusalGround::DeathPenaltyRisk as i32],
                on_behalf_of_partner: "UN-IIIM".into(),
                received_via: pb::ReceivedVia::Courier as i32,
                letter_document_id: DOCUMENT_ID.into(),
                ..Default::default()
            },
        ),
        seed(
            "ListRequestEventsRequest",
            pb::ListRequestEventsRequest {
                id: REQUEST_ID.into(),
                page_size: 10,
                page_token: "653a31".into(),
            },
        ),
        seed(
            "PostMessageRequest",
            pb::PostMessageRequest {
                request_id: REQUEST_ID.into(),
                message: Some(pb::Message {
                    audience: pb::Audience::Shared as i32,
                    body: "Please find the bank records attached.\n\tRegards".into(),
                    attachment_ids: vec![DOCUMENT_ID.into()],
                    ..Default::default()
                }),
                request_id_key: "key-3".into(),
            },
        ),
        seed(
            "ListMessagesRequest",
            pb::ListMessagesRequest { request_id: REQUEST_ID.into(), ..Default::default() },
        ),
        seed(
            "MarkMessagesReadRequest",
            pb::MarkMessagesReadRequest {
                request_id: REQUEST_ID.into(),
                up_to_message_id: "0192f0c1-7a3e-7cc0-8000-0000000000a1".into(),
            },
        ),
        seed("PrintLetterRequest", pb::PrintLetterRequest { id: REQUEST_ID.into(), language: "ar".into() }),
        seed(
            "ErasePersonalDataRequest",
            pb::ErasePersonalDataRequest {
                id: REQUEST_ID.into(),
                person: 0,
                legal_reference: "Court order 12/2026".into(),
                etag: "5".into(),
                request_id: "key-4".into(),
            },
        ),
        seed("WatchEventsRequest", pb::WatchEventsRequest { after_cursor: "42".into() }),
        seed(
            "CreatePartnerRequest",
            pb::CreatePartnerRequest { partner: Some(partner.clone()), request_id: "key-5".into() },
        ),
        seed("GetPartnerRequest", pb::GetPartnerRequest { code: "FR-MOJ".into() }),
        seed("ListPartnersRequest", pb::ListPartnersRequest { include_inactive: true, ..Default::default() }),
        seed(
            "GetStatisticsRequest",
            pb::GetStatisticsRequest {
                period_start: Some(prost_types::Timestamp { seconds: 1_767_225_600, nanos: 0 }),
                period_end: Some(prost_types::Timestamp { seconds: 1_775_001_600, nanos: 0 }),
                direction: pb::Direction::Incoming as i32,
            },
        ),
        seed(
            "GetHumanRightsReportRequest",
            pb::GetHumanRightsReportRequest {
                period_start: Some(prost_types::Timestamp { seconds: 1_767_225_600, nanos: 0 }),
                period_end: Some(prost_types::Timestamp { seconds: 1_798_761_600, nanos: 0 }),
                direction: pb::Direction::Outgoing as i32,
            },
        ),
        seed(
            "UpdatePartnerRequest",
            pb::UpdatePartnerRequest {
                partner: Some(pb::Partner { country: "FR".into(), code: "FR-MOJ".into(), ..partner }),
                update_mask: Some(prost_types::FieldMask { paths: vec!["country".into(), "active".into()] }),
                etag: "2".into(),
                request_id: String::new(),
            },
        ),
        seed(
            "UploadDocumentRequest",
            pb::UploadDocumentRequest {
                part: Some(pb::upload_document_request::Part::Metadata(metadata.clone())),
            },
        ),
        seed(
            "StartUploadRequest",
            pb::StartUploadRequest { metadata: Some(metadata), size_bytes: 1_048_576 },
        ),
        seed(
            "AppendUploadRequest",
            pb::AppendUploadRequest {
                part: Some(pb::append_upload_request::Part::Position(pb::UploadPosition {
                    upload_id: "0192f0c1-7a3e-7cc0-8000-0000000000e1".into(),
                    offset: 65_536,
                })),
            },
        ),
        seed("GetUploadRequest", pb::GetUploadRequest { id: "0192f0c1-7a3e-7cc0-8000-0000000000e1".into() }),
        seed(
            "CancelUploadRequest",
            pb::CancelUploadRequest { id: "0192f0c1-7a3e-7cc0-8000-0000000000e1".into() },
        ),
        seed("GetDocumentRequest", pb::GetDocumentRequest { id: DOCUMENT_ID.into() }),
        seed(
            "ListDocumentsRequest",
            pb::ListDocumentsRequest { request_id: REQUEST_ID.into(), ..Default::default() },
        ),
        seed("DownloadDocumentRequest", pb::DownloadDocumentRequest { id: DOCUMENT_ID.into(), offset: 1024 }),
        seed(
            "ReleaseDocumentsRequest",
            pb::ReleaseDocumentsRequest {
                request_id: REQUEST_ID.into(),
                document_ids: vec![DOCUMENT_ID.into()],
                etag: "6".into(),
                request_id_key: String::new(),
            },
        ),
        seed(
            "DownloadEvidencePackageRequest",
            pb::DownloadEvidencePackageRequest { request_id: REQUEST_ID.into() },
        ),
    ]
}

fn hex_of(message: impl Message) -> String {
    hex::encode(message.encode_to_vec())
}

fn rest_seeds() -> Vec<(String, String)> {
    let body = r#"{"partner_code":"FR-MOJ","request_type":"EVIDENCE","priority":"URGENT","urgency_reason":"Detention ends on Friday.","title":"Bank records","summary_of_facts":"Funds moved.","offences":["Money laundering"],"measures":["Production of records"],"persons":[{"name":"A. B.","role":"SUSPECT","nationality":"IQ","protected":false}],"confidentiality":"CONFIDENTIAL","due_time":"2026-03-01T09:00:00.123Z","on_behalf_of_partner":"UN-IIIM","received_via":"COURIER","effective_time":"2026-02-27T10:00:00Z","letter_reference":"NV-17"}"#;
    let transition = r#"{"action":"REFUSE","reason":"Political offence.","refusal_grounds":["POLITICAL_OFFENCE"],"consultation_waived_reason":"No condition could cure it.","conditions":[{"kind":"OTHER","text":"x"}],"outcome":"PARTIAL","effective_time":"2026-02-27T10:00:00+03:00"}"#;
    let partner = r#"{"code":"UN-IIIM","name":"Mechanism","country":"","kind":"INTERNATIONAL_MECHANISM","legal_bases":["UNSC res. 2379"],"active":true,"channel":"PAPER"}"#;
    let message = r#"{"audience":"SHARED","body":"Records attached.\nRegards","attachment_ids":["0192f0c1-7a3e-7cc0-8000-0000000000d1"]}"#;
    let document = r#"{"kind":"EVIDENCE","title":"Statement","file_name":"شهادة.pdf","media_type":"application/pdf","language":"ar","audience":"INTERNAL","expected_sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}"#;
    let upload = format!(r#"{{"metadata":{document},"size_bytes":1048576}}"#);
    let event = pb::Event {
        cursor: 42,
        request_id: REQUEST_ID.into(),
        seq: 3,
        time: Some(prost_types::Timestamp { seconds: 1_767_225_600, nanos: 5_000 }),
        actor: Some(pb::Actor {
            subject: "judge-1".into(),
            roles: vec!["judge".into()],
            ..Default::default()
        }),
        action: "SUBMIT".into(),
        from_state: pb::State::Draft as i32,
        to_state: pb::State::Submitted as i32,
        details: r#"{"fields":["title"]}"#.into(),
        prev_hash: "ab".repeat(32),
        hash: "cd".repeat(32),
        ..Default::default()
    };
    let document_reply = pb::Document {
        id: DOCUMENT_ID.into(),
        request_id: REQUEST_ID.into(),
        kind: pb::DocumentKind::Evidence as i32,
        title: "Statement".into(),
        file_name: "شهادة \"final\".pdf".into(),
        media_type: "application/pdf".into(),
        size_bytes: 10,
        sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
        ..Default::default()
    };
    let session = pb::UploadSession {
        id: "0192f0c1-7a3e-7cc0-8000-0000000000e1".into(),
        metadata: Some(pb::DocumentMetadata {
            kind: pb::DocumentKind::Evidence as i32,
            title: "Statement".into(),
            ..Default::default()
        }),
        size_bytes: 100,
        offset: 10,
        expire_time: Some(prost_types::Timestamp { seconds: 1_767_225_600, nanos: 0 }),
        document: None,
    };
    let request_reply = pb::Request {
        id: REQUEST_ID.into(),
        reference: "IN-2026-000042".into(),
        partner_code: "FR-MOJ".into(),
        title: "=HYPERLINK(\"x\")".into(),
        etag: "7".into(),
        state: pb::State::UnderReview as i32,
        ..Default::default()
    };
    let list_reply =
        pb::ListRequestsResponse { requests: vec![request_reply.clone()], next_page_token: String::new() };
    let tus_metadata = format!(
        "kind {},title {},filename {},filetype {}",
        STANDARD.encode("EVIDENCE"),
        STANDARD.encode("Statement"),
        STANDARD.encode("شهادة.pdf"),
        STANDARD.encode("application/pdf")
    );
    let multipart = "--XyZ\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{\"kind\":\"EVIDENCE\",\"title\":\"Statement\"}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7 fuzz\r\n--XyZ--\r\n";
    let r = REQUEST_ID;
    let u = "0192f0c1-7a3e-7cc0-8000-0000000000e1";
    vec![
        ("dto-new-request".into(), format!("dto:NewRequestBody\n{body}")),
        ("dto-request-patch".into(), "dto:RequestPatch\n{\"assignee\":\"judge-2\",\"due_time\":null,\"reason\":\"Moved.\"}".into()),
        ("dto-transition".into(), format!("dto:Transition\n{transition}")),
        ("dto-new-partner".into(), format!("dto:NewPartner\n{partner}")),
        ("dto-partner-patch".into(), "dto:PartnerPatch\n{\"active\":false,\"legal_bases\":[]}".into()),
        ("dto-new-message".into(), format!("dto:NewMessage\n{message}")),
        ("dto-new-document".into(), format!("dto:NewDocument\n{document}")),
        ("dto-new-upload".into(), format!("dto:NewUpload\n{upload}")),
        ("dto-mark-read".into(), "dto:MarkRead\n{\"up_to_message_id\":\"0192f0c1-7a3e-7cc0-8000-0000000000a1\"}".into()),
        ("dto-erasure".into(), "dto:Erasure\n{\"person\":0,\"legal_reference\":\"Order 12\"}".into()),
        ("dto-release".into(), format!("dto:Release\n{{\"document_ids\":[\"{DOCUMENT_ID}\"]}}")),
        (
            "query-request-filter".into(),
            "query:RequestFilter\nstate=UNDER_REVIEW&direction=INCOMING&overdue=true&received_after=2026-01-01T00%3A00%3A00Z&query=bank+records&page_size=10&order_by=due_time".into(),
        ),
        ("query-partners".into(), "query:PartnerQuery\ninclude_inactive=true&page_size=5&page_token=abc".into()),
        (
            "query-report".into(),
            "query:ReportQuery\nperiod_start=2026-01-01T00%3A00%3A00Z&period_end=2027-01-01T00%3A00%3A00Z&direction=INCOMING&format=csv".into(),
        ),
        (
            "http-create-request".into(),
            format!("POST /v1/requests\ncontent-type: application/json\nidempotency-key: k-1\nx-fuzz-reply: {}\n\n{body}", hex_of(request_reply.clone())),
        ),
        (
            "http-list-requests".into(),
            format!("GET /v1/requests?state=UNDER_REVIEW&page_size=10&received_before=2026-03-01T00:00:00Z&overdue=true\nauthorization: Bearer abc\nx-fuzz-reply: {}\n\n", hex_of(list_reply.clone())),
        ),
        (
            "http-human-rights-report".into(),
            "GET /v1/reports/human-rights?period_start=2026-01-01T00:00:00Z&period_end=2027-01-01T00:00:00Z\naccept: text/csv\nauthorization: Bearer abc\n\n".into(),
        ),
        (
            "http-export-csv".into(),
            format!("GET /v1/requests?awaiting_role=judge\naccept: text/csv\nx-fuzz-reply: {}\n\n", hex_of(list_reply)),
        ),
        (
            "http-update-request".into(),
            format!("PATCH /v1/requests/{r}\ncontent-type: application/json\nif-match: \"7\"\n\n{{\"title\":\"New title\",\"reason\":\"Typo\",\"assignee\":null}}"),
        ),
        (
            "http-transition".into(),
            format!("POST /v1/requests/{r}/transitions\ncontent-type: application/json\nif-match: \"7\"\nx-fuzz-answer: 9\n\n{transition}"),
        ),
        (
            "http-events".into(),
            format!(
                "GET /v1/requests/{r}/events?page_size=5\nx-fuzz-reply: {}\n\n",
                hex_of(pb::ListRequestEventsResponse { events: vec![event.clone()], next_page_token: "653a33".into() })
            ),
        ),
        (
            "http-post-message".into(),
            format!("POST /v1/requests/{r}/messages\ncontent-type: application/json; charset=utf-8\n\n{message}"),
        ),
        ("http-mark-read".into(), format!("POST /v1/requests/{r}/messages:read\ncontent-type: application/json\n\n{{\"up_to_message_id\":\"x\"}}")),
        ("http-erasure".into(), format!("POST /v1/requests/{r}/erasures\ncontent-type: application/json\nif-match: *\n\n{{\"person\":1,\"legal_reference\":\"Order\"}}")),
        ("http-letter".into(), format!("GET /v1/requests/{r}/letter?language=ar\n\n")),
        ("http-create-partner".into(), format!("POST /v1/partners\ncontent-type: application/json\n\n{partner}")),
        ("http-update-partner".into(), "PATCH /v1/partners/FR-MOJ\ncontent-type: application/json\nif-match: \"2\"\n\n{\"active\":false}".into()),
        ("http-list-partners".into(), "GET /v1/partners?include_inactive=true&page_size=3\n\n".into()),
        (
            "http-upload-multipart".into(),
            format!(
                "POST /v1/requests/{r}/documents\ncontent-type: multipart/form-data; boundary=XyZ\nx-fuzz-reply: {}\n\n{multipart}",
                hex_of(document_reply.clone())
            ),
        ),
        (
            "http-tus-start".into(),
            format!(
                "POST /v1/requests/{r}/uploads\ntus-resumable: 1.0.0\nupload-length: 100\nupload-metadata: {tus_metadata}\nx-fuzz-reply: {}\n\n",
                hex_of(session.clone())
            ),
        ),
        (
            "http-tus-start-json".into(),
            format!("POST /v1/requests/{r}/uploads\ncontent-type: application/json\n\n{upload}"),
        ),
        (
            "http-tus-append".into(),
            format!(
                "PATCH /v1/uploads/{u}\ntus-resumable: 1.0.0\ncontent-type: application/offset+octet-stream\nupload-offset: 10\nx-fuzz-reply: {}\n\n0123456789",
                hex_of(session.clone())
            ),
        ),
        ("http-tus-head".into(), format!("HEAD /v1/uploads/{u}\ntus-resumable: 1.0.0\nx-fuzz-reply: {}\n\n", hex_of(session))),
        ("http-tus-options".into(), format!("OPTIONS /v1/uploads/{u}\n\n")),
        (
            "http-download".into(),
            format!(
                "GET /v1/documents/{DOCUMENT_ID}/content\nrange: bytes=2-5\nx-fuzz-reply: {}\nx-fuzz-reply: 0a046162636465\n\n",
                hex_of(pb::DownloadDocumentResponse { document: Some(document_reply), chunk: Vec::new() })
            ),
        ),
        ("http-release".into(), format!("POST /v1/requests/{r}/documents:release\ncontent-type: application/json\nif-match: \"3\"\n\n{{\"document_ids\":[\"{DOCUMENT_ID}\"]}}")),
        ("http-watch".into(), format!("GET /v1/events\nlast-event-id: 41\nx-fuzz-reply: {}\n\n", hex_of(event))),
        ("http-jwks".into(), "GET /.well-known/jwks.json\n\n".into()),
        ("http-not-found".into(), "DELETE /v1/nowhere?x=1\n\n".into()),
    ]
}

fn audit_seeds() -> Vec<(String, Vec<u8>)> {
    // The input is read through `arbitrary`; any bytes make a chain. Seeds of a few lengths and shapes.
    (0..4u8)
        .map(|i| {
            let bytes: Vec<u8> = (0..(64 + 96 * usize::from(i)))
                .map(|k| (k as u8).wrapping_mul(31).wrapping_add(i * 17))
                .collect();
            (format!("chain-{i}"), bytes)
        })
        .collect()
}
