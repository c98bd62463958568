//! The `events` table: appending a change's event to its request's hash chain, and the two readers (a
//! request's trail by `seq`, the global feed by cursor), each filtered in the query by one audience rule.

use std::time::Duration;

use mla_domain::audit::{Event, EventDraft};
use mla_domain::{Request, RequestId, Scope};
use mla_store::{EventReader, StoreResult};
use sqlx::QueryBuilder;
use tokio::time::Instant;

use crate::SqlStore;
use crate::dialect::{DbConnection, Dialect, Driver};
use crate::errors::db_error;
use crate::rows::{EVENT_COLUMNS, Fields, event_from_row, event_row, push_insert, truncated};

/// How long the feed waits at most for committed events to become final. The wait is for writes in
/// flight, which take milliseconds; a longer transaction (anywhere in the database cluster, since
/// transaction ids are the cluster's) only delays those events, which the next read returns.
const SETTLING: Duration = Duration::from_secs(2);

/// Appends a change's event to its request's chain and returns its cursor. The request's row is
/// locked by this transaction (inserted or updated), so its chain cannot move meanwhile.
pub async fn append<D: Dialect>(
    conn: &mut DbConnection<D>,
    mut draft: EventDraft,
    request: &Request,
) -> StoreResult<i64> {
    let mut sql = QueryBuilder::new("SELECT seq, hash FROM events WHERE request_id = ");
    D::push_id(&mut sql, request.id);
    sql.push(" ORDER BY seq DESC LIMIT 1");
    let previous = D::Db::fetch_optional(&mut *conn, sql).await.map_err(db_error::<D>)?;
    let (seq, prev_hash) = match previous {
        Some(row) => {
            let fields = Fields::<D>::new(&row);
            (fields.int("seq")? + 1, fields.text("hash")?)
        }
        None => (1, String::new()),
    };
    let cursor = D::next_cursor(&mut *conn).await?;
    draft.time = truncated(draft.time);
    let event = Event::chain(draft, request.id, request.partner_code.clone(), cursor, seq, prev_hash);
    let mut sql = QueryBuilder::new("INSERT INTO events");
    push_insert::<D>(&mut sql, event_row(&event)?);
    D::Db::execute(&mut *conn, sql).await.map_err(db_error::<D>)?;
    D::announce(conn, cursor).await?;
    Ok(cursor)
}

/// Appends who may read which events, in the form of the partial indexes `events_ncijc` and
/// `events_partner`. `false`: the reader may read none, and there is nothing to query.
fn push_audience<D: Dialect>(sql: &mut QueryBuilder<D::Db>, reader: &EventReader) -> bool {
    match reader {
        EventReader::Verifier => {}
        EventReader::Scope(Scope::Nothing) => return false,
        EventReader::Scope(Scope::Ncijc) => {
            sql.push(" AND visible_to_ncijc").push(D::IS_TRUE);
        }
        // Whom a request's events are for follows the request as it stands (its confidentiality
        // and assignee now), not as it stood when each event was written.
        EventReader::Scope(Scope::NcijcAssigned(subject)) => {
            sql.push(" AND visible_to_ncijc").push(D::IS_TRUE);
            sql.push(" AND request_id NOT IN (SELECT id FROM requests WHERE strictly_confidential");
            sql.push(D::IS_TRUE).push(" AND assignee <> ");
            D::Db::bind_text(sql, Some(subject));
            sql.push(")");
        }
        EventReader::Scope(Scope::Partner(code)) => {
            sql.push(" AND partner_code = ");
            D::Db::bind_text(sql, Some(code.as_str()));
            sql.push(" AND visible_to_partner").push(D::IS_TRUE);
        }
    }
    true
}

impl<D: Dialect> SqlStore<D> {
    pub async fn request_events(
        &self,
        id: RequestId,
        reader: &EventReader,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        let mut sql = QueryBuilder::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE request_id = "));
        D::push_id(&mut sql, id);
        sql.push(" AND seq > ");
        D::Db::bind_int(&mut sql, after_seq);
        if !push_audience::<D>(&mut sql, reader) {
            return Ok(Vec::new());
        }
        sql.push(" ORDER BY seq LIMIT ");
        D::Db::bind_int(&mut sql, i64::from(limit));
        self.read_events(sql).await
    }

    /// The feed after `after_cursor`. Where cursors may commit out of order, the events that have
    /// committed but are not final yet (a write still in flight may commit a smaller cursor) are left out; they
    /// are usually final a moment later, so the read first waits for them, a bounded while, so that a
    /// reader sees the events that committed before it asked.
    pub async fn events_after(
        &self,
        reader: &EventReader,
        after_cursor: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        // The verifier reads whatever has committed: it checks chains, not the feed's order, and the
        // horizon is server-wide, so another database's long transaction would hide events from it.
        let feed = matches!(reader, EventReader::Scope(_));
        let deadline = Instant::now() + SETTLING;
        let mut pause = Duration::from_millis(1);
        let mut through = i64::MAX;
        // Only the events unsettled at the first look are waited for: under steady writes there are
        // always newer ones.
        while feed && let Some(newest) = D::unsettled(&self.reader, after_cursor, through).await? {
            if Instant::now() + pause > deadline {
                break;
            }
            through = newest;
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(25));
        }
        let mut sql = QueryBuilder::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE cursor > "));
        D::Db::bind_int(&mut sql, after_cursor);
        if !push_audience::<D>(&mut sql, reader) {
            return Ok(Vec::new());
        }
        if feed {
            D::push_settled(&mut sql);
        }
        sql.push(" ORDER BY cursor LIMIT ");
        D::Db::bind_int(&mut sql, i64::from(limit));
        self.read_events(sql).await
    }

    async fn read_events(&self, sql: QueryBuilder<D::Db>) -> StoreResult<Vec<Event>> {
        let mut conn = self.reader.acquire().await.map_err(db_error::<D>)?;
        let rows = D::Db::fetch_all(&mut conn, sql).await.map_err(db_error::<D>)?;
        rows.iter().map(event_from_row::<D>).collect()
    }
}
