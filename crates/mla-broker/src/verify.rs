//! Offline checks of what the broker signed, for a partner or an auditor holding a receipt or an
//! evidence package and the broker's JWKS (`mla-broker signing-key`, or `/.well-known/jwks.json`).

use std::io::{Read, Seek};

use sha2::Digest as _;

/// Checks an evidence package: `manifest.json.jws` verifies against `jwks` and signs exactly
/// `manifest.json`, and every file the manifest lists is in the ZIP with its SHA-256 and size, and no
/// other. Returns the manifest, or why the package does not verify.
pub fn verify_package(jwks: &str, package: impl Read + Seek) -> Result<serde_json::Value, String> {
    let mut zip = zip::ZipArchive::new(package).map_err(|e| format!("not a ZIP: {e}"))?;
    let mut read = |name: &str| -> Result<Vec<u8>, String> {
        let mut entry = zip.by_name(name).map_err(|e| format!("{name}: {e}"))?;
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|e| format!("{name}: {e}"))?;
        Ok(bytes)
    };
    let manifest_bytes = read("manifest.json")?;
    let jws = String::from_utf8(read("manifest.json.jws")?).map_err(|_| "manifest.json.jws is not text")?;
    if mla_auth::verify_jws(jwks, &jws)? != manifest_bytes {
        return Err("manifest.json.jws does not sign manifest.json's bytes".into());
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&manifest_bytes).map_err(|e| format!("manifest.json: {e}"))?;
    let mut listed = vec!["manifest.json".to_owned(), "manifest.json.jws".to_owned()];
    for entry in manifest["documents"].as_array().ok_or("the manifest lists no documents")? {
        let file = entry["file"].as_str().ok_or("a document without its file")?;
        let content = read(file)?;
        let digest = hex::encode(sha2::Sha256::digest(&content));
        if Some(digest.as_str()) != entry["sha256"].as_str()
            || Some(content.len() as u64) != entry["size_bytes"].as_u64()
        {
            return Err(format!("{file} does not match its manifest entry"));
        }
        listed.push(file.to_owned());
    }
    for name in zip.file_names() {
        let name = name.map_err(|e| format!("a file name: {e}"))?;
        if !listed.iter().any(|l| *l == name) {
            return Err(format!("{name} is not in the manifest"));
        }
    }
    Ok(manifest)
}
