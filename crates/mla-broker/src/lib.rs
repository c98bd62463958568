//! The mla-broker process: configuration, opening the store, choosing the token keys, and serving the
//! gRPC API until shutdown. The binary (`main.rs`) is a thin shell over this library, so that
//! end-to-end tests boot exactly what production boots, in-process, on a port of their choosing.

pub mod cli;
pub mod config;
pub mod demo;
pub mod documents;
pub mod metrics;
pub mod telemetry;
pub mod verify;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use mla_app::{App, SystemClock, TimeSource};
use mla_auth::{AuthConfig, DEV_AUDIENCE, DEV_ISSUER, KeySource, Verifier};
use mla_domain::Role;
use mla_gateway::{ConsoleConfig, DevelopmentSignIn, GatewayConfig, OidcClient, Readiness};
use mla_store::Store;
use mla_store::content::{ContentStore, FileContent};
use mla_store_postgres::{PostgresStore, Schema};
use mla_store_sqlite::SqliteStore;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Config, ConfigLayer, LogFormat, Secret};

/// How often expired idempotency keys are swept (the first sweep runs at start).
const SWEEP_PERIOD: Duration = Duration::from_secs(3600);
/// A database that does not answer a readiness ping within this is down, whatever the pool would
/// wait for.
const PING_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a replica waiting for the migration job looks at the schema again.
const SCHEMA_POLL: Duration = Duration::from_secs(2);

/// Boots the broker on already bound listeners and serves until `shutdown` is cancelled. Stopping
/// then goes in two steps: at once, readiness fails (`/readyz` 503, gRPC health NOT_SERVING) while
/// everything is still served, so that load balancers stop sending; after `shutdown_delay_seconds`,
/// the drain: the listeners close, calls in flight finish, live event streams end, the store closes.
///
/// Tests bind `127.0.0.1:0` and pass the listener, so that they know the port before the server runs
/// and never race another test for one. `serve` binds `config.grpc_addr` and calls this.
///
/// `shutdown` is cancelled when this returns, whatever the reason, so that nothing the caller hung on
/// it outlives the server.
pub async fn run(config: Config, listeners: Listeners, shutdown: CancellationToken) -> anyhow::Result<()> {
    run_with_clock(config, listeners, Arc::new(SystemClock), shutdown).await
}

/// [`run`], reading the time from `clock` instead of the system's: tests boot the very same broker
/// with a clock they move by hand, to check deadlines to the microsecond.
pub async fn run_with_clock(
    config: Config,
    listeners: Listeners,
    clock: Arc<dyn TimeSource>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let _cancel_on_return = shutdown.clone().drop_guard();
    config.validate()?;
    let grpc_addr = listeners.grpc.local_addr().context("cannot read the gRPC listener's address")?;
    let http_addr = listeners.http.local_addr().context("cannot read the HTTP listener's address")?;
    if config.is_development() {
        refuse_development_off_loopback(&[("grpc_addr", grpc_addr), ("http_addr", http_addr)])?;
    }
    let verifier = build_verifier(&config).await?;
    let tls = tls_config(&config)?;
    let schema = if config.migrate_on_start { Schema::Migrate } else { Schema::Expect };
    let Listeners { grpc: grpc_listener, http: mut http_listener } = listeners;
    if let Some(url) =
        config.database_url.as_deref().filter(|url| is_postgres(url) && schema == Schema::Expect)
    {
        match await_migrations(http_listener, url, &shutdown).await? {
            Some(listener) => http_listener = listener,
            None => return Ok(()),
        }
    }
    let backend = Backend::open(config.database_url.as_deref(), &config.data_dir, schema).await?;
    let content = backend.content(&config.data_dir).await?;
    // The drain begins `shutdown_delay` after `shutdown`; the application's live streams end with it.
    let draining = CancellationToken::new();
    let app = App::new(backend.store(), config.sla(), draining.clone())
        .with_clock(clock.clone())
        .with_content(content, config.max_document_bytes)
        .with_signing_key(signing_key(&config)?);
    // Where mutual TLS is configured, partners must present their certificate: on gRPC, and through
    // the in-process gateway too, which has no certificate to show.
    let authentication = mla_grpc::Authentication::new(verifier)
        .requiring_partner_certificates(config.tls_client_ca.is_some());
    // One allowance per caller, counted alike for gRPC and the in-process gateway.
    let limits = mla_grpc::Limits::new(config.limits());
    // One page of metrics, served by the gateway; gRPC calls are counted there by door.
    let (metrics, grpc_metrics) = metrics::broker_page(backend.store(), clock, limits.clone())
        .context("cannot register the metrics")?;
    let layers = mla_grpc::Layers { authentication, limits, metrics: grpc_metrics };

    // Ready: not stopping, and the database answers. One answer for gRPC health and `/readyz`.
    let store = backend.store();
    let stopping = shutdown.clone();
    let ready = move || {
        let (store, stopping) = (store.clone(), stopping.is_cancelled());
        async move { !stopping && matches!(tokio::time::timeout(PING_TIMEOUT, store.ping()).await, Ok(Ok(()))) }
    };
    // The REST gateway calls the same services in-process, through the same authentication layer:
    // no network hop, and no rule of its own.
    let gateway = mla_gateway::router(
        mla_grpc::in_process(app.clone(), layers.clone()),
        GatewayConfig {
            readiness: Some(Readiness::new(ready.clone())),
            metrics: Some(metrics),
            console: console_config(&config)?,
            ..GatewayConfig::default()
        },
    );

    tracing::info!(
        grpc_addr = %grpc_addr,
        http_addr = %http_addr,
        tls = tls.is_some(),
        mutual_tls = config.tls_client_ca.is_some(),
        database = %redact_url(&config.database_url()),
        "mla-broker is serving gRPC and the REST gateway"
    );
    let sweeper = app.clone();
    let retention = config.idempotency_retention();
    let sweeping = tokio::spawn(async move { sweeper.keep_sweeping(retention, SWEEP_PERIOD).await });
    let delay = config.shutdown_delay();
    let drain_later = tokio::spawn({
        let (shutdown, draining) = (shutdown.clone(), draining.clone());
        async move {
            shutdown.cancelled().await;
            if !delay.is_zero() {
                tracing::info!(?delay, "stopping: not ready any more, draining after the delay");
                tokio::time::sleep(delay).await;
            }
            draining.cancel();
        }
    });
    let connections = mla_grpc::Connections { tls, keepalive: config.grpc_keepalive() };
    let grpc =
        mla_grpc::serve(app, layers, grpc_listener, connections, ready, draining.clone().cancelled_owned());
    let http = mla_gateway::serve(http_listener, gateway, draining.clone().cancelled_owned());
    // If either server fails, the other is told to stop too, so the process never half-serves.
    let (grpc, http) = tokio::join!(
        async {
            let served = grpc.await;
            draining.cancel();
            served
        },
        async {
            let served = http.await;
            draining.cancel();
            served
        }
    );
    drain_later.abort();
    // The sweeper ends on the same drain signal; wait for it so that it never outlives the pools.
    let _ = sweeping.await;
    // Close the pools whether or not a server failed: SQLite checkpoints its WAL on a clean close.
    backend.close().await;
    grpc.context("the gRPC server stopped with an error")?;
    http.context("the REST gateway stopped with an error")?;
    tracing::info!("mla-broker stopped after draining");
    Ok(())
}

/// A replica that leaves migrations to a job waits for them before it opens the store: alive but not
/// ready, its HTTP listener answering the probes meanwhile (`/healthz` 200, `/readyz` 503). Returns
/// the listener to serve on once the schema is current, or `None` if `shutdown` came first.
async fn await_migrations(
    http: TcpListener,
    url: &str,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<TcpListener>> {
    // The probes are served on a second handle of the same socket, closed when the wait ends.
    let socket = http.into_std().context("cannot share the HTTP listener")?;
    let probes = TcpListener::from_std(socket.try_clone().context("cannot share the HTTP listener")?)?;
    let http = TcpListener::from_std(socket)?;
    let migrated = CancellationToken::new();
    let reason = "the broker waits for its database schema to be migrated (mla-broker migrate)";
    let answering = tokio::spawn(mla_gateway::serve(
        probes,
        mla_gateway::while_unready(reason),
        migrated.clone().cancelled_owned(),
    ));
    let mut reported = None;
    let outcome = loop {
        let pending = mla_store_postgres::pending_migrations(url).await.map_err(|e| e.to_string());
        if pending == Ok(0) {
            break Some(http);
        }
        if reported.as_ref() != Some(&pending) {
            match &pending {
                Ok(count) => {
                    tracing::info!(pending = count, "waiting for the migration job (mla-broker migrate)")
                }
                Err(error) => tracing::warn!(%error, "waiting for the database"),
            }
            reported = Some(pending);
        }
        tokio::select! {
            () = shutdown.cancelled() => break None,
            () = tokio::time::sleep(SCHEMA_POLL) => {}
        }
    };
    migrated.cancel();
    let _ = answering.await;
    Ok(outcome)
}

/// The sockets `run` serves: the gRPC API and the REST gateway.
#[derive(Debug)]
pub struct Listeners {
    pub grpc: TcpListener,
    pub http: TcpListener,
}

/// `mla-broker serve`: refuses development mode off loopback before binding anything, binds
/// `config.grpc_addr` and `config.http_addr`, then [`run`]s.
pub async fn serve(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    config.validate()?;
    if config.is_development() {
        refuse_development_off_loopback(&[("grpc_addr", config.grpc_addr), ("http_addr", config.http_addr)])?;
    }
    let grpc = TcpListener::bind(config.grpc_addr)
        .await
        .with_context(|| format!("cannot listen on {} (grpc_addr)", config.grpc_addr))?;
    let http = TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("cannot listen on {} (http_addr)", config.http_addr))?;
    run(config, Listeners { grpc, http }, shutdown).await
}

/// `mla-broker gateway --upstream URL`: the REST gateway alone, in front of a broker elsewhere (over
/// TLS when the URL is https, trusting `upstream_ca` besides the system's roots).
pub async fn gateway(
    config: Config,
    upstream: &str,
    upstream_ca: Option<&Path>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("cannot listen on {} (http_addr)", config.http_addr))?;
    // The console signs in at the identity provider only: a development token minted here would be
    // this machine's, not the upstream broker's.
    let console = ConsoleConfig { oidc: console_oidc(&config), development: None };
    gateway_on(listener, upstream.to_owned(), upstream_ca.map(Path::to_owned), console, shutdown).await
}

/// The gateway of [`gateway`] on an already bound listener (tests bind port 0).
pub async fn gateway_on(
    listener: TcpListener,
    upstream: String,
    upstream_ca: Option<std::path::PathBuf>,
    console: ConsoleConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let ca = match &upstream_ca {
        Some(path) => Some(std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?),
        None => None,
    };
    let channel = mla_gateway::upstream_channel(&upstream, ca.as_deref())
        .with_context(|| format!("cannot use {upstream} as the upstream broker"))?;
    let http_addr = listener.local_addr().context("cannot read the HTTP listener's address")?;
    tracing::info!(%http_addr, upstream, "the REST gateway is serving");
    // The gateway alone has its own figures and the build's; the broker's are on the broker's page.
    let metrics =
        mla_gateway::MetricsPage::new(metrics::registry()?).context("cannot register the metrics")?;
    mla_gateway::serve(
        listener,
        mla_gateway::router(
            channel,
            GatewayConfig { metrics: Some(metrics), console, ..GatewayConfig::default() },
        ),
        shutdown.cancelled_owned(),
    )
    .await
    .context("the REST gateway stopped with an error")?;
    tracing::info!("the REST gateway stopped after draining");
    Ok(())
}

/// Opens the store named by `url` (`sqlite://PATH`, `sqlite:PATH` or `postgres://...`; empty means
/// the SQLite file `broker.db` in `data_dir`) and brings its schema up to date.
pub async fn open_store(url: &str, data_dir: &Path) -> anyhow::Result<Arc<dyn Store>> {
    let url = (!url.trim().is_empty()).then_some(url);
    Ok(Backend::open(url, data_dir, Schema::Migrate).await?.store())
}

/// The documents' content store of the deployment named by `url` (as in [`open_store`]): PostgreSQL's,
/// or the files under `data_dir`.
pub async fn open_content(url: &str, data_dir: &Path) -> anyhow::Result<Arc<dyn ContentStore>> {
    let url = (!url.trim().is_empty()).then_some(url);
    Backend::open(url, data_dir, Schema::Migrate).await?.content(data_dir).await
}

/// Applies the migrations of the store named by `url` (as in [`open_store`]) and closes it.
pub async fn migrate(url: Option<&str>, data_dir: &Path) -> anyhow::Result<()> {
    match url {
        // PostgreSQL has a migrate-only entry point that does not start following event announcements;
        // sqlx's migrator holds an advisory lock, so a job and a starting replica take turns.
        Some(url) if is_postgres(url) => mla_store_postgres::migrate(url)
            .await
            .with_context(|| format!("cannot migrate the PostgreSQL database {}", redact_url(url))),
        // Opening a SQLite store applies its embedded migrations; there is nothing else to do.
        _ => {
            Backend::open(url, data_dir, Schema::Migrate).await?.close().await;
            Ok(())
        }
    }
}

/// The file of the SQLite database the configuration names, if it names one on disk (not PostgreSQL,
/// not an in-memory database).
pub fn sqlite_file(config: &Config) -> Option<std::path::PathBuf> {
    match config.database_url.as_deref() {
        None => Some(config.default_sqlite_path()),
        Some(url) => {
            let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
            let path = rest.split_once('?').map_or(rest, |(path, _)| path);
            (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
        }
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// One concrete store, kept so that it can be closed cleanly (the `Store` trait has no `close`).
#[derive(Debug)]
enum Backend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Backend {
    /// Opens the store; `schema` says whether a PostgreSQL schema is migrated or expected current
    /// (SQLite's is always migrated: its database is this process's own).
    async fn open(url: Option<&str>, data_dir: &Path, schema: Schema) -> anyhow::Result<Backend> {
        match url {
            None => {
                // The default database lives in the data directory; a plain path (not a URL) so that
                // a directory name with `%` or `?` in it means what it says.
                std::fs::create_dir_all(data_dir)
                    .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
                let path = data_dir.join(config::DEFAULT_SQLITE_FILE);
                let store = SqliteStore::open(&path.to_string_lossy())
                    .await
                    .with_context(|| format!("cannot open the SQLite database {}", path.display()))?;
                Ok(Backend::Sqlite(store))
            }
            Some(url) if url.starts_with("sqlite:") => {
                let store = SqliteStore::open(url)
                    .await
                    .with_context(|| format!("cannot open the SQLite database {url}"))?;
                Ok(Backend::Sqlite(store))
            }
            Some(url) if is_postgres(url) => {
                let store = PostgresStore::open(url, schema)
                    .await
                    .with_context(|| format!("cannot open the PostgreSQL database {}", redact_url(url)))?;
                Ok(Backend::Postgres(store))
            }
            Some(url) => {
                bail!("the database URL {} is neither sqlite://PATH nor postgres://...", redact_url(url))
            }
        }
    }

    fn store(&self) -> Arc<dyn Store> {
        match self {
            Backend::Sqlite(store) => Arc::new(store.clone()),
            Backend::Postgres(store) => Arc::new(store.clone()),
        }
    }

    /// Where documents' content lives: in PostgreSQL, for every replica; beside SQLite, as files
    /// under the data directory (`content/`).
    async fn content(&self, data_dir: &Path) -> anyhow::Result<Arc<dyn ContentStore>> {
        Ok(match self {
            Backend::Sqlite(_) => {
                let root = data_dir.join(config::CONTENT_FOLDER);
                let content = FileContent::open(&root)
                    .with_context(|| format!("cannot use {} for documents' content", root.display()))?;
                Arc::new(content)
            }
            Backend::Postgres(store) => {
                Arc::new(store.content().await.context("cannot use PostgreSQL for documents' content")?)
            }
        })
    }

    async fn close(&self) {
        match self {
            Backend::Sqlite(store) => store.close().await,
            Backend::Postgres(store) => store.close().await,
        }
    }
}

/// The issuer and audience tokens must carry. One rule for `serve` and `token`, so that a minted
/// development token is always one the broker accepts: the configured values, else the development
/// ones (`mla-broker-dev`, `mla-broker`).
pub fn issuer_and_audience(config: &Config) -> (String, String) {
    (
        config.jwt_issuer.clone().unwrap_or_else(|| DEV_ISSUER.to_owned()),
        config.jwt_audience.clone().unwrap_or_else(|| DEV_AUDIENCE.to_owned()),
    )
}

/// What the verifier is built from: the configured key source, or (development mode) the secret in
/// the data directory, created on first use.
pub fn auth_config(config: &Config) -> anyhow::Result<AuthConfig> {
    let (issuer, audience) = issuer_and_audience(config);
    let keys = if let Some(secret) = &config.jwt_hs256_secret {
        KeySource::Hs256Secret(secret.expose().as_bytes().to_vec())
    } else if let Some(path) = &config.jwt_keys_file {
        KeySource::File(path.clone())
    } else if let Some(url) = &config.jwt_jwks_url {
        KeySource::jwks_url(url.clone())
    } else {
        KeySource::Hs256Secret(dev_secret(config)?)
    };
    Ok(AuthConfig::new(issuer, audience, keys))
}

fn dev_secret(config: &Config) -> anyhow::Result<Vec<u8>> {
    mla_auth::dev_secret(&config.data_dir).with_context(|| {
        format!("cannot read or create the development token secret in {}", config.data_dir.display())
    })
}

/// The broker's signing key: the configured file, or the development key under the data directory.
pub fn signing_key(config: &Config) -> anyhow::Result<mla_auth::BrokerKey> {
    match &config.signing_key_file {
        Some(path) => mla_auth::BrokerKey::from_file(path)
            .with_context(|| format!("cannot use the signing key {}", path.display())),
        None => mla_auth::BrokerKey::development(&config.data_dir).with_context(|| {
            format!("cannot read or create the development signing key in {}", config.data_dir.display())
        }),
    }
}

/// Builds the token verifier, warning loudly in development mode and when an HS256 secret is used.
pub async fn build_verifier(config: &Config) -> anyhow::Result<Verifier> {
    if config.is_development() {
        tracing::warn!(
            data_dir = %config.data_dir.display(),
            "DEVELOPMENT MODE: no token key is configured (MLA_JWT_HS256_SECRET, MLA_JWT_KEYS_FILE or \
             MLA_JWT_JWKS_URL), so tokens are verified with a development secret kept in the data \
             directory, which anyone who can read it can use to mint any token. Listening on loopback \
             only. Never run this way in production."
        );
    } else if config.jwt_hs256_secret.is_some() {
        tracing::warn!(
            "tokens are verified with a shared HS256 secret: whoever can verify can also mint; \
             prefer MLA_JWT_JWKS_URL or MLA_JWT_KEYS_FILE in production"
        );
    }
    let auth = auth_config(config)?;
    Verifier::new(auth).await.context("cannot set up token verification")
}

/// Development mode verifies tokens with a secret that sits in a file next to the database: fine on a
/// developer's machine, an open door on a network. So it listens on loopback addresses only.
pub fn refuse_development_off_loopback(addresses: &[(&str, SocketAddr)]) -> anyhow::Result<()> {
    let exposed: Vec<String> = addresses
        .iter()
        .filter(|(_, addr)| !addr.ip().is_loopback())
        .map(|(name, addr)| format!("{name} = {addr}"))
        .collect();
    if exposed.is_empty() {
        return Ok(());
    }
    bail!(
        "refusing to start in development mode on a non-loopback address ({}): no token key is \
         configured, so tokens would be checked against a development secret. Configure a key \
         (MLA_JWT_JWKS_URL, MLA_JWT_KEYS_FILE or MLA_JWT_HS256_SECRET, with MLA_JWT_ISSUER) or listen on \
         127.0.0.1 / ::1",
        exposed.join(", ")
    )
}

/// The gRPC server's TLS settings, when a certificate and key are configured.
pub fn tls_config(config: &Config) -> anyhow::Result<Option<tonic::transport::ServerTlsConfig>> {
    match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => {
            let tls =
                mla_grpc::tls_config(cert, key, config.tls_client_ca.as_deref()).with_context(|| {
                    format!("cannot load the TLS certificate {} and key {}", cert.display(), key.display())
                })?;
            Ok(Some(tls))
        }
        (None, None) => Ok(None),
        _ => bail!("TLS needs both tls_cert (MLA_TLS_CERT) and tls_key (MLA_TLS_KEY)"),
    }
}

/// Mints a development token for `mla-broker token`: with MLA_JWT_HS256_SECRET when set, else with the
/// development secret of the data directory; issuer and audience as `serve` expects them.
pub fn mint_token(config: &Config, args: &cli::TokenArgs) -> anyhow::Result<String> {
    if config.jwt_keys_file.is_some() || config.jwt_jwks_url.is_some() {
        bail!(
            "this broker verifies tokens with an identity provider's keys (MLA_JWT_KEYS_FILE or \
             MLA_JWT_JWKS_URL), so a token minted here would be refused: get one from the identity provider"
        );
    }
    let secret = match &config.jwt_hs256_secret {
        Some(secret) => secret.expose().as_bytes().to_vec(),
        None => dev_secret(config)?,
    };
    let (issuer, audience) = issuer_and_audience(config);
    mla_auth::mint_token(&secret, &issuer, &audience, &args.sub, &args.roles, args.partner.as_ref(), args.ttl)
        .context("cannot mint the token")
}

/// How long a console sign-in lasts in development mode.
const CONSOLE_SESSION: Duration = Duration::from_secs(8 * 3600);

/// How staff sign in to the console: at the identity provider when `console_client_id` is set, and in
/// development mode with a development token that the broker issues for a name and a staff role
/// (never a partner's: partners do not use the console).
pub fn console_config(config: &Config) -> anyhow::Result<ConsoleConfig> {
    let development = match config.is_development() {
        true => {
            let (issuer, audience) = issuer_and_audience(config);
            let secret = dev_secret(config)?;
            Some(DevelopmentSignIn::new(move |subject, role| {
                let role = Role::parse(role)
                    .filter(|role| *role != Role::Partner)
                    .ok_or_else(|| format!("`{role}` is not a role of the NCIJC's staff"))?;
                mla_auth::mint_token(&secret, &issuer, &audience, subject, &[role], None, CONSOLE_SESSION)
                    .map_err(|e| e.to_string())
            }))
        }
        false => None,
    };
    Ok(ConsoleConfig { oidc: console_oidc(config), development })
}

/// The console's client at the identity provider that issues the broker's tokens, when configured.
fn console_oidc(config: &Config) -> Option<OidcClient> {
    let issuer = issuer_and_audience(config).0;
    config.console_client_id.clone().map(|client_id| OidcClient { issuer, client_id })
}

/// Hides the password of a database URL (in its user information or a `password` query parameter),
/// for logs, error messages and `mla-broker config`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    // In a SQLite URL an `@` belongs to the file's path; any other URL may carry credentials.
    if scheme == "sqlite" {
        return url.to_owned();
    }
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    // The last `@` before the query ends the user information, whatever the password holds.
    let mut redacted = match before_query.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
            None => format!("{scheme}://{before_query}"),
        },
        None => format!("{scheme}://{before_query}"),
    };
    if let Some(query) = query {
        let parameters: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if name.to_ascii_lowercase().contains("password") => format!("{name}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        redacted = format!("{redacted}?{}", parameters.join("&"));
    }
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_a_log_line() {
        assert_eq!(
            redact_url("postgres://mla:s3cret@db:5432/mla?sslmode=require"),
            "postgres://mla:***@db:5432/mla?sslmode=require"
        );
        assert_eq!(redact_url("postgres://mla@db/mla"), "postgres://mla@db/mla");
        // A password in the query, or with a `/` or `@` left unencoded, is masked all the same.
        assert_eq!(
            redact_url("postgres://mla@db/mla?password=s3cret&sslmode=require"),
            "postgres://mla@db/mla?password=***&sslmode=require"
        );
        assert_eq!(redact_url("postgresql://mla:a/b@c@db/mla"), "postgresql://mla:***@db/mla");
        assert_eq!(redact_url("sqlite://./mla-data/broker.db"), "sqlite://./mla-data/broker.db");
        // An `@` in the path is not a user name.
        assert_eq!(redact_url("sqlite:///tmp/a@b/x.db"), "sqlite:///tmp/a@b/x.db");
    }

    #[test]
    fn the_sqlite_file_is_found_in_every_url_form_and_not_for_other_databases() {
        let with = |url: Option<&str>| {
            sqlite_file(&Config { database_url: url.map(str::to_owned), ..Config::with_data_dir("/d") })
        };
        let path = |p: &str| Some(std::path::PathBuf::from(p));
        assert_eq!(with(None), path("/d/broker.db"));
        assert_eq!(with(Some("sqlite:///var/mla/x.db")), path("/var/mla/x.db"));
        assert_eq!(with(Some("sqlite://rel/x.db?mode=rwc")), path("rel/x.db"));
        assert_eq!(with(Some("sqlite:x.db")), path("x.db"));
        assert_eq!(with(Some("sqlite::memory:")), None);
        assert_eq!(with(Some("postgres://mla@db/mla")), None);
    }

    #[test]
    fn development_mode_is_refused_on_any_non_loopback_address() {
        let local: SocketAddr = "127.0.0.1:50051".parse().unwrap();
        let v6: SocketAddr = "[::1]:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(refuse_development_off_loopback(&[("grpc_addr", local), ("http_addr", v6)]).is_ok());
        let refused =
            refuse_development_off_loopback(&[("grpc_addr", local), ("http_addr", any)]).unwrap_err();
        assert!(refused.to_string().contains("http_addr = 0.0.0.0:8080"), "{refused}");
    }
}
