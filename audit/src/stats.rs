//! Writer metrics: lock-free counters updated by the writer, snapshot by
//! [`crate::AuditLog::stats`] (the gateway exports them to Prometheus).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// The origin of [`Counters::busy_since`] (monotonic; 0 means idle).
static ORIGIN: LazyLock<Instant> = LazyLock::new(Instant::now);

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
    /// How long the write (+ fsync) in progress has taken so far; `None`
    /// while the writer is not writing. A disk that hangs shows here, not
    /// in `failing`, which only a returned error sets.
    pub busy_for: Option<Duration>,
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
    /// Microseconds after [`ORIGIN`] (plus one) at which the write in
    /// progress began; 0 while none is.
    busy_since: AtomicU64,
}

impl Counters {
    /// Marks a write (+ fsync) as begun.
    pub(crate) fn begin_write(&self) {
        let micros = u64::try_from(ORIGIN.elapsed().as_micros()).unwrap_or(u64::MAX - 1);
        self.busy_since.store(micros.saturating_add(1), Relaxed);
    }

    /// Marks the write as over.
    pub(crate) fn end_write(&self) {
        self.busy_since.store(0, Relaxed);
    }

    fn busy_for(&self) -> Option<Duration> {
        match self.busy_since.load(Relaxed) {
            0 => None,
            since => {
                let now = u64::try_from(ORIGIN.elapsed().as_micros()).unwrap_or(u64::MAX);
                Some(Duration::from_micros(now.saturating_sub(since - 1)))
            }
        }
    }

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
            busy_for: self.busy_for(),
        }
    }
}
