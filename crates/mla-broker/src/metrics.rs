//! The broker's `/metrics` page: the gRPC and REST figures the servers count as calls pass, and
//! the figures read at scrape time (the register, the database's pools, open event streams, the
//! build).

use std::sync::Arc;
use std::time::Duration;

use mla_app::TimeSource;
use mla_domain::State;
use mla_domain::request::Direction;
use mla_gateway::MetricsPage;
use mla_store::Store;
use prometheus::{IntGauge, IntGaugeVec, Opts, Registry};

/// How long a scrape waits for the register's counts: past it, the database is taken as down for
/// this scrape, and the page goes out without them.
const COUNT_TIMEOUT: Duration = Duration::from_secs(1);

/// A registry with `mla_build_info`: every page starts from one.
pub fn registry() -> prometheus::Result<Registry> {
    let registry = Registry::new();
    let build = IntGaugeVec::new(
        Opts::new("mla_build_info", "The running build: always 1, its version and commit as labels."),
        &["version", "commit"],
    )?;
    build
        .with_label_values(&[env!("CARGO_PKG_VERSION"), option_env!("MLA_BUILD_COMMIT").unwrap_or("unknown")])
        .set(1);
    registry.register(Box::new(build))?;
    Ok(registry)
}

/// The figures read from the store and the limits at each scrape.
#[derive(Clone)]
struct Readings {
    store: Arc<dyn Store>,
    clock: Arc<dyn TimeSource>,
    limits: mla_grpc::Limits,
    database_up: IntGauge,
    requests: IntGaugeVec,
    overdue: IntGaugeVec,
    in_use: IntGaugeVec,
    idle: IntGaugeVec,
    max: IntGaugeVec,
    streams: IntGauge,
}

impl Readings {
    fn new(
        registry: &Registry,
        store: Arc<dyn Store>,
        clock: Arc<dyn TimeSource>,
        limits: mla_grpc::Limits,
    ) -> prometheus::Result<Self> {
        let gauge = |name: &str, help: &str| IntGauge::new(name, help);
        let gauges =
            |name: &str, help: &str, labels: &[&str]| IntGaugeVec::new(Opts::new(name, help), labels);
        let readings = Readings {
            store,
            clock,
            limits,
            database_up: gauge(
                "mla_database_up",
                "1 if the database answered this scrape's counts in time, else 0.",
            )?,
            requests: gauges(
                "mla_requests",
                "Requests in the register, by direction and state (absent while the database is down).",
                &["direction", "state"],
            )?,
            overdue: gauges(
                "mla_requests_overdue",
                "Active requests whose clock runs and whose due date has passed (absent while the database is down).",
                &[],
            )?,
            in_use: gauges(
                "mla_database_connections_in_use",
                "Connections of a pool lent out now.",
                &["pool"],
            )?,
            idle: gauges(
                "mla_database_connections_idle",
                "Connections of a pool open and idle now.",
                &["pool"],
            )?,
            max: gauges("mla_database_connections_max", "The most connections a pool may open.", &["pool"])?,
            streams: gauge(
                "mla_watch_streams_open",
                "WatchEvents streams open now (REST live feeds included).",
            )?,
        };
        registry.register(Box::new(readings.database_up.clone()))?;
        registry.register(Box::new(readings.requests.clone()))?;
        registry.register(Box::new(readings.overdue.clone()))?;
        registry.register(Box::new(readings.in_use.clone()))?;
        registry.register(Box::new(readings.idle.clone()))?;
        registry.register(Box::new(readings.max.clone()))?;
        registry.register(Box::new(readings.streams.clone()))?;
        Ok(readings)
    }

    async fn read(&self) {
        self.streams.set(saturating(self.limits.open_streams()));
        for pool in self.store.pool_use() {
            self.in_use.with_label_values(&[pool.pool]).set(i64::from(pool.in_use));
            self.idle.with_label_values(&[pool.pool]).set(i64::from(pool.idle));
            self.max.with_label_values(&[pool.pool]).set(i64::from(pool.max));
        }
        match tokio::time::timeout(COUNT_TIMEOUT, self.store.count_requests(self.clock.now())).await {
            Ok(Ok(counts)) => {
                self.database_up.set(1);
                // Every pair is on the page, zeros included, so that a rate or an alert sees a pair
                // from its first request on.
                for direction in Direction::ALL {
                    for state in State::ALL {
                        let count = saturating(counts.of(*direction, *state));
                        self.requests.with_label_values(&[direction.as_str(), state.as_str()]).set(count);
                    }
                }
                self.overdue.with_label_values::<&str>(&[]).set(saturating(counts.overdue));
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "the register could not be counted for /metrics");
                self.database_down();
            }
            Err(_) => {
                tracing::warn!(timeout = ?COUNT_TIMEOUT, "the register was not counted in time for /metrics");
                self.database_down();
            }
        }
    }

    /// Leaves the register's figures out of the page rather than showing stale ones.
    fn database_down(&self) {
        self.database_up.set(0);
        self.requests.reset();
        self.overdue.reset();
    }
}

fn saturating(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// The page of a broker serving gRPC and the gateway: the calls' figures registered for the gRPC
/// layers to count into, and the readings taken at each scrape.
pub fn broker_page(
    store: Arc<dyn Store>,
    clock: Arc<dyn TimeSource>,
    limits: mla_grpc::Limits,
) -> prometheus::Result<(MetricsPage, mla_grpc::GrpcMetrics)> {
    let registry = registry()?;
    let grpc = mla_grpc::GrpcMetrics::new(&registry)?;
    let readings = Readings::new(&registry, store, clock, limits)?;
    let page = MetricsPage::new(registry)?.refreshing(move || {
        let readings = readings.clone();
        async move { readings.read().await }
    });
    Ok((page, grpc))
}
