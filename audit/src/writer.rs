//! The writer thread: takes appends from the bounded queue, groups them
//! (group commit: one write and one `fsync` per batch), publishes the new
//! leaves and index entries, answers every waiter, and writes checkpoints.
//!
//! Batching policy (natural group commit): the writer takes every append
//! already queued (up to `max_batch`) and writes it at once; while that
//! write + fsync runs, new appends queue up and make the next batch. Batches
//! grow with load and nothing waits for a timer. With a non-zero
//! `max_delay`, if fewer arrived than in the previous batch — a sign that
//! concurrent appenders are still on their way — it waits at most
//! `max_delay` for the rest (fewer fsyncs, more latency). A lone append
//! (previous batch of one) is never delayed: its latency is one write + one
//! fsync. A batch whose frames exceed [`MAX_BATCH_BYTES`] is written in
//! several writes (recovery relies on that bound).
//!
//! Failure policy: if the write or fsync fails, every append of the batch
//! gets [`AuditError::Io`], the segment is cut back to its last durable
//! length, no seq is consumed, and the next batch retries (after restoring
//! the file if it was deleted). Readers never see a record that is not
//! durable.

mod active;

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::checkpoint::{CheckpointKind, SignedCheckpoint};
use crate::config::{AuditConfig, BatchReport};
use crate::frame::{self, MAX_PAYLOAD};
use crate::fsutil::TrackedFile;
use crate::index::{batch_input, IndexInput};
use crate::log::Appended;
use crate::merkle::{leaf_hash, Hash};
use crate::record::{format_ms, now_ms, parse_log_time_ms, AuditRecord, NewRecord};
use crate::retention::{self, RetentionReport};
use crate::segment::MAX_BATCH_BYTES;
use crate::state::Shared;
use crate::throttle::Throttle;
use crate::AuditError;

use self::active::{Active, PendingSeal};

/// Reply channel of one append.
pub(crate) type AppendReply = oneshot::Sender<Result<Appended, AuditError>>;

/// A message to the writer.
pub(crate) enum Msg {
    /// Append a record.
    Append(Box<NewRecord>, AppendReply),
    /// Write a checkpoint now.
    Checkpoint(oneshot::Sender<Result<SignedCheckpoint, AuditError>>),
    /// Apply retention as of this time (unix ms).
    Retention(i64, oneshot::Sender<Result<RetentionReport, AuditError>>),
    /// Finish queued appends, write a final checkpoint, stop.
    Shutdown(oneshot::Sender<Result<Option<SignedCheckpoint>, AuditError>>),
}

/// The writer's state (owned by its thread).
pub(crate) struct Writer {
    shared: Arc<Shared>,
    cfg: AuditConfig,
    rx: Receiver<Msg>,
    active: Active,
    pending_seal: Option<PendingSeal>,
    next_seq: u64,
    last_time_ms: i64,
    last_seal_hash: Option<Hash>,
    checkpoints: TrackedFile,
    deletions: TrackedFile,
    since_checkpoint: u64,
    last_checkpoint_at: Instant,
    last_batch_size: usize,
    pending: Option<Msg>,
    /// The directory's writer lock: held while this thread writes, released
    /// before a shutdown is acknowledged (and when the thread ends).
    lock: Option<std::fs::File>,
    /// No checkpoint attempt before this (after a failed one).
    checkpoint_retry_at: Option<Instant>,
    /// One warning per window for failing batches / checkpoints.
    batch_failures: Throttle,
    checkpoint_failures: Throttle,
    /// One warning per window while the leaf cache cannot be written.
    spill_failures: Throttle,
    /// The monotonic and the wall clock when the writer started: automatic
    /// retention pauses while they disagree (the wall clock was stepped).
    clock_origin: (Instant, i64),
    /// Sealed segments may be past retention: one is deleted after each
    /// batch's answers (and when idle) until none is.
    retention_due: bool,
    /// When retention last found nothing to delete: segments age past it
    /// between rotations too, so it looks again after
    /// [`RETENTION_RECHECK`].
    retention_checked_at: Instant,
}

/// How often retention looks for aged segments between rotations.
const RETENTION_RECHECK: Duration = Duration::from_secs(3600);

/// How long after a failed checkpoint the next attempt waits.
const CHECKPOINT_RETRY: Duration = Duration::from_secs(1);

/// Window of the failure warnings: one line each per window, with the
/// count of the ones suppressed.
const FAILURE_LOG_WINDOW: Duration = Duration::from_secs(10);

/// How far the wall clock may fall behind the last record's time before
/// record times follow it back (see [`stamp`]).
const CLOCK_STEP_BACK_TOLERANCE_MS: i64 = 2_000;

/// How far the wall clock may drift from the monotonic clock since the
/// writer started before automatic retention pauses.
const RETENTION_CLOCK_DRIFT_MS: i64 = 5 * 60 * 1000;

/// The drift of the wall clock from the monotonic one (both as elapsed
/// milliseconds since the writer started), when it is large enough to
/// pause automatic retention.
fn clock_stepped(wall_elapsed: i64, mono_elapsed: i64) -> Option<i64> {
    let drift = wall_elapsed.saturating_sub(mono_elapsed);
    (drift.saturating_abs() > RETENTION_CLOCK_DRIFT_MS).then_some(drift)
}

/// The time to stamp on what is written at wall time `now` after a record
/// stamped `last`: the wall clock, held at `last` through a small step
/// back (NTP jitter), so that times are non-decreasing along seqs — but
/// not through a step back of more than [`CLOCK_STEP_BACK_TOLERANCE_MS`].
/// Holding then would freeze every later time at a moment that may lie
/// years ahead (a host booted with a wrong clock that NTP corrected),
/// which makes time queries and access logs meaningless; times follow the
/// clock back instead (logged), and the index's time queries then scan.
pub(crate) fn stamp(now: i64, last: i64) -> i64 {
    if now >= last || last - now > CLOCK_STEP_BACK_TOLERANCE_MS {
        now
    } else {
        last
    }
}

impl Writer {
    /// Runs until shutdown or until every handle is dropped.
    pub(crate) fn run(mut self) {
        // A service loop: it ends when the channel closes or on Shutdown.
        loop {
            let msg = match self.pending.take() {
                Some(m) => m,
                None => match self.rx.recv_timeout(self.idle_timeout()) {
                    Ok(m) => m,
                    Err(RecvTimeoutError::Timeout) => {
                        self.maybe_checkpoint();
                        self.retention_step();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        // Every handle is gone: the run ends here, as at
                        // a shutdown (nothing can be appended after).
                        self.checkpoint_logged(CheckpointKind::Final);
                        self.trim_logged();
                        return;
                    }
                },
            };
            match msg {
                Msg::Append(rec, reply) => {
                    self.taken();
                    let batch = self.collect(rec, reply);
                    self.run_batch(batch);
                }
                Msg::Checkpoint(reply) => {
                    let _ = reply.send(self.write_checkpoint(CheckpointKind::Periodic));
                }
                Msg::Retention(now, reply) => {
                    let _ = reply.send(self.retention_pass(now, usize::MAX));
                }
                Msg::Shutdown(reply) => {
                    self.shared.closed.store(true, Relaxed);
                    self.drain_for_shutdown();
                    let checkpoint = self.write_checkpoint(CheckpointKind::Final);
                    self.trim_logged();
                    // Released before the caller hears of the shutdown, so
                    // it can reopen the directory at once.
                    self.lock = None;
                    let _ = reply.send(checkpoint.map(Some));
                    return;
                }
            }
        }
    }

    /// Cuts the active segment's preallocated zeros (at shutdown), logging a failure.
    fn trim_logged(&mut self) {
        if let Err(e) = self.active.file.trim() {
            tracing::warn!(error = %e, "could not cut the audit segment's preallocated zeros");
        }
    }

    /// How long to sleep when idle: until the next time-based checkpoint.
    fn idle_timeout(&self) -> Duration {
        if self.retention_due && self.cfg.retention.is_some() {
            // Deletes the next aged segment at once when nothing waits.
            return Duration::ZERO;
        }
        if self.since_checkpoint == 0 {
            return self.cfg.checkpoint_every;
        }
        self.cfg
            .checkpoint_every
            .saturating_sub(self.last_checkpoint_at.elapsed())
            .max(Duration::from_millis(1))
    }

    /// Bookkeeping when an append leaves the queue.
    fn taken(&self) {
        self.shared.counters.depth.fetch_sub(1, Relaxed);
    }

    /// Gathers a batch starting with `first` (see the module docs).
    fn collect(
        &mut self,
        first: Box<NewRecord>,
        reply: AppendReply,
    ) -> Vec<(Box<NewRecord>, AppendReply)> {
        let max = self.cfg.max_batch;
        let mut batch = vec![(first, reply)];
        while batch.len() < max {
            match self.rx.try_recv() {
                Ok(Msg::Append(rec, reply)) => {
                    self.taken();
                    batch.push((rec, reply));
                }
                Ok(other) => {
                    self.pending = Some(other);
                    return batch;
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        if self.cfg.max_delay.is_zero() {
            return batch;
        }
        let expected = self.last_batch_size.min(max);
        let deadline = Instant::now() + self.cfg.max_delay;
        while batch.len() < expected {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.rx.recv_timeout(left) {
                Ok(Msg::Append(rec, reply)) => {
                    self.taken();
                    batch.push((rec, reply));
                }
                Ok(other) => {
                    self.pending = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        batch
    }

    /// Processes appends still queued when shutdown was asked (bounded by
    /// the queue's capacity: nothing new gets in once `closed` is set).
    fn drain_for_shutdown(&mut self) {
        let mut batch = Vec::new();
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Msg::Append(rec, reply) => {
                    self.taken();
                    batch.push((rec, reply));
                    if batch.len() == self.cfg.max_batch {
                        self.run_batch(std::mem::take(&mut batch));
                    }
                }
                Msg::Checkpoint(reply) => {
                    let _ = reply.send(Err(AuditError::Closed));
                }
                Msg::Retention(_, reply) => {
                    let _ = reply.send(Err(AuditError::Closed));
                }
                Msg::Shutdown(reply) => {
                    let _ = reply.send(Ok(None));
                }
            }
        }
        if !batch.is_empty() {
            self.run_batch(batch);
        }
    }

    /// **Tests only**: holds the batch while the stall switch is set (at
    /// most 60 s), as a hung disk would.
    fn stall_for_tests(&self) {
        let until = Instant::now() + Duration::from_secs(60);
        while self.cfg.danger_stall_writes_for_tests.load(Relaxed) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Writes one batch and answers its waiters: in one write + fsync, or
    /// in several when its frames exceed [`MAX_BATCH_BYTES`].
    fn run_batch(&mut self, batch: Vec<(Box<NewRecord>, AppendReply)>) {
        let (mut records, mut replies): (VecDeque<NewRecord>, VecDeque<_>) =
            batch.into_iter().map(|(rec, reply)| (*rec, reply)).unzip();
        // Bounded: every round takes at least one record or fails them all.
        while !records.is_empty() {
            let started = Instant::now();
            let before = records.len();
            self.shared.counters.begin_write();
            self.stall_for_tests();
            let result = self.write_batch(&mut records);
            self.shared.counters.end_write();
            if result.is_err() {
                records.clear();
            }
            let size = before - records.len();
            let elapsed = started.elapsed();
            let c = &self.shared.counters;
            c.last_batch_size.store(size as u64, Relaxed);
            c.last_write_micros.store(
                u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
                Relaxed,
            );
            let ok = result.is_ok();
            // Observed before anyone is answered, so metrics never lag acks.
            if let Some(observe) = &self.cfg.on_batch {
                observe(&BatchReport {
                    records: size,
                    write: elapsed,
                    ok,
                });
            }
            match result {
                Ok(outcomes) => {
                    let written = outcomes.iter().filter(|o| o.is_ok()).count() as u64;
                    c.batches.fetch_add(1, Relaxed);
                    c.records.fetch_add(written, Relaxed);
                    c.tree_size.store(self.next_seq - 1, Relaxed);
                    c.failing.store(false, Relaxed);
                    self.since_checkpoint += written;
                    for (reply, outcome) in replies.drain(..outcomes.len()).zip(outcomes) {
                        let _ = reply.send(outcome);
                    }
                }
                Err(e) => {
                    c.failed_batches.fetch_add(1, Relaxed);
                    c.failing.store(true, Relaxed);
                    if let Some(suppressed) = self.batch_failures.allow() {
                        tracing::warn!(error = %e, records = size, suppressed,
                            "audit batch failed; appends refused");
                    }
                    for reply in replies.drain(..) {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
            self.last_batch_size = size;
            if ok {
                self.maybe_checkpoint();
            }
        }
        // After the answers, so no waiter sits behind a deletion.
        self.retention_step();
    }

    /// The time to stamp now (see [`stamp`]); warns when it goes back.
    fn stamp_now(&self) -> i64 {
        let now = now_ms();
        let t = stamp(now, self.last_time_ms);
        if t < self.last_time_ms {
            tracing::warn!(
                behind_ms = self.last_time_ms - now,
                "the wall clock is behind the last audit record's time; record times follow it back"
            );
        }
        t
    }

    /// Deletes at most one sealed segment past retention, when one may be
    /// due. Automatic retention uses the wall clock, and pauses (logged)
    /// while it disagrees with the monotonic clock by more than
    /// [`RETENTION_CLOCK_DRIFT_MS`] since the writer started: a clock
    /// stepped years ahead must not delete the whole log. A restart after
    /// the clock is checked resumes it.
    fn retention_step(&mut self) {
        if self.cfg.retention.is_none() {
            return;
        }
        if !self.retention_due && self.retention_checked_at.elapsed() >= RETENTION_RECHECK {
            self.retention_due = true;
        }
        if !self.retention_due {
            return;
        }
        let now = now_ms();
        let wall = now.saturating_sub(self.clock_origin.1);
        let mono = i64::try_from(self.clock_origin.0.elapsed().as_millis()).unwrap_or(i64::MAX);
        if let Some(drift) = clock_stepped(wall, mono) {
            // Said once per look: hourly, and at each rotation.
            tracing::error!(
                drift_ms = drift,
                "the wall clock was stepped since start: audit retention paused until a restart"
            );
            self.retention_due = false;
            self.retention_checked_at = Instant::now();
            return;
        }
        let deleted = match self.retention_pass(now, 1) {
            Ok(report) => !report.deleted_segments.is_empty(),
            Err(e) => {
                tracing::warn!(error = %e, "audit retention failed; will retry later");
                false
            }
        };
        self.retention_due = deleted;
        if !deleted {
            self.retention_checked_at = Instant::now();
        }
    }

    /// Rotates if due, then frames, writes and fsyncs records taken from
    /// the front of `records` (as many as fit in [`MAX_BATCH_BYTES`], at
    /// least one), and publishes them. Per-record outcomes, one per record
    /// taken (a record too large to frame is refused alone); `Err` when
    /// nothing was written.
    fn write_batch(
        &mut self,
        records: &mut VecDeque<NewRecord>,
    ) -> Result<Vec<Result<Appended, AuditError>>, AuditError> {
        if self.active.file.len() >= self.cfg.segment_max_bytes && self.active.records > 0 {
            self.rotate()?;
        }
        let now = self.stamp_now();
        let time = format_ms(now);
        let base = self.active.file.len();
        let mut buf = Vec::with_capacity((records.len() * 1280).min(MAX_BATCH_BYTES));
        let mut leaves = Vec::with_capacity(records.len());
        let mut entries = Vec::with_capacity(records.len());
        let mut outcomes = Vec::with_capacity(records.len());
        let mut seq = self.next_seq;
        while let Some(rec) = records.pop_front() {
            let record = AuditRecord::from_new(seq, time.clone(), self.shared.replica.clone(), rec);
            let payload = serde_json::to_vec(&record)
                .map_err(|e| AuditError::io("serialize", self.active.file.path(), e.into()))?;
            if payload.len() > MAX_PAYLOAD as usize {
                outcomes.push(Err(AuditError::RecordTooLarge {
                    bytes: payload.len(),
                }));
                continue;
            }
            if !buf.is_empty() && buf.len() + frame::HEADER_LEN + payload.len() > MAX_BATCH_BYTES {
                // The next write takes it (recovery relies on the bound).
                records.push_front(record.into_new());
                break;
            }
            let offset = base + buf.len() as u64;
            frame::encode(&payload, &mut buf);
            leaves.push(leaf_hash(&payload));
            entries.push((record, offset, payload.len() as u32));
            outcomes.push(Ok(Appended {
                seq,
                time: time.clone(),
            }));
            seq += 1;
        }
        if buf.is_empty() {
            return Ok(outcomes);
        }
        let inject = self.cfg.danger_fail_writes_for_tests.load(Relaxed);
        self.active.file.append(&buf, inject)?;
        // Durable from here on.
        let count = seq - self.next_seq;
        self.active.note_written(&buf, count, now);
        self.next_seq = seq;
        self.last_time_ms = now;
        let mut st = self.shared.write();
        let mut spill_error = None;
        for leaf in leaves {
            if let Err(e) = st.tree.push(leaf) {
                spill_error = Some(e);
            }
        }
        for (record, offset, len) in &entries {
            let (batch_subjects, batch_request_id) = batch_input(
                &record.subject_pseudonyms,
                &record.subject_tags,
                &record.request_id,
            );
            st.index.push(&IndexInput {
                seq: record.seq,
                time_ms: now,
                client_id: &record.client_id,
                subject_pseudonym: record.subject_pseudonym.as_deref(),
                batch_subjects,
                batch_request_id,
                decision: record.decision,
                segment: self.active.number,
                offset: *offset,
                len: *len,
            });
        }
        if let Some(seg) = st.segments.last_mut() {
            seg.last_seq = seq - 1;
        }
        drop(st);
        if let Some(e) = spill_error {
            // The records are durable and in the tree; their leaf hashes
            // stay in memory until the cache can be written.
            if let Some(suppressed) = self.spill_failures.allow() {
                tracing::warn!(error = %e, suppressed, "audit leaf cache write failed; leaf hashes kept in memory");
            }
        }
        Ok(outcomes)
    }

    /// Writes a checkpoint of the current tree if one is due; failures are
    /// logged, and retried no sooner than [`CHECKPOINT_RETRY`] later (not
    /// on every batch: a failing disk would cost a signature and a flush
    /// per batch).
    fn maybe_checkpoint(&mut self) {
        let due = self.since_checkpoint >= self.cfg.checkpoint_every_records
            || (self.since_checkpoint > 0
                && self.last_checkpoint_at.elapsed() >= self.cfg.checkpoint_every);
        let backing_off = self
            .checkpoint_retry_at
            .is_some_and(|at| Instant::now() < at);
        if due && !backing_off {
            self.checkpoint_logged(CheckpointKind::Periodic);
        }
    }

    /// Writes a checkpoint, logging a failure (throttled).
    fn checkpoint_logged(&mut self, kind: CheckpointKind) {
        match self.write_checkpoint(kind) {
            Ok(_) => self.checkpoint_retry_at = None,
            Err(e) => {
                self.checkpoint_retry_at = Some(Instant::now() + CHECKPOINT_RETRY);
                if let Some(suppressed) = self.checkpoint_failures.allow() {
                    tracing::warn!(error = %e, suppressed, "audit checkpoint failed; will retry");
                }
            }
        }
    }

    /// Signs and appends a checkpoint of the current tree. `pub(crate)`
    /// for the run's start checkpoint, which [`crate::AuditLog`]'s open
    /// writes before the writer thread starts.
    pub(crate) fn write_checkpoint(
        &mut self,
        kind: CheckpointKind,
    ) -> Result<SignedCheckpoint, AuditError> {
        let size = self.next_seq - 1;
        let (root, floor) = {
            let state = self.shared.read();
            let floor = state
                .last_checkpoint
                .as_ref()
                .and_then(|c| parse_log_time_ms(&c.time));
            (state.tree.root(size)?, floor.unwrap_or(i64::MIN))
        };
        // Dated after the checkpoint it follows (by 1 ms at least),
        // whatever the clock did: `verify` tells a run's start from a
        // replayed one by it.
        let time = format_ms(stamp(now_ms(), self.last_time_ms).max(floor.saturating_add(1)));
        let cp = SignedCheckpoint::sign(
            &self.shared.signer,
            &self.shared.replica,
            size,
            &root,
            time,
            kind,
        );
        let payload = serde_json::to_vec(&cp)
            .map_err(|e| AuditError::io("serialize", self.checkpoints.path(), e.into()))?;
        let mut framed = Vec::with_capacity(payload.len() + frame::HEADER_LEN);
        frame::encode(&payload, &mut framed);
        self.shared.counters.begin_write();
        let appended = self.checkpoints.append(&framed, false);
        self.shared.counters.end_write();
        if let Err(e) = appended {
            self.shared
                .counters
                .checkpoint_failures
                .fetch_add(1, Relaxed);
            return Err(e);
        }
        self.shared.write().last_checkpoint = Some(cp.clone());
        self.shared.counters.checkpoints.fetch_add(1, Relaxed);
        self.since_checkpoint = 0;
        self.last_checkpoint_at = Instant::now();
        Ok(cp)
    }

    /// Applies retention as of `now_ms`, deleting at most `max_segments`.
    fn retention_pass(
        &mut self,
        now_ms: i64,
        max_segments: usize,
    ) -> Result<RetentionReport, AuditError> {
        match self.cfg.retention {
            Some(keep) => retention::apply(
                &self.shared,
                &mut self.deletions,
                self.active.number,
                keep,
                now_ms,
                max_segments,
            ),
            None => Ok(RetentionReport::default()),
        }
    }
}

#[cfg(test)]
mod clock_tests {
    use super::*;

    #[test]
    fn record_times_hold_through_jitter_but_follow_a_real_step_back() {
        assert_eq!(stamp(1_000_000, 999_000), 1_000_000);
        assert_eq!(stamp(1_000_000, 1_000_000), 1_000_000);
        // A small step back (NTP jitter): held, non-decreasing.
        assert_eq!(stamp(1_000_000, 1_001_500), 1_001_500);
        assert_eq!(
            stamp(1_000_000, 1_000_000 + CLOCK_STEP_BACK_TOLERANCE_MS),
            1_002_000
        );
        // A clock corrected from years ahead: times follow it, not frozen.
        let ahead = 1_000_000 + 5 * 365 * 86_400_000;
        assert_eq!(stamp(1_000_000, ahead), 1_000_000);
        assert_eq!(
            stamp(1_000_000, 1_000_000 + CLOCK_STEP_BACK_TOLERANCE_MS + 1),
            1_000_000
        );
    }

    #[test]
    fn retention_pauses_when_the_wall_clock_leaves_the_monotonic_one() {
        let min = 60_000;
        assert_eq!(clock_stepped(10 * min, 10 * min), None);
        assert_eq!(clock_stepped(10 * min + 999, 10 * min), None);
        assert_eq!(clock_stepped(5 * min, 0), None);
        // Stepped years ahead, or back by more than the allowance.
        let years = 3 * 365 * 24 * 60 * min;
        assert_eq!(clock_stepped(years + min, min), Some(years));
        assert_eq!(clock_stepped(min, 7 * min), Some(-6 * min));
    }
}
