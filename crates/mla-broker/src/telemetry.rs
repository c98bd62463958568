//! Logging: `tracing` events to stderr, filtered by `log` and written as text or JSON. Stderr, so that
//! commands that print a result on stdout (`token`, `config`) stay pipeable.

use std::io::IsTerminal as _;

use anyhow::Context as _;
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Installs the process-wide subscriber. A second call (a test that boots twice) keeps the first one.
pub fn init(config: &Config) -> anyhow::Result<()> {
    let mut filter = EnvFilter::try_new(&config.log)
        .with_context(|| format!("the log filter {:?} (MLA_LOG) is not valid", config.log))?;
    // PostgreSQL reports harmless notices ("relation already exists, skipping") on every migration
    // run; keep them out of the log unless the operator's filter asks about sqlx explicitly.
    if !config.log.contains("sqlx") {
        filter =
            filter.add_directive("sqlx::postgres::notice=warn".parse().context("a built-in log directive")?);
    }
    // Colours only for a person at a terminal: escape codes in a log file or a test's captured
    // stderr are noise.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // An error here only means a subscriber is already installed, which is fine.
    let _ = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
    Ok(())
}
