//! Typed errors: [`AuditError`] for the live log and [`Corruption`] (alias
//! [`VerifyFailure`]) naming where a log on disk is damaged.
//!
//! Messages name files, offsets, seqs and hashes only, never record contents.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why an audit operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    /// The append queue is full; the record was not accepted (SPEC: `503
    /// audit_unavailable`). Never waits.
    #[error("audit queue is full ({bound} records waiting)")]
    Saturated {
        /// The configured queue bound.
        bound: usize,
    },
    /// The log was shut down (or its writer thread is gone).
    #[error("audit log is closed")]
    Closed,
    /// The record was not acknowledged within the caller's write timeout
    /// (a stalled disk, say). It may still be written later; the caller
    /// must treat it as not written and release nothing.
    #[error("audit write not acknowledged within {millis} ms")]
    TimedOut {
        /// The timeout.
        millis: u64,
    },
    /// A file-system operation failed; for an append, the record is not in
    /// the log.
    #[error("audit I/O error: {op} {path}: {source}", path = .path.display())]
    Io {
        /// What was being done (`"write"`, `"fsync"`, `"create"`, …).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error (shared: one failure answers a whole batch).
        #[source]
        source: Arc<io::Error>,
    },
    /// The log on disk is damaged somewhere other than a torn tail; the
    /// operator must run `credgate audit verify`.
    #[error("audit log is corrupt: {0}")]
    Corrupt(#[from] Corruption),
    /// The configuration is invalid.
    #[error("invalid audit configuration: {0}")]
    Config(String),
    /// Another process holds the log directory for writing (two writers
    /// on one log would overwrite each other's records).
    #[error("audit log {0} is already open for writing by another process")]
    InUse(String),
    /// The signing or verification key could not be used.
    #[error("audit key: {0}")]
    Key(String),
    /// The record serializes to more than a frame may hold (64 MiB); it
    /// was not written.
    #[error("audit record too large ({bytes} bytes)")]
    RecordTooLarge {
        /// Its serialized size.
        bytes: usize,
    },
    /// A query was malformed (bad time bound, …).
    #[error("invalid audit query: {0}")]
    Query(String),
    /// A proof was requested for sizes or seqs outside the log.
    #[error("invalid proof request: {0}")]
    Proof(String),
}

impl AuditError {
    /// Wraps an I/O error with the operation and path it concerns.
    pub(crate) fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        Self::Io {
            op,
            path: path.to_path_buf(),
            source: Arc::new(source),
        }
    }
}

impl From<crate::merkle::TreeError> for AuditError {
    fn from(e: crate::merkle::TreeError) -> Self {
        use crate::merkle::TreeError;
        match e {
            TreeError::Range(msg) => Self::Proof(msg),
            TreeError::Leaves(e) => {
                let path = e.path().to_path_buf();
                Self::io("read leaf cache", &path, io::Error::other(e))
            }
        }
    }
}

/// Where in a log directory something is: a file name (relative to the log
/// directory), and when known a byte offset and a record seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// File name relative to the log directory, e.g. `segment-000002.log`.
    pub file: String,
    /// Byte offset of the frame concerned, when there is one.
    pub offset: Option<u64>,
    /// Seq of the record concerned (or expected there), when known.
    pub seq: Option<u64>,
}

impl Location {
    /// A location naming a whole file.
    pub(crate) fn file(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            offset: None,
            seq: None,
        }
    }

    /// A location at a byte offset of a file.
    pub(crate) fn at(file: impl Into<String>, offset: u64) -> Self {
        Self {
            file: file.into(),
            offset: Some(offset),
            seq: None,
        }
    }

    /// The same location, naming a seq.
    pub(crate) fn with_seq(mut self, seq: u64) -> Self {
        self.seq = Some(seq);
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(offset) = self.offset {
            write!(f, " at offset {offset}")?;
        }
        if let Some(seq) = self.seq {
            write!(f, " (seq {seq})")?;
        }
        Ok(())
    }
}

/// The kind of damage found in a log directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// A frame is cut short (its header or payload runs past the end of the file).
    TruncatedFrame,
    /// A frame's length field is zero or larger than any frame may be.
    BadLength,
    /// A frame's CRC does not match its payload.
    CrcMismatch,
    /// A frame's payload is not the record, header, seal or checkpoint expected there.
    BadPayload,
    /// A segment header is missing or disagrees with its file name, replica or position.
    BadHeader,
    /// A record's seq is not the next one (deleted, inserted or reordered record).
    SeqMismatch,
    /// A record, checkpoint or seal names another replica.
    ReplicaMismatch,
    /// A segment file is missing and no deletion record covers it.
    MissingSegment,
    /// A sealed segment has no seal file.
    MissingSeal,
    /// A seal disagrees with its segment (range, file hash, tree root or hash chain).
    SealMismatch,
    /// A signature (checkpoint, seal or deletion record) does not verify.
    BadSignature,
    /// A checkpoint's root hash differs from the root recomputed from the records.
    CheckpointMismatch,
    /// A checkpoint covers more records than the log holds (truncated log).
    CheckpointBeyondLog,
    /// Two checkpoints are not consistent (shrinking size or failed consistency proof).
    Inconsistent,
    /// Records follow a run's final checkpoint without a start checkpoint
    /// at its size: they were written while no gateway ran.
    AppendedAfterFinal,
    /// A checkpoint held outside the log is not in `checkpoints.log`.
    MissingCheckpoint,
    /// A deletion record is malformed or disagrees with the seal or records it covers.
    BadDeletion,
    /// The verification key given could not be used.
    BadKey,
    /// A file could not be read.
    Io,
    /// The directory holds no audit log at all.
    NoLog,
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::TruncatedFrame => "truncated frame",
            Self::BadLength => "bad frame length",
            Self::CrcMismatch => "CRC mismatch",
            Self::BadPayload => "unreadable payload",
            Self::BadHeader => "bad segment header",
            Self::SeqMismatch => "sequence mismatch",
            Self::ReplicaMismatch => "replica mismatch",
            Self::MissingSegment => "missing segment",
            Self::MissingSeal => "missing seal",
            Self::SealMismatch => "seal mismatch",
            Self::BadSignature => "bad signature",
            Self::CheckpointMismatch => "checkpoint root mismatch",
            Self::CheckpointBeyondLog => "checkpoint beyond end of log",
            Self::Inconsistent => "inconsistent checkpoints",
            Self::AppendedAfterFinal => "records appended after a final checkpoint",
            Self::MissingCheckpoint => "checkpoint missing from the log",
            Self::BadDeletion => "bad deletion record",
            Self::BadKey => "unusable verification key",
            Self::Io => "I/O error",
            Self::NoLog => "no audit log",
        };
        f.write_str(text)
    }
}

/// Damage found in a log directory: where, what kind, and a detail message
/// (seqs, sizes, hashes; never record contents).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} in {location}: {detail}")]
pub struct Corruption {
    /// Where the (first) problem is.
    pub location: Location,
    /// What kind of problem it is.
    pub kind: ProblemKind,
    /// Human-readable detail.
    pub detail: String,
}

impl Corruption {
    /// Builds a corruption report.
    pub(crate) fn new(location: Location, kind: ProblemKind, detail: impl Into<String>) -> Self {
        Self {
            location,
            kind,
            detail: detail.into(),
        }
    }

    /// A read error on a file, as a corruption report (used by `verify`).
    pub(crate) fn io(file: impl Into<String>, err: &io::Error) -> Self {
        Self::new(Location::file(file), ProblemKind::Io, err.to_string())
    }
}

/// What [`crate::verify`] returns when the log fails verification: the
/// first problem found.
pub type VerifyFailure = Corruption;
