//! Logging and traces. Logs: `tracing` events to stderr, filtered by `log` and written as text or
//! JSON. Stderr, so that commands that print a result on stdout (`token`, `config`) stay pipeable.
//! Traces: with `otlp_endpoint`, the same spans (a REST call, the gRPC call it makes, the store
//! operations under it) exported as OpenTelemetry traces over OTLP/gRPC, continuing the caller's W3C
//! trace context; JSON log lines then name their trace and span.

use std::io::IsTerminal as _;

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;

use crate::config::{Config, LogFormat};

/// What `init` set up that must be finished before the process exits.
#[must_use = "shut it down before exiting, or the last spans are lost"]
#[derive(Debug)]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports the spans still buffered and stops the exporter.
    pub fn shutdown(self) {
        if let Some(traces) = self.traces
            && let Err(error) = traces.shutdown()
        {
            eprintln!("warning: the last traces could not be exported: {error}");
        }
    }
}

/// Installs the process-wide subscriber. A second call (a test that boots twice) keeps the first one.
/// Needs a Tokio runtime when `otlp_endpoint` is set (the exporter's gRPC channel lives on it).
pub fn init(config: &Config) -> anyhow::Result<Telemetry> {
    let mut filter = EnvFilter::try_new(&config.log)
        .with_context(|| format!("the log filter {:?} (MLA_LOG) is not valid", config.log))?;
    // PostgreSQL reports harmless notices ("relation already exists, skipping") on every migration
    // run; keep them out of the log unless the operator's filter asks about sqlx explicitly.
    if !config.log.contains("sqlx") {
        filter =
            filter.add_directive("sqlx::postgres::notice=warn".parse().context("a built-in log directive")?);
    }
    let traces = config.otlp_endpoint.as_deref().map(exporting_to).transpose()?;
    let otel = traces.as_ref().map(|provider| {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        // The exporter's own HTTP/2 and gRPC plumbing stays out of the traces it sends.
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("mla-broker"))
            .with_filter(filter_fn(|metadata| !is_plumbing(metadata.target())))
    });
    // Colours only for a person at a terminal: escape codes in a log file or a test's captured
    // stderr are noise.
    let log = match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .boxed(),
        LogFormat::Json => json_subscriber::layer()
            .with_writer(std::io::stderr)
            .flatten_event(true)
            .with_current_span(false)
            .with_opentelemetry_ids(true)
            .boxed(),
    };
    // An error here only means a subscriber is already installed, which is fine.
    let _ = tracing_subscriber::registry().with(filter).with(otel).with(log).try_init();
    Ok(Telemetry { traces })
}

/// Spans batched and sent to the OTLP/gRPC endpoint, as service `mla-broker`.
fn exporting_to(endpoint: &str) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .with_context(|| format!("cannot export traces to {endpoint:?} (otlp_endpoint)"))?;
    let resource = Resource::builder()
        .with_service_name("mla-broker")
        .with_attribute(opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}

fn is_plumbing(target: &str) -> bool {
    ["h2", "hyper", "tonic", "tower", "opentelemetry"].iter().any(|crate_name| target.starts_with(crate_name))
}
