//! Offline verification (`credgate audit verify`): checks everything the
//! log claims and names the first problem (file, offset, seq, kind).
//!
//! In order: `deletions.log` (framing, signatures); then segment by segment
//! from number 1 — for a present file its framing and CRCs, its header
//! (number, first seq, replica, previous seal), every record (parses, seq
//! is the next one, replica), and its seal (signature, range, file hash,
//! tree root at its end, hash chain); for a deleted segment its deletion
//! record against its seal; finally every checkpoint (signature, replica,
//! size within the log, root equal to the root recomputed from the
//! records, consistency with the previous checkpoint).
//!
//! A bad frame at the very end of the active segment with nothing intact
//! after it is a torn tail (an unacknowledged write cut by a crash): it is
//! reported in [`VerifyReport::torn_tail`], not as a failure.

mod checkpoints;

use std::collections::HashMap;
use std::path::Path;

use crate::checkpoint::SignedCheckpoint;
use crate::deletion::{DeletionRecord, DELETIONS_FILE};
use crate::error::{Corruption, Location, ProblemKind, VerifyFailure};
use crate::fsutil::read_framed;
use crate::keys::AuditPublicKey;
use crate::merkle::{leaf_hash, to_hash, Hash, MerkleTree};
use crate::record::{parse_log_time_ms, AuditRecord};
use crate::recover::{check_no_orphan_seal, check_seal, parse_hash, read_seal};
use crate::seal::{seal_file_name, Seal};
use crate::segment::{self, Item};

/// What a successful verification checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The replica the log belongs to (`None` for an empty directory).
    pub replica: Option<String>,
    /// Records in the log, deleted ones included.
    pub tree_size: u64,
    /// Merkle root of the whole log, hex.
    pub root_hash: String,
    /// Segment files checked.
    pub segments: usize,
    /// Records read from segment files.
    pub records_present: u64,
    /// Segments deleted by retention (covered by deletion records).
    pub deleted_segments: usize,
    /// Records deleted by retention.
    pub deleted_records: u64,
    /// Seals checked.
    pub seals: usize,
    /// Checkpoints checked.
    pub checkpoints: usize,
    /// The last checkpoint.
    pub latest_checkpoint: Option<SignedCheckpoint>,
    /// Records after the last checkpoint (not yet covered by a signature).
    pub records_after_checkpoint: u64,
    /// Whether signatures were checked (a public key was given).
    pub signatures_checked: bool,
    /// Where an unacknowledged torn tail starts, if there is one.
    pub torn_tail: Option<Location>,
    /// Checkpoints held outside the log (`anchors` of [`verify_anchored`])
    /// that the log was checked against.
    pub anchors_checked: usize,
    /// Runs that ended without a final checkpoint (a crash, a kill, a
    /// failed last write, or a log written before final checkpoints): each
    /// start checkpoint whose predecessor is not a final one.
    pub unclean_stops: usize,
    /// The log's first checkpoint is a run's start at this size (> 0):
    /// the checkpoints before it are gone (`checkpoints.log` deleted or
    /// emptied, then a run signed what it found), or the log began under
    /// a version without start checkpoints and crashed before its first.
    pub first_checkpoint_is_late_start: Option<u64>,
    /// A shipped copy ([`verify_shipped`]) only: the most records a signed
    /// checkpoint covers beyond the copy's last record. Those records are
    /// in segments not in the copy: not shipped yet, or removed from it.
    pub beyond_copy: Option<u64>,
}

/// Verifies the log in `dir`; with `pubkey_pem` (the log's SPKI PEM public
/// key) also every signature. Returns the first problem found. A directory
/// holding no audit log (no segment, no deletion record) is a failure, not
/// an empty log: a wrong path or a wiped directory must not read "ok".
pub fn verify(dir: &Path, pubkey_pem: Option<&str>) -> Result<VerifyReport, VerifyFailure> {
    verify_anchored(dir, pubkey_pem, &[])
}

/// [`verify`], and checks the log against `anchors`: checkpoints of this
/// replica held outside the log (fetched earlier from
/// `GET /v1/audit/checkpoint`, or kept by an auditor). Each must verify
/// under the key (when given), name the log's replica, cover no more
/// records than the log holds, and have the root the log has at its size.
/// This is what detects records *and* checkpoints cut from the end of the
/// log together, which the log alone cannot show.
pub fn verify_anchored(
    dir: &Path,
    pubkey_pem: Option<&str>,
    anchors: &[SignedCheckpoint],
) -> Result<VerifyReport, VerifyFailure> {
    run(dir, pubkey_pem, anchors, false)
}

/// [`verify_anchored`] for a **shipped copy** of a replica's log: its
/// sealed segments with their seals, copied with `checkpoints.log` and
/// `deletions.log` as the operator's runbook says (`deploy/README.md`,
/// "Audit log: shipping and verification"). Such a copy ends before the
/// records of the replica's active segment (and of segments sealed after
/// the copy was made), which its checkpoints already cover; the live log
/// never does. Everything is checked as by [`verify_anchored`], except
/// that a checkpoint (in the log or held outside it) covering records
/// beyond the copy has its signature, replica and order checked but not
/// its root, and is reported in [`VerifyReport::beyond_copy`] instead of
/// failing. Records in sealed segments count as covered by their seal's
/// signed root (in [`VerifyReport::records_after_checkpoint`]).
///
/// What a copy cannot show by itself: whole segments removed from its end
/// with their seals look like segments not shipped yet. Compare
/// `beyond_copy` with a later copy or the replica's own log.
pub fn verify_shipped(
    dir: &Path,
    pubkey_pem: Option<&str>,
    anchors: &[SignedCheckpoint],
) -> Result<VerifyReport, VerifyFailure> {
    run(dir, pubkey_pem, anchors, true)
}

fn run(
    dir: &Path,
    pubkey_pem: Option<&str>,
    anchors: &[SignedCheckpoint],
    shipped: bool,
) -> Result<VerifyReport, VerifyFailure> {
    let key = match pubkey_pem {
        Some(pem) => Some(AuditPublicKey::from_spki_pem(pem).map_err(|e| {
            Corruption::new(
                Location::file("public key"),
                ProblemKind::BadKey,
                e.to_string(),
            )
        })?),
        None => None,
    };
    let mut v = Verifier {
        dir,
        key,
        tree: MerkleTree::new(),
        replica: None,
        prev_seal: None,
        report: VerifyReport {
            replica: None,
            tree_size: 0,
            root_hash: String::new(),
            segments: 0,
            records_present: 0,
            deleted_segments: 0,
            deleted_records: 0,
            seals: 0,
            checkpoints: 0,
            latest_checkpoint: None,
            records_after_checkpoint: 0,
            signatures_checked: pubkey_pem.is_some(),
            torn_tail: None,
            anchors_checked: 0,
            unclean_stops: 0,
            first_checkpoint_is_late_start: None,
            beyond_copy: None,
        },
        finals: Vec::new(),
        shipped,
        sealed_through: 0,
        checkpointed_through: 0,
    };
    let deletions = v.deletions()?;
    let present = segment::list(dir).map_err(|e| Corruption::io(dir.display().to_string(), &e))?;
    if present.is_empty() && deletions.is_empty() {
        // A seal left behind names the missing segment: the better report.
        check_no_orphan_seal(dir, 0)?;
        return Err(Corruption::new(
            Location::file(dir.display().to_string()),
            ProblemKind::NoLog,
            "no audit log here (no segment file, no deletion record)",
        ));
    }
    let highest_present = present.last().copied().unwrap_or(0);
    let highest = deletions
        .keys()
        .copied()
        .chain(present.iter().copied())
        .max()
        .unwrap_or(0);
    for n in 1..=highest {
        let deletion = deletions.get(&n);
        if present.binary_search(&n).is_ok() {
            v.segment(n, n == highest_present, deletion)?;
        } else if let Some((offset, rec, leaves)) = deletion {
            v.deleted_segment(n, *offset, rec, leaves)?;
        } else {
            return Err(Corruption::new(
                Location::file(segment::file_name(n)).with_seq(v.tree.len() + 1),
                ProblemKind::MissingSegment,
                "segment file missing and no deletion record covers it",
            ));
        }
    }
    if highest > highest_present {
        return Err(Corruption::new(
            Location::file(segment::file_name(highest + 1)),
            ProblemKind::MissingSegment,
            "no active segment after the last deleted one",
        ));
    }
    check_no_orphan_seal(dir, highest)?;
    v.checkpoints()?;
    for anchor in anchors {
        v.anchor(anchor)?;
    }
    let mut report = v.report;
    report.replica = v.replica;
    report.tree_size = v.tree.len();
    report.root_hash = hex::encode(v.tree.root(v.tree.len()).unwrap_or_default());
    // In a shipped copy the records of sealed segments are covered by
    // their seals' signed roots; in a live log only checkpoints count.
    let covered = if v.shipped {
        v.checkpointed_through.max(v.sealed_through)
    } else {
        v.checkpointed_through
    };
    report.records_after_checkpoint = v.tree.len().saturating_sub(covered);
    Ok(report)
}

/// Deletion records by segment number: `(offset, record, leaf hashes)`.
type Deletions = HashMap<u32, (u64, DeletionRecord, Vec<Hash>)>;

/// Verification state.
struct Verifier<'a> {
    dir: &'a Path,
    key: Option<AuditPublicKey>,
    tree: MerkleTree,
    replica: Option<String>,
    prev_seal: Option<Hash>,
    report: VerifyReport,
    /// Size and signature of each final checkpoint in the log (a final
    /// anchor must be one of them).
    finals: Vec<(u64, String)>,
    /// Checking a shipped copy (see [`verify_shipped`]).
    shipped: bool,
    /// The last seq a checked seal's signed root covers.
    sealed_through: u64,
    /// The size of the last checkpoint in the log whose root was checked.
    checkpointed_through: u64,
}

impl Verifier<'_> {
    /// Checks that `found` is the log's replica (the first one seen sets it).
    fn same_replica(&mut self, found: &str, at: impl Fn() -> Location) -> Result<(), Corruption> {
        match &self.replica {
            Some(r) if r != found => Err(Corruption::new(
                at(),
                ProblemKind::ReplicaMismatch,
                format!("names replica {found}, the log is {r}'s"),
            )),
            Some(_) => Ok(()),
            None if crate::config::validate_replica(found).is_err() => Err(Corruption::new(
                at(),
                ProblemKind::ReplicaMismatch,
                "names a replica no gateway can have".to_owned(),
            )),
            None => {
                self.replica = Some(found.to_owned());
                Ok(())
            }
        }
    }

    /// Reads and checks `deletions.log`.
    fn deletions(&mut self) -> Result<Deletions, Corruption> {
        let path = self.dir.join(DELETIONS_FILE);
        let file = read_framed(&path).map_err(|e| Corruption::io(DELETIONS_FILE, &e))?;
        self.side_file_tail(DELETIONS_FILE, &file)?;
        let mut out = HashMap::new();
        for (offset, payload) in file.entries {
            let at = || Location::at(DELETIONS_FILE, offset);
            let bad = |detail: &str| Corruption::new(at(), ProblemKind::BadDeletion, detail);
            let rec: DeletionRecord =
                serde_json::from_slice(&payload).map_err(|_| bad("malformed deletion record"))?;
            if let Some(key) = &self.key {
                if !rec.verify_signature(key) {
                    return Err(Corruption::new(
                        at(),
                        ProblemKind::BadSignature,
                        "deletion record signature does not verify",
                    ));
                }
            }
            let leaves = rec
                .leaves()
                .ok_or_else(|| bad("leaf hashes do not match the seq range"))?;
            self.same_replica(&rec.replica.clone(), at)?;
            if out.insert(rec.segment, (offset, rec, leaves)).is_some() {
                return Err(bad("second deletion record for the same segment"));
            }
        }
        Ok(out)
    }

    /// Records a torn tail of a side file, or fails if the damage is not a tail.
    fn side_file_tail(
        &mut self,
        name: &str,
        file: &crate::fsutil::FramedFile,
    ) -> Result<(), Corruption> {
        if let Some(bad) = file.bad {
            let at = Location::at(name, bad.offset);
            if bad.intact_after {
                return Err(Corruption::new(
                    at,
                    bad.problem.kind(),
                    format!("{}, followed by intact frames", bad.problem.describe()),
                ));
            }
            self.report.torn_tail.get_or_insert(at);
        }
        Ok(())
    }

    /// Checks a present segment file (and its seal, or its deletion record
    /// if retention was interrupted before removing it).
    fn segment(
        &mut self,
        n: u32,
        is_last: bool,
        deletion: Option<&(u64, DeletionRecord, Vec<Hash>)>,
    ) -> Result<(), Corruption> {
        let name = segment::file_name(n);
        let first_seq = self.tree.len() + 1;
        let seal = read_seal(self.dir, n)?;
        let mut expected = first_seq;
        let mut replica = self.replica.clone();
        let tree = &mut self.tree;
        let prev_hex = self.prev_seal.map(hex::encode);
        let scan = segment::scan(self.dir, n, is_last && seal.is_none(), |item| match item {
            Item::Header(h) => {
                segment::check_header(h, n, first_seq, prev_hex.as_deref(), &mut replica)
            }
            Item::Record(offset, payload) => {
                let at = || Location::at(name.clone(), offset).with_seq(expected);
                let rec: AuditRecord = serde_json::from_slice(payload).map_err(|_| {
                    Corruption::new(at(), ProblemKind::BadPayload, "not an audit record")
                })?;
                if rec.seq != expected {
                    return Err(Corruption::new(
                        at(),
                        ProblemKind::SeqMismatch,
                        format!("found seq {} where seq {expected} belongs", rec.seq),
                    ));
                }
                // Recovery indexes records by time and refuses a log whose
                // record time does not parse: so must verify.
                if parse_log_time_ms(&rec.time).is_none() {
                    return Err(Corruption::new(at(), ProblemKind::BadPayload, "bad time"));
                }
                if replica.as_ref().is_some_and(|r| *r != rec.replica) {
                    return Err(Corruption::new(
                        at(),
                        ProblemKind::ReplicaMismatch,
                        "record names another replica",
                    ));
                }
                // In memory: cannot fail.
                drop(tree.push(leaf_hash(payload)));
                expected += 1;
                Ok(())
            }
        })?;
        let last_seq = expected - 1;
        self.report.segments += 1;
        self.report.records_present += last_seq + 1 - first_seq;
        match &scan.header {
            Some(_) => {}
            // Empty active segment, or one whose header write was torn.
            None if is_last && seal.is_none() && scan.bad.is_none_or(|b| !b.intact_after) => {}
            None => {
                let (offset, kind) = scan.bad.map_or((0, ProblemKind::BadHeader), |b| {
                    (b.offset, b.problem.kind())
                });
                return Err(Corruption::new(
                    Location::at(name, offset),
                    kind,
                    "segment has no intact header",
                ));
            }
        }
        if let Some(r) = replica {
            self.same_replica(&r, || Location::file(name.clone()))?;
        }
        if let Some(bad) = scan.bad {
            let at = Location::at(name.clone(), bad.offset).with_seq(expected);
            if !is_last || seal.is_some() || bad.intact_after {
                return Err(Corruption::new(
                    at,
                    bad.problem.kind(),
                    bad.problem.describe(),
                ));
            }
            self.report.torn_tail = Some(at);
        }
        if let Some((offset, rec, leaves)) = deletion {
            let same = rec.first_seq == first_seq
                && rec.last_seq == last_seq
                && self.tree.leaves(first_seq - 1, last_seq).ok().as_deref()
                    == Some(leaves.as_slice());
            if !same {
                return Err(Corruption::new(
                    Location::at(DELETIONS_FILE, *offset),
                    ProblemKind::BadDeletion,
                    format!("does not match the records of {name}"),
                ));
            }
        }
        match seal {
            Some((seal, hash)) => {
                let sha = to_hash(scan.sha256.finish());
                check_seal(
                    &seal,
                    n,
                    first_seq,
                    last_seq,
                    &sha,
                    scan.valid_len,
                    prev_hex.as_deref(),
                )?;
                self.check_seal_signature_and_root(n, &seal)?;
                self.prev_seal = Some(hash);
                self.sealed_through = last_seq;
            }
            None if !is_last => {
                return Err(Corruption::new(
                    Location::file(seal_file_name(n)),
                    ProblemKind::MissingSeal,
                    "segment was rotated out but has no seal",
                ));
            }
            None => {}
        }
        Ok(())
    }

    /// Checks a deleted segment: its deletion record against its seal.
    fn deleted_segment(
        &mut self,
        n: u32,
        offset: u64,
        rec: &DeletionRecord,
        leaves: &[Hash],
    ) -> Result<(), Corruption> {
        let first_seq = self.tree.len() + 1;
        let at = || Location::at(DELETIONS_FILE, offset).with_seq(first_seq);
        if rec.first_seq != first_seq {
            return Err(Corruption::new(
                at(),
                ProblemKind::BadDeletion,
                format!("covers seqs from {}, expected {first_seq}", rec.first_seq),
            ));
        }
        let Some((seal, hash)) = read_seal(self.dir, n)? else {
            return Err(Corruption::new(
                Location::file(seal_file_name(n)),
                ProblemKind::MissingSeal,
                "deleted segment has no seal",
            ));
        };
        if parse_hash(&rec.seal_hash) != Some(hash)
            || seal.first_seq != rec.first_seq
            || seal.last_seq != rec.last_seq
        {
            return Err(Corruption::new(
                at(),
                ProblemKind::BadDeletion,
                "does not match the segment's seal",
            ));
        }
        if seal.prev_seal_hash != self.prev_seal.map(hex::encode) {
            return Err(Corruption::new(
                Location::file(seal_file_name(n)),
                ProblemKind::SealMismatch,
                "seal does not chain to the previous seal",
            ));
        }
        // The tree keeps its leaves in memory: pushing cannot fail.
        leaves.iter().for_each(|l| drop(self.tree.push(*l)));
        self.check_seal_signature_and_root(n, &seal)?;
        self.prev_seal = Some(hash);
        self.sealed_through = seal.last_seq;
        self.report.deleted_segments += 1;
        self.report.deleted_records += leaves.len() as u64;
        Ok(())
    }

    /// Checks a seal's signature, replica and tree root.
    fn check_seal_signature_and_root(&mut self, n: u32, seal: &Seal) -> Result<(), Corruption> {
        let at = || Location::file(seal_file_name(n)).with_seq(seal.last_seq);
        if let Some(key) = &self.key {
            if !seal.verify_signature(key) {
                return Err(Corruption::new(
                    at(),
                    ProblemKind::BadSignature,
                    "seal signature does not verify",
                ));
            }
        }
        self.same_replica(&seal.replica.clone(), at)?;
        if self
            .tree
            .root(seal.last_seq)
            .ok()
            .map(hex::encode)
            .as_deref()
            != Some(seal.root_hash.as_str())
        {
            return Err(Corruption::new(
                at(),
                ProblemKind::SealMismatch,
                format!("tree root at size {} differs from the seal", seal.last_seq),
            ));
        }
        self.report.seals += 1;
        Ok(())
    }
}
