//! Benchmarks, `#[ignore]`d; they print figures and assert nothing about time:
//!
//! ```text
//! CARGO_TARGET_DIR=/work/tgt-audit cargo test -p credgate-audit --release \
//!     --test audit -- --ignored --nocapture bench_
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use credgate_audit::{
    pseudonym, query_dir, verify, verify_consistency, verify_inclusion, AuditError, AuditLog,
    Decision, Query,
};

use crate::common::{config, public_pem, record};

/// Runs `appenders` tasks doing `each` appends; prints throughput, batch
/// sizes and latency percentiles.
async fn throughput(appenders: usize, each: usize) {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(config(dir.path())).await.unwrap();
    let start = Instant::now();
    let tasks: Vec<_> = (0..appenders)
        .map(|t| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(each);
                for i in 0..each {
                    let t0 = Instant::now();
                    log.append(record((t * each + i) as u64)).await.unwrap();
                    lat.push(t0.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<Duration> = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    lat.sort_unstable();
    let stats = log.stats();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "appenders={appenders:4} appends={:7} {:9.0} appends/s  batches={:6} mean_batch={:6.1} \
         append latency p50={:?} p99={:?} last_write={}us",
        lat.len(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        stats.batches,
        stats.mean_batch_size,
        pct(0.5),
        pct(0.99),
        stats.last_write_micros
    );
    log.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --release --ignored --nocapture"]
async fn bench_group_commit_throughput() {
    throughput(1, 2000).await;
    throughput(8, 2000).await;
    throughput(64, 1000).await;
    throughput(256, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: writes about 700 MB; run with --release --ignored --nocapture"]
async fn bench_million_records() {
    const N: u64 = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.max_batch = 2000;
    cfg.checkpoint_every_records = 100_000;
    let log = AuditLog::open(cfg.clone()).await.unwrap();
    let start = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let tasks: Vec<_> = (0..512)
        .map(|_| {
            let log = log.clone();
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                for _ in 0..N {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= N {
                        break;
                    }
                    loop {
                        match log.append(record(i)).await {
                            Ok(_) => break,
                            Err(AuditError::Saturated { .. }) => tokio::task::yield_now().await,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let stats = log.stats();
    println!(
        "generated {N} records in {:?} ({:.0}/s, mean batch {:.1}, {} segments of 64 MiB)",
        start.elapsed(),
        N as f64 / start.elapsed().as_secs_f64(),
        stats.mean_batch_size,
        std::fs::read_dir(dir.path()).unwrap().count() - 4
    );
    log.shutdown().await.unwrap();

    let t = Instant::now();
    let log = AuditLog::open(cfg).await.unwrap();
    println!(
        "open (scan, CRC, leaf hashes, index, seal checks) of {N} records: {:?}; index {:.1} B/record, RSS {}",
        t.elapsed(),
        log.index_bytes() as f64 / N as f64,
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("VmRSS"))
            .unwrap_or("VmRSS: ?")
    );
    assert_eq!(log.tree_size(), N);

    let queries = [
        ("newest 100", Query::default()),
        (
            "client, limit 1000",
            Query {
                client: Some("client-3".into()),
                limit: Some(1000),
                ..Query::default()
            },
        ),
        (
            "subject",
            Query {
                subject_pseudonym: Some(pseudonym(b"test-key", "subject-7")),
                ..Query::default()
            },
        ),
        (
            "deny + cursor deep",
            Query {
                decision: Some(Decision::Deny),
                cursor: Some(1000),
                ..Query::default()
            },
        ),
        (
            "no match (full scan)",
            Query {
                subject_pseudonym: Some("00".repeat(32)),
                ..Query::default()
            },
        ),
    ];
    for (name, q) in &queries {
        let t = Instant::now();
        let page = log.query_blocking(q).unwrap();
        println!(
            "query {name:22}: {:5} records in {:?}",
            page.records.len(),
            t.elapsed()
        );
    }
    let t = Instant::now();
    let root = log.root(N).unwrap();
    let proof = log.inclusion_proof(123_457, N).unwrap();
    let leaf = log.leaf_hash(123_457).unwrap();
    assert!(verify_inclusion(&leaf, 123_456, N, &proof, &root));
    let cproof = log.consistency_proof(654_321, N).unwrap();
    assert!(verify_consistency(
        654_321,
        N,
        &log.root(654_321).unwrap(),
        &root,
        &cproof
    ));
    println!(
        "root + inclusion + consistency proofs over {N} leaves, verified: {:?}",
        t.elapsed()
    );
    log.shutdown().await.unwrap();

    let t = Instant::now();
    let page = query_dir(dir.path(), &queries[1].1).unwrap().page;
    println!(
        "offline query_dir (loads the index): {} records in {:?}",
        page.records.len(),
        t.elapsed()
    );
    let t = Instant::now();
    let report = verify(dir.path(), Some(public_pem())).unwrap();
    println!(
        "verify of {} records, {} checkpoints: {:?}",
        report.tree_size,
        report.checkpoints,
        t.elapsed()
    );
}

/// Open loop: appends scheduled at `rate` per second for `secs`, each
/// timed from its scheduled start; prints latency percentiles and batches.
async fn open_loop(cfg: credgate_audit::AuditConfig, rate: u64, secs: u64) {
    let log = AuditLog::open(cfg).await.unwrap();
    let before = log.stats();
    let n = rate * secs;
    let interval = Duration::from_nanos(1_000_000_000 / rate);
    let start = tokio::time::Instant::now() + Duration::from_millis(10);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sched = {
        let log = log.clone();
        tokio::spawn(async move {
            for i in 0..n {
                let at = start + interval * i as u32;
                tokio::time::sleep_until(at).await;
                let log = log.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    log.append(record(i)).await.unwrap();
                    let _ = tx.send(at.elapsed());
                });
            }
        })
    };
    sched.await.unwrap();
    let mut lat = Vec::with_capacity(n as usize);
    for _ in 0..n {
        lat.push(rx.recv().await.unwrap());
    }
    lat.sort_unstable();
    let after = log.stats();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let batches = after.batches - before.batches;
    println!(
        "open loop {rate:6}/s x {secs}s: p50={:?} p90={:?} p99={:?} p99.9={:?} max={:?} batches={batches} mean_batch={:.2}",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(0.999),
        lat[lat.len() - 1],
        (after.records - before.records) as f64 / batches.max(1) as f64,
    );
    log.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --release --ignored --nocapture"]
async fn bench_open_loop_latency() {
    let dir =
        tempfile::tempdir_in(std::env::var_os("AUDIT_BENCH_DIR").unwrap_or(".".into())).unwrap();
    for rate in [1000, 4000, 8000, 16000] {
        let sub = dir.path().join(rate.to_string());
        open_loop(config(&sub), rate, 4).await;
    }
}
