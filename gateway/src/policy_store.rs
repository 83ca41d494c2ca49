//! The policy in force: read from its file, validated as a whole off the
//! request path, and swapped atomically. In-flight requests keep the policy
//! they started with (they hold an `Arc`); a bad new file leaves the old one.

use arc_swap::ArcSwap;
use credgate_authz::TrustedIssuer;
use credgate_policy::{IssuerKey, Policy, PolicyErrors};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Why a policy file could not be (re)loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    /// The file could not be read.
    #[error("cannot read policy {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file has errors (every one is listed).
    #[error("policy {path} has {} error(s):\n{errors}", errors.len())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every error with its location.
        errors: PolicyErrors,
    },
    /// A trusted issuer's public key could not be read.
    #[error("policy {path}: issuer {issuer}: {reason}")]
    IssuerKey {
        /// The policy file.
        path: PathBuf,
        /// The issuer id.
        issuer: String,
        /// Why.
        reason: String,
    },
}

/// A validated policy together with the issuer keys it names, loaded and
/// swapped as one unit.
#[derive(Debug)]
pub struct LoadedPolicy {
    /// The policy.
    pub policy: Policy,
    /// Its trusted authorization issuers with their public keys.
    pub issuers: Vec<TrustedIssuer>,
    /// SHA-256 of the policy file as read, lower-case hex: what
    /// `sha256sum policy.toml` prints, so an operator can tell which file
    /// every replica runs (`/readyz`, the load and reload logs, `policy
    /// check`). The issuer key files it names are not included.
    pub sha256: String,
}

impl std::ops::Deref for LoadedPolicy {
    type Target = Policy;
    fn deref(&self) -> &Policy {
        &self.policy
    }
}

/// Reads and validates a policy file and the issuer keys it names (key
/// files resolve against the policy file's directory).
pub fn load_policy_file(path: &Path) -> Result<LoadedPolicy, PolicyLoadError> {
    load(path, None, &mut Vec::new())
}

/// Reads a policy file ([`load_policy_file`]) and checks it against the
/// configuration it runs under: every client's `home_scheme` must be one of
/// `schemes` (the configured score schemes), or its answers would silently
/// lack the home tier. A scheme outside them is one more located error
/// among the file's others.
pub fn load_policy_for(path: &Path, schemes: &[String]) -> Result<LoadedPolicy, PolicyLoadError> {
    load(path, Some(schemes), &mut Vec::new())
}

/// Loads `path`; `named` gets every issuer key file the text names, also
/// when the load fails (the reloader watches them: a policy refused for a
/// key not there yet loads once the key arrives).
fn load(
    path: &Path,
    schemes: Option<&[String]>,
    named: &mut Vec<PathBuf>,
) -> Result<LoadedPolicy, PolicyLoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| PolicyLoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    let origin = path.display().to_string();
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    // Keys are read and parsed during validation, so that an unreadable or
    // invalid key is reported with its location among all the file's other
    // errors (not alone, once those are fixed).
    // One entry per checked `[[issuers]]` table, in file order (an issuer
    // rotating its key has several).
    let mut trusted: Vec<(IssuerKey, TrustedIssuer)> = Vec::new();
    let mut check_key = |id: &str, key: &IssuerKey| -> Result<(), String> {
        let pem = match key {
            IssuerKey::Pem(pem) => pem.clone(),
            IssuerKey::File(f) => {
                let p = base.join(f);
                named.push(p.clone());
                std::fs::read_to_string(&p)
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))?
            }
        };
        let issuer = TrustedIssuer::from_spki_pem(id.to_owned(), None, &pem)
            .map_err(|e| format!("issuer {id}: {e}"))?;
        trusted.push((key.clone(), issuer));
        Ok(())
    };
    let policy = Policy::parse_for(&text, &origin, &mut check_key, schemes).map_err(|errors| {
        PolicyLoadError::Invalid {
            path: path.to_owned(),
            errors,
        }
    })?;
    let mut issuers = Vec::new();
    for issuer in policy.issuers() {
        // Every issuer of a valid policy had its key checked (and kept).
        let at = trusted
            .iter()
            .position(|(key, t)| t.id == issuer.id && *key == issuer.key);
        let mut checked =
            at.map(|at| trusted.remove(at).1)
                .ok_or_else(|| PolicyLoadError::IssuerKey {
                    path: path.to_owned(),
                    issuer: issuer.id.clone(),
                    reason: "key not checked".to_owned(),
                })?;
        checked.key_id = issuer.key_id.clone();
        issuers.push(checked);
    }
    let sha256 = hex::encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()));
    Ok(LoadedPolicy {
        policy,
        issuers,
        sha256,
    })
}

/// The current policy and its reload counters.
#[derive(Debug)]
pub struct PolicyStore {
    path: PathBuf,
    /// The configured score schemes (see [`load_policy_for`]).
    schemes: Vec<String>,
    current: ArcSwap<LoadedPolicy>,
    /// The issuer key files the last reload named, when it failed.
    refused_names: Mutex<Vec<PathBuf>>,
    reload_attempts: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
}

impl PolicyStore {
    /// Loads the initial policy; start-up fails if it is invalid or names a
    /// score scheme not among `schemes`.
    pub fn load(path: &Path, schemes: Vec<String>) -> Result<PolicyStore, PolicyLoadError> {
        let policy = load_policy_for(path, &schemes)?;
        Ok(PolicyStore {
            path: path.to_owned(),
            schemes,
            current: ArcSwap::from_pointee(policy),
            refused_names: Mutex::new(Vec::new()),
            reload_attempts: AtomicU64::new(0),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
        })
    }

    /// The policy new requests use.
    pub fn current(&self) -> Arc<LoadedPolicy> {
        self.current.load_full()
    }

    /// Re-reads the file; swaps only if the whole file is valid. A failure
    /// is not counted here: the reloader counts it once it gives up on it
    /// ([`PolicyStore::count_failed_reload`]), as a rollout may write the
    /// policy and a new key file one after the other.
    pub fn reload(&self) -> Result<(), PolicyLoadError> {
        self.reload_attempts.fetch_add(1, Ordering::Relaxed);
        let mut named = Vec::new();
        let loaded = load(&self.path, Some(&self.schemes), &mut named);
        let refused = match loaded {
            Ok(p) => {
                self.current.store(Arc::new(p));
                self.reloads_ok.fetch_add(1, Ordering::Relaxed);
                named.clear();
                Ok(())
            }
            Err(e) => Err(e),
        };
        *self
            .refused_names
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = named;
        refused
    }

    /// Counts a reload that failed (the old policy stayed in force).
    pub fn count_failed_reload(&self) {
        self.reloads_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// The policy file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The files a reload depends on: the policy, the issuer key files the
    /// policy in force names and, after a failed reload, those the refused
    /// file named (a key it waits for).
    pub fn watched_files(&self) -> Vec<PathBuf> {
        let base = self.path.parent().unwrap_or_else(|| Path::new("."));
        let mut v = vec![self.path.clone()];
        for issuer in self.current().policy.issuers() {
            if let IssuerKey::File(f) = &issuer.key {
                v.push(base.join(f));
            }
        }
        v.extend(
            self.refused_names
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .cloned(),
        );
        v.sort();
        v.dedup();
        v
    }

    /// Reloads tried since start, whatever their outcome.
    pub fn reload_attempts(&self) -> u64 {
        self.reload_attempts.load(Ordering::Relaxed)
    }

    /// Successful reloads since start.
    pub fn reloads_ok(&self) -> u64 {
        self.reloads_ok.load(Ordering::Relaxed)
    }

    /// Failed reloads since start.
    pub fn reloads_failed(&self) -> u64 {
        self.reloads_failed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo policy with its issuer key, in a temporary directory.
    fn demo_policy(dir: &Path) -> PathBuf {
        credgate_authz::keygen(&dir.join("certs/authz")).unwrap();
        let p = dir.join("policy.toml");
        std::fs::write(&p, credgate_policy::DEMO_POLICY).unwrap();
        p
    }

    #[test]
    fn a_home_scheme_missing_from_the_configuration_is_refused_on_load_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let p = demo_policy(dir.path());
        let known = |ids: &[&str]| ids.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        load_policy_for(&p, &known(&["qianjiang", "tianyi"])).unwrap();
        let err = load_policy_for(&p, &known(&["tianyi", "bailu"])).unwrap_err();
        let PolicyLoadError::Invalid { errors, .. } = &err else {
            panic!("{err}");
        };
        let e = &errors.errors()[0];
        assert_eq!(
            (errors.len(), e.kind, e.key_path.as_str()),
            (
                1,
                credgate_policy::ErrorKind::UnknownScheme,
                "clients[2].home_scheme"
            ),
            "{err}"
        );
        // Located at the value, with the schemes it may name.
        let line = credgate_policy::DEMO_POLICY
            .lines()
            .position(|l| l.contains("home_scheme"))
            .unwrap();
        assert_eq!(e.line, line + 1, "{err}");
        assert!(err.to_string().contains("tianyi, bailu"), "{err}");
        // A reload that would break the fit keeps the policy in force.
        let store = PolicyStore::load(&p, known(&["qianjiang"])).unwrap();
        std::fs::write(
            &p,
            credgate_policy::DEMO_POLICY.replace("\"qianjiang\"", "\"nosuch\""),
        )
        .unwrap();
        assert!(matches!(
            store.reload(),
            Err(PolicyLoadError::Invalid { .. })
        ));
        // Counted by the reloader once it gives up waiting for a fix.
        assert_eq!(store.reloads_failed(), 0);
        let in_force = store.current();
        let peer = in_force
            .policy
            .clients()
            .iter()
            .find(|c| c.id() == "peer-hz");
        assert_eq!(peer.and_then(|c| c.home_scheme()), Some("qianjiang"));
    }
}
