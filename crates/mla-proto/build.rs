//! Compiles the `mla.v1` contract in the repository's `proto/` directory with protox (no system
//! `protoc`), generates its prost messages and tonic services, and writes the descriptor set served by
//! gRPC reflection.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use prost::Message as _;

/// The package directory whose files make up the public contract, relative to `proto/`.
const CONTRACT_DIR: &str = "mla/v1";

/// Vendored files that no contract file imports but that reflection should still describe, so that a
/// client such as grpcurl can decode the `ErrorInfo` and `BadRequest` details of an error.
const ERROR_MODEL_FILES: &[&str] =
    &["google/rpc/status.proto", "google/rpc/error_details.proto", "google/rpc/code.proto"];

/// The name of the encoded descriptor set in `OUT_DIR`, included by `src/lib.rs`.
const DESCRIPTOR_FILE: &str = "mla_descriptor.bin";

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    // Cargo scans a directory given here recursively, so adding, editing or removing any proto file
    // reruns this script.
    println!("cargo:rerun-if-changed={}", proto_root.display());
    println!("cargo:rerun-if-changed=build.rs");

    let contract_files = contract_files(&proto_root)?;
    let mut files = contract_files.clone();
    files.extend(ERROR_MODEL_FILES.iter().map(|name| (*name).to_owned()));

    // protox resolves `google/protobuf/*` itself and includes every import, with source info, so the
    // set below is complete for reflection and carries the proto comments to `grpcurl describe`.
    let descriptor_set = protox::compile(&files, [&proto_root])
        .map_err(|error| format!("compiling {}: {error:?}", proto_root.display()))?;
    fs::write(out_dir.join(DESCRIPTOR_FILE), descriptor_set.encode_to_vec())?;

    // Generate Rust for the contract files only: the google.api options are metadata read from the
    // descriptors, and the google.rpc details come from tonic-types at run time. The well-known types
    // stay in the set because prost-build looks their messages up (to decide which traits a message
    // can derive); it maps them to prost-types and generates nothing for them.
    let mut contract_set = descriptor_set;
    contract_set.file.retain(|file| {
        file.package() == "google.protobuf" || contract_files.iter().any(|name| file.name() == name)
    });

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .build_transport(true)
        .compile_fds(contract_set)?;

    Ok(())
}

/// Lists the contract's `.proto` files as import paths (`mla/v1/request.proto`, ...), sorted so the
/// generated code does not depend on the directory's order.
fn contract_files(proto_root: &Path) -> Result<Vec<String>, Box<dyn Error>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(proto_root.join(CONTRACT_DIR))? {
        let path = entry?.path();
        if path.extension().is_some_and(|extension| extension == "proto") {
            let file_name = path
                .file_name()
                .and_then(|name| name.to_str())
                .ok_or_else(|| format!("non-UTF-8 proto file name: {}", path.display()))?;
            names.push(format!("{CONTRACT_DIR}/{file_name}"));
        }
    }
    names.sort();
    if names.is_empty() {
        return Err(format!("no .proto files in {}", proto_root.join(CONTRACT_DIR).display()).into());
    }
    Ok(names)
}
