//! The gRPC server: the two services behind the authentication layer and the callers' limits, with
//! health, reflection, compression, size limits, TLS and graceful shutdown.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use mla_app::App;
use mla_proto::v1::document_service_server::DocumentServiceServer;
use mla_proto::v1::partner_service_server::PartnerServiceServer;
use mla_proto::v1::request_service_server::RequestServiceServer;
use mla_proto::v1::statistics_service_server::StatisticsServiceServer;
use opentelemetry::global;
use opentelemetry_http::HeaderExtractor;
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic_health::ServingStatus;
use tower::ServiceExt;
use tower_http::classify::{GrpcCode, GrpcErrorsAsFailures, SharedClassifier};
use tower_http::trace::TraceLayer;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::auth::Authentication;
use crate::documents::Documents;
use crate::limits::Limits;
use crate::metrics::GrpcMetrics;
use crate::partners::Partners;
use crate::requests::Requests;
use crate::statistics::Statistics;

/// Largest message a caller may send: requests are text, not evidence files.
const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// Largest message of DocumentService: an upload's chunk of at most 1 MiB with its framing. A whole
/// document is a stream of them, limited by the configured document size instead.
const MAX_CHUNK_MESSAGE_BYTES: usize = MAX_MESSAGE_BYTES + 64 * 1024;
/// How often health asks whether the broker is ready.
const HEALTH_PROBE: Duration = Duration::from_secs(2);

/// What every call passes on its way to a service, whichever door it came through: the metrics,
/// authentication, and its caller's limits (one allowance per caller for both doors, since the
/// network server and the in-process gateway are given clones of the same `Layers`).
#[derive(Debug, Clone)]
pub struct Layers {
    pub authentication: Authentication,
    pub limits: Limits,
    pub metrics: GrpcMetrics,
}

/// Serves the gRPC API on `listener` until `shutdown` completes, then drains calls in flight.
/// `grpc.health.v1` reports what `ready` answers, asked every two seconds: the same readiness as the
/// gateway's `/readyz` (the database answers, and the broker is not stopping). Calls are counted in
/// `metrics` under `door="grpc"`.
pub async fn serve<Ready, Answer>(
    app: App,
    layers: Layers,
    listener: TcpListener,
    connections: Connections,
    ready: Ready,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error>
where
    Ready: Fn() -> Answer + Send + 'static,
    Answer: Future<Output = bool> + Send,
{
    let Layers { authentication, limits, metrics } = layers;
    let (health, health_service) = tonic_health::server::health_reporter();
    // Every service is listed from the start (NOT_SERVING until the first probe answers), so a
    // client watching one never sees NOT_FOUND while the server comes up.
    const SERVICES: [&str; 5] = [
        "",
        "mla.v1.RequestService",
        "mla.v1.PartnerService",
        "mla.v1.DocumentService",
        "mla.v1.StatisticsService",
    ];
    for service in SERVICES {
        health.set_service_status(service, ServingStatus::NotServing).await;
    }
    let probe = tokio::spawn(async move {
        loop {
            let status = if ready().await { ServingStatus::Serving } else { ServingStatus::NotServing };
            for service in SERVICES {
                health.set_service_status(service, status).await;
            }
            tokio::time::sleep(HEALTH_PROBE).await;
        }
    });

    // Small responses go out at once rather than waiting on Nagle's algorithm.
    let Connections { tls, keepalive } = connections;
    let (ping_after, ping_timeout) = keepalive.unzip();
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true)).with_keepalive(ping_after);
    // Flow-control windows that grow with the link (BDP estimation), so that a large upload is not
    // held to a fixed window's round trips.
    let mut builder = Server::builder()
        .http2_adaptive_window(Some(true))
        .http2_keepalive_interval(ping_after)
        .http2_keepalive_timeout(ping_timeout);
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    let result = builder
        .layer(trace_layer())
        .layer(metrics.layer("grpc"))
        .layer(crate::auth::layer(authentication))
        .layer(crate::limits::layer(limits.clone()))
        .add_routes(routes(app, limits).add_service(health_service))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await;
    probe.abort();
    result
}

/// How the server holds its connections.
#[derive(Debug, Clone, Default)]
pub struct Connections {
    /// TLS, or mutual TLS with a client CA; `None`: plain HTTP/2.
    pub tls: Option<ServerTlsConfig>,
    /// How long a connection may be silent before the client is pinged (HTTP/2 PING, and TCP
    /// keepalive), and how long the answer may take before the connection is closed: a client gone
    /// without a word (a dropped link, a crashed host) has its calls and streams ended, and its
    /// WatchEvents allowance freed. `None`: no pings.
    pub keepalive: Option<(Duration, Duration)>,
}

/// The broker's services (without health, which belongs to a served process): the four mla.v1
/// services and reflection in both versions.
fn routes(app: App, limits: Limits) -> Routes {
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(mla_proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the embedded descriptor set is valid");
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(mla_proto::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .expect("the embedded descriptor set is valid");
    let requests = RequestServiceServer::new(Requests { app: app.clone(), limits })
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip);
    let partners = PartnerServiceServer::new(Partners { app: app.clone() })
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip);
    let statistics = StatisticsServiceServer::new(Statistics { app: app.clone() })
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip);
    // Documents travel as they are: compressing evidence files (mostly compressed already) costs CPU
    // for little; a client may still send gzip.
    let documents = DocumentServiceServer::new(Documents { app })
        .max_decoding_message_size(MAX_CHUNK_MESSAGE_BYTES)
        .accept_compressed(CompressionEncoding::Gzip);
    Routes::new(requests)
        .add_service(partners)
        .add_service(documents)
        .add_service(statistics)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
}

/// A gRPC channel to the broker's services in this process, with no network hop: calls go through
/// the same authentication layer, limits and services as calls from the network. The REST gateway of
/// `mla-broker serve` uses it as its upstream; given the gRPC server's `layers`, a caller has one
/// allowance whichever door it uses. Its calls are counted under `door="gateway"`.
pub type InProcess = tower::util::BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    Box<dyn std::error::Error + Send + Sync>,
>;

pub fn in_process(app: App, layers: Layers) -> InProcess {
    let Layers { authentication, limits, metrics } = layers;
    let service = tower::ServiceBuilder::new()
        .map_response(|response: http::Response<_>| response.map(tonic::body::Body::new))
        .layer(trace_layer())
        .layer(metrics.layer("gateway"))
        .layer(crate::auth::layer(authentication))
        .layer(crate::limits::layer(limits.clone()))
        .service(routes(app, limits))
        .map_err(|never| -> Box<dyn std::error::Error + Send + Sync> { match never {} });
    tower::util::BoxCloneSyncService::new(service)
}

/// The span of each call, for the network server and the in-process channel alike.
///
/// Spans carry the method and, once authenticated, the subject and partner: never case content or
/// tokens. A caller's mistake (bad input, a refused rule, a stale etag, no token) is the caller's to
/// fix: only the broker's own failures are logged at ERROR.
fn trace_layer<B>() -> TraceLayer<SharedClassifier<GrpcErrorsAsFailures>, MakeCallSpan<B>> {
    let classifier = [
        GrpcCode::InvalidArgument,
        GrpcCode::NotFound,
        GrpcCode::AlreadyExists,
        GrpcCode::PermissionDenied,
        GrpcCode::FailedPrecondition,
        GrpcCode::Aborted,
        GrpcCode::OutOfRange,
        GrpcCode::Unauthenticated,
        GrpcCode::Cancelled,
    ]
    .into_iter()
    .fold(GrpcErrorsAsFailures::new(), GrpcErrorsAsFailures::with_success);
    TraceLayer::new(SharedClassifier::new(classifier)).make_span_with(call_span::<B> as MakeCallSpan<B>)
}

type MakeCallSpan<B> = fn(&http::Request<B>) -> Span;

/// A call's span, named as OpenTelemetry names an RPC (`mla.v1.RequestService/GetRequest`), in the
/// trace of the caller's W3C `traceparent` when it sent one (the gateway always does).
fn call_span<B>(request: &http::Request<B>) -> Span {
    let method = request.uri().path();
    let span = tracing::info_span!(
        "grpc",
        otel.name = method.trim_start_matches('/'),
        otel.kind = "server",
        rpc.system = "grpc",
        method = %method,
        subject = tracing::field::Empty,
        partner = tracing::field::Empty,
    );
    let caller =
        global::get_text_map_propagator(|propagator| propagator.extract(&HeaderExtractor(request.headers())));
    // Without a trace context (no tracing configured, or none sent) the span simply starts a trace.
    let _ = span.set_parent(caller);
    span
}

/// TLS from PEM files; with a client CA, callers must present a certificate it signed (mutual TLS).
pub fn tls_config(cert: &Path, key: &Path, client_ca: Option<&Path>) -> std::io::Result<ServerTlsConfig> {
    let identity = Identity::from_pem(std::fs::read(cert)?, std::fs::read(key)?);
    let mut config = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = client_ca {
        config = config.client_ca_root(Certificate::from_pem(std::fs::read(ca)?));
    }
    Ok(config)
}
