//! The one-shot commands through the real binary: `token`, `demo`, `audit verify` (with
//! `--content`), `migrate` and `config`, each in a fresh scratch directory.

mod common;

use common::Scratch;
use mla_auth::{AuthConfig, Verifier};
use mla_domain::{PartnerCode, Role};
use sqlx::Connection as _;

/// A verifier built independently of the broker's own wiring: the development configuration over the
/// secret that `mla-broker token` left in the data directory.
async fn dev_verifier(scratch: &Scratch) -> Verifier {
    let secret = mla_auth::dev_secret(&scratch.data_dir()).expect("the development secret is readable");
    Verifier::new(AuthConfig::development(secret)).await.expect("a development verifier")
}

#[tokio::test]
async fn a_minted_token_verifies_against_the_data_directorys_development_secret() {
    let scratch = Scratch::fresh();
    let staff = scratch.run(&["token", "--sub", "alice", "--role", "judge", "--role", "supervisor"]).ok();
    let partner = scratch
        .run(&["token", "--sub", "fr-system", "--role", "partner", "--partner", "FR-MOJ", "--ttl", "30m"])
        .ok();
    // Nothing but the token on stdout, so that `TOKEN=$(mla-broker token ...)` works.
    assert_eq!(staff.lines().count(), 1, "{staff:?}");

    let verifier = dev_verifier(&scratch).await;
    let alice = verifier.verify(staff.trim()).await.expect("the staff token verifies");
    assert_eq!(alice.subject(), "alice");
    assert!(alice.has_role(Role::Judge) && alice.has_role(Role::Supervisor));
    assert!(!alice.has_role(Role::Registrar));
    let fr = verifier.verify(partner.trim()).await.expect("the partner token verifies");
    assert_eq!(fr.partner_code(), Some(&PartnerCode::parse("FR-MOJ").unwrap()));

    // A second data directory has another secret: its verifier refuses the first one's tokens.
    let elsewhere = Scratch::fresh();
    elsewhere.run(&["token", "--sub", "bob", "--role", "auditor"]).ok();
    assert!(dev_verifier(&elsewhere).await.verify(staff.trim()).await.is_err());
}

#[tokio::test]
async fn with_an_hs256_secret_configured_the_token_is_signed_with_it() {
    let scratch = Scratch::fresh();
    let secret = "a-shared-development-secret-of-at-least-32-bytes";
    let mut command = scratch.broker(&["token", "--sub", "carol", "--role", "registrar"]);
    command
        .env("MLA_JWT_HS256_SECRET", secret)
        .env("MLA_JWT_ISSUER", "https://idp.test")
        .env("MLA_JWT_AUDIENCE", "mla-api");
    let token = scratch.run_command(command).ok();

    let config =
        AuthConfig::new("https://idp.test", "mla-api", mla_auth::KeySource::Hs256Secret(secret.into()));
    let verifier = Verifier::new(config).await.unwrap();
    assert_eq!(verifier.verify(token.trim()).await.expect("the token verifies").subject(), "carol");
    assert!(!scratch.data_dir().join(mla_auth::DEV_SECRET_FILE).exists(), "no development secret is made");
}

#[test]
fn a_token_for_an_impossible_principal_or_lifetime_is_refused() {
    let scratch = Scratch::fresh();
    // A partner principal without its partner code, then staff roles with a partner code.
    for args in [
        &["token", "--sub", "x", "--role", "partner"][..],
        &["token", "--sub", "x", "--role", "judge", "--partner", "FR-MOJ"],
        &["token", "--sub", "x", "--role", "judge", "--ttl", "400d"],
    ] {
        let finished = scratch.run(args);
        assert_eq!(finished.code, Some(1), "{args:?}: {finished:#?}");
        assert!(finished.stdout.is_empty(), "{finished:#?}");
        assert!(finished.stderr.contains("cannot mint the token"), "{finished:#?}");
    }
    let mut jwks = scratch.broker(&["token", "--sub", "x", "--role", "judge"]);
    jwks.env("MLA_JWT_JWKS_URL", "https://idp.test/certs").env("MLA_JWT_ISSUER", "https://idp.test");
    let refused = scratch.run_command(jwks);
    assert_eq!(refused.code, Some(1));
    assert!(refused.stderr.contains("identity provider"), "{refused:#?}");
}

/// Event counts as `audit verify` reports them: "N requests, M events".
fn audited(scratch: &Scratch) -> String {
    let report = scratch.run(&["audit", "verify"]).ok();
    assert!(report.starts_with("audit trail intact:"), "{report}");
    report
}

#[test]
fn the_demo_loads_once_and_its_audit_trail_verifies() {
    let scratch = Scratch::fresh();
    let first = scratch.run(&["demo"]).ok();
    assert!(first.contains("demo partners registered by this run: 5"), "{first}");
    for expected in [
        "DRAFT",
        "RECEIVED",
        "UNDER_REVIEW",
        "CLARIFICATION_REQUESTED",
        "IN_EXECUTION",
        "REFUSED",
        "CLOSED",
        "WITHDRAWN",
    ] {
        assert!(first.contains(expected), "no demo request is {expected}:\n{first}");
    }
    assert!(first.contains("INCOMING") && first.contains("OUTGOING"), "{first}");
    assert!(first.contains("JO-MOJ"), "the partner on paper has its request: {first}");
    let after_first = audited(&scratch);
    assert!(after_first.contains("9 requests"), "{after_first}");

    // A second run replays: the same requests in the same states, and not one event more.
    let second = scratch.run(&["demo"]).ok();
    assert!(second.contains("demo partners registered by this run: 0"), "{second}");
    let table = |out: &str| out.lines().skip(1).map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(table(&first), table(&second));
    assert_eq!(audited(&scratch), after_first);
}

#[tokio::test]
async fn audit_verify_names_the_first_tampered_event_and_fails() {
    let scratch = Scratch::fresh();
    scratch.run(&["demo"]).ok();
    audited(&scratch);

    let database = scratch.data_dir().join("broker.db");
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", database.display())).await.unwrap();
    let (cursor, request_id, seq): (i64, String, i64) =
        sqlx::query_as("SELECT cursor, request_id, seq FROM events WHERE seq = 2 ORDER BY cursor LIMIT 1")
            .fetch_one(&mut db)
            .await
            .unwrap();
    // The schema refuses to rewrite history; an attacker with the file drops the guard first.
    let guarded =
        sqlx::query("UPDATE events SET details = '{}' WHERE cursor = ?").bind(cursor).execute(&mut db).await;
    assert!(guarded.is_err(), "the append-only trigger should refuse an UPDATE");
    sqlx::query("DROP TRIGGER events_no_update").execute(&mut db).await.unwrap();
    sqlx::query("UPDATE events SET details = '{\"reason\":\"nothing to see\"}' WHERE cursor = ?")
        .bind(cursor)
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();

    let finished = scratch.run(&["audit", "verify"]);
    assert_eq!(finished.code, Some(i32::from(mla_broker::cli::EXIT_AUDIT_BROKEN)), "{finished:#?}");
    let line = finished.stdout.trim();
    assert!(line.starts_with("audit trail BROKEN"), "{line}");
    assert!(line.contains(&format!("request {request_id}")), "{line}");
    assert!(line.contains(&format!("seq {seq}")), "{line}");
    assert!(line.contains(&format!("cursor {cursor}")), "{line}");
}

#[test]
fn migrate_creates_the_default_database_in_the_data_directory() {
    let scratch = Scratch::fresh();
    assert!(!scratch.data_dir().exists());
    scratch.run(&["migrate"]).ok();
    assert!(scratch.data_dir().join("broker.db").is_file());
    // Twice is harmless, and an empty register verifies.
    scratch.run(&["migrate"]).ok();
    assert!(audited(&scratch).contains("0 requests, 0 events"));

    // An explicit sqlite:// URL is honoured, and an unknown scheme is refused by name.
    let elsewhere = scratch.path().join("elsewhere.db");
    scratch.run(&["--database-url", &format!("sqlite://{}", elsewhere.display()), "migrate"]).ok();
    assert!(elsewhere.is_file());
    let unknown = scratch.run(&["--database-url", "mysql://root:hunter2@db/mla", "migrate"]);
    assert_eq!(unknown.code, Some(1));
    assert!(unknown.stderr.contains("neither sqlite://PATH nor postgres://"), "{unknown:#?}");
    assert!(!unknown.stderr.contains("hunter2"), "the password must not be shown: {unknown:#?}");
}

#[test]
fn the_binary_layers_file_environment_and_flags() {
    let scratch = Scratch::fresh();
    let file = scratch.path().join("broker.toml");
    std::fs::write(
        &file,
        "grpc_addr = \"127.0.0.1:1001\"\nhttp_addr = \"127.0.0.1:2001\"\nlog = \"debug\"\n",
    )
    .unwrap();
    let mut command = scratch.broker(&["--log", "error", "config"]);
    command.env("MLA_CONFIG", &file).env("MLA_HTTP_ADDR", "127.0.0.1:2002").env("MLA_LOG", "warn");
    let shown = scratch.run_command(command).ok();
    assert!(shown.contains("grpc_addr = \"127.0.0.1:1001\""), "{shown}");
    assert!(shown.contains("http_addr = \"127.0.0.1:2002\""), "{shown}");
    assert!(shown.contains("log = \"error\""), "{shown}");
}

#[test]
fn config_masks_the_database_password_and_the_hs256_secret() {
    let scratch = Scratch::fresh();
    let secret = "an-hs256-secret-that-must-never-be-shown-0123";
    let mut command = scratch.broker(&["config"]);
    command.env("MLA_DATABASE_URL", "postgres://u:s3cr3t-pw@h/db").env("MLA_JWT_HS256_SECRET", secret);
    let finished = scratch.run_command(command);
    assert_eq!(finished.code, Some(0), "{finished:#?}");
    for output in [&finished.stdout, &finished.stderr] {
        assert!(!output.contains("s3cr3t-pw"), "the database password is shown: {output}");
        assert!(!output.contains(secret), "the HS256 secret is shown: {output}");
    }
    // Masked in place, so that the operator still sees what is configured.
    assert!(finished.stdout.contains("database_url = \"postgres://u:***@h/db\""), "{finished:#?}");
    assert!(finished.stdout.contains("jwt_hs256_secret = \"<redacted>\""), "{finished:#?}");
}

#[test]
fn audit_verify_refuses_a_database_that_does_not_exist() {
    let scratch = Scratch::fresh();
    let missing = scratch.run(&["audit", "verify"]);
    assert_eq!(missing.code, Some(1), "{missing:#?}");
    assert!(missing.stderr.contains("there is no database at"), "{missing:#?}");
    assert!(!scratch.data_dir().exists(), "verifying must not create the database");
}

/// `audit verify --content` re-hashes the documents' files: intact after an upload, and a file
/// rewritten behind the broker's back is named with its document and fails the check.
#[tokio::test]
async fn audit_verify_content_names_a_changed_file() {
    use mla_domain::document::{Audience, DocumentKind, NewDocument, file_name};
    let scratch = Scratch::fresh();
    scratch.run(&["demo"]).ok();
    let data = scratch.data_dir();
    let store = mla_broker::open_store("", &data).await.expect("the store opens");
    let content = mla_broker::open_content("", &data).await.expect("the content opens");
    let app = mla_app::App::new(store, Default::default(), tokio_util::sync::CancellationToken::new())
        .with_content(content, 1024 * 1024);
    let judge = mla_domain::Principal::staff("judge-1", [Role::Judge]).expect("a principal");
    let page = app.list_requests(&judge, Default::default(), 50, "").await.expect("the register");
    let open = page.items.iter().find(|view| !view.request.state.is_terminal()).expect("an open request");
    let upload = mla_app::Upload {
        request_id: open.request.id,
        document: NewDocument {
            kind: DocumentKind::SupportingDocument,
            title: mla_domain::ShortText::parse("Annex").expect("a title"),
            file_name: file_name("annex.pdf").expect("a name"),
            media_type: "application/pdf".into(),
            language: String::new(),
            translation_of: None,
            audience: Audience::Shared,
        },
        expected_sha256: None,
    };
    let bytes = futures::stream::iter([Ok(bytes::Bytes::from_static(b"%PDF-1.7 annex"))]);
    let document = app.upload_document(&judge, upload, None, bytes).await.expect("uploaded");

    let intact = scratch.run(&["audit", "verify", "--content"]).ok();
    assert!(intact.contains("documents' content intact: 1 documents, 1 contents"), "{intact}");
    let sha256 = document.sha256.as_str();
    std::fs::write(data.join("content").join(&sha256[..2]).join(sha256), b"forged").expect("rewritten");
    let broken = scratch.run(&["audit", "verify", "--content"]);
    assert_eq!(broken.code, Some(i32::from(mla_broker::cli::EXIT_AUDIT_BROKEN)), "{broken:#?}");
    assert!(broken.stdout.contains("audit trail intact"), "the chains still hold: {broken:#?}");
    let line = broken.stdout.lines().last().unwrap_or_default();
    assert!(line.contains(&format!("document {}:", document.id)) && line.contains("changed"), "{line}");
}
