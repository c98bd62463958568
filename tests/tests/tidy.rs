//! Repository rules as a test: the crate boundaries that ARCHITECTURE.md promises, checked on the
//! manifests themselves, and the house style every source file follows.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

/// The names of the normal (non-dev, non-build) dependencies of a crate under `crates/`.
fn dependencies(krate: &str) -> Vec<String> {
    let manifest =
        fs::read_to_string(root().join("crates").join(krate).join("Cargo.toml")).expect("a manifest");
    let mut in_dependencies = false;
    let mut names = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
        } else if in_dependencies && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
            names.push(name.to_owned());
        }
    }
    names
}

fn crates() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root().join("crates"))
        .expect("the crates folder")
        .map(|entry| entry.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_gateway_reaches_the_broker_only_through_the_grpc_contract() {
    let internal: Vec<String> =
        dependencies("mla-gateway").into_iter().filter(|d| d.starts_with("mla-")).collect();
    assert_eq!(internal, ["mla-proto"], "the gateway owns no storage and no rule");
    assert!(!dependencies("mla-gateway").iter().any(|d| d == "sqlx"));
}

/// The storage crates: the backends and the SQL they share.
const STORAGE: [&str; 3] = ["mla-store-sql", "mla-store-sqlite", "mla-store-postgres"];

#[test]
fn only_the_storage_crates_mention_sqlx() {
    for krate in crates() {
        let uses_sqlx = dependencies(&krate).iter().any(|d| d == "sqlx");
        let storage = STORAGE.contains(&krate.as_str());
        assert_eq!(uses_sqlx, storage, "{krate}: sqlx belongs to the storage crates alone");
    }
}

#[test]
fn the_shared_sql_names_no_driver() {
    let manifest = fs::read_to_string(root().join("crates/mla-store-sql/Cargo.toml")).expect("a manifest");
    let sqlx = manifest.lines().find(|line| line.starts_with("sqlx")).expect("mla-store-sql depends on sqlx");
    for driver in ["sqlite", "postgres", "mysql", "any"] {
        assert!(!sqlx.contains(driver), "mla-store-sql enables the {driver} driver: {sqlx}");
    }
}

#[test]
fn the_domain_knows_no_runtime_transport_or_database() {
    for forbidden in ["tokio", "sqlx", "tonic", "axum", "prost", "reqwest"] {
        assert!(
            !dependencies("mla-domain").iter().any(|d| d == forbidden),
            "mla-domain depends on {forbidden}"
        );
    }
    let internal: Vec<_> = dependencies("mla-domain").into_iter().filter(|d| d.starts_with("mla-")).collect();
    assert!(internal.is_empty(), "mla-domain depends on {internal:?}");
}

#[test]
fn every_rust_file_opens_with_a_line_saying_what_it_is_for() {
    fn visit(dir: &Path, missing: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).expect("a folder") {
            let path = entry.expect("an entry").path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if path.is_dir() && !name.starts_with('.') && name != "target" {
                visit(&path, missing);
            } else if name.ends_with(".rs") {
                let text = fs::read_to_string(&path).expect("a source file");
                if !text.starts_with("//!") {
                    missing.push(path);
                }
            }
        }
    }
    let mut missing = Vec::new();
    for folder in ["crates", "tests"] {
        visit(&root().join(folder), &mut missing);
    }
    assert!(missing.is_empty(), "files without a `//!` opening line: {missing:?}");
}

/// Both backends' migrations carry the same version numbers, so that a version names one change of
/// the schema whatever the database (a version one backend needs nothing for is a no-op there).
#[test]
fn both_migration_folders_hold_the_same_versions() {
    let versions = |dir: &str| -> Vec<String> {
        let path = root().join("migrations").join(dir);
        let mut versions: Vec<String> = std::fs::read_dir(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter_map(|name| name.split('_').next().map(str::to_owned))
            .collect();
        versions.sort();
        versions
    };
    assert_eq!(versions("sqlite"), versions("postgres"));
}
