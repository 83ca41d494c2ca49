//! Writer metrics: lock-free counters updated by the writer, snapshot by
//! [`crate::AuditLog::stats`] (the gateway exports them to Prometheus).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

/// A snapshot of the writer's metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditStats {
    /// Records acknowledged since the log was opened.
    pub records: u64,
    /// Records in the log (the Merkle tree size, deleted ones included).
    pub tree_size: u64,
    /// Successful batches (one write + one fsync each) since open.
    pub batches: u64,
    /// Size of the last batch (successful or not).
    pub last_batch_size: u64,
    /// Records per successful batch since open.
    pub mean_batch_size: f64,
    /// Duration of the last batch's write + fsync, in microseconds.
    pub last_write_micros: u64,
    /// Batches that failed (every append in them got [`crate::AuditError::Io`]).
    pub failed_batches: u64,
    /// Appends waiting in the queue.
    pub queue_depth: u64,
    /// Checkpoints written since open.
    pub checkpoints: u64,
    /// Checkpoint writes that failed since open.
    pub checkpoint_failures: u64,
    /// Whether the last batch failed (the writer retries on the next append).
    pub failing: bool,
}

/// The writer's live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub records: AtomicU64,
    pub tree_size: AtomicU64,
    pub batches: AtomicU64,
    pub last_batch_size: AtomicU64,
    pub last_write_micros: AtomicU64,
    pub failed_batches: AtomicU64,
    pub checkpoints: AtomicU64,
    pub checkpoint_failures: AtomicU64,
    pub failing: AtomicBool,
    /// Appends accepted into the queue and not yet taken by the writer.
    pub depth: AtomicUsize,
}

impl Counters {
    /// A consistent-enough snapshot (each counter read once).
    pub(crate) fn snapshot(&self) -> AuditStats {
        let records = self.records.load(Relaxed);
        let batches = self.batches.load(Relaxed);
        AuditStats {
            records,
            tree_size: self.tree_size.load(Relaxed),
            batches,
            last_batch_size: self.last_batch_size.load(Relaxed),
            mean_batch_size: if batches == 0 {
                0.0
            } else {
                records as f64 / batches as f64
            },
            last_write_micros: self.last_write_micros.load(Relaxed),
            failed_batches: self.failed_batches.load(Relaxed),
            queue_depth: self.depth.load(Relaxed) as u64,
            checkpoints: self.checkpoints.load(Relaxed),
            checkpoint_failures: self.checkpoint_failures.load(Relaxed),
            failing: self.failing.load(Relaxed),
        }
    }
}
