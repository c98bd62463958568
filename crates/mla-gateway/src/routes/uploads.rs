//! Resumable uploads as tus 1.0.0 speaks them (core, creation, termination and expiration), in front
//! of the broker's upload sessions: each route one DocumentService call (StartUpload, GetUpload,
//! AppendUpload, CancelUpload); OPTIONS, the protocol's discovery, calls nothing.
//!
//! A `PATCH` body is passed on as it arrives, in pieces of at most 1 MiB, never held whole. Unlike a
//! multipart upload, which stores nothing of a body that breaks off, an upload session keeps what
//! arrived: when the HTTP body fails, the gRPC stream is ended normally (not cancelled) and the
//! broker's answer awaited, so that the next `PATCH` goes on from the last byte that got through.
//! The exchange with the broker runs in a task of its own, so that it reaches its end even when the
//! HTTP connection is gone and the handler with it.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use futures::future::Either;
use futures::{SinkExt, StreamExt};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use mla_proto::v1 as pb;
use pb::append_upload_request::Part;

use super::{Gateway, json_object, typed};
use crate::constraints::{Id, IdempotencyKey};
use crate::dto::{NEW_DOCUMENT_MEMBERS, NEW_UPLOAD_MEMBERS, NewDocument, NewUpload, UploadSession};
use crate::problem::{ApiError, Violation};
use crate::upstream::Caller;

/// The one version of tus spoken.
pub const TUS_VERSION: &str = "1.0.0";
/// The tus extensions supported.
pub const TUS_EXTENSIONS: &str = "creation,termination,expiration";
/// The media type of a `PATCH` body.
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

/// The headers of the protocol, as their names are written on the wire (lowercase).
pub const TUS_RESUMABLE: &str = "tus-resumable";
pub const TUS_VERSION_HEADER: &str = "tus-version";
pub const TUS_EXTENSION: &str = "tus-extension";
pub const UPLOAD_OFFSET: &str = "upload-offset";
pub const UPLOAD_LENGTH: &str = "upload-length";
pub const UPLOAD_METADATA: &str = "upload-metadata";
pub const UPLOAD_EXPIRES: &str = "upload-expires";
/// The completed upload's document id, beside its `Location`.
pub const MLA_DOCUMENT_ID: &str = "mla-document-id";

/// The largest piece of content sent in one gRPC message (the broker's chunk limit).
const CHUNK_BYTES: usize = 1024 * 1024;

/// The keys of `Upload-Metadata`, and the member of a document's JSON metadata each stands for. The
/// tus clients' `filename` and `filetype` and the JSON names are both taken.
const METADATA_KEYS: [(&str, &str); 10] = [
    ("kind", "kind"),
    ("title", "title"),
    ("filename", "file_name"),
    ("file_name", "file_name"),
    ("filetype", "media_type"),
    ("media_type", "media_type"),
    ("language", "language"),
    ("translation_of", "translation_of"),
    ("audience", "audience"),
    ("expected_sha256", "expected_sha256"),
];

/// Base64 as tus writes it (the standard alphabet), with or without its padding.
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// The tus frame of every upload route: a `Tus-Resumable` of another version is refused with 412
/// and the version spoken (OPTIONS, the discovery, is never refused), and every answer says
/// `Tus-Resumable: 1.0.0`.
pub async fn tus_protocol(request: Request, next: Next) -> Response {
    let spoken = request.method() == Method::OPTIONS
        || request.headers().get(TUS_RESUMABLE).is_none_or(|version| version == TUS_VERSION);
    let mut response = if spoken {
        next.run(request).await
    } else {
        let mut error = ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            format!("this server speaks tus {TUS_VERSION} only (Tus-Version)"),
        )
        .with_reason("TUS_VERSION_UNSUPPORTED")
        .with_instance(request.uri().path());
        error.headers.insert(TUS_VERSION_HEADER, HeaderValue::from_static(TUS_VERSION));
        error.into_response()
    };
    response.headers_mut().insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
    response
}

/// Starts a resumable upload (tus creation): the document's metadata and the content's whole size
/// now, the content later with `PATCH /v1/uploads/{id}`.
///
/// A tus client sends no body: `Upload-Length` (required) is the size, and `Upload-Metadata` the
/// metadata as tus writes it, comma-separated `key base64(value)` pairs with the keys `kind`,
/// `title`, `filename`, `filetype` (the media type), `language`, `translation_of`, `audience` and
/// `expected_sha256`, their values as in the JSON metadata (`kind` `LETTER_OF_REQUEST`...). Any
/// other client may send the JSON body instead. What a multipart upload checks before its content is
/// checked now: a size over the broker's limit is 413 (DOCUMENT_TOO_LARGE). The session is the
/// caller's alone (404 to anyone else) and expires with its partial content at `Upload-Expires`.
#[utoipa::path(
    post,
    path = "/v1/requests/{id}/uploads",
    tag = "documents",
    operation_id = "StartUpload",
    request_body(content = Option<NewUpload>, content_type = "application/json",
        description = "Only without `Upload-Length`: the metadata and the size as JSON."),
    params(
        ("id" = Id, Path, description = "The request's id"),
        ("Tus-Resumable" = Option<String>, Header, nullable = false, pattern = r"^1\.0\.0$", description = "`1.0.0`; another version is 412."),
        ("Upload-Length" = Option<i64>, Header, description = "The content's whole size in bytes; required unless the body is JSON."),
        ("Upload-Metadata" = Option<String>, Header, description = "tus metadata: `kind <base64>,title <base64>,filename <base64>,...`"),
        ("Idempotency-Key" = Option<IdempotencyKey>, Header, nullable = false, description = "A key unique per intended upload; a retry with the same key and metadata returns the same session."),
    ),
    responses(
        (status = 201, description = "The session, with no content yet.", body = UploadSession,
            headers(
                ("Location" = String, description = "`/v1/uploads/{id}`, where the content goes"),
                ("Upload-Offset" = i64, description = "The bytes held: 0"),
                ("Upload-Expires" = String, description = "When the session expires (an HTTP-date)"),
                ("Tus-Resumable" = String, description = "`1.0.0`"),
            )),
    ),
)]
pub async fn start_upload(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(request_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let tus = caller.header(UPLOAD_LENGTH).is_some()
        || caller.header(TUS_RESUMABLE).is_some()
        || !super::is_json(&caller);
    let (fields, size_bytes) = if tus {
        let size_bytes = upload_length(&caller)?;
        (upload_metadata(&caller)?, size_bytes)
    } else {
        json_upload(&caller, &body)?
    };
    let message = pb::StartUploadRequest {
        metadata: Some(fields.into_wire(request_id, caller.idempotency_key()?)),
        size_bytes,
    };
    let session = gateway
        .documents()
        .start_upload(caller.call(message))
        .await
        .map_err(|s| caller.fail(s))?
        .into_inner();
    let mut response =
        (StatusCode::CREATED, axum::Json(UploadSession::from(session.clone()))).into_response();
    session_headers(response.headers_mut(), &session);
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/uploads/{}", super::segment(&session.id))) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The tus discovery of the upload routes: the version and extensions spoken.
#[utoipa::path(
    options,
    path = "/v1/requests/{id}/uploads",
    tag = "documents",
    operation_id = "DiscoverUploads",
    security(()),
    params(("id" = Id, Path, description = "The request's id")),
    responses((status = 204, description = "What this server speaks of tus.",
        headers(
            ("Tus-Version" = String, description = "`1.0.0`"),
            ("Tus-Extension" = String, description = "`creation,termination,expiration`"),
        ))),
)]
pub async fn discover_uploads() -> Response {
    discovery()
}

/// The tus discovery, on an upload's URL.
#[utoipa::path(
    options,
    path = "/v1/uploads/{id}",
    tag = "documents",
    operation_id = "DiscoverUpload",
    security(()),
    params(("id" = Id, Path, description = "The upload session's id")),
    responses((status = 204, description = "What this server speaks of tus.",
        headers(
            ("Tus-Version" = String, description = "`1.0.0`"),
            ("Tus-Extension" = String, description = "`creation,termination,expiration`"),
        ))),
)]
pub async fn discover_upload() -> Response {
    discovery()
}

fn discovery() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    tus_capabilities(response.headers_mut());
    response
}

fn tus_capabilities(headers: &mut HeaderMap) {
    headers.insert(TUS_VERSION_HEADER, HeaderValue::from_static(TUS_VERSION));
    headers.insert(TUS_EXTENSION, HeaderValue::from_static(TUS_EXTENSIONS));
}

/// The tus discovery on an upload route's `OPTIONS` whoever answers it: with CORS configured, the
/// CORS layer answers every `OPTIONS` itself (as a preflight), before the routes see it.
pub async fn tus_discovery(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let discovery = request.method() == Method::OPTIONS
        && (path.starts_with("/v1/uploads/")
            || (path.starts_with("/v1/requests/") && path.ends_with("/uploads")));
    let mut response = next.run(request).await;
    if discovery && response.status().is_success() {
        tus_capabilities(response.headers_mut());
        response.headers_mut().insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
    }
    response
}

/// Returns an upload session of the caller's: its offset, and its document once complete.
///
/// The tus headers (`Upload-Offset`, `Upload-Length`, `Upload-Expires`) come with it; `HEAD` on
/// the same URL answers them alone.
#[utoipa::path(
    get,
    path = "/v1/uploads/{id}",
    tag = "documents",
    operation_id = "GetUpload",
    params(("id" = Id, Path, description = "The upload session's id")),
    responses((status = 200, description = "The session.", body = UploadSession,
        headers(
            ("Upload-Offset" = i64, description = "The bytes the broker holds: where the next PATCH goes on"),
            ("Upload-Length" = i64, description = "The content's whole size"),
            ("Upload-Expires" = String, description = "When the session expires (an HTTP-date)"),
        ))),
)]
pub async fn get_upload(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let session = session(&gateway, &caller, id).await?;
    let mut response = axum::Json(UploadSession::from(session.clone())).into_response();
    session_headers(response.headers_mut(), &session);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// An upload session's offset (tus): the headers of `GET`, without a body.
#[utoipa::path(
    head,
    path = "/v1/uploads/{id}",
    tag = "documents",
    operation_id = "GetUploadOffset",
    params(("id" = Id, Path, description = "The upload session's id")),
    responses((status = 200, description = "The session's offset.",
        headers(
            ("Upload-Offset" = i64, description = "The bytes the broker holds: where the next PATCH goes on"),
            ("Upload-Length" = i64, description = "The content's whole size"),
            ("Upload-Metadata" = String, description = "The metadata, as tus writes it"),
            ("Upload-Expires" = String, description = "When the session expires (an HTTP-date)"),
            ("Cache-Control" = String, description = "`no-store`"),
        ))),
)]
pub async fn head_upload(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let session = session(&gateway, &caller, id).await?;
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    session_headers(headers, &session);
    if let Some(metadata) = session.metadata.as_ref().and_then(metadata_header) {
        headers.insert(UPLOAD_METADATA, metadata);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn session(gateway: &Gateway, caller: &Caller, id: String) -> Result<pb::UploadSession, ApiError> {
    let message = pb::GetUploadRequest { id };
    let answer = gateway.documents().get_upload(caller.call(message)).await;
    Ok(answer.map_err(|s| caller.fail(s))?.into_inner())
}

/// Appends content to an upload session (tus core).
///
/// The body (`application/offset+octet-stream`) goes on from `Upload-Offset`, which must be the
/// session's: otherwise 409 (UPLOAD_OFFSET_MISMATCH) with the session's offset in `Upload-Offset`.
/// The body is passed on as it arrives; what arrives is kept even if the body breaks off, for the
/// next `PATCH` to go on from (`HEAD` says where). The `PATCH` that brings the last byte adds the
/// document (its `Location` in the answer); content whose SHA-256 is not `expected_sha256` is
/// discarded (400, SHA256_MISMATCH) and the session starts again from 0. While one `PATCH` appends,
/// another is 409 (CONCURRENT_MODIFICATION).
#[utoipa::path(
    patch,
    path = "/v1/uploads/{id}",
    tag = "documents",
    operation_id = "AppendUpload",
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    params(
        ("id" = Id, Path, description = "The upload session's id"),
        ("Upload-Offset" = i64, Header, description = "The session's offset, as HEAD or the last PATCH answered it"),
        ("Tus-Resumable" = Option<String>, Header, nullable = false, pattern = r"^1\.0\.0$", description = "`1.0.0`; another version is 412."),
    ),
    responses(
        (status = 204, description = "The content was taken.",
            headers(
                ("Upload-Offset" = i64, description = "The session's new offset"),
                ("Upload-Expires" = String, description = "When the session expires (an HTTP-date)"),
                ("Location" = String, description = "Once the content is complete: `/v1/documents/{id}`"),
                ("Mla-Document-Id" = String, description = "Once the content is complete: the document's id"),
                ("Tus-Resumable" = String, description = "`1.0.0`"),
            )),
    ),
)]
pub async fn append_upload(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(upload_id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    if super::media_type(&caller).as_deref() != Some(OFFSET_OCTET_STREAM) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("the body of a PATCH must be {OFFSET_OCTET_STREAM}"),
        )
        .with_instance(caller.path()));
    }
    let offset = upload_offset(&caller)?;
    let first =
        pb::AppendUploadRequest { part: Some(Part::Position(pb::UploadPosition { upload_id, offset })) };
    let (mut sender, receiver) = futures::channel::mpsc::channel(4);
    let pump = async move {
        let pumped = forward(&mut sender, first, body).await;
        // However the body ended, the stream ends normally here, and the broker keeps what it got.
        drop(sender);
        pumped
    };
    let mut client = gateway.documents();
    let call = caller.stream_call(receiver);
    // A task of its own, so that the call is never dropped halfway: a handler is dropped when its
    // client goes away, and the broker would then not see the end of the stream.
    let exchange = tokio::spawn(async move {
        let call = std::pin::pin!(client.append_upload(call));
        let pump = std::pin::pin!(pump);
        match futures::future::select(call, pump).await {
            // The broker answered before the body ended (an error, or a completed session): the
            // rest of the body is not read.
            Either::Left((answer, _)) => (answer, None),
            Either::Right((pumped, call)) => (call.await, Some(pumped)),
        }
    });
    let (answer, pumped) = exchange.await.map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("the upload's exchange failed: {e}"))
            .with_instance(caller.path())
    })?;
    let session = answer.map_err(|status| with_upload_offset(caller.fail(status)))?.into_inner();
    if let Some(Pumped::Broken(reason)) = pumped {
        let mut error = caller.invalid(
            "body",
            format!("the body broke off ({reason}); what arrived is kept: go on from Upload-Offset"),
        );
        session_headers(&mut error.headers, &session);
        return Err(error);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    session_headers(response.headers_mut(), &session);
    if let Some(document) = &session.document
        && let Ok(location) =
            HeaderValue::from_str(&format!("/v1/documents/{}", super::segment(&document.id)))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// How a `PATCH` body ended.
enum Pumped {
    /// Whole, passed on to the end.
    Whole,
    /// Not read to its end: the broker stopped reading (it answered already).
    Stopped,
    /// Broken off: the client went away or sent less than it announced.
    Broken(String),
}

/// Sends `first`, then the body in pieces of at most [`CHUNK_BYTES`] as they arrive.
async fn forward(
    sender: &mut futures::channel::mpsc::Sender<pb::AppendUploadRequest>,
    first: pb::AppendUploadRequest,
    body: Body,
) -> Pumped {
    if sender.send(first).await.is_err() {
        return Pumped::Stopped;
    }
    let mut body = body.into_data_stream();
    while let Some(frame) = body.next().await {
        let bytes = match frame {
            Ok(bytes) => bytes,
            Err(error) => return Pumped::Broken(error.to_string()),
        };
        for piece in bytes.chunks(CHUNK_BYTES) {
            let message = pb::AppendUploadRequest { part: Some(Part::Chunk(piece.to_vec())) };
            if sender.send(message).await.is_err() {
                return Pumped::Stopped;
            }
        }
    }
    Pumped::Whole
}

/// Cancels an upload session (tus termination): its partial content is removed at once.
#[utoipa::path(
    delete,
    path = "/v1/uploads/{id}",
    tag = "documents",
    operation_id = "CancelUpload",
    params(("id" = Id, Path, description = "The upload session's id")),
    responses((status = 204, description = "The session and its partial content are gone.")),
)]
pub async fn cancel_upload(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let message = pb::CancelUploadRequest { id };
    gateway.documents().cancel_upload(caller.call(message)).await.map_err(|s| caller.fail(s))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The tus headers of a session: `Upload-Offset`, `Upload-Length`, `Upload-Expires`, and the
/// document's id once complete.
fn session_headers(headers: &mut HeaderMap, session: &pb::UploadSession) {
    headers.insert(UPLOAD_OFFSET, HeaderValue::from(session.offset));
    headers.insert(UPLOAD_LENGTH, HeaderValue::from(session.size_bytes));
    if let Some(expires) = session.expire_time.as_ref().and_then(http_date) {
        headers.insert(UPLOAD_EXPIRES, expires);
    }
    if let Some(id) = session.document.as_ref().and_then(|d| HeaderValue::from_str(&d.id).ok()) {
        headers.insert(MLA_DOCUMENT_ID, id);
    }
}

/// An offset mismatch's problem, with the session's offset (the ErrorInfo's `upload_offset`) in
/// `Upload-Offset`, where a tus client looks for it.
fn with_upload_offset(mut error: ApiError) -> ApiError {
    let offset = error.problem.metadata.get("upload_offset").and_then(|o| o.parse::<u64>().ok());
    if let Some(offset) = offset {
        error.headers.insert(UPLOAD_OFFSET, HeaderValue::from(offset));
    }
    error
}

/// RFC 9110's HTTP-date (IMF-fixdate): `Sun, 06 Nov 1994 08:49:37 GMT`.
fn http_date(time: &prost_types::Timestamp) -> Option<HeaderValue> {
    let time = chrono::DateTime::from_timestamp(time.seconds, 0)?;
    HeaderValue::from_str(&time.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).ok()
}

/// `Upload-Length`: a non-negative integer, required (tus's deferred length is not supported).
fn upload_length(caller: &Caller) -> Result<i64, ApiError> {
    let Some(raw) = caller.header(UPLOAD_LENGTH) else {
        return Err(caller.invalid(
            "Upload-Length",
            "required: the content's whole size in bytes (a deferred length is not supported)",
        ));
    };
    match digits(raw) {
        Some(Some(size)) => Ok(size),
        Some(None) => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Upload-Length is larger than any document the broker takes",
        )
        .with_reason("DOCUMENT_TOO_LARGE")
        .with_instance(caller.path())),
        None => Err(caller.invalid("Upload-Length", "a non-negative integer, in decimal digits")),
    }
}

/// `Upload-Offset` of a `PATCH`: a non-negative integer, required.
fn upload_offset(caller: &Caller) -> Result<i64, ApiError> {
    let raw = caller.header(UPLOAD_OFFSET);
    match raw.and_then(digits) {
        Some(Some(offset)) => Ok(offset),
        _ if raw.is_none() => Err(caller.invalid("Upload-Offset", "required: the session's offset")),
        _ => Err(caller.invalid("Upload-Offset", "a non-negative integer, in decimal digits")),
    }
}

/// A header of decimal digits: `None` when it is not one, `Some(None)` when it does not fit an
/// `int64`.
fn digits(raw: &HeaderValue) -> Option<Option<i64>> {
    let text = raw.to_str().ok()?.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse::<i64>().ok())
}

/// The document's metadata from `Upload-Metadata`, read as the JSON metadata is (the same enum names,
/// the same checks); an absent header is no metadata, for the broker to refuse what is missing.
fn upload_metadata(caller: &Caller) -> Result<NewDocument, ApiError> {
    let refuse = |description: String| caller.invalid("Upload-Metadata", description);
    let Some(raw) = caller.header(UPLOAD_METADATA) else { return Ok(NewDocument::default()) };
    let raw = raw.to_str().map_err(|_| refuse("not visible ASCII".into()))?;
    let mut members = serde_json::Map::new();
    let mut keys = BTreeMap::new();
    for (key, value) in metadata_pairs(raw).map_err(refuse)? {
        let Some(&(_, member)) = METADATA_KEYS.iter().find(|(known, _)| *known == key) else {
            let known: Vec<&str> = METADATA_KEYS.iter().map(|(k, _)| *k).collect();
            return Err(refuse(format!(
                "`{key}` is not a key of a document's metadata ({})",
                known.join(", ")
            )));
        };
        if members.insert(member.to_owned(), serde_json::Value::String(value)).is_some() {
            return Err(refuse(format!("`{key}`: {member} given more than once")));
        }
        keys.insert(member, key);
    }
    typed(caller, members).map_err(|error| {
        let described = error.problem.violations.first().map(|v| {
            let key = keys.get(v.field.as_str()).map_or(v.field.as_str(), String::as_str);
            format!("`{key}`: {}", v.description)
        });
        refuse(described.unwrap_or_else(|| error.problem.detail.clone()))
    })
}

/// tus's `Upload-Metadata`: comma-separated pairs of a key and its value in base64, separated by a
/// space; a key alone has an empty value. The values must be UTF-8 text.
fn metadata_pairs(raw: &str) -> Result<Vec<(String, String)>, String> {
    if raw.trim().is_empty() {
        return Ok(Vec::new());
    }
    raw.split(',')
        .map(|pair| {
            let mut words = pair.split(' ').filter(|w| !w.is_empty());
            let key = words.next().ok_or("an empty pair: pairs are `key base64`, separated by commas")?;
            let value = words.next().unwrap_or("");
            if words.next().is_some() {
                return Err(format!("`{key}`: a key and one base64 value, separated by a space"));
            }
            let bytes = BASE64.decode(value).map_err(|_| format!("`{key}`: the value is not base64"))?;
            let text =
                String::from_utf8(bytes).map_err(|_| format!("`{key}`: the value is not UTF-8 text"))?;
            Ok((key.to_owned(), text))
        })
        .collect()
}

/// A session's metadata as tus writes it, for `HEAD` (the keys tus clients use, empty ones left out).
fn metadata_header(metadata: &pb::DocumentMetadata) -> Option<HeaderValue> {
    let fields = NewDocument::from(metadata.clone());
    let kind = fields.kind.map(|k| k.name()).unwrap_or_default();
    let audience = fields.audience.map(|a| a.name()).unwrap_or_default();
    let pairs = [
        ("kind", kind),
        ("title", fields.title.as_str()),
        ("filename", fields.file_name.as_str()),
        ("filetype", fields.media_type.as_str()),
        ("language", fields.language.as_str()),
        ("translation_of", fields.translation_of.as_str()),
        ("audience", audience),
        ("expected_sha256", fields.expected_sha256.as_str()),
    ];
    let text: Vec<String> = pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| format!("{key} {}", base64::engine::general_purpose::STANDARD.encode(value)))
        .collect();
    HeaderValue::from_str(&text.join(",")).ok()
}

/// The JSON body of a creation: `{"metadata": {...}, "size_bytes": N}`.
fn json_upload(caller: &Caller, body: &Bytes) -> Result<(NewDocument, i64), ApiError> {
    let members = json_object(caller, body)?;
    super::known_members(caller, &members, NEW_UPLOAD_MEMBERS)?;
    if let Some(serde_json::Value::Object(metadata)) = members.get("metadata") {
        let unknown: Vec<Violation> = metadata
            .keys()
            .filter(|k| !NEW_DOCUMENT_MEMBERS.contains(&k.as_str()))
            .map(|k| Violation {
                field: format!("metadata.{k}"),
                description: "not a member of this resource".into(),
            })
            .collect();
        if !unknown.is_empty() {
            return Err(ApiError::invalid(unknown).with_instance(caller.path()));
        }
    }
    let upload: NewUpload = typed(caller, members)?;
    let size = upload
        .size_bytes
        .ok_or_else(|| caller.invalid("size_bytes", "required: the content's whole size in bytes"))?;
    Ok((upload.metadata, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    #[test]
    fn metadata_pairs_are_keys_and_base64_values() {
        let raw = format!("filename {},kind {}, flag,title {}", b64("شهادة.pdf"), b64("EVIDENCE"), "VA");
        let pairs = metadata_pairs(&raw).unwrap();
        assert_eq!(
            pairs,
            [
                ("filename".into(), "شهادة.pdf".into()),
                ("kind".into(), "EVIDENCE".into()),
                ("flag".into(), String::new()),
                ("title".into(), "T".into()),
            ]
        );
        assert!(metadata_pairs("").unwrap().is_empty());
        assert!(metadata_pairs("kind !!!").unwrap_err().contains("not base64"));
        assert!(metadata_pairs("kind a b").unwrap_err().contains("one base64 value"));
        assert!(metadata_pairs("kind VA,,title VA").unwrap_err().contains("empty pair"));
        assert!(
            metadata_pairs(&format!("kind {}", base64::engine::general_purpose::STANDARD.encode([0xff])))
                .unwrap_err()
                .contains("UTF-8")
        );
    }

    #[test]
    fn offsets_and_lengths_are_decimal_digits() {
        let value = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(digits(&value("0")), Some(Some(0)));
        assert_eq!(digits(&value(" 1024 ")), Some(Some(1024)));
        assert_eq!(digits(&value("99999999999999999999")), Some(None));
        for bad in ["", "-1", "+1", "1e3", "0x10"] {
            assert_eq!(digits(&value(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn expiry_is_an_http_date() {
        let date = http_date(&prost_types::Timestamp { seconds: 784_111_777, nanos: 0 }).unwrap();
        assert_eq!(date, "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn the_metadata_header_round_trips() {
        let metadata = pb::DocumentMetadata {
            kind: pb::DocumentKind::Translation as i32,
            title: "ترجمة".into(),
            file_name: "ترجمة الطلب.pdf".into(),
            media_type: "application/pdf".into(),
            ..Default::default()
        };
        let header = metadata_header(&metadata).unwrap();
        let pairs = metadata_pairs(header.to_str().unwrap()).unwrap();
        assert_eq!(
            pairs,
            [
                ("kind".into(), "TRANSLATION".into()),
                ("title".into(), "ترجمة".into()),
                ("filename".into(), "ترجمة الطلب.pdf".into()),
                ("filetype".into(), "application/pdf".into()),
            ]
        );
    }
}
