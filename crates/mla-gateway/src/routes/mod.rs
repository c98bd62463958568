//! The routes: the shared state, the one list of routes (from which both the router and the
//! OpenAPI document are made), and the helpers that turn HTTP input into messages.

use std::sync::Arc;

use axum::Json;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use mla_proto::v1::document_service_client::DocumentServiceClient;
use mla_proto::v1::partner_service_client::PartnerServiceClient;
use mla_proto::v1::request_service_client::RequestServiceClient;
use mla_proto::v1::statistics_service_client::StatisticsServiceClient;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::GatewayConfig;
use crate::problem::{ApiError, Violation};
use crate::upstream::{Caller, Upstream, etag_header};

pub mod documents;
pub mod events;
pub mod export;
pub mod human_rights;
pub mod operations;
pub mod partners;
pub mod requests;
pub mod statistics;
pub mod uploads;

/// What every handler shares: the upstream, the configuration and the OpenAPI document served.
#[derive(Debug, Clone)]
pub struct Gateway {
    pub upstream: Upstream,
    pub config: Arc<GatewayConfig>,
    pub openapi: Arc<String>,
}

impl Gateway {
    pub fn requests(&self) -> RequestServiceClient<Upstream> {
        RequestServiceClient::new(self.upstream.clone())
    }

    pub fn partners(&self) -> PartnerServiceClient<Upstream> {
        PartnerServiceClient::new(self.upstream.clone())
    }

    pub fn documents(&self) -> DocumentServiceClient<Upstream> {
        DocumentServiceClient::new(self.upstream.clone())
    }

    pub fn statistics(&self) -> StatisticsServiceClient<Upstream> {
        StatisticsServiceClient::new(self.upstream.clone())
    }
}

/// Every route of the gateway, each registered with its OpenAPI operation, so that a route cannot be
/// served undocumented. The live feed is kept apart from the compression and the timeout: an
/// event stream is neither compressed (proxies would buffer it) nor cut after 30 seconds. Documents'
/// content streams too, in both directions: no timeout, no compression, and no body limit on an
/// upload (the broker holds documents to its own size limit). The tus routes of resumable uploads
/// are framed by [`uploads::tus_protocol`]; their `PATCH` streams like an upload, the others are
/// unary.
pub fn api(config: &GatewayConfig) -> OpenApiRouter<Gateway> {
    let unary = OpenApiRouter::new()
        .routes(routes!(requests::create_request, requests::list_requests))
        .routes(routes!(export::export_requests))
        .routes(routes!(requests::get_request, requests::update_request))
        .routes(routes!(requests::transition_request))
        .routes(routes!(requests::list_request_events))
        .routes(routes!(requests::post_message, requests::list_messages))
        .routes(routes!(requests::mark_messages_read))
        .routes(routes!(requests::erase_personal_data))
        .routes(routes!(requests::print_letter))
        .routes(routes!(statistics::get_statistics))
        .routes(routes!(human_rights::get_human_rights_report))
        .routes(routes!(partners::create_partner, partners::list_partners))
        .routes(routes!(partners::get_partner, partners::update_partner))
        .routes(routes!(documents::list_documents))
        .routes(routes!(documents::get_document))
        .routes(routes!(documents::release_documents))
        .routes(routes!(documents::list_signing_keys))
        .routes(routes!(operations::openapi_json))
        .routes(routes!(operations::healthz))
        .routes(routes!(operations::readyz))
        .routes(routes!(operations::metrics))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, config.request_timeout))
        .layer(RequestBodyLimitLayer::new(config.body_limit))
        .layer(DefaultBodyLimit::max(config.body_limit));
    let streaming = OpenApiRouter::new()
        .routes(routes!(events::watch_events))
        .routes(routes!(documents::download_document))
        .routes(routes!(documents::download_evidence_package))
        .layer(RequestBodyLimitLayer::new(config.body_limit))
        .layer(DefaultBodyLimit::max(config.body_limit));
    let uploads =
        OpenApiRouter::new().routes(routes!(documents::upload_document)).layer(DefaultBodyLimit::disable());
    let tus = OpenApiRouter::new()
        .routes(routes!(uploads::start_upload, uploads::discover_uploads))
        .routes(routes!(
            uploads::get_upload,
            uploads::head_upload,
            uploads::cancel_upload,
            uploads::discover_upload
        ))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, config.request_timeout))
        .layer(RequestBodyLimitLayer::new(config.body_limit))
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(axum::middleware::from_fn(uploads::tus_protocol));
    let tus_content = OpenApiRouter::new()
        .routes(routes!(uploads::append_upload))
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(uploads::tus_protocol));
    OpenApiRouter::with_openapi(crate::openapi::base())
        .merge(unary)
        .merge(streaming)
        .merge(uploads)
        .merge(tus)
        .merge(tus_content)
}

/// The members of a JSON object body. A body that is not JSON, or not an object, is refused here;
/// its members are the broker's to judge.
pub fn json_object(
    caller: &Caller,
    body: &Bytes,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    if !is_json(caller) {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "the body must be application/json")
            .with_instance(caller.path()));
    }
    match serde_json::from_slice(body) {
        Ok(serde_json::Value::Object(members)) => Ok(members),
        Ok(_) => Err(caller.invalid("body", "a JSON object")),
        Err(e) => Err(caller.invalid("body", format!("not valid JSON: {e}"))),
    }
}

/// Whether the body is declared JSON (`application/json` or an `application/*+json` type).
pub fn is_json(caller: &Caller) -> bool {
    media_type(caller)
        .is_some_and(|v| v == "application/json" || (v.starts_with("application/") && v.ends_with("+json")))
}

/// The body's media type, lowercase and without parameters; `None` without a Content-Type.
pub fn media_type(caller: &Caller) -> Option<String> {
    caller
        .header(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
}

/// Refuses members the resource does not have (a typo would otherwise be dropped silently).
pub fn known_members(
    caller: &Caller,
    members: &serde_json::Map<String, serde_json::Value>,
    known: &[&str],
) -> Result<(), ApiError> {
    let unknown: Vec<Violation> = members
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| Violation { field: k.clone(), description: "not a member of this resource".into() })
        .collect();
    if unknown.is_empty() { Ok(()) } else { Err(ApiError::invalid(unknown).with_instance(caller.path())) }
}

/// Reads members into a typed body, naming the member at fault (`conditions[0].kind`) when one has
/// the wrong type or an unknown enum name.
pub fn typed<T: DeserializeOwned>(
    caller: &Caller,
    members: serde_json::Map<String, serde_json::Value>,
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(serde_json::Value::Object(members)).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let field = if path == "." {
            // A missing or unknown member is reported at the object itself; its name is in the
            // message between backticks.
            message.split('`').nth(1).unwrap_or("body").to_owned()
        } else {
            path
        };
        caller.invalid(field, message)
    })
}

/// The query parameters of a route, with empty values (`state=`) treated as absent.
pub fn query<T: DeserializeOwned + Default>(caller: &Caller, raw: Option<&str>) -> Result<T, ApiError> {
    let Some(raw) = raw else { return Ok(T::default()) };
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw).map_err(|e| caller.invalid("query", e.to_string()))?;
    let pairs: Vec<(String, serde_json::Value)> = pairs
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    let mut members = serde_json::Map::new();
    for (name, value) in pairs {
        if members.insert(name.clone(), value).is_some() {
            return Err(caller.invalid(name, "given more than once"));
        }
    }
    // Query structs hold text only and ignore unknown parameters, so this cannot fail on input.
    typed(caller, members)
}

/// The page asked for by a list's query string (`page_size`, `page_token`), as the list calls take it.
pub fn page(caller: &Caller, raw: Option<&str>) -> Result<(i32, String), ApiError> {
    let page: crate::dto::PageQuery = query(caller, raw)?;
    let mut params = Params(Vec::new());
    let size = params.int("page_size", &page.page_size);
    params.finish(caller, (size, page.page_token.unwrap_or_default()))
}

/// Parsers for query values, each collecting a violation that names the parameter.
pub struct Params(pub Vec<Violation>);

impl Params {
    pub fn enumeration<T: DeserializeOwned>(&mut self, field: &str, raw: &Option<String>) -> Option<T> {
        let raw = raw.as_ref()?;
        serde_json::from_value(serde_json::Value::String(raw.clone()))
            .map_err(|_| self.refuse(field, format!("`{raw}` is not a known value")))
            .ok()
    }

    pub fn int(&mut self, field: &str, raw: &Option<String>) -> i32 {
        let Some(raw) = raw else { return 0 };
        raw.parse().map_err(|_| self.refuse(field, format!("`{raw}` is not an integer"))).unwrap_or(0)
    }

    pub fn time(&mut self, field: &str, raw: &Option<String>) -> Option<prost_types::Timestamp> {
        let raw = raw.as_ref()?;
        chrono::DateTime::parse_from_rfc3339(raw)
            .map(|t| crate::dto::time_in(t.to_utc()))
            .map_err(|_| self.refuse(field, format!("`{raw}` is not an RFC 3339 time")))
            .ok()
    }

    pub fn boolean(&mut self, field: &str, raw: &Option<String>) -> bool {
        match raw.as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                self.refuse(field, format!("`{other}` is not true or false"));
                false
            }
        }
    }

    fn refuse(&mut self, field: &str, description: String) {
        self.0.push(Violation { field: field.into(), description });
    }

    pub fn finish<T>(self, caller: &Caller, value: T) -> Result<T, ApiError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ApiError::invalid(self.0).with_instance(caller.path()))
        }
    }
}

/// A JSON answer with the resource's `ETag`.
pub fn with_etag(status: StatusCode, etag: &str, body: impl Serialize) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Some(tag) = etag_header(etag) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

/// A 201 with `Location` and `ETag`.
pub fn created(location: &str, etag: &str, body: impl Serialize) -> Response {
    let mut response = with_etag(StatusCode::CREATED, etag, body);
    if let Ok(location) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// The text of a path segment as a URL path segment (ids and codes are plain, but a client may send
/// anything).
pub fn segment(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
