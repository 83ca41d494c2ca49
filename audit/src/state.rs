//! State shared between the writer thread and readers: the Merkle tree,
//! the index, the list of live segments and the latest checkpoint, behind
//! one `RwLock` (the writer holds it only to publish a finished batch).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::checkpoint::SignedCheckpoint;
use crate::index::Index;
use crate::keys::AuditSigner;
use crate::merkle::{Hash, MerkleTree};
use crate::stats::Counters;

/// The durable content of the log, as far as readers may see it.
#[derive(Debug, Default)]
pub(crate) struct LogState {
    /// Leaf hashes of every record ever written (deleted ones included).
    pub tree: MerkleTree,
    /// Index of the live records.
    pub index: Index,
    /// Live segment files, ascending; the last one is the active segment.
    pub segments: Vec<SegmentInfo>,
    /// The latest checkpoint written.
    pub last_checkpoint: Option<SignedCheckpoint>,
}

/// A live segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentInfo {
    /// Its number.
    pub number: u32,
    /// Seq of its first record (or of the next record, if empty).
    pub first_seq: u64,
    /// Seq of its last record (`first_seq - 1` if empty).
    pub last_seq: u64,
    /// Its seal, once sealed.
    pub seal: Option<SealInfo>,
}

/// What retention needs to know about a seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SealInfo {
    /// The seal hash (SHA-256 of the seal payload).
    pub hash: Hash,
    /// Time of the segment's last record (unix ms).
    pub last_time_ms: i64,
}

/// Everything the handle and the writer share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub dir: PathBuf,
    pub replica: String,
    pub signer: AuditSigner,
    pub state: RwLock<LogState>,
    pub counters: Counters,
    pub closed: AtomicBool,
}

impl Shared {
    /// Read access to the state (a poisoned lock still holds consistent
    /// data: the writer publishes with plain pushes).
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, LogState> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Write access to the state.
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, LogState> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}
