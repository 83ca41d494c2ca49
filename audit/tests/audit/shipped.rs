//! A copy shipped as the runbook says (sealed segments with their seals,
//! `checkpoints.log`, `deletions.log`) ends before records its checkpoints
//! already cover: `verify_shipped` checks it, `verify` does not accept it,
//! and the offline query reads it and says what it lacks.

use std::path::Path;

use credgate_audit::{
    query_dir, verify, verify_anchored, verify_shipped, AuditLog, ProblemKind, Query,
};

use crate::common::{append_seq, config, public_pem, segment, segments};

/// What the runbook ships: every segment that has a seal, the seals, and
/// the two side files as they are now.
fn ship(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(to.path().join("seals")).unwrap();
    for n in segments(from) {
        let seal = format!("seals/segment-{n:06}.seal");
        if from.join(&seal).exists() {
            std::fs::copy(segment(from, n), segment(to.path(), n)).unwrap();
            std::fs::copy(from.join(&seal), to.path().join(&seal)).unwrap();
        }
    }
    for side in ["checkpoints.log", "deletions.log"] {
        if from.join(side).exists() {
            std::fs::copy(from.join(side), to.path().join(side)).unwrap();
        }
    }
    to
}

/// A running log with several sealed segments and a checkpoint covering
/// records of its active segment: its size.
async fn live_log(dir: &Path) -> (AuditLog, u64) {
    let mut cfg = config(dir);
    cfg.segment_max_bytes = 4096;
    cfg.checkpoint_every_records = 1000;
    let log = AuditLog::open(cfg).await.unwrap();
    append_seq(&log, 0, 40).await;
    let mut written = 40;
    // Until the active segment holds a record (bounded: a segment holds
    // about seven).
    while crate::common::frames(
        &std::fs::read(segment(dir, *segments(dir).last().unwrap())).unwrap(),
    )
    .len()
        < 2
    {
        assert!(written < 60, "no record in the active segment");
        append_seq(&log, written, 1).await;
        written += 1;
    }
    let cp = log.checkpoint_now().await.unwrap();
    assert_eq!(cp.tree_size, written);
    (log, written)
}

#[tokio::test(flavor = "current_thread")]
async fn a_shipped_copy_verifies_as_one_and_says_what_it_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let (log, size) = live_log(dir.path()).await;
    let latest = log.latest_checkpoint().unwrap();
    let copy = ship(dir.path());
    let live = verify(dir.path(), Some(public_pem())).unwrap();
    let shipped_segments = segments(copy.path()).len();
    assert!(shipped_segments >= 3, "{shipped_segments} sealed segments");
    assert_eq!(
        shipped_segments,
        live.segments - 1,
        "all but the active one"
    );

    // As a live log the copy is cut: its checkpoints cover more.
    let cut = verify(copy.path(), Some(public_pem())).unwrap_err();
    assert_eq!(cut.kind, ProblemKind::CheckpointBeyondLog);

    let r = verify_shipped(copy.path(), Some(public_pem()), &[]).unwrap();
    let held = r.tree_size;
    assert!(held > 0 && held < size, "the copy holds {held}");
    assert_eq!(r.records_present, held);
    assert_eq!(r.seals, shipped_segments);
    assert_eq!(r.beyond_copy, Some(size), "the latest checkpoint's size");
    assert_eq!(r.latest_checkpoint.as_ref(), Some(&latest));
    assert_eq!(
        r.records_after_checkpoint, 0,
        "every record of a sealed segment is covered by its seal's root"
    );
    assert_eq!(r.root_hash, hex::encode(log.root(held).unwrap()));
    // A checkpoint held outside beyond the copy: signature checked, no failure.
    let again = verify_shipped(
        copy.path(),
        Some(public_pem()),
        std::slice::from_ref(&latest),
    )
    .unwrap();
    assert_eq!((again.anchors_checked, again.beyond_copy), (1, Some(size)));
    // The live log holds what its checkpoints cover: nothing beyond it.
    let none_beyond = verify_anchored(
        dir.path(),
        Some(public_pem()),
        std::slice::from_ref(&latest),
    )
    .unwrap();
    assert_eq!(none_beyond.beyond_copy, None);

    // The offline query reads the copy and says what it lacks.
    let found = query_dir(
        copy.path(),
        &Query {
            limit: Some(1000),
            ..Query::default()
        },
    )
    .unwrap();
    assert_eq!(found.page.records.len() as u64, held);
    assert_eq!(found.missing, Some((held, size)));
    drop(log);
}

#[tokio::test(flavor = "current_thread")]
async fn a_shipped_copy_is_still_checked_record_by_record_and_signature_by_signature() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = live_log(dir.path()).await;
    let pristine = ship(dir.path());
    drop(log);

    // A record altered inside a sealed segment: the seal's file hash.
    let altered = ship(pristine.path());
    let path = segment(altered.path(), 2);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(7).position(|w| w == b"client-").unwrap();
    bytes[at] = b'B';
    std::fs::write(&path, bytes).unwrap();
    let failed = verify_shipped(altered.path(), Some(public_pem()), &[]).unwrap_err();
    assert_eq!(failed.location.file, "segment-000002.log");

    // A checkpoint beyond the copy is still signature-checked.
    let forged = ship(pristine.path());
    let cps = forged.path().join("checkpoints.log");
    let mut bytes = std::fs::read(&cps).unwrap();
    let last = crate::common::frames(&bytes).pop().unwrap();
    let mut payload = last.payload.clone();
    let tag = b"\"signature\":\"";
    let at = payload.windows(tag.len()).position(|w| w == tag).unwrap() + tag.len();
    payload[at] = if payload[at] == b'A' { b'B' } else { b'A' };
    // A correct frame (CRC) around it: only the signature can tell.
    bytes.truncate(last.offset);
    bytes.extend(crate::common::frame(&payload));
    std::fs::write(&cps, bytes).unwrap();
    let failed = verify_shipped(forged.path(), Some(public_pem()), &[]).unwrap_err();
    assert_eq!(failed.kind, ProblemKind::BadSignature);

    // A missing segment in the middle of the copy is no "not shipped yet".
    let holed = ship(pristine.path());
    std::fs::remove_file(segment(holed.path(), 2)).unwrap();
    let failed = verify_shipped(holed.path(), Some(public_pem()), &[]).unwrap_err();
    assert_eq!(failed.kind, ProblemKind::MissingSegment);
}
