//! Retention: sealed segments whose last record is older than the
//! configured retention are deleted, oldest first, never the active one —
//! and only after a signed [`crate::deletion`] record holding their leaf
//! hashes is durable in `deletions.log`. The seals stay. `verify` then
//! rebuilds the tree from the deletion records and the remaining segments.
//!
//! Order on disk: deletion record appended + fsync → segment file removed →
//! directory fsync. A crash in between leaves a file that a deletion record
//! already covers; the next open removes it.

use std::fs;
use std::io;
use std::time::Duration;

use crate::deletion::DeletionRecord;
use crate::frame;
use crate::fsutil::{sync_dir, TrackedFile};
use crate::record::format_ms;
use crate::segment;
use crate::state::Shared;
use crate::AuditError;

/// What a retention pass deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Numbers of the segments deleted, ascending.
    pub deleted_segments: Vec<u32>,
    /// Records they held.
    pub deleted_records: u64,
}

/// Deletes the sealed segments (other than `active`) whose last record is
/// older than `now_ms - keep`, oldest first, at most `max_segments`.
pub(crate) fn apply(
    shared: &Shared,
    deletions: &mut TrackedFile,
    active: u32,
    keep: Duration,
    now_ms: i64,
    max_segments: usize,
) -> Result<RetentionReport, AuditError> {
    let keep_ms = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
    let cutoff = now_ms.saturating_sub(keep_ms);
    let mut report = RetentionReport::default();
    let candidates = shared.read().segments.len().min(max_segments);
    for _ in 0..candidates {
        let (seg, seal, leaves) = {
            let st = shared.read();
            let Some(seg) = st.segments.first().cloned() else {
                break;
            };
            let Some(seal) = seg.seal else { break };
            if seg.number == active || seal.last_time_ms >= cutoff || seg.last_seq < seg.first_seq {
                break;
            }
            // Read back from the leaf cache and checked against the tree:
            // a wrong leaf here would be signed into the deletion record.
            let leaves = st.tree.leaves(seg.first_seq - 1, seg.last_seq)?;
            (seg.clone(), seal, leaves)
        };
        let rec = DeletionRecord::sign(
            &shared.signer,
            &shared.replica,
            seg.number,
            seg.first_seq,
            seg.last_seq,
            &seal.hash,
            &leaves,
            format_ms(now_ms),
        );
        let payload = serde_json::to_vec(&rec)
            .map_err(|e| AuditError::io("serialize", deletions.path(), e.into()))?;
        // A frame the reader would refuse must never be written: the
        // segment would be gone and its leaf hashes unreadable. The segment
        // stays (a segment size the configuration bounds cannot get here).
        if payload.len() > frame::MAX_PAYLOAD as usize {
            return Err(AuditError::RecordTooLarge {
                bytes: payload.len(),
            });
        }
        let mut framed = Vec::with_capacity(payload.len() + frame::HEADER_LEN);
        frame::encode(&payload, &mut framed);
        deletions.append(&framed, false)?;
        {
            let mut st = shared.write();
            st.segments.remove(0);
            st.index.drop_through(seg.last_seq);
        }
        let path = segment::path(&shared.dir, seg.number);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            // The deletion record is durable: the next open removes the file.
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "could not remove a retained-out segment")
            }
        }
        if let Err(e) = sync_dir(&shared.dir) {
            tracing::warn!(error = %e, "directory fsync after retention failed");
        }
        tracing::info!(
            segment = seg.number,
            first_seq = seg.first_seq,
            last_seq = seg.last_seq,
            "audit segment deleted by retention"
        );
        report.deleted_segments.push(seg.number);
        report.deleted_records += seg.last_seq + 1 - seg.first_seq;
    }
    Ok(report)
}
