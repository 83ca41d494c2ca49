//! Memory at 10,000 idle keep-alive connections: open N mutual-TLS
//! connections to a fresh gateway (handshakes in parallel, bounded), read
//! its resident size; then send one request on each (so every connection
//! is an idle keep-alive HTTP/1.1 connection that has served a request)
//! and read it again. The connections stay open until both readings.

use crate::client::{Conn, Outcome, Target};
use crate::procfs::rss_mib;
use anyhow::Context as _;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How long the gateway is left to settle before a reading.
const SETTLE: Duration = Duration::from_secs(2);

/// The readings.
#[derive(Clone, Debug, Serialize)]
pub struct IdleResult {
    /// Connections open at the readings.
    pub connections: usize,
    /// Gateway RSS before any client connection (after its warm-up
    /// request), MiB.
    pub rss_baseline_mib: f64,
    /// RSS with every connection handshaken but no request yet, MiB.
    pub rss_after_handshake_mib: f64,
    /// RSS with every connection idle after one request, MiB (the figure
    /// reported as `rss_10k_idle_mib`).
    pub rss_after_request_mib: f64,
    /// Per-connection cost after a request, KiB.
    pub kib_per_connection: f64,
    /// Wall time of the handshakes, seconds.
    pub handshake_s: f64,
    /// Wall time of the N requests, seconds.
    pub requests_s: f64,
}

/// Runs the measurement against the gateway process `pid`.
pub async fn run(
    target: &Target,
    pid: u32,
    n: usize,
    parallel: usize,
) -> anyhow::Result<IdleResult> {
    // One request first so the baseline includes the upstream pool, the
    // audit writer and the first-use allocations.
    let mut warm = target.connect().await?;
    let first = warm.call(target.request(0)?).await?;
    anyhow::ensure!(first == Outcome::Ok, "warm-up request failed: {first:?}");
    drop(warm);
    tokio::time::sleep(SETTLE).await;
    let rss_baseline_mib = rss_mib(pid)?;

    let gate = Arc::new(Semaphore::new(parallel.max(1)));
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let t = target.clone();
        let gate = gate.clone();
        set.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            t.handshake().await
        });
    }
    let mut streams = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        streams.push(r?.context("idle connection")?);
    }
    let handshake_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(SETTLE).await;
    let rss_after_handshake_mib = rss_mib(pid)?;

    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for (i, s) in streams.into_iter().enumerate() {
        let t = target.clone();
        let gate = gate.clone();
        set.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let mut c = Conn::over(s).await?;
            let out = c.call(t.request(i as u64)?).await?;
            anyhow::ensure!(out == Outcome::Ok, "request on an idle connection: {out:?}");
            anyhow::Ok(c)
        });
    }
    let mut conns = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        conns.push(r??);
    }
    let requests_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(SETTLE).await;
    let rss_after_request_mib = rss_mib(pid)?;
    let open = conns.iter().filter(|c| !c.is_closed()).count();
    anyhow::ensure!(
        open == n,
        "only {open} of {n} connections still open at the reading"
    );
    drop(conns);
    Ok(IdleResult {
        connections: n,
        rss_baseline_mib,
        rss_after_handshake_mib,
        rss_after_request_mib,
        kib_per_connection: (rss_after_request_mib - rss_baseline_mib) * 1024.0 / n.max(1) as f64,
        handshake_s,
        requests_s,
    })
}
