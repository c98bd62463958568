//! The REST gateway of mla-broker: JSON over HTTP for NCIJC staff tools, translated route by route
//! to the `mla.v1` gRPC API.
//!
//! # A gateway, not a second server
//! Every route makes exactly one gRPC call (the CSV export one per page) through the generated
//! clients, forwarding the caller's `Authorization` header and `x-request-id` as metadata. The
//! gateway owns no storage and decides no rule: who may see or do what, which input is valid, which
//! transition is legal — the broker answers, and the gateway translates the answer. It depends on
//! `mla-proto` (the contract) and nothing else of the project: not `mla-app`, `mla-store`,
//! `mla-domain` nor a backend, and the crate graph keeps it so (it compiles one file of the domain's,
//! `limits.rs`, plain constants, so that its OpenAPI document states the limits the broker enforces
//! without writing them again). What it does own is HTTP: JSON
//! shapes, problem+json errors (one mapping from gRPC codes, as grpc-gateway maps them, with a stale
//! `If-Match` as 412), `ETag`/`If-Match`/`Idempotency-Key`, server-sent events, the CSV export,
//! resumable uploads as tus 1.0.0 (over the broker's upload sessions), the OpenAPI 3.1 document,
//! Swagger UI, and the staff console at `/console` (a page that calls this same API, see
//! [`console`]).
//!
//! # Upstreams
//! [`router`] takes any gRPC service: a [`tonic::transport::Channel`] to a remote broker
//! ([`upstream_channel`], for `mla-broker gateway --upstream URL`; TLS when the URL is https), or
//! `mla_grpc::InProcess` for `mla-broker serve`, where the gateway calls the services in the same
//! process with no network hop, through the same authentication layer.
//!
//! # Readiness
//! `/readyz` asks the upstream's `grpc.health.v1.Health/Check` unless [`GatewayConfig::readiness`]
//! holds a probe. The in-process upstream has no health service (health belongs to a served
//! process), so whoever builds an in-process gateway passes a probe (for example one that pings the
//! store); without one, an upstream that answers UNIMPLEMENTED is taken as ready.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::MatchedPath;
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use http::{HeaderValue, Method, StatusCode, header};
use opentelemetry::global;
use opentelemetry_http::HeaderExtractor;
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

mod console;
mod constraints;
mod dto;
/// The domain's limits, compiled here from the domain's own file: the gateway depends on the gRPC
/// contract alone, yet its OpenAPI document states the limits the broker enforces.
#[path = "../../mla-domain/src/limits.rs"]
pub mod limits;
mod metrics;
mod openapi;
mod problem;
mod routes;
mod upstream;

pub use console::{ConsoleConfig, DevelopmentSignIn, OidcClient};
pub use dto::*;
pub use metrics::MetricsPage;
pub use problem::{ERROR_DOMAIN, PROBLEM_JSON, Problem, Violation, http_status};
pub use routes::export::COLUMNS as CSV_COLUMNS;
pub use upstream::{TransportError, Upstream, UpstreamError, boxed, upstream_channel};

use routes::Gateway;
use routes::events::Closing;
use routes::uploads;

pub use routes::operations::while_unready;

/// How the gateway behaves; `GatewayConfig::default()` is what `mla-broker` uses.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Origins allowed to call from a browser (CORS). Empty: CORS is off and browsers allow only
    /// same-origin calls.
    pub cors_origins: Vec<HeaderValue>,
    /// Decides `/readyz`; `None` asks the upstream's health service (see the crate docs).
    pub readiness: Option<Readiness>,
    /// How long a call may take before the gateway answers 504 (not applied to the live feed). It
    /// is also the deadline of the gRPC call.
    pub request_timeout: Duration,
    /// The largest request body accepted; more is 413.
    pub body_limit: usize,
    /// How often an idle event stream gets a keep-alive comment.
    pub keep_alive: Duration,
    /// What `/metrics` serves, the gateway's own figures added to it; `None`: `/metrics` is 404.
    pub metrics: Option<MetricsPage>,
    /// How staff sign in to the console at `/console`.
    pub console: ConsoleConfig,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            cors_origins: Vec::new(),
            readiness: None,
            request_timeout: Duration::from_secs(30),
            body_limit: 1024 * 1024,
            keep_alive: Duration::from_secs(15),
            metrics: None,
            console: ConsoleConfig::default(),
        }
    }
}

/// A readiness probe: answers whether the service behind the gateway can serve now.
#[derive(Clone)]
pub struct Readiness(Arc<dyn Fn() -> BoxFuture<'static, bool> + Send + Sync>);

impl Readiness {
    pub fn new<F, Fut>(probe: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        Readiness(Arc::new(move || Box::pin(probe())))
    }

    pub async fn check(&self) -> bool {
        (self.0)().await
    }
}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Readiness(..)")
    }
}

/// The OpenAPI 3.1 document of the gateway, made from the same route list as [`router`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::finish(routes::api(&GatewayConfig::default()).into_openapi())
}

/// The gateway's routes over `upstream`, with its middleware: `x-request-id` (set when absent,
/// returned, forwarded), tracing, CORS when configured (the tus discovery headers kept on the
/// preflights of upload routes, which CORS answers), a body limit (but for uploads), compression
/// and a timeout (both but for the live feed and documents' content), and problem+json for every
/// error, including those raised by the middleware itself.
pub fn router<T>(upstream: T, config: GatewayConfig) -> Router
where
    T: tower::Service<http::Request<tonic::body::Body>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + Sync
        + 'static,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::Future: Send + 'static,
{
    let (api, doc) = routes::api(&config).split_for_parts();
    let measured = config.metrics.as_ref().map(|page| page.http().clone());
    let doc = openapi::finish(doc);
    let cors = cors(&config.cors_origins);
    let console = console::routes(config.console.clone());
    let gateway = Gateway {
        upstream: boxed(upstream),
        openapi: Arc::new(doc.to_json().expect("the OpenAPI document serialises")),
        config: Arc::new(config),
    };
    // The page asks for the document the gateway serves; the validator badge is off, since it would
    // send the document to a public service.
    let swagger = SwaggerUi::new("/docs")
        .config(SwaggerConfig::new(["/v1/openapi.json"]).validator_url("none").try_it_out_enabled(true));
    let trace = TraceLayer::new_for_http().make_span_with(request_span);
    let mut router = api.with_state(gateway).merge(Router::from(swagger)).merge(console);
    if measured.is_some() {
        router = router.route_layer(axum::middleware::from_fn(metrics::mark_route));
    }
    let router = router.fallback(not_found).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(trace)
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(axum::middleware::from_fn(credentials_first))
            .layer(axum::middleware::from_fn(uploads::tus_discovery))
            .option_layer(cors)
            .layer(axum::middleware::map_response(problem_for_bare_errors)),
    );
    // Outermost, so that every answer is counted as the caller got it, the middleware's included.
    match measured {
        Some(http) => router.layer(axum::middleware::from_fn_with_state(http, metrics::measure)),
        None => router,
    }
}

/// A REST call's span, named after its route (`POST /v1/requests/{id}:acknowledge`) and in the trace
/// of the caller's W3C `traceparent` when it sent one. The path holds ids and codes only; queries
/// (free-text search) and bodies stay out of logs and traces.
fn request_span<B>(request: &http::Request<B>) -> tracing::Span {
    let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str);
    let span = tracing::info_span!(
        "http",
        otel.name = format!("{} {route}", request.method()),
        otel.kind = "server",
        method = %request.method(),
        path = %request.uri().path(),
        request_id,
    );
    let caller =
        global::get_text_map_propagator(|propagator| propagator.extract(&HeaderExtractor(request.headers())));
    // Without a trace context (no tracing configured, or none sent) the span simply starts a trace.
    let _ = span.set_parent(caller);
    span
}

fn cors(origins: &[HeaderValue]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins.iter().cloned()))
            .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                header::ACCEPT,
                http::HeaderName::from_static("idempotency-key"),
                http::HeaderName::from_static("last-event-id"),
                http::HeaderName::from_static("x-request-id"),
                // tus, for resumable uploads from a browser.
                http::HeaderName::from_static(uploads::TUS_RESUMABLE),
                http::HeaderName::from_static(uploads::UPLOAD_LENGTH),
                http::HeaderName::from_static(uploads::UPLOAD_METADATA),
                http::HeaderName::from_static(uploads::UPLOAD_OFFSET),
            ])
            .expose_headers([
                header::ETAG,
                header::LOCATION,
                header::WWW_AUTHENTICATE,
                http::HeaderName::from_static("x-request-id"),
                http::HeaderName::from_static(uploads::TUS_RESUMABLE),
                http::HeaderName::from_static(uploads::TUS_VERSION_HEADER),
                http::HeaderName::from_static(uploads::TUS_EXTENSION),
                http::HeaderName::from_static(uploads::UPLOAD_OFFSET),
                http::HeaderName::from_static(uploads::UPLOAD_LENGTH),
                http::HeaderName::from_static(uploads::UPLOAD_METADATA),
                http::HeaderName::from_static(uploads::UPLOAD_EXPIRES),
                http::HeaderName::from_static(uploads::MLA_DOCUMENT_ID),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

/// A call of the API that brings no token is answered 401, as the broker answers it, before anything
/// else about it (its headers, its body, the upload protocol) is looked at: an anonymous caller learns
/// none of the API's rules, and gets the status the contract documents. Open without a token: the
/// OpenAPI document, `OPTIONS` (CORS and tus discovery) and what lies outside `/v1/` (probes,
/// metrics, the public keys).
async fn credentials_first(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = request.uri().path();
    let open = request.method() == Method::OPTIONS || !path.starts_with("/v1/") || path == "/v1/openapi.json";
    if open || request.headers().contains_key(header::AUTHORIZATION) {
        return next.run(request).await;
    }
    let missing = tonic::Status::unauthenticated("no bearer token was presented");
    problem::ApiError::from_status(&missing, false).with_instance(path).into_response()
}

async fn not_found(uri: http::Uri) -> Response {
    problem::ApiError::new(StatusCode::NOT_FOUND, format!("no route for {}", uri.path()))
        .with_instance(uri.path())
        .into_response()
}

/// Error answers that did not come from a handler (the router's 405, the body limit's 413, the
/// timeout's 504) get a problem body like every other error, keeping their headers (`Allow`).
async fn problem_for_bare_errors<B>(response: Response<B>) -> Response
where
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response.map(axum::body::Body::new);
    }
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => "this route does not answer this method".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is larger than the gateway accepts".to_owned(),
        StatusCode::GATEWAY_TIMEOUT => "the broker did not answer in time".to_owned(),
        other => other.canonical_reason().unwrap_or("error").to_owned(),
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_ENCODING);
    let mut problem = problem::ApiError::new(status, detail).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    problem
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting, ends the live
/// feeds and waits for calls in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let closing = tokio_util::sync::CancellationToken::new();
    let router = router.layer(axum::Extension(Closing(closing.clone())));
    // Small answers go out at once: with Nagle's algorithm a response can wait ~40 ms for the
    // client's delayed ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY could not be set");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Event streams never end by themselves; a graceful shutdown would wait for them forever.
            closing.cancel();
        })
        .await
}
