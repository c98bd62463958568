//! The broker's configuration and where it comes from: an optional TOML file, then `MLA_*` environment
//! variables, then command-line flags, each overriding the one before.
//!
//! Every source is read into the same [`ConfigLayer`] (all keys optional, so that a source states only
//! what it sets) and the layers are merged into one [`Config`] with the defaults filling the rest. The
//! environment is passed in as a function rather than read here, so that the precedence can be tested
//! without touching the process environment (which the 2024 edition rightly makes `unsafe` to change).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context as _, bail};
use mla_domain::clock::SlaPolicy;
use serde::{Deserialize, Serialize};

use crate::redact_url;

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    #[default]
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(raw: &str) -> Result<Self, String> {
        match raw {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("{other:?} is not a log format: use text or json")),
        }
    }
}

/// A secret value. Its `Debug`, `Display` and `Serialize` forms hide it, so that printing a
/// configuration (or logging one by accident) never reveals it; [`Secret::expose`] is the only way to
/// the value.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// What every output shows in place of a secret.
    pub const REDACTED: &'static str = "<redacted>";

    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", Self::REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(Self::REDACTED)
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Ok(Self(raw.to_owned()))
    }
}

/// A database URL in `Debug` output: the password hidden by [`redact_url`], the one masking used for
/// URLs in logs, errors and `mla-broker config` alike.
struct RedactedUrl<'a>(&'a str);

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&redact_url(self.0), f)
    }
}

/// `Debug` for a configuration struct, written out rather than derived so that `database_url` goes
/// through [`RedactedUrl`] (the HS256 secret is a [`Secret`], which hides itself). The struct is taken
/// apart without `..`, so that a field added later and not listed here fails to compile.
macro_rules! debug_with_redacted_url {
    ([$($type:ident),+] $fields:tt) => {
        $(debug_with_redacted_url!(@one $type $fields);)+
    };
    (@one $type:ident { $($field:ident),* $(,)? }) => {
        impl fmt::Debug for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let $type { database_url, $($field),* } = self;
                f.debug_struct(stringify!($type))
                    .field("database_url", &database_url.as_deref().map(RedactedUrl))
                    $(.field(stringify!($field), $field))*
                    .finish()
            }
        }
    };
}

debug_with_redacted_url!(
    [ConfigLayer, Config] {
        grpc_addr,
        http_addr,
        data_dir,
        jwt_issuer,
        jwt_audience,
        jwt_hs256_secret,
        jwt_keys_file,
        jwt_jwks_url,
        console_client_id,
        log,
        log_format,
        tls_cert,
        tls_key,
        tls_client_ca,
        sla_normal_days,
        sla_urgent_hours,
        idempotency_retention_days,
        max_document_bytes,
        signing_key_file,
        rate_limit_per_second,
        rate_limit_burst,
        max_concurrent_calls,
        max_streams,
        migrate_on_start,
        shutdown_delay_seconds,
        otlp_endpoint,
        grpc_keepalive_seconds,
        grpc_keepalive_timeout_seconds,
    }
);

/// The settings of one source (file, environment or flags). A key left out (`None`) leaves the value
/// of the sources below it in place.
///
/// The same struct is the TOML schema (unknown keys are refused, so that a typo is an error rather
/// than a silently ignored setting) and the global command-line flags.
#[derive(Clone, Default, PartialEq, Eq, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Configuration (each flag overrides its MLA_* variable and the file)")]
pub struct ConfigLayer {
    /// Database: `sqlite://PATH` or `postgres://USER@HOST/DB` [env: MLA_DATABASE_URL]
    /// [default: a SQLite file `broker.db` in the data directory]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// The gRPC listen address [env: MLA_GRPC_ADDR] [default: 127.0.0.1:50051]
    #[arg(long, global = true, value_name = "IP:PORT")]
    pub grpc_addr: Option<SocketAddr>,
    /// The REST gateway's listen address [env: MLA_HTTP_ADDR] [default: 127.0.0.1:8080]
    #[arg(long, global = true, value_name = "IP:PORT")]
    pub http_addr: Option<SocketAddr>,
    /// Where the default SQLite database and the development token secret live [env: MLA_DATA_DIR]
    /// [default: ./mla-data]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The one token issuer (`iss`) accepted [env: MLA_JWT_ISSUER]
    #[arg(long, global = true, value_name = "ISSUER")]
    pub jwt_issuer: Option<String>,
    /// The audience (`aud`) tokens must name [env: MLA_JWT_AUDIENCE] [default: mla-broker]
    #[arg(long, global = true, value_name = "AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// An HS256 secret of at least 32 bytes; prefer the environment variable, since flags show in `ps`
    /// [env: MLA_JWT_HS256_SECRET]
    #[arg(long, global = true, value_name = "SECRET")]
    pub jwt_hs256_secret: Option<Secret>,
    /// A PEM public key or a JWKS document to verify tokens with [env: MLA_JWT_KEYS_FILE]
    #[arg(long, global = true, value_name = "PATH")]
    pub jwt_keys_file: Option<PathBuf>,
    /// An identity provider's JWKS URL to verify tokens with [env: MLA_JWT_JWKS_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub jwt_jwks_url: Option<String>,
    /// The staff console's client id at the identity provider (the issuer is jwt_issuer): staff sign
    /// in with OpenID Connect, authorization code with PKCE [env: MLA_CONSOLE_CLIENT_ID]
    #[arg(long, global = true, value_name = "CLIENT_ID")]
    pub console_client_id: Option<String>,
    /// Log filter, in `tracing` env-filter syntax [env: MLA_LOG] [default: info]
    #[arg(long, global = true, value_name = "FILTER")]
    pub log: Option<String>,
    /// Log format [env: MLA_LOG_FORMAT] [default: text]
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// The gRPC server's certificate chain (PEM); with --tls-key, gRPC is served over TLS
    /// [env: MLA_TLS_CERT]
    #[arg(long, global = true, value_name = "PATH")]
    pub tls_cert: Option<PathBuf>,
    /// The gRPC server's private key (PEM) [env: MLA_TLS_KEY]
    #[arg(long, global = true, value_name = "PATH")]
    pub tls_key: Option<PathBuf>,
    /// CA certificates (PEM) that client certificates must chain to; set it to require mutual TLS
    /// [env: MLA_TLS_CLIENT_CA]
    #[arg(long, global = true, value_name = "PATH")]
    pub tls_client_ca: Option<PathBuf>,
    /// Days the requested side has to answer a NORMAL request [env: MLA_SLA_NORMAL_DAYS] [default: 90]
    #[arg(long, global = true, value_name = "DAYS")]
    pub sla_normal_days: Option<u32>,
    /// Hours the requested side has to answer an URGENT request [env: MLA_SLA_URGENT_HOURS]
    /// [default: 72]
    #[arg(long, global = true, value_name = "HOURS")]
    pub sla_urgent_hours: Option<u32>,
    /// Days an idempotency key (and the outcome it replays) is kept before it is swept
    /// [env: MLA_IDEMPOTENCY_RETENTION_DAYS] [default: 30]
    #[arg(long, global = true, value_name = "DAYS")]
    pub idempotency_retention_days: Option<u32>,
    /// The largest document an upload may store, in bytes [env: MLA_MAX_DOCUMENT_BYTES]
    /// [default: 2147483648 (2 GiB)]
    #[arg(long, global = true, value_name = "BYTES")]
    pub max_document_bytes: Option<u64>,
    /// The broker's Ed25519 key that signs receipts and evidence packages, a PKCS#8 PEM file
    /// [env: MLA_SIGNING_KEY_FILE] [default: a development key made once in the data directory]
    #[arg(long, global = true, value_name = "PATH")]
    pub signing_key_file: Option<PathBuf>,
    /// Calls per second each partner (all its systems together) or staff member may keep up; over
    /// it, RESOURCE_EXHAUSTED (HTTP 429) with RATE_LIMITED; 0 turns the limit off
    /// [env: MLA_RATE_LIMIT_PER_SECOND] [default: 200]
    #[arg(long, global = true, value_name = "CALLS")]
    pub rate_limit_per_second: Option<u32>,
    /// Calls a caller may make in a row after a quiet spell (the bucket's size); 0 means a second's worth
    /// [env: MLA_RATE_LIMIT_BURST] [default: 400]
    #[arg(long, global = true, value_name = "CALLS")]
    pub rate_limit_burst: Option<u32>,
    /// Calls of one caller in flight at once, event streams aside; over it TOO_MANY_CONCURRENT_CALLS;
    /// 0 turns the limit off [env: MLA_MAX_CONCURRENT_CALLS] [default: 64]
    #[arg(long, global = true, value_name = "CALLS")]
    pub max_concurrent_calls: Option<u32>,
    /// WatchEvents streams (and the gateway's event streams) one caller may hold open; over it
    /// TOO_MANY_STREAMS; 0 turns the limit off [env: MLA_MAX_STREAMS] [default: 32]
    #[arg(long, global = true, value_name = "STREAMS")]
    pub max_streams: Option<u32>,
    /// Whether `serve` brings a PostgreSQL schema up to date itself; with false, it leaves that to a
    /// migration job (`mla-broker migrate`) and is not ready until the job has run
    /// [env: MLA_MIGRATE_ON_START] [default: true]
    #[arg(long, global = true, value_name = "BOOL")]
    pub migrate_on_start: Option<bool>,
    /// Seconds between the stop signal and the start of the drain, while readiness already fails, so
    /// that a load balancer stops sending before the listeners close [env: MLA_SHUTDOWN_DELAY_SECONDS]
    /// [default: 0]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub shutdown_delay_seconds: Option<u32>,
    /// Where spans go as OpenTelemetry traces, over OTLP/gRPC (an OpenTelemetry Collector, Jaeger,
    /// Tempo...: `http://collector:4317`); unset, no traces leave the process [env: MLA_OTLP_ENDPOINT]
    #[arg(long, global = true, value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// Seconds of silence on a gRPC connection after which the broker pings the client (HTTP/2 PING,
    /// and TCP keepalive at the same period), so that a client gone without a word (a dropped link,
    /// a crashed host) has its calls and WatchEvents streams ended; 0 turns the pings off
    /// [env: MLA_GRPC_KEEPALIVE_SECONDS] [default: 30]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub grpc_keepalive_seconds: Option<u32>,
    /// Seconds the broker waits for a ping's answer before it closes the connection
    /// [env: MLA_GRPC_KEEPALIVE_TIMEOUT_SECONDS] [default: 20]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub grpc_keepalive_timeout_seconds: Option<u32>,
}

/// Reads one environment variable into a layer field: unset and empty both mean "not set here" (a
/// compose file often writes `MLA_X=` to leave a key out), and a value that does not parse is an error
/// naming the variable.
fn env_value<T: FromStr>(env: &dyn Fn(&str) -> Option<String>, name: &str) -> anyhow::Result<Option<T>>
where
    T::Err: fmt::Display,
{
    match env(name) {
        None => Ok(None),
        Some(raw) if raw.trim().is_empty() => Ok(None),
        Some(raw) => raw
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| anyhow::anyhow!("the environment variable {name} is not valid: {e}")),
    }
}

impl ConfigLayer {
    /// Parses a TOML document holding any of the keys (see `deploy/mla-broker.example.toml`).
    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        toml::from_str(text).map_err(|error| {
            // toml's own rendering quotes the offending line, which may hold the database password or
            // the HS256 secret; the line number and the reason are enough to find the mistake.
            let line = error
                .span()
                .and_then(|span| text.get(..span.start))
                .map(|before| before.matches('\n').count() + 1);
            let at = line.map(|line| format!(" (line {line})")).unwrap_or_default();
            anyhow::anyhow!("the configuration is not valid TOML for mla-broker{at}: {}", error.message())
        })
    }

    /// Reads the configuration file at `path`.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        Self::from_toml(&text).with_context(|| format!("in the configuration file {}", path.display()))
    }

    /// Reads the `MLA_*` variables through `env` (pass `|name| std::env::var(name).ok()` for the real
    /// environment).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let env: &dyn Fn(&str) -> Option<String> = &env;
        Ok(Self {
            database_url: env_value(env, "MLA_DATABASE_URL")?,
            grpc_addr: env_value(env, "MLA_GRPC_ADDR")?,
            http_addr: env_value(env, "MLA_HTTP_ADDR")?,
            data_dir: env_value(env, "MLA_DATA_DIR")?,
            jwt_issuer: env_value(env, "MLA_JWT_ISSUER")?,
            jwt_audience: env_value(env, "MLA_JWT_AUDIENCE")?,
            jwt_hs256_secret: env_value(env, "MLA_JWT_HS256_SECRET")?,
            jwt_keys_file: env_value(env, "MLA_JWT_KEYS_FILE")?,
            jwt_jwks_url: env_value(env, "MLA_JWT_JWKS_URL")?,
            console_client_id: env_value(env, "MLA_CONSOLE_CLIENT_ID")?,
            log: env_value(env, "MLA_LOG")?,
            log_format: env_value(env, "MLA_LOG_FORMAT")?,
            tls_cert: env_value(env, "MLA_TLS_CERT")?,
            tls_key: env_value(env, "MLA_TLS_KEY")?,
            tls_client_ca: env_value(env, "MLA_TLS_CLIENT_CA")?,
            sla_normal_days: env_value(env, "MLA_SLA_NORMAL_DAYS")?,
            sla_urgent_hours: env_value(env, "MLA_SLA_URGENT_HOURS")?,
            idempotency_retention_days: env_value(env, "MLA_IDEMPOTENCY_RETENTION_DAYS")?,
            max_document_bytes: env_value(env, "MLA_MAX_DOCUMENT_BYTES")?,
            signing_key_file: env_value(env, "MLA_SIGNING_KEY_FILE")?,
            rate_limit_per_second: env_value(env, "MLA_RATE_LIMIT_PER_SECOND")?,
            rate_limit_burst: env_value(env, "MLA_RATE_LIMIT_BURST")?,
            max_concurrent_calls: env_value(env, "MLA_MAX_CONCURRENT_CALLS")?,
            max_streams: env_value(env, "MLA_MAX_STREAMS")?,
            migrate_on_start: env_value(env, "MLA_MIGRATE_ON_START")?,
            shutdown_delay_seconds: env_value(env, "MLA_SHUTDOWN_DELAY_SECONDS")?,
            otlp_endpoint: env_value(env, "MLA_OTLP_ENDPOINT")?,
            grpc_keepalive_seconds: env_value(env, "MLA_GRPC_KEEPALIVE_SECONDS")?,
            grpc_keepalive_timeout_seconds: env_value(env, "MLA_GRPC_KEEPALIVE_TIMEOUT_SECONDS")?,
        })
    }

    /// This layer laid over `lower`: every key this layer sets wins.
    pub fn over(self, lower: ConfigLayer) -> ConfigLayer {
        ConfigLayer {
            database_url: self.database_url.or(lower.database_url),
            grpc_addr: self.grpc_addr.or(lower.grpc_addr),
            http_addr: self.http_addr.or(lower.http_addr),
            data_dir: self.data_dir.or(lower.data_dir),
            jwt_issuer: self.jwt_issuer.or(lower.jwt_issuer),
            jwt_audience: self.jwt_audience.or(lower.jwt_audience),
            jwt_hs256_secret: self.jwt_hs256_secret.or(lower.jwt_hs256_secret),
            jwt_keys_file: self.jwt_keys_file.or(lower.jwt_keys_file),
            jwt_jwks_url: self.jwt_jwks_url.or(lower.jwt_jwks_url),
            console_client_id: self.console_client_id.or(lower.console_client_id),
            log: self.log.or(lower.log),
            log_format: self.log_format.or(lower.log_format),
            tls_cert: self.tls_cert.or(lower.tls_cert),
            tls_key: self.tls_key.or(lower.tls_key),
            tls_client_ca: self.tls_client_ca.or(lower.tls_client_ca),
            sla_normal_days: self.sla_normal_days.or(lower.sla_normal_days),
            sla_urgent_hours: self.sla_urgent_hours.or(lower.sla_urgent_hours),
            idempotency_retention_days: self.idempotency_retention_days.or(lower.idempotency_retention_days),
            max_document_bytes: self.max_document_bytes.or(lower.max_document_bytes),
            signing_key_file: self.signing_key_file.or(lower.signing_key_file),
            rate_limit_per_second: self.rate_limit_per_second.or(lower.rate_limit_per_second),
            rate_limit_burst: self.rate_limit_burst.or(lower.rate_limit_burst),
            max_concurrent_calls: self.max_concurrent_calls.or(lower.max_concurrent_calls),
            max_streams: self.max_streams.or(lower.max_streams),
            migrate_on_start: self.migrate_on_start.or(lower.migrate_on_start),
            shutdown_delay_seconds: self.shutdown_delay_seconds.or(lower.shutdown_delay_seconds),
            otlp_endpoint: self.otlp_endpoint.or(lower.otlp_endpoint),
            grpc_keepalive_seconds: self.grpc_keepalive_seconds.or(lower.grpc_keepalive_seconds),
            grpc_keepalive_timeout_seconds: self
                .grpc_keepalive_timeout_seconds
                .or(lower.grpc_keepalive_timeout_seconds),
        }
    }
}

/// The effective configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// `sqlite://PATH` or `postgres://...`; `None` means the SQLite file `broker.db` in `data_dir`.
    pub database_url: Option<String>,
    pub grpc_addr: SocketAddr,
    /// The REST gateway's address (served by the same process; checked against development mode
    /// like the gRPC address).
    pub http_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub jwt_issuer: Option<String>,
    pub jwt_audience: Option<String>,
    pub jwt_hs256_secret: Option<Secret>,
    pub jwt_keys_file: Option<PathBuf>,
    pub jwt_jwks_url: Option<String>,
    pub console_client_id: Option<String>,
    pub log: String,
    pub log_format: LogFormat,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_client_ca: Option<PathBuf>,
    pub sla_normal_days: u32,
    pub sla_urgent_hours: u32,
    /// How long idempotency keys and their outcomes (request snapshots, personal data included) are
    /// kept: long enough for any client's retries, not for ever.
    pub idempotency_retention_days: u32,
    /// The largest document an upload may store; a longer one is refused (RESOURCE_EXHAUSTED) and
    /// nothing of it kept.
    pub max_document_bytes: u64,
    /// The broker's signing key (PKCS#8 PEM, Ed25519); `None`: the development key under `data_dir`.
    pub signing_key_file: Option<PathBuf>,
    /// Each caller's (a partner, or a staff member) sustained calls per second; 0: no rate limit.
    pub rate_limit_per_second: u32,
    /// Calls above the rate a caller may make at once; 0: a second's worth.
    pub rate_limit_burst: u32,
    /// Each caller's calls in flight at once, WatchEvents streams aside; 0: no limit.
    pub max_concurrent_calls: u32,
    /// Each caller's open WatchEvents streams; 0: no limit.
    pub max_streams: u32,
    /// Whether `serve` migrates a PostgreSQL schema itself (SQLite's, one process's own, always is).
    pub migrate_on_start: bool,
    /// How long a stopping broker stays not-ready but serving before it drains.
    pub shutdown_delay_seconds: u32,
    /// The OTLP/gRPC endpoint that receives traces; `None`: no traces are exported.
    pub otlp_endpoint: Option<String>,
    /// Silence on a gRPC connection before the broker pings its client; 0: no pings.
    pub grpc_keepalive_seconds: u32,
    /// How long a ping may go unanswered before the connection is closed.
    pub grpc_keepalive_timeout_seconds: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config::from_layer(ConfigLayer::default())
    }
}

/// The defaults, in one place, as the documentation states them.
pub const DEFAULT_GRPC_ADDR: &str = "127.0.0.1:50051";
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./mla-data";
pub const DEFAULT_LOG: &str = "info";
/// The SQLite file's name inside the data directory when no database URL is given.
pub const DEFAULT_SQLITE_FILE: &str = "broker.db";
/// The folder of documents' content inside the data directory (SQLite deployments).
pub const CONTENT_FOLDER: &str = "content";

impl Config {
    /// The configuration for a given data directory, everything else at its default: the usual
    /// starting point of a test.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Config { data_dir: data_dir.into(), ..Config::default() }
    }

    /// The merged layer with the defaults filling in what no source set.
    pub fn from_layer(layer: ConfigLayer) -> Self {
        // The defaults are literals that parse; a failure here is a typo caught by any test.
        let addr = |raw: &str| raw.parse::<SocketAddr>().expect("a default address parses");
        Config {
            database_url: layer.database_url,
            grpc_addr: layer.grpc_addr.unwrap_or_else(|| addr(DEFAULT_GRPC_ADDR)),
            http_addr: layer.http_addr.unwrap_or_else(|| addr(DEFAULT_HTTP_ADDR)),
            data_dir: layer.data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            jwt_issuer: layer.jwt_issuer,
            jwt_audience: layer.jwt_audience,
            jwt_hs256_secret: layer.jwt_hs256_secret,
            jwt_keys_file: layer.jwt_keys_file,
            jwt_jwks_url: layer.jwt_jwks_url,
            console_client_id: layer.console_client_id,
            log: layer.log.unwrap_or_else(|| DEFAULT_LOG.to_owned()),
            log_format: layer.log_format.unwrap_or_default(),
            tls_cert: layer.tls_cert,
            tls_key: layer.tls_key,
            tls_client_ca: layer.tls_client_ca,
            sla_normal_days: layer.sla_normal_days.unwrap_or(90),
            sla_urgent_hours: layer.sla_urgent_hours.unwrap_or(72),
            idempotency_retention_days: layer.idempotency_retention_days.unwrap_or(30),
            max_document_bytes: layer.max_document_bytes.unwrap_or(mla_app::DEFAULT_MAX_DOCUMENT_BYTES),
            signing_key_file: layer.signing_key_file,
            rate_limit_per_second: layer.rate_limit_per_second.unwrap_or(mla_grpc::DEFAULT_CALLS_PER_SECOND),
            rate_limit_burst: layer.rate_limit_burst.unwrap_or(mla_grpc::DEFAULT_BURST),
            max_concurrent_calls: layer.max_concurrent_calls.unwrap_or(mla_grpc::DEFAULT_CONCURRENT_CALLS),
            max_streams: layer.max_streams.unwrap_or(mla_grpc::DEFAULT_STREAMS),
            migrate_on_start: layer.migrate_on_start.unwrap_or(true),
            shutdown_delay_seconds: layer.shutdown_delay_seconds.unwrap_or(0),
            otlp_endpoint: layer.otlp_endpoint,
            grpc_keepalive_seconds: layer.grpc_keepalive_seconds.unwrap_or(30),
            grpc_keepalive_timeout_seconds: layer.grpc_keepalive_timeout_seconds.unwrap_or(20),
        }
    }

    /// Merges the sources in precedence order (file < environment < flags), applies the defaults and
    /// checks the combination.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: ConfigLayer,
    ) -> anyhow::Result<Config> {
        let file_layer = match file {
            Some(path) => ConfigLayer::from_file(path)?,
            None => ConfigLayer::default(),
        };
        let env_layer = ConfigLayer::from_env(env)?;
        let config = Config::from_layer(flags.over(env_layer.over(file_layer)));
        config.validate()?;
        Ok(config)
    }

    /// Refuses combinations that cannot be what the operator meant, before anything is opened.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.sla_normal_days == 0 || self.sla_urgent_hours == 0 {
            bail!("sla_normal_days and sla_urgent_hours must be at least 1");
        }
        if self.idempotency_retention_days == 0 {
            bail!("idempotency_retention_days must be at least 1: a client's retry must find its key");
        }
        if self.max_document_bytes == 0 {
            bail!("max_document_bytes must be at least 1");
        }
        let key_sources =
            [self.jwt_hs256_secret.is_some(), self.jwt_keys_file.is_some(), self.jwt_jwks_url.is_some()];
        if key_sources.iter().filter(|set| **set).count() > 1 {
            bail!(
                "more than one token key source is configured: set only one of jwt_hs256_secret \
                 (MLA_JWT_HS256_SECRET), jwt_keys_file (MLA_JWT_KEYS_FILE) and jwt_jwks_url (MLA_JWT_JWKS_URL)"
            );
        }
        if (self.jwt_keys_file.is_some() || self.jwt_jwks_url.is_some()) && self.jwt_issuer.is_none() {
            bail!(
                "a token key file or JWKS URL needs the issuer it belongs to: set jwt_issuer (MLA_JWT_ISSUER)"
            );
        }
        if self.console_client_id.is_some() && self.jwt_issuer.is_none() {
            bail!(
                "console_client_id (MLA_CONSOLE_CLIENT_ID) signs staff in at the identity provider that \
                 issues the broker's tokens: set jwt_issuer (MLA_JWT_ISSUER) too"
            );
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) | (None, Some(_)) => {
                bail!("TLS needs both tls_cert (MLA_TLS_CERT) and tls_key (MLA_TLS_KEY)")
            }
            (None, None) if self.tls_client_ca.is_some() => {
                bail!("tls_client_ca (MLA_TLS_CLIENT_CA) needs tls_cert and tls_key: mutual TLS is TLS first")
            }
            _ => {}
        }
        if self.grpc_addr == self.http_addr && self.grpc_addr.port() != 0 {
            bail!("grpc_addr and http_addr are both {}: give them different ports", self.grpc_addr);
        }
        Ok(())
    }

    /// The database URL in effect: the configured one, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.default_sqlite_path().display()),
        }
    }

    /// Where the default SQLite database lives.
    pub fn default_sqlite_path(&self) -> PathBuf {
        self.data_dir.join(DEFAULT_SQLITE_FILE)
    }

    /// The answer deadlines per priority.
    /// How long idempotency keys are kept.
    pub fn idempotency_retention(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.idempotency_retention_days))
    }

    pub fn sla(&self) -> SlaPolicy {
        SlaPolicy {
            normal: chrono::Duration::days(i64::from(self.sla_normal_days)),
            urgent: chrono::Duration::hours(i64::from(self.sla_urgent_hours)),
        }
    }

    /// How long a stopping broker keeps serving, not ready, before it drains.
    pub fn shutdown_delay(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.shutdown_delay_seconds))
    }

    /// The gRPC connections' keepalive: how long a connection may be silent before the broker pings
    /// its client, and how long it waits for the answer; `None`: no pings.
    pub fn grpc_keepalive(&self) -> Option<(std::time::Duration, std::time::Duration)> {
        let seconds = |s: u32| std::time::Duration::from_secs(u64::from(s));
        (self.grpc_keepalive_seconds > 0)
            .then(|| (seconds(self.grpc_keepalive_seconds), seconds(self.grpc_keepalive_timeout_seconds)))
    }

    /// The limits every caller is held to.
    pub fn limits(&self) -> mla_grpc::LimitSettings {
        mla_grpc::LimitSettings {
            calls_per_second: self.rate_limit_per_second,
            burst: self.rate_limit_burst,
            concurrent_calls: self.max_concurrent_calls,
            streams: self.max_streams,
        }
    }

    /// Whether no token key is configured, so that `serve` runs in development mode.
    pub fn is_development(&self) -> bool {
        self.jwt_hs256_secret.is_none() && self.jwt_keys_file.is_none() && self.jwt_jwks_url.is_none()
    }

    /// The configuration as TOML, secrets redacted: what `mla-broker config` prints.
    pub fn to_redacted_toml(&self) -> String {
        #[derive(Serialize)]
        struct Shown<'a> {
            database_url: String,
            grpc_addr: String,
            http_addr: String,
            data_dir: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            jwt_issuer: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            jwt_audience: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            jwt_hs256_secret: Option<&'a Secret>,
            #[serde(skip_serializing_if = "Option::is_none")]
            jwt_keys_file: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            jwt_jwks_url: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            console_client_id: Option<&'a str>,
            log: &'a str,
            log_format: LogFormat,
            #[serde(skip_serializing_if = "Option::is_none")]
            tls_cert: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            tls_key: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            tls_client_ca: Option<String>,
            sla_normal_days: u32,
            sla_urgent_hours: u32,
            idempotency_retention_days: u32,
            #[serde(skip_serializing_if = "Option::is_none")]
            signing_key_file: Option<String>,
            rate_limit_per_second: u32,
            rate_limit_burst: u32,
            max_concurrent_calls: u32,
            max_streams: u32,
            migrate_on_start: bool,
            shutdown_delay_seconds: u32,
            #[serde(skip_serializing_if = "Option::is_none")]
            otlp_endpoint: Option<&'a str>,
            grpc_keepalive_seconds: u32,
            grpc_keepalive_timeout_seconds: u32,
        }
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let shown = Shown {
            database_url: redact_url(&self.database_url()),
            grpc_addr: self.grpc_addr.to_string(),
            http_addr: self.http_addr.to_string(),
            data_dir: self.data_dir.display().to_string(),
            jwt_issuer: self.jwt_issuer.as_deref(),
            jwt_audience: self.jwt_audience.as_deref(),
            jwt_hs256_secret: self.jwt_hs256_secret.as_ref(),
            jwt_keys_file: path(&self.jwt_keys_file),
            jwt_jwks_url: self.jwt_jwks_url.as_deref(),
            console_client_id: self.console_client_id.as_deref(),
            log: &self.log,
            log_format: self.log_format,
            tls_cert: path(&self.tls_cert),
            tls_key: path(&self.tls_key),
            tls_client_ca: path(&self.tls_client_ca),
            sla_normal_days: self.sla_normal_days,
            sla_urgent_hours: self.sla_urgent_hours,
            idempotency_retention_days: self.idempotency_retention_days,
            signing_key_file: path(&self.signing_key_file),
            rate_limit_per_second: self.rate_limit_per_second,
            rate_limit_burst: self.rate_limit_burst,
            max_concurrent_calls: self.max_concurrent_calls,
            max_streams: self.max_streams,
            migrate_on_start: self.migrate_on_start,
            shutdown_delay_seconds: self.shutdown_delay_seconds,
            otlp_endpoint: self.otlp_endpoint.as_deref(),
            grpc_keepalive_seconds: self.grpc_keepalive_seconds,
            grpc_keepalive_timeout_seconds: self.grpc_keepalive_timeout_seconds,
        };
        // Every field is a string, a number or an enum name, all of which TOML represents.
        toml::to_string(&shown).unwrap_or_else(|e| format!("# cannot show the configuration: {e}\n"))
    }
}
