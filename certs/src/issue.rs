//! Certificate authorities and the certificates they issue.
//!
//! Every key is ECDSA P-256; every certificate gets a random 16-byte serial.
//! A CA is handed around as PEM ([`CertPair`]) and rebuilt for signing by
//! [`Ca::from_pem`], so tests can issue extra certificates from a CA written
//! to disk earlier.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
    PKCS_ECDSA_P256_SHA256,
};
use ring::rand::{SecureRandom as _, SystemRandom};
use time::{Duration, OffsetDateTime};

use crate::{pem, CertsError};

/// The organization (O) of every dev certificate.
pub const DEV_ORGANIZATION: &str = "credgate dev";

/// The URI SAN credgate's upstream client certificate carries.
pub const GATEWAY_SPIFFE_ID: &str = "spiffe://credgate.dev/gateway";

/// How long a [`Validity::Normal`] leaf certificate lasts (the CA/Browser Forum's old maximum).
const LEAF_LIFETIME: Duration = Duration::days(825);
/// How long a CA made by [`new_ca`] lasts.
const CA_LIFETIME: Duration = Duration::days(3650);
/// Back-dating applied to `notBefore`, to tolerate clock skew between hosts.
const BACKDATE: Duration = Duration::hours(1);

/// A certificate and its private key, both PEM.
///
/// `key_pem` is PKCS#8 (`-----BEGIN PRIVATE KEY-----`).
#[derive(Clone, PartialEq, Eq)]
pub struct CertPair {
    /// The certificate (`-----BEGIN CERTIFICATE-----`).
    pub cert_pem: String,
    /// The private key, PKCS#8 (`-----BEGIN PRIVATE KEY-----`).
    pub key_pem: String,
}

/// The validity window of an issued certificate, relative to now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// From one hour ago until 825 days from now.
    Normal,
    /// From 30 days ago until yesterday: already expired.
    Expired,
    /// From tomorrow until 825 days from now: not valid yet.
    NotYetValid,
}

/// A CA ready to sign: its certificate parameters and its key.
pub(crate) struct Ca {
    cert: Certificate,
    key: KeyPair,
}

/// Which side of a TLS connection a leaf certificate is for.
#[derive(Clone, Copy)]
pub(crate) enum Role {
    Client,
    Server,
}

/// What to put in a leaf certificate.
pub(crate) struct LeafSpec<'a> {
    pub(crate) common_name: &'a str,
    pub(crate) sans: Vec<SanType>,
    pub(crate) role: Role,
    pub(crate) validity: Validity,
}

// === impl CertPair ===

impl std::fmt::Debug for CertPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertPair")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

// === impl Validity ===

impl Validity {
    /// `(notBefore, notAfter)` for a certificate issued at `now`.
    fn window(self, now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
        match self {
            Validity::Normal => (now - BACKDATE, now + LEAF_LIFETIME),
            Validity::Expired => (now - Duration::days(30), now - Duration::days(1)),
            Validity::NotYetValid => (now + Duration::days(1), now + LEAF_LIFETIME),
        }
    }
}

// === impl Ca ===

impl Ca {
    /// Makes a new self-signed CA.
    pub(crate) fn generate(common_name: &str) -> Result<Self, CertsError> {
        let key = new_key()?;
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::default();
        params.distinguished_name = dev_name(common_name);
        params.serial_number = Some(random_serial()?);
        params.not_before = now - BACKDATE;
        params.not_after = now + CA_LIFETIME;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key)?;
        Ok(Self { cert, key })
    }

    /// Rebuilds a CA from its certificate and key PEM.
    ///
    /// Refuses a certificate that is not a CA or a key that does not belong to it.
    pub(crate) fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, CertsError> {
        let der = pem::certificate_der(cert_pem, "CA certificate")?;
        let (_, x509) =
            x509_parser::parse_x509_certificate(&der).map_err(|e| CertsError::InvalidPem {
                what: "CA certificate",
                detail: e.to_string(),
            })?;
        if !x509.is_ca() {
            return Err(CertsError::InvalidPem {
                what: "CA certificate",
                detail: "basicConstraints does not mark it as a CA".into(),
            });
        }
        let key = KeyPair::from_pem(key_pem).map_err(|e| CertsError::InvalidPem {
            what: "CA private key",
            detail: e.to_string(),
        })?;
        if key.public_key_der() != x509.public_key().raw {
            return Err(CertsError::InvalidPem {
                what: "CA private key",
                detail: "it does not match the CA certificate's public key".into(),
            });
        }
        let params = CertificateParams::from_ca_cert_der(&der.as_slice().into())?;
        // Re-signing only rebuilds rcgen's issuer view (name, key identifier, key usages);
        // the resulting certificate is never written out.
        let cert = params.self_signed(&key)?;
        Ok(Self { cert, key })
    }

    /// The CA as PEM.
    pub(crate) fn to_pair(&self) -> CertPair {
        CertPair {
            cert_pem: self.cert.pem(),
            key_pem: self.key.serialize_pem(),
        }
    }

    /// The rcgen certificate (for signing CRLs).
    pub(crate) fn cert(&self) -> &Certificate {
        &self.cert
    }

    /// The CA key (for signing CRLs).
    pub(crate) fn key(&self) -> &KeyPair {
        &self.key
    }

    /// Issues a leaf certificate with a fresh key.
    pub(crate) fn issue(&self, spec: LeafSpec<'_>) -> Result<CertPair, CertsError> {
        let key = new_key()?;
        let (not_before, not_after) = spec.validity.window(OffsetDateTime::now_utc());
        let mut params = CertificateParams::default();
        params.distinguished_name = dev_name(spec.common_name);
        params.subject_alt_names = spec.sans;
        params.serial_number = Some(random_serial()?);
        params.not_before = not_before;
        params.not_after = not_after;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![match spec.role {
            Role::Client => ExtendedKeyUsagePurpose::ClientAuth,
            Role::Server => ExtendedKeyUsagePurpose::ServerAuth,
        }];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        Ok(CertPair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

// === functions ===

/// Makes a new self-signed CA: subject CN = `common_name`, O = [`DEV_ORGANIZATION`],
/// basicConstraints CA (path length 0), key usages keyCertSign, cRLSign and
/// digitalSignature, valid for ten years.
pub fn new_ca(common_name: &str) -> Result<CertPair, CertsError> {
    Ok(Ca::generate(common_name)?.to_pair())
}

/// Issues a client certificate for `name` from an existing CA.
///
/// Subject CN = `name`, O = [`DEV_ORGANIZATION`], URI SAN [`client_spiffe_id`]`(name)`,
/// EKU clientAuth.
pub fn issue_client_cert(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    name: &str,
    validity: Validity,
) -> Result<CertPair, CertsError> {
    let ca = Ca::from_pem(ca_cert_pem, ca_key_pem)?;
    ca.issue(client_spec(name, &client_spiffe_id(name), validity)?)
}

/// Issues a server certificate for `sans` from an existing CA.
///
/// Each SAN that parses as an IP address becomes an IP SAN, anything else a DNS SAN.
/// Subject CN = the first SAN, O = [`DEV_ORGANIZATION`], EKU serverAuth.
pub fn issue_server_cert(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    sans: &[&str],
    validity: Validity,
) -> Result<CertPair, CertsError> {
    let common_name = sans
        .first()
        .copied()
        .ok_or_else(|| CertsError::InvalidSan {
            name: String::new(),
            detail: "a server certificate needs at least one SAN".into(),
        })?;
    let ca = Ca::from_pem(ca_cert_pem, ca_key_pem)?;
    ca.issue(server_spec(common_name, sans, validity)?)
}

/// The URI SAN of the dev client certificate for `name`: `spiffe://credgate.dev/client/NAME`.
pub fn client_spiffe_id(name: &str) -> String {
    format!("spiffe://credgate.dev/client/{name}")
}

/// A client leaf: CN `common_name`, one URI SAN.
pub(crate) fn client_spec<'a>(
    common_name: &'a str,
    uri: &str,
    validity: Validity,
) -> Result<LeafSpec<'a>, CertsError> {
    let uri = uri
        .try_into()
        .map_err(|e: rcgen::Error| CertsError::InvalidSan {
            name: uri.to_owned(),
            detail: e.to_string(),
        })?;
    Ok(LeafSpec {
        common_name,
        sans: vec![SanType::URI(uri)],
        role: Role::Client,
        validity,
    })
}

/// A server leaf: CN `common_name`, DNS or IP SANs.
pub(crate) fn server_spec<'a>(
    common_name: &'a str,
    sans: &[&str],
    validity: Validity,
) -> Result<LeafSpec<'a>, CertsError> {
    let sans = sans.iter().map(|s| san(s)).collect::<Result<Vec<_>, _>>()?;
    Ok(LeafSpec {
        common_name,
        sans,
        role: Role::Server,
        validity,
    })
}

/// Checks that `name` can be a server certificate's SAN (an IP address
/// or a DNS name), before anything is written.
pub fn check_server_san(name: &str) -> Result<(), CertsError> {
    san(name).map(drop)
}

/// An IP SAN if `name` parses as an address, a DNS SAN otherwise.
fn san(name: &str) -> Result<SanType, CertsError> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let invalid = |detail: String| CertsError::InvalidSan {
        name: name.to_owned(),
        detail,
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(invalid("not a DNS name or IP address".into()));
    }
    let dns = name
        .try_into()
        .map_err(|e: rcgen::Error| invalid(e.to_string()))?;
    Ok(SanType::DnsName(dns))
}

/// Subject `CN = common_name, O = credgate dev`.
fn dev_name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, DEV_ORGANIZATION);
    dn
}

/// A fresh ECDSA P-256 key.
fn new_key() -> Result<KeyPair, CertsError> {
    Ok(KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?)
}

/// A random positive 16-byte serial (top bit cleared, first byte non-zero so the
/// DER encoding is always 16 bytes long).
pub(crate) fn random_serial() -> Result<SerialNumber, CertsError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CertsError::Crypto("system random number generator failed"))?;
    bytes[0] = (bytes[0] & 0x7f).max(1);
    Ok(SerialNumber::from_slice(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_random_positive_and_16_bytes() {
        let a = random_serial().unwrap().to_bytes();
        let b = random_serial().unwrap().to_bytes();
        assert_ne!(a, b);
        for s in [a, b] {
            assert_eq!(s.len(), 16);
            assert!(s[0] != 0 && s[0] & 0x80 == 0);
        }
    }

    #[test]
    fn windows_are_placed_relative_to_now() {
        let now = OffsetDateTime::now_utc();
        let (nb, na) = Validity::Normal.window(now);
        assert!(nb < now && na > now + Duration::days(800));
        let (_, na) = Validity::Expired.window(now);
        assert!(na < now);
        let (nb, _) = Validity::NotYetValid.window(now);
        assert!(nb > now);
    }

    #[test]
    fn san_distinguishes_ip_from_dns_and_rejects_junk() {
        assert!(matches!(san("127.0.0.1"), Ok(SanType::IpAddress(_))));
        assert!(matches!(san("::1"), Ok(SanType::IpAddress(_))));
        assert!(matches!(san("localhost"), Ok(SanType::DnsName(_))));
        assert!(san("").is_err());
        assert!(san("two words").is_err());
        assert!(san("ünïcode").is_err());
    }

    #[test]
    fn from_pem_refuses_a_leaf_or_a_foreign_key() {
        let ca = new_ca("test CA").unwrap();
        let other = new_ca("other CA").unwrap();
        let leaf = issue_client_cert(&ca.cert_pem, &ca.key_pem, "x", Validity::Normal).unwrap();
        assert!(matches!(
            Ca::from_pem(&leaf.cert_pem, &leaf.key_pem),
            Err(CertsError::InvalidPem {
                what: "CA certificate",
                ..
            })
        ));
        assert!(matches!(
            Ca::from_pem(&ca.cert_pem, &other.key_pem),
            Err(CertsError::InvalidPem {
                what: "CA private key",
                ..
            })
        ));
        assert!(Ca::from_pem(&ca.cert_pem, &ca.key_pem).is_ok());
    }

    #[test]
    fn server_cert_needs_a_san() {
        let ca = new_ca("test CA").unwrap();
        assert!(matches!(
            issue_server_cert(&ca.cert_pem, &ca.key_pem, &[], Validity::Normal),
            Err(CertsError::InvalidSan { .. })
        ));
    }

    #[test]
    fn debug_redacts_the_key() {
        let ca = new_ca("test CA").unwrap();
        let shown = format!("{ca:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains("PRIVATE KEY"));
    }
}
