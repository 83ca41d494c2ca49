//! Certificate revocation lists.

use rcgen::{
    CertificateRevocationListParams, KeyIdMethod, RevocationReason, RevokedCertParams, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::issue::Ca;
use crate::{pem, CertsError};

/// How long a CRL made by [`make_crl`] stays current (its `nextUpdate`).
pub const CRL_LIFETIME_DAYS: i64 = 90;

/// Makes a PEM CRL (`-----BEGIN X509 CRL-----`) signed by the CA, revoking the given
/// certificates for key compromise.
///
/// Serials are read from `revoked_cert_pems`. `thisUpdate` is a minute ago, `nextUpdate`
/// [`CRL_LIFETIME_DAYS`] ahead; the CRL number is the current Unix time in microseconds
/// (and above every number this process gave before), so a CRL made later always
/// carries a larger number, even within the same second. An empty `revoked_cert_pems`
/// gives a valid empty CRL.
pub fn make_crl(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    revoked_cert_pems: &[&str],
) -> Result<String, CertsError> {
    let ca = Ca::from_pem(ca_cert_pem, ca_key_pem)?;
    let serials = revoked_cert_pems
        .iter()
        .map(|p| serial_of(p))
        .collect::<Result<Vec<_>, _>>()?;
    make_crl_with(&ca, serials)
}

/// Makes a CRL signed by `ca` revoking `serials`.
pub(crate) fn make_crl_with(ca: &Ca, serials: Vec<SerialNumber>) -> Result<String, CertsError> {
    let now = OffsetDateTime::now_utc();
    let this_update = now - Duration::minutes(1);
    let revoked_certs = serials
        .into_iter()
        .map(|serial_number| RevokedCertParams {
            serial_number,
            revocation_time: this_update,
            reason_code: Some(RevocationReason::KeyCompromise),
            invalidity_date: None,
        })
        .collect();
    let params = CertificateRevocationListParams {
        this_update,
        next_update: now + Duration::days(CRL_LIFETIME_DAYS),
        crl_number: SerialNumber::from(next_crl_number(now)),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    Ok(params.signed_by(ca.cert(), ca.key())?.pem()?)
}

/// A CRL number for a CRL made at `now`: its Unix time in microseconds, or
/// one more than the last number given, whichever is larger.
fn next_crl_number(now: OffsetDateTime) -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let micros = u64::try_from(now.unix_timestamp_nanos() / 1_000).unwrap_or(0);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = micros.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// The serial number of the certificate in `cert_pem`.
pub(crate) fn serial_of(cert_pem: &str) -> Result<SerialNumber, CertsError> {
    let der = pem::certificate_der(cert_pem, "revoked certificate")?;
    let (_, x509) =
        x509_parser::parse_x509_certificate(&der).map_err(|e| CertsError::InvalidPem {
            what: "revoked certificate",
            detail: e.to_string(),
        })?;
    Ok(SerialNumber::from_slice(x509.raw_serial()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{issue_client_cert, new_ca, Validity};
    use x509_parser::prelude::{FromDer as _, ParsedExtension};
    use x509_parser::revocation_list::CertificateRevocationList;

    fn crl_der(pem: &str) -> Vec<u8> {
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
        assert_eq!(block.label, "X509 CRL");
        block.contents
    }

    #[test]
    fn crl_lists_exactly_the_revoked_serials() {
        let ca = new_ca("crl CA").unwrap();
        let a = issue_client_cert(&ca.cert_pem, &ca.key_pem, "a", Validity::Normal).unwrap();
        let b = issue_client_cert(&ca.cert_pem, &ca.key_pem, "b", Validity::Normal).unwrap();
        let pem = make_crl(&ca.cert_pem, &ca.key_pem, &[&a.cert_pem]).unwrap();
        let der = crl_der(&pem);
        let (_, crl) = CertificateRevocationList::from_der(&der).unwrap();
        let listed: Vec<Vec<u8>> = crl
            .iter_revoked_certificates()
            .map(|r| r.raw_serial().to_vec())
            .collect();
        assert_eq!(listed, vec![serial_of(&a.cert_pem).unwrap().to_bytes()]);
        assert!(!listed.contains(&serial_of(&b.cert_pem).unwrap().to_bytes()));

        let next = crl.next_update().unwrap().timestamp();
        let ahead = next - OffsetDateTime::now_utc().unix_timestamp();
        assert!(ahead >= 30 * 86_400, "nextUpdate only {ahead}s ahead");
        assert!(crl
            .extensions()
            .iter()
            .any(|e| matches!(e.parsed_extension(), ParsedExtension::CRLNumber(_))));
    }

    #[test]
    fn crl_refuses_a_non_certificate() {
        let ca = new_ca("crl CA").unwrap();
        assert!(matches!(
            make_crl(&ca.cert_pem, &ca.key_pem, &[&ca.key_pem]),
            Err(CertsError::InvalidPem { .. })
        ));
    }
}
