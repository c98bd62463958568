//! The routes for operators and tools: liveness, readiness, metrics and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::Gateway;
use crate::dto::Health;

/// Liveness: the gateway answers. It never calls the broker, so that a broken database does not get
/// the gateway restarted.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "Healthz",
    security(()),
    responses((status = 200, description = "The gateway is alive.", body = Health)),
)]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "SERVING".into() })
}

/// Readiness: the broker behind the gateway can serve, its database reachable.
///
/// With a readiness probe in the configuration (`mla-broker serve` passes one that pings the store),
/// the probe decides. Otherwise the gateway asks the upstream's `grpc.health.v1.Health/Check`:
/// SERVING is ready; any other answer, or none, is not. An upstream without a health service
/// (UNIMPLEMENTED) is taken as ready, since it answered.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "Readyz",
    security(()),
    responses(
        (status = 200, description = "Ready to serve.", body = Health),
        (status = 503, description = "Not ready: the broker or its database cannot be reached.", body = Health),
    ),
)]
pub async fn readyz(State(gateway): State<Gateway>) -> Response {
    let ready = match &gateway.config.readiness {
        Some(probe) => probe.check().await,
        None => {
            let mut health = HealthClient::new(gateway.upstream.clone());
            let mut check = tonic::Request::new(HealthCheckRequest { service: String::new() });
            check.set_timeout(std::time::Duration::from_secs(5));
            match health.check(check).await {
                Ok(answer) => answer.get_ref().status == ServingStatus::Serving as i32,
                Err(status) => status.code() == tonic::Code::Unimplemented,
            }
        }
    };
    readiness(ready)
}

/// The Prometheus page: the broker's figures in the text exposition format. Like the probes it
/// needs no token: it holds counts and durations, no case content, and operators keep it on the
/// internal network. A database that does not answer leaves its figures out (`mla_database_up` 0)
/// rather than failing the page.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "Metrics",
    security(()),
    responses(
        (status = 200, description = "The metrics, Prometheus text format 0.0.4.", content_type = "text/plain", body = String),
        (status = 404, description = "This gateway collects no metrics.", body = crate::Problem),
    ),
)]
pub async fn metrics(State(gateway): State<Gateway>) -> Response {
    let Some(page) = &gateway.config.metrics else {
        return crate::problem::ApiError::new(StatusCode::NOT_FOUND, "this gateway collects no metrics")
            .into_response();
    };
    match page.render().await {
        Ok(text) => {
            let mut response = text.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(prometheus::TEXT_FORMAT));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            tracing::error!(%error, "the metrics could not be written");
            crate::problem::ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the metrics could not be written",
            )
            .into_response()
        }
    }
}

fn readiness(ready: bool) -> Response {
    let (code, status) =
        if ready { (StatusCode::OK, "SERVING") } else { (StatusCode::SERVICE_UNAVAILABLE, "NOT_SERVING") };
    let mut response = (code, Json(Health { status: status.into() })).into_response();
    // Probes must see the current state, never a cached one.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The probes of a broker that is alive but cannot serve yet (it waits for its database's
/// migrations): `/healthz` answers, `/readyz` and every other route are 503 with `Retry-After`.
pub fn while_unready(reason: &'static str) -> axum::Router {
    axum::Router::new()
        .route("/healthz", axum::routing::get(healthz))
        .route("/readyz", axum::routing::get(|| async { readiness(false) }))
        .fallback(move || async move {
            let mut response =
                crate::problem::ApiError::new(StatusCode::SERVICE_UNAVAILABLE, reason).into_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            response
        })
}

/// The OpenAPI 3.1 document of this gateway: every route, schema and error answer.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "operations",
    operation_id = "OpenApi",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json", body = Object)),
)]
pub async fn openapi_json(State(gateway): State<Gateway>) -> Response {
    let mut response = gateway.openapi.as_str().to_owned().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
