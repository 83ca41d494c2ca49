//! Ed25519 key pairs for the authorization issuer (and anything else that signs JWS).

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};

use crate::{pem, CertsError};

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Generates an Ed25519 key pair with ring and returns `(private, public)` PEM.
///
/// The private key is PKCS#8 v2 as ring writes it (RFC 5958, with the public key
/// embedded) under `-----BEGIN PRIVATE KEY-----`; the public key is an RFC 8410
/// SubjectPublicKeyInfo under `-----BEGIN PUBLIC KEY-----`.
pub fn ed25519_keypair_pem() -> Result<(String, String), CertsError> {
    let rng = SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| CertsError::Crypto("Ed25519 key generation failed"))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| CertsError::Crypto("ring rejected its own Ed25519 key"))?;
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
        let pair = Ed25519KeyPair::from_pkcs8(&sk.contents).unwrap();
        assert_eq!(pk.contents.len(), 44);
        assert_eq!(&pk.contents[..12], &ED25519_SPKI_PREFIX);
        assert_eq!(&pk.contents[12..], pair.public_key().as_ref());
    }
}
