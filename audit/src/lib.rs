//! credgate's audit log (SPEC §8): every request that reaches policy
//! evaluation yields exactly one [`AuditRecord`], written durably before the
//! response is sent, into a log that is tamper-evident and survives crashes.
//!
//! What this crate owns:
//! - the **writer** ([`AuditLog`]): one dedicated thread, a bounded queue
//!   (full → [`AuditError::Saturated`] at once), group commit (one write and
//!   one `fsync` per batch of concurrent appends); [`AuditLog::append`]
//!   resolves only once the record is on stable storage;
//! - the **on-disk format**: numbered segment files of length- and
//!   CRC-framed canonical JSON records, each starting with a header, sealed
//!   (signed, hash-chained) when rotated; `checkpoints.log` with signed tree
//!   heads; `deletions.log` with signed retention records (see `README.md`);
//! - the **Merkle tree** over all records (RFC 9162 §2.1 hashing) with
//!   inclusion and consistency proofs, and their verifiers;
//! - **recovery** at open: torn tails of the active segment are cut, any
//!   other damage refuses to open, naming file and offset;
//! - the in-memory **index** and [`AuditLog::query`] for auditors;
//! - **offline tools** for the CLI: [`verify`], [`query_dir`],
//!   [`latest_checkpoint_dir`].
//!
//! Sequence numbers start at 1; the record with seq `s` is Merkle leaf
//! `s - 1`, and a tree of size `n` holds seqs `1..=n`.
//!
//! Privacy (SPEC §10): the log stores the gateway's HMAC [`pseudonym`] of a
//! subject, never the raw identifier; errors and log lines name files,
//! offsets and seqs, never record contents.

mod checkpoint;
mod config;
mod deletion;
mod error;
mod frame;
mod fsutil;
mod index;
mod keys;
mod log;
mod merkle;
mod offline;
mod proof;
mod read;
mod record;
mod recover;
mod retention;
mod seal;
mod segment;
mod state;
mod stats;
mod throttle;
mod verify;
mod writer;

pub use checkpoint::{CheckpointKind, SignedCheckpoint};
pub use config::{
    validate_replica, AuditConfig, BatchObserver, BatchReport, MAX_SEGMENT_BYTES, MIN_SEGMENT_BYTES,
};
pub use error::{AuditError, Corruption, Location, ProblemKind, VerifyFailure};
pub use index::{Page, Query, MAX_QUERY_LIMIT};
pub use keys::{generate_signing_key_pem, AuditPublicKey, AuditSigner};
pub use log::{Appended, AuditLog, LOCK_FILE};
pub use merkle::{leaf_hash, node_hash, Hash, EMPTY_ROOT};
pub use offline::{latest_checkpoint_dir, query_dir, DirPage};
pub use proof::{verify_consistency, verify_inclusion};
pub use record::{
    batch_tag, hex_lower, pseudonym, AuditRecord, Decision, NewRecord, Pseudonymizer,
    UpstreamOutcome,
};
pub use retention::RetentionReport;
pub use stats::AuditStats;
pub use throttle::Throttle;
pub use verify::{verify, verify_anchored, verify_shipped, VerifyReport};
