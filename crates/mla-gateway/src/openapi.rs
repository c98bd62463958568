//! The OpenAPI document: its frame (info, tags, security, the problem schema), and the error
//! answers added to every operation from one table, so that no route documents a different set.

use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{AdditionalProperties, Schema};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HttpMethod, Ref, RefOr, ResponseBuilder};

use crate::problem::{PROBLEM_JSON, Problem, Violation};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "mla-broker REST gateway",
        version = "1",
        description = "JSON over HTTP for NCIJC staff tools. Every route is translated to one call of the \
            mla.v1 gRPC API with the caller's bearer token; the broker behind it decides every rule. \
            Enums are their names without the proto prefix (`UNDER_REVIEW`), timestamps RFC 3339, \
            errors RFC 9457 problem+json with the broker's machine-readable `reason`.",
        license(name = "Apache-2.0"),
    ),
    tags(
        (name = "requests", description = "Mutual legal-assistance requests and their audit trail"),
        (name = "partners", description = "The partner registry"),
        (name = "documents", description = "Documents and evidence: streamed uploads and downloads, resumable uploads (tus 1.0.0), release behind the assurances"),
        (name = "statistics", description = "The register in figures and the human-rights report, for the NCIJC's reports"),
        (name = "events", description = "The live feed of audit events"),
        (name = "operations", description = "Probes and this document"),
    ),
    components(schemas(Problem, Violation)),
    security(("bearer" = [])),
)]
struct ApiDoc;

/// The frame that the routes are added to.
pub fn base() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let components = doc.components.get_or_insert_with(Default::default);
    components.schemas.extend(crate::constraints::all());
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some("A JWT from the identity provider; forwarded to the broker as it is."))
                .build(),
        ),
    );
    doc
}

/// The error answers, by HTTP status: the name of the shared response and when it happens.
const ERRORS: [(&str, &str, &str); 11] = [
    (
        "400",
        "BadRequest",
        "Invalid input (reason INVALID_FIELDS, with `violations`), or a lifecycle rule: an action the state does not allow (ILLEGAL_TRANSITION) or a failed guard (INCOMPLETE_REQUEST, CONSULTATION_REQUIRED, ...).",
    ),
    ("401", "Unauthorized", "No valid bearer token; `WWW-Authenticate` says why."),
    ("403", "Forbidden", "The caller's side or roles do not allow this."),
    ("404", "NotFound", "No such resource, or one the caller may not see."),
    (
        "409",
        "Conflict",
        "A code already in use (ALREADY_EXISTS), a concurrent change (ABORTED), or an upload's `Upload-Offset` that is not the session's (UPLOAD_OFFSET_MISMATCH; the answer's `Upload-Offset` holds the session's).",
    ),
    (
        "412",
        "PreconditionFailed",
        "`If-Match` does not match the current etag (ETAG_MISMATCH); nothing changed. `metadata.current_etag` holds the current one. On an upload: a `Tus-Resumable` version other than 1.0.0 (TUS_VERSION_UNSUPPORTED, with `Tus-Version`).",
    ),
    (
        "413",
        "PayloadTooLarge",
        "The body exceeds the gateway's limit (1 MiB), or a document (or an upload's `Upload-Length`) the broker's (DOCUMENT_TOO_LARGE).",
    ),
    (
        "415",
        "UnsupportedMediaType",
        "The body is not `application/json` (`application/offset+octet-stream` for an upload's content).",
    ),
    (
        "500",
        "InternalServerError",
        "An internal failure; `metadata.correlation_id` names it in the broker's log.",
    ),
    ("503", "ServiceUnavailable", "The broker or its database cannot be reached; retry later."),
    ("504", "GatewayTimeout", "The broker did not answer in time."),
];

/// Which error answers an operation can give.
fn errors_of(method: &HttpMethod, path: &str) -> Vec<&'static str> {
    if !path.starts_with("/v1/") || path == "/v1/openapi.json" || matches!(method, HttpMethod::Options) {
        return Vec::new();
    }
    let mut codes = vec!["400", "401", "403", "500", "503", "504"];
    if path.contains('{') {
        codes.push("404");
    }
    if matches!(method, HttpMethod::Post | HttpMethod::Patch) {
        codes.extend(["409", "413", "415"]);
    }
    if matches!(method, HttpMethod::Delete) && path.starts_with("/v1/uploads/") {
        // A session another call is appending to.
        codes.push("409");
    }
    if matches!(method, HttpMethod::Patch) || path.ends_with("/transitions") || path.contains("/uploads") {
        codes.push("412");
    }
    codes.sort_unstable();
    codes
}

/// Completes the document once every route is in: the shared error answers on every operation,
/// and the Swagger UI page (served by its own router, not a handler).
pub fn finish(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let components = doc.components.get_or_insert_with(Default::default);
    for (_, name, description) in ERRORS {
        let mut response = ResponseBuilder::new().description(description).content(
            PROBLEM_JSON,
            ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
        );
        if name == "Unauthorized" {
            response = response.header(
                "WWW-Authenticate",
                utoipa::openapi::HeaderBuilder::new()
                    .description(Some("`Bearer`, with the error when the token was refused (RFC 6750)"))
                    .build(),
            );
        }
        components.responses.insert(name.into(), RefOr::T(response.build()));
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, operation) in operations_mut(item) {
            for code in errors_of(&method, path) {
                let (_, name, _) = ERRORS.iter().find(|(c, _, _)| *c == code).expect("a listed code");
                operation
                    .responses
                    .responses
                    .entry(code.into())
                    .or_insert_with(|| RefOr::Ref(Ref::new(format!("#/components/responses/{name}"))));
            }
        }
    }
    // A partner body refuses members the resource does not have (`known_members`); utoipa marks that
    // only on a type that serde closes, and this one must let output-only members through, ignored.
    if let Some(RefOr::T(Schema::Object(partner))) = components.schemas.get_mut("NewPartner") {
        partner.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
    }
    let docs = utoipa::openapi::path::OperationBuilder::new()
        .tag("operations")
        .operation_id(Some("SwaggerUi"))
        .summary(Some("The Swagger UI for this document, served from the binary (no CDN)."))
        .security(utoipa::openapi::security::SecurityRequirement::default())
        .response(
            "303",
            ResponseBuilder::new()
                .description("A redirect to `/docs/`, the page itself (HTML).")
                .header("Location", utoipa::openapi::HeaderBuilder::new().build())
                .build(),
        )
        .build();
    doc.paths.paths.insert("/docs".into(), PathItem::new(HttpMethod::Get, docs));
    doc
}

/// The operations of a path, by method.
pub fn operations_mut(item: &mut PathItem) -> Vec<(HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, item.get.as_mut()),
        (HttpMethod::Put, item.put.as_mut()),
        (HttpMethod::Post, item.post.as_mut()),
        (HttpMethod::Delete, item.delete.as_mut()),
        (HttpMethod::Options, item.options.as_mut()),
        (HttpMethod::Head, item.head.as_mut()),
        (HttpMethod::Patch, item.patch.as_mut()),
        (HttpMethod::Trace, item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.map(|op| (method, op)))
    .collect()
}
