//! Loading a log directory at open (and for offline queries): reads
//! `deletions.log`, every segment and its seal, and `checkpoints.log`;
//! rebuilds the Merkle tree and the index; decides what damage is a torn
//! tail (cut, in write mode) and what is corruption (refuse, naming file
//! and offset).
//!
//! A torn tail is a bad frame in the active (highest, unsealed) segment,
//! or at the end of `checkpoints.log` / `deletions.log`, with no intact
//! frame anywhere after it: what a crash during a write leaves behind.
//! Anything else — damage followed by intact frames, damage in a sealed
//! segment, a seq out of place, a missing seal or segment, a checkpoint
//! the records no longer match — refuses to open.

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use ring::digest;

use crate::checkpoint::SignedCheckpoint;
use crate::deletion::{DeletionRecord, DELETIONS_FILE};
use crate::error::{Corruption, Location, ProblemKind};
use crate::fsutil::{scan_framed, FramedFile};
use crate::index::{batch_input, Index, IndexInput};
use crate::keys::AuditPublicKey;
use crate::merkle::{leaf_hash, to_hash, Hash, MerkleTree, LEAVES_CACHE_FILE};
use crate::record::parse_log_time_ms;
use crate::seal::{self, seal_file_name, seal_hash, seal_path, Seal, SEALS_DIR};
use crate::segment::{self, Item, RecordView, SegmentHeader};
use crate::state::{LogState, SealInfo, SegmentInfo};
use crate::AuditError;

/// File name of the checkpoint log.
pub(crate) const CHECKPOINTS_FILE: &str = "checkpoints.log";

/// Whether loading may repair torn tails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Open for writing: cut torn tails, finish interrupted deletions.
    Write,
    /// Offline reading: change nothing, ignore torn tails.
    ReadOnly,
}

/// The highest live segment, where appends go.
pub(crate) struct ActiveInfo {
    pub number: u32,
    pub header: Option<SegmentHeader>,
    pub valid_len: u64,
    /// End of the zeros after `valid_len` (a preallocated tail), else `valid_len`.
    pub zeros_end: u64,
    pub sha256: digest::Context,
    pub first_seq: u64,
    pub records: u64,
    pub first_time_ms: Option<i64>,
    pub last_time_ms: Option<i64>,
    /// A seal exists (crash between sealing and starting the next segment).
    pub sealed: bool,
}

/// Everything loaded from a log directory.
pub(crate) struct Recovered {
    pub state: LogState,
    /// Replica named by the segment headers, if any.
    pub replica: Option<String>,
    pub next_seq: u64,
    pub last_time_ms: i64,
    pub last_seal_hash: Option<Hash>,
    /// Number the next new segment must have if there is no active one.
    pub next_segment: u32,
    pub active: Option<ActiveInfo>,
    pub checkpoints_len: u64,
    pub deletions_len: u64,
    /// The checkpoint before the latest (`state.last_checkpoint`), if any.
    pub previous_checkpoint: Option<SignedCheckpoint>,
}

/// Loads `dir` (see the module docs). With `key` (the writer's open), the
/// signatures of every seal and deletion record are checked too: a forged
/// one would otherwise be adopted, and the next seals chain onto it.
/// (Checkpoint signatures are checked by the open itself.)
pub(crate) fn load(
    dir: &Path,
    mode: Mode,
    key: Option<&AuditPublicKey>,
) -> Result<Recovered, AuditError> {
    // The live log keeps its leaf hashes in a cache file rebuilt here (see
    // `merkle::leaves`); an offline reader may not write, and keeps them
    // in memory.
    let mut tree = match mode {
        Mode::Write => {
            let path = dir.join(LEAVES_CACHE_FILE);
            MerkleTree::spilling(&path).map_err(|e| AuditError::io("create", &path, e))?
        }
        Mode::ReadOnly => MerkleTree::new(),
    };
    let mut spill_error = None;
    let mut expected = 1u64;
    let mut next_segment = 1u32;
    let mut last_seal_hash = None;
    let mut replica: Option<String> = None;
    let mut deleted = HashSet::new();
    let mut cuts = Vec::new();
    let deletions_len = load_deletions(dir, mode, &mut cuts, |offset, del, leaves| {
        let at = Location::at(DELETIONS_FILE, offset).with_seq(del.first_seq);
        if key.is_some_and(|k| !del.verify_signature(k)) {
            return Err(Corruption::new(
                at,
                ProblemKind::BadSignature,
                "deletion record signature does not verify under the signing key",
            )
            .into());
        }
        if del.first_seq != expected || del.segment != next_segment {
            return Err(Corruption::new(
                at,
                ProblemKind::BadDeletion,
                format!("expected segment {next_segment} from seq {expected}"),
            )
            .into());
        }
        leaves
            .into_iter()
            .for_each(|l| push_leaf(&mut tree, l, &mut spill_error));
        expected = del.last_seq + 1;
        next_segment = del.segment + 1;
        last_seal_hash = Some(parse_hash(&del.seal_hash).ok_or_else(|| {
            Corruption::new(at.clone(), ProblemKind::BadDeletion, "bad seal hash")
        })?);
        replica.get_or_insert_with(|| del.replica.clone());
        deleted.insert(del.segment);
        Ok(())
    })?;
    let numbers = segment::list(dir).map_err(|e| AuditError::io("list", dir, e))?;
    let mut live = Vec::new();
    for n in numbers {
        if !deleted.contains(&n) {
            live.push(n);
        } else if mode == Mode::Write {
            // Retention wrote the deletion record but crashed before removing the file.
            let path = segment::path(dir, n);
            fs::remove_file(&path).map_err(|e| AuditError::io("remove", &path, e))?;
            tracing::info!(file = %segment::file_name(n), "finished an interrupted retention deletion");
        }
    }

    let mut index = Index::new(expected);
    let mut segments = Vec::new();
    let mut last_time_ms = i64::MIN;
    let mut active = None;
    let mut torn_tail = None;
    for (i, &n) in live.iter().enumerate() {
        let name = segment::file_name(n);
        if n != next_segment {
            return Err(Corruption::new(
                Location::file(segment::file_name(next_segment)).with_seq(expected),
                ProblemKind::MissingSegment,
                "segment file missing and no deletion record covers it",
            )
            .into());
        }
        let is_last = i + 1 == live.len();
        let seal = read_seal(dir, n)?;
        if let (Some((seal, _)), Some(key)) = (&seal, key) {
            if !seal.verify_signature(key) {
                return Err(Corruption::new(
                    Location::file(seal_file_name(n)),
                    ProblemKind::BadSignature,
                    "seal signature does not verify under the signing key",
                )
                .into());
            }
        }
        let sealed = !is_last || seal.is_some();
        let first_seq = expected;
        let (mut first_ms, mut last_ms) = (None, None);
        let header_prev = last_seal_hash.map(hex::encode);
        let scan = segment::scan(dir, n, !sealed, |item| match item {
            Item::Header(h) => {
                segment::check_header(h, n, first_seq, header_prev.as_deref(), &mut replica)
            }
            Item::Record(offset, payload) => {
                let at = || Location::at(name.clone(), offset).with_seq(expected);
                let view: RecordView<'_> = serde_json::from_slice(payload).map_err(|_| {
                    Corruption::new(at(), ProblemKind::BadPayload, "not an audit record")
                })?;
                if view.seq != expected {
                    return Err(Corruption::new(
                        at(),
                        ProblemKind::SeqMismatch,
                        format!("found seq {} where seq {expected} belongs", view.seq),
                    ));
                }
                let time_ms = parse_log_time_ms(&view.time)
                    .ok_or_else(|| Corruption::new(at(), ProblemKind::BadPayload, "bad time"))?;
                push_leaf(&mut tree, leaf_hash(payload), &mut spill_error);
                let (batch_subjects, batch_request_id) = batch_input(
                    &view.subject_pseudonyms,
                    &view.subject_tags,
                    &view.request_id,
                );
                index.push(&IndexInput {
                    seq: expected,
                    time_ms,
                    client_id: &view.client_id,
                    subject_pseudonym: view.subject_pseudonym.as_deref(),
                    batch_subjects,
                    batch_request_id,
                    decision: view.decision,
                    segment: n,
                    offset,
                    len: payload.len() as u32,
                });
                first_ms.get_or_insert(time_ms);
                last_ms = Some(time_ms);
                last_time_ms = last_time_ms.max(time_ms);
                expected += 1;
                Ok(())
            }
        })?;
        match &scan.header {
            Some(_) => {}
            None if sealed => {
                let (offset, kind) = scan.bad.map_or((0, ProblemKind::BadHeader), |b| {
                    (b.offset, b.problem.kind())
                });
                return Err(Corruption::new(
                    Location::at(name, offset),
                    kind,
                    "sealed segment has no header",
                )
                .into());
            }
            None => {}
        }
        if let Some(bad) = scan.bad {
            let at = Location::at(name.clone(), bad.offset).with_seq(expected);
            if sealed || bad.intact_after {
                let why = if sealed {
                    "in a sealed segment"
                } else {
                    "followed by intact frames"
                };
                return Err(Corruption::new(
                    at,
                    bad.problem.kind(),
                    format!("{}, {why}", bad.problem.describe()),
                )
                .into());
            }
            tracing::warn!(file = %name, offset = bad.offset, problem = %bad.problem.describe(), "torn tail in the active audit segment");
            if mode == Mode::Write {
                // Cut only once the checkpoints are known not to cover it:
                // a damaged record a checkpoint covers is evidence, kept.
                torn_tail = Some((segment::path(dir, n), scan.valid_len));
            }
        }
        let seal_info = match seal {
            Some((seal, hash)) => {
                let sha = to_hash(scan.sha256.clone().finish());
                check_seal(
                    &seal,
                    n,
                    first_seq,
                    expected - 1,
                    &sha,
                    scan.valid_len,
                    header_prev.as_deref(),
                )?;
                last_seal_hash = Some(hash);
                let last = parse_log_time_ms(&seal.last_time).unwrap_or(i64::MIN);
                Some(SealInfo {
                    hash,
                    last_time_ms: last,
                })
            }
            None if sealed => {
                return Err(Corruption::new(
                    Location::file(seal_file_name(n)),
                    ProblemKind::MissingSeal,
                    "segment was rotated out but has no seal",
                )
                .into())
            }
            None => None,
        };
        segments.push(SegmentInfo {
            number: n,
            first_seq,
            last_seq: expected - 1,
            seal: seal_info,
        });
        if is_last {
            active = Some(ActiveInfo {
                number: n,
                header: scan.header,
                valid_len: scan.valid_len,
                zeros_end: scan.zeros_end,
                sha256: scan.sha256,
                first_seq,
                records: expected - first_seq,
                first_time_ms: first_ms,
                last_time_ms: last_ms,
                sealed: seal_info.is_some(),
            });
        }
        next_segment = n + 1;
    }
    if active.is_none() && !deleted.is_empty() {
        return Err(Corruption::new(
            Location::file(segment::file_name(next_segment)),
            ProblemKind::MissingSegment,
            "every segment is gone; the active segment is never deleted",
        )
        .into());
    }

    check_no_orphan_seal(dir, next_segment - 1)?;

    let (previous_checkpoint, last_checkpoint, checkpoints_len) =
        load_checkpoints(dir, mode, &tree, &mut cuts)?;
    for (path, valid_len) in torn_tail.into_iter().chain(cuts) {
        cut(&path, valid_len)?;
    }
    if let Some(e) = spill_error {
        tracing::warn!(error = %e, "audit leaf cache could not be written; leaf hashes kept in memory");
    }
    Ok(Recovered {
        state: LogState {
            tree,
            index,
            segments,
            last_checkpoint,
        },
        replica,
        next_seq: expected,
        last_time_ms,
        last_seal_hash,
        next_segment,
        active,
        checkpoints_len,
        deletions_len,
        previous_checkpoint,
    })
}

/// Appends a leaf, keeping the first leaf-cache write error (the leaf is
/// in the tree either way).
fn push_leaf(tree: &mut MerkleTree, leaf: Hash, error: &mut Option<std::io::Error>) {
    if let Err(e) = tree.push(leaf) {
        error.get_or_insert(e);
    }
}

/// Reads a framed side file, cutting a torn tail in write mode and
/// refusing damage followed by intact frames.
fn read_side_file(
    dir: &Path,
    name: &str,
    mode: Mode,
    cuts: &mut Vec<(PathBuf, u64)>,
    mut f: impl FnMut(u64, &[u8]) -> Result<(), AuditError>,
) -> Result<FramedFile, AuditError> {
    /// Reading failed, or `f` refused a frame.
    enum Failed {
        Read(std::io::Error),
        Frame(AuditError),
    }
    impl From<std::io::Error> for Failed {
        fn from(e: std::io::Error) -> Self {
            Self::Read(e)
        }
    }
    let path = dir.join(name);
    let file = scan_framed(&path, |offset, payload| {
        f(offset, payload).map_err(Failed::Frame)
    })
    .map_err(|e| match e {
        Failed::Read(e) => AuditError::io("read", &path, e),
        Failed::Frame(e) => e,
    })?;
    if let Some(bad) = file.bad {
        if bad.intact_after {
            return Err(Corruption::new(
                Location::at(name, bad.offset),
                bad.problem.kind(),
                format!("{}, followed by intact frames", bad.problem.describe()),
            )
            .into());
        }
        tracing::warn!(
            file = name,
            offset = bad.offset,
            "torn tail in audit side file"
        );
        if mode == Mode::Write {
            // Cut once the whole log is known good: a log refused later
            // is left exactly as found (evidence).
            cuts.push((path.clone(), file.valid_len));
        }
    }
    Ok(file)
}

/// Reads `deletions.log` one record at a time, giving `f` each record's
/// offset, the record and its leaf hashes; returns the file's valid length.
fn load_deletions(
    dir: &Path,
    mode: Mode,
    cuts: &mut Vec<(PathBuf, u64)>,
    mut f: impl FnMut(u64, &DeletionRecord, Vec<Hash>) -> Result<(), AuditError>,
) -> Result<u64, AuditError> {
    let file = read_side_file(dir, DELETIONS_FILE, mode, cuts, |offset, payload| {
        let bad = || {
            Corruption::new(
                Location::at(DELETIONS_FILE, offset),
                ProblemKind::BadDeletion,
                "malformed deletion record",
            )
        };
        let rec: DeletionRecord = serde_json::from_slice(payload).map_err(|_| bad())?;
        let leaves = rec.leaves().ok_or_else(bad)?;
        f(offset, &rec, leaves)
    })?;
    Ok(file.valid_len)
}

/// Reads `checkpoints.log` and checks the latest checkpoint against the
/// tree: it may not cover more records than there are (read-only: it may,
/// unchecked), and its root must match; in write mode also what runs
/// allow (see `checkpoint`): no record after a final checkpoint, and a
/// latest start that may follow the one before it. Returns the one before the latest, the latest and the
/// file's valid length. (Signatures are checked by the writer's open,
/// which holds the key.)
fn load_checkpoints(
    dir: &Path,
    mode: Mode,
    tree: &MerkleTree,
    cuts: &mut Vec<(PathBuf, u64)>,
) -> Result<CheckpointsFound, AuditError> {
    let mut last: Option<(u64, Vec<u8>)> = None;
    let mut before: Option<(u64, Vec<u8>)> = None;
    let file = read_side_file(dir, CHECKPOINTS_FILE, mode, cuts, |offset, payload| {
        before = last.take();
        last = Some((offset, payload.to_vec()));
        Ok(())
    })?;
    let parse = |(offset, payload): (u64, Vec<u8>)| {
        serde_json::from_slice::<SignedCheckpoint>(&payload)
            .map(|cp| (offset, cp))
            .map_err(|_| {
                Corruption::new(
                    Location::at(CHECKPOINTS_FILE, offset),
                    ProblemKind::BadPayload,
                    "not a checkpoint",
                )
            })
    };
    let Some((offset, cp)) = last.map(parse).transpose()? else {
        return Ok((None, None, file.valid_len));
    };
    let before = before.map(parse).transpose()?.map(|(_, cp)| cp);
    let at = || Location::at(CHECKPOINTS_FILE, offset);
    if cp.tree_size > tree.len() && mode == Mode::ReadOnly {
        // An offline reader of a shipped copy (sealed segments only, its
        // checkpoints ahead of them) or of a cut log: it searches what is
        // here and says what is not (`offline::query_dir`); judging that
        // is `audit verify`'s job.
        return Ok((before, Some(cp), file.valid_len));
    }
    if cp.tree_size > tree.len() {
        return Err(Corruption::new(
            at(),
            ProblemKind::CheckpointBeyondLog,
            format!(
                "checkpoint covers {} records, the log holds {}",
                cp.tree_size,
                tree.len()
            ),
        )
        .into());
    }
    if cp.root() != Some(tree.root(cp.tree_size)?) {
        return Err(Corruption::new(
            at(),
            ProblemKind::CheckpointMismatch,
            format!("root at size {} differs from the records", cp.tree_size),
        )
        .into());
    }
    if mode == Mode::Write {
        // The last run ended cleanly at this size and nothing ran since: a
        // record after it was written by something else. Adopting it would
        // have the next checkpoints sign it. (An offline reader may still
        // look; `audit verify` reports the same.)
        if let Some(mut c) = cp.records_after(tree.len()) {
            c.detail.push_str(
                ". Keep this directory as evidence and start the replica on a new audit directory",
            );
            return Err(c.into());
        }
        if let Some(why) = before.as_ref().and_then(|b| b.run_break(&cp)) {
            return Err(Corruption::new(at(), ProblemKind::AppendedAfterFinal, why).into());
        }
    }
    Ok((before, Some(cp), file.valid_len))
}

/// What [`load_checkpoints`] found: the checkpoint before the latest, the
/// latest, and the file's valid length.
type CheckpointsFound = (Option<SignedCheckpoint>, Option<SignedCheckpoint>, u64);

/// Reads the seal of segment `n`, if it exists: the seal and its hash.
pub(crate) fn read_seal(dir: &Path, n: u32) -> Result<Option<(Seal, Hash)>, Corruption> {
    let name = seal_file_name(n);
    let bytes = match fs::read(seal_path(dir, n)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Corruption::io(name, &e)),
    };
    let payload = crate::frame::decode(&bytes)
        .map_err(|p| Corruption::new(Location::at(name.clone(), 0), p.kind(), p.describe()))?;
    if payload.len() + crate::frame::HEADER_LEN != bytes.len() {
        return Err(Corruption::new(
            Location::at(name, 0),
            ProblemKind::BadPayload,
            "trailing bytes after the seal",
        ));
    }
    let seal: Seal = serde_json::from_slice(payload).map_err(|_| {
        Corruption::new(Location::at(name, 0), ProblemKind::BadPayload, "not a seal")
    })?;
    Ok(Some((seal, seal_hash(payload))))
}

/// Refuses a seal file numbered above `newest` (the newest segment, present
/// or deleted; 0 for none): the segment it sealed is gone without a deletion
/// record, and a new segment given that number would never match it.
pub(crate) fn check_no_orphan_seal(dir: &Path, newest: u32) -> Result<(), Corruption> {
    let entries = match fs::read_dir(dir.join(SEALS_DIR)) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Corruption::io(SEALS_DIR, &e)),
    };
    let mut orphan = None;
    for entry in entries {
        let entry = entry.map_err(|e| Corruption::io(SEALS_DIR, &e))?;
        if let Some(n) = entry.file_name().to_str().and_then(seal::number_of) {
            if n > newest && orphan.is_none_or(|o| n < o) {
                orphan = Some(n);
            }
        }
    }
    match orphan {
        Some(n) => Err(Corruption::new(
            Location::file(seal_file_name(n)),
            ProblemKind::MissingSegment,
            "seal of a segment that is gone, and no deletion record covers it",
        )),
        None => Ok(()),
    }
}

/// Checks a seal against what its segment holds.
pub(crate) fn check_seal(
    seal: &Seal,
    n: u32,
    first_seq: u64,
    last_seq: u64,
    sha: &Hash,
    len: u64,
    prev: Option<&str>,
) -> Result<(), Corruption> {
    let problem = if seal.segment != n {
        Some("seal names another segment".to_owned())
    } else if seal.first_seq != first_seq || seal.last_seq != last_seq {
        Some(format!(
            "seal covers seqs {}..={}, the segment holds {first_seq}..={last_seq}",
            seal.first_seq, seal.last_seq
        ))
    } else if seal.segment_sha256 != hex::encode(sha) || seal.segment_len != len {
        Some("segment file hash differs from the seal".to_owned())
    } else if seal.prev_seal_hash.as_deref() != prev {
        Some("seal does not chain to the previous seal".to_owned())
    } else {
        None
    };
    match problem {
        Some(detail) => Err(Corruption::new(
            Location::file(segment::file_name(n)).with_seq(last_seq),
            ProblemKind::SealMismatch,
            detail,
        )),
        None => Ok(()),
    }
}

/// Truncates `path` to `len` and makes it durable.
fn cut(path: &Path, len: u64) -> Result<(), AuditError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| AuditError::io("open", path, e))?;
    file.set_len(len)
        .map_err(|e| AuditError::io("truncate", path, e))?;
    file.sync_all()
        .map_err(|e| AuditError::io("fsync", path, e))
}

/// Parses a 32-byte hex hash.
pub(crate) fn parse_hash(text: &str) -> Option<Hash> {
    hex::decode(text).ok()?.try_into().ok()
}
