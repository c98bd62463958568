//! The `messages` table: a message or a read receipt, each written beside the request's chain (see
//! [`SqlStore::begin_beside`]), and the readers, the list filtered in the query by the reader's side.

use mla_domain::audit::EventDraft;
use mla_domain::correspondence::{Message, MessageId};
use mla_domain::document::{Audience, DocumentId};
use mla_domain::lifecycle::Side;
use mla_domain::{LongText, Request, RequestId};
use mla_store::{Idempotency, StoreResult};
use sqlx::QueryBuilder;

use crate::SqlStore;
use crate::dialect::{DbRow, Dialect, Driver, Value};
use crate::errors::{corrupt, db_error};
use crate::rows::{Fields, json, push_insert, truncated};
use crate::write::Begun;

pub const MESSAGE_COLUMNS: &str =
    "id, request_id, author, author_side, audience, body, attachment_ids, create_time, read_time";

fn message_row(message: &Message) -> StoreResult<Vec<(&'static str, Value<'_>)>> {
    Ok(vec![
        ("id", Value::Uuid(Some(message.id.as_uuid()))),
        ("request_id", Value::Id(message.request_id)),
        ("author", Value::Json(json(&message.author)?)),
        ("author_side", Value::Text(message.author_side.as_str())),
        ("audience", Value::Text(message.audience.as_str())),
        ("body", Value::Text(message.body.as_str())),
        ("attachment_ids", Value::Json(json(&message.attachment_ids)?)),
        ("create_time", Value::Time(Some(message.create_time))),
        ("read_time", Value::Time(message.read_time)),
    ])
}

fn message_from_row<D: Dialect>(row: &DbRow<D>) -> StoreResult<Message> {
    let f = Fields::<D>::new(row);
    let side = f.text("author_side")?;
    let audience = f.text("audience")?;
    let attachment_ids: Vec<DocumentId> = f.json("attachment_ids")?;
    Ok(Message {
        id: MessageId::from_uuid(f.id("id")?.as_uuid()),
        request_id: f.id("request_id")?,
        author: f.json("author")?,
        author_side: Side::parse(&side).ok_or_else(|| corrupt("author side", side.clone()))?,
        audience: Audience::parse(&audience).ok_or_else(|| corrupt("audience", audience.clone()))?,
        body: LongText::parse(f.text("body")?).map_err(|e| corrupt("body", e))?,
        attachment_ids,
        create_time: f.time("create_time")?,
        read_time: f.opt_time("read_time")?,
    })
}

impl<D: Dialect> SqlStore<D> {
    pub async fn save_message(
        &self,
        request: &Request,
        message: Message,
        event: EventDraft,
        key: Option<&Idempotency>,
    ) -> StoreResult<Message> {
        let message = Message { create_time: truncated(message.create_time), ..message };
        let mut tx = match self.begin_beside(request, key, event.time).await? {
            Begun::Fresh(tx) => tx,
            Begun::Recorded(outcome) => return Ok(outcome),
        };
        let mut sql = QueryBuilder::new("INSERT INTO messages");
        push_insert::<D>(&mut sql, message_row(&message)?);
        D::Db::execute(&mut tx, sql).await.map_err(db_error::<D>)?;
        self.finish(tx, key, &message, Some((event, request))).await?;
        Ok(message)
    }

    pub async fn save_read_receipt(
        &self,
        request: &Request,
        ids: Vec<MessageId>,
        event: EventDraft,
    ) -> StoreResult<()> {
        let mut tx = match self.begin_beside::<()>(request, None, event.time).await? {
            Begun::Fresh(tx) => tx,
            Begun::Recorded(()) => return Ok(()),
        };
        // The first reading stands: a message read before keeps its time.
        let mut sql = QueryBuilder::new("UPDATE messages SET read_time = ");
        Value::Time(Some(truncated(event.time))).push::<D>(&mut sql);
        sql.push(" WHERE read_time IS NULL AND request_id = ");
        D::push_id(&mut sql, request.id);
        sql.push(" AND id IN (");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            Value::Uuid(Some(id.as_uuid())).push::<D>(&mut sql);
        }
        sql.push(")");
        D::Db::execute(&mut tx, sql).await.map_err(db_error::<D>)?;
        self.finish(tx, None, &(), Some((event, request))).await
    }

    pub async fn get_message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        let mut sql = QueryBuilder::new(format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = "));
        Value::Uuid(Some(id.as_uuid())).push::<D>(&mut sql);
        let mut conn = self.reader.acquire().await.map_err(db_error::<D>)?;
        let row = D::Db::fetch_optional(&mut conn, sql).await.map_err(db_error::<D>)?;
        row.as_ref().map(message_from_row::<D>).transpose()
    }

    pub async fn list_messages(
        &self,
        request_id: RequestId,
        reader: Side,
        after: Option<MessageId>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let mut sql =
            QueryBuilder::new(format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE request_id = "));
        D::push_id(&mut sql, request_id);
        // `Message::visible_from`, in the query: the author's side reads its own; the other side
        // reads shared messages.
        sql.push(" AND (author_side = ");
        D::Db::bind_text(&mut sql, Some(reader.as_str()));
        sql.push(" OR audience = 'SHARED')");
        if let Some(after) = after {
            sql.push(" AND id > ");
            Value::Uuid(Some(after.as_uuid())).push::<D>(&mut sql);
        }
        sql.push(" ORDER BY id LIMIT ");
        D::Db::bind_int(&mut sql, i64::from(limit));
        let mut conn = self.reader.acquire().await.map_err(db_error::<D>)?;
        let rows = D::Db::fetch_all(&mut conn, sql).await.map_err(db_error::<D>)?;
        rows.iter().map(message_from_row::<D>).collect()
    }
}
