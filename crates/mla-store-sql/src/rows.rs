//! The tables' columns and the one mapping between rows and domain values, in both directions: what
//! is written is a list of (column, value) pairs, so that a column and its value cannot drift apart.

use std::marker::PhantomData;

use mla_domain::audit::{Actor, Audience, Event};
use mla_domain::clock::Clock;
use mla_domain::request::Direction;
use mla_domain::{
    Channel, Partner, PartnerCode, PartnerKind, Reference, Request, RequestId, ShortText, State, Timestamp,
};
use mla_store::{RequestHead, StoreResult};
use serde_json::value::RawValue;
use sqlx::QueryBuilder;

use crate::dialect::{DbRow, Dialect, Driver, Value};
use crate::errors::{corrupt, db_error, json_error};

pub const REQUEST_COLUMNS: &str = "id, direction, year, number, partner_code, state, version, assignee, due_at, \
     clock_stopped_at, create_time, update_time, submit_time, received_time, close_time, decided_time, executed_time, \
     refusal_grounds, content, conditions";

pub const EVENT_COLUMNS: &str = "cursor, request_id, partner_code, seq, time, actor_subject, actor_roles, \
     actor_partner_code, actor_on_behalf_of, action, from_state, to_state, details, visible_to_ncijc, visible_to_partner, prev_hash, hash";

pub const PARTNER_COLUMNS: &str =
    "code, name, country, kind, legal_bases, active, channel, version, create_time, update_time";

/// The instant as both backends store it: microseconds. Callers pass times truncated to microseconds;
/// anything finer is dropped here, as the audit hash drops it.
pub fn truncated(time: Timestamp) -> Timestamp {
    Timestamp::from_timestamp_micros(time.timestamp_micros()).unwrap_or(time)
}

/// The request as it reads back: its stored times at microsecond precision.
pub fn as_stored(mut request: Request) -> Request {
    request.create_time = truncated(request.create_time);
    request.update_time = truncated(request.update_time);
    request.submit_time = request.submit_time.map(truncated);
    request.received_time = request.received_time.map(truncated);
    request.close_time = request.close_time.map(truncated);
    request.decided_time = request.decided_time.map(truncated);
    request.executed_time = request.executed_time.map(truncated);
    request.clock.due_at = request.clock.due_at.map(truncated);
    request.clock.stopped_at = request.clock.stopped_at.map(truncated);
    request
}

/// Serializes a value once, into the form every backend binds as JSON.
pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> StoreResult<Box<RawValue>> {
    serde_json::value::to_raw_value(value).map_err(json_error)
}

/// Appends `(columns) VALUES (binds)` for an INSERT.
pub fn push_insert<D: Dialect>(sql: &mut QueryBuilder<D::Db>, values: Vec<(&str, Value<'_>)>) {
    let columns: Vec<&str> = values.iter().map(|(column, _)| *column).collect();
    sql.push(" (").push(columns.join(", ")).push(") VALUES (");
    for (i, (_, value)) in values.into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        value.push::<D>(sql);
    }
    sql.push(")");
}

/// Appends `column = bind, ...` for an UPDATE's SET.
pub fn push_assignments<D: Dialect>(sql: &mut QueryBuilder<D::Db>, values: Vec<(&str, Value<'_>)>) {
    for (i, (column, value)) in values.into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push(column).push(" = ");
        value.push::<D>(sql);
    }
}

/// The columns of a request that its changes rewrite, with the backend's search columns.
pub fn request_changes<'a, D: Dialect>(request: &'a Request) -> StoreResult<Vec<(&'static str, Value<'a>)>> {
    let mut values = vec![
        ("state", Value::Text(request.state.as_str())),
        ("request_type", Value::OptText(request.content.request_type.map(|t| t.as_str()))),
        ("title", Value::Text(request.content.title.as_str())),
        ("assignee", Value::Text(request.assignee.as_str())),
        ("strictly_confidential", Value::Flag(request.is_strictly_confidential())),
        ("due_at", Value::Time(request.clock.due_at)),
        ("clock_stopped_at", Value::Time(request.clock.stopped_at)),
        ("update_time", Value::Time(Some(request.update_time))),
        ("submit_time", Value::Time(request.submit_time)),
        ("received_time", Value::Time(request.received_time)),
        ("close_time", Value::Time(request.close_time)),
        ("decided_time", Value::Time(request.decided_time)),
        ("executed_time", Value::Time(request.executed_time)),
        ("refusal_grounds", Value::Json(json(&request.refusal_grounds)?)),
        ("content", Value::Json(json(&request.content)?)),
        ("conditions", Value::Json(json(&request.conditions)?)),
    ];
    values.extend(D::search_columns(&request.content));
    Ok(values)
}

/// Every column of a new request's row.
pub fn request_row<'a, D: Dialect>(request: &'a Request) -> StoreResult<Vec<(&'static str, Value<'a>)>> {
    let number = i32::try_from(request.reference.number).map_err(|e| corrupt("reference number", e))?;
    let mut values = vec![
        ("id", Value::Id(request.id)),
        ("direction", Value::Text(request.direction.as_str())),
        ("year", Value::Int32(request.reference.year)),
        ("number", Value::Int32(number)),
        ("reference", Value::OwnedText(request.reference.to_string())),
        ("partner_code", Value::Text(request.partner_code.as_str())),
        ("version", Value::Int(request.version)),
        ("create_time", Value::Time(Some(request.create_time))),
    ];
    values.extend(request_changes::<D>(request)?);
    Ok(values)
}

pub fn event_row(event: &Event) -> StoreResult<Vec<(&'static str, Value<'_>)>> {
    Ok(vec![
        ("cursor", Value::Int(event.cursor)),
        ("request_id", Value::Id(event.request_id)),
        ("partner_code", Value::Text(event.partner_code.as_str())),
        ("seq", Value::Int(event.seq)),
        ("time", Value::Time(Some(event.time))),
        ("actor_subject", Value::Text(&event.actor.subject)),
        ("actor_roles", Value::TextList(&event.actor.roles)),
        ("actor_partner_code", Value::OptText(event.actor.partner_code.as_deref())),
        ("actor_on_behalf_of", Value::OptText(event.actor.on_behalf_of.as_deref())),
        ("action", Value::Text(&event.action)),
        ("from_state", Value::OptText(event.from_state.map(State::as_str))),
        ("to_state", Value::Text(event.to_state.as_str())),
        ("details", Value::Text(&event.details)),
        ("visible_to_ncijc", Value::Flag(event.audience.ncijc)),
        ("visible_to_partner", Value::Flag(event.audience.partner)),
        ("prev_hash", Value::Text(&event.prev_hash)),
        ("hash", Value::Text(&event.hash)),
    ])
}

/// The columns of a partner that an update rewrites.
pub fn partner_changes(partner: &Partner) -> StoreResult<Vec<(&'static str, Value<'_>)>> {
    Ok(vec![
        ("name", Value::Text(partner.name.as_str())),
        ("country", Value::Text(&partner.country)),
        ("kind", Value::Text(partner.kind.as_str())),
        ("legal_bases", Value::Json(json(&partner.legal_bases)?)),
        ("active", Value::Flag(partner.active)),
        ("channel", Value::Text(partner.channel.as_str())),
        ("update_time", Value::Time(Some(partner.update_time))),
    ])
}

pub fn partner_row(partner: &Partner) -> StoreResult<Vec<(&'static str, Value<'_>)>> {
    let mut values = vec![
        ("code", Value::Text(partner.code.as_str())),
        ("version", Value::Int(partner.version)),
        ("create_time", Value::Time(Some(partner.create_time))),
    ];
    values.extend(partner_changes(partner)?);
    Ok(values)
}

/// Reads a row's columns through the dialect, each failure in the store's terms.
pub struct Fields<'r, D: Dialect> {
    row: &'r DbRow<D>,
    dialect: PhantomData<D>,
}

impl<D: Dialect> std::fmt::Debug for Fields<'_, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fields").finish_non_exhaustive()
    }
}

impl<'r, D: Dialect> Fields<'r, D> {
    pub fn new(row: &'r DbRow<D>) -> Self {
        Fields { row, dialect: PhantomData }
    }

    pub fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        D::Db::text(self.row, column).map_err(db_error::<D>)
    }

    pub fn text(&self, column: &str) -> StoreResult<String> {
        self.opt_text(column)?.ok_or_else(|| corrupt("text", format!("{column} is NULL")))
    }

    pub fn int(&self, column: &str) -> StoreResult<i64> {
        D::Db::int(self.row, column).map_err(db_error::<D>)
    }

    pub fn int32(&self, column: &str) -> StoreResult<i32> {
        D::Db::int32(self.row, column).map_err(db_error::<D>)
    }

    pub fn flag(&self, column: &str) -> StoreResult<bool> {
        D::Db::flag(self.row, column).map_err(db_error::<D>)
    }

    pub fn opt_float(&self, column: &str) -> StoreResult<Option<f64>> {
        D::Db::float(self.row, column).map_err(db_error::<D>)
    }

    pub fn opt_time(&self, column: &str) -> StoreResult<Option<Timestamp>> {
        D::read_time(self.row, column)
    }

    pub fn time(&self, column: &str) -> StoreResult<Timestamp> {
        self.opt_time(column)?.ok_or_else(|| corrupt("time", format!("{column} is NULL")))
    }

    pub fn id(&self, column: &str) -> StoreResult<RequestId> {
        D::read_id(self.row, column)
    }

    pub fn opt_json<T: serde::de::DeserializeOwned>(&self, column: &str) -> StoreResult<Option<T>> {
        D::read_json(self.row, column)
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self, column: &str) -> StoreResult<T> {
        self.opt_json(column)?.ok_or_else(|| corrupt("JSON", format!("{column} is NULL")))
    }

    pub fn text_list(&self, column: &str) -> StoreResult<Vec<String>> {
        D::read_text_list(self.row, column)
    }

    /// A count, which SQL gives as a signed integer.
    pub fn count(&self, column: &str) -> StoreResult<u64> {
        u64::try_from(self.int(column)?).map_err(|e| corrupt("count", e))
    }

    pub fn direction(&self, column: &str) -> StoreResult<Direction> {
        let raw = self.text(column)?;
        Direction::parse(&raw).ok_or_else(|| corrupt("direction", raw))
    }

    /// The registry reference of a request of `direction`, from its `year` and `number` columns.
    pub fn reference(&self, direction: Direction) -> StoreResult<Reference> {
        Ok(Reference {
            direction,
            year: self.int32("year")?,
            number: u32::try_from(self.int32("number")?).map_err(|e| corrupt("reference number", e))?,
        })
    }

    pub fn state(&self, column: &str) -> StoreResult<State> {
        let raw = self.text(column)?;
        State::parse(&raw).ok_or_else(|| corrupt("state", raw))
    }

    pub fn partner_code(&self, column: &str) -> StoreResult<PartnerCode> {
        PartnerCode::parse(&self.text(column)?).map_err(|e| corrupt("partner code", e))
    }

    pub fn short_text(&self, column: &str) -> StoreResult<ShortText> {
        ShortText::parse(self.text(column)?).map_err(|e| corrupt("one-line text", e))
    }
}

pub fn request_from_row<D: Dialect>(row: &DbRow<D>) -> StoreResult<Request> {
    let f = Fields::<D>::new(row);
    let direction = f.direction("direction")?;
    Ok(Request {
        id: f.id("id")?,
        reference: f.reference(direction)?,
        direction,
        partner_code: f.partner_code("partner_code")?,
        state: f.state("state")?,
        version: f.int("version")?,
        content: f.json("content")?,
        conditions: f.json("conditions")?,
        assignee: f.short_text("assignee")?,
        clock: Clock { due_at: f.opt_time("due_at")?, stopped_at: f.opt_time("clock_stopped_at")? },
        create_time: f.time("create_time")?,
        update_time: f.time("update_time")?,
        submit_time: f.opt_time("submit_time")?,
        received_time: f.opt_time("received_time")?,
        close_time: f.opt_time("close_time")?,
        decided_time: f.opt_time("decided_time")?,
        refusal_grounds: f.json("refusal_grounds")?,
        executed_time: f.opt_time("executed_time")?,
    })
}

pub fn request_head_from_row<D: Dialect>(row: &DbRow<D>) -> StoreResult<RequestHead> {
    let f = Fields::<D>::new(row);
    Ok(RequestHead {
        id: f.id("id")?,
        version: f.int("version")?,
        custody_events: f.int("custody_events")?,
        state: f.state("state")?,
    })
}

pub fn event_from_row<D: Dialect>(row: &DbRow<D>) -> StoreResult<Event> {
    let f = Fields::<D>::new(row);
    let from_state = f.opt_text("from_state")?;
    Ok(Event {
        cursor: f.int("cursor")?,
        request_id: f.id("request_id")?,
        partner_code: f.partner_code("partner_code")?,
        seq: f.int("seq")?,
        time: f.time("time")?,
        actor: Actor {
            subject: f.text("actor_subject")?,
            roles: f.text_list("actor_roles")?,
            partner_code: f.opt_text("actor_partner_code")?,
            on_behalf_of: f.opt_text("actor_on_behalf_of")?,
        },
        action: f.text("action")?,
        from_state: from_state
            .map(|raw| State::parse(&raw).ok_or_else(|| corrupt("event state", raw)))
            .transpose()?,
        to_state: f.state("to_state")?,
        details: f.text("details")?,
        audience: Audience { ncijc: f.flag("visible_to_ncijc")?, partner: f.flag("visible_to_partner")? },
        prev_hash: f.text("prev_hash")?,
        hash: f.text("hash")?,
    })
}

pub fn partner_from_row<D: Dialect>(row: &DbRow<D>) -> StoreResult<Partner> {
    let f = Fields::<D>::new(row);
    let kind = f.text("kind")?;
    let channel = f.text("channel")?;
    Ok(Partner {
        code: f.partner_code("code")?,
        name: f.short_text("name")?,
        country: f.text("country")?,
        kind: PartnerKind::parse(&kind).ok_or_else(|| corrupt("partner kind", &kind))?,
        legal_bases: f.json("legal_bases")?,
        active: f.flag("active")?,
        channel: Channel::parse(&channel).ok_or_else(|| corrupt("partner channel", &channel))?,
        version: f.int("version")?,
        create_time: f.time("create_time")?,
        update_time: f.time("update_time")?,
    })
}
