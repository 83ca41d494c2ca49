//! Established connections against reloaded material. A handshake checks
//! the client certificate once; a connection then lives as long as it is
//! used. So that a certificate revoked by a new CRL (a stolen key), one
//! whose CA was taken out of the bundle (a compromised CA), or one that
//! expires stops working on connections it already holds, each request
//! checks its connection's certificate: expiry every time (one
//! comparison); everything else once per generation of the TLS material,
//! by running the chain the client sent at its handshake through the
//! verifier now in force — the same rustls/webpki verification a new
//! handshake gets (path building, CA flags, key usage, CRLs), then
//! remembered on the connection.
//!
//! Chains are kept per connection, shared by the connections that sent the
//! same one ([`Chains`]): a client's pool of connections holds one copy.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use rustls::server::danger::ClientCertVerifier;
use rustls::{CertificateError, Error as TlsError};
use rustls_pki_types::{CertificateDer, UnixTime};

/// What established connections are rechecked with: the client certificate
/// verifier of the material in force.
pub struct InForce {
    verifier: Arc<dyn ClientCertVerifier>,
}

impl std::fmt::Debug for InForce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InForce").finish_non_exhaustive()
    }
}

impl InForce {
    /// The material whose handshakes `verifier` checks.
    pub fn new(verifier: Arc<dyn ClientCertVerifier>) -> InForce {
        InForce { verifier }
    }
}

/// A certificate chain as a client sent it (end entity first).
#[derive(Debug)]
pub struct Chain(Box<[CertificateDer<'static>]>);

/// The chains of open connections, each kept once however many connections
/// sent it.
#[derive(Debug, Default)]
pub struct Chains {
    by_digest: Mutex<HashMap<[u8; 32], Weak<Chain>>>,
}

/// Entries are swept of closed chains when the map has grown past twice
/// what the last sweep left (and at least this).
const SWEEP_FLOOR: usize = 1024;

impl Chains {
    /// The shared copy of `chain`.
    pub fn intern(&self, chain: &[CertificateDer<'_>]) -> Arc<Chain> {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        for cert in chain {
            ctx.update(&(cert.len() as u64).to_be_bytes());
            ctx.update(cert.as_ref());
        }
        let mut digest = [0u8; 32];
        digest.copy_from_slice(ctx.finish().as_ref());
        let mut map = self.by_digest.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(shared) = map.get(&digest).and_then(Weak::upgrade) {
            return shared;
        }
        let owned = Arc::new(Chain(
            chain.iter().map(|c| c.clone().into_owned()).collect(),
        ));
        if map.len() >= SWEEP_FLOOR && map.len().is_power_of_two() {
            map.retain(|_, weak| weak.strong_count() > 0);
        }
        map.insert(digest, Arc::downgrade(&owned));
        owned
    }

    /// Chains tracked now (open connections' and not yet swept ones).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_digest.lock().map(|m| m.len()).unwrap_or(0)
    }
}

/// A connection's certificate, as far as the rechecks need it.
#[derive(Debug)]
pub struct CertStatus {
    chain: Arc<Chain>,
    not_after_unix: i64,
    /// 1 + the generation of TLS material it last passed (0: none).
    passed: AtomicU64,
}

impl CertStatus {
    /// From the chain the client sent (end entity first, expiring at
    /// `not_after_unix`), verified by the handshake under material
    /// `generation`.
    pub fn of(chain: Arc<Chain>, not_after_unix: i64, generation: u64) -> CertStatus {
        CertStatus {
            chain,
            not_after_unix,
            passed: AtomicU64::new(generation.saturating_add(1)),
        }
    }

    /// A status for unit tests that build a connection by hand: valid for
    /// ever, passed under generation 0, no chain (a recheck refuses it).
    #[cfg(test)]
    pub fn for_tests() -> CertStatus {
        CertStatus {
            chain: Arc::new(Chain(Box::default())),
            not_after_unix: i64::MAX,
            passed: AtomicU64::new(1),
        }
    }

    /// Whether the certificate still identifies its client at `now_unix`
    /// under material `generation`, which `in_force` describes. `Err` says
    /// why not.
    pub fn check(
        &self,
        now_unix: i64,
        generation: u64,
        in_force: impl FnOnce() -> Arc<InForce>,
    ) -> Result<(), &'static str> {
        if now_unix > self.not_after_unix {
            return Err("the client certificate has expired since this connection was opened");
        }
        let want = generation.saturating_add(1);
        if self.passed.load(Ordering::Relaxed) == want {
            return Ok(());
        }
        let Some((leaf, intermediates)) = self.chain.0.split_first() else {
            return Err("the client certificate no longer passes verification");
        };
        let now =
            UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(now_unix).unwrap_or(0)));
        match in_force()
            .verifier
            .verify_client_cert(leaf, intermediates, now)
        {
            Ok(_) => {
                self.passed.store(want, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(refusal(&e)),
        }
    }
}

/// Why a chain that passed its handshake no longer passes.
fn refusal(e: &TlsError) -> &'static str {
    match e {
        TlsError::InvalidCertificate(CertificateError::Revoked) => {
            "the client certificate was revoked since this connection was opened"
        }
        TlsError::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "the client certificate has expired since this connection was opened",
        TlsError::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        ) => "the CA that issued the client certificate is no longer trusted since this connection was opened",
        _ => "the client certificate no longer passes verification since this connection was opened",
    }
}

#[cfg(test)]
mod tests;
