//! [`AuditConfig`]: where the log lives, who signs it, and how the writer
//! batches, rotates, checkpoints and retains.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use crate::keys::AuditSigner;
use crate::AuditError;

/// The largest `segment_max_bytes`: a segment's deletion record holds 44
/// bytes of leaf hash per record, and must stay within a frame's 64 MiB
/// limit (records are at least a few hundred bytes, so 256 MiB of them
/// stay well below it).
pub const MAX_SEGMENT_BYTES: u64 = 256 << 20;

/// The smallest `segment_max_bytes`.
pub const MIN_SEGMENT_BYTES: u64 = 1024;

/// Called by the writer after every batch (e.g. to observe the
/// `credgate_audit_write_seconds` and `credgate_audit_batch_size`
/// histograms). Runs on the writer thread: keep it short.
pub type BatchObserver = Arc<dyn Fn(&BatchReport) + Send + Sync>;

/// What [`BatchObserver`] is told about one batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchReport {
    /// Records in the batch.
    pub records: usize,
    /// Time spent writing and fsyncing it (including rotation, if any).
    pub write: Duration,
    /// Whether it succeeded.
    pub ok: bool,
}

/// Configuration of an [`crate::AuditLog`].
#[derive(Clone)]
pub struct AuditConfig {
    /// Directory of this replica's log (created if missing).
    pub dir: PathBuf,
    /// Replica id written into every record, header, seal and checkpoint:
    /// 1–64 characters from `A-Z a-z 0-9 . _ -`.
    pub replica: String,
    /// Ed25519 key signing checkpoints, seals and deletion records.
    pub signer: AuditSigner,
    /// Appends that may wait for the writer; beyond, `append` fails with
    /// [`AuditError::Saturated`] at once. Default 10 000.
    pub queue_bound: usize,
    /// Most records written by one write + fsync. Default 512.
    pub max_batch: usize,
    /// Longest the writer waits for more records when concurrent appends
    /// are expected (a lone append is never delayed). Default 0: natural
    /// group commit, each write takes whatever queued up while the previous
    /// write + fsync ran (the lowest latency; batches still grow with load).
    pub max_delay: Duration,
    /// Bytes of zeros written ahead of the data in the active segment, so
    /// that most appends overwrite blocks that already exist and their
    /// `fdatasync` writes no inode metadata (0: the file grows with every
    /// append). Cut when the segment is sealed and at shutdown. Default 256 KiB.
    pub preallocate_bytes: u64,
    /// Size at which the active segment is sealed and a new one started.
    /// Default 64 MiB, at most [`MAX_SEGMENT_BYTES`].
    pub segment_max_bytes: u64,
    /// A checkpoint is written after this many new records. Default 1000.
    pub checkpoint_every_records: u64,
    /// A checkpoint is written at least this often while records arrive. Default 60 s.
    pub checkpoint_every: Duration,
    /// Sealed segments whose last record is older than this are deleted
    /// (with a signed deletion record) by the writer, one at a time between
    /// batches, and by [`crate::AuditLog::apply_retention`]. Default: keep
    /// forever.
    pub retention: Option<Duration>,
    /// Per-batch metrics callback.
    pub on_batch: Option<BatchObserver>,
    /// **Tests only.** While `true`, every batch write fails after its bytes
    /// are written and before fsync, as a failing disk would: the appends
    /// get [`AuditError::Io`] and the segment is rewound.
    pub danger_fail_writes_for_tests: Arc<AtomicBool>,
    /// **Tests only.** While `true` (and for at most 60 s), the writer
    /// holds its next batch before writing it, as a hung disk would.
    pub danger_stall_writes_for_tests: Arc<AtomicBool>,
}

impl AuditConfig {
    /// A configuration with the defaults above.
    pub fn new(dir: impl Into<PathBuf>, replica: impl Into<String>, signer: AuditSigner) -> Self {
        Self {
            dir: dir.into(),
            replica: replica.into(),
            signer,
            queue_bound: 10_000,
            max_batch: 512,
            max_delay: Duration::ZERO,
            preallocate_bytes: 256 << 10,
            segment_max_bytes: 64 << 20,
            checkpoint_every_records: 1000,
            checkpoint_every: Duration::from_secs(60),
            retention: None,
            on_batch: None,
            danger_fail_writes_for_tests: Arc::new(AtomicBool::new(false)),
            danger_stall_writes_for_tests: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<(), AuditError> {
        validate_replica(&self.replica)?;
        let bad = |what: &str| Err(AuditError::Config(what.to_owned()));
        if self.queue_bound == 0 {
            return bad("queue_bound must be at least 1");
        }
        if self.max_batch == 0 {
            return bad("max_batch must be at least 1");
        }
        if !(MIN_SEGMENT_BYTES..=MAX_SEGMENT_BYTES).contains(&self.segment_max_bytes) {
            return bad("segment_max_bytes must be within 1024 B..=256 MiB");
        }
        if self.checkpoint_every_records == 0 {
            return bad("checkpoint_every_records must be at least 1");
        }
        if self.checkpoint_every.is_zero() {
            return bad("checkpoint_every must be positive");
        }
        if self.retention.is_some_and(|r| r.is_zero()) {
            return bad("retention must be positive");
        }
        Ok(())
    }
}

/// Checks a replica id: 1–64 characters from `A-Z a-z 0-9 . _ -` (it names
/// files and appears in every record and checkpoint).
pub fn validate_replica(replica: &str) -> Result<(), AuditError> {
    let ok = !replica.is_empty()
        && replica.len() <= 64
        && replica
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(AuditError::Config(
            "replica must be 1-64 characters from A-Z a-z 0-9 . _ -".to_owned(),
        ))
    }
}

impl fmt::Debug for AuditConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditConfig")
            .field("dir", &self.dir)
            .field("replica", &self.replica)
            .field("signer", &self.signer)
            .field("queue_bound", &self.queue_bound)
            .field("max_batch", &self.max_batch)
            .field("max_delay", &self.max_delay)
            .field("preallocate_bytes", &self.preallocate_bytes)
            .field("segment_max_bytes", &self.segment_max_bytes)
            .field("checkpoint_every_records", &self.checkpoint_every_records)
            .field("checkpoint_every", &self.checkpoint_every)
            .field("retention", &self.retention)
            .field("on_batch", &self.on_batch.is_some())
            .finish_non_exhaustive()
    }
}
