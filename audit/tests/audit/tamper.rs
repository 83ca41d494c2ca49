//! Tampering with a generated log: each change is detected by `verify`,
//! which names the right file, offset and seq.

use std::path::Path;

use credgate_audit::{verify, AuditLog, Corruption, ProblemKind};

use crate::common::{
    append_seq, config, copy_dir, frame, frames, public_pem, segment, segments, RawFrame,
};

/// A shut-down log of 60 records over several 4 KiB segments, with a
/// checkpoint every 10 records.
async fn sample_log() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.segment_max_bytes = 4096;
    cfg.checkpoint_every_records = 10;
    let log = AuditLog::open(cfg).await.unwrap();
    append_seq(&log, 0, 60).await;
    log.shutdown().await.unwrap();
    let report = verify(dir.path(), Some(public_pem())).unwrap();
    assert!(report.segments >= 4, "{report:?}");
    assert!(report.checkpoints >= 6);
    dir
}

fn read(dir: &Path, n: u32) -> (Vec<u8>, Vec<RawFrame>) {
    let bytes = std::fs::read(segment(dir, n)).unwrap();
    let f = frames(&bytes);
    (bytes, f)
}

fn fails(dir: &Path) -> Corruption {
    verify(dir, Some(public_pem())).unwrap_err()
}

/// A record payload with one field changed (valid JSON, so only hashes can tell).
fn altered(payload: &[u8], seq: Option<u64>) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(payload).unwrap();
    v["client_id"] = serde_json::Value::from("forger");
    if let Some(seq) = seq {
        v["seq"] = serde_json::Value::from(seq);
    }
    serde_json::to_vec(&v).unwrap()
}

/// A record payload with only its seq changed.
fn renumbered(payload: &[u8], seq: u64) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(payload).unwrap();
    v["seq"] = serde_json::Value::from(seq);
    serde_json::to_vec(&v).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn every_kind_of_tampering_is_detected_and_located() {
    let base = sample_log().await;
    let active = *segments(base.path()).last().unwrap();
    let (seg2, f2) = read(base.path(), 2);
    let (r1, r2) = (&f2[1], &f2[2]); // f2[0] is the header

    // 1. One flipped byte in a record of a sealed segment: CRC.
    let d = copy_dir(base.path());
    let mut bytes = seg2.clone();
    bytes[r2.offset + 8 + 10] ^= 0x01;
    std::fs::write(segment(d.path(), 2), &bytes).unwrap();
    let c = fails(d.path());
    assert_eq!(c.kind, ProblemKind::CrcMismatch, "{c}");
    assert_eq!(c.location.file, "segment-000002.log");
    assert_eq!(c.location.offset, Some(r2.offset as u64));
    assert_eq!(c.location.seq, r2.seq());

    // 1b. Same, with the CRC recomputed: the seal's file hash catches it,
    // even without a key.
    let d = copy_dir(base.path());
    let mut bytes = seg2[..r2.offset].to_vec();
    bytes.extend(frame(&altered(&r2.payload, None)));
    bytes.extend_from_slice(&seg2[r2.offset + r2.len()..]);
    std::fs::write(segment(d.path(), 2), &bytes).unwrap();
    let c = verify(d.path(), None).unwrap_err();
    assert_eq!(c.kind, ProblemKind::SealMismatch, "{c}");
    assert_eq!(c.location.file, "segment-000002.log");

    // 2. A record cut out: the next one sits where it was, with the wrong seq.
    let d = copy_dir(base.path());
    let mut bytes = seg2[..r1.offset].to_vec();
    bytes.extend_from_slice(&seg2[r1.offset + r1.len()..]);
    std::fs::write(segment(d.path(), 2), &bytes).unwrap();
    let c = fails(d.path());
    assert_eq!(c.kind, ProblemKind::SeqMismatch, "{c}");
    assert_eq!(c.location.file, "segment-000002.log");
    assert_eq!(c.location.offset, Some(r1.offset as u64));
    assert_eq!(c.location.seq, r1.seq());

    // 3. Two records swapped.
    let d = copy_dir(base.path());
    let mut bytes = seg2[..r1.offset].to_vec();
    bytes.extend_from_slice(&seg2[r2.offset..r2.offset + r2.len()]);
    bytes.extend_from_slice(&seg2[r1.offset..r1.offset + r1.len()]);
    bytes.extend_from_slice(&seg2[r2.offset + r2.len()..]);
    std::fs::write(segment(d.path(), 2), &bytes).unwrap();
    let c = fails(d.path());
    assert_eq!(c.kind, ProblemKind::SeqMismatch, "{c}");
    assert_eq!(c.location.offset, Some(r1.offset as u64));
    assert_eq!(c.location.seq, r1.seq());

    // 4. A sealed segment truncated at a frame boundary, then mid-frame.
    let last = f2.last().unwrap();
    let d = copy_dir(base.path());
    std::fs::write(segment(d.path(), 2), &seg2[..last.offset]).unwrap();
    let c = fails(d.path());
    assert_eq!(c.kind, ProblemKind::SealMismatch, "{c}");
    assert_eq!(c.location.file, "segment-000002.log");
    std::fs::write(segment(d.path(), 2), &seg2[..last.offset + 30]).unwrap();
    let c = fails(d.path());
    assert_eq!(c.kind, ProblemKind::TruncatedFrame, "{c}");
    assert_eq!(c.location.offset, Some(last.offset as u64));
    assert_eq!(c.location.seq, last.seq());

    // 5. A checkpoint's signature replaced by another (valid) signature.
    let d = copy_dir(base.path());
    let cps = std::fs::read(d.path().join("checkpoints.log")).unwrap();
    let cf = frames(&cps);
    let mut second: serde_json::Value = serde_json::from_slice(&cf[2].payload).unwrap();
    let first: serde_json::Value = serde_json::from_slice(&cf[1].payload).unwrap();
    second["signature"] = first["signature"].clone();
    let mut bytes = cps[..cf[2].offset].to_vec();
    bytes.extend(frame(&serde_json::to_vec(&second).unwrap()));
    bytes.extend_from_slice(&cps[cf[2].offset + cf[2].len()..]);
    std::fs::write(d.path().join("checkpoints.log"), &bytes).unwrap();
    let c = fails(d.path());
    assert_eq!(c.kind, ProblemKind::BadSignature, "{c}");
    assert_eq!(c.location.file, "checkpoints.log");
    assert_eq!(c.location.offset, Some(cf[2].offset as u64));
    // Without the key only the structure is checked.
    assert!(!verify(d.path(), None).unwrap().signatures_checked);

    // 6a. A forged record inserted before a real one (same seq).
    let d = copy_dir(base.path());
    let mut bytes = seg2[..r1.offset].to_vec();
    bytes.extend(frame(&altered(&r1.payload, None)));
    bytes.extend_from_slice(&seg2[r1.offset..]);
    std::fs::write(segment(d.path(), 2), &bytes).unwrap();
    let c = fails(d.path());
    assert_eq!(c.kind, ProblemKind::SeqMismatch, "{c}");
    let forged_len = 8 + altered(&r1.payload, None).len();
    assert_eq!(c.location.offset, Some((r1.offset + forged_len) as u64));
    assert_eq!(c.location.seq, r1.seq().map(|s| s + 1));

    // 6b. A forged record inserted in the active segment and every later
    // record renumbered (all CRCs valid): the checkpoints no longer match.
    let d = copy_dir(base.path());
    let (act, fa) = read(d.path(), active);
    let target = &fa[1];
    let mut bytes = act[..target.offset].to_vec();
    bytes.extend(frame(&altered(&target.payload, None)));
    for f in &fa[1..] {
        bytes.extend(frame(&renumbered(&f.payload, f.seq().unwrap() + 1)));
    }
    std::fs::write(segment(d.path(), active), &bytes).unwrap();
    let c = fails(d.path());
    assert_eq!(c.kind, ProblemKind::CheckpointMismatch, "{c}");
    assert_eq!(c.location.file, "checkpoints.log");
    assert!(c.location.seq.unwrap() >= target.seq().unwrap());
    // It names the records the forged one is among.
    let range = c.detail.split("seqs ").nth(1).unwrap_or_default();
    let bounds: Vec<u64> = range
        .split([' ', '\u{2013}'])
        .take(2)
        .map(|n| n.parse().unwrap())
        .collect();
    let seq = target.seq().unwrap();
    assert!(bounds[0] <= seq && seq <= bounds[1], "{c}");

    // 7. Segments renamed into another order.
    let d = copy_dir(base.path());
    std::fs::rename(segment(d.path(), 2), d.path().join("x")).unwrap();
    std::fs::rename(segment(d.path(), 3), segment(d.path(), 2)).unwrap();
    std::fs::rename(d.path().join("x"), segment(d.path(), 3)).unwrap();
    let c = fails(d.path());
    assert_eq!(c.kind, ProblemKind::BadHeader, "{c}");
    assert_eq!(
        (c.location.file.as_str(), c.location.offset),
        ("segment-000002.log", Some(0))
    );
}

/// Records and checkpoints cut from the end together leave a log that is
/// consistent in itself; a checkpoint held outside the log (an auditor's
/// copy from `GET /v1/audit/checkpoint`) shows the cut. A forged or
/// foreign anchor is refused, and the intact log passes with it.
#[tokio::test(flavor = "current_thread")]
async fn a_checkpoint_held_outside_the_log_detects_a_cut_end() {
    use credgate_audit::{latest_checkpoint_dir, verify_anchored};
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let log = AuditLog::open(cfg.clone()).await.unwrap();
    append_seq(&log, 0, 3).await;
    log.shutdown().await.unwrap();
    // The log as it was after 3 records: what a cut back to there leaves.
    let cut = copy_dir(dir.path());
    let log = AuditLog::open(cfg).await.unwrap();
    append_seq(&log, 3, 3).await;
    log.shutdown().await.unwrap();
    let held = latest_checkpoint_dir(dir.path()).unwrap().unwrap();
    assert_eq!(held.tree_size, 6);

    let report =
        verify_anchored(dir.path(), Some(public_pem()), std::slice::from_ref(&held)).unwrap();
    assert_eq!(report.anchors_checked, 1);
    verify(cut.path(), Some(public_pem())).expect("consistent in itself");
    let c =
        verify_anchored(cut.path(), Some(public_pem()), std::slice::from_ref(&held)).unwrap_err();
    assert_eq!(c.kind, ProblemKind::CheckpointBeyondLog, "{c}");
    assert!(c.detail.contains("removed from its end"), "{c}");

    let mut other_root = held.clone();
    other_root.tree_size = 5;
    let c = verify_anchored(dir.path(), None, &[other_root.clone()]).unwrap_err();
    assert_eq!(c.kind, ProblemKind::CheckpointMismatch, "{c}");
    let c = verify_anchored(dir.path(), Some(public_pem()), &[other_root]).unwrap_err();
    assert_eq!(c.kind, ProblemKind::BadSignature, "{c}");
    let mut foreign = held;
    foreign.replica = "replica-b".into();
    let c = verify_anchored(dir.path(), None, &[foreign]).unwrap_err();
    assert_eq!(c.kind, ProblemKind::ReplicaMismatch, "{c}");
}

/// A directory without a log (a wrong path, a wiped directory) fails
/// instead of reading as an empty log.
#[test]
fn a_directory_without_a_log_fails() {
    let dir = tempfile::tempdir().unwrap();
    let c = verify(dir.path(), None).unwrap_err();
    assert_eq!(c.kind, ProblemKind::NoLog, "{c}");
    std::fs::write(dir.path().join("checkpoints.log"), b"").unwrap();
    assert_eq!(
        verify(dir.path(), None).unwrap_err().kind,
        ProblemKind::NoLog
    );
}

/// A log that was opened and closed without a record is a log: it passes.
#[tokio::test(flavor = "current_thread")]
async fn a_log_without_records_passes() {
    let dir = tempfile::tempdir().unwrap();
    AuditLog::open(config(dir.path()))
        .await
        .unwrap()
        .shutdown()
        .await
        .unwrap();
    let report = verify(dir.path(), Some(public_pem())).unwrap();
    assert_eq!((report.tree_size, report.records_after_checkpoint), (0, 0));
}
