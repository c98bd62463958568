//! The correspondence's use cases: post a message or an internal note (its event in the same store
//! write), read the thread as the caller's side may, and leave a read receipt for the other side's
//! messages.

use mla_domain::correspondence::{self, Message, MessageId, NewMessage};
use mla_domain::document::reader_side;
use mla_domain::{Principal, RequestId};

use crate::{App, AppResult, Page, decode_token, encode_token, next_token, page_limit};

/// How many messages a read receipt reads at a time while it gathers the unread ones.
const READ_PAGE: u32 = 500;

impl App {
    /// Posts a message on a request the principal may see. A retry with the same idempotency key
    /// returns the first message and posts nothing more.
    pub async fn post_message(
        &self,
        principal: &Principal,
        request_id: RequestId,
        message: NewMessage,
        idempotency_key: Option<&str>,
    ) -> AppResult<Message> {
        let payload = (request_id, &message);
        let (idempotency, replay) =
            self.idempotency(principal, idempotency_key, "PostMessage", &payload).await?;
        if let Some(posted) = replay {
            return Ok(posted);
        }
        let mut attachments = Vec::with_capacity(message.attachment_ids.len());
        for id in message.attachment_ids.iter().take(correspondence::MAX_ATTACHMENTS) {
            attachments.push(self.store.get_document(*id).await?);
        }
        let id = MessageId::from_uuid(uuid::Uuid::now_v7());
        let (message, attachments, idempotency) = (&message, &attachments, idempotency.as_ref());
        self.beside(principal, request_id, "", move |request| {
            Box::pin(async move {
                let (posted, event) =
                    correspondence::post(&request, id, message.clone(), attachments, principal, self.now())?;
                Ok(self.store.save_message(&request, posted, event, idempotency).await)
            })
        })
        .await
    }

    /// The messages of a request that the principal's side may read, oldest first.
    pub async fn list_messages(
        &self,
        principal: &Principal,
        request_id: RequestId,
        page_size: i32,
        page_token: &str,
    ) -> AppResult<Page<Message>> {
        let limit = page_limit(page_size)?;
        let request = self.load_visible(principal, request_id).await?;
        let side = reader_side(&request, principal)?;
        let after = decode_token(page_token, "m")?
            .map(|t| MessageId::parse(&t))
            .transpose()
            .map_err(crate::bad_token)?;
        let mut messages = self.store.list_messages(request_id, side, after, limit + 1).await?;
        let next = next_token(&mut messages, limit as usize, |m| encode_token("m", &m.id.to_string()));
        Ok(Page { items: messages, next_page_token: next })
    }

    /// Marks the other side's messages as read up to `up_to` (inclusive), and answers how many were
    /// read now for the first time. Reading nothing new records nothing.
    pub async fn mark_messages_read(
        &self,
        principal: &Principal,
        request_id: RequestId,
        up_to: MessageId,
    ) -> AppResult<usize> {
        let up_to = self.store.get_message(up_to).await?;
        let up_to = &up_to;
        self.beside(principal, request_id, "", move |request| {
            Box::pin(async move {
                let (side, up_to) = correspondence::check_read_up_to(&request, up_to.as_ref(), principal)?;
                let mut unread = Vec::new();
                let mut after = None;
                loop {
                    let page = self.store.list_messages(request_id, side, after, READ_PAGE).await?;
                    let Some(last) = page.last() else { break };
                    after = Some(last.id);
                    let past_up_to = last.id > up_to.id;
                    unread.extend(page.into_iter().filter(|m| m.read_time.is_none()));
                    if past_up_to {
                        break;
                    }
                }
                let decided = correspondence::mark_read(&request, up_to, &unread, principal, self.now())?;
                let Some((ids, event)) = decided else { return Ok(Ok(0)) };
                let count = ids.len();
                Ok(self.store.save_read_receipt(&request, ids, event).await.map(|()| count))
            })
        })
        .await
    }
}
