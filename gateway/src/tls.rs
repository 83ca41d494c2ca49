//! Server-side TLS: the client-facing rustls configuration (mutual TLS
//! required, CA bundle and CRLs), loaded from files and swapped atomically on
//! reload. Established connections keep the configuration they started with,
//! but each request checks its connection's certificate against the current
//! CRLs and CA bundle and its expiry ([`recheck`]).

use arc_swap::ArcSwap;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub mod identity;
pub mod recheck;

/// Why TLS material could not be loaded. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no PEM object of the expected kind.
    #[error("{what} {path}: {reason}")]
    File {
        /// What the file was meant to hold.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// rustls refused the material (e.g. key does not match certificate).
    #[error("TLS configuration refused: {0}")]
    Rustls(String),
}

/// Paths of the client-facing TLS material.
#[derive(Clone, Debug)]
pub struct ServerTlsPaths {
    /// Certificate chain (PEM).
    pub cert: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
    /// Client CA bundle (PEM).
    pub client_ca: PathBuf,
    /// CRLs (PEM).
    pub crls: Vec<PathBuf>,
}

impl ServerTlsPaths {
    /// Every file the material comes from (watched for changes).
    pub fn files(&self) -> Vec<PathBuf> {
        let mut v = vec![self.cert.clone(), self.key.clone(), self.client_ca.clone()];
        v.extend(self.crls.iter().cloned());
        v
    }
}

/// The ring crypto provider, used explicitly everywhere so library users
/// (tests) need not install a process default.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate in a PEM file (at least one).
pub fn read_certs(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    parse_certs(what, path, &read(what, path)?)
}

/// Every certificate in PEM text read from `path` (at least one).
pub fn parse_certs(
    what: &'static str,
    path: &Path,
    data: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(data).collect();
    let certs = certs.map_err(|e| file_err(what, path, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(file_err(what, path, "no CERTIFICATE block found".into()));
    }
    Ok(certs)
}

/// Reads one private key from a PEM file.
pub fn read_key(what: &'static str, path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    parse_key(what, path, &read(what, path)?)
}

/// One private key in PEM text read from `path`.
pub fn parse_key(
    what: &'static str,
    path: &Path,
    data: &[u8],
) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(data)
        .map_err(|_| file_err(what, path, "no usable PRIVATE KEY block found".into()))
}

/// Reads CRLs from PEM files (each file may hold several).
pub fn read_crls(
    paths: &[PathBuf],
) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let mut out = Vec::new();
    for path in paths {
        let data = read("CRL", path)?;
        let before = out.len();
        for crl in CertificateRevocationListDer::pem_slice_iter(&data) {
            out.push(crl.map_err(|e| file_err("CRL", path, format!("bad PEM: {e}")))?);
        }
        if out.len() == before {
            return Err(file_err("CRL", path, "no X509 CRL block found".into()));
        }
    }
    Ok(out)
}

/// Reads the CRLs (each file once) and checks them.
///
/// Every CRL must be signed by a certificate of the client CA bundle.
/// rustls accepts any well-formed CRL at build time and only fails when a
/// handshake needs it, so a CRL from another CA would refuse every client
/// (a full outage after a bad rotation); refused here instead, it fails
/// `serve --check` and a reload keeps the previous material. A CRL past its
/// `nextUpdate` still loads (an old list is better than none) with a
/// warning.
///
/// And with CRLs configured, every CA of the bundle must have one: rustls
/// refuses a certificate whose revocation status is unknown, so a CA added
/// without its CRL (a CA rotation) would refuse every client it issued while
/// the reload reported success.
///
/// Of several CRLs with the same scope (issuer and issuing distribution
/// point), only the newest is kept ([`newest_per_scope`]): rustls consults
/// the first one that matches and never the others, so an old CRL listed
/// before a new one (`cat new.pem >> crl.pem`, or the previous file kept
/// in `crls` during a rotation) would hide every later revocation.
fn load_crls(
    paths: &[PathBuf],
    cas: &[CertificateDer<'_>],
) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let mut out: Vec<ScopedCrl> = Vec::new();
    let cas: Vec<_> = cas
        .iter()
        .filter_map(|c| x509_parser::parse_x509_certificate(c.as_ref()).ok())
        .map(|(_, c)| c)
        .collect();
    let mut covered = vec![false; cas.len()];
    for path in paths {
        for der in read_crls(std::slice::from_ref(path))? {
            let (_, crl) = x509_parser::parse_x509_crl(der.as_ref())
                .map_err(|e| file_err("CRL", path, format!("unparsable CRL: {e}")))?;
            // The key that signed it (its CA's public key), part of its scope.
            let mut signer: Option<Vec<u8>> = None;
            for (i, ca) in cas.iter().enumerate() {
                if ca.subject() == crl.issuer() && crl.verify_signature(ca.public_key()).is_ok() {
                    signer.get_or_insert_with(|| ca.public_key().raw.to_vec());
                    covered[i] = true;
                }
            }
            let Some(signer) = signer else {
                return Err(file_err(
                    "CRL",
                    path,
                    format!(
                        "issued by {}, it is not signed by any certificate of the client CA bundle",
                        crl.issuer()
                    ),
                ));
            };
            if let Some(next) = crl.next_update() {
                if next.timestamp() < time::OffsetDateTime::now_utc().unix_timestamp() {
                    tracing::warn!(crl = %path.display(), next_update = %next, "CRL past its nextUpdate: publish a fresh one");
                }
            }
            let idp = crl
                .extensions()
                .iter()
                .find(|e| {
                    e.oid == x509_parser::oid_registry::OID_X509_EXT_ISSUER_DISTRIBUTION_POINT
                })
                .map(|e| e.value.to_vec());
            out.push(ScopedCrl {
                scope: (crl.issuer().as_raw().to_vec(), signer, idp),
                issuer: crl.issuer().to_string(),
                number: crl.crl_number().cloned(),
                this_update: crl.last_update().timestamp(),
                path: path.clone(),
                der,
            });
        }
    }
    // rustls' verifier (webpki) takes the first CRL whose issuer *name*
    // matches a certificate's and checks it with that certificate's CA
    // key: with two CAs of one name and two keys (a CA renewed under its
    // old name), the clients of whichever CA's CRL comes second would all
    // fail their handshakes. Refused here, where it can be said, instead.
    for (i, a) in out.iter().enumerate() {
        let twin = out[..i]
            .iter()
            .find(|b| b.scope.0 == a.scope.0 && b.scope.2 == a.scope.2 && b.scope.1 != a.scope.1);
        if let Some(b) = twin {
            return Err(file_err(
                "CRL",
                &a.path,
                format!(
                    "it and {} are CRLs of two client CAs with the same name ({}) and \
                     different keys: the TLS library picks a CRL by issuer name, so every \
                     client of one of the two CAs would be refused; give the new CA a name \
                     of its own (e.g. \"… CA G2\")",
                    b.path.display(),
                    a.issuer
                ),
            ));
        }
    }
    let out = newest_per_scope(out);
    if let (Some(first), Some(i)) = (paths.first(), covered.iter().position(|c| !c)) {
        return Err(file_err(
            "CRL",
            first,
            format!(
                "no CRL of {} (in the client CA bundle) among the configured CRLs: \
                 every client it issued would be refused (revocation status unknown); \
                 add its CRL",
                cas[i].subject()
            ),
        ));
    }
    Ok(out)
}

/// A checked CRL with what [`newest_per_scope`] compares.
struct ScopedCrl {
    /// Issuer name (DER), the signing key, and issuing distribution point
    /// (DER, when present): CRLs of different distribution points of one CA
    /// each cover their own part and are all kept. Two CAs that share a
    /// name but not a key are refused by [`load_crls`].
    scope: (Vec<u8>, Vec<u8>, Option<Vec<u8>>),
    /// The issuer name, for messages.
    issuer: String,
    number: Option<x509_parser::num_bigint::BigUint>,
    /// `thisUpdate`, Unix seconds.
    this_update: i64,
    path: PathBuf,
    der: CertificateRevocationListDer<'static>,
}

impl ScopedCrl {
    /// Whether `self` supersedes `other` (same scope): the higher CRL
    /// number (RFC 5280 §5.2.3: monotonically increasing), or, when either
    /// has none or they are equal, the later `thisUpdate`.
    fn supersedes(&self, other: &ScopedCrl) -> bool {
        match (&self.number, &other.number) {
            (Some(a), Some(b)) if a != b => a > b,
            _ => self.this_update > other.this_update,
        }
    }
}

/// Keeps the newest CRL of each scope, in the order the scopes first
/// appeared; each one dropped is logged with the file it came from.
fn newest_per_scope(crls: Vec<ScopedCrl>) -> Vec<CertificateRevocationListDer<'static>> {
    let mut kept: Vec<ScopedCrl> = Vec::with_capacity(crls.len());
    for crl in crls {
        let Some(k) = kept.iter_mut().find(|k| k.scope == crl.scope) else {
            kept.push(crl);
            continue;
        };
        let older = if crl.supersedes(k) {
            std::mem::replace(k, crl)
        } else {
            crl
        };
        // The same CRL listed twice is no news.
        if older.der.as_ref() != k.der.as_ref() {
            tracing::warn!(
                superseded = %older.path.display(),
                newer = %k.path.display(),
                "an older CRL of the same CA is ignored: only the newest is consulted"
            );
        }
    }
    kept.into_iter().map(|k| k.der).collect()
}

/// A root store from a CA bundle file.
pub fn read_roots(what: &'static str, path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(what, path)? {
        roots
            .add(cert)
            .map_err(|e| file_err(what, path, format!("unusable CA certificate: {e}")))?;
    }
    Ok(roots)
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| file_err(what, path, e.to_string()))
}

fn file_err(what: &'static str, path: &Path, reason: String) -> TlsError {
    TlsError::File {
        what,
        path: path.to_owned(),
        reason,
    }
}

/// Builds the client-facing server configuration: client certificates are
/// required and verified against the CA bundle and every CRL (end entity and
/// intermediates); ALPN offers `h2` then `http/1.1`.
pub fn build_server_config(paths: &ServerTlsPaths) -> Result<Arc<ServerConfig>, TlsError> {
    build(paths).map(|(cfg, _)| cfg)
}

/// [`build_server_config`] and what its CRLs revoke.
fn build(paths: &ServerTlsPaths) -> Result<(Arc<ServerConfig>, Arc<recheck::InForce>), TlsError> {
    let provider = provider();
    let roots = read_roots("client CA bundle", &paths.client_ca)?;
    let crls = load_crls(
        &paths.crls,
        &read_certs("client CA bundle", &paths.client_ca)?,
    )?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .with_crls(crls)
        .build()
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    // Established connections are rechecked with the same verifier.
    let in_force = Arc::new(recheck::InForce::new(verifier.clone()));
    let certs = read_certs("server certificate", &paths.cert)?;
    let key = read_key("server key", &paths.key)?;
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // No session resumption: a resumed session is not verified again, so a
    // client certificate that expired since the first handshake (or a CA no
    // longer trusted) would keep working for the ticket's lifetime. Every
    // connection makes a full handshake; clients keep connections alive.
    cfg.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    cfg.send_tls13_tickets = 0;
    Ok((Arc::new(cfg), in_force))
}

/// The current client-facing TLS configuration, replaceable at run time.
#[derive(Debug)]
pub struct TlsStore {
    paths: ServerTlsPaths,
    current: ArcSwap<ServerConfig>,
    in_force: ArcSwap<recheck::InForce>,
    /// The certificate chains of open connections (for their rechecks).
    chains: recheck::Chains,
    generation: AtomicU64,
    reload_attempts: AtomicU64,
    reloads_failed: AtomicU64,
}

impl TlsStore {
    /// Loads the material; fails if any file is unusable.
    pub fn load(paths: ServerTlsPaths) -> Result<TlsStore, TlsError> {
        let (cfg, in_force) = build(&paths)?;
        Ok(TlsStore {
            paths,
            current: ArcSwap::new(cfg),
            in_force: ArcSwap::new(in_force),
            chains: recheck::Chains::default(),
            generation: AtomicU64::new(0),
            reload_attempts: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
        })
    }

    /// The configuration new connections use.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.current.load_full()
    }

    /// Re-reads every file; on success new connections use the new material,
    /// on failure the old material stays in force and the error says why.
    /// A failure is not counted here: the reloader counts it once it gives
    /// up waiting for the rest of a rotation
    /// ([`TlsStore::count_failed_reload`]).
    pub fn reload(&self) -> Result<(), TlsError> {
        self.reload_attempts.fetch_add(1, Ordering::Relaxed);
        let (cfg, in_force) = build(&self.paths)?;
        // The recheck material first: a request that sees the new
        // generation checks against it.
        self.in_force.store(in_force);
        self.current.store(cfg);
        self.generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Counts a reload that failed (the old material stayed in force).
    pub fn count_failed_reload(&self) {
        self.reloads_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// What the material in force trusts and revokes (for established
    /// connections).
    pub fn in_force(&self) -> Arc<recheck::InForce> {
        self.in_force.load_full()
    }

    /// The shared copy of a connection's certificate chain.
    pub fn chain(&self, chain: &[CertificateDer<'_>]) -> Arc<recheck::Chain> {
        self.chains.intern(chain)
    }

    /// How many times new material was put in force since start.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Reloads tried, whatever their outcome.
    pub fn reload_attempts(&self) -> u64 {
        self.reload_attempts.load(Ordering::Relaxed)
    }

    /// Reloads that failed (the old material stayed in force).
    pub fn reloads_failed(&self) -> u64 {
        self.reloads_failed.load(Ordering::Relaxed)
    }

    /// The files to watch.
    pub fn paths(&self) -> &ServerTlsPaths {
        &self.paths
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Two client CAs of one name and two keys (a CA renewed under its old
    /// name) each with its CRL: rustls would check every client against
    /// the first CRL of that name, refusing all clients of the other CA
    /// (static review: `BadSignature` at every handshake). Refused at load.
    #[test]
    fn crls_of_two_cas_sharing_a_name_are_refused_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let old = credgate_certs::new_ca(credgate_certs::CLIENT_CA_NAME).unwrap();
        let renewed = credgate_certs::new_ca(credgate_certs::CLIENT_CA_NAME).unwrap();
        let other = credgate_certs::new_ca("credgate client CA G2").unwrap();
        let crl = |ca: &credgate_certs::CertPair, name: &str| {
            let path = dir.path().join(name);
            let pem = credgate_certs::make_crl(&ca.cert_pem, &ca.key_pem, &[]).unwrap();
            std::fs::write(&path, pem).unwrap();
            path
        };
        let der = |ca: &credgate_certs::CertPair| {
            parse_certs("CA", Path::new("ca"), ca.cert_pem.as_bytes())
                .unwrap()
                .remove(0)
        };
        let (old_crl, renewed_crl, other_crl) = (
            crl(&old, "old.pem"),
            crl(&renewed, "renewed.pem"),
            crl(&other, "g2.pem"),
        );
        let err = load_crls(
            &[old_crl.clone(), renewed_crl.clone()],
            &[der(&old), der(&renewed)],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("same name"), "{err}");
        assert!(
            err.contains("old.pem") && err.contains("renewed.pem"),
            "{err}"
        );
        // A renewed CA with a name of its own loads beside the old one.
        let crls = load_crls(&[old_crl, other_crl], &[der(&old), der(&other)]).unwrap();
        assert_eq!(crls.len(), 2);
        // The renewed CA alone (the old one retired) loads too.
        assert_eq!(
            load_crls(&[renewed_crl], &[der(&renewed)]).unwrap().len(),
            1
        );
    }
}
