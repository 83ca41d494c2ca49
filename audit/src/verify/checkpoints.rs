//! Checking `checkpoints.log` against the recomputed tree.

use super::Verifier;
use crate::checkpoint::SignedCheckpoint;
use crate::error::{Corruption, Location, ProblemKind};
use crate::fsutil::read_framed;
use crate::proof::verify_consistency;
use crate::recover::CHECKPOINTS_FILE;

impl Verifier<'_> {
    /// Checks every checkpoint: signature, replica, size within the log,
    /// root equal to the recomputed root, and consistency with the previous one.
    pub(super) fn checkpoints(&mut self) -> Result<(), Corruption> {
        let path = self.dir.join(CHECKPOINTS_FILE);
        let file = read_framed(&path).map_err(|e| Corruption::io(CHECKPOINTS_FILE, &e))?;
        self.side_file_tail(CHECKPOINTS_FILE, &file)?;
        let mut prev: Option<SignedCheckpoint> = None;
        for (offset, payload) in file.entries {
            let at = || Location::at(CHECKPOINTS_FILE, offset);
            let cp: SignedCheckpoint = serde_json::from_slice(&payload)
                .map_err(|_| Corruption::new(at(), ProblemKind::BadPayload, "not a checkpoint"))?;
            let at = || at().with_seq(cp.tree_size);
            self.against_tree(&cp, at, "").map_err(|mut c| {
                // A record altered with its frame's CRC fixed up shows only
                // here: name the records it must be among (those after the
                // previous checkpoint, whose root matched).
                if c.kind == ProblemKind::CheckpointMismatch {
                    let from = prev.as_ref().map_or(0, |p| p.tree_size) + 1;
                    c.detail.push_str(&format!(
                        ": a record in seqs {from}–{} was altered, inserted or removed",
                        cp.tree_size
                    ));
                }
                c
            })?;
            if let Some(p) = &prev {
                if !self.consistent(p, &cp) {
                    return Err(Corruption::new(
                        at(),
                        ProblemKind::Inconsistent,
                        format!("not consistent with the checkpoint at size {}", p.tree_size),
                    ));
                }
            }
            self.report.checkpoints += 1;
            prev = Some(cp);
        }
        self.report.latest_checkpoint = prev;
        Ok(())
    }

    /// Checks a checkpoint held outside the log (see
    /// [`super::verify_anchored`]).
    pub(super) fn anchor(&mut self, cp: &SignedCheckpoint) -> Result<(), Corruption> {
        let at = || Location::file("the checkpoint given").with_seq(cp.tree_size);
        self.against_tree(cp, at, ": records were removed from its end")?;
        self.report.anchors_checked += 1;
        Ok(())
    }

    /// What every checkpoint must satisfy, in the log or held outside it:
    /// its signature (with a key), the log's replica, a size within the
    /// log (`beyond` says what exceeding it means), and the root the
    /// records have at that size.
    fn against_tree(
        &mut self,
        cp: &SignedCheckpoint,
        at: impl Fn() -> Location,
        beyond: &str,
    ) -> Result<(), Corruption> {
        if let Some(key) = &self.key {
            if !cp.verify_signature(key) {
                return Err(Corruption::new(
                    at(),
                    ProblemKind::BadSignature,
                    "checkpoint signature does not verify",
                ));
            }
        }
        self.same_replica(&cp.replica.clone(), &at)?;
        if cp.tree_size > self.tree.len() {
            return Err(Corruption::new(
                at(),
                ProblemKind::CheckpointBeyondLog,
                format!(
                    "checkpoint covers {} records, the log holds {}{beyond}",
                    cp.tree_size,
                    self.tree.len()
                ),
            ));
        }
        if cp.root().is_none() || cp.root() != self.tree.root(cp.tree_size).ok() {
            return Err(Corruption::new(
                at(),
                ProblemKind::CheckpointMismatch,
                format!(
                    "root at size {} differs from the root of the records",
                    cp.tree_size
                ),
            ));
        }
        Ok(())
    }

    /// Whether `next` extends `prev` (sizes never shrink; a consistency
    /// proof from the recomputed tree verifies between their roots).
    fn consistent(&self, prev: &SignedCheckpoint, next: &SignedCheckpoint) -> bool {
        if next.tree_size < prev.tree_size {
            return false;
        }
        if prev.tree_size == 0 {
            return true;
        }
        let (Some(first), Some(second)) = (prev.root(), next.root()) else {
            return false;
        };
        self.tree
            .consistency_proof(prev.tree_size, next.tree_size)
            .is_ok_and(|proof| {
                verify_consistency(prev.tree_size, next.tree_size, &first, &second, &proof)
            })
    }
}
