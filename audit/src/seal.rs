//! Segment seals: when a segment is rotated out it gets a seal file
//! `seals/segment-NNNNNN.seal` holding one frame whose payload is a signed
//! [`Seal`]. The seal hash (SHA-256 of that payload) is chained: each seal
//! names the previous seal's hash, and the next segment's header names it
//! too.
//!
//! Signed body (each line ends with `\n`; `-` when there is no previous seal):
//!
//! ```text
//! credgate-audit/v1 seal
//! <replica>
//! <segment number>
//! <first seq>
//! <last seq>
//! <first record time>
//! <last record time>
//! <tree root at size last seq, hex>
//! <SHA-256 of the whole segment file, hex>
//! <segment file length>
//! <previous seal hash, hex, or ->
//! <time sealed>
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::keys::{AuditPublicKey, AuditSigner};
use crate::merkle::{sha256, Hash};

/// Name of the directory holding seal files.
pub(crate) const SEALS_DIR: &str = "seals";

/// The seal of a closed segment.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Seal {
    pub replica: String,
    pub segment: u32,
    pub first_seq: u64,
    pub last_seq: u64,
    pub first_time: String,
    pub last_time: String,
    pub root_hash: String,
    pub segment_sha256: String,
    pub segment_len: u64,
    pub prev_seal_hash: Option<String>,
    pub time: String,
    pub key_id: String,
    pub signature: String,
}

impl Seal {
    /// Signs a seal whose fields (other than key id and signature) are set.
    pub(crate) fn signed(mut self, signer: &AuditSigner) -> Self {
        self.key_id = signer.key_id().to_owned();
        self.signature = signer.sign_b64(self.signed_body().as_bytes());
        self
    }

    /// The text the signature covers (see the module docs).
    pub(crate) fn signed_body(&self) -> String {
        format!(
            "credgate-audit/v1 seal\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n",
            self.replica,
            self.segment,
            self.first_seq,
            self.last_seq,
            self.first_time,
            self.last_time,
            self.root_hash,
            self.segment_sha256,
            self.segment_len,
            self.prev_seal_hash.as_deref().unwrap_or("-"),
            self.time
        )
    }

    /// Whether the signature is valid under `key`.
    pub(crate) fn verify_signature(&self, key: &AuditPublicKey) -> bool {
        self.key_id == key.key_id()
            && key.verify_b64(self.signed_body().as_bytes(), &self.signature)
    }
}

/// Path of the seal file of segment `number`.
pub(crate) fn seal_path(dir: &Path, number: u32) -> PathBuf {
    dir.join(seal_file_name(number))
}

/// File name (relative to the log directory) of the seal of segment `number`.
pub(crate) fn seal_file_name(number: u32) -> String {
    format!("{SEALS_DIR}/segment-{number:06}.seal")
}

/// The segment number in a seal file name (`segment-NNNNNN.seal`).
pub(crate) fn number_of(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("segment-")?.strip_suffix(".seal")?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Hash that chains seals: SHA-256 of the seal payload as stored.
pub(crate) fn seal_hash(payload: &[u8]) -> Hash {
    sha256(payload)
}
