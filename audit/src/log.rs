//! [`AuditLog`], the cheap-to-clone handle the gateway holds: append (durable
//! before it resolves), query, proofs, checkpoints, retention, shutdown.

use std::fs;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;

use crate::checkpoint::{CheckpointKind, SignedCheckpoint};
use crate::config::AuditConfig;
use crate::error::{Corruption, Location, ProblemKind};
use crate::index::{Page, Query, Step, SEARCH_STEP_BUDGET};
use crate::keys::AuditPublicKey;
use crate::merkle::Hash;
use crate::read::RecordReader;
use crate::record::{AuditRecord, NewRecord};
use crate::recover::{self, Mode, CHECKPOINTS_FILE};
use crate::retention::RetentionReport;
use crate::seal::SEALS_DIR;
use crate::state::Shared;
use crate::stats::{AuditStats, Counters};
use crate::writer::{Msg, Writer};
use crate::AuditError;

/// Queue slots beyond `queue_bound`, kept for control messages.
const CONTROL_SLACK: usize = 16;

/// What a successful append returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The record's seq (the `X-Audit-Seq` header).
    pub seq: u64,
    /// The time the log gave it.
    pub time: String,
}

/// Handle on a replica's audit log. Clones share one writer thread.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

struct Inner {
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
    queue_bound: usize,
    /// When [`AuditLog::checkpoint_covering`] last wrote a checkpoint; its
    /// lock makes concurrent callers share one.
    on_demand: tokio::sync::Mutex<Option<std::time::Instant>>,
}

impl AuditLog {
    /// Opens (or creates) the log in `cfg.dir`: recovers it (cutting a torn
    /// tail, refusing any other damage) and starts the writer thread.
    pub async fn open(cfg: AuditConfig) -> Result<Self, AuditError> {
        tokio::task::spawn_blocking(move || Self::open_blocking(cfg))
            .await
            .map_err(|_| AuditError::Closed)?
    }

    /// [`AuditLog::open`] for callers outside an async runtime.
    pub fn open_blocking(cfg: AuditConfig) -> Result<Self, AuditError> {
        cfg.validate()?;
        let dir = cfg.dir.clone();
        let seals = dir.join(SEALS_DIR);
        fs::create_dir_all(&seals).map_err(|e| AuditError::io("create", &seals, e))?;
        // One writer per directory, before recovery touches anything.
        let lock = lock_dir(&dir)?;
        let mut rec = recover::load(&dir, Mode::Write, Some(cfg.signer.public_key()))?;
        if let Some(found) = rec.replica.as_ref().filter(|r| **r != cfg.replica) {
            return Err(AuditError::Config(format!(
                "log directory belongs to replica {found}, not {}",
                cfg.replica
            )));
        }
        // The checkpoints that decided what this run may adopt must be
        // this log's own (see `SignedCheckpoint::check_at_open`).
        for cp in [&rec.previous_checkpoint, &rec.state.last_checkpoint]
            .into_iter()
            .flatten()
        {
            cp.check_at_open(cfg.signer.public_key())?;
        }
        // Every run checkpoints before its first record, so a log with
        // records and no checkpoint lost `checkpoints.log`: signing what
        // it holds now would launder any edit made meanwhile.
        let records = rec.state.tree.len();
        if rec.state.last_checkpoint.is_none() && records > 0 {
            return Err(Corruption::new(
                Location::file(CHECKPOINTS_FILE),
                ProblemKind::MissingCheckpoint,
                format!(
                    "the log holds {records} records but no checkpoint: {CHECKPOINTS_FILE} was \
                     deleted or emptied (a gateway checkpoints before its first record), so \
                     nothing proves the records unchanged. Keep this directory as evidence and \
                     start the replica on a new audit directory"
                ),
            )
            .into());
        }
        let state = std::mem::take(&mut rec.state);
        let shared = Arc::new(Shared {
            dir: dir.clone(),
            replica: cfg.replica.clone(),
            signer: cfg.signer.clone(),
            state: RwLock::new(state),
            counters: Counters::default(),
            closed: AtomicBool::new(false),
        });
        let queue_bound = cfg.queue_bound;
        let (tx, rx) = sync_channel(queue_bound + CONTROL_SLACK);
        let mut writer = Writer::start(cfg, Arc::clone(&shared), rx, rec, lock)?;
        // A run starts with a signed checkpoint of what it found, before
        // its first append: records added while no gateway ran then sit
        // between a final checkpoint and a start above it, which open and
        // `verify` refuse (see `checkpoint`). A log whose checkpoints
        // cannot be written is not opened.
        writer.write_checkpoint(CheckpointKind::Start)?;
        std::thread::Builder::new()
            .name("credgate-audit-writer".to_owned())
            .spawn(move || writer.run())
            .map_err(|e| AuditError::io("spawn writer thread", &dir, e))?;
        Ok(Self {
            inner: Arc::new(Inner {
                tx,
                shared,
                queue_bound,
                on_demand: tokio::sync::Mutex::new(None),
            }),
        })
    }

    /// Appends a record; resolves once it is written and fsynced (shared
    /// with concurrent appends). Fails at once with
    /// [`AuditError::Saturated`] when `queue_bound` appends are waiting;
    /// with [`AuditError::Io`] if the batch could not be made durable (the
    /// record is then not in the log).
    pub async fn append(&self, rec: NewRecord) -> Result<Appended, AuditError> {
        let answer = self.enqueue(rec)?;
        answer.await.map_err(|_| AuditError::Closed)?
    }

    /// Queues a record without waiting for it to be durable: for a request
    /// whose client went away before it was answered (nothing is released,
    /// so nothing waits on the record, but the record must still be
    /// written). Fails at once as [`AuditLog::append`] does when the queue is
    /// full or the log closed; a later write failure is the writer's (it
    /// logs and counts it) and reaches no caller.
    pub fn append_detached(&self, rec: NewRecord) -> Result<(), AuditError> {
        self.enqueue(rec).map(drop)
    }

    /// The synchronous half of an append: bounds the queue and hands the
    /// record to the writer thread.
    fn enqueue(
        &self,
        rec: NewRecord,
    ) -> Result<oneshot::Receiver<Result<Appended, AuditError>>, AuditError> {
        let inner = &self.inner;
        if inner.shared.closed.load(Relaxed) {
            return Err(AuditError::Closed);
        }
        let depth = &inner.shared.counters.depth;
        if depth.fetch_add(1, Relaxed) >= inner.queue_bound {
            depth.fetch_sub(1, Relaxed);
            return Err(AuditError::Saturated {
                bound: inner.queue_bound,
            });
        }
        let (reply, answer) = oneshot::channel();
        match inner.tx.try_send(Msg::Append(Box::new(rec), reply)) {
            Ok(()) => Ok(answer),
            Err(TrySendError::Full(_)) => {
                depth.fetch_sub(1, Relaxed);
                Err(AuditError::Saturated {
                    bound: inner.queue_bound,
                })
            }
            Err(TrySendError::Disconnected(_)) => {
                depth.fetch_sub(1, Relaxed);
                Err(AuditError::Closed)
            }
        }
    }

    /// The writer's metrics.
    pub fn stats(&self) -> AuditStats {
        self.inner.shared.counters.snapshot()
    }

    /// Bytes of memory the in-memory index holds for the records still in the
    /// log (allocated; ≈ 40 per record): what `retention` bounds.
    pub fn index_bytes(&self) -> u64 {
        u64::try_from(self.inner.shared.read().index.entry_bytes()).unwrap_or(u64::MAX)
    }

    /// Number of records in the log (the current tree size).
    pub fn tree_size(&self) -> u64 {
        self.inner.shared.read().tree.len()
    }

    /// Merkle root of the first `size` records.
    pub fn root(&self, size: u64) -> Result<Hash, AuditError> {
        Ok(self.inner.shared.read().tree.root(size)?)
    }

    /// Leaf hash of record `seq` (SHA-256(0x00 ‖ payload)).
    pub fn leaf_hash(&self, seq: u64) -> Result<Hash, AuditError> {
        let index = seq
            .checked_sub(1)
            .ok_or_else(|| AuditError::Proof("seqs start at 1".to_owned()))?;
        Ok(self.inner.shared.read().tree.leaf(index)?)
    }

    /// Inclusion proof of record `seq` (leaf index `seq - 1`) in the tree
    /// of `tree_size` records (RFC 9162 §2.1.3.1).
    pub fn inclusion_proof(&self, seq: u64, tree_size: u64) -> Result<Vec<Hash>, AuditError> {
        let index = seq
            .checked_sub(1)
            .ok_or_else(|| AuditError::Proof("seqs start at 1".to_owned()))?;
        self.inner
            .shared
            .read()
            .tree
            .inclusion_proof(index, tree_size)
            .map_err(AuditError::from)
    }

    /// Consistency proof between tree sizes `m` and `n`, `0 < m <= n <=`
    /// the log size (RFC 9162 §2.1.4.1).
    pub fn consistency_proof(&self, m: u64, n: u64) -> Result<Vec<Hash>, AuditError> {
        self.inner
            .shared
            .read()
            .tree
            .consistency_proof(m, n)
            .map_err(AuditError::from)
    }

    /// The latest checkpoint written (or found at open).
    pub fn latest_checkpoint(&self) -> Option<SignedCheckpoint> {
        self.inner.shared.read().last_checkpoint.clone()
    }

    /// Writes a checkpoint of the current tree now.
    pub async fn checkpoint_now(&self) -> Result<SignedCheckpoint, AuditError> {
        self.control(Msg::Checkpoint).await?
    }

    /// A signed checkpoint covering at least `size` records: the latest if
    /// it does, else a new one — but at most one such on-demand checkpoint
    /// per `min_interval`: a caller within it waits for the interval's end
    /// (then the periodic checkpoint or another caller's may already
    /// cover it). Concurrent callers share one checkpoint. Without the
    /// bound, a reader that asks again right after each new record (a
    /// subject's access log, which records its own read) would sign and
    /// fsync a checkpoint per request and grow `checkpoints.log` with them.
    pub async fn checkpoint_covering(
        &self,
        size: u64,
        min_interval: std::time::Duration,
    ) -> Result<SignedCheckpoint, AuditError> {
        if let Some(cp) = self.latest_checkpoint().filter(|cp| cp.tree_size >= size) {
            return Ok(cp);
        }
        let mut last = self.inner.on_demand.lock().await;
        if let Some(at) = *last {
            tokio::time::sleep_until((at + min_interval).into()).await;
        }
        if let Some(cp) = self.latest_checkpoint().filter(|cp| cp.tree_size >= size) {
            return Ok(cp);
        }
        let cp = self.checkpoint_now().await?;
        *last = Some(std::time::Instant::now());
        Ok(cp)
    }

    /// Applies retention as of `now` (see `README.md`): deletes sealed
    /// segments older than the configured retention, each with a signed
    /// deletion record. Without configured retention, deletes nothing.
    pub async fn apply_retention(&self, now: SystemTime) -> Result<RetentionReport, AuditError> {
        let ms = now
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        self.control(|reply| Msg::Retention(ms, reply)).await?
    }

    /// Finishes the appends already queued, writes a final checkpoint and
    /// stops the writer; later appends fail with [`AuditError::Closed`].
    pub async fn shutdown(&self) -> Result<Option<SignedCheckpoint>, AuditError> {
        self.inner.shared.closed.store(true, Relaxed);
        self.control(Msg::Shutdown).await?
    }

    /// Records matching `q`, newest first (see [`Query`]). Reads up to
    /// `limit` record bodies from disk: call from a blocking context, or use
    /// [`AuditLog::query`].
    pub fn query_blocking(&self, q: &Query) -> Result<Page, AuditError> {
        // In steps, releasing the lock between them: the writer takes it
        // after every batch, and a subject search over a long log (an HMAC
        // per batch record) would otherwise hold every answer up.
        let mut resume = None;
        let (hits, next_cursor) = loop {
            let step =
                self.inner
                    .shared
                    .read()
                    .index
                    .search_step(q, resume.take(), SEARCH_STEP_BUDGET)?;
            match step {
                Step::Done(hits, next) => break (hits, next),
                Step::Paused(r) => resume = Some(r),
            }
        };
        let mut reader = RecordReader::new(&self.inner.shared.dir);
        let mut records = Vec::with_capacity(hits.len());
        for pos in hits {
            if let Some(rec) = reader.read(pos)? {
                if q.matches(&rec) {
                    records.push(rec);
                }
            }
        }
        Ok(Page {
            records,
            next_cursor,
        })
    }

    /// [`AuditLog::query_blocking`] on the blocking thread pool.
    pub async fn query(&self, q: Query) -> Result<Page, AuditError> {
        let log = self.clone();
        tokio::task::spawn_blocking(move || log.query_blocking(&q))
            .await
            .map_err(|_| AuditError::Closed)?
    }

    /// The record with this seq, if it is in the log and not deleted by
    /// retention (one read from disk).
    pub fn record(&self, seq: u64) -> Result<Option<AuditRecord>, AuditError> {
        let pos = self.inner.shared.read().index.position(seq);
        match pos {
            Some(pos) => RecordReader::new(&self.inner.shared.dir).read(pos),
            None => Ok(None),
        }
    }

    /// The public key verifying this log's signatures.
    pub fn public_key(&self) -> AuditPublicKey {
        self.inner.shared.signer.public_key().clone()
    }

    /// The replica id.
    pub fn replica(&self) -> &str {
        &self.inner.shared.replica
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.inner.shared.dir
    }

    /// Sends a control message and waits for its answer.
    async fn control<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Msg,
    ) -> Result<T, AuditError> {
        let (reply, answer) = oneshot::channel();
        match self.inner.tx.try_send(make(reply)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(AuditError::Saturated {
                    bound: self.inner.queue_bound,
                })
            }
            Err(TrySendError::Disconnected(_)) => return Err(AuditError::Closed),
        }
        answer.await.map_err(|_| AuditError::Closed)
    }
}

/// Name of the writer lock file in a log directory.
pub const LOCK_FILE: &str = "writer.lock";

/// Takes the directory's exclusive writer lock (`flock` on
/// [`LOCK_FILE`]): a second gateway pointed at the same directory by
/// mistake fails to start instead of interleaving records. The kernel
/// releases the lock when the process dies, so a crash leaves no stale lock.
fn lock_dir(dir: &Path) -> Result<fs::File, AuditError> {
    let path = dir.join(LOCK_FILE);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| AuditError::io("open", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(AuditError::InUse(dir.display().to_string())),
        Err(fs::TryLockError::Error(e)) => Err(AuditError::io("lock", &path, e)),
    }
}
