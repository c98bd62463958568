//! `/v1/requests`: each route is one RequestService call, translated both ways.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{StatusCode, header};
use mla_proto::v1 as pb;

use super::export::{self, wants_csv};
use super::{Gateway, Params, created, json_object, known_members, page, query, segment, typed, with_etag};
use crate::constraints::{Id, IdempotencyKey, IfMatch};
use crate::dto::{
    Erased, Erasure, EventList, LetterQuery, MarkRead, Message, MessageList, NewMessage, NewRequest,
    NewRequestBody, ON_BEHALF_MEMBERS, OnBehalf, PageQuery, REQUEST_MEMBERS, ReadCount, Request,
    RequestFilter, RequestList, RequestPatch, Transition,
};
use crate::problem::ApiError;
use crate::upstream::Caller;

/// Creates a request in state DRAFT.
///
/// The caller's side is the requesting side: NCIJC staff create OUTGOING requests (and must give
/// `partner_code`), a partner creates INCOMING ones. A registrar or legal officer registers a request
/// that a PAPER partner sent with `on_behalf_of_partner`, `received_via` and `effective_time` (when
/// it arrived): it is INCOMING and SUBMITTED at once. The same `Idempotency-Key` from the same caller
/// returns the first request again instead of creating another.
#[utoipa::path(
    post,
    path = "/v1/requests",
    tag = "requests",
    operation_id = "CreateRequest",
    request_body = NewRequestBody,
    params(
        ("Idempotency-Key" = Option<IdempotencyKey>, Header, nullable = false, description = "A key unique per intended creation (a UUID); a retry with the same key returns the first outcome."),
    ),
    responses(
        (status = 201, description = "The request, created.", body = Request,
            headers(
                ("Location" = String, description = "`/v1/requests/{id}`"),
                ("ETag" = String, description = "The request's etag, quoted"),
            )),
    ),
)]
pub async fn create_request(
    State(gateway): State<Gateway>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut members = json_object(&caller, &body)?;
    let on_behalf = ON_BEHALF_MEMBERS.iter().filter_map(|m| members.remove_entry(*m)).collect();
    let on_behalf: OnBehalf = typed(&caller, on_behalf)?;
    known_members(&caller, &members, REQUEST_MEMBERS)?;
    let fields: NewRequest = typed(&caller, members)?;
    let message = on_behalf.into_wire(fields.into_wire(String::new()), caller.idempotency_key()?);
    let request = gateway
        .requests()
        .create_request(caller.call(message))
        .await
        .map_err(|s| caller.fail(s))?
        .into_inner();
    let location = format!("/v1/requests/{}", segment(&request.id));
    let etag = request.etag.clone();
    Ok(created(&location, &etag, Request::from(request)))
}

/// Returns one request.
#[utoipa::path(
    get,
    path = "/v1/requests/{id}",
    tag = "requests",
    operation_id = "GetRequest",
    params(("id" = Id, Path, description = "The request's id")),
    responses(
        (status = 200, description = "The request.", body = Request,
            headers(("ETag" = String, description = "The request's etag, quoted; send it back in If-Match"))),
    ),
)]
pub async fn get_request(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let message = pb::GetRequestRequest { id };
    let request =
        gateway.requests().get_request(caller.call(message)).await.map_err(|s| caller.fail(s))?.into_inner();
    let etag = request.etag.clone();
    Ok(with_etag(StatusCode::OK, &etag, Request::from(request)))
}

/// The ListRequests message for the filters of a query string.
pub fn list_message(caller: &Caller, filter: &RequestFilter) -> Result<pb::ListRequestsRequest, ApiError> {
    let mut params = Params(Vec::new());
    let message = pb::ListRequestsRequest {
        page_size: params.int("page_size", &filter.page_size),
        page_token: filter.page_token.clone().unwrap_or_default(),
        state: params.enumeration::<crate::dto::State>("state", &filter.state).map_or(0, |s| s.to_wire()),
        direction: params
            .enumeration::<crate::dto::Direction>("direction", &filter.direction)
            .map_or(0, |d| d.to_wire()),
        partner_code: filter.partner_code.clone().unwrap_or_default(),
        request_type: params
            .enumeration::<crate::dto::RequestType>("request_type", &filter.request_type)
            .map_or(0, |t| t.to_wire()),
        overdue: params.boolean("overdue", &filter.overdue),
        assignee: filter.assignee.clone().unwrap_or_default(),
        query: filter.query.clone().unwrap_or_default(),
        awaiting_role: filter.awaiting_role.clone().unwrap_or_default(),
        received_after: params.time("received_after", &filter.received_after),
        received_before: params.time("received_before", &filter.received_before),
        closed_after: params.time("closed_after", &filter.closed_after),
        closed_before: params.time("closed_before", &filter.closed_before),
        order_by: filter.order_by.clone().unwrap_or_default(),
    };
    params.finish(caller, message)
}

/// Lists the requests the caller may see, newest first, filtered and paginated.
///
/// With `Accept: text/csv` (preferred over JSON), answers the CSV export of `/v1/requests.csv`
/// instead.
#[utoipa::path(
    get,
    path = "/v1/requests",
    tag = "requests",
    operation_id = "ListRequests",
    params(RequestFilter),
    responses(
        (status = 200, description = "One page of requests; or, with `Accept: text/csv`, every matching request as CSV.",
            content(
                (RequestList = "application/json"),
                (String = "text/csv"),
            )),
    ),
)]
pub async fn list_requests(
    State(gateway): State<Gateway>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let filter: RequestFilter = query(&caller, raw.as_deref())?;
    if wants_csv(caller.header(header::ACCEPT)) {
        return export::export(gateway, caller, filter).await;
    }
    let message = list_message(&caller, &filter)?;
    let page = gateway
        .requests()
        .list_requests(caller.call(message))
        .await
        .map_err(|s| caller.fail(s))?
        .into_inner();
    let list = RequestList {
        requests: page.requests.into_iter().map(Request::from).collect(),
        next_page_token: page.next_page_token,
    };
    Ok(axum::Json(list).into_response())
}

/// Changes fields of a request.
///
/// The body holds the members to change; the update mask sent to the broker is the set of members
/// present (`null` clears a member). Content changes only while DRAFT; `assignee` and `due_time` at
/// any active state by the roles allowed (`due_time` needs a supervisor and a `reason`).
#[utoipa::path(
    patch,
    path = "/v1/requests/{id}",
    tag = "requests",
    operation_id = "UpdateRequest",
    request_body = RequestPatch,
    params(
        ("id" = Id, Path, description = "The request's id"),
        ("If-Match" = Option<IfMatch>, Header, nullable = false, description = "The ETag last seen, quoted (`\"7\"`), or `*`; a stale one answers 412 and changes nothing."),
        ("Idempotency-Key" = Option<IdempotencyKey>, Header, nullable = false, description = "A key unique per intended change."),
    ),
    responses(
        (status = 200, description = "The request, changed.", body = Request,
            headers(("ETag" = String, description = "The new etag, quoted"))),
    ),
)]
pub async fn update_request(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut members = json_object(&caller, &body)?;
    let reason = match members.remove("reason") {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(reason)) => reason,
        Some(_) => return Err(caller.invalid("reason", "a string")),
    };
    // Every member present is a path of the mask, known or not: the broker says which paths exist
    // and which the caller may change.
    let paths: Vec<String> = members.keys().cloned().collect();
    let fields: NewRequest = typed(&caller, members)?;
    let message = pb::UpdateRequestRequest {
        request: Some(fields.into_wire(id)),
        update_mask: Some(prost_types::FieldMask { paths }),
        etag: caller.if_match()?,
        request_id: caller.idempotency_key()?,
        reason,
    };
    let request = gateway
        .requests()
        .update_request(caller.call(message))
        .await
        .map_err(|s| caller.fail(s))?
        .into_inner();
    let etag = request.etag.clone();
    Ok(with_etag(StatusCode::OK, &etag, Request::from(request)))
}

/// Takes a lifecycle action on a request and returns it in its new state.
///
/// An action the state does not allow is 400 with reason ILLEGAL_TRANSITION; a guard that fails is
/// 400 with its own reason (INCOMPLETE_REQUEST, CONSULTATION_REQUIRED, ...); an action the caller's
/// side or roles do not allow is 403.
#[utoipa::path(
    post,
    path = "/v1/requests/{id}/transitions",
    tag = "requests",
    operation_id = "TransitionRequest",
    request_body = Transition,
    params(
        ("id" = Id, Path, description = "The request's id"),
        ("If-Match" = Option<IfMatch>, Header, nullable = false, description = "The ETag last seen, quoted, or `*`; a stale one answers 412 and changes nothing."),
        ("Idempotency-Key" = Option<IdempotencyKey>, Header, nullable = false, description = "A key unique per intended action; a retry with the same key returns the first outcome."),
    ),
    responses(
        (status = 200, description = "The request in its new state.", body = Request,
            headers(("ETag" = String, description = "The new etag, quoted"))),
    ),
)]
pub async fn transition_request(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let members = json_object(&caller, &body)?;
    let transition: Transition = typed(&caller, members)?;
    let message = transition.into_wire(id, caller.if_match()?, caller.idempotency_key()?);
    let request = gateway
        .requests()
        .transition_request(caller.call(message))
        .await
        .map_err(|s| caller.fail(s))?
        .into_inner();
    let etag = request.etag.clone();
    Ok(with_etag(StatusCode::OK, &etag, Request::from(request)))
}

/// Erases a person's identity from a request under a deletion order.
///
/// The name becomes `[erased]`, the nationality empty, and the salt of the commitment that the audit
/// trail holds instead of the identity is destroyed: every chain stays verifiable. Administrators
/// only; the answer shows nothing of the request but its new etag.
#[utoipa::path(
    post,
    path = "/v1/requests/{id}/erasures",
    tag = "requests",
    operation_id = "ErasePersonalData",
    request_body = Erasure,
    params(
        ("id" = Id, Path, description = "The request's id"),
        ("If-Match" = Option<IfMatch>, Header, nullable = false, description = "The ETag last seen, quoted, or `*`; a stale one answers 412 and erases nothing."),
        ("Idempotency-Key" = Option<IdempotencyKey>, Header, nullable = false, description = "A key unique per intended erasure; a retry with the same key returns the first outcome."),
    ),
    responses(
        (status = 200, description = "The request's new etag.", body = Erased,
            headers(("ETag" = String, description = "The new etag, quoted"))),
    ),
)]
pub async fn erase_personal_data(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let members = json_object(&caller, &body)?;
    let erasure: Erasure = typed(&caller, members)?;
    let message = pb::ErasePersonalDataRequest {
        id,
        person: erasure.person,
        legal_reference: erasure.legal_reference,
        etag: caller.if_match()?,
        request_id: caller.idempotency_key()?,
    };
    let answer = gateway
        .requests()
        .erase_personal_data(caller.call(message))
        .await
        .map_err(|s| caller.fail(s))?
        .into_inner();
    let etag = answer.etag.clone();
    Ok(with_etag(StatusCode::OK, &etag, Erased { etag: answer.etag }))
}

/// Lists a request's audit events, oldest first.
#[utoipa::path(
    get,
    path = "/v1/requests/{id}/events",
    tag = "requests",
    operation_id = "ListRequestEvents",
    params(("id" = Id, Path, description = "The request's id"), PageQuery),
    responses((status = 200, description = "One page of the request's audit trail.", body = EventList)),
)]
pub async fn list_request_events(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (page_size, page_token) = page(&caller, raw.as_deref())?;
    let message = pb::ListRequestEventsRequest { id, page_size, page_token };
    let page = gateway
        .requests()
        .list_request_events(caller.call(message))
        .await
        .map_err(|s| caller.fail(s))?
        .into_inner();
    let list = EventList {
        events: page.events.into_iter().map(Into::into).collect(),
        next_page_token: page.next_page_token,
    };
    Ok(axum::Json(list).into_response())
}

/// Posts a message on a request: SHARED with the other side, or an INTERNAL case note of the NCIJC.
///
/// Posting is an event of the request's trail (`MESSAGE_POSTED`, with the message's audience: a
/// partner never sees an internal note, not even as an event); the request and its ETag do not
/// change. The same `Idempotency-Key` returns the first message again.
#[utoipa::path(
    post,
    path = "/v1/requests/{id}/messages",
    tag = "requests",
    operation_id = "PostMessage",
    request_body = NewMessage,
    params(
        ("id" = Id, Path, description = "The request's id"),
        ("Idempotency-Key" = Option<IdempotencyKey>, Header, nullable = false, description = "A key unique per intended message; a retry with the same key returns the first message."),
    ),
    responses((status = 201, description = "The message, posted.", body = Message)),
)]
pub async fn post_message(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(request_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let members = json_object(&caller, &body)?;
    let message: NewMessage = typed(&caller, members)?;
    let message = pb::PostMessageRequest {
        request_id,
        message: Some(message.into_wire()),
        request_id_key: caller.idempotency_key()?,
    };
    let posted =
        gateway.requests().post_message(caller.call(message)).await.map_err(|s| caller.fail(s))?.into_inner();
    Ok((StatusCode::CREATED, axum::Json(Message::from(posted))).into_response())
}

/// Lists the messages of a request that the caller's side may read, oldest first.
#[utoipa::path(
    get,
    path = "/v1/requests/{id}/messages",
    tag = "requests",
    operation_id = "ListMessages",
    params(("id" = Id, Path, description = "The request's id"), PageQuery),
    responses((status = 200, description = "One page of the thread.", body = MessageList)),
)]
pub async fn list_messages(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(request_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (page_size, page_token) = page(&caller, raw.as_deref())?;
    let message = pb::ListMessagesRequest { request_id, page_size, page_token };
    let page = gateway
        .requests()
        .list_messages(caller.call(message))
        .await
        .map_err(|s| caller.fail(s))?
        .into_inner();
    let list = MessageList {
        messages: page.messages.into_iter().map(Message::from).collect(),
        next_page_token: page.next_page_token,
    };
    Ok(axum::Json(list).into_response())
}

/// Marks the other side's messages as read, up to and including one (a read receipt).
///
/// Every unread message of the other side up to it gets its `read_time`, and one `MESSAGES_READ`
/// event records them; reading nothing new records nothing.
#[utoipa::path(
    post,
    path = "/v1/requests/{id}/messages:read",
    tag = "requests",
    operation_id = "MarkMessagesRead",
    request_body = MarkRead,
    params(("id" = Id, Path, description = "The request's id")),
    responses((status = 200, description = "How many messages were read now for the first time.", body = ReadCount)),
)]
pub async fn mark_messages_read(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(request_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let members = json_object(&caller, &body)?;
    let read: MarkRead = typed(&caller, members)?;
    let message = pb::MarkMessagesReadRequest { request_id, up_to_message_id: read.up_to_message_id };
    let answer = gateway
        .requests()
        .mark_messages_read(caller.call(message))
        .await
        .map_err(|s| caller.fail(s))?
        .into_inner();
    Ok(axum::Json(ReadCount { read_count: answer.read_count }).into_response())
}

/// Prints an OUTGOING request as a letter of request, for a partner that works on paper.
///
/// Print-ready HTML with the request's reference, content and conditions; `language=ar` lays it out
/// right to left. NCIJC staff only.
#[utoipa::path(
    get,
    path = "/v1/requests/{id}/letter",
    tag = "requests",
    operation_id = "PrintLetter",
    params(("id" = Id, Path, description = "The request's id"), LetterQuery),
    responses((status = 200, description = "The letter, to print or save.", content_type = "text/html", body = String,
        headers(("Content-Disposition" = String, description = "`inline` with a file name such as `OUT-2026-000042.html`")))),
)]
pub async fn print_letter(
    State(gateway): State<Gateway>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let letter: LetterQuery = query(&caller, raw.as_deref())?;
    let message = pb::PrintLetterRequest { id, language: letter.language.unwrap_or_default() };
    let letter =
        gateway.requests().print_letter(caller.call(message)).await.map_err(|s| caller.fail(s))?.into_inner();
    let disposition = format!("inline; filename=\"{}\"", letter.file_name.replace(['"', '\\'], "_"));
    let mut response = letter.content.into_response();
    for (name, value) in
        [(header::CONTENT_TYPE, letter.media_type), (header::CONTENT_DISPOSITION, disposition)]
    {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    Ok(response)
}
