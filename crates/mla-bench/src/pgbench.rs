//! PostgreSQL's bound: `pgbench` running, on a scratch copy of the broker's own schema, the statements
//! the broker's store sends for one transition or one registration, at the same client counts.
//!
//! The scripts follow `mla-app` and `mla-store-sql` statement by statement: the idempotency replay,
//! the request read (a transition) or the partner read (a registration) before the transaction; then the key's claim, the write, the
//! outcome's record, the chain's last event, the cursor (the transaction's id) with its notification,
//! the event and the commit. The prepared rows' events take negative cursors, out of the way of the
//! transaction ids the measured writes take. What they cannot do is decide: values the broker computes in Rust
//! (the next `seq`, the expected version, the hash) are constants here, since the prepared rows are
//! all alike. The JSON documents travel as parameters, as the broker binds them, so PostgreSQL parses
//! them on every call.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use mla_store_postgres::EVENTS_CHANNEL;
use mla_store_postgres::testing::TestDatabase;
use mla_store_sql::rows::{PARTNER_COLUMNS, REQUEST_COLUMNS};

use crate::load::Figures;
use crate::workloads::Sample;

/// A prepared request's id from its row number, in SQL: UUIDs the harness can count.
const ID: &str = "('00000000-0000-7000-8000-' || lpad(to_hex(:row::bigint), 12, '0'))::uuid";

/// The event columns, in the order the scripts give their values.
const EVENT_INSERT: &str = "INSERT INTO events (cursor, request_id, partner_code, seq, time, actor_subject, \
     actor_roles, actor_partner_code, action, from_state, to_state, details, visible_to_ncijc, \
     visible_to_partner, prev_hash, hash)";

/// The client's row numbers: client `c` of `C` takes rows base + c, base + C + c, ... (`n` counts its
/// transactions from 1; pgbench keeps a client's variables from one transaction to the next).
const NEXT_ROW: &str = "\\set n :n + 1\n\\set row :base + (:n - 1) * :clients + :client_id\n";

/// A scratch database with the broker's schema, dropped with this value.
#[derive(Debug)]
pub struct Pgbench {
    database: TestDatabase,
    dir: tempfile::TempDir,
    sample: Sample,
    /// The first row number not yet prepared nor taken by a registration.
    next_row: i64,
}

/// Why the PostgreSQL bounds are skipped, if they are: pgbench or psql is not installed.
pub fn missing() -> Option<String> {
    ["pgbench", "psql"].into_iter().find(|tool| Command::new(tool).arg("--version").output().is_err()).map(
        |tool| {
            format!(
                "{tool} not found (Debian: apt-get install postgresql-client): the pgbench bounds are skipped"
            )
        },
    )
}

impl Pgbench {
    /// Makes the scratch database, with the broker's migrations and the one partner.
    pub async fn start(sample: Sample) -> anyhow::Result<Option<Pgbench>> {
        let Some(database) = TestDatabase::create().await else { return Ok(None) };
        mla_store_postgres::migrate(&database.url()).await?;
        let bench = Pgbench { database, dir: tempfile::tempdir()?, sample, next_row: 1 };
        bench.psql(&format!(
            "INSERT INTO partners ({PARTNER_COLUMNS}) VALUES ('FR-MOJ', 'Central authority FR-MOJ', 'FR', \
             'STATE_AUTHORITY', '[\"UNTOC art. 18\"]', true, 1, now(), now());"
        ))?;
        Ok(Some(bench))
    }

    /// ACKNOWLEDGE of `calls` requests prepared in SUBMITTED (version 2, two events), not measured.
    pub fn transitions(&mut self, clients: usize, calls: usize) -> anyhow::Result<Figures> {
        let base = self.take_rows(calls);
        let content = quoted(&self.sample.content);
        self.psql(&format!(
            "INSERT INTO requests ({REQUEST_COLUMNS}, reference, request_type, title, partner_reference) \
             SELECT {id}, 'INCOMING', 2000, g, 'FR-MOJ', 'SUBMITTED', 2, '', NULL, NULL, now(), now(), now(), \
             NULL, '{content}', '[]', 'IN-2000-' || g, 'EVIDENCE', 'Load ' || g, '' \
             FROM generate_series({base}, {last}) AS g;\n\
             {EVENT_INSERT} SELECT -(2 * g + s), {id}, 'FR-MOJ', s, now(), 'FR-MOJ-system', \
             '{{partner}}', 'FR-MOJ', CASE s WHEN 1 THEN 'CREATE' ELSE 'SUBMIT' END, \
             CASE s WHEN 1 THEN NULL ELSE 'DRAFT' END, CASE s WHEN 1 THEN 'DRAFT' ELSE 'SUBMITTED' END, '{{}}', \
             s = 2, true, '', repeat('0', 64) \
             FROM generate_series({base}, {last}) AS g, generate_series(1, 2) AS s;",
            id = ID.replace(":row::bigint", "g::bigint"),
            last = base + calls as i64 - 1,
        ))?;
        let script = format!(
            "{NEXT_ROW}\
             SELECT fingerprint, response FROM idempotency WHERE scope = '[\"ncijc\",\"registrar-1\"]' AND key = 'ack-' || :row;\n\
             SELECT {REQUEST_COLUMNS} FROM requests WHERE id = {ID};\n\
             BEGIN;\n\
             INSERT INTO idempotency (scope, key, fingerprint, create_time) VALUES \
             ('[\"ncijc\",\"registrar-1\"]', 'ack-' || :row, :fingerprint, now()) ON CONFLICT (scope, key) DO NOTHING;\n\
             UPDATE requests SET version = version + 1, state = 'RECEIVED', request_type = 'EVIDENCE', \
             title = 'Load', assignee = '', due_at = now() + interval '30 days', clock_stopped_at = NULL, \
             update_time = now(), submit_time = submit_time, received_time = now(), content = :content::jsonb, \
             conditions = '[]'::jsonb, partner_reference = '' WHERE id = {ID} AND version = 2;\n\
             UPDATE idempotency SET response = :outcome::jsonb WHERE scope = '[\"ncijc\",\"registrar-1\"]' \
             AND key = 'ack-' || :row;\n\
             SELECT seq, hash FROM events WHERE request_id = {ID} ORDER BY seq DESC LIMIT 1;\n\
             SELECT cursor FROM (SELECT pg_current_xact_id()::text::bigint + event_cursor_base()) AS own (cursor), \
             pg_notify('{EVENTS_CHANNEL}', cursor::text) \\gset\n\
             {EVENT_INSERT} VALUES (:cursor, {ID}, 'FR-MOJ', 3, now(), 'registrar-1', '{{registrar}}', NULL, \
             'ACKNOWLEDGE', 'SUBMITTED', 'RECEIVED', :details, true, true, :hash, :hash);\n\
             COMMIT;\n"
        );
        let figures = self.run("transitions", &script, clients, calls, base)?;
        let done = clients * (calls / clients);
        let received = self.count(&format!(
            "SELECT count(*) FROM requests WHERE year = 2000 AND number >= {base} AND state = 'RECEIVED'"
        ))?;
        anyhow::ensure!(received == done, "pgbench acknowledged {received} requests of {done}");
        Ok(figures)
    }

    /// CreateRequest: registrations of new drafts, each taking the next registry number.
    pub fn creates(&mut self, clients: usize, calls: usize) -> anyhow::Result<Figures> {
        let base = self.take_rows(calls);
        let script = format!(
            "{NEXT_ROW}\
             SELECT fingerprint, response FROM idempotency WHERE scope = '[\"partner\",\"FR-MOJ\",\"FR-MOJ-system\"]' \
             AND key = 'create-' || :row;\n\
             SELECT {PARTNER_COLUMNS} FROM partners WHERE code = 'FR-MOJ';\n\
             BEGIN;\n\
             INSERT INTO idempotency (scope, key, fingerprint, create_time) VALUES \
             ('[\"partner\",\"FR-MOJ\",\"FR-MOJ-system\"]', 'create-' || :row, :fingerprint, now()) \
             ON CONFLICT (scope, key) DO NOTHING;\n\
             INSERT INTO reference_counters (direction, year, last) VALUES ('INCOMING', 2026, 1) \
             ON CONFLICT (direction, year) DO UPDATE SET last = reference_counters.last + 1 RETURNING last \\gset\n\
             INSERT INTO requests ({REQUEST_COLUMNS}, reference, request_type, title, partner_reference) VALUES \
             ({ID}, 'INCOMING', 2026, :last, 'FR-MOJ', 'DRAFT', 1, '', NULL, NULL, now(), now(), NULL, NULL, \
             :content::jsonb, '[]'::jsonb, 'IN-2026-' || :last, 'EVIDENCE', 'Load', '');\n\
             UPDATE idempotency SET response = :outcome::jsonb WHERE scope = '[\"partner\",\"FR-MOJ\",\"FR-MOJ-system\"]' \
             AND key = 'create-' || :row;\n\
             SELECT seq, hash FROM events WHERE request_id = {ID} ORDER BY seq DESC LIMIT 1;\n\
             SELECT cursor FROM (SELECT pg_current_xact_id()::text::bigint + event_cursor_base()) AS own (cursor), \
             pg_notify('{EVENTS_CHANNEL}', cursor::text) \\gset\n\
             {EVENT_INSERT} VALUES (:cursor, {ID}, 'FR-MOJ', 1, now(), 'FR-MOJ-system', '{{partner}}', 'FR-MOJ', \
             'CREATE', NULL, 'DRAFT', :details, false, true, '', :hash);\n\
             COMMIT;\n"
        );
        let before = self.count("SELECT count(*) FROM requests WHERE year = 2026")?;
        let figures = self.run("creates", &script, clients, calls, base)?;
        let created = self.count("SELECT count(*) FROM requests WHERE year = 2026")? - before;
        let done = clients * (calls / clients);
        anyhow::ensure!(created == done, "pgbench registered {created} requests of {done}");
        Ok(figures)
    }

    fn take_rows(&mut self, count: usize) -> i64 {
        let base = self.next_row;
        self.next_row += count as i64;
        base
    }

    /// Runs `script` `calls / clients` times per client and reads pgbench's per-transaction log.
    fn run(
        &self,
        name: &str,
        script: &str,
        clients: usize,
        calls: usize,
        base: i64,
    ) -> anyhow::Result<Figures> {
        let run = self.dir.path().join(format!("{name}-{clients}"));
        std::fs::create_dir_all(&run)?;
        let script_file = run.join("script.sql");
        std::fs::write(&script_file, script)?;
        let threads = clients.min(std::thread::available_parallelism().map_or(1, |n| n.get()));
        let sample = &self.sample;
        let output = Command::new("pgbench")
            .args(["--no-vacuum", "--protocol=prepared", "--log", "--client"])
            .arg(clients.to_string())
            .arg(format!("--jobs={threads}"))
            .arg(format!("--transactions={}", calls / clients))
            .arg(format!("--log-prefix={}", run.join("log").display()))
            .arg(format!("--file={}", script_file.display()))
            .args(["-D", "n=0", "-D"])
            .arg(format!("base={base}"))
            .arg("-D")
            .arg(format!("clients={clients}"))
            .arg("-D")
            .arg(format!("content={}", sample.content))
            .arg("-D")
            .arg(format!("outcome={}", sample.outcome))
            .arg("-D")
            .arg(format!("fingerprint={}", "f".repeat(64)))
            .args(["-D", "details={}", "-D"])
            .arg(format!("hash={}", "0".repeat(64)))
            .arg(self.database.url())
            .output()
            .context("running pgbench")?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() || stdout.contains("aborted") {
            bail!("pgbench failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
        }
        let per_second = stdout
            .lines()
            .find_map(|line| line.strip_prefix("tps = "))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|tps| tps.parse::<f64>().ok())
            .context("pgbench printed no tps")?;
        let latencies = logged_latencies(&run)?;
        Ok(Figures { per_second, ..Figures::of(Duration::from_secs(1), latencies) })
    }

    /// What a `SELECT count(*)` counts, through psql: the check that pgbench did write.
    fn count(&self, sql: &str) -> anyhow::Result<usize> {
        let output = Command::new("psql")
            .args(["--no-psqlrc", "--tuples-only", "--no-align", "--command", sql])
            .arg(self.database.url())
            .output()
            .context("running psql")?;
        if !output.status.success() {
            bail!("psql failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().parse()?)
    }

    /// Runs SQL through psql, for what is prepared and not measured.
    fn psql(&self, sql: &str) -> anyhow::Result<()> {
        let file: PathBuf = self.dir.path().join("prepare.sql");
        std::fs::write(&file, sql)?;
        let output = Command::new("psql")
            .args(["--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "--file"])
            .arg(&file)
            .arg(self.database.url())
            .output()
            .context("running psql")?;
        if !output.status.success() {
            bail!("psql failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        Ok(())
    }
}

/// Every transaction's latency from pgbench's logs (`--log`: one file per thread, the third field
/// in microseconds).
fn logged_latencies(run: &Path) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(run)? {
        let path = entry?.path();
        if !path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("log")) {
            continue;
        }
        for line in std::fs::read_to_string(&path)?.lines() {
            let micros: u64 = line.split_whitespace().nth(2).context("a pgbench log line")?.parse()?;
            latencies.push(Duration::from_micros(micros));
        }
    }
    Ok(latencies)
}

/// A string as an SQL literal's inside.
fn quoted(text: &str) -> String {
    text.replace('\'', "''")
}
