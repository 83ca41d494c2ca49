//! Ed25519 keys for checkpoints, seals and deletion records: the
//! [`AuditSigner`] (PKCS#8 PEM private key, as `credgate certs dev` and
//! ring write it) and the [`AuditPublicKey`] verifiers use (RFC 8410 SPKI
//! PEM, `-----BEGIN PUBLIC KEY-----`).
//!
//! The key id is the first 8 bytes of SHA-256 over the raw 32-byte public
//! key, in lower-case hex.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{self, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer};

use crate::merkle::sha256;
use crate::AuditError;

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the key follows.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// DER prefix of an Ed25519 PKCS#8 v1 private key (RFC 8410 §7); the
/// 32-byte seed follows.
const ED25519_PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The log's signing key. Cheap to clone.
#[derive(Clone)]
pub struct AuditSigner {
    pair: Arc<Ed25519KeyPair>,
    public: AuditPublicKey,
}

/// An Ed25519 public key that verifies the log's signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditPublicKey {
    raw: [u8; 32],
    key_id: String,
}

impl AuditSigner {
    /// Loads a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) Ed25519 key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, AuditError> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| AuditError::Key(format!("no PKCS#8 private key in PEM: {e}")))?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.secret_pkcs8_der())
            .map_err(|e| AuditError::Key(format!("not an Ed25519 PKCS#8 key: {e}")))?;
        let public = AuditPublicKey::from_raw(pair.public_key().as_ref())?;
        Ok(Self {
            pair: Arc::new(pair),
            public,
        })
    }

    /// The matching public key.
    pub fn public_key(&self) -> &AuditPublicKey {
        &self.public
    }

    /// The key id recorded next to each signature.
    pub fn key_id(&self) -> &str {
        &self.public.key_id
    }

    /// Signs `body`; returns the standard-base64 signature.
    pub(crate) fn sign_b64(&self, body: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.pair.sign(body).as_ref())
    }
}

impl fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditSigner")
            .field("key_id", &self.public.key_id)
            .finish_non_exhaustive()
    }
}

impl AuditPublicKey {
    /// Loads an RFC 8410 SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_spki_pem(pem: &str) -> Result<Self, AuditError> {
        let der = SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| AuditError::Key(format!("no public key in PEM: {e}")))?;
        let bytes: &[u8] = der.as_ref();
        match bytes.strip_prefix(&ED25519_SPKI_PREFIX[..]) {
            Some(raw) => Self::from_raw(raw),
            None => Err(AuditError::Key("not an Ed25519 public key".to_owned())),
        }
    }

    /// From the raw 32 key bytes.
    pub fn from_raw(raw: &[u8]) -> Result<Self, AuditError> {
        let raw: [u8; 32] = raw
            .try_into()
            .map_err(|_| AuditError::Key("Ed25519 public key must be 32 bytes".to_owned()))?;
        let key_id = hex::encode(&sha256(&raw)[..8]);
        Ok(Self { raw, key_id })
    }

    /// The key id (first 8 bytes of SHA-256 of the raw key, hex).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The key as SPKI PEM.
    pub fn to_spki_pem(&self) -> String {
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.raw);
        pem_encode("PUBLIC KEY", &der)
    }

    /// Whether `signature_b64` is a valid signature of `body` by this key.
    pub fn verify_b64(&self, body: &[u8], signature_b64: &str) -> bool {
        let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(signature_b64) else {
            return false;
        };
        UnparsedPublicKey::new(&signature::ED25519, &self.raw)
            .verify(body, &sig)
            .is_ok()
    }
}

impl fmt::Debug for AuditPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditPublicKey({})", self.key_id)
    }
}

/// Generates a fresh Ed25519 key; returns `(PKCS#8 private PEM, SPKI public PEM)`.
///
/// The private key is PKCS#8 v1 (the seed only), which OpenSSL and Python's
/// `cryptography` read; ring's `generate_pkcs8` writes v2, which they refuse.
pub fn generate_signing_key_pem() -> Result<(String, String), AuditError> {
    let mut pkcs8 = ED25519_PKCS8_V1_PREFIX.to_vec();
    pkcs8.resize(ED25519_PKCS8_V1_PREFIX.len() + 32, 0);
    SystemRandom::new()
        .fill(&mut pkcs8[ED25519_PKCS8_V1_PREFIX.len()..])
        .map_err(|_| AuditError::Key("Ed25519 key generation failed".to_owned()))?;
    let private = pem_encode("PRIVATE KEY", &pkcs8);
    let signer = AuditSigner::from_pkcs8_pem(&private)?;
    Ok((private, signer.public_key().to_spki_pem()))
}

/// PEM-encodes `der` under `label` with 64-column lines.
fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_verify_through_pem() {
        let (private, public) = generate_signing_key_pem().unwrap();
        let der = PrivatePkcs8KeyDer::from_pem_slice(private.as_bytes()).unwrap();
        assert_eq!(der.secret_pkcs8_der().len(), 48, "PKCS#8 v1: prefix + seed");
        assert_eq!(&der.secret_pkcs8_der()[..16], &ED25519_PKCS8_V1_PREFIX);
        let signer = AuditSigner::from_pkcs8_pem(&private).unwrap();
        let key = AuditPublicKey::from_spki_pem(&public).unwrap();
        assert_eq!(signer.public_key(), &key);
        assert_eq!(key.key_id().len(), 16);
        let sig = signer.sign_b64(b"body");
        assert!(key.verify_b64(b"body", &sig));
        assert!(!key.verify_b64(b"bodY", &sig));
        assert!(!key.verify_b64(b"body", "not base64!"));
        let (_, other) = generate_signing_key_pem().unwrap();
        let other = AuditPublicKey::from_spki_pem(&other).unwrap();
        assert!(!other.verify_b64(b"body", &sig));
    }

    #[test]
    fn rejects_garbage_keys() {
        assert!(AuditSigner::from_pkcs8_pem("nothing").is_err());
        assert!(AuditPublicKey::from_spki_pem(
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
        )
        .is_err());
        assert!(AuditPublicKey::from_raw(&[0; 31]).is_err());
    }
}
