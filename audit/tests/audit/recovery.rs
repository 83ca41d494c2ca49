//! Recovery at open: torn tails are cut, other damage refuses to open.

use std::fs::OpenOptions;
use std::io::Write;

use credgate_audit::{verify, AuditError, AuditLog, ProblemKind};

use crate::common::{
    append_seq, config, corrupt_of, frame, frames, public_pem, record, segment, segments,
};

/// A log of `n` records in one segment, shut down (final checkpoint).
async fn log_with(n: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(config(dir.path())).await.unwrap();
    append_seq(&log, 0, n).await;
    log.shutdown().await.unwrap();
    dir
}

fn append_bytes(path: &std::path::Path, bytes: &[u8]) {
    OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn torn_tails_are_cut_at_open_and_seqs_continue() {
    let dir = log_with(5).await;
    let path = segment(dir.path(), 1);
    let good_len = std::fs::metadata(&path).unwrap().len();
    // A frame header announcing 500 bytes followed by only 100.
    let mut torn = 500u32.to_be_bytes().to_vec();
    torn.extend_from_slice(&[0xAB; 4]);
    torn.extend_from_slice(&[b'x'; 100]);
    append_bytes(&path, &torn);

    let report = verify(dir.path(), Some(public_pem())).unwrap();
    let tail = report.torn_tail.unwrap();
    assert_eq!(tail.file, "segment-000001.log");
    assert_eq!(tail.offset, Some(good_len));
    assert_eq!(tail.seq, Some(6));

    let log = AuditLog::open(config(dir.path())).await.unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), good_len);
    assert_eq!(log.tree_size(), 5);
    assert_eq!(log.append(record(5)).await.unwrap().seq, 6);
    log.shutdown().await.unwrap();
    assert_eq!(
        verify(dir.path(), Some(public_pem())).unwrap().torn_tail,
        None
    );
}

#[tokio::test(flavor = "current_thread")]
async fn complete_last_frame_with_bad_crc_and_zero_fill_are_torn_tails() {
    let dir = log_with(3).await;
    let path = segment(dir.path(), 1);
    let good_len = std::fs::metadata(&path).unwrap().len();
    let mut bad = crate::common::frame(br#"{"seq":4}"#);
    bad[9] ^= 0x20; // payload no longer matches its CRC
    append_bytes(&path, &bad);
    append_bytes(&path, &[0u8; 4096]); // what a power loss may leave
    let log = AuditLog::open(config(dir.path())).await.unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), good_len);
    assert_eq!(log.append(record(3)).await.unwrap().seq, 4);
}

#[tokio::test(flavor = "current_thread")]
async fn damage_before_the_tail_refuses_to_open() {
    let dir = log_with(5).await;
    let path = segment(dir.path(), 1);
    let mut bytes = std::fs::read(&path).unwrap();
    let third = frames(&bytes)[3].clone(); // frame 0 is the header
    bytes[third.offset + 20] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();

    let c = corrupt_of(AuditLog::open(config(dir.path())).await.err().unwrap());
    assert_eq!(c.kind, ProblemKind::CrcMismatch);
    assert_eq!(c.location.file, "segment-000001.log");
    assert_eq!(c.location.offset, Some(third.offset as u64));
    assert_eq!(c.location.seq, Some(3));
    // Nothing was cut.
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let v = verify(dir.path(), None).unwrap_err();
    assert_eq!(
        (v.kind, v.location.offset),
        (ProblemKind::CrcMismatch, Some(third.offset as u64))
    );
}

#[tokio::test(flavor = "current_thread")]
async fn losing_checkpointed_records_refuses_to_open() {
    let dir = log_with(5).await;
    let path = segment(dir.path(), 1);
    let bytes = std::fs::read(&path).unwrap();
    let last = frames(&bytes).last().unwrap().clone();
    std::fs::write(&path, &bytes[..last.offset]).unwrap();
    let c = corrupt_of(AuditLog::open(config(dir.path())).await.err().unwrap());
    assert_eq!(c.kind, ProblemKind::CheckpointBeyondLog);
    assert_eq!(c.location.file, "checkpoints.log");
}

/// A damaged last record that a checkpoint covers is not a torn tail but
/// evidence: opening refuses, and leaves the file as it found it.
#[tokio::test(flavor = "current_thread")]
async fn a_damaged_checkpointed_last_record_is_refused_and_kept() {
    let dir = log_with(5).await;
    let path = segment(dir.path(), 1);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = frames(&bytes).last().unwrap().clone();
    bytes[last.offset + 20] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let c = corrupt_of(AuditLog::open(config(dir.path())).await.err().unwrap());
    assert_eq!(c.kind, ProblemKind::CheckpointBeyondLog, "{c}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "the record was cut");
}

#[tokio::test(flavor = "current_thread")]
async fn a_log_belongs_to_one_replica() {
    let dir = log_with(1).await;
    let mut cfg = config(dir.path());
    cfg.replica = "r2".to_owned();
    let err = AuditLog::open(cfg).await.err().unwrap();
    assert!(matches!(err, AuditError::Config(_)), "{err:?}");
    let mut cfg = config(dir.path());
    cfg.replica = "bad\nname".to_owned();
    assert!(matches!(
        AuditLog::open(cfg).await,
        Err(AuditError::Config(_))
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn crash_states_around_rotation_are_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.segment_max_bytes = 1024;
    let log = AuditLog::open(cfg.clone()).await.unwrap();
    append_seq(&log, 0, 2).await; // segment 1 is now past 1 KiB
                                  // A directory where segment 2 must go makes its creation fail (even
                                  // for root): the seal of segment 1 is written, segment 2 is not.
    std::fs::create_dir(segment(dir.path(), 2)).unwrap();
    let err = log.append(record(2)).await.unwrap_err();
    assert!(
        matches!(err, AuditError::Io { op: "create", .. }),
        "{err:?}"
    );
    assert!(dir.path().join("seals/segment-000001.seal").exists());
    log.shutdown().await.unwrap();
    std::fs::remove_dir(segment(dir.path(), 2)).unwrap();

    // Crash while writing segment 2's header: a torn header.
    let seg1 = std::fs::read(segment(dir.path(), 1)).unwrap();
    std::fs::write(segment(dir.path(), 2), &seg1[..20]).unwrap();
    let log = AuditLog::open(cfg.clone()).await.unwrap();
    assert_eq!(log.append(record(3)).await.unwrap().seq, 3);
    append_seq(&log, 4, 1).await; // segment 2 past 1 KiB
    std::fs::create_dir(segment(dir.path(), 3)).unwrap();
    assert!(log.append(record(5)).await.is_err());
    log.shutdown().await.unwrap();
    std::fs::remove_dir(segment(dir.path(), 3)).unwrap();
    assert_eq!(segments(dir.path()), vec![1, 2]);

    // Crash between sealing segment 2 and creating segment 3.
    let log = AuditLog::open(cfg).await.unwrap();
    assert_eq!(segments(dir.path()), vec![1, 2, 3]);
    assert_eq!(log.append(record(6)).await.unwrap().seq, 5);
    log.shutdown().await.unwrap();
    let report = verify(dir.path(), Some(public_pem())).unwrap();
    assert_eq!((report.tree_size, report.seals, report.segments), (5, 2, 3));
}

/// Found by `fuzz/audit_reader`: `verify` accepted a record whose time does
/// not parse, which recovery refuses (the index needs it), so a log that
/// verified could not be opened. Both refuse it now, naming the record.
#[tokio::test(flavor = "current_thread")]
async fn a_record_time_that_does_not_parse_fails_verify_as_it_fails_open() {
    let dir = log_with(3).await;
    // No checkpoint: only the record itself can tell.
    std::fs::remove_file(dir.path().join("checkpoints.log")).unwrap();
    let path = segment(dir.path(), 1);
    let bytes = std::fs::read(&path).unwrap();
    let last = frames(&bytes).last().unwrap().clone();
    let mut rec: serde_json::Value = serde_json::from_slice(&last.payload).unwrap();
    rec["time"] = serde_json::Value::from("2024-13-01T00:00:00.000Z");
    let mut tampered = bytes[..last.offset].to_vec();
    tampered.extend(frame(&serde_json::to_vec(&rec).unwrap()));
    std::fs::write(&path, &tampered).unwrap();

    let c = verify(dir.path(), None).unwrap_err();
    assert_eq!(c.kind, ProblemKind::BadPayload, "{c}");
    assert_eq!(c.location.offset, Some(last.offset as u64));
    assert_eq!(c.location.seq, Some(3));
    let c = corrupt_of(AuditLog::open(config(dir.path())).await.err().unwrap());
    assert_eq!((c.kind, c.location.seq), (ProblemKind::BadPayload, Some(3)));
}

/// Found by `fuzz/audit_reader`: with every segment gone but a seal left
/// (a log "reset" by deleting its segment files), `verify` passed and open
/// started a new segment 1 that could never match the old seal, so the next
/// open failed. Both refuse at once now, naming the seal.
#[tokio::test(flavor = "current_thread")]
async fn a_seal_whose_segment_is_gone_fails_verify_and_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.segment_max_bytes = 1024;
    let log = AuditLog::open(cfg.clone()).await.unwrap();
    append_seq(&log, 0, 4).await;
    log.shutdown().await.unwrap();
    assert!(dir.path().join("seals/segment-000001.seal").exists());
    for n in segments(dir.path()) {
        std::fs::remove_file(segment(dir.path(), n)).unwrap();
    }
    std::fs::remove_file(dir.path().join("checkpoints.log")).unwrap();

    let c = verify(dir.path(), Some(public_pem())).unwrap_err();
    assert_eq!(c.kind, ProblemKind::MissingSegment, "{c}");
    assert_eq!(c.location.file, "seals/segment-000001.seal");
    let c = corrupt_of(AuditLog::open(cfg).await.err().unwrap());
    assert_eq!(c.kind, ProblemKind::MissingSegment, "{c}");
    assert_eq!(c.location.file, "seals/segment-000001.seal");
}

/// End of the last frame of a segment file (before any zero tail).
fn data_len(bytes: &[u8]) -> usize {
    frames(bytes).last().map_or(0, |f| f.offset + f.len())
}

#[tokio::test(flavor = "current_thread")]
async fn a_preallocated_zero_tail_is_the_end_of_the_data_not_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(config(dir.path())).await.unwrap();
    append_seq(&log, 0, 3).await;
    // While the log is open, the active segment holds zeros after its data.
    let live = std::fs::read(segment(dir.path(), 1)).unwrap();
    let data = data_len(&live);
    assert!(live.len() > data, "no preallocation: {} bytes", live.len());
    assert!(live[data..].iter().all(|b| *b == 0));
    let report = verify(dir.path(), Some(public_pem())).unwrap();
    assert_eq!((report.tree_size, report.torn_tail), (3, None));

    // A crash now leaves the zeros: a copy of the directory is that state.
    let crashed = crate::common::copy_dir(dir.path());
    log.shutdown().await.unwrap();
    // A clean shutdown cuts them.
    let closed = std::fs::read(segment(dir.path(), 1)).unwrap();
    assert_eq!(closed.len(), data_len(&closed));

    let path = segment(crashed.path(), 1);
    let log = AuditLog::open(config(crashed.path())).await.unwrap();
    assert_eq!(log.tree_size(), 3);
    // Nothing was cut: the zeros are reused.
    assert_eq!(std::fs::metadata(&path).unwrap().len(), live.len() as u64);
    assert_eq!(log.append(record(3)).await.unwrap().seq, 4);
    log.shutdown().await.unwrap();
    let report = verify(crashed.path(), Some(public_pem())).unwrap();
    assert_eq!((report.tree_size, report.torn_tail), (4, None));
}

#[tokio::test(flavor = "current_thread")]
async fn zeros_after_a_sealed_segment_are_damage() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.segment_max_bytes = 1024;
    let log = AuditLog::open(cfg.clone()).await.unwrap();
    append_seq(&log, 0, 4).await;
    log.shutdown().await.unwrap();
    assert!(segments(dir.path()).len() >= 2);
    let path = segment(dir.path(), 1);
    let good_len = std::fs::metadata(&path).unwrap().len();
    append_bytes(&path, &[0u8; 4096]);
    let v = verify(dir.path(), None).unwrap_err();
    assert_eq!(
        (v.kind, v.location.offset),
        (ProblemKind::BadLength, Some(good_len))
    );
    let c = corrupt_of(AuditLog::open(cfg).await.err().unwrap());
    assert_eq!(c.kind, ProblemKind::BadLength);
    assert_eq!(c.location.file, "segment-000001.log");
}

/// A power loss during a write over preallocated zeros: the disk kept some
/// sectors of the write and not others, so intact frames follow a hole.
#[tokio::test(flavor = "current_thread")]
async fn a_write_torn_with_a_hole_over_preallocated_zeros_is_cut() {
    // The records of the unfinished write: seqs 6..=11 of a longer copy.
    let dir = log_with(5).await;
    let longer = crate::common::copy_dir(dir.path());
    let log = AuditLog::open(config(longer.path())).await.unwrap();
    append_seq(&log, 5, 6).await;
    log.shutdown().await.unwrap();
    // The run that lost power had written its start checkpoint (at 5) but
    // not its final one: the longer copy's checkpoints without the last.
    let cps = std::fs::read(longer.path().join("checkpoints.log")).unwrap();
    let final_at = frames(&cps).last().unwrap().offset;
    std::fs::write(dir.path().join("checkpoints.log"), &cps[..final_at]).unwrap();
    let path = segment(dir.path(), 1);
    let good = std::fs::read(&path).unwrap();
    let all = std::fs::read(segment(longer.path(), 1)).unwrap();
    assert_eq!(&all[..good.len()], &good[..]);
    let new_frames: Vec<_> = frames(&all)
        .into_iter()
        .filter(|f| f.offset >= good.len())
        .collect();

    // The first whole 512-byte sector from the second new frame on was
    // not written: zeros, as preallocated.
    let hole = new_frames[1].offset.div_ceil(512) * 512;
    let mut torn = all.clone();
    torn[hole..hole + 512].fill(0);
    torn.extend_from_slice(&[0u8; 8192]);
    let first_bad = new_frames
        .iter()
        .find(|f| f.offset + f.len() > hole)
        .unwrap()
        .clone();
    assert!(
        new_frames.last().unwrap().offset >= hole + 512,
        "intact after"
    );

    // The same bytes with one flipped bit instead of a hole: corruption.
    let mut flipped = all.clone();
    flipped[first_bad.offset + 20] ^= 0x01;
    std::fs::write(&path, &flipped).unwrap();
    let c = corrupt_of(AuditLog::open(config(dir.path())).await.err().unwrap());
    assert_eq!(c.kind, ProblemKind::CrcMismatch);
    assert_eq!(std::fs::read(&path).unwrap(), flipped, "nothing was cut");

    std::fs::write(&path, &torn).unwrap();
    let report = verify(dir.path(), Some(public_pem())).unwrap();
    let tail = report.torn_tail.unwrap();
    assert_eq!(tail.offset, Some(first_bad.offset as u64));
    assert_eq!(tail.seq, first_bad.seq());

    let log = AuditLog::open(config(dir.path())).await.unwrap();
    let kept = first_bad.seq().unwrap() - 1;
    assert_eq!(log.tree_size(), kept);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        first_bad.offset as u64
    );
    assert_eq!(log.append(record(99)).await.unwrap().seq, kept + 1);
    log.shutdown().await.unwrap();
    let report = verify(dir.path(), Some(public_pem())).unwrap();
    assert_eq!((report.tree_size, report.torn_tail), (kept + 1, None));
}

/// Found by the `audit_reader` fuzz target: a log whose segment header (and
/// records) named a replica no gateway can be configured with passed
/// `verify`, but no gateway could open it under that name. Both now refuse
/// the name as a bad header.
#[tokio::test(flavor = "current_thread")]
async fn a_replica_name_no_gateway_could_have_fails_verify_and_open() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(config(dir.path())).await.unwrap();
    append_seq(&log, 0, 2).await;
    log.shutdown().await.unwrap();
    // Only the segment names the replica now (checkpoints are signed).
    std::fs::remove_file(dir.path().join("checkpoints.log")).unwrap();
    let path = segment(dir.path(), 1);
    let mut bytes = Vec::new();
    for f in frames(&std::fs::read(&path).unwrap()) {
        let text = String::from_utf8(f.payload).unwrap();
        assert!(text.contains("\"replica\":\"r1\""), "{text}");
        bytes.extend(frame(
            text.replace("\"replica\":\"r1\"", "\"replica\":\"r1`\"")
                .as_bytes(),
        ));
    }
    std::fs::write(&path, bytes).unwrap();

    let c = verify(dir.path(), Some(public_pem())).unwrap_err();
    assert_eq!(c.kind, ProblemKind::BadHeader, "{c}");
    assert_eq!(c.location.file, "segment-000001.log");
    let c = corrupt_of(AuditLog::open(config(dir.path())).await.err().unwrap());
    assert_eq!(c.kind, ProblemKind::BadHeader, "{c}");
}
