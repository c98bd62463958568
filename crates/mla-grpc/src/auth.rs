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
const OPEN_PREFIXES: [&str; 4] = [
    "/grpc.health.v1.Health/",
    // The broker's public keys, so that anyone can check a receipt or a package.
    "/mla.v1.DocumentService/ListSigningKeys",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// How callers prove who they are: a bearer token always and, where the deployment requires it,
/// a partner's client certificate as well.
#[derive(Debug, Clone)]
pub struct Authentication {
    verifier: Verifier,
    partner_certificates_required: bool,
}

impl Authentication {
    /// Callers authenticate with a bearer token verified by `verifier`.
    pub fn new(verifier: Verifier) -> Self {
        Self { verifier, partner_certificates_required: false }
    }

    /// Partner principals must also present a client certificate issued to their partner code (the
    /// deployment requires mutual TLS). The rule follows the principal, not the door: a partner token
    /// that arrives without a certificate, through the REST gateway for instance, is refused.
    pub fn requiring_partner_certificates(self, required: bool) -> Self {
        Self { partner_certificates_required: required, ..self }
    }
}

/// Verifies the bearer token of each call and attaches the principal to it.
#[derive(Debug, Clone)]
pub struct Authenticate(Authentication);

impl AsyncAuthorizeRequest<Body> for Authenticate {
    type RequestBody = Body;
    type ResponseBody = Body;
    type Future = BoxFuture<'static, Result<Request<Body>, Response<Body>>>;

    fn authorize(&mut self, mut request: Request<Body>) -> Self::Future {
        let Authentication { verifier, partner_certificates_required } = self.0.clone();
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
                    match presented_certificate(&request) {
                        Some(certificate) if !certificate_binds(&certificate, &principal) => {
                            return Err(certificate_refused(
                                "the client certificate was not issued to this token's partner",
                            ));
                        }
                        None if partner_certificates_required && principal.partner_code().is_some() => {
                            return Err(certificate_refused(
                                "a partner must call over mutual TLS with a client certificate issued to it",
                            ));
                        }
                        _ => {}
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

fn certificate_refused(why: &str) -> Response<Body> {
    let mut status = Status::unauthenticated(why);
    if let Ok(value) = r#"Bearer error="invalid_token""#.parse() {
        status.metadata_mut().insert("www-authenticate", value);
    }
    status.into_http()
}

/// The layer that authenticates calls.
pub fn layer(authentication: Authentication) -> AsyncRequireAuthorizationLayer<Authenticate> {
    AsyncRequireAuthorizationLayer::new(Authenticate(authentication))
}

/// The principal the layer attached to a call.
pub fn principal<T>(request: &tonic::Request<T>) -> Result<Principal, Status> {
    request.extensions().get::<Principal>().cloned().ok_or_else(|| Status::unauthenticated("no valid token"))
}
