//! Resumable uploads over REST as tus 1.0.0 speaks them, on both backends, through the gateway the
//! broker serves: a session created with tus headers (an Arabic file name in `Upload-Metadata`), its
//! content sent in parts from the offset `HEAD` answers, a wrong offset refused with 409, the
//! completed document downloaded equal by digest; `PATCH` bodies that break off mid-way (the client
//! gone, or half-closed) keep what arrived and the upload goes on from there; sessions are their
//! callers' alone; termination; and bad creations refused with the header at fault.

use std::time::Duration;

use base64::Engine as _;
use mla_proto::v1 as pb;
use mla_tests::*;
use pb::Action as A;
use reqwest::{Method, Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Content that begins as a PDF, `len` bytes long, no two 1 KiB blocks alike.
fn pdf(len: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    let mut state = 0x2545_4446_u32;
    while bytes.len() < len {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        bytes.push((state >> 24) as u8);
    }
    bytes
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `Upload-Metadata` as tus writes it: `key base64(value)` pairs, comma-separated.
fn tus_metadata(pairs: &[(&str, &str)]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    pairs.iter().map(|(key, value)| format!("{key} {}", b64.encode(value))).collect::<Vec<_>>().join(",")
}

/// A request France submitted and the NCIJC has under review.
async fn under_review(broker: &Broker) -> pb::Request {
    broker.register_partners(&["FR-MOJ", "DE-BJ"]).await;
    let request = broker.submitted_by("FR-MOJ", "Witness W-17").await;
    let mut requests = broker.requests().await;
    for (who, step) in [("registrar", A::Acknowledge), ("legal_officer", A::StartReview)] {
        let call = authed(action(&request.id, step), &broker.token_for(who));
        requests.transition_request(call).await.expect("the request moves on");
    }
    request
}

/// A tus client of the broker's gateway, for one principal.
struct Tus {
    base: String,
    http: reqwest::Client,
    token: String,
}

impl Tus {
    /// A client of the gateway `broker` serves beside gRPC.
    fn new(broker: &Broker, token: String) -> Tus {
        Tus::at(broker.gateway_url(), token)
    }

    /// A client of the gateway at `base`.
    fn at(base: String, token: String) -> Tus {
        Tus { base, http: http_client(), token }
    }

    /// A call with the token and `Tus-Resumable: 1.0.0`.
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.untus(method, path).header("tus-resumable", "1.0.0")
    }

    /// A call with the token only.
    fn untus(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let call = self.http.request(method, format!("{}{path}", self.base));
        call.bearer_auth(&self.token).timeout(PATIENCE)
    }

    /// Creates a session; `metadata` is `Upload-Metadata`, `length` `Upload-Length`.
    async fn create(&self, request_id: &str, length: Option<&str>, metadata: &str) -> Response {
        let mut call = self.request(Method::POST, &format!("/v1/requests/{request_id}/uploads"));
        if let Some(length) = length {
            call = call.header("upload-length", length);
        }
        call.header("upload-metadata", metadata).send().await.expect("an answer")
    }

    /// Creates a session and returns its URL.
    async fn start(&self, request_id: &str, content: &[u8], metadata: &str) -> String {
        let created = self.create(request_id, Some(&content.len().to_string()), metadata).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        header(&created, "location")
    }

    async fn head(&self, location: &str) -> Response {
        self.request(Method::HEAD, location).send().await.expect("an answer")
    }

    /// The session's offset, as `HEAD` answers it.
    async fn offset(&self, location: &str) -> usize {
        let head = self.head(location).await;
        assert_eq!(head.status(), StatusCode::OK);
        header(&head, "upload-offset").parse().expect("an offset")
    }

    async fn patch(&self, location: &str, offset: usize, bytes: &[u8]) -> Response {
        self.request(Method::PATCH, location)
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", offset.to_string())
            .body(bytes.to_vec())
            .send()
            .await
            .expect("an answer")
    }

    async fn delete(&self, location: &str) -> Response {
        self.request(Method::DELETE, location).send().await.expect("an answer")
    }

    /// Goes on from the session's offset until the content is complete, as a tus client does: a
    /// 409 (the offset moved, or an earlier PATCH still appending) sends it back to `HEAD`.
    /// Returns the last answer.
    async fn finish(&self, location: &str, content: &[u8]) -> Response {
        let resumed = async {
            loop {
                let offset = self.offset(location).await;
                let answer = self.patch(location, offset, &content[offset..]).await;
                if answer.status() != StatusCode::CONFLICT {
                    return answer;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        within("the upload to complete", resumed).await
    }

    async fn json(&self, path: &str) -> (StatusCode, serde_json::Value) {
        let answer = self.request(Method::GET, path).send().await.expect("an answer");
        (answer.status(), answer.json().await.expect("JSON"))
    }

    async fn bytes(&self, path: &str) -> Vec<u8> {
        let answer = self.request(Method::GET, path).send().await.expect("an answer");
        assert_eq!(answer.status(), StatusCode::OK);
        answer.bytes().await.expect("the content").to_vec()
    }
}

fn header(answer: &Response, name: &str) -> String {
    answer.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

/// The problem+json of an answer, checked to have `status`.
async fn problem(answer: Response, status: u16) -> serde_json::Value {
    assert_eq!(answer.status().as_u16(), status);
    assert!(header(&answer, "content-type").starts_with("application/problem+json"));
    answer.json().await.expect("problem+json")
}

async fn a_tus_upload_goes_on_from_its_offset(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    let request = under_review(&broker).await;
    let france = Tus::new(&broker, broker.partner("FR-MOJ"));
    let content = pdf(300_000);
    let metadata = tus_metadata(&[
        ("kind", "SUPPORTING_DOCUMENT"),
        ("title", "Procès-verbal d'audition"),
        ("filename", "محضر الاستماع.pdf"),
        ("filetype", "application/pdf"),
        ("language", "fr"),
        ("expected_sha256", &sha256_hex(&content)),
    ]);

    let discovery = france.request(Method::OPTIONS, &format!("/v1/requests/{}/uploads", request.id));
    let discovery = discovery.send().await.expect("an answer");
    assert_eq!(discovery.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&discovery, "tus-version"), "1.0.0");
    assert_eq!(header(&discovery, "tus-extension"), "creation,termination,expiration");

    let create = || {
        france
            .request(Method::POST, &format!("/v1/requests/{}/uploads", request.id))
            .header("upload-length", content.len().to_string())
            .header("upload-metadata", &metadata)
            .header("idempotency-key", "fr-pv-1")
            .send()
    };
    let created = create().await.expect("an answer");
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = header(&created, "location");
    assert!(location.starts_with("/v1/uploads/"), "{location}");
    assert_eq!(header(&created, "tus-resumable"), "1.0.0");
    assert_eq!(header(&created, "upload-offset"), "0");
    let expires = chrono::DateTime::parse_from_rfc2822(&header(&created, "upload-expires"))
        .expect("Upload-Expires is an HTTP-date");
    let week = chrono::Utc::now() + chrono::TimeDelta::days(7);
    assert!((week - expires.to_utc()).num_minutes().abs() < 5, "a week from now: {expires}");
    let session: serde_json::Value = created.json().await.expect("the session as JSON");
    assert_eq!(format!("/v1/uploads/{}", session["id"].as_str().expect("an id")), location);
    assert_eq!((session["offset"].as_i64(), session["size_bytes"].as_u64()), (Some(0), Some(300_000)));
    assert_eq!(session["request_id"], request.id.as_str());
    assert_eq!(session["metadata"]["file_name"], "محضر الاستماع.pdf");
    assert_eq!(session["metadata"]["kind"], "SUPPORTING_DOCUMENT");
    assert_eq!(session["document"], serde_json::Value::Null);
    // A retry of the creation under the same key is the same session.
    let again = create().await.expect("an answer");
    assert_eq!(header(&again, "location"), location);

    let first = france.patch(&location, 0, &content[..100_000]).await;
    assert_eq!(first.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&first, "upload-offset"), "100000");
    assert_eq!(header(&first, "tus-resumable"), "1.0.0");
    assert!(first.headers().get("location").is_none(), "not complete yet");

    let head = france.head(&location).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "upload-offset"), "100000");
    assert_eq!(header(&head, "upload-length"), "300000");
    assert_eq!(header(&head, "cache-control"), "no-store");
    assert_eq!(header(&head, "tus-resumable"), "1.0.0");
    assert!(!header(&head, "upload-expires").is_empty());
    let echoed = header(&head, "upload-metadata");
    let arabic = base64::engine::general_purpose::STANDARD.encode("محضر الاستماع.pdf");
    assert!(echoed.contains(&format!("filename {arabic}")), "{echoed}");
    let (status, session) = france.json(&location).await;
    assert_eq!((status, session["offset"].as_i64()), (StatusCode::OK, Some(100_000)));

    let behind = france.patch(&location, 40_000, &content[40_000..40_100]).await;
    assert_eq!(header(&behind, "upload-offset"), "100000", "the session's offset, for the client to go on");
    let behind = problem(behind, 409).await;
    assert_eq!(behind["reason"], "UPLOAD_OFFSET_MISMATCH");
    let ahead = france.patch(&location, 200_000, &content[200_000..200_100]).await;
    assert_eq!(problem(ahead, 409).await["reason"], "UPLOAD_OFFSET_MISMATCH");
    let not_octets = france
        .request(Method::PATCH, &location)
        .header("upload-offset", "100000")
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("an answer");
    problem(not_octets, 415).await;
    let no_offset = france
        .request(Method::PATCH, &location)
        .header("content-type", "application/offset+octet-stream")
        .body(content[100_000..100_010].to_vec())
        .send()
        .await
        .expect("an answer");
    assert_eq!(problem(no_offset, 400).await["violations"][0]["field"], "Upload-Offset");
    let old_tus = france
        .untus(Method::HEAD, &location)
        .header("tus-resumable", "0.2.2")
        .send()
        .await
        .expect("an answer");
    assert_eq!(old_tus.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(header(&old_tus, "tus-version"), "1.0.0");
    assert_eq!(france.offset(&location).await, 100_000, "nothing refused moved the offset");

    let rest = france.patch(&location, 100_000, &content[100_000..]).await;
    assert_eq!(rest.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&rest, "upload-offset"), "300000");
    let document_url = header(&rest, "location");
    let document_id = header(&rest, "mla-document-id");
    assert_eq!(document_url, format!("/v1/documents/{document_id}"));

    let downloaded = france.bytes(&format!("{document_url}/content")).await;
    assert_eq!(sha256_hex(&downloaded), sha256_hex(&content), "the download is the upload, by digest");
    let (_, document) = france.json(&document_url).await;
    assert_eq!(document["file_name"], "محضر الاستماع.pdf");
    assert_eq!(document["language"], "fr");
    assert_eq!(document["detected_media_type"], "application/pdf");
    assert_eq!(document["size_bytes"], 300_000);
    let (_, session) = france.json(&location).await;
    assert_eq!(session["offset"], 300_000);
    assert_eq!(session["document"]["id"], document_id.as_str());
    assert_eq!(session["document"]["sha256"], sha256_hex(&content).as_str());
    // A completed session answers its document again, and the request has it once.
    let replay = france.patch(&location, 300_000, b"").await;
    assert_eq!(header(&replay, "location"), document_url);
    let (_, listed) = france.json(&format!("/v1/requests/{}/documents", request.id)).await;
    assert_eq!(listed["documents"].as_array().map(Vec::len), Some(1));
    broker.stop().await;
}

/// A raw HTTP/1.1 `PATCH` to `tus`'s gateway that announces `announced` bytes of body and sends only
/// `body`, then breaks off: `half_close` shuts its sending side and reads the answer (returned),
/// otherwise the connection is dropped at once, as a client that goes away.
async fn broken_patch(
    tus: &Tus,
    location: &str,
    offset: usize,
    body: &[u8],
    announced: usize,
    half_close: bool,
) -> Option<String> {
    let (address, token) = (tus.base.trim_start_matches("http://"), &tus.token);
    let connected = within("a connection", tokio::net::TcpStream::connect(address)).await;
    let mut stream = connected.expect("the gateway's port");
    let head = format!(
        "PATCH {location} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n\
         Upload-Offset: {offset}\r\nContent-Length: {announced}\r\nConnection: close\r\n\r\n"
    );
    let sent = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        stream.flush().await
    };
    within("the part of the body to be sent", sent).await.expect("sent");
    if !half_close {
        drop(stream);
        return None;
    }
    within("the half-close", stream.shutdown()).await.expect("the sending side is closed");
    let mut answer = Vec::new();
    within("the answer to a broken PATCH", stream.read_to_end(&mut answer)).await.expect("read");
    Some(String::from_utf8_lossy(&answer).into_owned())
}

/// Waits until `HEAD` says `expected`, never more, then until the PATCH that broke off has ended
/// (an empty PATCH at the offset is taken rather than refused as concurrent).
async fn kept(tus: &Tus, location: &str, expected: usize) {
    let arrived = async {
        loop {
            let offset = tus.offset(location).await;
            assert!(offset <= expected, "never more than was sent: {offset} > {expected}");
            if offset == expected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    within("the broker to keep every byte that arrived", arrived).await;
    // The broken PATCH may still be syncing what it got: while it runs, the broker answers 409
    // CONCURRENT_MODIFICATION and the loop asks again.
    let ended = async {
        loop {
            let answer = tus.patch(location, expected, b"").await;
            if answer.status() == StatusCode::NO_CONTENT {
                return header(&answer, "upload-offset");
            }
            assert_eq!(problem(answer, 409).await["reason"], "CONCURRENT_MODIFICATION");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    assert_eq!(within("the broken PATCH to end", ended).await, expected.to_string());
}

/// Bodies that break off, through the gateway the broker serves (in-process upstream) and through
/// one run alone in front of its gRPC port (`gateway --upstream`): every byte that arrived is kept.
async fn a_patch_that_breaks_off_keeps_what_arrived(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    let request = under_review(&broker).await;
    let token = broker.partner("FR-MOJ");
    let france = Tus::new(&broker, token.clone());
    let remote = Tus::at(broker.start_remote_gateway().await, token);
    let content = pdf(600_000);
    let metadata = tus_metadata(&[
        ("kind", "EVIDENCE"),
        ("title", "Extraction"),
        ("filename", "استخراج الهاتف.pdf"),
        ("expected_sha256", &sha256_hex(&content)),
    ]);
    let location = france.start(&request.id, &content, &metadata).await;

    // The client goes away after 150,000 of the 400,000 bytes it announced.
    broken_patch(&france, &location, 0, &content[..150_000], 400_000, false).await;
    kept(&france, &location, 150_000).await;
    // And again through the remote gateway.
    broken_patch(&remote, &location, 150_000, &content[150_000..250_000], 300_000, false).await;
    kept(&remote, &location, 250_000).await;

    // A client that stops sending but waits: the answer says what was kept.
    for (tus, from) in [(&france, 250_000), (&remote, 300_000)] {
        let part = &content[from..from + 50_000];
        let answer = broken_patch(tus, &location, from, part, 100_000, true).await.expect("an answer");
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        let said = format!("upload-offset: {}", from + 50_000);
        assert!(answer.to_ascii_lowercase().contains(&said), "{answer}");
        assert_eq!(france.offset(&location).await, from + 50_000);
    }

    let done = france.finish(&location, &content).await;
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&done, "upload-offset"), "600000");
    let document_url = header(&done, "location");
    let downloaded = france.bytes(&format!("{document_url}/content")).await;
    assert_eq!(sha256_hex(&downloaded), sha256_hex(&content), "the resumed upload is the content");
    let store = broker.open_store().await;
    mla_store::verify_audit(store.as_ref()).await.expect("read").expect("the trail verifies");
    broker.stop().await;
}

/// A browser may speak tus across origins: the preflight allows the tus headers in, and answers
/// expose them.
#[tokio::test]
async fn cors_lets_browsers_speak_tus() {
    let broker = Broker::sqlite().await;
    let request = under_review(&broker).await;
    let config = mla_gateway::GatewayConfig {
        cors_origins: vec![reqwest::header::HeaderValue::from_static("https://tools.ncijc.example")],
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let upstream = mla_gateway::upstream_channel(&broker.url, None).expect("a channel");
    let stop = tokio_util::sync::CancellationToken::new();
    let stopped = stop.clone();
    let router = mla_gateway::router(upstream, config);
    let server = tokio::spawn(mla_gateway::serve(listener, router, async move { stopped.cancelled().await }));
    let france = Tus::at(base, broker.partner("FR-MOJ"));
    let origin = "https://tools.ncijc.example";

    let preflight = france
        .http
        .request(Method::OPTIONS, format!("{}/v1/uploads/some-session", france.base))
        .header("origin", origin)
        .header("access-control-request-method", "PATCH")
        .header("access-control-request-headers", "tus-resumable,upload-offset,content-type,authorization")
        .send()
        .await
        .expect("an answer");
    assert_eq!(header(&preflight, "access-control-allow-origin"), origin);
    assert!(header(&preflight, "access-control-allow-methods").contains("PATCH"));
    let allowed = header(&preflight, "access-control-allow-headers").to_ascii_lowercase();
    for name in ["tus-resumable", "upload-offset", "upload-length", "upload-metadata"] {
        assert!(allowed.contains(name), "{name} in {allowed}");
    }

    let metadata = tus_metadata(&[("kind", "OTHER"), ("title", "Note"), ("filename", "n.txt")]);
    let created = france
        .request(Method::POST, &format!("/v1/requests/{}/uploads", request.id))
        .header("origin", origin)
        .header("upload-length", "5")
        .header("upload-metadata", metadata)
        .send()
        .await
        .expect("an answer");
    assert_eq!(created.status(), StatusCode::CREATED);
    let exposed = header(&created, "access-control-expose-headers").to_ascii_lowercase();
    for name in
        ["location", "upload-offset", "upload-length", "upload-expires", "tus-resumable", "tus-version"]
    {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
    // Discovery without a preflight reaches the tus answer.
    let discovery = france.http.request(Method::OPTIONS, format!("{}/v1/uploads/x", france.base));
    let discovery = discovery.header("origin", origin).send().await.expect("an answer");
    assert_eq!(header(&discovery, "tus-extension"), "creation,termination,expiration");
    stop.cancel();
    within("the gateway to stop", server).await.expect("joined").expect("a clean stop");
    broker.stop().await;
}

async fn an_upload_is_its_callers_alone_until_cancelled(backend: Backend) {
    let Some(broker) = Broker::start(backend).await else { return };
    let request = under_review(&broker).await;
    let france = Tus::new(&broker, broker.partner("FR-MOJ"));
    let content = pdf(50_000);
    let metadata =
        tus_metadata(&[("kind", "SUPPORTING_DOCUMENT"), ("title", "Annex"), ("filename", "a.pdf")]);
    let location = france.start(&request.id, &content, &metadata).await;
    assert_eq!(france.patch(&location, 0, &content[..20_000]).await.status(), StatusCode::NO_CONTENT);

    // Another party, even one who sees the request, finds no such upload.
    for who in ["registrar", "DE-BJ"] {
        let other = Tus::new(&broker, broker.token_for(who));
        assert_eq!(other.head(&location).await.status(), StatusCode::NOT_FOUND, "{who}");
        let (status, body) = other.json(&location).await;
        assert_eq!((status, body["reason"].as_str()), (StatusCode::NOT_FOUND, Some("UPLOAD_NOT_FOUND")));
        problem(other.patch(&location, 20_000, &content[20_000..]).await, 404).await;
        problem(other.delete(&location).await, 404).await;
    }
    assert_eq!(france.offset(&location).await, 20_000, "nothing of theirs touched it");

    let cancelled = france.delete(&location).await;
    assert_eq!(cancelled.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&cancelled, "tus-resumable"), "1.0.0");
    assert_eq!(france.head(&location).await.status(), StatusCode::NOT_FOUND);
    problem(france.patch(&location, 20_000, &content[20_000..]).await, 404).await;
    problem(france.delete(&location).await, 404).await;
    let (_, listed) = france.json(&format!("/v1/requests/{}/documents", request.id)).await;
    assert_eq!(listed["documents"], serde_json::json!([]));
    broker.stop().await;
}

async fn bad_creations_name_what_is_wrong(backend: Backend) {
    let Some(broker) = Broker::start_with(backend, |config| config.max_document_bytes = 64 * 1024).await
    else {
        return;
    };
    let request = under_review(&broker).await;
    let france = Tus::new(&broker, broker.partner("FR-MOJ"));
    let good = tus_metadata(&[("kind", "OTHER"), ("title", "Note"), ("filename", "n.txt")]);
    let violation = |body: serde_json::Value| {
        let v = &body["violations"][0];
        (v["field"].as_str().unwrap_or("").to_owned(), v["description"].as_str().unwrap_or("").to_owned())
    };

    let missing = problem(france.create(&request.id, None, &good).await, 400).await;
    assert_eq!(violation(missing).0, "Upload-Length");
    let negative = problem(france.create(&request.id, Some("-5"), &good).await, 400).await;
    assert_eq!(violation(negative).0, "Upload-Length");

    let not_base64 =
        problem(france.create(&request.id, Some("10"), "kind T1RIRVI=,title %%%").await, 400).await;
    let (field, description) = violation(not_base64);
    assert_eq!(field, "Upload-Metadata");
    assert!(description.contains("`title`") && description.contains("base64"), "{description}");
    let unknown = tus_metadata(&[("kind", "OTHER"), ("title", "Note"), ("colour", "red")]);
    let (field, description) =
        violation(problem(france.create(&request.id, Some("10"), &unknown).await, 400).await);
    assert_eq!(field, "Upload-Metadata");
    assert!(description.contains("`colour`"), "{description}");
    let painting = tus_metadata(&[("kind", "PAINTING"), ("title", "Note"), ("filename", "n.txt")]);
    let (_, description) =
        violation(problem(france.create(&request.id, Some("10"), &painting).await, 400).await);
    assert!(description.contains("`kind`") && description.contains("PAINTING"), "{description}");

    let too_large = france.create(&request.id, Some(&(64 * 1024 + 1).to_string()), &good).await;
    assert_eq!(problem(too_large, 413).await["reason"], "DOCUMENT_TOO_LARGE");
    let huge = france.create(&request.id, Some("99999999999999999999999"), &good).await;
    assert_eq!(problem(huge, 413).await["reason"], "DOCUMENT_TOO_LARGE");

    let old_tus = france
        .untus(Method::POST, &format!("/v1/requests/{}/uploads", request.id))
        .header("tus-resumable", "0.2.2")
        .header("upload-length", "10")
        .send()
        .await
        .expect("an answer");
    assert_eq!(header(&old_tus, "tus-version"), "1.0.0");
    assert_eq!(problem(old_tus, 412).await["reason"], "TUS_VERSION_UNSUPPORTED");

    // Without tus: the same in a JSON body.
    let uploads = format!("/v1/requests/{}/uploads", request.id);
    let json = |body: serde_json::Value| france.untus(Method::POST, &uploads).json(&body).send();
    let metadata = serde_json::json!({"kind": "OTHER", "title": "Note", "file_name": "ملاحظة.txt"});
    let created = json(serde_json::json!({"metadata": metadata, "size_bytes": 5})).await.expect("an answer");
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = header(&created, "location");
    let session: serde_json::Value = created.json().await.expect("JSON");
    assert_eq!(session["metadata"]["file_name"], "ملاحظة.txt");
    let typo = serde_json::json!({"metadata": {"kind": "OTHER", "titel": "Note"}, "size_bytes": 5});
    let typo = problem(json(typo).await.expect("an answer"), 400).await;
    assert_eq!(violation(typo).0, "metadata.titel");
    let sizeless =
        problem(json(serde_json::json!({"metadata": metadata})).await.expect("an answer"), 400).await;
    assert_eq!(violation(sizeless).0, "size_bytes");

    // Content past Upload-Length is refused, and a digest that does not match starts over from 0.
    let past = france.patch(&location, 0, b"more than five bytes").await;
    problem(past, 400).await;
    let wrong = tus_metadata(&[
        ("kind", "OTHER"),
        ("title", "Note"),
        ("filename", "n.txt"),
        ("expected_sha256", &sha256_hex(b"other")),
    ]);
    let location = france.start(&request.id, b"hello", &wrong).await;
    let mismatch = problem(france.patch(&location, 0, b"hello").await, 400).await;
    assert_eq!(mismatch["reason"], "SHA256_MISMATCH");
    assert_eq!(france.offset(&location).await, 0);
    broker.stop().await;
}

on_both_backends!(
    a_tus_upload_goes_on_from_its_offset,
    a_patch_that_breaks_off_keeps_what_arrived,
    an_upload_is_its_callers_alone_until_cancelled,
    bad_creations_name_what_is_wrong,
);
