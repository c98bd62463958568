//! The command line: the subcommands of `mla-broker` and their arguments. The configuration flags
//! themselves are [`ConfigLayer`], shared with the file and the environment.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use mla_domain::{PartnerCode, Role};

use crate::config::ConfigLayer;

/// The judicial mutual-legal-assistance request broker.
///
/// Settings come from a TOML file (--config or MLA_CONFIG), then MLA_* environment variables, then
/// these flags, each overriding the one before.
#[derive(Debug, Parser)]
#[command(name = "mla-broker", version, about, long_about)]
pub struct Cli {
    /// A TOML configuration file (see deploy/mla-broker.example.toml)
    #[arg(long, global = true, env = "MLA_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub settings: ConfigLayer,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the gRPC API and the REST gateway until SIGTERM or Ctrl-C, then drain and exit 0.
    ///
    /// With no token key configured, tokens are verified with a development secret kept in the data
    /// directory, and the broker refuses to listen on anything but a loopback address.
    Serve,
    /// Serve the REST gateway alone, in front of a broker's gRPC API elsewhere, on http_addr.
    Gateway {
        /// The broker's gRPC URL: http://host:50051, or https://... for TLS
        #[arg(long, value_name = "URL")]
        upstream: String,
        /// A PEM file of the CA that signed the upstream's certificate, if not a public one
        #[arg(long, value_name = "PATH")]
        upstream_ca: Option<PathBuf>,
    },
    /// Apply the database migrations and exit.
    Migrate,
    /// Mint a development token (HS256) and print it on stdout.
    ///
    /// The secret is MLA_JWT_HS256_SECRET when set, otherwise the development secret in the data
    /// directory (created on first use), the one `serve` uses when no key is configured.
    Token(TokenArgs),
    /// Audit-trail operations.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Load demonstration partners and requests through the real use cases (idempotent).
    Demo,
    /// Print the effective configuration as TOML, secrets redacted.
    Config,
    /// Print the public JWKS of the broker's signing key (what `/.well-known/jwks.json` serves), for
    /// partners to check receipts and evidence packages offline.
    SigningKey,
    /// Check an upload's receipt offline against a JWKS file and print its payload. Exits 0 when it
    /// verifies, 3 when it does not.
    VerifyReceipt {
        /// The broker's JWKS (`mla-broker signing-key`, or `/.well-known/jwks.json`)
        #[arg(long, value_name = "PATH")]
        jwks: PathBuf,
        /// The receipt: a compact JWS
        receipt: String,
    },
    /// Upload or fetch a document through a broker's gRPC API, as a partner's system or a staff
    /// member would.
    Document {
        #[command(subcommand)]
        command: DocumentCommand,
    },
    /// Check an evidence package offline: its manifest's signature against a JWKS file, and every
    /// file's SHA-256 and size against the manifest. Exits 0 when it verifies, 3 when it does not.
    VerifyPackage {
        /// The broker's JWKS (`mla-broker signing-key`, or `/.well-known/jwks.json`)
        #[arg(long, value_name = "PATH")]
        jwks: PathBuf,
        /// The package, a ZIP file
        package: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum DocumentCommand {
    /// Upload a file as a document of a request and print the document (its id, SHA-256 and signed
    /// receipt) as JSON. An attempt cut off by the link is made again, and the broker stores the
    /// document once.
    Upload(UploadArgs),
    /// Fetch a document into a file, resuming from what an interrupted fetch left (`OUT.part`); the
    /// file takes its name only once its SHA-256 is the document's.
    Fetch(FetchArgs),
}

/// Where the broker is and who calls it.
#[derive(Debug, Clone, Args)]
pub struct RemoteArgs {
    /// The broker's gRPC URL
    #[arg(long, env = "MLA_SERVER", default_value = "http://127.0.0.1:50051", value_name = "URL")]
    pub server: String,
    /// A PEM file of the CA that signed the broker's certificate, if not a public one
    #[arg(long, value_name = "PATH")]
    pub server_ca: Option<PathBuf>,
    /// The bearer token to call with
    #[arg(long, env = "MLA_TOKEN", hide_env_values = true)]
    pub token: String,
}

#[derive(Debug, Clone, Args)]
pub struct UploadArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// The id of the request the document belongs to
    #[arg(long, value_name = "ID")]
    pub request: String,
    /// What the document is: LETTER_OF_REQUEST, SUPPORTING_DOCUMENT, TRANSLATION, ASSURANCE, EVIDENCE,
    /// CORRESPONDENCE or OTHER
    #[arg(long)]
    pub kind: String,
    /// A title for people
    #[arg(long)]
    pub title: String,
    /// SHARED (the default) or INTERNAL
    #[arg(long, default_value = "SHARED")]
    pub audience: String,
    /// The document's language (BCP 47)
    #[arg(long)]
    pub language: Option<String>,
    /// For a translation: the id of the document it translates
    #[arg(long, value_name = "ID")]
    pub translation_of: Option<String>,
    /// The declared media type (the broker also detects it)
    #[arg(long)]
    pub media_type: Option<String>,
    /// The file name to record (default: the file's own)
    #[arg(long)]
    pub file_name: Option<String>,
    /// The file to upload
    pub file: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// The document's id
    #[arg(long, value_name = "ID")]
    pub document: String,
    /// Where to write it
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute every request's hash chain. Exits 0 when every chain holds, 3 when one is broken
    /// (naming the first broken link), 1 when the check itself could not run.
    Verify {
        /// Also re-read and re-hash every document's stored content, naming any missing or changed
        #[arg(long)]
        content: bool,
    },
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The token's subject (`sub`): who the caller is
    #[arg(long, value_name = "SUBJECT")]
    pub sub: String,
    /// A role (repeat the flag or separate with commas): registrar, legal_officer, judge,
    /// evidence_officer, protection_officer, supervisor, auditor, admin, partner
    #[arg(long = "role", required = true, value_delimiter = ',', value_parser = parse_role)]
    pub roles: Vec<Role>,
    /// The partner code a `partner` principal acts for, such as FR-MOJ
    #[arg(long, value_name = "CODE")]
    pub partner: Option<PartnerCode>,
    /// How long the token is valid: 30m, 1h, 7d ...
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub ttl: Duration,
}

fn parse_role(raw: &str) -> Result<Role, String> {
    Role::parse(raw).ok_or_else(|| {
        let known: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
        format!("{raw:?} is not a role; the roles are {}", known.join(", "))
    })
}

/// The exit status of `audit verify` when a chain is broken, distinct from 1 (the check failed to
/// run) and 2 (a usage error), so that a script can tell tampering from trouble.
pub const EXIT_AUDIT_BROKEN: u8 = 3;
