//! Development mode: a per-installation HS256 secret under the data directory, and minting tokens with
//! it (the `mla-broker token` command).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mla_domain::{PartnerCode, Principal, Role};
use serde::Serialize;

use crate::{MIN_HS256_SECRET_BYTES, MintError};

/// The issuer of development tokens.
pub const DEV_ISSUER: &str = "mla-broker-dev";

/// The audience of development tokens (and the broker's default audience).
pub const DEV_AUDIENCE: &str = "mla-broker";

/// The development secret's file name inside the data directory.
pub const DEV_SECRET_FILE: &str = "dev-jwt-secret";

/// The development HS256 secret: read from `data_dir/dev-jwt-secret`, or created there (32 random
/// bytes, hex-encoded, mode 0600 on unix) together with the directory. A file that exists but does not
/// hold a usable secret is an error rather than overwritten, since tokens minted with it may be in use.
pub fn dev_secret(data_dir: &Path) -> io::Result<Vec<u8>> {
    let path = data_dir.join(DEV_SECRET_FILE);
    match fs::read_to_string(&path) {
        Ok(contents) => {
            warn_if_readable_by_others(&path);
            return parse_secret(&path, &contents);
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    fs::create_dir_all(data_dir)?;
    let mut secret = vec![0u8; MIN_HS256_SECRET_BYTES];
    getrandom::fill(&mut secret)
        .map_err(|e| io::Error::other(format!("no randomness for the secret: {e}")))?;

    match create_private(&path, format!("{}\n", hex::encode(&secret)).as_bytes()) {
        Ok(()) => {
            tracing::warn!(
                path = %path.display(),
                "created a development token secret: tokens signed with it are for development only"
            );
            Ok(secret)
        }
        // Another process created it between our read and our create: use theirs.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            parse_secret(&path, &fs::read_to_string(&path)?)
        }
        Err(e) => Err(e),
    }
}

/// Creates `path` with `contents`, readable by its owner only (mode 0600 on unix), durably. Fails
/// with `AlreadyExists` rather than overwrite: two processes starting together keep one file.
pub(crate) fn create_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Whoever can read the secret can mint tokens for any role; say so when others can read it.
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = fs::metadata(path)
            && metadata.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                "the development token secret is readable by other users; chmod 600 it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

fn parse_secret(path: &Path, contents: &str) -> io::Result<Vec<u8>> {
    let invalid = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} {why}; delete it to have a new secret made", path.display()),
        )
    };
    let secret = hex::decode(contents.trim()).map_err(|_| invalid("does not hold a hex-encoded secret"))?;
    if secret.len() < MIN_HS256_SECRET_BYTES {
        return Err(invalid("holds a secret shorter than 32 bytes"));
    }
    Ok(secret)
}

#[derive(Serialize)]
struct MintedClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    roles: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    partner: Option<&'a str>,
    iat: u64,
    nbf: u64,
    exp: u64,
}

/// Mints an HS256 token carrying `iss`, `aud`, `sub`, `roles`, `partner` (when given), `iat`, `nbf` and
/// `exp` (now plus `ttl`). The claims are checked the way the verifier will check them, so that no
/// token is minted that the broker would refuse.
pub fn mint_token(
    secret: &[u8],
    issuer: &str,
    audience: &str,
    subject: &str,
    roles: &[Role],
    partner: Option<&PartnerCode>,
    ttl: Duration,
) -> Result<String, MintError> {
    const MAX_TTL: Duration = Duration::from_secs(366 * 24 * 3600);
    if secret.len() < MIN_HS256_SECRET_BYTES {
        return Err(MintError::WeakSecret { len: secret.len() });
    }
    if ttl < Duration::from_secs(1) || ttl > MAX_TTL {
        return Err(MintError::InvalidTtl);
    }
    Principal::from_claims(subject, roles.iter().copied(), partner.cloned())
        .map_err(|e| MintError::InvalidPrincipal(e.0))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| MintError::Encoding("the system clock is before 1970".into()))?
        .as_secs();
    let claims = MintedClaims {
        iss: issuer,
        aud: audience,
        sub: subject,
        roles: roles.iter().map(|role| role.as_str()).collect(),
        partner: partner.map(PartnerCode::as_str),
        iat: now,
        nbf: now,
        exp: now + ttl.as_secs(),
    };
    let key = EncodingKey::from_secret(secret).map_err(|e| MintError::Encoding(e.to_string()))?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .map_err(|e| MintError::Encoding(e.to_string()))
}
