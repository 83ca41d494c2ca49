//! Load loops, both bounded in time and in count:
//!
//! * **closed loop** (peak throughput): a fixed number of keep-alive
//!   connections, each sending its next request as soon as the previous
//!   answer is read;
//! * **open loop** (latency at an offered load): requests are *scheduled*
//!   at a fixed rate by a dedicated OS thread (its sleeps are precise to
//!   tens of microseconds, unlike tokio's 1 ms timer wheel) and handed to a
//!   pool of connections; latency runs from the scheduled start, so time a
//!   request waits for a free connection is counted (no coordinated
//!   omission).
//!
//! Latencies go into HDR histograms (1 µs .. 60 s, 3 significant digits).
//! Open loops record only requests scheduled after their warm-up; closed
//! loops are warmed up by a separate run.

use crate::client::{Conn, Outcome, Target};
use anyhow::Context as _;
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Mutex};

/// Upper bound of requests in one loop, whatever the duration.
const MAX_REQUESTS: u64 = 20_000_000;

/// What one measurement saw.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// Successful requests (200 with a body) recorded.
    pub ok: u64,
    /// Failed requests recorded (other status, transport error, timeout).
    pub errors: u64,
    /// A few distinct error descriptions, for the log.
    pub error_samples: Vec<String>,
    /// Length of the recorded window, seconds.
    pub window_s: f64,
    /// Latencies of successful requests, microseconds.
    pub hist: Histogram<u64>,
}

impl Measurement {
    fn new() -> anyhow::Result<Measurement> {
        Ok(Measurement {
            ok: 0,
            errors: 0,
            error_samples: Vec::new(),
            window_s: 0.0,
            hist: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        })
    }

    fn merge(&mut self, other: &Measurement) -> anyhow::Result<()> {
        self.ok += other.ok;
        self.errors += other.errors;
        for s in &other.error_samples {
            if self.error_samples.len() < 5 && !self.error_samples.contains(s) {
                self.error_samples.push(s.clone());
            }
        }
        self.hist.add(&other.hist)?;
        Ok(())
    }

    fn error(&mut self, what: String) {
        self.errors += 1;
        if self.error_samples.len() < 5 && !self.error_samples.contains(&what) {
            self.error_samples.push(what);
        }
    }

    fn record(&mut self, outcome: anyhow::Result<Outcome>, latency: Duration) {
        match outcome {
            Ok(Outcome::Ok) => {
                self.ok += 1;
                let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                // Values beyond the histogram's bound saturate at it.
                let _ = self.hist.record(us.clamp(1, 60_000_000));
            }
            Ok(Outcome::Status(s)) => self.error(format!("status {s}")),
            Err(e) => self.error(format!("{e:#}")),
        }
    }

    /// Completed successful requests per second over the window.
    pub fn rps(&self) -> f64 {
        if self.window_s > 0.0 {
            self.ok as f64 / self.window_s
        } else {
            0.0
        }
    }

    /// The `q`-quantile (0..1) of latency, milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }
}

/// Opens `n` connections, 64 handshakes at a time.
async fn connect_all(target: &Target, n: usize) -> anyhow::Result<Vec<Conn>> {
    let mut conns = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(64) {
        let mut set = tokio::task::JoinSet::new();
        for _ in chunk {
            let t = target.clone();
            set.spawn(async move { t.connect().await });
        }
        while let Some(r) = set.join_next().await {
            conns.push(r??);
        }
    }
    Ok(conns)
}

/// Sends request `i` on `conn`, replacing the connection first when the
/// server closed it, and after a transport error.
async fn call(target: &Target, conn: &mut Conn, i: u64) -> anyhow::Result<Outcome> {
    if conn.is_closed() {
        *conn = target.connect().await?;
    }
    let r = conn.call(target.request(i)?).await;
    if r.is_err() {
        if let Ok(c) = target.connect().await {
            *conn = c;
        }
    }
    r
}

/// Closed loop: `conns` connections (opened first) for `measure`; records
/// every request started in the window.
pub async fn closed(
    target: &Target,
    conns: usize,
    measure: Duration,
) -> anyhow::Result<Measurement> {
    let pool = connect_all(target, conns)
        .await
        .with_context(|| format!("{}: opening {conns} connections", target.name))?;
    let end = Instant::now() + measure;
    let next = Arc::new(AtomicU64::new(0));
    let mut set = tokio::task::JoinSet::new();
    for mut conn in pool {
        let target = target.clone();
        let next = next.clone();
        set.spawn(async move {
            let mut m = Measurement::new()?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let t0 = Instant::now();
                if t0 >= end || i >= MAX_REQUESTS {
                    break;
                }
                let outcome = call(&target, &mut conn, i).await;
                m.record(outcome, t0.elapsed());
            }
            anyhow::Ok(m)
        });
    }
    let mut total = Measurement::new()?;
    while let Some(r) = set.join_next().await {
        total.merge(&r??)?;
    }
    total.window_s = measure.as_secs_f64();
    Ok(total)
}

/// Open loop: requests scheduled at `rate` per second for
/// `warmup + measure`, served by `conns` connections; latency from the
/// scheduled start. Records the requests scheduled after the warm-up.
pub async fn open(
    target: &Target,
    rate: f64,
    conns: usize,
    warmup: Duration,
    measure: Duration,
) -> anyhow::Result<Measurement> {
    anyhow::ensure!(rate > 0.0, "offered rate must be positive");
    let pool = connect_all(target, conns)
        .await
        .with_context(|| format!("{}: opening {conns} connections", target.name))?;
    let total_s = (warmup + measure).as_secs_f64();
    // Bounded in count as well as in time.
    let total = ((rate * total_s).ceil() as u64).min(MAX_REQUESTS);
    let start = Instant::now() + Duration::from_millis(20);
    let record_from = start + warmup;
    let (tx, rx) = mpsc::unbounded_channel::<(u64, Instant)>();
    let rx = Arc::new(Mutex::new(rx));
    let stop = Arc::new(AtomicBool::new(false));
    let scheduler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            for i in 0..total {
                let at = start + Duration::from_secs_f64(i as f64 / rate);
                let now = Instant::now();
                if at > now {
                    std::thread::sleep(at - now);
                }
                if stop.load(Ordering::Relaxed) || tx.send((i, at)).is_err() {
                    break;
                }
            }
        })
    };
    let mut set = tokio::task::JoinSet::new();
    for mut conn in pool {
        let target = target.clone();
        let rx = rx.clone();
        set.spawn(async move {
            let mut m = Measurement::new()?;
            loop {
                let job = rx.lock().await.recv().await;
                let Some((i, at)) = job else { break };
                let outcome = call(&target, &mut conn, i).await;
                if at >= record_from {
                    m.record(outcome, at.elapsed());
                }
            }
            anyhow::Ok(m)
        });
    }
    let mut sum = Measurement::new()?;
    let mut failure = None;
    while let Some(r) = set.join_next().await {
        match r.map_err(anyhow::Error::from).and_then(|m| m) {
            Ok(m) => sum.merge(&m)?,
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                failure.get_or_insert(e);
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    if scheduler.join().is_err() {
        anyhow::bail!("the open-loop scheduler thread panicked");
    }
    if let Some(e) = failure {
        return Err(e);
    }
    sum.window_s = measure.as_secs_f64();
    Ok(sum)
}
