//! The one error of the use cases. Its variants follow the gRPC code classes, so that the transport
//! maps each exactly once; the reason names the rule that refused.

use mla_domain::{DomainError, ErrorClass, FieldViolation};
use mla_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A rule of the lifecycle refused: its class and reason come from the domain.
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("invalid input: {}", .0.iter().map(|v| format!("{}: {}", v.field, v.description)).collect::<Vec<_>>().join("; "))]
    InvalidArgument(Vec<FieldViolation>),
    /// The caller's etag is stale: the resource changed since the caller read it.
    #[error("the etag {given:?} is not the current one ({current}); read the resource again")]
    EtagMismatch { given: String, current: String },
    /// The write lost a race it could not retry safely.
    #[error("the resource was changed concurrently; read it again and retry")]
    Conflict,
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// `field`: the idempotency key's name in the call (`request_id`, or `request_id_key` where
    /// `request_id` names the request).
    #[error("the idempotency key was already used with a different payload")]
    IdempotencyKeyReused { field: &'static str },
    #[error("{0}")]
    PermissionDenied(&'static str),
    #[error("the service is temporarily unavailable")]
    Unavailable(String),
    /// The broker's storage is full: nothing was written. Worth a retry once an operator made room.
    #[error("the broker's storage is full; nothing was written")]
    StorageFull(String),
    /// An upload longer than the configured limit: nothing was stored.
    #[error("the document is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// The content's digest is not the one the uploader announced: nothing was stored.
    #[error("the content's SHA-256 is {actual}, not the expected {expected}")]
    DigestMismatch { expected: String, actual: String },
    #[error("the offset {offset} is past the end of the content ({size} bytes)")]
    OffsetOutOfRange { offset: u64, size: u64 },
    /// An upload session's content goes on from another offset than the caller's.
    #[error("the upload goes on from byte {offset}")]
    UploadOffsetMismatch { offset: u64 },
    /// A failure the caller cannot act on; the transport logs the cause and reports an opaque id.
    #[error("internal error")]
    Internal(String),
}

/// The classes the transport maps to status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidArgument,
    FailedPrecondition,
    PermissionDenied,
    NotFound,
    Aborted,
    AlreadyExists,
    ResourceExhausted,
    OutOfRange,
    Unavailable,
    Internal,
}

impl AppError {
    pub fn code(&self) -> Code {
        match self {
            AppError::Domain(e) => match e.class() {
                ErrorClass::InvalidArgument => Code::InvalidArgument,
                ErrorClass::FailedPrecondition => Code::FailedPrecondition,
                ErrorClass::PermissionDenied => Code::PermissionDenied,
                ErrorClass::NotFound => Code::NotFound,
            },
            AppError::NotFound(_) => Code::NotFound,
            AppError::InvalidArgument(_)
            | AppError::IdempotencyKeyReused { .. }
            | AppError::DigestMismatch { .. } => Code::InvalidArgument,
            AppError::TooLarge { .. } | AppError::StorageFull(_) => Code::ResourceExhausted,
            AppError::OffsetOutOfRange { .. } => Code::OutOfRange,
            AppError::EtagMismatch { .. } | AppError::Conflict | AppError::UploadOffsetMismatch { .. } => {
                Code::Aborted
            }
            AppError::AlreadyExists(_) => Code::AlreadyExists,
            AppError::PermissionDenied(_) => Code::PermissionDenied,
            AppError::Unavailable(_) => Code::Unavailable,
            AppError::Internal(_) => Code::Internal,
        }
    }

    /// The machine-readable reason (UPPER_SNAKE) for the error detail.
    pub fn reason(&self) -> &'static str {
        match self {
            AppError::Domain(e) => e.reason(),
            AppError::NotFound("partner") => "PARTNER_NOT_FOUND",
            AppError::NotFound("document") => "DOCUMENT_NOT_FOUND",
            AppError::NotFound("upload") => "UPLOAD_NOT_FOUND",
            AppError::NotFound(_) => "REQUEST_NOT_FOUND",
            AppError::InvalidArgument(_) => "INVALID_FIELDS",
            AppError::EtagMismatch { .. } => "ETAG_MISMATCH",
            AppError::Conflict => "CONCURRENT_MODIFICATION",
            AppError::AlreadyExists(_) => "ALREADY_EXISTS",
            AppError::IdempotencyKeyReused { .. } => "IDEMPOTENCY_KEY_REUSED",
            AppError::PermissionDenied(_) => "PERMISSION_DENIED",
            AppError::Unavailable(_) => "UNAVAILABLE",
            AppError::StorageFull(_) => "STORAGE_FULL",
            AppError::TooLarge { .. } => "DOCUMENT_TOO_LARGE",
            AppError::DigestMismatch { .. } => "SHA256_MISMATCH",
            AppError::OffsetOutOfRange { .. } => "OFFSET_OUT_OF_RANGE",
            AppError::UploadOffsetMismatch { .. } => "UPLOAD_OFFSET_MISMATCH",
            AppError::Internal(_) => "INTERNAL",
        }
    }

    pub fn metadata(&self) -> Vec<(&'static str, String)> {
        match self {
            AppError::Domain(e) => e.metadata(),
            AppError::EtagMismatch { current, .. } => vec![("current_etag", current.clone())],
            AppError::TooLarge { limit } => vec![("limit_bytes", limit.to_string())],
            AppError::DigestMismatch { actual, .. } => vec![("sha256", actual.clone())],
            AppError::UploadOffsetMismatch { offset } => vec![("upload_offset", offset.to_string())],
            _ => Vec::new(),
        }
    }

    pub fn field_violations(&self) -> Vec<FieldViolation> {
        match self {
            AppError::Domain(e) => e.field_violations(),
            AppError::InvalidArgument(v) => v.clone(),
            AppError::IdempotencyKeyReused { field } => {
                vec![FieldViolation::new(*field, "already used with a different payload")]
            }
            AppError::DigestMismatch { .. } => vec![FieldViolation::new("expected_sha256", self.to_string())],
            _ => Vec::new(),
        }
    }

    /// The error of a call whose idempotency key is named `field` (where `request_id` names the
    /// request it acts on).
    pub fn keyed_by(self, field: &'static str) -> Self {
        match self {
            AppError::IdempotencyKeyReused { .. } => AppError::IdempotencyKeyReused { field },
            other => other,
        }
    }

    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        AppError::InvalidArgument(vec![FieldViolation::new(field, description)])
    }
}

impl From<mla_store::content::ContentError> for AppError {
    fn from(e: mla_store::content::ContentError) -> Self {
        match e {
            mla_store::content::ContentError::Unavailable(why) => AppError::Unavailable(why),
            mla_store::content::ContentError::StorageFull(why) => AppError::StorageFull(why),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound("request"),
            StoreError::VersionConflict { .. } => AppError::Conflict,
            StoreError::AlreadyExists => AppError::AlreadyExists("resource"),
            StoreError::IdempotencyMismatch => AppError::IdempotencyKeyReused { field: "request_id" },
            StoreError::Unavailable(why) => AppError::Unavailable(why),
            StoreError::StorageFull(why) => AppError::StorageFull(why),
            StoreError::Internal(cause) => AppError::Internal(cause.to_string()),
        }
    }
}
