//! Checking `checkpoints.log` against the recomputed tree.

use super::Verifier;
use crate::checkpoint::{CheckpointKind, SignedCheckpoint};
use crate::error::{Corruption, Location, ProblemKind};
use crate::fsutil::read_framed;
use crate::proof::verify_consistency;
use crate::recover::CHECKPOINTS_FILE;

/// Where a checkpoint's size falls.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Within the records read: its root was checked.
    InLog,
    /// Beyond the end of a shipped copy: its root could not be checked.
    BeyondCopy,
}

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
            let place = self.against_tree(&cp, at, "").map_err(|mut c| {
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
            if place == Place::InLog {
                self.checkpointed_through = cp.tree_size;
            }
            if let Some(p) = &prev {
                // Beyond a shipped copy's end only the order can be
                // checked: the records are not here.
                let consistent = match place {
                    Place::InLog => self.consistent(p, &cp),
                    Place::BeyondCopy => cp.tree_size >= p.tree_size,
                };
                if !consistent {
                    return Err(Corruption::new(
                        at(),
                        ProblemKind::Inconsistent,
                        format!("not consistent with the checkpoint at size {}", p.tree_size),
                    ));
                }
                if let Some(why) = p.run_break(&cp) {
                    let mut c = Corruption::new(at(), ProblemKind::AppendedAfterFinal, why);
                    if cp.tree_size > p.tree_size {
                        c.location = c.location.with_seq(p.tree_size + 1);
                    }
                    return Err(c);
                }
                if cp.kind == CheckpointKind::Start && p.kind != CheckpointKind::Final {
                    self.report.unclean_stops += 1;
                }
            }
            if cp.kind == CheckpointKind::Final {
                self.finals.push((cp.tree_size, cp.signature.clone()));
            }
            if prev.is_none() && cp.kind == CheckpointKind::Start && cp.tree_size > 0 {
                self.report.first_checkpoint_is_late_start = Some(cp.tree_size);
            }
            self.report.checkpoints += 1;
            prev = Some(cp);
        }
        if let Some(c) = prev.as_ref().and_then(|p| p.records_after(self.tree.len())) {
            return Err(c);
        }
        self.report.latest_checkpoint = prev;
        Ok(())
    }

    /// Checks a checkpoint held outside the log (see
    /// [`super::verify_anchored`]).
    pub(super) fn anchor(&mut self, cp: &SignedCheckpoint) -> Result<(), Corruption> {
        let at = || Location::file("the checkpoint given").with_seq(cp.tree_size);
        self.against_tree(cp, at, ": records were removed from its end")?;
        // The gateway writes a final checkpoint to the log before anyone
        // can hold it: this very one (not another of its size) must be
        // there. Gone from the log, it was removed, and with it the proof
        // that nothing follows it unseen.
        let held = (cp.tree_size, cp.signature.clone());
        if cp.kind == CheckpointKind::Final && !self.finals.contains(&held) {
            let after = self.tree.len() > cp.tree_size;
            let mut detail = format!(
                "the final checkpoint given (size {}, {}) is not in {CHECKPOINTS_FILE}: it was \
                 removed from the log",
                cp.tree_size, cp.time
            );
            if after {
                detail.push_str(&format!(
                    ", and seqs {}–{} after it may have been written while no gateway ran",
                    cp.tree_size + 1,
                    self.tree.len()
                ));
            }
            let seq = if after {
                cp.tree_size + 1
            } else {
                cp.tree_size
            };
            return Err(Corruption::new(
                Location::file("the checkpoint given").with_seq(seq),
                ProblemKind::MissingCheckpoint,
                detail,
            ));
        }
        self.report.anchors_checked += 1;
        Ok(())
    }

    /// What every checkpoint must satisfy, in the log or held outside it:
    /// its signature (with a key), the log's replica, a size within the
    /// log (`beyond` says what exceeding it means), and the root the
    /// records have at that size. In a shipped copy a size beyond the
    /// copy is noted (see [`super::verify_shipped`]), its root unchecked.
    fn against_tree(
        &mut self,
        cp: &SignedCheckpoint,
        at: impl Fn() -> Location,
        beyond: &str,
    ) -> Result<Place, Corruption> {
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
            if self.shipped {
                let most = self
                    .report
                    .beyond_copy
                    .map_or(cp.tree_size, |m| m.max(cp.tree_size));
                self.report.beyond_copy = Some(most);
                return Ok(Place::BeyondCopy);
            }
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
        Ok(Place::InLog)
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
