//! Runs of the gateway: each opens the log with a `start` checkpoint and a
//! clean shutdown ends it with a `final` one, so records written into the
//! directory while no gateway runs are refused at open and by `verify`.

use std::path::Path;

use credgate_audit::{
    verify, verify_anchored, AuditError, AuditLog, CheckpointKind, ProblemKind, SignedCheckpoint,
};

use crate::common::{append_seq, config, copy_dir, corrupt_of, frame, frames, public_pem, segment};

/// The checkpoints in `dir`'s `checkpoints.log`, in order, with their offsets.
fn checkpoints(dir: &Path) -> Vec<(usize, SignedCheckpoint)> {
    let bytes = std::fs::read(dir.join("checkpoints.log")).unwrap();
    frames(&bytes)
        .into_iter()
        .map(|f| (f.offset, serde_json::from_slice(&f.payload).unwrap()))
        .collect()
}

fn kinds(dir: &Path) -> Vec<(CheckpointKind, u64)> {
    checkpoints(dir)
        .into_iter()
        .map(|(_, c)| (c.kind, c.tree_size))
        .collect()
}

/// A stopped log of `n` records, and what a second run appending `more`
/// made of a copy of it (so its segment holds seqs `n + 1 ..= n + more`,
/// CRC-valid and chained, as a writer would have written them).
async fn stopped_and_longer(n: u64, more: u64) -> (tempfile::TempDir, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(config(dir.path())).await.unwrap();
    append_seq(&log, 0, n).await;
    log.shutdown().await.unwrap();
    let longer = copy_dir(dir.path());
    let log = AuditLog::open(config(longer.path())).await.unwrap();
    append_seq(&log, n, more).await;
    log.shutdown().await.unwrap();
    (dir, longer)
}

#[tokio::test(flavor = "current_thread")]
async fn clean_runs_are_bracketed_by_start_and_final_checkpoints() {
    let (_, longer) = stopped_and_longer(3, 2).await;
    assert_eq!(
        kinds(longer.path()),
        [
            (CheckpointKind::Start, 0),
            (CheckpointKind::Final, 3),
            (CheckpointKind::Start, 3),
            (CheckpointKind::Final, 5),
        ]
    );
    let report = verify(longer.path(), Some(public_pem())).unwrap();
    assert_eq!(report.unclean_stops, 0, "{report:?}");
    assert_eq!(report.records_after_checkpoint, 0);
    // The marks are signed: every checkpoint verifies under the key.
    let key = credgate_audit::AuditPublicKey::from_spki_pem(public_pem()).unwrap();
    assert!(checkpoints(longer.path())
        .iter()
        .all(|(_, c)| c.verify_signature(&key)));
}

#[tokio::test(flavor = "current_thread")]
async fn records_written_into_a_stopped_log_are_refused_at_open_and_by_verify() {
    let (dir, longer) = stopped_and_longer(5, 2).await;
    // Someone writes seqs 6–7 into the stopped replica's segment.
    std::fs::copy(segment(longer.path(), 1), segment(dir.path(), 1)).unwrap();
    let before = std::fs::read(segment(dir.path(), 1)).unwrap();

    let c = corrupt_of(AuditLog::open(config(dir.path())).await.err().unwrap());
    assert_eq!(c.kind, ProblemKind::AppendedAfterFinal, "{c}");
    assert_eq!(c.location.seq, Some(6), "{c}");
    assert!(c.detail.contains("seqs 6–7"), "{c}");
    // Refused before anything was written: no start checkpoint, no cut.
    assert_eq!(kinds(dir.path()).last(), Some(&(CheckpointKind::Final, 5)));
    assert_eq!(std::fs::read(segment(dir.path(), 1)).unwrap(), before);

    let v = verify(dir.path(), Some(public_pem())).unwrap_err();
    assert_eq!(v.kind, ProblemKind::AppendedAfterFinal, "{v}");
    assert_eq!(v.location.seq, Some(6), "{v}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_final_checkpoint_removed_from_the_log_is_caught_by_a_held_copy() {
    let (dir, longer) = stopped_and_longer(5, 2).await;
    let cps = checkpoints(dir.path());
    let (final_at, held) = cps.last().unwrap().clone();
    assert_eq!(held.kind, CheckpointKind::Final);
    // Seqs 6–7 written in, and the final checkpoint cut from the log: the
    // directory now looks like a run that crashed after its start.
    std::fs::copy(segment(longer.path(), 1), segment(dir.path(), 1)).unwrap();
    let file = dir.path().join("checkpoints.log");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..final_at]).unwrap();

    // Without the held checkpoint this cannot be told from a crash.
    let alone = verify(dir.path(), Some(public_pem())).unwrap();
    assert_eq!(
        alone.records_after_checkpoint, 7,
        "the run's start at 0 is the latest"
    );
    // With it, it can; and still once a gateway has adopted the records.
    let held_is_missing = || {
        let v = verify_anchored(dir.path(), Some(public_pem()), std::slice::from_ref(&held))
            .unwrap_err();
        assert_eq!(
            (v.kind, v.location.seq),
            (ProblemKind::MissingCheckpoint, Some(6)),
            "{v}"
        );
    };
    held_is_missing();
    let log = AuditLog::open(config(dir.path())).await.unwrap();
    assert_eq!(log.tree_size(), 7);
    log.shutdown().await.unwrap();
    held_is_missing();
    // A held final checkpoint still in the log passes.
    let report = verify_anchored(
        longer.path(),
        Some(public_pem()),
        std::slice::from_ref(&held),
    )
    .unwrap();
    assert_eq!(report.anchors_checked, 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_run_start_removed_between_two_runs_is_caught() {
    let (_, longer) = stopped_and_longer(5, 2).await;
    // [start 0, final 5, start 5, final 7] without "start 5": records 6–7
    // follow a final checkpoint with no run started at its size.
    let cps = checkpoints(longer.path());
    assert_eq!(cps[2].1.kind, CheckpointKind::Start);
    let file = longer.path().join("checkpoints.log");
    let bytes = std::fs::read(&file).unwrap();
    let mut cut = bytes[..cps[2].0].to_vec();
    cut.extend_from_slice(&bytes[cps[3].0..]);
    std::fs::write(&file, &cut).unwrap();
    let v = verify(longer.path(), Some(public_pem())).unwrap_err();
    assert_eq!(v.kind, ProblemKind::AppendedAfterFinal, "{v}");
    assert_eq!(v.location.seq, Some(6), "{v}");
    assert_eq!(v.location.offset, Some(cps[2].0 as u64), "{v}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_run_that_stopped_without_its_final_checkpoint_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(config(dir.path())).await.unwrap();
    append_seq(&log, 0, 4).await;
    // The directory as a crash would leave it: the run's start, its
    // records, no final checkpoint.
    let crashed = copy_dir(dir.path());
    log.shutdown().await.unwrap();
    assert_eq!(kinds(crashed.path()), [(CheckpointKind::Start, 0)]);
    let log = AuditLog::open(config(crashed.path())).await.unwrap();
    assert_eq!(log.tree_size(), 4, "the crashed run's records are kept");
    log.shutdown().await.unwrap();
    assert_eq!(
        kinds(crashed.path()),
        [
            (CheckpointKind::Start, 0),
            (CheckpointKind::Start, 4),
            (CheckpointKind::Final, 4),
        ]
    );
    let report = verify(crashed.path(), Some(public_pem())).unwrap();
    assert_eq!(report.unclean_stops, 1, "{report:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_every_handle_ends_the_run_like_a_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(config(dir.path())).await.unwrap();
    append_seq(&log, 0, 2).await;
    drop(log);
    // The writer thread ends on its own and then releases the directory's
    // lock: wait for that (bounded: 10 s).
    let lock = std::fs::File::open(dir.path().join(credgate_audit::LOCK_FILE)).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while lock.try_lock().is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer never stopped"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        kinds(dir.path()),
        [(CheckpointKind::Start, 0), (CheckpointKind::Final, 2)]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_final_mark_edited_out_of_the_latest_checkpoint_refuses_the_open() {
    let (dir, longer) = stopped_and_longer(5, 2).await;
    std::fs::copy(segment(longer.path(), 1), segment(dir.path(), 1)).unwrap();
    // The final checkpoint's mark removed, its frame's CRC fixed up: it
    // reads as periodic, so the appended records would look like a crash's.
    let (at, mut last) = checkpoints(dir.path()).pop().unwrap();
    last.kind = CheckpointKind::Periodic;
    let file = dir.path().join("checkpoints.log");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.truncate(at);
    bytes.extend_from_slice(&frame(&serde_json::to_vec(&last).unwrap()));
    std::fs::write(&file, &bytes).unwrap();
    let c = corrupt_of(AuditLog::open(config(dir.path())).await.err().unwrap());
    assert_eq!(c.kind, ProblemKind::BadSignature, "{c}");
    assert_eq!(kinds(dir.path()).len(), 2, "nothing written");
    let v = verify(dir.path(), Some(public_pem())).unwrap_err();
    assert_eq!(v.kind, ProblemKind::BadSignature, "{v}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_log_is_not_opened_under_another_signing_key() {
    let (dir, _) = stopped_and_longer(2, 1).await;
    let (other, _) = credgate_audit::generate_signing_key_pem().unwrap();
    let mut cfg = config(dir.path());
    cfg.signer = credgate_audit::AuditSigner::from_pkcs8_pem(&other).unwrap();
    match AuditLog::open(cfg).await.err().unwrap() {
        AuditError::Config(why) => assert!(why.contains("a log keeps one signing key"), "{why}"),
        other => panic!("expected Config, got {other:?}"),
    }
    // The log's own key still opens it.
    let log = AuditLog::open(config(dir.path())).await.unwrap();
    log.shutdown().await.unwrap();
}

/// A stopped log whose last run wrote no record: `[start 0, final 3,
/// start 3, final 3]`, the checkpoints with their offsets.
async fn with_an_empty_run() -> (tempfile::TempDir, Vec<(usize, SignedCheckpoint)>) {
    let (_, longer) = stopped_and_longer(3, 0).await;
    let cps = checkpoints(longer.path());
    assert_eq!(
        cps.iter()
            .map(|(_, c)| (c.kind, c.tree_size))
            .collect::<Vec<_>>(),
        [
            (CheckpointKind::Start, 0),
            (CheckpointKind::Final, 3),
            (CheckpointKind::Start, 3),
            (CheckpointKind::Final, 3),
        ]
    );
    (longer, cps)
}

/// Rewrites `checkpoints.log` as these checkpoints, in this order.
fn rewrite_checkpoints(dir: &Path, cps: &[&SignedCheckpoint]) {
    let mut bytes = Vec::new();
    for cp in cps {
        bytes.extend_from_slice(&frame(&serde_json::to_vec(cp).unwrap()));
    }
    std::fs::write(dir.join("checkpoints.log"), bytes).unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_replayed_or_reordered_start_cannot_open_a_stopped_log() {
    let (dir, cps) = with_an_empty_run().await;
    let [(_, s0), (_, f3a), (_, s3), (_, f3b)] = &cps[..] else {
        unreachable!()
    };
    // Seqs 4–5, as a writer would have written them.
    let longer = copy_dir(dir.path());
    let log = AuditLog::open(config(longer.path())).await.unwrap();
    append_seq(&log, 3, 2).await;
    log.shutdown().await.unwrap();
    // Each list ends the log in a genuine, signed start at 3 that is not
    // where its run put it, so that seqs 4–5 would read as a crash's.
    let forged: [(&str, Vec<&SignedCheckpoint>); 3] = [
        (
            "start replayed after the last final",
            vec![s0, f3a, s3, f3b, s3],
        ),
        ("last final moved before the start", vec![s0, f3b, s3]),
        ("last run's final cut", vec![s0, f3a, s3]),
    ];
    for (what, list) in forged {
        let tampered = copy_dir(dir.path());
        std::fs::copy(segment(longer.path(), 1), segment(tampered.path(), 1)).unwrap();
        rewrite_checkpoints(tampered.path(), &list);
        let anchored = verify_anchored(tampered.path(), Some(public_pem()), &[(*f3b).clone()]);
        let v = anchored.unwrap_err();
        let open = AuditLog::open(config(tampered.path())).await;
        if what == "last run's final cut" {
            // Alone, a run that crashed after its start: only the held
            // final shows it was cut.
            assert_eq!(v.kind, ProblemKind::MissingCheckpoint, "{what}: {v}");
            assert_eq!(v.location.seq, Some(4), "{what}: {v}");
            open.unwrap().shutdown().await.unwrap();
        } else {
            assert_eq!(v.kind, ProblemKind::AppendedAfterFinal, "{what}: {v}");
            assert!(v.detail.contains("replayed or reordered"), "{what}: {v}");
            let verdict = verify(tampered.path(), Some(public_pem())).unwrap_err();
            assert_eq!(verdict.kind, ProblemKind::AppendedAfterFinal, "{what}");
            let c = corrupt_of(open.err().unwrap());
            assert_eq!(c.kind, ProblemKind::AppendedAfterFinal, "{what}: {c}");
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_log_whose_checkpoints_were_deleted_is_not_opened() {
    let (dir, _) = stopped_and_longer(3, 0).await;
    std::fs::remove_file(dir.path().join("checkpoints.log")).unwrap();
    let c = corrupt_of(AuditLog::open(config(dir.path())).await.err().unwrap());
    assert_eq!(c.kind, ProblemKind::MissingCheckpoint, "{c}");
    assert!(
        c.detail.contains("holds 3 records but no checkpoint"),
        "{c}"
    );
    assert!(
        !dir.path().join("checkpoints.log").exists(),
        "left as found"
    );
    // An empty log is opened as before (a first run).
    let fresh = tempfile::tempdir().unwrap();
    let log = AuditLog::open(config(fresh.path())).await.unwrap();
    log.shutdown().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_log_keeps_its_torn_checkpoint_tail() {
    let (dir, longer) = stopped_and_longer(5, 2).await;
    std::fs::copy(segment(longer.path(), 1), segment(dir.path(), 1)).unwrap();
    let file = dir.path().join("checkpoints.log");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(&[0, 0, 0, 9, 1, 2]);
    std::fs::write(&file, &bytes).unwrap();
    let c = corrupt_of(AuditLog::open(config(dir.path())).await.err().unwrap());
    assert_eq!(c.kind, ProblemKind::AppendedAfterFinal, "{c}");
    assert_eq!(std::fs::read(&file).unwrap(), bytes, "nothing cut");
}

#[tokio::test(flavor = "current_thread")]
async fn a_log_whose_first_checkpoint_is_a_late_start_is_reported() {
    let (_, longer) = stopped_and_longer(3, 2).await;
    let cps = checkpoints(longer.path());
    let report = verify(longer.path(), Some(public_pem())).unwrap();
    assert_eq!(report.first_checkpoint_is_late_start, None);
    // The first run's checkpoints gone: the log now begins at "start 3".
    rewrite_checkpoints(longer.path(), &[&cps[2].1, &cps[3].1]);
    let report = verify(longer.path(), Some(public_pem())).unwrap();
    assert_eq!(report.first_checkpoint_is_late_start, Some(3), "{report:?}");
}

/// A seal is signed like a checkpoint: a forged one (every field right
/// but the signature) on the last segment is not adopted at open, where
/// the next segment would chain onto it and later seals sign over it.
#[tokio::test(flavor = "current_thread")]
async fn a_forged_seal_is_not_adopted_at_open() {
    let (dir, _) = stopped_and_longer(3, 0).await;
    // A genuine seal of exactly these records: a copy rotated on its next
    // append (a segment over its size bound is sealed first).
    let rotated = copy_dir(dir.path());
    let mut cfg = config(rotated.path());
    cfg.segment_max_bytes = 1024;
    let log = AuditLog::open(cfg).await.unwrap();
    append_seq(&log, 3, 1).await;
    log.shutdown().await.unwrap();
    let seal_file = |d: &Path| d.join("seals").join("segment-000001.seal");
    let genuine = std::fs::read(seal_file(rotated.path())).unwrap();
    let mut seal: serde_json::Value = serde_json::from_slice(&frames(&genuine)[0].payload).unwrap();
    assert_eq!(seal["last_seq"], 3, "{seal}");

    // As a crash between sealing and starting the next segment leaves
    // it, the genuine seal opens; with another signature it does not.
    for (forge, opens) in [(false, true), (true, false)] {
        let tampered = copy_dir(dir.path());
        if forge {
            let other = checkpoints(dir.path()).pop().unwrap().1.signature;
            seal["signature"] = other.into();
        }
        let payload = serde_json::to_vec(&seal).unwrap();
        std::fs::write(seal_file(tampered.path()), frame(&payload)).unwrap();
        match AuditLog::open(config(tampered.path())).await {
            Ok(log) => {
                assert!(opens, "a forged seal was adopted");
                assert_eq!(crate::common::segments(tampered.path()), [1, 2]);
                log.shutdown().await.unwrap();
                verify(tampered.path(), Some(public_pem())).unwrap();
            }
            Err(e) => {
                assert!(!opens, "{e}");
                let c = corrupt_of(e);
                assert_eq!(c.kind, ProblemKind::BadSignature, "{c}");
                assert_eq!(c.location.file, "seals/segment-000001.seal", "{c}");
            }
        }
    }
}
