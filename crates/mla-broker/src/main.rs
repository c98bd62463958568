//! `mla-broker`: reads the configuration, sets up logging and runs one subcommand. Everything of
//! substance lives in the library, so that tests exercise the same code in-process.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use mla_app::App;
use mla_broker::cli::{AuditCommand, Cli, Command, DocumentCommand, EXIT_AUDIT_BROKEN};
use mla_broker::{Config, demo, telemetry};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => match runtime.block_on(dispatch(cli)) {
            Ok(code) => code,
            Err(error) => {
                // The whole cause chain, one cause per line: the context says what was being done,
                // the causes say why it failed.
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        },
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref(), |name| std::env::var(name).ok(), cli.settings)?;
    let telemetry = telemetry::init(&config)?;
    let outcome = run(cli.command, config).await;
    // The last spans are sent before the process exits (blocking: the exporter has a thread of its own).
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    outcome
}

async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve => {
            let shutdown = CancellationToken::new();
            listen_for_shutdown(shutdown.clone())?;
            mla_broker::serve(config, shutdown).await?;
        }
        Command::Gateway { upstream, upstream_ca } => {
            let shutdown = CancellationToken::new();
            listen_for_shutdown(shutdown.clone())?;
            mla_broker::gateway(config, &upstream, upstream_ca.as_deref(), shutdown).await?;
        }
        Command::Migrate => {
            mla_broker::migrate(config.database_url.as_deref(), &config.data_dir).await?;
            tracing::info!(database = %mla_broker::redact_url(&config.database_url()), "migrations applied");
        }
        Command::Token(args) => println!("{}", mla_broker::mint_token(&config, &args)?),
        Command::Audit { command: AuditCommand::Verify { content } } => {
            return audit_verify(&config, content).await;
        }
        Command::Demo => demo(&config).await?,
        Command::Config => print!("{}", config.to_redacted_toml()),
        Command::SigningKey => println!("{:#}", mla_broker::signing_key(&config)?.jwks()),
        Command::VerifyReceipt { jwks, receipt } => {
            let jwks =
                std::fs::read_to_string(&jwks).with_context(|| format!("cannot read {}", jwks.display()))?;
            let payload = mla_auth::verify_jws(&jwks, &receipt)
                .and_then(|payload| String::from_utf8(payload).map_err(|_| "its payload is not text".into()));
            return Ok(verified("receipt", payload));
        }
        Command::Document { command: DocumentCommand::Upload(args) } => {
            let document = mla_broker::documents::upload(&args).await?;
            println!(
                "{}",
                serde_json::json!({
                    "id": document.id,
                    "request_id": document.request_id,
                    "sha256": document.sha256,
                    "size_bytes": document.size_bytes,
                    "receipt": document.receipt,
                })
            );
        }
        Command::Document { command: DocumentCommand::Fetch(args) } => {
            println!("{}", mla_broker::documents::fetch(&args).await?.display());
        }
        Command::VerifyPackage { jwks, package } => {
            let jwks =
                std::fs::read_to_string(&jwks).with_context(|| format!("cannot read {}", jwks.display()))?;
            let file = std::fs::File::open(&package)
                .with_context(|| format!("cannot read {}", package.display()))?;
            let manifest = mla_broker::verify::verify_package(&jwks, std::io::BufReader::new(file));
            return Ok(verified("package", manifest.map(|m| format!("{m:#}"))));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints what verified (exit 0) or why it did not (exit 3, as for a broken audit trail).
fn verified(what: &str, outcome: Result<String, String>) -> ExitCode {
    match outcome {
        Ok(payload) => {
            println!("{payload}");
            eprintln!("{what} verified");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("{what} NOT verified: {why}");
            ExitCode::from(EXIT_AUDIT_BROKEN)
        }
    }
}

async fn audit_verify(config: &Config, content: bool) -> anyhow::Result<ExitCode> {
    // Opening a SQLite store creates the file: a mistyped path would then "verify" an empty register.
    if let Some(file) = mla_broker::sqlite_file(config)
        && !file.exists()
    {
        anyhow::bail!("there is no database at {}: check MLA_DATABASE_URL and MLA_DATA_DIR", file.display());
    }
    let url = config.database_url.as_deref().unwrap_or_default();
    let store = mla_broker::open_store(url, &config.data_dir).await?;
    let outcome = mla_store::verify_audit(store.as_ref()).await.context("cannot read the audit trail")?;
    let mut intact = match outcome {
        Ok(report) => {
            println!(
                "audit trail intact: {} requests, {} events, every hash chain verified",
                report.requests, report.events
            );
            true
        }
        Err(findings) => {
            for finding in findings {
                println!("audit trail BROKEN: {finding}");
            }
            false
        }
    };
    if content {
        let contents = mla_broker::open_content(url, &config.data_dir).await?;
        let checked = mla_store::verify_content(store.as_ref(), contents.as_ref())
            .await
            .context("cannot read the documents' content")?;
        match checked {
            Ok(report) => println!(
                "documents' content intact: {} documents, {} contents, {} bytes re-hashed",
                report.documents, report.contents, report.bytes
            ),
            Err(findings) => {
                for finding in findings {
                    println!("documents' content BROKEN: {finding}");
                }
                intact = false;
            }
        }
    }
    Ok(if intact { ExitCode::SUCCESS } else { ExitCode::from(EXIT_AUDIT_BROKEN) })
}

async fn demo(config: &Config) -> anyhow::Result<()> {
    let store =
        mla_broker::open_store(config.database_url.as_deref().unwrap_or_default(), &config.data_dir).await?;
    let app = App::new(store, config.sla(), CancellationToken::new());
    let summary = demo::load(&app).await?;
    println!("demo partners registered by this run: {}", summary.partners_created);
    for request in &summary.requests {
        println!(
            "{:<15} {:<8} {:<8} {:<24} {}",
            request.reference,
            request.direction.as_str(),
            request.partner_code,
            request.state.as_str(),
            request.title
        );
    }
    Ok(())
}

/// The first SIGTERM or Ctrl-C starts a graceful shutdown: the server stops accepting, finishes the
/// calls in flight and ends live streams. A second one means the operator will not wait: exit now.
fn listen_for_shutdown(shutdown: CancellationToken) -> anyhow::Result<()> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    tokio::spawn(async move {
        for signal_number in 1.. {
            #[cfg(unix)]
            let name = tokio::select! {
                Ok(()) = tokio::signal::ctrl_c() => "SIGINT",
                Some(()) = terminate.recv() => "SIGTERM",
            };
            #[cfg(not(unix))]
            let name = match tokio::signal::ctrl_c().await {
                Ok(()) => "Ctrl-C",
                Err(_) => return,
            };
            if signal_number == 1 {
                tracing::info!(
                    signal = name,
                    "shutting down: draining calls in flight (signal again to exit at once)"
                );
                shutdown.cancel();
            } else {
                tracing::warn!(signal = name, "second signal: exiting without draining");
                std::process::exit(130);
            }
        }
    });
    Ok(())
}
