//! Deletion records, appended framed to `deletions.log` before a sealed
//! segment is removed by retention. A deletion record keeps the leaf hashes
//! of every record it removes (32 bytes each, standard base64 of their
//! concatenation), so the tree, its checkpoints and proofs stay verifiable
//! after the records themselves are gone.
//!
//! Signed body (each line ends with `\n`):
//!
//! ```text
//! credgate-audit/v1 deletion
//! <replica>
//! <segment number>
//! <first seq>
//! <last seq>
//! <hash of the segment's seal, hex>
//! <SHA-256 of the concatenated leaf hashes, hex>
//! <time deleted>
//! ```

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::keys::{AuditPublicKey, AuditSigner};
use crate::merkle::{sha256, Hash};

/// File name of the deletion log.
pub(crate) const DELETIONS_FILE: &str = "deletions.log";

/// A signed record that segment `segment` (seqs `first_seq..=last_seq`) was
/// deleted by retention.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeletionRecord {
    pub replica: String,
    pub segment: u32,
    pub first_seq: u64,
    pub last_seq: u64,
    pub seal_hash: String,
    pub leaf_hashes: String,
    pub time: String,
    pub key_id: String,
    pub signature: String,
}

impl DeletionRecord {
    /// Builds and signs a deletion record.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sign(
        signer: &AuditSigner,
        replica: &str,
        segment: u32,
        first_seq: u64,
        last_seq: u64,
        seal_hash: &Hash,
        leaves: &[Hash],
        time: String,
    ) -> Self {
        let mut rec = Self {
            replica: replica.to_owned(),
            segment,
            first_seq,
            last_seq,
            seal_hash: hex::encode(seal_hash),
            leaf_hashes: base64::engine::general_purpose::STANDARD.encode(leaves.concat()),
            time,
            key_id: signer.key_id().to_owned(),
            signature: String::new(),
        };
        if let Some(body) = rec.signed_body() {
            rec.signature = signer.sign_b64(body.as_bytes());
        }
        rec
    }

    /// The leaf hashes, if well-formed and as many as the seq range.
    pub(crate) fn leaves(&self) -> Option<Vec<Hash>> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.leaf_hashes)
            .ok()?;
        let count = self.last_seq.checked_sub(self.first_seq)?.checked_add(1)?;
        if bytes.len() as u64 != count.checked_mul(32)? {
            return None;
        }
        Some(crate::merkle::hashes(&bytes).collect())
    }

    /// The text the signature covers, if the leaf hashes decode.
    pub(crate) fn signed_body(&self) -> Option<String> {
        let leaves = base64::engine::general_purpose::STANDARD
            .decode(&self.leaf_hashes)
            .ok()?;
        Some(format!(
            "credgate-audit/v1 deletion\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n",
            self.replica,
            self.segment,
            self.first_seq,
            self.last_seq,
            self.seal_hash,
            hex::encode(sha256(&leaves)),
            self.time
        ))
    }

    /// Whether the signature is valid under `key`.
    pub(crate) fn verify_signature(&self, key: &AuditPublicKey) -> bool {
        self.key_id == key.key_id()
            && self
                .signed_body()
                .is_some_and(|b| key.verify_b64(b.as_bytes(), &self.signature))
    }
}
