//! Configuration: the precedence of the sources (file < environment < flags), the defaults, and the
//! combinations refused before anything is opened. Pure: the environment is a map handed to the loader.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser as _;
use mla_broker::cli::{Cli, Command};
use mla_broker::{Config, ConfigLayer, LogFormat};

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| map.get(name).cloned()
}

fn no_env() -> impl Fn(&str) -> Option<String> {
    env(&[])
}

fn flags(args: &[&str]) -> ConfigLayer {
    let mut argv = vec!["mla-broker"];
    argv.extend_from_slice(args);
    argv.push("serve");
    Cli::try_parse_from(argv).expect("the flags parse").settings
}

fn addr(raw: &str) -> SocketAddr {
    raw.parse().unwrap()
}

#[test]
fn flags_override_the_environment_which_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broker.toml");
    std::fs::write(
        &file,
        r#"
        grpc_addr = "127.0.0.1:1001"
        http_addr = "127.0.0.1:2001"
        data_dir = "/from/file"
        log = "debug"
        sla_normal_days = 30
        sla_urgent_hours = 24
        "#,
    )
    .unwrap();
    let environment = env(&[
        ("MLA_HTTP_ADDR", "127.0.0.1:2002"),
        ("MLA_DATA_DIR", "/from/env"),
        ("MLA_LOG", "warn"),
        ("MLA_LOG_FORMAT", "json"),
    ]);
    let config =
        Config::load(Some(&file), environment, flags(&["--data-dir", "/from/flag", "--log", "trace"]))
            .expect("the configuration loads");

    // Set only in the file.
    assert_eq!(config.grpc_addr, addr("127.0.0.1:1001"));
    assert_eq!(config.sla_normal_days, 30);
    assert_eq!(config.sla_urgent_hours, 24);
    // Set in the file and the environment: the environment wins.
    assert_eq!(config.http_addr, addr("127.0.0.1:2002"));
    // Set only in the environment.
    assert_eq!(config.log_format, LogFormat::Json);
    // Set everywhere: the flag wins.
    assert_eq!(config.data_dir, PathBuf::from("/from/flag"));
    assert_eq!(config.log, "trace");
    // Set nowhere: the default.
    assert_eq!(config.database_url, None);
    assert_eq!(config.database_url(), "sqlite:///from/flag/broker.db");
}

#[test]
fn with_no_source_every_key_has_its_documented_default() {
    let config = Config::load(None, no_env(), ConfigLayer::default()).unwrap();
    assert_eq!(config, Config::default());
    assert_eq!(config.grpc_addr, addr("127.0.0.1:50051"));
    assert_eq!(config.http_addr, addr("127.0.0.1:8080"));
    assert_eq!(config.data_dir, PathBuf::from("./mla-data"));
    assert_eq!(config.database_url(), "sqlite://./mla-data/broker.db");
    assert_eq!(config.log, "info");
    assert_eq!(config.log_format, LogFormat::Text);
    assert_eq!((config.sla_normal_days, config.sla_urgent_hours), (90, 72));
    assert_eq!(config.sla(), mla_domain::clock::SlaPolicy::default());
    // Limits are on by default, generously.
    assert_eq!(config.limits(), mla_grpc::LimitSettings::default());
    assert_eq!(
        (
            config.rate_limit_per_second,
            config.rate_limit_burst,
            config.max_concurrent_calls,
            config.max_streams
        ),
        (200, 400, 64, 32)
    );
    // A single process migrates its own schema and stops at once.
    assert!(config.migrate_on_start);
    assert_eq!(config.shutdown_delay_seconds, 0);
    // A client gone without a word is noticed within a minute.
    assert_eq!(config.grpc_keepalive(), Some((Duration::from_secs(30), Duration::from_secs(20))));
    assert!(config.is_development());
}

#[test]
fn every_documented_environment_variable_is_read() {
    let environment = env(&[
        ("MLA_DATABASE_URL", "postgres://mla@db/mla"),
        ("MLA_GRPC_ADDR", "0.0.0.0:50051"),
        ("MLA_HTTP_ADDR", "0.0.0.0:8080"),
        ("MLA_DATA_DIR", "/var/lib/mla"),
        ("MLA_JWT_ISSUER", "https://idp.example/realms/ncijc"),
        ("MLA_JWT_AUDIENCE", "mla-api"),
        ("MLA_JWT_KEYS_FILE", "/etc/mla/jwks.json"),
        ("MLA_LOG", "mla=debug"),
        ("MLA_LOG_FORMAT", "json"),
        ("MLA_TLS_CERT", "/etc/mla/tls.crt"),
        ("MLA_TLS_KEY", "/etc/mla/tls.key"),
        ("MLA_TLS_CLIENT_CA", "/etc/mla/ca.crt"),
        ("MLA_SLA_NORMAL_DAYS", "60"),
        ("MLA_SLA_URGENT_HOURS", "48"),
        ("MLA_RATE_LIMIT_PER_SECOND", "50"),
        ("MLA_RATE_LIMIT_BURST", "80"),
        ("MLA_MAX_CONCURRENT_CALLS", "8"),
        ("MLA_MAX_STREAMS", "0"),
        ("MLA_MIGRATE_ON_START", "false"),
        ("MLA_SHUTDOWN_DELAY_SECONDS", "5"),
    ]);
    let config = Config::load(None, environment, ConfigLayer::default()).unwrap();
    assert_eq!(config.database_url(), "postgres://mla@db/mla");
    assert_eq!(config.grpc_addr, addr("0.0.0.0:50051"));
    assert_eq!(config.http_addr, addr("0.0.0.0:8080"));
    assert_eq!(config.data_dir, PathBuf::from("/var/lib/mla"));
    assert_eq!(config.jwt_issuer.as_deref(), Some("https://idp.example/realms/ncijc"));
    assert_eq!(config.jwt_audience.as_deref(), Some("mla-api"));
    assert_eq!(config.jwt_keys_file, Some(PathBuf::from("/etc/mla/jwks.json")));
    assert_eq!(config.log, "mla=debug");
    assert_eq!(config.log_format, LogFormat::Json);
    assert_eq!(config.tls_cert, Some(PathBuf::from("/etc/mla/tls.crt")));
    assert_eq!(config.tls_key, Some(PathBuf::from("/etc/mla/tls.key")));
    assert_eq!(config.tls_client_ca, Some(PathBuf::from("/etc/mla/ca.crt")));
    assert_eq!((config.sla_normal_days, config.sla_urgent_hours), (60, 48));
    assert_eq!(
        config.limits(),
        mla_grpc::LimitSettings { calls_per_second: 50, burst: 80, concurrent_calls: 8, streams: 0 }
    );
    assert!(!config.migrate_on_start);
    assert_eq!(config.shutdown_delay(), Duration::from_secs(5));
    assert!(!config.is_development());

    // The two key sources not used above, one at a time (two at once are refused).
    let jwks = Config::load(
        None,
        env(&[("MLA_JWT_JWKS_URL", "https://idp.example/certs"), ("MLA_JWT_ISSUER", "https://idp.example")]),
        ConfigLayer::default(),
    )
    .unwrap();
    assert_eq!(jwks.jwt_jwks_url.as_deref(), Some("https://idp.example/certs"));
    let secret = "0123456789abcdef0123456789abcdef";
    let hs256 = Config::load(None, env(&[("MLA_JWT_HS256_SECRET", secret)]), ConfigLayer::default()).unwrap();
    assert_eq!(hs256.jwt_hs256_secret.as_ref().map(|s| s.expose()), Some(secret));
    assert!(!format!("{hs256:?}").contains(secret), "the secret must not show in Debug output");
    assert!(!hs256.to_redacted_toml().contains(secret), "nor in `mla-broker config`");
}

#[test]
fn an_empty_environment_variable_leaves_the_key_to_the_sources_below() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broker.toml");
    std::fs::write(&file, "grpc_addr = \"127.0.0.1:1001\"\n").unwrap();
    let config = Config::load(
        Some(&file),
        env(&[("MLA_GRPC_ADDR", ""), ("MLA_JWT_JWKS_URL", " ")]),
        ConfigLayer::default(),
    )
    .unwrap();
    assert_eq!(config.grpc_addr, addr("127.0.0.1:1001"));
    assert_eq!(config.jwt_jwks_url, None);
}

#[test]
fn a_bad_value_is_refused_naming_where_it_came_from() {
    let bad_env =
        Config::load(None, env(&[("MLA_GRPC_ADDR", "localhost")]), ConfigLayer::default()).unwrap_err();
    assert!(format!("{bad_env:#}").contains("MLA_GRPC_ADDR"), "{bad_env:#}");

    let bad_format =
        Config::load(None, env(&[("MLA_LOG_FORMAT", "xml")]), ConfigLayer::default()).unwrap_err();
    assert!(format!("{bad_format:#}").contains("MLA_LOG_FORMAT"), "{bad_format:#}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typo.toml");
    std::fs::write(&file, "grpc_adress = \"127.0.0.1:1\"\n").unwrap();
    let typo = Config::load(Some(&file), no_env(), ConfigLayer::default()).unwrap_err();
    let message = format!("{typo:#}");
    assert!(message.contains("typo.toml") && message.contains("grpc_adress"), "{message}");

    let missing =
        Config::load(Some(&dir.path().join("absent.toml")), no_env(), ConfigLayer::default()).unwrap_err();
    assert!(format!("{missing:#}").contains("absent.toml"), "{missing:#}");
}

#[test]
fn combinations_that_cannot_be_meant_are_refused() {
    let refused =
        |pairs: &[(&str, &str)]| Config::load(None, env(pairs), ConfigLayer::default()).unwrap_err();
    let secret = "0123456789abcdef0123456789abcdef";
    let two_keys = refused(&[
        ("MLA_JWT_HS256_SECRET", secret),
        ("MLA_JWT_KEYS_FILE", "/k.pem"),
        ("MLA_JWT_ISSUER", "i"),
    ]);
    assert!(two_keys.to_string().contains("more than one token key source"), "{two_keys}");
    let no_issuer = refused(&[("MLA_JWT_JWKS_URL", "https://idp.example/certs")]);
    assert!(no_issuer.to_string().contains("MLA_JWT_ISSUER"), "{no_issuer}");
    let half_tls = refused(&[("MLA_TLS_CERT", "/c.pem")]);
    assert!(half_tls.to_string().contains("MLA_TLS_KEY"), "{half_tls}");
    let ca_alone = refused(&[("MLA_TLS_CLIENT_CA", "/ca.pem")]);
    assert!(ca_alone.to_string().contains("mutual TLS"), "{ca_alone}");
    let zero_sla = refused(&[("MLA_SLA_URGENT_HOURS", "0")]);
    assert!(zero_sla.to_string().contains("sla_"), "{zero_sla}");
    let same_port = refused(&[("MLA_GRPC_ADDR", "127.0.0.1:9000"), ("MLA_HTTP_ADDR", "127.0.0.1:9000")]);
    assert!(same_port.to_string().contains("different ports"), "{same_port}");
}

#[test]
fn the_token_command_takes_repeated_or_comma_separated_roles_and_a_human_ttl() {
    let cli = Cli::try_parse_from([
        "mla-broker",
        "token",
        "--sub",
        "alice",
        "--role",
        "judge,supervisor",
        "--role",
        "auditor",
        "--ttl",
        "7d",
    ])
    .unwrap();
    let Command::Token(args) = cli.command else { panic!("not the token command") };
    use mla_domain::Role;
    assert_eq!(args.roles, [Role::Judge, Role::Supervisor, Role::Auditor]);
    assert_eq!(args.ttl, std::time::Duration::from_secs(7 * 24 * 3600));

    let default_ttl = Cli::try_parse_from(["mla-broker", "token", "--sub", "a", "--role", "judge"]).unwrap();
    let Command::Token(args) = default_ttl.command else { panic!("not the token command") };
    assert_eq!(args.ttl, std::time::Duration::from_secs(3600));

    for bad in [
        vec!["mla-broker", "token", "--sub", "a", "--role", "superuser"],
        vec!["mla-broker", "token", "--sub", "a", "--role", "judge", "--ttl", "soon"],
        vec!["mla-broker", "token", "--sub", "a", "--role", "partner", "--partner", "fr moj"],
        vec!["mla-broker", "token", "--sub", "a"],
    ] {
        assert!(Cli::try_parse_from(&bad).is_err(), "{bad:?} should not parse");
    }
}

#[test]
fn the_example_file_documents_every_key_with_a_valid_value() {
    let example = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/mla-broker.example.toml"));
    // As shipped (the active lines alone) it loads and passes validation.
    let shipped = ConfigLayer::from_toml(example).expect("the example parses");
    Config::from_layer(shipped).validate().expect("the example's active settings are valid");

    // With every commented-out `# key = value` line switched on, every key has a value: no key is
    // undocumented, and every documented value parses.
    let uncommented: String = example
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest)
                if rest.split_once(" = ").is_some_and(|(key, _)| {
                    !key.is_empty()
                        && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                }) =>
            {
                rest
            }
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let all = ConfigLayer::from_toml(&uncommented).expect("every documented value parses");
    let ConfigLayer {
        database_url,
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
    } = all;
    // Destructured without `..`, so that a key added to the configuration but not to the example
    // breaks this test at compile time.
    assert!(database_url.is_some() && grpc_addr.is_some() && http_addr.is_some() && data_dir.is_some());
    assert!(jwt_issuer.is_some() && jwt_audience.is_some() && jwt_hs256_secret.is_some());
    assert!(jwt_keys_file.is_some() && jwt_jwks_url.is_some() && console_client_id.is_some());
    assert!(log.is_some() && log_format.is_some());
    assert!(tls_cert.is_some() && tls_key.is_some() && tls_client_ca.is_some());
    assert!(sla_normal_days.is_some() && sla_urgent_hours.is_some() && idempotency_retention_days.is_some());
    assert!(max_document_bytes.is_some() && signing_key_file.is_some());
    assert!(rate_limit_per_second.is_some() && rate_limit_burst.is_some());
    assert!(max_concurrent_calls.is_some() && max_streams.is_some());
    assert!(migrate_on_start.is_some() && shutdown_delay_seconds.is_some());
    assert!(otlp_endpoint.is_some());
    assert!(grpc_keepalive_seconds.is_some() && grpc_keepalive_timeout_seconds.is_some());
}

#[test]
fn the_debug_form_of_the_configuration_shows_no_secret() {
    let password = "s3cr3t-pw";
    let secret = "an-hs256-secret-that-must-never-be-shown-0123";
    let url = "postgres://u:s3cr3t-pw@h/db";
    let environment = [("MLA_DATABASE_URL", url), ("MLA_JWT_HS256_SECRET", secret)];
    let config =
        Config::load(None, env(&environment), ConfigLayer::default()).expect("the configuration loads");
    let cli =
        Cli::try_parse_from(["mla-broker", "--database-url", url, "--jwt-hs256-secret", secret, "serve"])
            .expect("the flags parse");

    for shown in
        [format!("{config:?}"), format!("{config:#?}"), format!("{:?}", cli.settings), format!("{cli:?}")]
    {
        assert!(!shown.contains(password), "{shown}");
        assert!(!shown.contains(secret), "{shown}");
        // Masked, not left out: the reader still sees what is configured.
        assert!(shown.contains("postgres://u:***@h/db"), "{shown}");
        assert!(shown.contains("Secret(<redacted>)"), "{shown}");
    }
    // The secret type hides itself in every form it can be written in.
    let hs256 = config.jwt_hs256_secret.as_ref().expect("the secret is set");
    assert_eq!(hs256.to_string(), "<redacted>");
    assert_eq!(serde_json::to_string(hs256).unwrap(), "\"<redacted>\"");
    assert_eq!(hs256.expose(), secret);
}

#[test]
fn a_toml_mistake_on_a_secrets_line_does_not_quote_the_line() {
    let text = "log = \"info\"\ndatabase_url = postgres://u:s3cr3t-pw@h/db\n";
    let error = format!("{:#}", ConfigLayer::from_toml(text).unwrap_err());
    assert!(!error.contains("s3cr3t-pw"), "{error}");
    assert!(error.contains("line 2"), "the mistake is still located: {error}");
}
