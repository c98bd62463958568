//! The authentication layer: every call but health checks and reflection needs a valid bearer
//! token, which becomes the call's `Principal`. What the principal may then do is the application's
//! decision, not this layer's.

use futures::future::BoxFuture;
use http::{Request, Response};
use mla_auth::{AuthError, Verifier, bearer_token};
use mla_domain::Principal;
use tonic::Status;
use tonic::body::Body;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tower_http::auth::{AsyncAuthorizeRequest, AsyncRequireAuthorizationLayer};

/// Services any caller may reach: load balancers probe health, and grpcurl lists services.
const OPEN_PREFIXES: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// Verifies the bearer token of each call and attaches the principal to it.
#[derive(Debug, Clone)]
pub struct Authenticate(Verifier);

impl AsyncAuthorizeRequest<Body> for Authenticate {
    type RequestBody = Body;
    type ResponseBody = Body;
    type Future = BoxFuture<'static, Result<Request<Body>, Response<Body>>>;

    fn authorize(&mut self, mut request: Request<Body>) -> Self::Future {
        let verifier = self.0.clone();
        Box::pin(async move {
            if OPEN_PREFIXES.iter().any(|p| request.uri().path().starts_with(p)) {
                return Ok(request);
            }
            let header = request.headers().get(http::header::AUTHORIZATION).map(|v| v.to_str());
            let principal = match header {
                None => Err(AuthError::Missing),
                Some(Err(_)) => Err(AuthError::Malformed),
                Some(Ok(value)) => match bearer_token(value) {
                    Ok(token) => verifier.verify(token).await,
                    Err(e) => Err(e),
                },
            };
            match principal {
                Ok(principal) => {
                    if let Some(certificate) = presented_certificate(&request)
                        && !certificate_binds(&certificate, &principal)
                    {
                        return Err(certificate_mismatch());
                    }
                    let span = tracing::Span::current();
                    span.record("subject", principal.subject());
                    if let Some(code) = principal.partner_code() {
                        span.record("partner", code.as_str());
                    }
                    request.extensions_mut().insert(principal);
                    Ok(request)
                }
                Err(error) => Err(unauthenticated(&error)),
            }
        })
    }
}

fn unauthenticated(error: &AuthError) -> Response<Body> {
    let mut status = if error.is_unavailable() {
        Status::unavailable("the identity provider cannot be reached; retry later")
    } else {
        Status::unauthenticated(error.description())
    };
    if let Ok(value) = error.www_authenticate().parse() {
        status.metadata_mut().insert("www-authenticate", value);
    }
    status.into_http()
}

/// The leaf certificate the caller presented over mutual TLS, if any.
fn presented_certificate(request: &Request<Body>) -> Option<Vec<u8>> {
    let info = request.extensions().get::<TlsConnectInfo<TcpConnectInfo>>()?;
    info.peer_certs()?.first().map(|der| der.as_ref().to_vec())
}

/// Over mutual TLS a partner's certificate is bound to its partner code: its subject common name,
/// or a URI name `urn:mla:partner:CODE`, must be the code of the token's partner. A token stolen from
/// one partner is then useless over another partner's connection. Staff tokens are not bound.
fn certificate_binds(der: &[u8], principal: &Principal) -> bool {
    let Some(code) = principal.partner_code() else { return true };
    let Ok((_, certificate)) = x509_parser::parse_x509_certificate(der) else { return false };
    let uri = format!("urn:mla:partner:{code}");
    let named_by_uri = certificate.subject_alternative_name().ok().flatten().is_some_and(|san| {
        san.value
            .general_names
            .iter()
            .any(|name| matches!(name, x509_parser::extensions::GeneralName::URI(value) if *value == uri))
    });
    named_by_uri
        || certificate
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .any(|cn| cn == code.as_str())
}

fn certificate_mismatch() -> Response<Body> {
    let mut status = Status::unauthenticated("the client certificate was not issued to this token's partner");
    if let Ok(value) = r#"Bearer error="invalid_token""#.parse() {
        status.metadata_mut().insert("www-authenticate", value);
    }
    status.into_http()
}

/// The layer that authenticates calls with `verifier`.
pub fn layer(verifier: Verifier) -> AsyncRequireAuthorizationLayer<Authenticate> {
    AsyncRequireAuthorizationLayer::new(Authenticate(verifier))
}

/// The principal the layer attached to a call.
pub fn principal<T>(request: &tonic::Request<T>) -> Result<Principal, Status> {
    request.extensions().get::<Principal>().cloned().ok_or_else(|| Status::unauthenticated("no valid token"))
}
