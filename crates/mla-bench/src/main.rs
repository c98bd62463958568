//! The load harness the project owns: boots the broker in-process (the end-to-end harness's
//! `Broker`), drives transitions, creates and reads at several client counts over gRPC and REST, and
//! prints each figure beside its physical bound measured in the same run, as a ratio, against the
//! targets of issue 10.
//!
//!     cargo run --release -p mla-bench -- --backend both --clients 1,8,32 --calls 1000

mod bare;
mod documents;
mod feed;
mod load;
mod pgbench;
mod process;
mod sqlite_loop;
mod workloads;

use std::time::Duration;

use clap::{Parser, ValueEnum};
use mla_tests::{Backend, Broker};
use tonic::transport::Channel;

use crate::load::Figures;
use crate::pgbench::Pgbench;
use crate::sqlite_loop::SqliteLoop;
use crate::workloads::Target;

#[derive(Debug, Parser)]
#[command(
    about = "Load the broker and print each figure beside its physical bound, measured in the same run."
)]
struct Args {
    /// The databases to run the broker on.
    #[arg(long, value_enum, default_value = "both", env = "MLA_BENCH_BACKEND")]
    backend: Backends,
    /// The concurrent client counts, each measured in turn.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32", env = "MLA_BENCH_CLIENTS")]
    clients: Vec<usize>,
    /// Writes (transitions, creates) per measurement.
    #[arg(long, default_value_t = 600, env = "MLA_BENCH_CALLS")]
    calls: usize,
    /// Reads per measurement (a tenth more first, to warm up).
    #[arg(long, default_value_t = 4000, env = "MLA_BENCH_READ_CALLS")]
    read_calls: usize,
    /// The workloads to run.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "transitions,creates,reads,feed",
        env = "MLA_BENCH_ONLY"
    )]
    only: Vec<Workload>,
    /// Transitions per second offered while the feed's streams follow.
    #[arg(long, default_value_t = 1000, env = "MLA_BENCH_FEED_RATE")]
    feed_rate: usize,
    /// Seconds the feed's writes are offered for.
    #[arg(long, default_value_t = 10, env = "MLA_BENCH_FEED_SECONDS")]
    feed_seconds: usize,
    /// The size of the document the documents workload moves, in MiB.
    #[arg(long, default_value_t = 1024, env = "MLA_BENCH_DOCUMENT_MIB")]
    document_mib: usize,
    /// Internal: serve a broker for the feed workload, in this process, until standard input closes.
    #[arg(long, value_enum, hide = true)]
    serve_broker: Option<Backends>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backends {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Workload {
    Transitions,
    Creates,
    Reads,
    /// The live feed and the broker's memory, on a broker in a process of its own.
    Feed,
    /// One large document up and down over both faces beside the disk's speed (not run by default).
    Documents,
}

/// What a figure should reach against its bound (issue 10).
#[derive(Debug, Clone, Copy)]
enum Goal {
    /// At least this share of the bound's throughput.
    Share(f64),
    /// At least this share of the bound's throughput, with a p99 at most this multiple of its p99.
    ShareAndP99(f64, f64),
    /// No target was set; the ratio is printed for the record.
    None,
}

impl Goal {
    fn describe(self) -> String {
        match self {
            Goal::Share(share) => format!(">= {share}"),
            Goal::ShareAndP99(share, p99) => format!(">= {share}, p99 <= {p99}x"),
            Goal::None => "-".into(),
        }
    }

    fn met(self, measured: &Figures, bound: &Figures) -> &'static str {
        let share = measured.per_second / bound.per_second;
        let p99 = measured.p99.as_secs_f64() / bound.p99.as_secs_f64();
        let met = match self {
            Goal::Share(least) => share >= least,
            Goal::ShareAndP99(least, most) => share >= least && p99 <= most,
            Goal::None => return "-",
        };
        if met { "yes" } else { "NO" }
    }
}

/// One line of the report: a measurement beside its bound.
#[derive(Debug)]
struct Line {
    workload: &'static str,
    backend: &'static str,
    face: &'static str,
    clients: usize,
    measured: Figures,
    bound_name: &'static str,
    bound: Option<Figures>,
    goal: Goal,
}

impl Line {
    fn cells(&self) -> Vec<String> {
        let (bound, ratio, met) = match &self.bound {
            Some(bound) => (
                format!("{} {:.0}", self.bound_name, bound.per_second),
                format!(
                    "{:.2} (p99 {:.1}x)",
                    self.measured.per_second / bound.per_second,
                    self.measured.p99.as_secs_f64() / bound.p99.as_secs_f64()
                ),
                self.goal.met(&self.measured, bound).to_owned(),
            ),
            None => (format!("{} skipped", self.bound_name), "-".into(), "-".into()),
        };
        vec![
            self.workload.into(),
            self.backend.into(),
            self.face.into(),
            self.clients.to_string(),
            format!("{:.0}", self.measured.per_second),
            format!("{:.2} ms", ms(self.measured.p50)),
            format!("{:.2} ms", ms(self.measured.p99)),
            bound,
            ratio,
            self.goal.describe(),
            met,
        ]
    }

    /// Prints the line as soon as it is measured, with the bound's own latencies.
    fn announce(&self) {
        let figures = |f: &Figures| {
            format!("{:>7.0}/s p50 {:>6.2} ms p99 {:>6.2} ms", f.per_second, ms(f.p50), ms(f.p99))
        };
        let bound = self.bound.as_ref().map_or("skipped".into(), figures);
        println!(
            "{:<11} {:<8} {:<14} {:>2} clients: {}  | {:<10} {}",
            self.workload,
            self.backend,
            self.face,
            self.clients,
            figures(&self.measured),
            self.bound_name,
            bound
        );
    }
}

/// A duration in milliseconds.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match args.serve_broker {
        Some(Backends::Sqlite) => return process::serve(Backend::Sqlite).await,
        Some(Backends::Postgres) => return process::serve(Backend::Postgres).await,
        Some(Backends::Both) => anyhow::bail!("--serve-broker serves one backend"),
        None => {}
    }
    anyhow::ensure!(
        args.clients.iter().all(|&c| c >= 1 && c <= args.calls),
        "each client count must be between 1 and --calls"
    );
    // The commit of the tree this binary was built from, wherever it is run from.
    let commit = std::process::Command::new("git")
        .args(["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map_or("unknown".into(), |out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "mla-bench at commit {commit}, {cores} cores; clients {:?}, {} writes and {} reads per measurement",
        args.clients, args.calls, args.read_calls
    );
    let backends: &[Backend] = match args.backend {
        Backends::Sqlite => &[Backend::Sqlite],
        Backends::Postgres => &[Backend::Postgres],
        Backends::Both => &[Backend::Sqlite, Backend::Postgres],
    };
    let mut lines = Vec::new();
    let mut feeds = Vec::new();
    let mut moved = Vec::new();
    let in_process = [Workload::Transitions, Workload::Creates, Workload::Reads];
    for &backend in backends {
        if backend == Backend::Postgres && mla_store_postgres::testing::skipped() {
            println!("PostgreSQL skipped (MLA_SKIP_POSTGRES=1)");
            continue;
        }
        let name = backend_name(backend);
        if args.only.iter().any(|w| in_process.contains(w)) {
            let broker = Broker::start_with(backend, mla_tests::without_limits)
                .await
                .expect("PostgreSQL is not skipped");
            let target = Target::start(broker).await;
            lines.extend(run_backend(&args, backend, &target).await?);
            target.broker.expect("in this process").stop().await;
        }
        if args.only.contains(&Workload::Feed) {
            let figures = feed::measure(name, args.feed_rate, args.feed_seconds).await?;
            feed::print(name, &figures);
            feeds.push((name, figures));
        }
        if args.only.contains(&Workload::Documents) {
            let transfers = documents::measure(name, args.document_mib).await?;
            documents::print(name, args.document_mib, &transfers);
            moved.push((name, transfers));
        }
    }
    print_table(&lines, &commit, cores);
    for (name, figures) in &feeds {
        feed::print(name, figures);
    }
    for (name, transfers) in &moved {
        documents::print(name, args.document_mib, transfers);
    }
    Ok(())
}

/// Every workload asked for on one backend, each client count beside its bound.
async fn run_backend(args: &Args, backend: Backend, target: &Target) -> anyhow::Result<Vec<Line>> {
    let name = backend_name(backend);
    let mut lines = Vec::new();
    let mut report = |line: Line| {
        line.announce();
        lines.push(line);
    };
    let writes = args.only.iter().any(|w| matches!(w, Workload::Transitions | Workload::Creates));
    let sample = target.sample().await;
    // The write bounds: a plain SQLite loop, or pgbench on a scratch PostgreSQL database.
    let mut sqlite_bound = None;
    let mut pg_bound = None;
    if writes {
        // Not measured: a tenth of a measurement's writes through each face first, so that the first
        // measurement does not pay for cold connections, caches and pools.
        let (clients, warm) = (args.clients.iter().copied().max().unwrap_or(1), (args.calls / 10).max(1));
        target.transitions(clients.min(warm), target.submitted(warm).await).await;
        target.creates_over_grpc(clients.min(warm), warm).await;
        target.creates_over_rest(clients.min(warm), warm).await;
        match backend {
            Backend::Sqlite => sqlite_bound = Some(SqliteLoop::start(sample.clone()).await?),
            Backend::Postgres => match pgbench::missing() {
                Some(why) => println!("{why}"),
                None => pg_bound = Pgbench::start(sample.clone()).await?,
            },
        }
    }
    let (bound_name, write_goal) = match backend {
        Backend::Sqlite => ("loop", Goal::Share(0.7)),
        Backend::Postgres => ("pgbench", Goal::ShareAndP99(0.8, 2.0)),
    };
    let reads = if args.only.contains(&Workload::Reads) { Some(Reads::start(target).await) } else { None };
    for &clients in &args.clients {
        let line = |workload, face, measured, bound_name, bound, goal| Line {
            workload,
            backend: name,
            face,
            clients,
            measured,
            bound_name,
            bound,
            goal,
        };
        if args.only.contains(&Workload::Transitions) {
            let ids = target.submitted(args.calls).await;
            let measured = target.transitions(clients, ids).await;
            let bound = match (&mut sqlite_bound, &mut pg_bound) {
                (Some(sqlite), _) => Some(sqlite.transitions(args.calls)?),
                (None, Some(pg)) => Some(pg.transitions(clients, args.calls)?),
                (None, None) => None,
            };
            report(line("transitions", "gRPC", measured, bound_name, bound, write_goal));
        }
        if args.only.contains(&Workload::Creates) {
            let grpc = target.creates_over_grpc(clients, args.calls).await;
            let rest = target.creates_over_rest(clients, args.calls).await;
            let bound = match (&mut sqlite_bound, &mut pg_bound) {
                (Some(sqlite), _) => Some(sqlite.creates(args.calls)?),
                (None, Some(pg)) => Some(pg.creates(clients, args.calls)?),
                (None, None) => None,
            };
            // The issue sets a target for creates against pgbench, not against the SQLite loop.
            let goal = match backend {
                Backend::Sqlite => Goal::None,
                Backend::Postgres => write_goal,
            };
            report(line("creates", "gRPC", grpc, bound_name, bound, goal));
            report(line("creates", "REST", rest, bound_name, bound, goal));
            report(line("creates", "REST vs gRPC", rest, "gRPC", Some(grpc), Goal::Share(0.9)));
        }
        if let Some(reads) = &reads {
            for (face, measured, bound_name, bound, goal) in
                reads.measure(target, clients, args.read_calls).await
            {
                report(line("reads", face, measured, bound_name, Some(bound), goal));
            }
        }
    }
    Ok(lines)
}

/// What the reads are made against: one request, the broker's gRPC channel, and the bare servers
/// answering that request's bytes from memory.
#[derive(Debug)]
struct Reads {
    id: String,
    broker: Channel,
    bare_grpc: Channel,
    bare_rest: String,
}

impl Reads {
    async fn start(target: &Target) -> Reads {
        let (id, answer, body) = target.read_sample().await;
        let bare_grpc = Channel::from_shared(bare::grpc_server(answer).await).expect("a URL");
        Reads {
            id,
            broker: target.channel.clone(),
            bare_grpc: bare_grpc.connect().await.expect("a connection"),
            bare_rest: bare::rest_server(body).await,
        }
    }

    /// GetRequest over gRPC and GET over REST, each beside its bare server, and REST beside gRPC.
    async fn measure(
        &self,
        target: &Target,
        clients: usize,
        calls: usize,
    ) -> [(&'static str, Figures, &'static str, Figures, Goal); 3] {
        let grpc = target.reads_over_grpc(&self.broker, &self.id, clients, calls).await;
        let bare_grpc = target.reads_over_grpc(&self.bare_grpc, &self.id, clients, calls).await;
        let rest = target.reads_over_rest(&target.gateway, &self.id, clients, calls).await;
        let bare_rest = target.reads_over_rest(&self.bare_rest, &self.id, clients, calls).await;
        [
            ("gRPC", grpc, "bare tonic", bare_grpc, Goal::Share(0.5)),
            ("REST", rest, "bare axum", bare_rest, Goal::Share(0.5)),
            ("REST vs gRPC", rest, "gRPC", grpc, Goal::Share(0.9)),
        ]
    }
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// The closing table, markdown-like.
fn print_table(lines: &[Line], commit: &str, cores: usize) {
    let header = [
        "workload",
        "backend",
        "face",
        "clients",
        "ops/s",
        "p50",
        "p99",
        "bound ops/s",
        "ratio",
        "target",
        "met?",
    ];
    let rows: Vec<Vec<String>> = lines.iter().map(Line::cells).collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|row| row[i].len()).chain([header[i].len()]).max().unwrap_or(0))
        .collect();
    let print = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, &w)| format!("{cell:<w$}")).collect();
        println!("| {} |", padded.join(" | "));
    };
    println!(
        "\nmla-bench at commit {commit}, {cores} cores (ratio: the figure over its bound; p99 likewise)\n"
    );
    print(header.iter().map(|h| (*h).to_owned()).collect());
    print(widths.iter().map(|&w| "-".repeat(w)).collect());
    for row in rows {
        print(row);
    }
}
