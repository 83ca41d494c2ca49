//! Reads the identity facts of a verified client certificate: URI and DNS
//! SANs, subject CN and O, SHA-256 fingerprint. Only certificates rustls has
//! already verified reach this code; it never decides trust.

pub use credgate_policy::CertIdentity;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The certificate could not be read (it was verified, so this is unexpected).
#[derive(Debug, thiserror::Error)]
#[error("unreadable client certificate: {0}")]
pub struct IdentityError(String);

/// Extracts identity facts from a DER certificate, and its `notAfter` (unix
/// seconds, for the per-request expiry check): one parse for both.
///
/// The fingerprint is recorded (as lower-case hex) in audit records.
pub fn peer_identity(der: &[u8]) -> Result<(CertIdentity, i64), IdentityError> {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut sha256 = [0u8; 32];
    sha256.copy_from_slice(digest.as_ref());
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| IdentityError(e.to_string()))?;
    let mut id = CertIdentity {
        sha256,
        ..CertIdentity::default()
    };
    for cn in cert.subject().iter_common_name() {
        if let Ok(s) = cn.as_str() {
            id.common_names.push(s.to_owned());
        }
    }
    for o in cert.subject().iter_organization() {
        if let Ok(s) = o.as_str() {
            id.organizations.push(s.to_owned());
        }
    }
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::URI(u) => id.uri_sans.push((*u).to_owned()),
                GeneralName::DNSName(d) => id.dns_sans.push((*d).to_owned()),
                _ => {}
            }
        }
    }
    Ok((id, cert.validity().not_after.timestamp()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(peer_identity(b"not a certificate").is_err());
        assert!(peer_identity(&[]).is_err());
    }
}
