//! Write failures: injected, and real ones (file deleted underneath,
//! immutable file or directory); nothing unacknowledged is kept, nothing
//! acknowledged is lost, and the log recovers with contiguous seqs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;

use credgate_audit::{query_dir, verify, AuditError, AuditLog, Query};

use crate::common::{append_concurrent, append_seq, config, public_pem, record, segment, segments};

/// All seqs of the log in `dir`, read offline, ascending.
fn seqs_on_disk(dir: &Path) -> Vec<u64> {
    let mut out = Vec::new();
    let mut cursor = None;
    for _ in 0..1000 {
        let page = query_dir(
            dir,
            &Query {
                limit: Some(1000),
                cursor,
                ..Query::default()
            },
        )
        .unwrap()
        .page;
        out.extend(page.records.iter().map(|r| r.seq));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    out.sort_unstable();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_failures_refuse_appends_then_recover_with_contiguous_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let fail = cfg.danger_fail_writes_for_tests.clone();
    let log = AuditLog::open(cfg).await.unwrap();
    assert_eq!(append_seq(&log, 0, 10).await, (1..=10).collect::<Vec<_>>());
    let durable_len = std::fs::metadata(segment(dir.path(), 1)).unwrap().len();

    fail.store(true, Ordering::SeqCst);
    let tasks: Vec<_> = (0..5)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move { log.append(record(100 + i)).await })
        })
        .collect();
    for t in tasks {
        let err = t.await.unwrap().unwrap_err();
        assert!(matches!(err, AuditError::Io { .. }), "{err:?}");
    }
    let stats = log.stats();
    assert!(stats.failed_batches >= 1);
    assert!(stats.failing);
    assert_eq!(stats.tree_size, 10);
    // The failed batch's bytes were written, then cut back.
    assert_eq!(
        std::fs::metadata(segment(dir.path(), 1)).unwrap().len(),
        durable_len
    );
    assert_eq!(log.tree_size(), 10);
    assert_eq!(log.record(11).unwrap(), None);

    fail.store(false, Ordering::SeqCst);
    assert_eq!(log.append(record(200)).await.unwrap().seq, 11);
    assert!(!log.stats().failing);
    assert_eq!(
        append_concurrent(&log, 5).await,
        (12..=16).collect::<Vec<_>>()
    );
    log.shutdown().await.unwrap();

    assert_eq!(seqs_on_disk(dir.path()), (1..=16).collect::<Vec<_>>());
    let report = verify(dir.path(), Some(public_pem())).unwrap();
    assert_eq!(report.tree_size, 16);
    let reopened = AuditLog::open(config(dir.path())).await.unwrap();
    assert_eq!(reopened.append(record(300)).await.unwrap().seq, 17);
}

#[tokio::test(flavor = "current_thread")]
async fn deleted_active_segment_is_restored_from_the_open_handle() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(config(dir.path())).await.unwrap();
    append_seq(&log, 0, 5).await;
    std::fs::remove_file(segment(dir.path(), 1)).unwrap();
    assert_eq!(log.append(record(5)).await.unwrap().seq, 6);
    log.shutdown().await.unwrap();
    assert_eq!(seqs_on_disk(dir.path()), (1..=6).collect::<Vec<_>>());
    verify(dir.path(), Some(public_pem())).unwrap();
}

/// Sets the immutable attribute on a path (refused even to root) and
/// clears it on drop; `None` where `chattr` does not work.
struct Immutable(PathBuf);

impl Immutable {
    fn set(path: &Path) -> Option<Self> {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self(path.to_path_buf()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "current_thread")]
async fn immutable_segment_file_gives_io_errors_until_writable_again() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(config(dir.path())).await.unwrap();
    append_seq(&log, 0, 3).await;
    let Some(guard) = Immutable::set(&segment(dir.path(), 1)) else {
        eprintln!("chattr +i unavailable here; skipping the real-I/O-error part");
        return;
    };
    let err = log.append(record(3)).await.unwrap_err();
    assert!(matches!(err, AuditError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("segment-000001.log"), "{err}");
    assert!(log.append(record(4)).await.is_err());
    drop(guard);
    assert_eq!(log.append(record(5)).await.unwrap().seq, 4);
    log.shutdown().await.unwrap();
    assert_eq!(seqs_on_disk(dir.path()), vec![1, 2, 3, 4]);
    verify(dir.path(), Some(public_pem())).unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn rotation_into_an_unwritable_directory_fails_then_completes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.segment_max_bytes = 1024;
    let log = AuditLog::open(cfg).await.unwrap();
    // Two ~600-byte records fill the first segment past 1 KiB.
    append_seq(&log, 0, 2).await;
    let Some(guard) = Immutable::set(dir.path()) else {
        eprintln!("chattr +i unavailable here; skipping");
        return;
    };
    let err = log.append(record(2)).await.unwrap_err();
    assert!(
        matches!(err, AuditError::Io { op: "create", .. }),
        "{err:?}"
    );
    assert_eq!(segments(dir.path()), vec![1]);
    drop(guard);
    assert_eq!(log.append(record(3)).await.unwrap().seq, 3);
    assert_eq!(segments(dir.path()), vec![1, 2]);
    log.shutdown().await.unwrap();
    let report = verify(dir.path(), Some(public_pem())).unwrap();
    assert_eq!((report.tree_size, report.seals), (3, 1));
}
