//! Documents: the JSON routes (one DocumentService call each) and the two that stream, uploads
//! (multipart/form-data, each part's bytes passed on as they arrive) and downloads (Range, the digest
//! as `ETag` and `Repr-Digest`, the file name in `Content-Disposition`).

use axum::body::Body;
use axum::extract::multipart::{Field, Multipart, MultipartRejection};
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use futures::{SinkExt, StreamExt, TryFutureExt};
use http::{HeaderName, HeaderValue, StatusCode, header};
use mla_proto::v1 as pb;
use pb::upload_document_request::Part;

use super::{Gateway, json_object, typed, with_etag};
use crate::constraints::{Id, IdempotencyKey, IfMatch};
use crate::dto::{
    Document, DocumentList, Jwks, NEW_DOCUMENT_MEMBERS, NewDocument, PageQuery, Release, ReleasedDocuments,
};
use crate::problem::ApiError;
use crate::upstream::Caller;

/// The largest piece of content sent in one gRPC message (the broker's chunk limit).
const CHUNK_BYTES: usize = 1024 * 1024;
/// The largest `metadata` part: it is a small JSON object.
const METADATA_BYTES: usize = 64 * 1024;
/// The header that carries a released document's use restrictions, one per line, each as an
/// RFC 8187 value (`UTF-8''` and the percent-encoded text), so that any script survives HTTP.
pub const USE_RESTRICTIONS: &str = "mla-use-restrictions";

/// The `metadata` part then the `file` part of an upload, for the OpenAPI document.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code, reason = "documents the form; the handler reads the parts as they stream")]
pub struct UploadForm {
    metadata: NewDocument,
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Uploads a document to a request.
///
/// The body is multipart/form-data: a `metadata` part (JSON) first, then a `file` part. The file is
/// passed on to the broker as it arrives, never held whole; the broker hashes it while it streams and
/// stores it only once it is complete and durable. A file over the broker's limit is 413, an
/// `expected_sha256` that does not match is 400 (SHA256_MISMATCH); in both cases nothing is stored.
#[utoipa::path(
    post,
    path = "/v1/requests/{id}/documents",
    tag = "documents",
    operation_id = "UploadDocument",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    params(
        ("id" = Id, Path, description = "The request's id"),
        ("Idempotency-Key" = Option<IdempotencyKey>, Header, nullable = false, description = "A key unique per intended upload; a retry with the same key and metadata returns the first upload's document."),
    ),
    responses(
        (status = 201, description = "The document, stored.", body = Document,
            headers(("Location" = String, description = "`/v1/documents/{id}`"))),
    ),
)]
pub async fn upload_document(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(request_id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let mut multipart = multipart.map_err(|e| caller.invalid("body", e.body_text()))?;
    let broken = |e: axum::extract::multipart::MultipartError| caller.invalid("body", e.body_text());
    let first = multipart.next_field().await.map_err(broken)?;
    let Some(metadata) = first.filter(|field| field.name() == Some("metadata")) else {
        return Err(caller.invalid("metadata", "the first part is `metadata`, a JSON object"));
    };
    let metadata = small_part(&caller, metadata).await?;
    let members = json_object_text(&caller, &metadata)?;
    super::known_members(&caller, &members, NEW_DOCUMENT_MEMBERS)?;
    let mut fields: NewDocument = typed(&caller, members)?;
    let file = multipart.next_field().await.map_err(broken)?;
    let Some(mut file) = file.filter(|field| field.name() == Some("file")) else {
        return Err(caller.invalid("file", "a `file` part follows the metadata"));
    };
    if fields.file_name.is_empty() {
        fields.file_name = file.file_name().unwrap_or_default().to_owned();
    }
    if fields.media_type.is_empty() {
        fields.media_type = file.content_type().unwrap_or_default().to_owned();
    }
    let first = pb::UploadDocumentRequest {
        part: Some(Part::Metadata(fields.into_wire(request_id, caller.idempotency_key()?))),
    };
    let (mut sender, receiver) = futures::channel::mpsc::channel(4);
    // The file's bytes go on as they come. Should the part break off, the call is dropped unfinished
    // (the try_join below stops at the first error), which cancels it: the broker stores nothing.
    // When the broker stops reading (it answered already: an error, or the document of an earlier
    // upload under the same key), the pump stops too and the call's answer stands.
    let reader = caller.clone();
    let pump = async move {
        if sender.send(first).await.is_err() {
            return Ok(());
        }
        while let Some(chunk) = file.chunk().await.map_err(|e| reader.invalid("file", e.body_text()))? {
            for piece in chunk.chunks(CHUNK_BYTES) {
                let message = pb::UploadDocumentRequest { part: Some(Part::Chunk(piece.to_vec())) };
                if sender.send(message).await.is_err() {
                    return Ok(());
                }
            }
        }
        Ok::<(), ApiError>(())
    };
    let mut client = gateway.documents();
    let call = client.upload_document(caller.stream_call(receiver)).map_err(|s| caller.fail(s));
    let (document, ()) = futures::future::try_join(call, pump).await?;
    let document = document.into_inner();
    let mut response = (StatusCode::CREATED, axum::Json(Document::from(document.clone()))).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/documents/{}", super::segment(&document.id))) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// A small part read whole, refused past [`METADATA_BYTES`].
async fn small_part(caller: &Caller, mut field: Field<'_>) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| caller.invalid("metadata", e.body_text()))? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > METADATA_BYTES {
            return Err(caller.invalid("metadata", "the metadata part is larger than 64 KiB"));
        }
    }
    Ok(bytes)
}

/// The members of a JSON object, from a part that carries no Content-Type of its own.
fn json_object_text(
    caller: &Caller,
    text: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    match serde_json::from_slice(text) {
        Ok(serde_json::Value::Object(members)) => Ok(members),
        Ok(_) => Err(caller.invalid("metadata", "a JSON object")),
        Err(e) => Err(caller.invalid("metadata", format!("not valid JSON: {e}"))),
    }
}

/// Lists the documents of a request that the caller may see, oldest first.
#[utoipa::path(
    get,
    path = "/v1/requests/{id}/documents",
    tag = "documents",
    operation_id = "ListDocuments",
    params(("id" = Id, Path, description = "The request's id"), PageQuery),
    responses((status = 200, description = "One page of documents.", body = DocumentList)),
)]
pub async fn list_documents(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(request_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (page_size, page_token) = super::page(&caller, raw.as_deref())?;
    let message = pb::ListDocumentsRequest { request_id, page_size, page_token };
    let page = gateway
        .documents()
        .list_documents(caller.call(message))
        .await
        .map_err(|s| caller.fail(s))?
        .into_inner();
    let list = DocumentList {
        documents: page.documents.into_iter().map(Document::from).collect(),
        next_page_token: page.next_page_token,
    };
    Ok(axum::Json(list).into_response())
}

/// Returns one document's metadata.
#[utoipa::path(
    get,
    path = "/v1/documents/{id}",
    tag = "documents",
    operation_id = "GetDocument",
    params(("id" = Id, Path, description = "The document's id")),
    responses((status = 200, description = "The document.", body = Document,
        headers(("ETag" = String, description = "The content's SHA-256, quoted")))),
)]
pub async fn get_document(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let message = pb::GetDocumentRequest { id };
    let document = gateway
        .documents()
        .get_document(caller.call(message))
        .await
        .map_err(|s| caller.fail(s))?
        .into_inner();
    let etag = document.sha256.clone();
    Ok(with_etag(StatusCode::OK, &etag, Document::from(document)))
}

/// Releases withheld evidence to the requesting side (a judge or supervisor of the NCIJC).
///
/// Refused with 400 ASSURANCES_PENDING while a condition on the request is not accepted or the
/// request is neither IN_EXECUTION nor EXECUTED. `If-Match` takes the request's ETag.
#[utoipa::path(
    post,
    path = "/v1/requests/{id}/documents:release",
    tag = "documents",
    operation_id = "ReleaseDocuments",
    request_body = Release,
    params(
        ("id" = Id, Path, description = "The request's id"),
        ("If-Match" = Option<IfMatch>, Header, nullable = false, description = "The request's ETag last seen, quoted; a stale one answers 412 and releases nothing."),
        ("Idempotency-Key" = Option<IdempotencyKey>, Header, nullable = false, description = "A key unique per intended release."),
    ),
    responses((status = 200, description = "The released documents, with their use restrictions.", body = ReleasedDocuments)),
)]
pub async fn release_documents(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(request_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let members = json_object(&caller, &body)?;
    let release: Release = typed(&caller, members)?;
    let message = pb::ReleaseDocumentsRequest {
        request_id,
        document_ids: release.document_ids,
        etag: caller.if_match()?,
        request_id_key: caller.idempotency_key()?,
    };
    let released = gateway
        .documents()
        .release_documents(caller.call(message))
        .await
        .map_err(|s| caller.fail(s))?
        .into_inner();
    let body = ReleasedDocuments { documents: released.documents.into_iter().map(Document::from).collect() };
    Ok(axum::Json(body).into_response())
}

/// Downloads a document's content.
///
/// `Range: bytes=N-` or `bytes=N-M` answers 206 with that part (other forms are answered whole).
/// `ETag` is the SHA-256 of the whole content, `Repr-Digest` the same as RFC 9530 writes it, and
/// `Content-Disposition` carries the file name as given (`filename*`, any script). Released evidence
/// carries its use restrictions in `mla-use-restrictions`.
#[utoipa::path(
    get,
    path = "/v1/documents/{id}/content",
    tag = "documents",
    operation_id = "DownloadDocument",
    params(
        ("id" = Id, Path, description = "The document's id"),
        ("Range" = Option<String>, Header, description = "`bytes=N-` or `bytes=N-M`"),
    ),
    responses(
        (status = 200, description = "The content.", content_type = "application/octet-stream", body = Vec<u8>,
            headers(
                ("ETag" = String, description = "The content's SHA-256, quoted"),
                ("Repr-Digest" = String, description = "`sha-256=:<base64>:`"),
                ("Content-Disposition" = String, description = "`attachment` with the file name"),
                ("mla-use-restrictions" = String, description = "Each use restriction, RFC 8187 encoded"),
            )),
        (status = 206, description = "The part asked for with Range.", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 416, description = "The range starts past the end of the content."),
    ),
)]
pub async fn download_document(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let range = byte_range(&caller);
    let offset = range.map_or(0, |(start, _)| start);
    let message = pb::DownloadDocumentRequest { id, offset: i64::try_from(offset).unwrap_or(i64::MAX) };
    let mut messages = match gateway.documents().download_document(caller.stream_call(message)).await {
        Ok(answer) => answer.into_inner(),
        Err(status) if status.code() == tonic::Code::OutOfRange => return Ok(not_satisfiable(None)),
        Err(status) => return Err(caller.fail(status)),
    };
    let head = messages.next().await.transpose().map_err(|s| caller.fail(s))?;
    let Some(document) = head.and_then(|m| m.document) else {
        return Err(ApiError::new(StatusCode::BAD_GATEWAY, "the broker sent content without its document"));
    };
    let size = u64::try_from(document.size_bytes).unwrap_or(0);
    if range.is_some() && offset >= size && size > 0 {
        return Ok(not_satisfiable(Some(size)));
    }
    let last =
        range.and_then(|(_, end)| end).map_or(size.saturating_sub(1), |end| end.min(size.saturating_sub(1)));
    let length = if size == 0 { 0 } else { last + 1 - offset };
    // Only what the range asks for goes out, however the broker cut its chunks.
    let body = messages.scan(length, |left, message| {
        let piece = match message {
            _ if *left == 0 => None,
            Ok(message) => {
                let mut bytes = Bytes::from(message.chunk);
                bytes.truncate(usize::try_from(*left).unwrap_or(usize::MAX));
                *left -= bytes.len() as u64;
                Some(Ok(bytes))
            }
            Err(status) => Some(Err(std::io::Error::other(status.message().to_owned()))),
        };
        std::future::ready(piece)
    });
    let status = if range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let media_type = HeaderValue::from_str(&document.media_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, media_type);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if range.is_some() && size > 0 {
        let content_range = format!("bytes {offset}-{last}/{size}");
        headers.insert(header::CONTENT_RANGE, HeaderValue::from_str(&content_range).expect("ASCII"));
    }
    if let Some(etag) = crate::upstream::etag_header(&document.sha256) {
        headers.insert(header::ETAG, etag);
    }
    if let Some(digest) = repr_digest(&document.sha256) {
        headers.insert(HeaderName::from_static("repr-digest"), digest);
    }
    headers.insert(header::CONTENT_DISPOSITION, content_disposition(&document.file_name));
    for restriction in &document.use_restrictions {
        let value = format!("UTF-8''{}", percent_encoded(restriction));
        headers
            .append(HeaderName::from_static(USE_RESTRICTIONS), HeaderValue::from_str(&value).expect("ASCII"));
    }
    Ok(response)
}

/// Downloads the request's evidence package: a ZIP of every released document the caller may see
/// (`documents/{id}.{ext}`), `manifest.json` and `manifest.json.jws`, the manifest signed by the broker
/// (a compact JWS whose payload is exactly `manifest.json`'s bytes; keys at `/.well-known/jwks.json`).
/// The export is recorded in the request's audit trail (`EVIDENCE_PACKAGE_EXPORTED`).
#[utoipa::path(
    get,
    path = "/v1/requests/{id}/evidence-package",
    tag = "documents",
    operation_id = "DownloadEvidencePackage",
    params(("id" = Id, Path, description = "The request's id")),
    responses(
        (status = 200, description = "The package.", content_type = "application/zip", body = Vec<u8>,
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"evidence-{id}.zip\"`"))),
    ),
)]
pub async fn download_evidence_package(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(request_id): Path<String>,
) -> Result<Response, ApiError> {
    let file_name = format!("evidence-{}.zip", super::segment(&request_id));
    let message = pb::DownloadEvidencePackageRequest { request_id };
    let mut messages = gateway
        .documents()
        .download_evidence_package(caller.stream_call(message))
        .await
        .map_err(|s| caller.fail(s))?
        .into_inner();
    // The first piece (or the failure) arrives before the answer's status is chosen.
    let first = messages.next().await.transpose().map_err(|s| caller.fail(s))?;
    let body = futures::stream::iter(first.map(Ok)).chain(messages).map(|message| match message {
        Ok(message) => Ok(Bytes::from(message.chunk)),
        Err(status) => Err(std::io::Error::other(status.message().to_owned())),
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    headers.insert(header::CONTENT_DISPOSITION, content_disposition(&file_name));
    Ok(response)
}

/// The broker's public signing keys, as a JWKS: what checks upload receipts and evidence packages.
/// Open to anyone, without a token.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "documents",
    operation_id = "ListSigningKeys",
    security(()),
    responses((status = 200, description = "The keys.", content_type = "application/jwk-set+json", body = Jwks)),
)]
pub async fn list_signing_keys(State(gateway): State<Gateway>, caller: Caller) -> Result<Response, ApiError> {
    let keys = gateway
        .documents()
        .list_signing_keys(caller.call(pb::ListSigningKeysRequest {}))
        .await
        .map_err(|s| caller.fail(s))?
        .into_inner();
    let mut response = axum::Json(Jwks::from(keys)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/jwk-set+json"));
    Ok(response)
}

/// `bytes=N-` or `bytes=N-M` (M ≥ N); any other form (a suffix, several ranges) is not honoured and
/// the whole content is sent, as RFC 9110 allows.
fn byte_range(caller: &Caller) -> Option<(u64, Option<u64>)> {
    let raw = caller.header(header::RANGE)?.to_str().ok()?.trim().strip_prefix("bytes=")?;
    let (start, end) = raw.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end = end.trim();
    if end.is_empty() {
        return Some((start, None));
    }
    let end: u64 = end.parse().ok()?;
    (end >= start).then_some((start, Some(end)))
}

fn not_satisfiable(size: Option<u64>) -> Response {
    let mut response =
        ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "the range starts past the end of the content")
            .into_response();
    if let Some(size) = size {
        let value = HeaderValue::from_str(&format!("bytes */{size}")).expect("ASCII");
        response.headers_mut().insert(header::CONTENT_RANGE, value);
    }
    response
}

/// RFC 9530's `Repr-Digest` for a hex SHA-256: `sha-256=:<base64 of the 32 bytes>:`.
fn repr_digest(sha256: &str) -> Option<HeaderValue> {
    let bytes = hex::decode(sha256).ok().filter(|b| b.len() == 32)?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    HeaderValue::from_str(&format!("sha-256=:{encoded}:")).ok()
}

/// RFC 6266: an ASCII `filename` for old clients (other characters as `_`) and `filename*` with
/// the name as given, in UTF-8, so that Arabic names arrive whole. The name is only ever a header's
/// text: the broker never makes a path of it, and neither should a client without cleaning it.
pub fn content_disposition(file_name: &str) -> HeaderValue {
    let fallback: String = file_name
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let value =
        format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{}", percent_encoded(file_name));
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("attachment"))
}

/// RFC 8187's value-chars: `attr-char`s as they are, every other UTF-8 byte as `%XX`.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arabic_file_names_travel_whole_in_filename_star() {
        let value = content_disposition("إفادة \"W-17\".pdf");
        let value = value.to_str().expect("ASCII");
        assert!(value.starts_with("attachment; filename=\"_____ _W-17_.pdf\"; filename*=UTF-8''"), "{value}");
        assert!(value.ends_with("%20%22W-17%22.pdf"), "{value}");
        assert!(value.contains("%D8%A5"), "the alef with hamza below, in UTF-8: {value}");
    }

    #[test]
    fn the_digest_is_base64_of_the_bytes() {
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            repr_digest(empty).expect("a digest").to_str().unwrap(),
            "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
        );
        assert!(repr_digest("not hex").is_none());
    }
}
