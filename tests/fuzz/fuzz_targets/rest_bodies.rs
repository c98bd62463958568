//! The REST gateway's parsing of what callers send: JSON bodies, query strings, headers, multipart
//! and tus uploads.
//!
//! Two modes, by the input's first line:
//! - `dto:<Name>` or `query:<Name>`, then JSON or a query string: the body and query types of
//!   `mla_gateway` read with serde as the routes read them, and their `into_wire` translations.
//!   Properties: nothing panics; an accepted body serialises and reads back to itself; a document's
//!   metadata and a person cross to the proto and back unchanged.
//! - otherwise a whole HTTP request as text (`METHOD /path?query`, header lines, a blank line, the
//!   body), sent through `mla_gateway::router` to a stub broker. Lines `x-fuzz-answer: <code>` (a
//!   gRPC status code; 0 or none: OK) and `x-fuzz-reply: <hex>` (a reply message, once per line)
//!   say how the stub answers, so the gateway's reading of odd answers is fuzzed too.
//!   Properties: nothing panics or hangs; every error answer is a problem (`application/problem+json`)
//!   as the gateway promises; every message the gateway sends the broker decodes as the request
//!   message of the method it calls.

#![no_main]

use std::convert::Infallible;
use std::sync::{LazyLock, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use mla_gateway as gw;
use mla_proto::v1 as pb;
use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower::ServiceExt;

fuzz_target!(|data: &[u8]| {
    let (first, rest) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    if let Some(name) = first.strip_prefix(b"dto:") {
        dto(name, rest);
    } else if let Some(name) = first.strip_prefix(b"query:") {
        query(name, &String::from_utf8_lossy(rest));
    } else {
        http_call(data);
    }
});

// Bodies and queries read directly.

/// Reads `json` as `T`; an accepted value serialises and reads back to itself.
fn read<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(json: &[u8]) -> Option<T> {
    let value: T = serde_json::from_slice(json).ok()?;
    let text = serde_json::to_string(&value).expect("an accepted body serialises");
    let again: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text} does not read back: {e}"));
    assert_eq!(again, value, "{text}");
    Some(value)
}

fn dto(name: &[u8], json: &[u8]) {
    let id = || "0192f0c1-7a3e-7cc0-8000-000000000001".to_owned();
    match name {
        b"NewRequestBody" => {
            if let Some(body) = read::<gw::NewRequestBody>(json) {
                for person in body.fields.persons.clone().unwrap_or_default() {
                    assert_eq!(gw::Person::from(pb::Person::from(person.clone())), person);
                }
                let message = body.on_behalf.into_wire(body.fields.into_wire(String::new()), id());
                assert!(message.request.is_some());
            }
        }
        b"RequestPatch" => {
            if let Some(patch) = read::<gw::RequestPatch>(json) {
                let _ = patch.fields.into_wire(id());
            }
        }
        b"Transition" => {
            if let Some(transition) = read::<gw::Transition>(json) {
                let conditions = transition.conditions.len();
                let message = transition.into_wire(id(), "1".into(), id());
                assert_eq!(message.conditions.len(), conditions);
            }
        }
        b"NewPartner" => {
            if let Some(partner) = read::<gw::NewPartner>(json) {
                let _ = partner.into_wire();
            }
        }
        b"PartnerPatch" => {
            if let Some(patch) = read::<gw::PartnerPatch>(json) {
                assert_eq!(patch.into_wire("FR-MOJ".into()).code, "FR-MOJ");
            }
        }
        b"NewMessage" => {
            if let Some(message) = read::<gw::NewMessage>(json) {
                let _ = message.into_wire();
            }
        }
        b"NewDocument" => {
            if let Some(document) = read::<gw::NewDocument>(json) {
                let wire = document.clone().into_wire(id(), "key".into());
                assert_eq!(gw::NewDocument::from(wire), document);
            }
        }
        b"NewUpload" => {
            let _ = read::<gw::NewUpload>(json);
        }
        b"MarkRead" => {
            let _ = read::<gw::MarkRead>(json);
        }
        b"Erasure" => {
            let _ = read::<gw::Erasure>(json);
        }
        b"Release" => {
            let _ = read::<gw::Release>(json);
        }
        _ => {}
    }
}

fn query(name: &[u8], raw: &str) {
    match name {
        b"RequestFilter" => {
            let _ = serde_urlencoded::from_str::<gw::RequestFilter>(raw);
        }
        b"PageQuery" => {
            let _ = serde_urlencoded::from_str::<gw::PageQuery>(raw);
        }
        b"PartnerQuery" => {
            let _ = serde_urlencoded::from_str::<gw::PartnerQuery>(raw);
        }
        b"WatchQuery" => {
            let _ = serde_urlencoded::from_str::<gw::WatchQuery>(raw);
        }
        b"LetterQuery" => {
            let _ = serde_urlencoded::from_str::<gw::LetterQuery>(raw);
        }
        b"ReportQuery" => {
            let _ = serde_urlencoded::from_str::<gw::ReportQuery>(raw);
        }
        _ => {}
    }
}

// Whole calls through the router.

struct Fixture {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let router = runtime.block_on(async { gw::router(Stub, gw::GatewayConfig::default()) });
    Fixture { runtime, router }
});

/// How the stub answers the next call, and what the gateway sent it.
#[derive(Default)]
struct Exchange {
    code: i32,
    replies: Vec<Vec<u8>>,
    calls: Vec<(String, Bytes)>,
}

static EXCHANGE: Mutex<Exchange> = Mutex::new(Exchange { code: 0, replies: Vec::new(), calls: Vec::new() });

/// A broker that reads the whole call and answers as [`EXCHANGE`] says.
#[derive(Clone)]
struct Stub;

impl tower::Service<http::Request<tonic::body::Body>> for Stub {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(async move {
            let path = request.uri().path().to_owned();
            // A body that breaks off (an upload whose part failed) is recorded as far as it came.
            let body = request.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
            let (code, replies) = {
                let mut exchange = EXCHANGE.lock().expect("one fuzz thread");
                exchange.calls.push((path, body));
                (exchange.code, exchange.replies.clone())
            };
            if code != 0 {
                return Ok(
                    tonic::Status::new(tonic::Code::from(code), "the fuzzed broker says no").into_http()
                );
            }
            let mut frames: Vec<Result<http_body::Frame<Bytes>, Infallible>> = Vec::new();
            for reply in if replies.is_empty() { vec![Vec::new()] } else { replies } {
                let mut frame = vec![0u8];
                frame.extend_from_slice(&(reply.len() as u32).to_be_bytes());
                frame.extend_from_slice(&reply);
                frames.push(Ok(http_body::Frame::data(Bytes::from(frame))));
            }
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            frames.push(Ok(http_body::Frame::trailers(trailers)));
            let body = http_body_util::StreamBody::new(futures::stream::iter(frames));
            let mut response = http::Response::new(tonic::body::Body::new(body));
            response
                .headers_mut()
                .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/grpc"));
            Ok(response)
        })
    }
}

fn http_call(data: &[u8]) {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let request_line = lines.next().unwrap_or_default();
    let mut words = request_line.splitn(2, |&b| b == b' ');
    let (Some(method), Some(target)) = (words.next(), words.next()) else { return };
    let Ok(method) = http::Method::from_bytes(method) else { return };
    let Ok(uri) = http::Uri::try_from(target) else { return };
    if uri.scheme().is_some() || !target.starts_with(b"/") {
        return;
    }
    let mut request = http::Request::builder().method(method.clone()).uri(uri);
    let mut exchange = Exchange::default();
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        match name {
            b"x-fuzz-answer" => {
                exchange.code = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()).unwrap_or(0);
            }
            b"x-fuzz-reply" => exchange.replies.push(hex::decode(value).unwrap_or_default()),
            _ => {
                if let (Ok(name), Ok(value)) =
                    (http::HeaderName::from_bytes(name), http::HeaderValue::from_bytes(value))
                {
                    request = request.header(name, value);
                }
            }
        }
    }
    let Ok(request) = request.body(axum::body::Body::from(body.to_vec())) else { return };
    *EXCHANGE.lock().expect("one fuzz thread") = exchange;

    let fixture = &*FIXTURE;
    let (status, problem) = fixture.runtime.block_on(async {
        let call = async {
            let response = fixture.router.clone().oneshot(request).await.expect("the router is infallible");
            let status = response.status();
            let content_type = response.headers().get(http::header::CONTENT_TYPE).cloned();
            // A body that fails midway (a download whose stream broke) is still an answer.
            let _ = response.into_body().collect().await;
            (status, content_type)
        };
        tokio::time::timeout(Duration::from_secs(20), call).await.expect("the gateway hung")
    });
    let is_problem = problem.as_ref().is_some_and(|v| v.as_bytes().starts_with(gw::PROBLEM_JSON.as_bytes()));
    if (status.is_client_error() || status.is_server_error()) && method != http::Method::HEAD {
        assert!(is_problem, "a {status} answer that is not a problem: {problem:?}");
    }
    let calls = std::mem::take(&mut EXCHANGE.lock().expect("one fuzz thread").calls);
    for (path, body) in calls {
        sent(&path, &body);
    }
}

/// Each gRPC frame the gateway sent decodes as the request message of `path`'s method.
fn sent(path: &str, mut body: &[u8]) {
    let method = path.rsplit('/').next().unwrap_or_default();
    while !body.is_empty() {
        assert!(body.len() >= 5, "a frame header cut short on {path}");
        assert_eq!(body[0], 0, "the gateway compresses no message");
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        assert!(body.len() >= 5 + len, "a frame cut short on {path}");
        let message = &body[5..5 + len];
        let decodes = match method {
            "CreateRequest" => pb::CreateRequestRequest::decode(message).is_ok(),
            "GetRequest" => pb::GetRequestRequest::decode(message).is_ok(),
            "ListRequests" => pb::ListRequestsRequest::decode(message).is_ok(),
            "UpdateRequest" => pb::UpdateRequestRequest::decode(message).is_ok(),
            "TransitionRequest" => pb::TransitionRequestRequest::decode(message).is_ok(),
            "ListRequestEvents" => pb::ListRequestEventsRequest::decode(message).is_ok(),
            "PostMessage" => pb::PostMessageRequest::decode(message).is_ok(),
            "ListMessages" => pb::ListMessagesRequest::decode(message).is_ok(),
            "MarkMessagesRead" => pb::MarkMessagesReadRequest::decode(message).is_ok(),
            "PrintLetter" => pb::PrintLetterRequest::decode(message).is_ok(),
            "ErasePersonalData" => pb::ErasePersonalDataRequest::decode(message).is_ok(),
            "WatchEvents" => pb::WatchEventsRequest::decode(message).is_ok(),
            "CreatePartner" => pb::CreatePartnerRequest::decode(message).is_ok(),
            "GetPartner" => pb::GetPartnerRequest::decode(message).is_ok(),
            "ListPartners" => pb::ListPartnersRequest::decode(message).is_ok(),
            "UpdatePartner" => pb::UpdatePartnerRequest::decode(message).is_ok(),
            "UploadDocument" => pb::UploadDocumentRequest::decode(message).is_ok(),
            "StartUpload" => pb::StartUploadRequest::decode(message).is_ok(),
            "AppendUpload" => pb::AppendUploadRequest::decode(message).is_ok(),
            "GetUpload" => pb::GetUploadRequest::decode(message).is_ok(),
            "CancelUpload" => pb::CancelUploadRequest::decode(message).is_ok(),
            "GetDocument" => pb::GetDocumentRequest::decode(message).is_ok(),
            "ListDocuments" => pb::ListDocumentsRequest::decode(message).is_ok(),
            "DownloadDocument" => pb::DownloadDocumentRequest::decode(message).is_ok(),
            "ReleaseDocuments" => pb::ReleaseDocumentsRequest::decode(message).is_ok(),
            "DownloadEvidencePackage" => pb::DownloadEvidencePackageRequest::decode(message).is_ok(),
            "ListSigningKeys" => pb::ListSigningKeysRequest::decode(message).is_ok(),
            "GetStatistics" => pb::GetStatisticsRequest::decode(message).is_ok(),
            "GetHumanRightsReport" => pb::GetHumanRightsReportRequest::decode(message).is_ok(),
            // Health checks and the like are not the gateway's translations.
            _ => true,
        };
        assert!(decodes, "the gateway sent {path} a message that is not its request");
        body = &body[5 + len..];
    }
}
