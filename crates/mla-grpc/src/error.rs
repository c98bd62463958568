//! The one mapping from application errors to gRPC statuses, with `google.rpc.ErrorInfo` (reason,
//! domain, metadata) and `BadRequest` field violations. Internal failures reach the caller as an
//! opaque message with a correlation id; their cause goes to the log under the same id.

use std::collections::HashMap;

use mla_app::{AppError, Code};
use tonic::Status;
use tonic_types::{ErrorDetails, StatusExt};

/// The error domain of every ErrorInfo the broker sends.
pub const ERROR_DOMAIN: &str = "mla.ncijc.iq";
/// How long a caller is asked to wait before it tries an UNAVAILABLE call again (`RetryInfo`).
pub const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

pub fn status_of(error: AppError) -> Status {
    let code = match error.code() {
        Code::InvalidArgument => tonic::Code::InvalidArgument,
        Code::FailedPrecondition => tonic::Code::FailedPrecondition,
        Code::PermissionDenied => tonic::Code::PermissionDenied,
        Code::NotFound => tonic::Code::NotFound,
        Code::Aborted => tonic::Code::Aborted,
        Code::AlreadyExists => tonic::Code::AlreadyExists,
        Code::ResourceExhausted => tonic::Code::ResourceExhausted,
        Code::OutOfRange => tonic::Code::OutOfRange,
        Code::Unavailable => tonic::Code::Unavailable,
        Code::Internal => tonic::Code::Internal,
    };
    let mut metadata: HashMap<String, String> =
        error.metadata().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let message = match &error {
        AppError::Internal(cause) | AppError::Unavailable(cause) | AppError::StorageFull(cause) => {
            let correlation_id = uuid::Uuid::now_v7().to_string();
            tracing::error!(%correlation_id, cause = %cause, "request failed");
            metadata.insert("correlation_id".into(), correlation_id.clone());
            format!("{error} (correlation id {correlation_id})")
        }
        _ => error.to_string(),
    };
    let mut details = ErrorDetails::with_error_info(error.reason(), ERROR_DOMAIN, metadata);
    if matches!(error, AppError::Unavailable(_) | AppError::StorageFull(_)) {
        // The database or the content store is down or full for now: worth the same call again, later.
        details.set_retry_info(Some(RETRY_AFTER));
    }
    let violations = error.field_violations();
    if !violations.is_empty() {
        details.set_bad_request(
            violations
                .into_iter()
                .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
                .collect::<Vec<_>>(),
        );
    }
    Status::with_error_details(code, message, details)
}

/// A caller over one of its limits (`limits`): RESOURCE_EXHAUSTED with the limit's reason and value
/// (metadata `limit`), and how long to wait before the same call would be admitted, which the
/// gateway sends as `Retry-After`.
pub(crate) fn limited(reason: &str, limit: u32, message: &str, retry_after: std::time::Duration) -> Status {
    let metadata = HashMap::from([("limit".to_owned(), limit.to_string())]);
    let mut details = ErrorDetails::with_error_info(reason, ERROR_DOMAIN, metadata);
    details.set_retry_info(Some(retry_after));
    Status::with_error_details(tonic::Code::ResourceExhausted, message, details)
}

/// A status for a request message that failed to parse.
pub fn invalid(violations: Vec<mla_domain::FieldViolation>) -> Status {
    status_of(AppError::InvalidArgument(violations))
}
