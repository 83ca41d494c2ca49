//! Signed checkpoints (signed tree heads), appended framed to
//! `checkpoints.log`.
//!
//! The signature is Ed25519 over this text, in the style of a C2SP signed
//! note body (each line ends with `\n`):
//!
//! ```text
//! credgate-audit/v1
//! <replica>
//! <tree size, decimal>
//! <root hash, standard base64>
//! <time, RFC 3339 UTC with ms>
//! ```

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::keys::{AuditPublicKey, AuditSigner};
use crate::merkle::Hash;

/// First line of every checkpoint body.
pub(crate) const CHECKPOINT_ORIGIN: &str = "credgate-audit/v1";

/// A signed statement that the replica's log had `tree_size` records with
/// Merkle root `root_hash` at `time`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SignedCheckpoint {
    /// The replica whose log this is.
    pub replica: String,
    /// Number of records covered (seqs `1..=tree_size`).
    pub tree_size: u64,
    /// Merkle root of those records, lower-case hex.
    pub root_hash: String,
    /// When the checkpoint was made (RFC 3339 UTC with ms).
    pub time: String,
    /// Id of the signing key (see [`AuditPublicKey::key_id`]).
    pub key_id: String,
    /// Standard-base64 Ed25519 signature over [`SignedCheckpoint::signed_body`].
    pub signature: String,
}

impl SignedCheckpoint {
    /// Makes and signs a checkpoint.
    pub(crate) fn sign(
        signer: &AuditSigner,
        replica: &str,
        tree_size: u64,
        root: &Hash,
        time: String,
    ) -> Self {
        let mut cp = Self {
            replica: replica.to_owned(),
            tree_size,
            root_hash: hex::encode(root),
            time,
            key_id: signer.key_id().to_owned(),
            signature: String::new(),
        };
        if let Some(body) = cp.signed_body() {
            cp.signature = signer.sign_b64(body.as_bytes());
        }
        cp
    }

    /// The root hash as bytes, if `root_hash` is well-formed.
    pub fn root(&self) -> Option<Hash> {
        hex::decode(&self.root_hash).ok()?.try_into().ok()
    }

    /// The exact text the signature covers (see the module docs), if
    /// `root_hash` is well-formed.
    pub fn signed_body(&self) -> Option<String> {
        let root = base64::engine::general_purpose::STANDARD.encode(self.root()?);
        Some(format!(
            "{CHECKPOINT_ORIGIN}\n{}\n{}\n{root}\n{}\n",
            self.replica, self.tree_size, self.time
        ))
    }

    /// Whether the signature is valid under `key` (and the key ids match).
    pub fn verify_signature(&self, key: &AuditPublicKey) -> bool {
        self.key_id == key.key_id()
            && self
                .signed_body()
                .is_some_and(|body| key.verify_b64(body.as_bytes(), &self.signature))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::generate_signing_key_pem;
    use crate::merkle::EMPTY_ROOT;

    #[test]
    fn signs_the_documented_body() {
        let (private, public) = generate_signing_key_pem().unwrap();
        let signer = AuditSigner::from_pkcs8_pem(&private).unwrap();
        let key = AuditPublicKey::from_spki_pem(&public).unwrap();
        let cp = SignedCheckpoint::sign(
            &signer,
            "r1",
            0,
            &EMPTY_ROOT,
            "2024-05-01T00:00:00.000Z".into(),
        );
        assert_eq!(
            cp.signed_body().unwrap(),
            "credgate-audit/v1\nr1\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n2024-05-01T00:00:00.000Z\n"
        );
        assert!(cp.verify_signature(&key));
        let mut forged = cp.clone();
        forged.tree_size = 1;
        assert!(!forged.verify_signature(&key));
        let mut bad_root = cp;
        bad_root.root_hash = "zz".into();
        assert!(!bad_root.verify_signature(&key));
    }
}
