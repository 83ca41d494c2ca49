//! Issuer keys: Ed25519 public keys from SPKI PEM, private keys from PKCS#8 PEM, and the
//! list of issuers the policy trusts.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, KeyPair as _};

use crate::KeyError;

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A raw Ed25519 public key (32 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ed25519PublicKey([u8; 32]);

/// An authorization issuer the policy trusts: its `iss`, optional `kid` and key.
///
/// Several entries may share an `id` (key rotation); they are then told apart by
/// `key_id` (see [`crate::verify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuer {
    /// The `iss` claim this issuer signs with.
    pub id: String,
    /// The `kid` header of this key, if the issuer names its keys.
    pub key_id: Option<String>,
    /// The issuer's public key.
    pub public_key: Ed25519PublicKey,
}

// === impl Ed25519PublicKey ===

impl Ed25519PublicKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses an RFC 8410 SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_spki_pem(pem: &str) -> Result<Self, KeyError> {
        let der = pem_decode(pem, "PUBLIC KEY")?;
        Self::from_spki_der(&der)
    }

    /// Parses an RFC 8410 SubjectPublicKeyInfo in DER.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let key = der
            .strip_prefix(&ED25519_SPKI_PREFIX[..])
            .ok_or(KeyError::NotEd25519("SubjectPublicKeyInfo"))?;
        let bytes: [u8; 32] = key
            .try_into()
            .map_err(|_| KeyError::NotEd25519("SubjectPublicKeyInfo"))?;
        Ok(Self(bytes))
    }

    /// The raw 32 key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key as an RFC 8410 SubjectPublicKeyInfo PEM.
    pub fn to_spki_pem(&self) -> String {
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.0);
        pem_encode("PUBLIC KEY", &der)
    }
}

impl std::fmt::Debug for Ed25519PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ed25519PublicKey({})", hex::encode(self.0))
    }
}

// === impl TrustedIssuer ===

impl TrustedIssuer {
    /// A trusted issuer whose key is given as SPKI PEM (the `issuer.pub` of `authz keygen`).
    pub fn from_spki_pem(
        id: impl Into<String>,
        key_id: Option<String>,
        pem: &str,
    ) -> Result<Self, KeyError> {
        Ok(Self {
            id: id.into(),
            key_id,
            public_key: Ed25519PublicKey::from_spki_pem(pem)?,
        })
    }
}

/// Loads an Ed25519 private key from PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
///
/// Accepts both PKCS#8 v1 (as OpenSSL and Python `cryptography` write it) and v2 (as
/// ring writes it, with the public key embedded).
pub(crate) fn load_private_key(pem: &str) -> Result<Ed25519KeyPair, KeyError> {
    let der = pem_decode(pem, "PRIVATE KEY")?;
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|_| KeyError::NotEd25519("PKCS#8 key"))
}

/// The public half of an Ed25519 private key in PKCS#8 PEM (v1 or v2).
pub fn public_key_of(private_pem: &str) -> Result<Ed25519PublicKey, KeyError> {
    let pair = load_private_key(private_pem)?;
    let bytes: [u8; 32] = pair
        .public_key()
        .as_ref()
        .try_into()
        .map_err(|_| KeyError::NotEd25519("PKCS#8 key"))?;
    Ok(Ed25519PublicKey(bytes))
}

/// Returns the DER of the first PEM block labelled `label` in `pem`.
fn pem_decode(pem: &str, label: &'static str) -> Result<Vec<u8>, KeyError> {
    let err = |detail| KeyError::Pem {
        expected: label,
        detail,
    };
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).ok_or(err("no BEGIN line"))? + begin.len();
    let len = pem[start..].find(&end).ok_or(err("no END line"))?;
    let body: String = pem[start..start + len]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD.decode(body).map_err(|_| err("bad base64"))
}

/// Encodes `der` as a PEM block (RFC 7468, 64-column lines, LF endings).
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    let mut rest = b64.as_str();
    while !rest.is_empty() {
        // base64 output is ASCII, so any byte index is a char boundary.
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spki_round_trip_and_keygen_interop() {
        let (private, public) = credgate_certs::ed25519_keypair_pem().unwrap();
        let key = Ed25519PublicKey::from_spki_pem(&public).unwrap();
        assert_eq!(key.to_spki_pem(), public);
        assert_eq!(public_key_of(&private).unwrap(), key);
    }

    #[test]
    fn rejects_wrong_labels_and_keys() {
        let (private, public) = credgate_certs::ed25519_keypair_pem().unwrap();
        assert!(matches!(
            Ed25519PublicKey::from_spki_pem(&private),
            Err(KeyError::Pem { .. })
        ));
        assert!(load_private_key(&public).is_err());
        // A P-256 SPKI is not Ed25519.
        let p256 = pem_encode("PUBLIC KEY", &[0x30, 0x59, 0x30, 0x13, 0x06, 0x07]);
        assert_eq!(
            Ed25519PublicKey::from_spki_pem(&p256),
            Err(KeyError::NotEd25519("SubjectPublicKeyInfo"))
        );
        assert!(Ed25519PublicKey::from_spki_pem(
            "-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----"
        )
        .is_err());
        assert!(Ed25519PublicKey::from_spki_pem("").is_err());
    }

    #[test]
    fn loads_pkcs8_v1_keys_like_openssl_writes() {
        // RFC 8410 §10.3: a PKCS#8 v1 Ed25519 private key without the public key.
        let v1 = "-----BEGIN PRIVATE KEY-----\n\
                  MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
                  -----END PRIVATE KEY-----\n";
        assert!(load_private_key(v1).is_ok());
    }
}
