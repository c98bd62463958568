//! RequestService: each RPC parses its message, calls the application once, and maps the answer.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use mla_app::{App, RequestFilter, UpdateInput};
use mla_domain::LongText;
use mla_domain::correspondence::MessageId;
use mla_domain::limits::MAX_QUERY_CHARS;
use mla_proto::v1 as pb;
use pb::request_service_server::RequestService;
use tonic::{Request, Response, Status};

use crate::auth::principal;
use crate::convert::*;
use crate::error::status_of;
use crate::limits::{Holding, Limits};

#[derive(Debug, Clone)]
pub struct Requests {
    pub app: App,
    /// Counts the WatchEvents streams each caller holds open.
    pub limits: Limits,
}

/// An empty idempotency key means "none".
pub(crate) fn key(request_id: &str) -> Option<&str> {
    Some(request_id).filter(|k| !k.is_empty())
}

#[tonic::async_trait]
impl RequestService for Requests {
    async fn create_request(
        &self,
        call: Request<pb::CreateRequestRequest>,
    ) -> Result<Response<pb::Request>, Status> {
        let principal = principal(&call)?;
        let message = call.into_inner();
        let mut fields = Fields::default();
        let input = request_in(&mut fields, &message.request.clone().unwrap_or_default());
        let record = paper_record_in(
            &mut fields,
            &message.on_behalf_of_partner,
            message.received_via,
            message.effective_time.as_ref(),
            &message.letter_reference,
            "",
        );
        let (input, record) = fields.finish((input, record))?;
        let view = self
            .app
            .create_request(&principal, input.partner_code, input.content, record, key(&message.request_id))
            .await
            .map_err(status_of)?;
        Ok(Response::new(request_out(view)))
    }

    async fn get_request(
        &self,
        call: Request<pb::GetRequestRequest>,
    ) -> Result<Response<pb::Request>, Status> {
        let principal = principal(&call)?;
        let mut fields = Fields::default();
        let id = request_id_in(&mut fields, "id", &call.get_ref().id);
        let id = fields.finish(id)?;
        let view = self.app.get_request(&principal, id).await.map_err(status_of)?;
        Ok(Response::new(request_out(view)))
    }

    async fn list_requests(
        &self,
        call: Request<pb::ListRequestsRequest>,
    ) -> Result<Response<pb::ListRequestsResponse>, Status> {
        let principal = principal(&call)?;
        let m = call.into_inner();
        let mut fields = Fields::default();
        let filter = RequestFilter {
            state: fields.take("state", state_in(m.state)),
            direction: fields.take("direction", direction_in(m.direction)),
            partner_code: fields.take("partner_code", partner_code_in(&m.partner_code)),
            request_type: fields.take("request_type", request_type_in(m.request_type)),
            overdue: m.overdue,
            assignee: Some(m.assignee).filter(|a| !a.is_empty()),
            query: Some(m.query).filter(|q| !q.is_empty()),
            awaiting_role: fields.take("awaiting_role", awaiting_role_in(&m.awaiting_role)),
            received_from: m
                .received_after
                .and_then(|t| fields.take("received_after", timestamp_in(&t).map(Some))),
            received_until: m
                .received_before
                .and_then(|t| fields.take("received_before", timestamp_in(&t).map(Some))),
            closed_from: m.closed_after.and_then(|t| fields.take("closed_after", timestamp_in(&t).map(Some))),
            closed_until: m
                .closed_before
                .and_then(|t| fields.take("closed_before", timestamp_in(&t).map(Some))),
            due_first: fields.take("order_by", due_first_in(&m.order_by)),
        };
        if filter.query.as_ref().is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS) {
            fields.refuse("query", format!("at most {MAX_QUERY_CHARS} characters"));
        }
        let filter = fields.finish(filter)?;
        let page = self
            .app
            .list_requests(&principal, filter, m.page_size, &m.page_token)
            .await
            .map_err(status_of)?;
        Ok(Response::new(pb::ListRequestsResponse {
            requests: page.items.into_iter().map(request_out).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn update_request(
        &self,
        call: Request<pb::UpdateRequestRequest>,
    ) -> Result<Response<pb::Request>, Status> {
        let principal = principal(&call)?;
        let m = call.into_inner();
        let incoming = m.request.unwrap_or_default();
        let mut fields = Fields::default();
        let id = request_id_in(&mut fields, "request.id", &incoming.id);
        let input = request_in(&mut fields, &incoming);
        let reason = fields.take("reason", LongText::parse(m.reason.clone()));
        let update = UpdateInput {
            content: input.content,
            assignee: input.assignee,
            due_time: input.due_time,
            paths: m.update_mask.map(|mask| mask.paths).unwrap_or_default(),
            reason,
        };
        let update = fields.finish(update)?;
        let view = self
            .app
            .update_request(&principal, id, update, &m.etag, key(&m.request_id))
            .await
            .map_err(status_of)?;
        Ok(Response::new(request_out(view)))
    }

    async fn transition_request(
        &self,
        call: Request<pb::TransitionRequestRequest>,
    ) -> Result<Response<pb::Request>, Status> {
        let principal = principal(&call)?;
        let m = call.into_inner();
        let mut fields = Fields::default();
        let id = request_id_in(&mut fields, "id", &m.id);
        let command = command_in(&mut fields, &m);
        let record = paper_record_in(
            &mut fields,
            &m.on_behalf_of_partner,
            m.received_via,
            m.effective_time.as_ref(),
            &m.letter_reference,
            &m.letter_document_id,
        );
        let (command, record) = fields.finish((command, record))?;
        let command = command.ok_or_else(|| Status::invalid_argument("an action is required"))?;
        let view = self
            .app
            .transition_request(&principal, id, command, record, &m.etag, key(&m.request_id))
            .await
            .map_err(status_of)?;
        Ok(Response::new(request_out(view)))
    }

    async fn list_request_events(
        &self,
        call: Request<pb::ListRequestEventsRequest>,
    ) -> Result<Response<pb::ListRequestEventsResponse>, Status> {
        let principal = principal(&call)?;
        let m = call.into_inner();
        let mut fields = Fields::default();
        let id = request_id_in(&mut fields, "id", &m.id);
        let id = fields.finish(id)?;
        let page = self
            .app
            .list_request_events(&principal, id, m.page_size, &m.page_token)
            .await
            .map_err(status_of)?;
        Ok(Response::new(pb::ListRequestEventsResponse {
            events: page
                .items
                .into_iter()
                .map(|(event, view)| pb::Event {
                    view_seq: view.seq,
                    view_prev_hash: view.prev_hash,
                    view_hash: view.hash,
                    ..event_out(event)
                })
                .collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn post_message(
        &self,
        call: Request<pb::PostMessageRequest>,
    ) -> Result<Response<pb::Message>, Status> {
        let principal = principal(&call)?;
        let m = call.into_inner();
        let mut fields = Fields::default();
        let request_id = request_id_in(&mut fields, "request_id", &m.request_id);
        let message = new_message_in(&mut fields, &m.message.unwrap_or_default());
        let message = fields.finish(message)?;
        let posted = self
            .app
            .post_message(&principal, request_id, message, key(&m.request_id_key))
            .await
            .map_err(|e| status_of(e.keyed_by("request_id_key")))?;
        Ok(Response::new(message_out(posted)))
    }

    async fn list_messages(
        &self,
        call: Request<pb::ListMessagesRequest>,
    ) -> Result<Response<pb::ListMessagesResponse>, Status> {
        let principal = principal(&call)?;
        let m = call.into_inner();
        let mut fields = Fields::default();
        let request_id = request_id_in(&mut fields, "request_id", &m.request_id);
        let request_id = fields.finish(request_id)?;
        let page = self
            .app
            .list_messages(&principal, request_id, m.page_size, &m.page_token)
            .await
            .map_err(status_of)?;
        Ok(Response::new(pb::ListMessagesResponse {
            messages: page.items.into_iter().map(message_out).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn mark_messages_read(
        &self,
        call: Request<pb::MarkMessagesReadRequest>,
    ) -> Result<Response<pb::MarkMessagesReadResponse>, Status> {
        let principal = principal(&call)?;
        let m = call.into_inner();
        let mut fields = Fields::default();
        let request_id = request_id_in(&mut fields, "request_id", &m.request_id);
        let up_to = fields.take("up_to_message_id", MessageId::parse(&m.up_to_message_id).map(Some));
        let (request_id, up_to) = fields.finish((request_id, up_to))?;
        let up_to = up_to.ok_or_else(|| Status::invalid_argument("up_to_message_id is required"))?;
        let read = self.app.mark_messages_read(&principal, request_id, up_to).await.map_err(status_of)?;
        Ok(Response::new(pb::MarkMessagesReadResponse {
            read_count: i32::try_from(read).unwrap_or(i32::MAX),
        }))
    }

    async fn print_letter(
        &self,
        call: Request<pb::PrintLetterRequest>,
    ) -> Result<Response<pb::PrintedLetter>, Status> {
        let principal = principal(&call)?;
        let mut fields = Fields::default();
        let id = request_id_in(&mut fields, "id", &call.get_ref().id);
        let id = fields.finish(id)?;
        let letter =
            self.app.print_letter(&principal, id, &call.get_ref().language).await.map_err(status_of)?;
        Ok(Response::new(pb::PrintedLetter {
            media_type: letter.media_type.to_owned(),
            file_name: letter.file_name,
            content: letter.html.into_bytes(),
        }))
    }

    async fn erase_personal_data(
        &self,
        call: Request<pb::ErasePersonalDataRequest>,
    ) -> Result<Response<pb::ErasePersonalDataResponse>, Status> {
        let principal = principal(&call)?;
        let m = call.into_inner();
        let mut fields = Fields::default();
        let id = request_id_in(&mut fields, "id", &m.id);
        let person = usize::try_from(m.person).unwrap_or_else(|_| {
            fields.refuse("person", "a place in the request's persons, from 0");
            0
        });
        let legal_reference = fields.take("legal_reference", LongText::parse(m.legal_reference));
        let (id, legal_reference) = fields.finish((id, legal_reference))?;
        let etag = self
            .app
            .erase_personal_data(&principal, id, person, legal_reference, &m.etag, key(&m.request_id))
            .await
            .map_err(status_of)?;
        Ok(Response::new(pb::ErasePersonalDataResponse { etag }))
    }

    type WatchEventsStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send + 'static>>;

    async fn watch_events(
        &self,
        call: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let principal = principal(&call)?;
        let raw = &call.get_ref().after_cursor;
        let after = if raw.is_empty() { Ok(0) } else { raw.parse::<i64>() };
        let after = match after {
            Ok(cursor) if cursor >= 0 => cursor,
            _ => {
                let mut fields = Fields::default();
                fields.refuse("after_cursor", "a cursor is a non-negative decimal number from an event");
                return Err(fields.finish(()).unwrap_err());
            }
        };
        let place = self.limits.open_stream(&principal)?;
        let events = self.app.watch_events(&principal, after).map(|e| e.map(event_out).map_err(status_of));
        // The place is given back when the stream is dropped: at its end, or when the follower goes.
        Ok(Response::new(Box::pin(Holding::new(Box::pin(events), place))))
    }
}
