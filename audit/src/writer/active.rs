//! The active segment, starting the writer on a recovered directory, and
//! rotation: seal the full segment (signed, hash-chained, atomically
//! written), then start the next one with a header naming that seal.
//!
//! Rotation is retried after a failure with the same seal bytes (kept in
//! [`PendingSeal`]), so a header written by an earlier attempt never names a
//! seal that was later replaced.

use crate::throttle::Throttle;
use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Instant;

use ring::digest;

use super::{Msg, Writer};
use crate::config::AuditConfig;
use crate::deletion::DELETIONS_FILE;
use crate::frame;
use crate::fsutil::{write_file_atomic, TrackedFile};
use crate::merkle::{to_hash, Hash};
use crate::record::{format_ms, now_ms};
use crate::recover::{Recovered, CHECKPOINTS_FILE};
use crate::seal::{seal_hash, seal_path, Seal, SEALS_DIR};
use crate::segment::{self, SegmentHeader};
use crate::state::{SealInfo, SegmentInfo, Shared};
use crate::AuditError;

/// The segment appends go to.
pub(super) struct Active {
    pub number: u32,
    pub file: TrackedFile,
    /// SHA-256 of the durable bytes so far (for the seal).
    pub sha256: digest::Context,
    pub first_seq: u64,
    pub records: u64,
    pub first_time_ms: Option<i64>,
    pub last_time_ms: Option<i64>,
}

/// A seal computed for a rotation that has not completed yet.
pub(super) struct PendingSeal {
    number: u32,
    framed: Vec<u8>,
    hash: Hash,
    last_time_ms: i64,
}

impl Active {
    /// Accounts for `count` records in `bytes` that are now durable.
    pub(super) fn note_written(&mut self, bytes: &[u8], count: u64, time_ms: i64) {
        self.sha256.update(bytes);
        self.records += count;
        self.first_time_ms.get_or_insert(time_ms);
        self.last_time_ms = Some(time_ms);
    }

    /// Creates segment `number` (emptying any partial file) with its header.
    fn create(
        dir: &Path,
        number: u32,
        replica: &str,
        first_seq: u64,
        prev_seal: Option<Hash>,
        prealloc: u64,
    ) -> Result<Self, AuditError> {
        let header = SegmentHeader::new(
            number,
            replica,
            first_seq,
            prev_seal.map(hex::encode),
            format_ms(now_ms()),
        )
        .to_frame();
        let file =
            TrackedFile::create_preallocated(&segment::path(dir, number), &header, prealloc)?;
        let mut sha256 = digest::Context::new(&digest::SHA256);
        sha256.update(&header);
        Ok(Self {
            number,
            file,
            sha256,
            first_seq,
            records: 0,
            first_time_ms: None,
            last_time_ms: None,
        })
    }
}

/// Opens a side file at its recovered length, creating it if missing.
fn side_file(dir: &Path, name: &str, len: u64) -> Result<TrackedFile, AuditError> {
    let path = dir.join(name);
    if path.exists() {
        TrackedFile::open(&path, len)
    } else {
        TrackedFile::create(&path, &[])
    }
}

impl Writer {
    /// Prepares the writer on a recovered directory: opens the active
    /// segment (or starts one: new log, crash after sealing, torn header)
    /// and the side files.
    pub(crate) fn start(
        cfg: AuditConfig,
        shared: Arc<Shared>,
        rx: Receiver<Msg>,
        rec: Recovered,
        lock: std::fs::File,
    ) -> Result<Self, AuditError> {
        let dir = cfg.dir.as_path();
        let replica = shared.replica.as_str();
        let prealloc = cfg.preallocate_bytes;
        let active = match rec.active {
            Some(a) if !a.sealed && a.header.is_some() => Active {
                number: a.number,
                file: TrackedFile::open_with_zero_tail(
                    &segment::path(dir, a.number),
                    a.valid_len,
                    a.zeros_end,
                    prealloc,
                )?,
                sha256: a.sha256,
                first_seq: a.first_seq,
                records: a.records,
                first_time_ms: a.first_time_ms,
                last_time_ms: a.last_time_ms,
            },
            Some(a) if !a.sealed => {
                // Crash while creating this segment: write its header again.
                let created = Active::create(
                    dir,
                    a.number,
                    replica,
                    rec.next_seq,
                    rec.last_seal_hash,
                    prealloc,
                )?;
                tracing::info!(
                    segment = a.number,
                    "rewrote the header of a segment torn at creation"
                );
                created
            }
            Some(a) => {
                // Crash between sealing a segment and starting the next.
                let created = Active::create(
                    dir,
                    a.number + 1,
                    replica,
                    rec.next_seq,
                    rec.last_seal_hash,
                    prealloc,
                )?;
                shared.write().segments.push(SegmentInfo {
                    number: a.number + 1,
                    first_seq: rec.next_seq,
                    last_seq: rec.next_seq - 1,
                    seal: None,
                });
                created
            }
            None => {
                let created = Active::create(
                    dir,
                    rec.next_segment,
                    replica,
                    rec.next_seq,
                    rec.last_seal_hash,
                    prealloc,
                )?;
                shared.write().segments.push(SegmentInfo {
                    number: rec.next_segment,
                    first_seq: rec.next_seq,
                    last_seq: rec.next_seq - 1,
                    seal: None,
                });
                created
            }
        };
        let checkpoints = side_file(dir, CHECKPOINTS_FILE, rec.checkpoints_len)?;
        let deletions = side_file(dir, DELETIONS_FILE, rec.deletions_len)?;
        shared.counters.tree_size.store(rec.next_seq - 1, Relaxed);
        let last_batch_size = 1;
        Ok(Self {
            shared,
            cfg,
            rx,
            active,
            pending_seal: None,
            next_seq: rec.next_seq,
            last_time_ms: rec.last_time_ms.max(0),
            last_seal_hash: rec.last_seal_hash,
            checkpoints,
            deletions,
            since_checkpoint: 0,
            last_checkpoint_at: Instant::now(),
            last_batch_size,
            pending: None,
            lock: Some(lock),
            checkpoint_retry_at: None,
            batch_failures: Throttle::new(super::FAILURE_LOG_WINDOW),
            checkpoint_failures: Throttle::new(super::FAILURE_LOG_WINDOW),
            spill_failures: Throttle::new(super::FAILURE_LOG_WINDOW),
            clock_origin: (Instant::now(), now_ms()),
            // Segments may have aged past retention while it was down.
            retention_due: true,
            retention_checked_at: Instant::now(),
        })
    }

    /// Seals the active segment and starts the next one; then applies
    /// retention if configured (its failures are only logged).
    pub(super) fn rotate(&mut self) -> Result<(), AuditError> {
        let dir = self.cfg.dir.clone();
        let number = self.active.number;
        let seal = match self.pending_seal.take() {
            Some(s) if s.number == number => s,
            _ => self.make_seal()?,
        };
        let result = self.finish_rotation(&dir, &seal);
        match result {
            Ok(()) => {
                tracing::info!(
                    segment = number,
                    last_seq = self.next_seq - 1,
                    "sealed audit segment"
                );
                // Applied after the batch's answers, one segment at a time.
                self.retention_due = true;
                Ok(())
            }
            Err(e) => {
                self.pending_seal = Some(seal);
                Err(e)
            }
        }
    }

    /// Writes the seal file and the next segment, then switches to it.
    fn finish_rotation(&mut self, dir: &Path, seal: &PendingSeal) -> Result<(), AuditError> {
        let seals = dir.join(SEALS_DIR);
        fs::create_dir_all(&seals).map_err(|e| AuditError::io("create", &seals, e))?;
        // A sealed segment ends with its last frame: cut the preallocated
        // zeros before the seal names the segment's length.
        self.active.file.trim()?;
        write_file_atomic(&seal_path(dir, seal.number), &seal.framed)?;
        let first_seq = self.next_seq;
        let next = Active::create(
            dir,
            seal.number + 1,
            &self.shared.replica,
            first_seq,
            Some(seal.hash),
            self.cfg.preallocate_bytes,
        )?;
        self.active = next;
        self.last_seal_hash = Some(seal.hash);
        let mut st = self.shared.write();
        if let Some(seg) = st.segments.last_mut() {
            seg.seal = Some(SealInfo {
                hash: seal.hash,
                last_time_ms: seal.last_time_ms,
            });
        }
        st.segments.push(SegmentInfo {
            number: seal.number + 1,
            first_seq,
            last_seq: first_seq - 1,
            seal: None,
        });
        Ok(())
    }

    /// Builds and signs the seal of the active segment.
    fn make_seal(&self) -> Result<PendingSeal, AuditError> {
        let a = &self.active;
        let last_seq = self.next_seq - 1;
        let root = self.shared.read().tree.root(last_seq)?;
        let last_time_ms = a.last_time_ms.unwrap_or(self.last_time_ms);
        let seal = Seal {
            replica: self.shared.replica.clone(),
            segment: a.number,
            first_seq: a.first_seq,
            last_seq,
            first_time: format_ms(a.first_time_ms.unwrap_or(last_time_ms)),
            last_time: format_ms(last_time_ms),
            root_hash: hex::encode(root),
            segment_sha256: hex::encode(to_hash(a.sha256.clone().finish())),
            segment_len: a.file.len(),
            prev_seal_hash: self.last_seal_hash.map(hex::encode),
            time: format_ms(super::stamp(now_ms(), self.last_time_ms)),
            key_id: String::new(),
            signature: String::new(),
        }
        .signed(&self.shared.signer);
        let payload = serde_json::to_vec(&seal)
            .map_err(|e| AuditError::io("serialize", a.file.path(), e.into()))?;
        let mut framed = Vec::with_capacity(payload.len() + frame::HEADER_LEN);
        frame::encode(&payload, &mut framed);
        Ok(PendingSeal {
            number: a.number,
            framed,
            hash: seal_hash(&payload),
            last_time_ms,
        })
    }
}
