//! Errors as RFC 9457 `application/problem+json`: the one mapping from a gRPC status (with its
//! `google.rpc.ErrorInfo` and `BadRequest` details) to an HTTP answer, and the problems the gateway
//! raises itself for HTTP it cannot translate (malformed JSON, an unknown enum name, a bad header).

use std::collections::BTreeMap;

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use tonic_types::StatusExt;
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The ErrorInfo domain of the broker, also used for the problems the gateway raises itself, so
/// that a client reads every `reason` in one vocabulary.
pub const ERROR_DOMAIN: &str = "mla.ncijc.iq";

/// The reason of an input the gateway refused before calling the broker; the broker uses the same.
pub const INVALID_FIELDS: &str = "INVALID_FIELDS";

/// An error answer (RFC 9457), with the broker's machine-readable reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `tag:mla.ncijc.iq,2026:problem:{reason}`, or `about:blank`
    /// when there is no reason.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the kind of problem (the HTTP status's phrase).
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, for a person.
    pub detail: String,
    /// The path of the request that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The `google.rpc.ErrorInfo` reason, UPPER_SNAKE: for example ETAG_MISMATCH,
    /// CONSULTATION_REQUIRED, ILLEGAL_TRANSITION, INVALID_FIELDS. Empty when there is none.
    pub reason: String,
    /// The ErrorInfo domain, `mla.ncijc.iq`.
    pub domain: String,
    /// The ErrorInfo metadata: the field, state or etag concerned.
    pub metadata: BTreeMap<String, String>,
    /// The invalid fields, with JSON paths into the body (or the query parameter or header name).
    pub violations: Vec<Violation>,
}

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Violation {
    pub field: String,
    pub description: String,
}

/// How a gRPC code answers over HTTP, as grpc-gateway maps it.
pub fn http_status(code: tonic::Code) -> StatusCode {
    use tonic::Code::*;
    match code {
        Ok => StatusCode::OK,
        // 499 is nginx's "client closed request": no standard code says it.
        Cancelled => StatusCode::from_u16(499).expect("499 is a valid status code"),
        Unknown | Internal | DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
        InvalidArgument | FailedPrecondition | OutOfRange => StatusCode::BAD_REQUEST,
        DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        NotFound => StatusCode::NOT_FOUND,
        AlreadyExists | Aborted => StatusCode::CONFLICT,
        PermissionDenied => StatusCode::FORBIDDEN,
        Unauthenticated => StatusCode::UNAUTHORIZED,
        ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// A field path of the gRPC contract as the REST client knows it: the body of a create or update is
/// the resource itself, the idempotency key is a header, and the watch cursor a query parameter.
fn rest_field(field: &str) -> String {
    let field = field.strip_prefix("request.").or_else(|| field.strip_prefix("partner.")).unwrap_or(field);
    match field {
        "request_id" => "Idempotency-Key".into(),
        "etag" => "If-Match".into(),
        "after_cursor" => "after".into(),
        other => other.into(),
    }
}

/// An error answer: the problem and the headers that go with it.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// Boxed: errors travel in every `Result` of the routes, which should stay small.
    pub problem: Box<Problem>,
    pub headers: HeaderMap,
}

impl ApiError {
    /// A problem with no ErrorInfo behind it.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError {
            problem: Box::new(Problem {
                problem_type: "about:blank".into(),
                title: status.canonical_reason().unwrap_or("Error").into(),
                status: status.as_u16(),
                detail: detail.into(),
                instance: None,
                reason: String::new(),
                domain: String::new(),
                metadata: BTreeMap::new(),
                violations: Vec::new(),
            }),
            headers: HeaderMap::new(),
        }
    }

    /// A 400 for input the gateway could not translate, in the broker's own shape.
    pub fn invalid(violations: Vec<Violation>) -> Self {
        let detail = violations
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect::<Vec<_>>()
            .join("; ");
        let mut error = Self::new(StatusCode::BAD_REQUEST, format!("invalid input: {detail}"));
        error.set_reason(INVALID_FIELDS, ERROR_DOMAIN);
        error.problem.violations = violations;
        error
    }

    /// A 400 naming one field.
    pub fn invalid_field(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::invalid(vec![Violation { field: field.into(), description: description.into() }])
    }

    /// The same problem with a reason of the gateway's own, in the broker's domain.
    pub fn with_reason(mut self, reason: &str) -> Self {
        self.set_reason(reason, ERROR_DOMAIN);
        self
    }

    fn set_reason(&mut self, reason: &str, domain: &str) {
        self.problem.problem_type = format!("tag:mla.ncijc.iq,2026:problem:{reason}");
        self.problem.reason = reason.into();
        self.problem.domain = domain.into();
    }

    /// The answer for a failed gRPC call. `if_match_sent` turns a stale etag into 412 Precondition
    /// Failed: the HTTP client made the call conditional, so HTTP's own answer fits; without the
    /// header a stale etag cannot happen, and any other ABORTED stays 409.
    pub fn from_status(status: &tonic::Status, if_match_sent: bool) -> Self {
        let mut error = Self::new(http_status(status.code()), status.message());
        if let Some(info) = status.get_details_error_info() {
            error.set_reason(&info.reason, &info.domain);
            error.problem.metadata = info.metadata.into_iter().collect();
        }
        if let Some(bad_request) = status.get_details_bad_request() {
            error.problem.violations = bad_request
                .field_violations
                .into_iter()
                .map(|v| Violation { field: rest_field(&v.field), description: v.description })
                .collect();
        }
        if status.code() == tonic::Code::Aborted && error.problem.reason == "ETAG_MISMATCH" && if_match_sent {
            error.set_status(StatusCode::PRECONDITION_FAILED);
        }
        // A document over the broker's size limit is a body too large, which HTTP says with 413;
        // 429 (grpc-gateway's RESOURCE_EXHAUSTED) would send a client to retry later in vain.
        if status.code() == tonic::Code::ResourceExhausted && error.problem.reason == "DOCUMENT_TOO_LARGE" {
            error.set_status(StatusCode::PAYLOAD_TOO_LARGE);
        }
        // The broker's disk is full: not the caller's excess (429) but the server's, which WebDAV's
        // 507 Insufficient Storage says.
        if status.code() == tonic::Code::ResourceExhausted && error.problem.reason == "STORAGE_FULL" {
            error.set_status(StatusCode::INSUFFICIENT_STORAGE);
        }
        // The broker asks for the call again later (RetryInfo: down for now, or over a limit): HTTP
        // says so with Retry-After.
        let retry = status.get_details_retry_info().and_then(|info| info.retry_delay);
        let retriable = matches!(status.code(), tonic::Code::Unavailable | tonic::Code::ResourceExhausted);
        if let Some(delay) = retry.filter(|_| retriable) {
            let seconds = delay.as_secs_f64().ceil().max(1.0) as u64;
            error.headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status.code() == tonic::Code::Unauthenticated {
            // The broker says which scheme and why (RFC 6750); a gateway that lost it still owes the
            // client a challenge.
            let challenge = status
                .metadata()
                .get("www-authenticate")
                .and_then(|v| HeaderValue::from_bytes(v.as_encoded_bytes()).ok())
                .unwrap_or_else(|| HeaderValue::from_static("Bearer"));
            error.headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        error
    }

    fn set_status(&mut self, status: StatusCode) {
        self.problem.status = status.as_u16();
        self.problem.title = status.canonical_reason().unwrap_or("Error").into();
    }

    pub fn with_instance(mut self, path: &str) -> Self {
        self.problem.instance = Some(path.into());
        self
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self.problem).unwrap_or_default();
        let mut response =
            (status, [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))], body).into_response();
        response.headers_mut().extend(self.headers);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::ErrorDetails;

    #[test]
    fn codes_map_as_grpc_gateway_maps_them() {
        use tonic::Code::*;
        let table = [
            (Ok, 200),
            (Cancelled, 499),
            (Unknown, 500),
            (InvalidArgument, 400),
            (DeadlineExceeded, 504),
            (NotFound, 404),
            (AlreadyExists, 409),
            (PermissionDenied, 403),
            (Unauthenticated, 401),
            (ResourceExhausted, 429),
            (FailedPrecondition, 400),
            (Aborted, 409),
            (OutOfRange, 400),
            (Unimplemented, 501),
            (Internal, 500),
            (Unavailable, 503),
            (DataLoss, 500),
        ];
        for (code, want) in table {
            assert_eq!(http_status(code).as_u16(), want, "{code:?}");
        }
    }

    #[test]
    fn a_stale_etag_is_412_only_for_a_conditional_call() {
        let details = ErrorDetails::with_error_info(
            "ETAG_MISMATCH",
            ERROR_DOMAIN,
            [("current_etag".to_string(), "8".to_string())],
        );
        let status = tonic::Status::with_error_details(tonic::Code::Aborted, "stale", details);
        let conditional = ApiError::from_status(&status, true);
        assert_eq!(conditional.problem.status, 412);
        assert_eq!(conditional.problem.reason, "ETAG_MISMATCH");
        assert_eq!(conditional.problem.metadata["current_etag"], "8");
        assert_eq!(ApiError::from_status(&status, false).problem.status, 409);
    }

    #[test]
    fn violations_name_rest_fields() {
        let mut details = ErrorDetails::with_error_info(INVALID_FIELDS, ERROR_DOMAIN, []);
        details.set_bad_request(vec![
            tonic_types::FieldViolation::new("request.title", "too long"),
            tonic_types::FieldViolation::new("request_id", "reused"),
        ]);
        let status = tonic::Status::with_error_details(tonic::Code::InvalidArgument, "bad", details);
        let problem = ApiError::from_status(&status, false).problem;
        assert_eq!(problem.violations[0].field, "title");
        assert_eq!(problem.violations[1].field, "Idempotency-Key");
        assert_eq!(problem.problem_type, "tag:mla.ncijc.iq,2026:problem:INVALID_FIELDS");
    }

    #[test]
    fn unauthenticated_carries_a_challenge() {
        let error = ApiError::from_status(&tonic::Status::unauthenticated("no token"), false);
        assert_eq!(error.problem.status, 401);
        assert_eq!(error.headers[header::WWW_AUTHENTICATE], "Bearer");
    }
}
