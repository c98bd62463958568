//! Calls counted and timed per method, for `/metrics`.
//!
//! One [`GrpcMetrics`] is shared by the network server ([`crate::serve`], `door="grpc"`) and the
//! in-process channel of the REST gateway ([`crate::in_process`], `door="gateway"`): a REST call is
//! counted once as the gRPC call it became, under the gateway's door, beside the gateway's own HTTP
//! figures; summing over `door` gives every call the services answered.
//!
//! A call is counted when its response headers are ready, with the code they carry: an error answered
//! before any message (Trailers-Only, as every refusal of authentication, limits or the services is)
//! has its code there; otherwise the call began well and is counted OK. So the duration of a streaming
//! call (WatchEvents, document downloads and uploads, evidence packages) is its time to the first
//! response, and a stream that fails after its first message is still counted OK: the live count of
//! streams is `mla_watch_streams_open`, and a stream's end is in the logs.

use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use http::{Request, Response};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use prost::Message as _;
use tonic::Code;
use tonic::body::Body;

/// Methods outside the contract's descriptor set that the server answers.
const OTHER_METHODS: [&str; 4] = [
    "grpc.health.v1.Health/Check",
    "grpc.health.v1.Health/Watch",
    "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/// The calls' counters and histograms, registered once per broker.
#[derive(Debug, Clone)]
pub struct GrpcMetrics {
    calls: IntCounterVec,
    seconds: HistogramVec,
    /// `service/method` of every method served: any other path is labelled `unknown`, so that a
    /// caller cannot mint label values (and series) by calling made-up methods.
    methods: Arc<HashSet<String>>,
}

impl GrpcMetrics {
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let calls = IntCounterVec::new(
            Opts::new("mla_grpc_calls_total", "gRPC calls answered, by door, method and status code."),
            &["door", "service", "method", "code"],
        )?;
        let seconds = HistogramVec::new(
            HistogramOpts::new(
                "mla_grpc_call_duration_seconds",
                "Time from a gRPC call's arrival to its response headers (a stream's first response).",
            ),
            &["door", "service", "method"],
        )?;
        registry.register(Box::new(calls.clone()))?;
        registry.register(Box::new(seconds.clone()))?;
        Ok(Self { calls, seconds, methods: Arc::new(served_methods()) })
    }

    pub(crate) fn layer(&self, door: &'static str) -> MetricsLayer {
        MetricsLayer { metrics: self.clone(), door }
    }

    /// The `service` and `method` labels of a request path.
    fn labels<'p>(&self, path: &'p str) -> (&'p str, &'p str) {
        let name = path.strip_prefix('/').unwrap_or(path);
        match name.split_once('/') {
            Some(labels) if self.methods.contains(name) => labels,
            _ => ("unknown", "unknown"),
        }
    }

    fn record(&self, door: &str, path: &str, code: Code, started: Instant) {
        let (service, method) = self.labels(path);
        self.calls.with_label_values(&[door, service, method, code_name(code)]).inc();
        self.seconds.with_label_values(&[door, service, method]).observe(started.elapsed().as_secs_f64());
    }
}

/// Every `service/method` of the contract's services, and health and reflection.
fn served_methods() -> HashSet<String> {
    let set = prost_types::FileDescriptorSet::decode(mla_proto::FILE_DESCRIPTOR_SET)
        .expect("the embedded descriptor set decodes");
    let contract = set.file.iter().flat_map(|file| {
        file.service.iter().flat_map(move |service| {
            service
                .method
                .iter()
                .map(move |method| format!("{}.{}/{}", file.package(), service.name(), method.name()))
        })
    });
    contract.chain(OTHER_METHODS.iter().map(|m| (*m).to_owned())).collect()
}

/// The code as gRPC names it (`NOT_FOUND`), as the API's documentation and `ErrorInfo` do.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The code a response's headers carry: a Trailers-Only error's, else OK (the call began well).
fn code_of(response: &Response<Body>) -> Code {
    match response.headers().get("grpc-status") {
        Some(value) => {
            value.to_str().ok().and_then(|v| v.parse::<i32>().ok()).map_or(Code::Unknown, Code::from)
        }
        None => Code::Ok,
    }
}

/// Counts and times every call that passes it; it goes outside authentication and the limits, so
/// that their refusals are counted too.
#[derive(Debug, Clone)]
pub struct MetricsLayer {
    metrics: GrpcMetrics,
    door: &'static str,
}

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = Measured<S>;

    fn layer(&self, inner: S) -> Measured<S> {
        Measured { inner, metrics: self.metrics.clone(), door: self.door }
    }
}

/// A service behind [`MetricsLayer`].
#[derive(Debug, Clone)]
pub struct Measured<S> {
    inner: S,
    metrics: GrpcMetrics,
    door: &'static str,
}

impl<S> tower::Service<Request<Body>> for Measured<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let started = Instant::now();
        let path = request.uri().path().to_owned();
        let (metrics, door) = (self.metrics.clone(), self.door);
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await;
            // A service error means no response at all: the caller sees the transport fail.
            let code = response.as_ref().map_or(Code::Unknown, code_of);
            metrics.record(door, &path, code, started);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_of_the_contract_is_its_own_label_and_made_up_ones_are_unknown() {
        let metrics = GrpcMetrics::new(&Registry::new()).unwrap();
        assert_eq!(
            metrics.labels("/mla.v1.RequestService/GetRequest"),
            ("mla.v1.RequestService", "GetRequest")
        );
        assert_eq!(
            metrics.labels("/mla.v1.RequestService/WatchEvents"),
            ("mla.v1.RequestService", "WatchEvents")
        );
        assert_eq!(metrics.labels("/grpc.health.v1.Health/Check"), ("grpc.health.v1.Health", "Check"));
        assert_eq!(metrics.labels("/mla.v1.RequestService/MadeUp"), ("unknown", "unknown"));
        assert_eq!(metrics.labels("/nothing"), ("unknown", "unknown"));
    }
}
