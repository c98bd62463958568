//! The `requests` table: registration with its gap-free reference, decided changes at an expected
//! version, reads, the list with its scope and filters, and the rows' heads for the audit verifier.

use chrono::Datelike;
use mla_domain::clock::Clock;
use mla_domain::{NewRequest, Reference, Request, RequestId, Scope, Timestamp, Transition};
use mla_store::{Idempotency, Order, RequestCounts, RequestHead, RequestQuery, StoreError, StoreResult};
use sqlx::{Pool, QueryBuilder};

use crate::SqlStore;
use crate::dialect::{DbConnection, Dialect, Driver};
use crate::errors::{corrupt, db_error, insert_error};
use crate::rows::{
    Fields, REQUEST_COLUMNS, as_stored, push_assignments, push_insert, request_changes, request_from_row,
    request_head_from_row, request_row,
};
use crate::write::{Begun, WriteTx};

/// The terms that make a request's clock run while it is active, exactly as in the partial indexes
/// `requests_overdue` (both backends) and `requests_running` (PostgreSQL): planners match them textually.
pub const RUNNING: &str = "clock_stopped_at IS NULL AND due_at IS NOT NULL \
     AND state NOT IN ('DRAFT', 'EXECUTED', 'REFUSED', 'WITHDRAWN', 'CLOSED')";

impl<D: Dialect> SqlStore<D> {
    pub async fn create_request(&self, new: NewRequest, key: Option<&Idempotency>) -> StoreResult<Request> {
        let mut tx = match self.begin(key, new.create_time).await? {
            Begun::Fresh(tx) => tx,
            Begun::Recorded(outcome) => return Ok(outcome),
        };
        let year = new.create_time.year();
        let number = next_reference_number::<D>(&mut tx, new.direction.as_str(), year).await?;
        let request = as_stored(Request {
            id: new.id,
            reference: Reference {
                direction: new.direction,
                year,
                number: u32::try_from(number).map_err(|e| corrupt("reference number", e))?,
            },
            direction: new.direction,
            partner_code: new.partner_code,
            state: new.state,
            version: 1,
            content: new.content,
            conditions: Vec::new(),
            assignee: new.assignee,
            clock: Clock::default(),
            create_time: new.create_time,
            update_time: new.create_time,
            submit_time: new.submit_time,
            received_time: None,
            close_time: None,
            decided_time: None,
            refusal_grounds: Vec::new(),
            executed_time: None,
        });
        let mut sql = QueryBuilder::new("INSERT INTO requests");
        push_insert::<D>(&mut sql, request_row::<D>(&request)?);
        D::Db::execute(&mut tx, sql).await.map_err(insert_error::<D>)?;
        self.finish(tx, key, &request, Some((new.event, &request))).await?;
        Ok(request)
    }

    pub async fn save_change(
        &self,
        expected_version: i64,
        change: Transition,
        key: Option<&Idempotency>,
    ) -> StoreResult<Request> {
        let mut request = as_stored(change.request);
        request.version = expected_version + 1;
        let mut tx = match self.begin(key, request.update_time).await? {
            Begun::Fresh(tx) => tx,
            Begun::Recorded(outcome) => return Ok(outcome),
        };
        // The row's direction, partner and reference never change; only what a change may touch is set.
        let mut sql = QueryBuilder::new("UPDATE requests SET version = version + 1, ");
        push_assignments::<D>(&mut sql, request_changes::<D>(&request)?);
        sql.push(" WHERE id = ");
        D::push_id(&mut sql, request.id);
        sql.push(" AND version = ");
        D::Db::bind_int(&mut sql, expected_version);
        let result = D::Db::execute(&mut tx, sql).await.map_err(db_error::<D>)?;
        if D::rows_affected(&result) == 0 {
            return Err(not_at_version::<D>(tx, request.id).await);
        }
        // An erasure leaves no copy of the identity in the answers kept for replay.
        if mla_domain::personal::erases(&change.event.action) {
            let mut sql = QueryBuilder::new(format!("DELETE FROM idempotency WHERE {} = ", D::RESPONSE_ID));
            D::Db::bind_text(&mut sql, Some(&request.id.to_string()));
            D::Db::execute(&mut tx, sql).await.map_err(db_error::<D>)?;
        }
        self.finish(tx, key, &request, Some((change.event, &request))).await?;
        Ok(request)
    }

    pub async fn get_request(&self, id: RequestId) -> StoreResult<Option<Request>> {
        let mut sql = QueryBuilder::new(format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = "));
        D::push_id(&mut sql, id);
        let mut conn = self.reader.acquire().await.map_err(db_error::<D>)?;
        let row = D::Db::fetch_optional(&mut conn, sql).await.map_err(db_error::<D>)?;
        row.as_ref().map(request_from_row::<D>).transpose()
    }

    pub async fn list_requests(&self, query: &RequestQuery) -> StoreResult<Vec<Request>> {
        if query.scope == Scope::Nothing || query.limit == 0 {
            return Ok(Vec::new());
        }
        D::list_requests(&self.reader, query).await
    }

    /// The register by direction and state (the index on state and direction alone), and the overdue
    /// requests (the partial index `requests_overdue`, by the same terms as the overdue filter), on
    /// one connection.
    pub async fn count_requests(&self, overdue_at: Timestamp) -> StoreResult<RequestCounts> {
        let mut conn = self.reader.acquire().await.map_err(db_error::<D>)?;
        let sql = QueryBuilder::new(
            "SELECT state, direction, COUNT(*) AS requests FROM requests GROUP BY state, direction",
        );
        let rows = D::Db::fetch_all(&mut conn, sql).await.map_err(db_error::<D>)?;
        let mut by_state = Vec::with_capacity(rows.len());
        for row in &rows {
            let f = Fields::<D>::new(row);
            by_state.push((f.direction("direction")?, f.state("state")?, f.count("requests")?));
        }
        let mut sql = QueryBuilder::new(format!("SELECT COUNT(*) AS overdue FROM requests WHERE {RUNNING}"));
        sql.push(" AND due_at < ");
        D::push_time(&mut sql, Some(overdue_at));
        let row = D::Db::fetch_optional(&mut conn, sql).await.map_err(db_error::<D>)?;
        let overdue = match row {
            Some(row) => Fields::<D>::new(&row).count("overdue")?,
            None => 0,
        };
        Ok(RequestCounts { by_state, overdue })
    }

    /// Every request's id, version, custody events and state, in id order after `after`.
    pub async fn request_heads(&self, after: Option<RequestId>, limit: u32) -> StoreResult<Vec<RequestHead>> {
        let mut sql = QueryBuilder::new("SELECT id, version, custody_events, state FROM requests");
        if let Some(after) = after {
            sql.push(" WHERE id > ");
            D::push_id(&mut sql, after);
        }
        sql.push(" ORDER BY id LIMIT ");
        D::Db::bind_int(&mut sql, i64::from(limit));
        let mut conn = self.reader.acquire().await.map_err(db_error::<D>)?;
        let rows = D::Db::fetch_all(&mut conn, sql).await.map_err(db_error::<D>)?;
        rows.iter().map(request_head_from_row::<D>).collect()
    }
}

/// Takes the next registry number of (direction, year). The counter row stays locked by the write
/// until it commits, so numbers are unique and, since a rolled-back registration rolls its increment
/// back, gap-free.
async fn next_reference_number<D: Dialect>(
    conn: &mut DbConnection<D>,
    direction: &str,
    year: i32,
) -> StoreResult<i32> {
    let mut sql = QueryBuilder::new("INSERT INTO reference_counters (direction, year, last) VALUES (");
    D::Db::bind_text(&mut sql, Some(direction));
    sql.push(", ");
    D::Db::bind_int32(&mut sql, year);
    sql.push(
        ", 1) ON CONFLICT (direction, year) DO UPDATE SET last = reference_counters.last + 1 RETURNING last",
    );
    let row = D::Db::fetch_optional(conn, sql).await.map_err(db_error::<D>)?;
    let row = row.ok_or_else(|| corrupt("reference counter", "the upsert returned no row"))?;
    Fields::<D>::new(&row).int32("last")
}

/// Why a write at an expected version changed no row: the request moved on (its current version),
/// or there is none. The write's transaction is rolled back.
pub(crate) async fn not_at_version<D: Dialect>(mut tx: WriteTx<D>, id: RequestId) -> StoreError {
    let mut sql = QueryBuilder::new("SELECT version FROM requests WHERE id = ");
    D::push_id(&mut sql, id);
    let current = match D::Db::fetch_optional(&mut tx, sql).await {
        Ok(row) => row.map(|row| Fields::<D>::new(&row).int("version")).transpose(),
        Err(e) => Err(db_error::<D>(e)),
    };
    if let Err(e) = tx.rollback().await {
        return db_error::<D>(e);
    }
    match current {
        Ok(Some(current)) => StoreError::VersionConflict { current },
        Ok(None) => StoreError::NotFound,
        Err(e) => e,
    }
}

/// `SELECT <request columns> FROM requests WHERE` the caller's scope and every filter of `query`
/// except the page position (`after`), ready for more terms.
pub fn requests_where<D: Dialect>(query: &RequestQuery) -> QueryBuilder<D::Db> {
    let mut sql = QueryBuilder::new("");
    push_requests_where::<D>(&mut sql, query);
    sql
}

fn push_requests_where<D: Dialect>(sql: &mut QueryBuilder<D::Db>, query: &RequestQuery) {
    sql.push(format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE "));
    push_filters::<D>(sql, query);
}

/// The terms of a `WHERE` on `requests` for the caller's scope and every filter of `query` but its
/// page position: what a list selects, and what the statistics count.
pub fn push_filters<D: Dialect>(sql: &mut QueryBuilder<D::Db>, query: &RequestQuery) {
    // The caller's visibility comes first and always: no filter below can widen it.
    match &query.scope {
        // Callers return early for `Nothing`; should one not, it still reads nothing.
        Scope::Nothing => {
            sql.push("1 = 0");
        }
        Scope::Ncijc => {
            sql.push("NOT (direction = 'INCOMING' AND state = 'DRAFT')");
        }
        Scope::NcijcAssigned(subject) => {
            sql.push("NOT (direction = 'INCOMING' AND state = 'DRAFT') AND (NOT strictly_confidential");
            sql.push(D::IS_TRUE).push(" OR assignee = ");
            D::Db::bind_text(sql, Some(subject));
            sql.push(")");
        }
        Scope::Partner(code) => {
            sql.push("partner_code = ");
            D::Db::bind_text(sql, Some(code.as_str()));
            sql.push(" AND NOT (direction = 'OUTGOING' AND state = 'DRAFT')");
        }
    }
    let mut equal = |column: &str, value: &str| {
        sql.push(" AND ").push(column).push(" = ");
        D::Db::bind_text(sql, Some(value));
    };
    if let Some(state) = query.state {
        equal("state", state.as_str());
    }
    if let Some(direction) = query.direction {
        equal("direction", direction.as_str());
    }
    if let Some(code) = &query.partner_code {
        equal("partner_code", code.as_str());
    }
    if let Some(request_type) = query.request_type {
        equal("request_type", request_type.as_str());
    }
    if let Some(assignee) = &query.assignee {
        equal("assignee", assignee);
    }
    match query.awaiting.as_deref() {
        None => {}
        // One range is two equalities, which an index serves as such.
        Some([(direction, state)]) => {
            equal("direction", direction.as_str());
            equal("state", state.as_str());
        }
        // Several are alternatives; none matches nothing.
        Some(ranges) => {
            sql.push(" AND (1 = 0");
            for (direction, state) in ranges {
                sql.push(" OR (direction = ");
                D::Db::bind_text(sql, Some(direction.as_str()));
                sql.push(" AND state = ");
                D::Db::bind_text(sql, Some(state.as_str()));
                sql.push(")");
            }
            sql.push(")");
        }
    }
    let ranges = [
        ("received_time", query.received_from, " >= "),
        ("received_time", query.received_until, " < "),
        ("close_time", query.closed_from, " >= "),
        ("close_time", query.closed_until, " < "),
        ("submit_time", query.submitted_from, " >= "),
        ("submit_time", query.submitted_until, " < "),
    ];
    for (column, bound, operator) in ranges {
        if let Some(at) = bound {
            sql.push(" AND ").push(column).push(operator);
            D::push_time(sql, Some(at));
        }
    }
    if let Some(at) = query.overdue_at {
        sql.push(" AND ").push(RUNNING).push(" AND due_at < ");
        D::push_time(sql, Some(at));
    }
    if let Some(text) = &query.text {
        sql.push(" AND ");
        D::push_text_match(sql, text);
    }
}

/// One page in the query's order: the plan for every filter where the backend has no better one.
///
/// A work queue in due order is several (direction, state) ranges: a single query would sort all of
/// their rows for one page. Instead each range reads its first page from the index on (state,
/// direction, due date, id), and the pages are merged: a few index ranges, whatever the queue's size.
pub async fn list_page<D: Dialect>(reader: &Pool<D::Db>, query: &RequestQuery) -> StoreResult<Vec<Request>> {
    match &query.awaiting {
        Some(ranges) if query.order == Order::DueFirst && ranges.len() > 1 => {
            let mut sql = QueryBuilder::new("SELECT * FROM (");
            for (i, range) in ranges.iter().enumerate() {
                sql.push(if i == 0 { "SELECT * FROM (" } else { " UNION ALL SELECT * FROM (" });
                let one = RequestQuery { awaiting: Some(vec![*range]), ..query.clone() };
                push_requests_where::<D>(&mut sql, &one);
                push_page::<D>(&mut sql, &one);
                sql.push(format!(") AS range{i}"));
            }
            // Ordered outside the compound, which SQLite orders by result columns only.
            sql.push(") AS queue ORDER BY ").push(D::DUE_ORDER).push(" LIMIT ");
            D::Db::bind_int(&mut sql, i64::from(query.limit));
            fetch_requests::<D>(reader, sql).await
        }
        _ => list_page_where::<D>(reader, requests_where::<D>(query), query).await,
    }
}

/// One page of the rows `sql` selects (the query's [`requests_where`], with terms a backend added),
/// in the query's order, after the query's page position.
pub async fn list_page_where<D: Dialect>(
    reader: &Pool<D::Db>,
    mut sql: QueryBuilder<D::Db>,
    query: &RequestQuery,
) -> StoreResult<Vec<Request>> {
    push_page::<D>(&mut sql, query);
    fetch_requests::<D>(reader, sql).await
}

async fn fetch_requests<D: Dialect>(
    reader: &Pool<D::Db>,
    sql: QueryBuilder<D::Db>,
) -> StoreResult<Vec<Request>> {
    let mut conn = reader.acquire().await.map_err(db_error::<D>)?;
    let rows = D::Db::fetch_all(&mut conn, sql).await.map_err(db_error::<D>)?;
    rows.iter().map(request_from_row::<D>).collect()
}

/// The page position, the order and the page size of `query`.
fn push_page<D: Dialect>(sql: &mut QueryBuilder<D::Db>, query: &RequestQuery) {
    match query.order {
        Order::Newest => {
            if let Some(after) = query.after {
                sql.push(" AND id < ");
                D::push_id(sql, after);
            }
            sql.push(" ORDER BY id DESC LIMIT ");
        }
        // Keyset on (due date, id), the requests without a due date last.
        Order::DueFirst => {
            match (query.after, query.after_due) {
                (Some(after), Some(due)) => {
                    sql.push(" AND (due_at IS NULL OR due_at > ");
                    D::push_time(sql, Some(due));
                    sql.push(" OR (due_at = ");
                    D::push_time(sql, Some(due));
                    sql.push(" AND id > ");
                    D::push_id(sql, after);
                    sql.push("))");
                }
                (Some(after), None) => {
                    sql.push(" AND due_at IS NULL AND id > ");
                    D::push_id(sql, after);
                }
                (None, _) => {}
            }
            sql.push(" ORDER BY ").push(D::DUE_ORDER).push(" LIMIT ");
        }
    }
    D::Db::bind_int(sql, i64::from(query.limit));
}
