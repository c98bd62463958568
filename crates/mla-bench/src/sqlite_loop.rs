//! SQLite's bound: a plain loop on one connection (WAL, `synchronous = NORMAL`, as `mla-store-sqlite`
//! opens its files) making the statements the broker's store makes for a transition or a
//! registration, on a scratch file migrated with the broker's own schema.
//!
//! The loop uses rusqlite over the same libsqlite3-sys that sqlx's SQLite driver links: only the
//! storage crates may depend on sqlx (tests/tests/tidy.rs). As in the pgbench scripts, what the broker
//! decides in Rust (the next `seq`, the expected version, the hash) is a constant here.

use std::time::Instant;

use mla_store_sql::rows::{PARTNER_COLUMNS, REQUEST_COLUMNS};
use rusqlite::{Connection, params};

use crate::load::Figures;
use crate::workloads::Sample;

const EVENT_INSERT: &str = "INSERT INTO events (cursor, request_id, partner_code, seq, time, actor_subject, \
     actor_roles, actor_partner_code, action, from_state, to_state, details, visible_to_ncijc, \
     visible_to_partner, prev_hash, hash) VALUES (?1, ?2, 'FR-MOJ', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, '{}', ?11, 1, '', ?12)";

/// A scratch database file with the broker's schema, removed with this value.
#[derive(Debug)]
pub struct SqliteLoop {
    connection: Connection,
    sample: Sample,
    next_row: i64,
    _dir: tempfile::TempDir,
}

/// A prepared request's id from its row number: UUIDs the loop can count.
fn id(row: i64) -> String {
    format!("00000000-0000-7000-8000-{row:012x}")
}

/// The time as the SQLite backend stores it: microseconds since the Unix epoch.
fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

impl SqliteLoop {
    /// Makes the scratch file, migrated by the broker's own store, with the one partner.
    pub async fn start(sample: Sample) -> anyhow::Result<SqliteLoop> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("bound.db");
        mla_store_sqlite::migrate(&path.display().to_string()).await?;
        let connection = Connection::open(&path)?;
        let mode: String =
            connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        anyhow::ensure!(mode.eq_ignore_ascii_case("wal"), "the scratch file is not in WAL mode: {mode}");
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.execute(
            &format!(
                "INSERT INTO partners ({PARTNER_COLUMNS}) VALUES ('FR-MOJ', 'Central authority FR-MOJ', 'FR', \
                 'STATE_AUTHORITY', '[\"UNTOC art. 18\"]', 1, 1, ?1, ?1)"
            ),
            [now()],
        )?;
        Ok(SqliteLoop { connection, sample, next_row: 1, _dir: dir })
    }

    /// ACKNOWLEDGE of `calls` requests prepared in SUBMITTED (version 2, two events), not measured.
    pub fn transitions(&mut self, calls: usize) -> anyhow::Result<Figures> {
        let base = self.next_row;
        self.next_row += calls as i64;
        let tx = self.connection.transaction()?;
        for row in base..base + calls as i64 {
            let at = now();
            tx.execute(
                &format!(
                    "INSERT INTO requests ({REQUEST_COLUMNS}, reference, request_type, title, title_folded, \
                     partner_reference_folded) VALUES (?1, 'INCOMING', 2000, ?2, 'FR-MOJ', 'SUBMITTED', 2, '', \
                     NULL, NULL, ?3, ?3, ?3, NULL, ?4, '[]', 'IN-2000-' || ?2, 'EVIDENCE', 'Load', 'load', '')"
                ),
                params![id(row), row, at, self.sample.content],
            )?;
            for (seq, action, from, to) in
                [(1, "CREATE", None, "DRAFT"), (2, "SUBMIT", Some("DRAFT"), "SUBMITTED")]
            {
                let cursor: i64 =
                    tx.query_row("SELECT COALESCE(MAX(cursor), 0) + 1 FROM events", [], |r| r.get(0))?;
                tx.execute(
                    EVENT_INSERT,
                    params![
                        cursor,
                        id(row),
                        seq,
                        at,
                        "FR-MOJ-system",
                        "[\"partner\"]",
                        "FR-MOJ",
                        action,
                        from,
                        to,
                        seq == 2,
                        "0".repeat(64)
                    ],
                )?;
            }
        }
        tx.commit()?;
        let scope = "[\"ncijc\",\"registrar-1\"]";
        self.measure(calls, |connection, sample, i| {
            let (row, key, at) = (base + i as i64, format!("ack-{}", base + i as i64), now());
            replay_and_read(connection, scope, &key, Some(&id(row)))?;
            let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            claim(&tx, scope, &key, at)?;
            tx.prepare_cached(
                "UPDATE requests SET version = version + 1, state = 'RECEIVED', request_type = 'EVIDENCE', \
                 title = 'Load', assignee = '', due_at = ?1, clock_stopped_at = NULL, update_time = ?2, \
                 submit_time = submit_time, received_time = ?2, content = ?3, conditions = '[]', \
                 title_folded = 'load', partner_reference_folded = '' WHERE id = ?4 AND version = 2",
            )?
            .execute(params![at + 30 * 86_400_000_000, at, sample.content, id(row)])
            .and_then(|updated| match updated {
                1 => Ok(()),
                other => Err(rusqlite::Error::StatementChangedRows(other)),
            })?;
            let event = (
                3,
                "registrar-1",
                "[\"registrar\"]",
                None,
                "ACKNOWLEDGE",
                Some("SUBMITTED"),
                "RECEIVED",
                true,
            );
            record_and_append(&tx, sample, scope, &key, &id(row), at, event)?;
            tx.commit()?;
            Ok(())
        })
    }

    /// CreateRequest: registrations of new drafts, each taking the next registry number.
    pub fn creates(&mut self, calls: usize) -> anyhow::Result<Figures> {
        let base = self.next_row;
        self.next_row += calls as i64;
        let scope = "[\"partner\",\"FR-MOJ\",\"FR-MOJ-system\"]";
        self.measure(calls, |connection, sample, i| {
            let (row, key, at) = (base + i as i64, format!("create-{}", base + i as i64), now());
            replay_and_read(connection, scope, &key, None)?;
            let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            claim(&tx, scope, &key, at)?;
            let number: i64 = tx
                .prepare_cached(
                    "INSERT INTO reference_counters (direction, year, last) VALUES ('INCOMING', 2026, 1) \
                     ON CONFLICT (direction, year) DO UPDATE SET last = reference_counters.last + 1 RETURNING last",
                )?
                .query_row([], |r| r.get(0))?;
            tx.prepare_cached(&format!(
                "INSERT INTO requests ({REQUEST_COLUMNS}, reference, request_type, title, title_folded, \
                 partner_reference_folded) VALUES (?1, 'INCOMING', 2026, ?2, 'FR-MOJ', 'DRAFT', 1, '', NULL, NULL, \
                 ?3, ?3, NULL, NULL, ?4, '[]', 'IN-2026-' || ?2, 'EVIDENCE', 'Load', 'load', '')"
            ))?
            .execute(params![id(row), number, at, sample.content])?;
            let event = (1, "FR-MOJ-system", "[\"partner\"]", Some("FR-MOJ"), "CREATE", None, "DRAFT", false);
            record_and_append(&tx, sample, scope, &key, &id(row), at, event)?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Times `calls` runs of `operation`, one after the other.
    fn measure(
        &mut self,
        calls: usize,
        operation: impl Fn(&mut Connection, &Sample, usize) -> rusqlite::Result<()>,
    ) -> anyhow::Result<Figures> {
        let mut latencies = Vec::with_capacity(calls);
        let started = Instant::now();
        for i in 0..calls {
            let sent = Instant::now();
            operation(&mut self.connection, &self.sample, i)?;
            latencies.push(sent.elapsed());
        }
        Ok(Figures::of(started.elapsed(), latencies))
    }
}

/// What the application reads before it writes: the key's earlier outcome, the request (for a
/// change) and its partner.
fn replay_and_read(
    connection: &Connection,
    scope: &str,
    key: &str,
    request: Option<&str>,
) -> rusqlite::Result<()> {
    let mut replay = connection
        .prepare_cached("SELECT fingerprint, response FROM idempotency WHERE scope = ?1 AND key = ?2")?;
    replay.query([scope, key])?.next()?;
    if let Some(id) = request {
        let mut read =
            connection.prepare_cached(&format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?1"))?;
        read.query([id])?.next()?;
    }
    let mut partner = connection
        .prepare_cached(&format!("SELECT {PARTNER_COLUMNS} FROM partners WHERE code = 'FR-MOJ'"))?;
    partner.query([])?.next()?;
    Ok(())
}

/// The write's first statement: the idempotency key's claim.
fn claim(tx: &Connection, scope: &str, key: &str, at: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO idempotency (scope, key, fingerprint, create_time) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (scope, key) DO NOTHING",
    )?
    .execute(params![scope, key, "f".repeat(64), at])?;
    Ok(())
}

/// An event's seq, actor subject, actor roles, actor partner, action, from and to states, and whether
/// the NCIJC sees it.
type EventShape<'a> = (i64, &'a str, &'a str, Option<&'a str>, &'a str, Option<&'a str>, &'a str, bool);

/// The write's last statements: the outcome's record, the chain's last event, the cursor, the event.
fn record_and_append(
    tx: &Connection,
    sample: &Sample,
    scope: &str,
    key: &str,
    request: &str,
    at: i64,
    (seq, subject, roles, partner, action, from, to, ncijc): EventShape<'_>,
) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE idempotency SET response = ?1 WHERE scope = ?2 AND key = ?3")?
        .execute(params![sample.outcome, scope, key])?;
    tx.prepare_cached("SELECT seq, hash FROM events WHERE request_id = ?1 ORDER BY seq DESC LIMIT 1")?
        .query([request])?
        .next()?;
    let cursor: i64 =
        tx.prepare_cached("SELECT COALESCE(MAX(cursor), 0) + 1 FROM events")?.query_row([], |r| r.get(0))?;
    tx.prepare_cached(EVENT_INSERT)?.execute(params![
        cursor,
        request,
        seq,
        at,
        subject,
        roles,
        partner,
        action,
        from,
        to,
        ncijc,
        "0".repeat(64)
    ])?;
    Ok(())
}
