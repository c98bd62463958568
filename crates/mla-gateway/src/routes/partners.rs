//! `/v1/partners`: the partner registry, one PartnerService call per route.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use mla_proto::v1 as pb;

use super::{Gateway, Params, created, json_object, known_members, query, segment, typed, with_etag};
use crate::constraints::{IdempotencyKey, IfMatch, PartnerCode};
use crate::dto::{NewPartner, PARTNER_MEMBERS, Partner, PartnerList, PartnerPatch, PartnerQuery};
use crate::problem::ApiError;
use crate::upstream::Caller;

/// Registers a partner (admin). A code already in use is 409 ALREADY_EXISTS.
#[utoipa::path(
    post,
    path = "/v1/partners",
    tag = "partners",
    operation_id = "CreatePartner",
    request_body = NewPartner,
    params(
        ("Idempotency-Key" = Option<IdempotencyKey>, Header, nullable = false, description = "A key unique per intended creation."),
    ),
    responses(
        (status = 201, description = "The partner, registered.", body = Partner,
            headers(
                ("Location" = String, description = "`/v1/partners/{code}`"),
                ("ETag" = String, description = "The entry's etag, quoted"),
            )),
    ),
)]
pub async fn create_partner(
    State(gateway): State<Gateway>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let members = json_object(&caller, &body)?;
    known_members(&caller, &members, PARTNER_MEMBERS)?;
    let fields: NewPartner = typed(&caller, members)?;
    let message =
        pb::CreatePartnerRequest { partner: Some(fields.into_wire()), request_id: caller.idempotency_key()? };
    let partner = gateway
        .partners()
        .create_partner(caller.call(message))
        .await
        .map_err(|s| caller.fail(s))?
        .into_inner();
    let location = format!("/v1/partners/{}", segment(&partner.code));
    let etag = partner.etag.clone();
    Ok(created(&location, &etag, Partner::from(partner)))
}

/// Returns one partner.
#[utoipa::path(
    get,
    path = "/v1/partners/{code}",
    tag = "partners",
    operation_id = "GetPartner",
    params(("code" = PartnerCode, Path, description = "The partner's code, such as `FR-MOJ`")),
    responses(
        (status = 200, description = "The partner.", body = Partner,
            headers(("ETag" = String, description = "The entry's etag, quoted"))),
    ),
)]
pub async fn get_partner(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let message = pb::GetPartnerRequest { code };
    let partner =
        gateway.partners().get_partner(caller.call(message)).await.map_err(|s| caller.fail(s))?.into_inner();
    let etag = partner.etag.clone();
    Ok(with_etag(StatusCode::OK, &etag, Partner::from(partner)))
}

/// Lists partners by code.
#[utoipa::path(
    get,
    path = "/v1/partners",
    tag = "partners",
    operation_id = "ListPartners",
    params(PartnerQuery),
    responses((status = 200, description = "One page of partners.", body = PartnerList)),
)]
pub async fn list_partners(
    State(gateway): State<Gateway>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q: PartnerQuery = query(&caller, raw.as_deref())?;
    let mut params = Params(Vec::new());
    let message = pb::ListPartnersRequest {
        page_size: params.int("page_size", &q.page_size),
        page_token: q.page_token.clone().unwrap_or_default(),
        include_inactive: params.boolean("include_inactive", &q.include_inactive),
    };
    let message = params.finish(&caller, message)?;
    let page = gateway
        .partners()
        .list_partners(caller.call(message))
        .await
        .map_err(|s| caller.fail(s))?
        .into_inner();
    let list = PartnerList {
        partners: page.partners.into_iter().map(Partner::from).collect(),
        next_page_token: page.next_page_token,
    };
    Ok(axum::Json(list).into_response())
}

/// Changes fields of a partner (admin); the members present are changed. `code` cannot change.
#[utoipa::path(
    patch,
    path = "/v1/partners/{code}",
    tag = "partners",
    operation_id = "UpdatePartner",
    request_body = PartnerPatch,
    params(
        ("code" = PartnerCode, Path, description = "The partner's code"),
        ("If-Match" = Option<IfMatch>, Header, nullable = false, description = "The ETag last seen, quoted, or `*`; a stale one answers 412 and changes nothing."),
        ("Idempotency-Key" = Option<IdempotencyKey>, Header, nullable = false, description = "A key unique per intended change."),
    ),
    responses(
        (status = 200, description = "The partner, changed.", body = Partner,
            headers(("ETag" = String, description = "The new etag, quoted"))),
    ),
)]
pub async fn update_partner(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let members = json_object(&caller, &body)?;
    let paths: Vec<String> = members.keys().cloned().collect();
    let fields: PartnerPatch = typed(&caller, members)?;
    let message = pb::UpdatePartnerRequest {
        partner: Some(fields.into_wire(code)),
        update_mask: Some(prost_types::FieldMask { paths }),
        etag: caller.if_match()?,
        request_id: caller.idempotency_key()?,
    };
    let partner = gateway
        .partners()
        .update_partner(caller.call(message))
        .await
        .map_err(|s| caller.fail(s))?
        .into_inner();
    let etag = partner.etag.clone();
    Ok(with_etag(StatusCode::OK, &etag, Partner::from(partner)))
}
