//! The gRPC side of the gateway: the upstream service every route calls, how a remote one is
//! reached, and how each HTTP call becomes a gRPC call carrying the caller's credentials.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::FromRequestParts;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, header};
use opentelemetry::global;
use opentelemetry_http::HeaderInjector;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::problem::ApiError;
use crate::routes::Gateway;

/// What the gateway calls: any gRPC service, boxed. [`boxed`] makes one from a [`Channel`] to a
/// remote broker or from `mla_grpc::InProcess`, the broker's services in the same process.
pub type Upstream = tower::util::BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    TransportError,
>;

/// A failure to reach the upstream at all (as opposed to a gRPC status, which is an answer).
///
/// A named type rather than `Box<dyn Error>`: with a boxed trait object as the service's error, the
/// compiler cannot prove some of the gateway's futures `Send` (rust-lang/rust#102211).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct TransportError(pub Box<dyn std::error::Error + Send + Sync>);

/// Boxes a gRPC service (a [`Channel`], an in-process router...) into an [`Upstream`].
pub fn boxed<T>(service: T) -> Upstream
where
    T: tower::Service<http::Request<tonic::body::Body>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + Sync
        + 'static,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::Future: Send + 'static,
{
    let service = tower::ServiceBuilder::new().map_request(carry_trace_context).service(service);
    Upstream::new(tower::ServiceExt::map_err(service, |e: T::Error| TransportError(e.into())))
}

/// The current span's trace goes upstream as a W3C `traceparent`, so that the gRPC call's span joins
/// the REST call's trace, in process or across the network.
fn carry_trace_context(mut request: http::Request<tonic::body::Body>) -> http::Request<tonic::body::Body> {
    let context = tracing::Span::current().context();
    global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(request.headers_mut()));
    });
    request
}

/// Why a remote upstream cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("the upstream URL {url:?} is not valid: {source}")]
    Url { url: String, source: tonic::transport::Error },
    #[error("the upstream TLS configuration is not valid: {0}")]
    Tls(#[source] tonic::transport::Error),
}

/// A channel to a remote broker's gRPC API at `url` (`http://` or `https://`). An `https` URL uses
/// TLS with the system's trust roots, plus `ca_pem` when given (a private CA). The channel connects
/// lazily and reconnects by itself, so the gateway starts while the broker is down and `/readyz`
/// says so.
pub fn upstream_channel(url: &str, ca_pem: Option<&[u8]>) -> Result<Channel, UpstreamError> {
    let invalid = |source| UpstreamError::Url { url: url.into(), source };
    let mut endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(invalid)?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_adaptive_window(true);
    if url.starts_with("https://") {
        let mut tls = ClientTlsConfig::new().with_native_roots();
        if let Some(ca) = ca_pem {
            tls = tls.ca_certificate(Certificate::from_pem(ca));
        }
        endpoint = endpoint.tls_config(tls).map_err(UpstreamError::Tls)?;
    }
    Ok(endpoint.connect_lazy())
}

/// The HTTP caller, as far as the gRPC call needs it: the credentials and the correlation id to
/// forward, and the conditional and idempotency headers. The gateway reads the token only to pass
/// it on; whether it is valid, and what it allows, is the broker's decision.
#[derive(Debug, Clone)]
pub struct Caller {
    headers: HeaderMap,
    path: String,
    timeout: Option<Duration>,
}

impl FromRequestParts<Gateway> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, gateway: &Gateway) -> Result<Self, Self::Rejection> {
        Ok(Caller {
            headers: parts.headers.clone(),
            path: parts.uri.path().to_owned(),
            timeout: Some(gateway.config.request_timeout),
        })
    }
}

/// Headers forwarded to the broker as gRPC metadata.
const FORWARDED: [&str; 2] = ["authorization", "x-request-id"];

impl Caller {
    /// A unary gRPC call: the message, the forwarded headers and the gateway's deadline.
    pub fn call<M>(&self, message: M) -> tonic::Request<M> {
        let mut request = self.stream_call(message);
        if let Some(timeout) = self.timeout {
            request.set_timeout(timeout);
        }
        request
    }

    /// A streaming gRPC call: like [`Caller::call`] but with no deadline, since a feed lasts as long
    /// as the client keeps it open.
    pub fn stream_call<M>(&self, message: M) -> tonic::Request<M> {
        let mut request = tonic::Request::new(message);
        for name in FORWARDED {
            if let Some(value) =
                self.headers.get(name).and_then(|v| AsciiMetadataValue::try_from(v.as_bytes()).ok())
            {
                request.metadata_mut().insert(name, value);
            }
        }
        request
    }

    /// The problem for a failed call, with this request as its instance.
    pub fn fail(&self, status: tonic::Status) -> ApiError {
        ApiError::from_status(&status, self.headers.contains_key(header::IF_MATCH)).with_instance(&self.path)
    }

    /// The etag of `If-Match` for the broker: empty when the header is absent or `*` (no check).
    /// Only the strong, quoted form is accepted, and one tag: the broker compares one etag.
    pub fn if_match(&self) -> Result<String, ApiError> {
        let Some(value) = self.headers.get(header::IF_MATCH) else { return Ok(String::new()) };
        let invalid =
            |description: &str| ApiError::invalid_field("If-Match", description).with_instance(&self.path);
        let value = value.to_str().map_err(|_| invalid("not visible ASCII"))?.trim();
        if value == "*" {
            return Ok(String::new());
        }
        if value.starts_with("W/") {
            return Err(invalid(
                "a weak entity tag never matches (RFC 9110 §13.1.1); send the ETag as given",
            ));
        }
        match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(tag) if !tag.contains('"') && !tag.is_empty() => Ok(tag.to_owned()),
            _ => Err(invalid("one strong entity tag in quotes, as in the ETag header, or *")),
        }
    }

    /// The `Idempotency-Key` for the broker's `request_id`; empty when absent.
    pub fn idempotency_key(&self) -> Result<String, ApiError> {
        match self.headers.get("idempotency-key") {
            None => Ok(String::new()),
            Some(value) => match value.to_str() {
                Ok(key) if !key.trim().is_empty() => Ok(key.trim().to_owned()),
                _ => Err(ApiError::invalid_field("Idempotency-Key", "a non-empty visible ASCII key")
                    .with_instance(&self.path)),
            },
        }
    }

    pub fn header(&self, name: impl header::AsHeaderName) -> Option<&HeaderValue> {
        self.headers.get(name)
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// A gateway-side problem about this request.
    pub fn invalid(&self, field: impl Into<String>, description: impl Into<String>) -> ApiError {
        ApiError::invalid_field(field, description).with_instance(&self.path)
    }
}

/// The strong, quoted form of an etag, for the `ETag` header.
pub fn etag_header(etag: &str) -> Option<HeaderValue> {
    if etag.is_empty() || etag.contains('"') {
        return None;
    }
    HeaderValue::from_str(&format!("\"{etag}\"")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(if_match: Option<&str>) -> Caller {
        let mut headers = HeaderMap::new();
        if let Some(value) = if_match {
            headers.insert(header::IF_MATCH, HeaderValue::from_str(value).unwrap());
        }
        Caller { headers, path: "/v1/requests/x".into(), timeout: None }
    }

    #[test]
    fn if_match_takes_one_strong_quoted_tag_or_a_star() {
        assert_eq!(caller(None).if_match().unwrap(), "");
        assert_eq!(caller(Some("*")).if_match().unwrap(), "");
        assert_eq!(caller(Some("\"7\"")).if_match().unwrap(), "7");
        for bad in ["7", "W/\"7\"", "\"7\", \"8\"", "\"\""] {
            let error = caller(Some(bad)).if_match().unwrap_err();
            assert_eq!(error.problem.status, 400, "{bad}");
            assert_eq!(error.problem.violations[0].field, "If-Match");
        }
    }

    #[test]
    fn the_token_and_the_correlation_id_are_forwarded() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        headers.insert("x-request-id", HeaderValue::from_static("r-1"));
        headers.insert(header::COOKIE, HeaderValue::from_static("session=1"));
        let caller = Caller { headers, path: "/".into(), timeout: Some(Duration::from_secs(30)) };
        let request = caller.call(());
        assert_eq!(request.metadata().get("authorization").unwrap(), "Bearer abc");
        assert_eq!(request.metadata().get("x-request-id").unwrap(), "r-1");
        assert!(request.metadata().get("cookie").is_none(), "only what the broker needs crosses");
        assert!(request.metadata().get("grpc-timeout").is_some());
    }
}
