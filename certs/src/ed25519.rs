//! Ed25519 key pairs for the authorization issuer (and anything else that signs JWS).

use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair as _};

use crate::{pem, CertsError};

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// DER prefix of an Ed25519 PKCS#8 v1 private key (RFC 8410 §7): the 32-byte
/// seed follows.
pub const ED25519_PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Generates an Ed25519 key pair and returns `(private, public)` PEM.
///
/// The private key is PKCS#8 v1 (RFC 8410 §7, the seed only) under
/// `-----BEGIN PRIVATE KEY-----`, the form OpenSSL and Python's
/// `cryptography` write and read: ring's own `generate_pkcs8` writes v2 (with
/// the public key embedded), which OpenSSL 3.0 and `cryptography` refuse, so
/// the document is assembled here from 32 random bytes. The public key is an
/// RFC 8410 SubjectPublicKeyInfo under `-----BEGIN PUBLIC KEY-----`.
pub fn ed25519_keypair_pem() -> Result<(String, String), CertsError> {
    let mut pkcs8 = ED25519_PKCS8_V1_PREFIX.to_vec();
    pkcs8.resize(ED25519_PKCS8_V1_PREFIX.len() + 32, 0);
    SystemRandom::new()
        .fill(&mut pkcs8[ED25519_PKCS8_V1_PREFIX.len()..])
        .map_err(|_| CertsError::Crypto("Ed25519 key generation failed"))?;
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8)
        .map_err(|_| CertsError::Crypto("ring rejected a generated Ed25519 key"))?;
    let mut spki = ED25519_SPKI_PREFIX.to_vec();
    spki.extend_from_slice(pair.public_key().as_ref());
    Ok((
        pem::encode("PRIVATE KEY", pkcs8.as_ref()),
        pem::encode("PUBLIC KEY", &spki),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spki_embeds_the_public_key_from_the_pkcs8() {
        let (private, public) = ed25519_keypair_pem().unwrap();
        let (_, sk) = x509_parser::pem::parse_x509_pem(private.as_bytes()).unwrap();
        let (_, pk) = x509_parser::pem::parse_x509_pem(public.as_bytes()).unwrap();
        assert_eq!(sk.contents.len(), 48, "PKCS#8 v1: prefix + seed");
        assert_eq!(&sk.contents[..16], &ED25519_PKCS8_V1_PREFIX);
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&sk.contents).unwrap();
        assert_eq!(pk.contents.len(), 44);
        assert_eq!(&pk.contents[..12], &ED25519_SPKI_PREFIX);
        assert_eq!(&pk.contents[12..], pair.public_key().as_ref());
        // Two keys differ (the seed is random).
        let (again, _) = ed25519_keypair_pem().unwrap();
        assert_ne!(private, again);
    }
}
