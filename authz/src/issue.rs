//! Operator functions behind `credgate authz keygen` and `credgate authz issue`.
//!
//! Tokens are assembled by hand (base64url header and payload, Ed25519 by ring) rather
//! than by `jsonwebtoken`'s encoder, because that encoder only loads PKCS#8 v2 keys
//! while OpenSSL writes v1.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::{SecureRandom as _, SystemRandom};
use serde_json::json;

use crate::claims::is_valid_jti;
use crate::key::load_private_key;
use crate::KeyError;

/// File name of the private key written by [`keygen`].
pub const ISSUER_KEY_FILE: &str = "issuer.key";
/// File name of the public key written by [`keygen`].
pub const ISSUER_PUB_FILE: &str = "issuer.pub";

/// What to put in a token made by [`issue`]. Its `Debug` leaves the
/// subject out (a raw identifier never reaches a log).
#[derive(Clone, PartialEq, Eq)]
pub struct IssueClaims {
    /// `iss`: the issuer id the gateway trusts the key under.
    pub iss: String,
    /// `sub`: the subject's USCC or ID number (written as given).
    pub sub: String,
    /// `aud`: the grantee client id.
    pub aud: String,
    /// `scope`: the granted scopes (at least one).
    pub scope: Vec<String>,
    /// `purpose`: the agreed purpose.
    pub purpose: String,
    /// Lifetime: `exp = iat + ttl` (whole seconds, at least one).
    pub ttl: Duration,
    /// `max_uses`, at least 1 when given.
    pub max_uses: Option<u32>,
    /// The `kid` header, when the gateway configures the issuer key with one.
    pub kid: Option<String>,
    /// `iat` and `nbf`, Unix seconds.
    pub now_unix: i64,
}

impl std::fmt::Debug for IssueClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssueClaims")
            .field("iss", &self.iss)
            .field("sub", &"[subject]")
            .field("aud", &self.aud)
            .field("scope", &self.scope)
            .field("purpose", &self.purpose)
            .field("ttl", &self.ttl)
            .field("max_uses", &self.max_uses)
            .field("kid", &self.kid)
            .field("now_unix", &self.now_unix)
            .finish()
    }
}

/// Why [`issue`] or [`keygen`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The private key could not be loaded.
    #[error("issuer key: {0}")]
    Key(#[from] KeyError),
    /// A claim is empty or out of range.
    #[error("invalid claim {claim}: {problem}")]
    Claims {
        /// The claim concerned.
        claim: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// The system random generator or signer failed.
    #[error("cryptographic failure: {0}")]
    Crypto(&'static str),
    /// Key generation in `credgate-certs` failed.
    #[error("key generation: {0}")]
    Keygen(#[from] credgate_certs::CertsError),
    /// A key file already exists; it is never overwritten.
    #[error("{} already exists; remove it first to make a new key pair", .0.display())]
    AlreadyExists(PathBuf),
    /// Writing a key file failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Why [`parse_ttl`] refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid TTL {input:?}: expected a positive integer followed by s, m, h or d (e.g. 30d, 12h, 90m, 3600s)")]
pub struct TtlError {
    /// The input as given.
    pub input: String,
}

/// Makes an Ed25519 issuer key pair in `out_dir` (created if missing):
/// `issuer.key` (PKCS#8 PEM, mode 0600) and `issuer.pub` (SPKI PEM).
///
/// Existing files are never overwritten ([`IssueError::AlreadyExists`]).
/// Returns `(private key path, public key path)`.
pub fn keygen(out_dir: &Path) -> Result<(PathBuf, PathBuf), IssueError> {
    fs::create_dir_all(out_dir).map_err(|source| IssueError::Io {
        action: "create directory",
        path: out_dir.to_path_buf(),
        source,
    })?;
    let key_path = out_dir.join(ISSUER_KEY_FILE);
    let pub_path = out_dir.join(ISSUER_PUB_FILE);
    for path in [&key_path, &pub_path] {
        if path.exists() {
            return Err(IssueError::AlreadyExists(path.clone()));
        }
    }
    let (private, public) = credgate_certs::ed25519_keypair_pem()?;
    write_new(&key_path, private.as_bytes(), 0o600)?;
    write_new(&pub_path, public.as_bytes(), 0o644)?;
    Ok((key_path, pub_path))
}

/// Signs a token for `claims` with the issuer's private key (PKCS#8 PEM, v1 or v2).
///
/// `jti` is 16 random bytes in hex; `iat = nbf = now_unix`; the header is
/// `{"alg":"EdDSA","typ":"JWT"}` plus `kid` when given.
pub fn issue(key_pem: &str, claims: &IssueClaims) -> Result<String, IssueError> {
    let invalid = |claim, problem| IssueError::Claims { claim, problem };
    for (name, value) in [
        ("iss", &claims.iss),
        ("sub", &claims.sub),
        ("aud", &claims.aud),
        ("purpose", &claims.purpose),
    ] {
        if value.is_empty() {
            return Err(invalid(name, "must not be empty"));
        }
    }
    if claims.scope.is_empty() || claims.scope.iter().any(|s| s.is_empty()) {
        return Err(invalid("scope", "must list at least one non-empty scope"));
    }
    if claims.max_uses == Some(0) {
        return Err(invalid("max_uses", "must be at least 1"));
    }
    if matches!(&claims.kid, Some(k) if k.is_empty()) {
        return Err(invalid("kid", "must not be empty"));
    }
    let ttl = i64::try_from(claims.ttl.as_secs())
        .ok()
        .filter(|t| *t >= 1)
        .ok_or(invalid("exp", "ttl must be at least one second"))?;
    let exp = claims
        .now_unix
        .checked_add(ttl)
        .filter(|exp| *exp <= crate::MAX_NUMERIC_DATE)
        .ok_or(invalid("exp", "past 9999-12-31, which no verifier accepts"))?;
    let pair = load_private_key(key_pem)?;
    let jti = random_jti()?;

    let mut header = json!({"alg": "EdDSA", "typ": "JWT"});
    if let (Some(kid), Some(obj)) = (&claims.kid, header.as_object_mut()) {
        obj.insert("kid".to_owned(), json!(kid));
    }
    let mut payload = json!({
        "iss": claims.iss,
        "sub": claims.sub,
        "aud": claims.aud,
        "scope": claims.scope,
        "purpose": claims.purpose,
        "iat": claims.now_unix,
        "nbf": claims.now_unix,
        "exp": exp,
        "jti": jti,
    });
    if let (Some(max), Some(obj)) = (claims.max_uses, payload.as_object_mut()) {
        obj.insert("max_uses".to_owned(), json!(max));
    }
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let signature = pair.sign(signing_input.as_bytes());
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    ))
}

/// Parses a lifetime such as `30d`, `12h`, `90m` or `3600s` (positive, unit required).
pub fn parse_ttl(input: &str) -> Result<Duration, TtlError> {
    let err = || TtlError {
        input: input.to_owned(),
    };
    let s = input.trim();
    let split = s.len().checked_sub(1).ok_or_else(err)?;
    let (digits, unit) = (
        s.get(..split).ok_or_else(err)?,
        s.get(split..).ok_or_else(err)?,
    );
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let n: u64 = digits.parse().map_err(|_| err())?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(err()),
    };
    match n.checked_mul(factor) {
        // Beyond i64 seconds a token's exp cannot be represented.
        Some(secs) if secs >= 1 && i64::try_from(secs).is_ok() => Ok(Duration::from_secs(secs)),
        _ => Err(err()),
    }
}

/// 16 random bytes, hex-encoded in groups of 8-4-4-4-12 (a UUID's
/// layout): no run of 18 characters, so it can never hold an ID number or
/// USCC, which a verifier would refuse (32 plain hex digits do about once
/// in a thousand).
fn random_jti() -> Result<String, IssueError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| IssueError::Crypto("system random generator failed"))?;
    let hex = hex::encode(bytes);
    let jti = [
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..],
    ]
    .join("-");
    debug_assert!(is_valid_jti(&jti) && !crate::claims::jti_names_a_subject(&jti));
    Ok(jti)
}

/// Creates `path` (which must not exist) with `mode` and writes `contents`, synced.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), IssueError> {
    let io = |action| {
        move |source| IssueError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    };
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(io("create"))?;
    file.write_all(contents).map_err(io("write"))?;
    file.sync_all().map_err(io("sync"))?;
    Ok(())
}

#[cfg(test)]
mod tests;
