//! Established connections against reloaded material. A handshake checks
//! the client certificate once; a connection then lives as long as it is
//! used. So that a certificate revoked by a new CRL (a stolen key) or one
//! that expires stops working on connections it already holds, each request
//! checks its connection's certificate: expiry every time (one comparison),
//! revocation once per generation of the TLS material (a set lookup, then
//! remembered on the connection).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use rustls_pki_types::CertificateDer;
#[cfg(test)]
use rustls_pki_types::CertificateRevocationListDer;
use x509_parser::prelude::{CertificateRevocationList, FromDer, X509Certificate};

/// What the current CRLs revoke: (issuer name DER, serial) pairs.
#[derive(Debug, Default)]
pub struct Revoked {
    entries: HashSet<(Vec<u8>, Vec<u8>)>,
}

impl Revoked {
    /// Adds what `crl` revokes (called as each CRL is loaded and checked).
    pub fn insert(&mut self, crl: &CertificateRevocationList<'_>) {
        let issuer = crl.issuer().as_raw().to_vec();
        for r in crl.iter_revoked_certificates() {
            self.entries
                .insert((issuer.clone(), r.raw_serial().to_vec()));
        }
    }

    /// From CRL files' contents (tests).
    #[cfg(test)]
    fn from_crls(crls: &[CertificateRevocationListDer<'_>]) -> Revoked {
        let mut revoked = Revoked::default();
        for der in crls {
            if let Ok((_, crl)) = x509_parser::parse_x509_crl(der.as_ref()) {
                revoked.insert(&crl);
            }
        }
        revoked
    }

    fn contains(&self, cert: &CertStatus) -> bool {
        self.entries
            .contains(&(cert.issuer.to_vec(), cert.serial.to_vec()))
    }
}

/// A connection's certificate, as far as the rechecks need it.
#[derive(Debug)]
pub struct CertStatus {
    issuer: Box<[u8]>,
    serial: Box<[u8]>,
    not_after_unix: i64,
    /// 1 + the generation of TLS material it last passed (0: none).
    passed: AtomicU64,
}

impl CertStatus {
    /// From the verified end-entity certificate, which passed the handshake
    /// under material `generation`.
    pub fn of(der: &CertificateDer<'_>, generation: u64) -> Option<CertStatus> {
        let (_, cert) = X509Certificate::from_der(der.as_ref()).ok()?;
        Some(CertStatus {
            issuer: cert.issuer().as_raw().into(),
            serial: cert.raw_serial().into(),
            not_after_unix: cert.validity().not_after.timestamp(),
            passed: AtomicU64::new(generation.saturating_add(1)),
        })
    }

    /// A status for unit tests that build a connection by hand: valid for
    /// ever, passed under generation 0.
    #[cfg(test)]
    pub fn for_tests() -> CertStatus {
        CertStatus {
            issuer: Box::default(),
            serial: Box::default(),
            not_after_unix: i64::MAX,
            passed: AtomicU64::new(1),
        }
    }

    /// Whether the certificate still identifies its client at `now_unix`
    /// under material `generation` whose CRLs revoke `revoked`. `Err` says
    /// why not.
    pub fn check(
        &self,
        now_unix: i64,
        generation: u64,
        revoked: impl FnOnce() -> std::sync::Arc<Revoked>,
    ) -> Result<(), &'static str> {
        if now_unix > self.not_after_unix {
            return Err("the client certificate has expired since this connection was opened");
        }
        let want = generation.saturating_add(1);
        if self.passed.load(Ordering::Relaxed) == want {
            return Ok(());
        }
        if revoked().contains(self) {
            return Err("the client certificate was revoked since this connection was opened");
        }
        self.passed.store(want, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn pki() -> (
        credgate_certs::CertPair,
        credgate_certs::CertPair,
        credgate_certs::CertPair,
    ) {
        let ca = credgate_certs::new_ca("recheck test CA").unwrap();
        let a = credgate_certs::issue_client_cert(
            &ca.cert_pem,
            &ca.key_pem,
            "a",
            credgate_certs::Validity::Normal,
        )
        .unwrap();
        let b = credgate_certs::issue_client_cert(
            &ca.cert_pem,
            &ca.key_pem,
            "b",
            credgate_certs::Validity::Normal,
        )
        .unwrap();
        (ca, a, b)
    }

    fn der(pem: &str) -> CertificateDer<'static> {
        use rustls_pki_types::pem::PemObject;
        CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
    }

    fn crls(pem: &str) -> Vec<CertificateRevocationListDer<'static>> {
        use rustls_pki_types::pem::PemObject;
        CertificateRevocationListDer::pem_slice_iter(pem.as_bytes())
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn a_certificate_revoked_after_its_handshake_is_refused_from_the_next_generation() {
        let (ca, a, b) = pki();
        let status = CertStatus::of(&der(&a.cert_pem), 0).unwrap();
        let now = 1_800_000_000;
        let none = Arc::new(Revoked::default());
        assert_eq!(
            status.check(now, 0, || unreachable!("checked at handshake")),
            Ok(())
        );
        // A new CRL revoking a (and not b).
        let crl = credgate_certs::make_crl(&ca.cert_pem, &ca.key_pem, &[&a.cert_pem]).unwrap();
        let revoked = Arc::new(Revoked::from_crls(&crls(&crl)));
        assert!(status.check(now, 1, || revoked.clone()).is_err());
        let other = CertStatus::of(&der(&b.cert_pem), 0).unwrap();
        assert_eq!(other.check(now, 1, || revoked.clone()), Ok(()));
        // Passed once under generation 1: not looked up again.
        assert_eq!(other.check(now, 1, || unreachable!("remembered")), Ok(()));
        // A later CRL without a: a passes again.
        assert_eq!(status.check(now, 2, || none.clone()), Ok(()));
    }

    #[test]
    fn an_expired_certificate_is_refused_whatever_the_generation() {
        let (_, a, _) = pki();
        let status = CertStatus::of(&der(&a.cert_pem), 0).unwrap();
        let after = status.not_after_unix + 1;
        assert!(status.check(after, 0, || unreachable!()).is_err());
        assert_eq!(
            status.check(status.not_after_unix, 0, || unreachable!()),
            Ok(())
        );
    }
}
