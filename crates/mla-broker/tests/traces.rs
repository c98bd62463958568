//! Traces: the real binary with `MLA_OTLP_ENDPOINT` pointing at an OTLP receiver in this test. A
//! transition through the REST gateway, sent with a caller's W3C `traceparent`, must arrive as one
//! connected trace: the caller's span, the REST route's, the gRPC method's, the store's; and the
//! JSON log lines of the call must name that trace.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Scratch, Serving, http};
use mla_broker::Config;
use mla_broker::cli::TokenArgs;
use mla_domain::{PartnerCode, Role};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The caller's trace and span, as a partner system or a staff tool would send them.
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// An OTLP/gRPC trace receiver that keeps every span it is sent.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans =
            request.into_inner().resource_spans.into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans);
        self.spans.lock().unwrap().extend(spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_transition_is_one_trace_from_the_callers_span_to_the_database() {
    let receiver = Receiver::default();
    let otlp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let otlp_addr = otlp.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(otlp)),
    );

    let scratch = Scratch::fresh();
    let mut command = scratch.broker(&[]);
    command.env("MLA_OTLP_ENDPOINT", format!("http://{otlp_addr}"));
    let mut broker = Serving::start(command, "info,tower_http=debug");
    let http_addr = broker.http;

    // A request the partner drafted and submitted, then the registrar's acknowledgement, traced.
    let config = Config::with_data_dir(scratch.data_dir());
    let partner = token(&config, "fr-moj", Role::Partner, Some("FR-MOJ"));
    let registrar = token(&config, "registrar-1", Role::Registrar, None);
    let admin = token(&config, "admin-1", Role::Admin, None);
    let france = json!({
        "code": "FR-MOJ",
        "name": "Central authority FR-MOJ",
        "country": "FR",
        "kind": "STATE_AUTHORITY",
        "legal_bases": ["UNTOC art. 18"],
        "active": true,
    });
    let registered = post(http_addr, "/v1/partners", &admin, None, france).await;
    assert_eq!(registered.0, 201, "{}", registered.1);
    let created = post(http_addr, "/v1/requests", &partner, None, complete_request()).await;
    assert_eq!(created.0, 201, "{}", created.1);
    let id = created.1["id"].as_str().unwrap().to_owned();
    let transitions = format!("/v1/requests/{id}/transitions");
    let submitted = post(http_addr, &transitions, &partner, None, json!({"action": "SUBMIT"})).await;
    assert_eq!(submitted.0, 200, "{}", submitted.1);
    let traceparent = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
    let acknowledged =
        post(http_addr, &transitions, &registrar, Some(&traceparent), json!({"action": "ACKNOWLEDGE"})).await;
    assert_eq!(acknowledged.0, 200, "{}", acknowledged.1);

    // A clean stop exports what is still batched.
    let logged = broker.terminate();
    assert_eq!(broker.child.wait().unwrap().code(), Some(0), "exit after SIGTERM: {logged:#?}");

    let spans: Vec<Span> =
        receiver.spans.lock().unwrap().iter().filter(|s| hex(&s.trace_id) == CALLER_TRACE).cloned().collect();
    let named = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span {name:?} in {:#?}", names(&spans)))
    };
    let rest = named("POST /v1/requests/{id}/transitions");
    assert_eq!(hex(&rest.parent_span_id), CALLER_SPAN, "the REST route continues the caller's trace");
    assert_eq!(rest.kind, SpanKind::Server as i32);
    let grpc = named("mla.v1.RequestService/TransitionRequest");
    assert_eq!(grpc.parent_span_id, rest.span_id, "the gRPC call is the REST route's child");
    assert_eq!(grpc.kind, SpanKind::Server as i32);
    let saved = named("save_change");
    assert_eq!(saved.kind, SpanKind::Client as i32);
    assert!(
        descends_from(saved, grpc, &spans),
        "the store's write is part of the gRPC call: {:#?}",
        names(&spans)
    );
    // One connected trace: every span's parent is the caller's or another span of the trace.
    for span in &spans {
        let parent = hex(&span.parent_span_id);
        assert!(
            parent == CALLER_SPAN || spans.iter().any(|s| s.span_id == span.parent_span_id),
            "span {:?} hangs off {parent}, outside the trace: {:#?}",
            span.name,
            names(&spans)
        );
    }

    // The call's log lines name the trace, so that a log search leads to the trace and back.
    let in_trace = logged
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|entry| entry["openTelemetry"]["traceId"] == CALLER_TRACE)
        .count();
    assert!(in_trace > 0, "no log line names the trace: {logged:#?}");
}

fn token(config: &Config, sub: &str, role: Role, partner: Option<&str>) -> String {
    let args = TokenArgs {
        sub: sub.into(),
        roles: vec![role],
        partner: partner.map(|code| PartnerCode::parse(code).unwrap()),
        ttl: Duration::from_secs(600),
    };
    mla_broker::mint_token(config, &args).expect("a development token")
}

fn complete_request() -> Value {
    json!({
        "partner_code": "",
        "request_type": "EVIDENCE",
        "priority": "NORMAL",
        "requesting_authority": "Investigating judge, Karkh court",
        "title": "Traced request",
        "summary_of_facts": "Facts of the case.",
        "measures": ["Hear witness W-17"],
        "purpose": "Criminal proceedings",
        "legal_basis": "UNTOC art. 18",
    })
}

/// A POST of JSON with a bearer token (and a caller's `traceparent`): the status and the JSON answer.
async fn post(
    addr: SocketAddr,
    path: &str,
    token: &str,
    traceparent: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let bearer = format!("Bearer {token}");
    let mut headers = vec![("authorization", bearer.as_str()), ("content-type", "application/json")];
    headers.extend(traceparent.map(|traceparent| ("traceparent", traceparent)));
    let answer = http(addr, "POST", path, &headers, &body.to_string()).await;
    (answer.status, serde_json::from_str(&answer.body).unwrap_or(Value::Null))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn names(spans: &[Span]) -> Vec<(String, String, String)> {
    spans.iter().map(|s| (s.name.clone(), hex(&s.span_id), hex(&s.parent_span_id))).collect()
}

fn descends_from(span: &Span, ancestor: &Span, spans: &[Span]) -> bool {
    let mut parent = &span.parent_span_id;
    while let Some(next) = spans.iter().find(|s| &s.span_id == parent) {
        if next.span_id == ancestor.span_id {
            return true;
        }
        parent = &next.parent_span_id;
    }
    false
}
