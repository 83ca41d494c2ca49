//! Established connections against reloaded material. A handshake checks
//! the client certificate once; a connection then lives as long as it is
//! used. So that a certificate revoked by a new CRL (a stolen key), one
//! whose CA was taken out of the bundle (a compromised CA), or one that
//! expires stops working on connections it already holds, each request
//! checks its connection's certificate: expiry every time (one
//! comparison), revocation and trust once per generation of the TLS
//! material (two set lookups, then remembered on the connection).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use rustls_pki_types::CertificateDer;
#[cfg(test)]
use rustls_pki_types::CertificateRevocationListDer;
use x509_parser::prelude::{
    CertificateRevocationList, FromDer, SubjectPublicKeyInfo, X509Certificate,
};

/// What the TLS material in force trusts and revokes, as the rechecks of
/// established connections need it.
#[derive(Debug, Default)]
pub struct InForce {
    /// What the CRLs revoke: (issuer name DER, serial) pairs.
    revoked: HashSet<(Vec<u8>, Vec<u8>)>,
    /// The client CA bundle's certificates (trust anchors).
    anchors: Vec<Anchor>,
}

/// A trust anchor of the client CA bundle.
#[derive(Debug)]
struct Anchor {
    /// Its subject name (DER): the issuer name of what it signs.
    subject: Vec<u8>,
    /// Its public key (SubjectPublicKeyInfo DER), to check signatures with.
    spki: Vec<u8>,
    /// [`anchor_id`]: the same for a CA certificate renewed with the same
    /// name and key, so renewing it cuts no connection off.
    id: [u8; 32],
}

/// SHA-256 over an anchor's subject name and public key.
fn anchor_id(cert: &X509Certificate<'_>) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(cert.subject().as_raw());
    ctx.update(cert.public_key().raw);
    let mut id = [0u8; 32];
    id.copy_from_slice(ctx.finish().as_ref());
    id
}

impl InForce {
    /// Adds what `crl` revokes (called as each CRL is loaded and checked).
    pub fn insert(&mut self, crl: &CertificateRevocationList<'_>) {
        let issuer = crl.issuer().as_raw().to_vec();
        for r in crl.iter_revoked_certificates() {
            self.revoked
                .insert((issuer.clone(), r.raw_serial().to_vec()));
        }
    }

    /// Adds a certificate of the client CA bundle (unparsable ones are
    /// skipped: rustls refuses them when the bundle is loaded).
    pub fn add_anchor(&mut self, der: &CertificateDer<'_>) {
        if let Ok((_, cert)) = X509Certificate::from_der(der.as_ref()) {
            self.anchors.push(Anchor {
                subject: cert.subject().as_raw().to_vec(),
                spki: cert.public_key().raw.to_vec(),
                id: anchor_id(&cert),
            });
        }
    }

    /// From CRL files' contents and anchors (tests).
    #[cfg(test)]
    fn from_parts(
        crls: &[CertificateRevocationListDer<'_>],
        anchors: &[CertificateDer<'_>],
    ) -> InForce {
        let mut in_force = InForce::default();
        for der in crls {
            if let Ok((_, crl)) = x509_parser::parse_x509_crl(der.as_ref()) {
                in_force.insert(&crl);
            }
        }
        for a in anchors {
            in_force.add_anchor(a);
        }
        in_force
    }

    fn revokes(&self, cert: &CertStatus) -> bool {
        self.revoked
            .contains(&(cert.issuer.to_vec(), cert.serial.to_vec()))
    }

    fn trusts(&self, anchor: &[u8; 32]) -> bool {
        self.anchors.iter().any(|a| a.id == *anchor)
    }

    /// The anchor a verified chain (leaf first, then what the client sent
    /// besides, in any order) goes up to: from the leaf, issuer by issuer
    /// (name and signature) through what the client sent, to an anchor
    /// whose name and key issued the last one. `None` if there is none
    /// (the CA left the bundle since the handshake). A signature check per
    /// step, once per connection: unrelated certificates the client sends
    /// along cannot make it name another anchor.
    fn anchor_of(&self, chain: &[X509Certificate<'_>]) -> Option<[u8; 32]> {
        let mut current = chain.first()?;
        // One step per certificate sent at most (a loop of self-issued
        // certificates ends here too).
        for _ in 0..chain.len() {
            let issuer = current.issuer().as_raw();
            let signed_by =
                |spki: &SubjectPublicKeyInfo<'_>| current.verify_signature(Some(spki)).is_ok();
            let anchor = self.anchors.iter().find(|a| {
                a.subject == issuer
                    && SubjectPublicKeyInfo::from_der(&a.spki).is_ok_and(|(_, k)| signed_by(&k))
            });
            if let Some(a) = anchor {
                return Some(a.id);
            }
            current = chain[1..]
                .iter()
                .find(|c| c.subject().as_raw() == issuer && signed_by(c.public_key()))?;
        }
        None
    }
}

/// A connection's certificate, as far as the rechecks need it.
#[derive(Debug)]
pub struct CertStatus {
    issuer: Box<[u8]>,
    serial: Box<[u8]>,
    not_after_unix: i64,
    /// The trust anchor its chain went up to ([`anchor_id`]); `None` when
    /// no anchor in force at the handshake matched (refused at once).
    anchor: Option<[u8; 32]>,
    /// 1 + the generation of TLS material it last passed (0: none).
    passed: AtomicU64,
}

impl CertStatus {
    /// From the verified chain (end-entity certificate first, then what
    /// the client sent besides), which passed the handshake under material
    /// `generation`; `in_force` is the material in force now (the same
    /// generation or a newer one).
    pub fn of(
        chain: &[CertificateDer<'_>],
        generation: u64,
        in_force: &InForce,
    ) -> Option<CertStatus> {
        let parsed: Vec<X509Certificate<'_>> = chain
            .iter()
            .map(|der| X509Certificate::from_der(der.as_ref()).map(|(_, c)| c))
            .collect::<Result<_, _>>()
            .ok()?;
        let cert = parsed.first()?;
        let anchor = in_force.anchor_of(&parsed);
        Some(CertStatus {
            issuer: cert.issuer().as_raw().into(),
            serial: cert.raw_serial().into(),
            not_after_unix: cert.validity().not_after.timestamp(),
            // Without an anchor the first request checks again (and
            // refuses).
            passed: AtomicU64::new(if anchor.is_some() {
                generation.saturating_add(1)
            } else {
                0
            }),
            anchor,
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
            anchor: Some([0; 32]),
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
        in_force: impl FnOnce() -> std::sync::Arc<InForce>,
    ) -> Result<(), &'static str> {
        if now_unix > self.not_after_unix {
            return Err("the client certificate has expired since this connection was opened");
        }
        let want = generation.saturating_add(1);
        if self.passed.load(Ordering::Relaxed) == want {
            return Ok(());
        }
        let in_force = in_force();
        if in_force.revokes(self) {
            return Err("the client certificate was revoked since this connection was opened");
        }
        if !self.anchor.is_some_and(|a| in_force.trusts(&a)) {
            return Err(
                "the CA that issued the client certificate is no longer trusted since this connection was opened",
            );
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

    /// The material of a bundle holding `cas`, with `crl_pems`' CRLs.
    fn in_force(cas: &[&str], crl_pems: &[&str]) -> Arc<InForce> {
        let crls: Vec<_> = crl_pems.iter().flat_map(|p| crls(p)).collect();
        let anchors: Vec<_> = cas.iter().map(|p| der(p)).collect();
        Arc::new(InForce::from_parts(&crls, &anchors))
    }

    #[test]
    fn a_certificate_revoked_after_its_handshake_is_refused_from_the_next_generation() {
        let (ca, a, b) = pki();
        let none = in_force(&[&ca.cert_pem], &[]);
        let status = CertStatus::of(&[der(&a.cert_pem)], 0, &none).unwrap();
        let now = 1_800_000_000;
        assert_eq!(
            status.check(now, 0, || unreachable!("checked at handshake")),
            Ok(())
        );
        // A new CRL revoking a (and not b).
        let crl = credgate_certs::make_crl(&ca.cert_pem, &ca.key_pem, &[&a.cert_pem]).unwrap();
        let revoked = in_force(&[&ca.cert_pem], &[&crl]);
        assert!(status.check(now, 1, || revoked.clone()).is_err());
        let other = CertStatus::of(&[der(&b.cert_pem)], 0, &none).unwrap();
        assert_eq!(other.check(now, 1, || revoked.clone()), Ok(()));
        // Passed once under generation 1: not looked up again.
        assert_eq!(other.check(now, 1, || unreachable!("remembered")), Ok(()));
        // A later CRL without a: a passes again.
        assert_eq!(status.check(now, 2, || none.clone()), Ok(()));
    }

    #[test]
    fn a_certificate_whose_ca_left_the_bundle_is_refused_from_the_next_generation() {
        let (ca, a, _) = pki();
        // A second CA with the very same name but its own key (a CA
        // renewed with a new key): its presence does not keep a's
        // connections trusted once a's CA is gone.
        let renewed = credgate_certs::new_ca("recheck test CA").unwrap();
        let other = credgate_certs::new_ca("another CA").unwrap();
        let both = in_force(&[&ca.cert_pem, &renewed.cert_pem, &other.cert_pem], &[]);
        let status = CertStatus::of(&[der(&a.cert_pem)], 0, &both).unwrap();
        let now = 1_800_000_000;
        assert_eq!(status.check(now, 1, || both.clone()), Ok(()));
        // Its CA taken out (the renewed one and another stay).
        let without = in_force(&[&renewed.cert_pem, &other.cert_pem], &[]);
        assert!(status
            .check(now, 2, || without.clone())
            .unwrap_err()
            .contains("no longer trusted"));
        // The same CA certificate re-read (same name and key) keeps it.
        let again = in_force(&[&other.cert_pem, &ca.cert_pem], &[]);
        assert_eq!(status.check(now, 3, || again.clone()), Ok(()));
    }

    #[test]
    fn the_anchor_is_the_one_that_issued_the_chain_not_one_sent_along() {
        let (ca, a, _) = pki();
        let other = credgate_certs::new_ca("another CA").unwrap();
        let bundle = in_force(&[&other.cert_pem, &ca.cert_pem], &[]);
        // The client sends a trusted CA's certificate along with its leaf.
        let status = CertStatus::of(&[der(&a.cert_pem), der(&other.cert_pem)], 0, &bundle).unwrap();
        let now = 1_800_000_000;
        assert_eq!(status.check(now, 1, || bundle.clone()), Ok(()));
        // Its own CA leaves the bundle: refused, although the certificate
        // it sent along is still trusted.
        let without = in_force(&[&other.cert_pem], &[]);
        assert!(status.check(now, 2, || without.clone()).is_err());
        // A CA of the same name but another key did not issue it: no
        // anchor, and its first request refuses it.
        let (_, b, _) = pki();
        let lone = CertStatus::of(&[der(&b.cert_pem)], 0, &bundle).unwrap();
        assert!(lone.anchor.is_none());
        assert!(lone.check(now, 0, || bundle.clone()).is_err());
    }

    #[test]
    fn an_expired_certificate_is_refused_whatever_the_generation() {
        let (ca, a, _) = pki();
        let bundle = in_force(&[&ca.cert_pem], &[]);
        let status = CertStatus::of(&[der(&a.cert_pem)], 0, &bundle).unwrap();
        let after = status.not_after_unix + 1;
        assert!(status.check(after, 0, || unreachable!()).is_err());
        assert_eq!(
            status.check(status.not_after_unix, 0, || unreachable!()),
            Ok(())
        );
    }
}
