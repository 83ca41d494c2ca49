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
//! [start | final]
//! ```
//!
//! The last line is there only for a run's first checkpoint (`start`,
//! written at open before any append) and its last (`final`, written at a
//! clean shutdown after the last append); a periodic or on-demand
//! checkpoint has the five lines alone, as before. The marks bound what
//! can be appended unseen: nothing is appended between a `final` and the
//! next `start`, so records after a final checkpoint of size N, or a
//! start above N after it, were written while no gateway ran.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{Corruption, Location, ProblemKind};
use crate::keys::{AuditPublicKey, AuditSigner};
use crate::merkle::Hash;
use crate::record::parse_log_time_ms;
use crate::recover::CHECKPOINTS_FILE;
use crate::AuditError;

/// First line of every checkpoint body.
pub(crate) const CHECKPOINT_ORIGIN: &str = "credgate-audit/v1";

/// Where in a run of the gateway a checkpoint was made (see the module
/// docs). Serialised as `"kind": "start"` or `"final"`; absent for periodic
/// checkpoints, so those read as they always did.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CheckpointKind {
    /// Written while records arrive (every N records or T seconds) or on demand.
    #[default]
    Periodic,
    /// A run's first checkpoint, written at open before the first append.
    Start,
    /// A run's last checkpoint, written at a clean shutdown after the last append.
    Final,
}

impl CheckpointKind {
    /// Whether this is [`CheckpointKind::Periodic`] (serde's skip test).
    pub fn is_periodic(&self) -> bool {
        *self == Self::Periodic
    }

    /// The signed body's extra line, if any.
    fn mark(self) -> &'static str {
        match self {
            Self::Periodic => "",
            Self::Start => "start\n",
            Self::Final => "final\n",
        }
    }
}

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
    /// A run's start or end (signed), else periodic.
    #[serde(default, skip_serializing_if = "CheckpointKind::is_periodic")]
    pub kind: CheckpointKind,
}

impl SignedCheckpoint {
    /// Makes and signs a checkpoint.
    pub(crate) fn sign(
        signer: &AuditSigner,
        replica: &str,
        tree_size: u64,
        root: &Hash,
        time: String,
        kind: CheckpointKind,
    ) -> Self {
        let mut cp = Self {
            replica: replica.to_owned(),
            tree_size,
            root_hash: hex::encode(root),
            time,
            key_id: signer.key_id().to_owned(),
            signature: String::new(),
            kind,
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
            "{CHECKPOINT_ORIGIN}\n{}\n{}\n{root}\n{}\n{}",
            self.replica,
            self.tree_size,
            self.time,
            self.kind.mark()
        ))
    }

    /// What runs allow from checkpoint `self` to the next one, `next`:
    /// after a final checkpoint only the next run's start, at the same size
    /// and dated after it (the writer dates every checkpoint at least 1 ms
    /// after the one it follows). `None` when `next` may follow; else why not. A replayed
    /// or reordered start fails the time; records appended after a final
    /// one fail the size.
    pub(crate) fn run_break(&self, next: &SignedCheckpoint) -> Option<String> {
        if self.kind != CheckpointKind::Final {
            return None;
        }
        let (size, time) = (self.tree_size, &self.time);
        if next.tree_size > size {
            return Some(format!(
                "seqs {}–{} follow the final checkpoint of a clean shutdown at size {size} with \
                 no run's start checkpoint at that size: they were written while no gateway ran",
                size + 1,
                next.tree_size
            ));
        }
        if next.kind != CheckpointKind::Start || next.tree_size != size {
            return Some(format!(
                "follows the final checkpoint at size {size} but is not the next run's start"
            ));
        }
        let earlier = match (parse_log_time_ms(&next.time), parse_log_time_ms(time)) {
            (Some(n), Some(f)) => n <= f,
            _ => true,
        };
        earlier.then(|| {
            format!(
                "a run's start dated {} follows the final checkpoint dated {time}, not after it: \
                 a replayed or reordered checkpoint",
                next.time
            )
        })
    }

    /// When this checkpoint is a final one that ends `checkpoints.log`
    /// and the log holds `log_len` records, more than it covers: what
    /// open refuses and `verify` fails.
    pub(crate) fn records_after(&self, log_len: u64) -> Option<Corruption> {
        let size = self.tree_size;
        (self.kind == CheckpointKind::Final && log_len > size).then(|| {
            Corruption::new(
                Location::file(CHECKPOINTS_FILE).with_seq(size + 1),
                ProblemKind::AppendedAfterFinal,
                format!(
                    "seqs {}–{log_len} follow the final checkpoint of a clean shutdown at size \
                     {size}, which ends {CHECKPOINTS_FILE}: they were written while no gateway ran",
                    size + 1
                ),
            )
        })
    }

    /// At open: the latest checkpoint and the one before it decide what
    /// the new run may adopt (records after a final one are refused), so
    /// each must be this log's own, signed by the key the writer signs with. An edited one (a
    /// `kind` removed to have records adopted) or one under another key
    /// refuses the open; `audit verify` checks every checkpoint with one
    /// public key, so a log keeps its signing key for life.
    pub(crate) fn check_at_open(&self, key: &AuditPublicKey) -> Result<(), AuditError> {
        let at = || Location::file(CHECKPOINTS_FILE).with_seq(self.tree_size);
        if self.key_id != key.key_id() {
            return Err(AuditError::Config(format!(
                "the log's checkpoint at {at} is signed by key {}, but the configured \
                 signing key is {}: a log keeps one signing key (`audit verify` checks every \
                 signature with one public key). Configure that key again, or start this \
                 replica on a new audit directory",
                self.key_id,
                key.key_id(),
                at = at(),
            )));
        }
        if !self.verify_signature(key) {
            return Err(Corruption::new(
                at(),
                ProblemKind::BadSignature,
                "this checkpoint's signature does not verify under the signing key: \
                 checkpoints.log was edited",
            )
            .into());
        }
        Ok(())
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
            CheckpointKind::Periodic,
        );
        assert_eq!(
            cp.signed_body().unwrap(),
            "credgate-audit/v1\nr1\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n2024-05-01T00:00:00.000Z\n"
        );
        assert!(cp.verify_signature(&key));
        let mut forged = cp.clone();
        forged.tree_size = 1;
        assert!(!forged.verify_signature(&key));
        let mut bad_root = cp.clone();
        bad_root.root_hash = "zz".into();
        assert!(!bad_root.verify_signature(&key));
        assert!(!serde_json::to_string(&cp).unwrap().contains("kind"));
    }

    #[test]
    fn a_start_or_final_mark_is_signed_and_cannot_be_added_or_removed() {
        let (private, public) = generate_signing_key_pem().unwrap();
        let signer = AuditSigner::from_pkcs8_pem(&private).unwrap();
        let key = AuditPublicKey::from_spki_pem(&public).unwrap();
        let time = || "2024-05-01T00:00:00.000Z".to_owned();
        let fin =
            SignedCheckpoint::sign(&signer, "r1", 0, &EMPTY_ROOT, time(), CheckpointKind::Final);
        assert!(fin.signed_body().unwrap().ends_with(".000Z\nfinal\n"));
        let json = serde_json::to_string(&fin).unwrap();
        assert!(json.contains(r#""kind":"final""#), "{json}");
        let back: SignedCheckpoint = serde_json::from_str(&json).unwrap();
        assert_eq!(back, fin);
        assert!(back.verify_signature(&key));
        // Stripping the mark (or changing it) breaks the signature.
        for kind in [CheckpointKind::Periodic, CheckpointKind::Start] {
            let mut changed = fin.clone();
            changed.kind = kind;
            assert!(!changed.verify_signature(&key), "{kind:?}");
        }
        let start =
            SignedCheckpoint::sign(&signer, "r1", 0, &EMPTY_ROOT, time(), CheckpointKind::Start);
        assert!(start.signed_body().unwrap().ends_with(".000Z\nstart\n"));
        let mut marked = SignedCheckpoint::sign(
            &signer,
            "r1",
            0,
            &EMPTY_ROOT,
            time(),
            CheckpointKind::Periodic,
        );
        marked.kind = CheckpointKind::Final;
        assert!(!marked.verify_signature(&key));
    }
}
