//! Group commit and the bounded queue.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use credgate_audit::{AuditError, AuditLog, BatchReport, Query};

use crate::common::{append_concurrent, config, record};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_share_fsyncs_and_get_contiguous_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let mut cfg = config(dir.path());
    let seen = Arc::clone(&sizes);
    cfg.on_batch = Some(Arc::new(move |b: &BatchReport| {
        seen.lock().unwrap().push(b.records);
    }));
    let log = AuditLog::open(cfg).await.unwrap();

    let seqs = append_concurrent(&log, 200).await;
    assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
    let stats = log.stats();
    assert_eq!(stats.records, 200);
    assert_eq!(stats.tree_size, 200);
    assert_eq!(stats.failed_batches, 0);
    assert!(
        stats.batches < 200,
        "expected shared fsyncs, got {} batches for 200 records",
        stats.batches
    );
    assert!(stats.mean_batch_size > 1.0);
    let observed = sizes.lock().unwrap().clone();
    assert_eq!(observed.iter().sum::<usize>(), 200);
    assert_eq!(observed.len() as u64, stats.batches);

    // Everything acknowledged is readable, and the log verifies.
    let page = log
        .query_blocking(&Query {
            limit: Some(1000),
            ..Query::default()
        })
        .unwrap();
    assert_eq!(page.records.len(), 200);
    assert_eq!(page.records[0].seq, 200);
    log.shutdown().await.unwrap();
    let report = credgate_audit::verify(dir.path(), Some(crate::common::public_pem())).unwrap();
    assert_eq!(report.tree_size, 200);
}

#[tokio::test(flavor = "current_thread")]
async fn full_queue_refuses_at_once_with_saturated() {
    let dir = tempfile::tempdir().unwrap();
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let entered_tx = Mutex::new(entered_tx);
    let blocked_once = AtomicBool::new(false);
    let mut cfg = config(dir.path());
    cfg.queue_bound = 4;
    // The observer runs on the writer thread: block it after the first
    // batch so that the queue fills up behind it.
    cfg.on_batch = Some(Arc::new(move |_: &BatchReport| {
        if !blocked_once.swap(true, Ordering::SeqCst) {
            entered_tx.lock().unwrap().send(()).unwrap();
            release_rx.lock().unwrap().recv().unwrap();
        }
    }));
    let log = AuditLog::open(cfg).await.unwrap();

    let first = tokio::spawn({
        let log = log.clone();
        async move { log.append(record(0)).await }
    });
    tokio::task::spawn_blocking(move || entered_rx.recv().unwrap())
        .await
        .unwrap();
    // The writer is stuck in the observer: fill the queue.
    let queued: Vec<_> = (1..=4)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move { log.append(record(i)).await })
        })
        .collect();
    for _ in 0..1000 {
        if log.stats().queue_depth == 4 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(log.stats().queue_depth, 4);
    let refused = log.append(record(99)).await;
    assert!(
        matches!(refused, Err(AuditError::Saturated { bound: 4 })),
        "{refused:?}"
    );

    release_tx.send(()).unwrap();
    assert_eq!(first.await.unwrap().unwrap().seq, 1);
    let mut seqs = Vec::new();
    for q in queued {
        seqs.push(q.await.unwrap().unwrap().seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, vec![2, 3, 4, 5]);
    assert_eq!(log.stats().queue_depth, 0);
    // The refused record took no seq.
    assert_eq!(log.append(record(100)).await.unwrap().seq, 6);
}

#[tokio::test(flavor = "current_thread")]
async fn shutdown_writes_a_final_checkpoint_and_closes() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(config(dir.path())).await.unwrap();
    crate::common::append_seq(&log, 0, 3).await;
    let other = log.clone();
    let cp = log.shutdown().await.unwrap().unwrap();
    assert_eq!(cp.tree_size, 3);
    assert_eq!(log.latest_checkpoint(), Some(cp.clone()));
    assert!(matches!(
        other.append(record(4)).await,
        Err(AuditError::Closed)
    ));
    assert_eq!(
        credgate_audit::latest_checkpoint_dir(dir.path()).unwrap(),
        Some(cp)
    );
}

/// Readers needing a checkpoint that covers the newest record share one
/// (concurrent callers get the same checkpoint), and a covering checkpoint
/// is reused rather than a new one written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_demand_checkpoints_are_shared_and_reused() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let log = credgate_audit::AuditLog::open(crate::common::config(dir.path()))
        .await
        .unwrap();
    crate::common::append_seq(&log, 0, 1).await;
    let interval = Duration::from_millis(200);
    let first = log.checkpoint_covering(1, interval).await.unwrap();
    assert_eq!(first.tree_size, 1);
    assert_eq!(
        log.checkpoint_covering(1, interval).await.unwrap(),
        first,
        "reused"
    );
    crate::common::append_seq(&log, 1, 1).await;
    let (a, b) = tokio::join!(
        log.checkpoint_covering(2, interval),
        log.checkpoint_covering(2, interval)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.tree_size, 2);
    assert_eq!(a, b, "one checkpoint for both");
    log.shutdown().await.unwrap();
    let report = credgate_audit::verify(dir.path(), Some(crate::common::public_pem())).unwrap();
    // the run's start, first, the shared one, and the shutdown's (at most).
    assert!(report.checkpoints <= 4, "{report:?}");
}
