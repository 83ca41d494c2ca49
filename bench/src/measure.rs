//! Measurement steps shared by the scenarios: a pre-flight request that
//! proves the target answers what the scenario claims, a metered
//! closed-loop peak, probes of the rate limiter and of Redis, and the
//! optional `oha` cross-check.

use crate::client::{Outcome, Target};
use crate::load::{self, Measurement};
use crate::procfs::{CpuMeter, CpuUse};
use anyhow::Context as _;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// What the pre-flight request must show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Any 200 with a body (direct, nginx).
    Body,
    /// A credgate report with an audit sequence number.
    Audited,
    /// A credgate report without one (`danger_disabled`).
    Unaudited,
}

/// Load parameters shared by all steps.
#[derive(Clone, Debug)]
pub struct Params {
    /// Closed-loop connections.
    pub concurrency: usize,
    /// Warm-up before each measurement.
    pub warmup: Duration,
    /// Measured window.
    pub measure: Duration,
    /// Open-loop connections.
    pub open_conns: usize,
}

/// One request through the target; fails unless it answers as expected.
pub async fn preflight(t: &Target, expect: Expect) -> anyhow::Result<()> {
    let mut c = t.connect().await?;
    let (status, headers, body) = c.fetch(t.request(0)?).await?;
    let text = String::from_utf8_lossy(&body);
    anyhow::ensure!(
        status == 200,
        "{}: pre-flight request answered {status}: {}",
        t.name,
        text.chars().take(300).collect::<String>()
    );
    let seq = headers.contains_key("x-audit-seq");
    match expect {
        Expect::Body => anyhow::ensure!(!body.is_empty(), "{}: empty body", t.name),
        Expect::Audited | Expect::Unaudited => {
            anyhow::ensure!(
                text.contains("\"basic\""),
                "{}: no basic section in the answer",
                t.name
            );
            anyhow::ensure!(
                seq == (expect == Expect::Audited),
                "{}: X-Audit-Seq {} but audit is {}",
                t.name,
                if seq { "present" } else { "absent" },
                if expect == Expect::Audited {
                    "on"
                } else {
                    "off"
                }
            );
        }
    }
    eprintln!(
        "bench: {}: pre-flight ok ({} bytes{})",
        t.name,
        body.len(),
        if seq { ", X-Audit-Seq present" } else { "" }
    );
    Ok(())
}

/// Warm-up, then a closed-loop measurement with the CPU time of `roles`
/// metered over the measured window only.
pub async fn peak(
    t: &Target,
    p: &Params,
    roles: Vec<(String, Vec<u32>)>,
) -> anyhow::Result<(Measurement, CpuUse)> {
    load::closed(t, p.concurrency, p.warmup).await?;
    let meter = CpuMeter::start(roles);
    let m = load::closed(t, p.concurrency, p.measure).await?;
    let cpu = meter.stop();
    eprintln!(
        "bench: {:<16} peak {:>8.0} rps  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}  (other load on the machine: {:.2} cores){}",
        t.name,
        m.rps(),
        m.quantile_ms(0.5),
        m.quantile_ms(0.99),
        m.errors,
        cpu.background_cores,
        errors_suffix(&m)
    );
    Ok((m, cpu))
}

/// An open-loop run at `rate`, with the CPU of `roles` metered.
pub async fn open(
    t: &Target,
    p: &Params,
    rate: f64,
    roles: Vec<(String, Vec<u32>)>,
) -> anyhow::Result<(Measurement, CpuUse)> {
    let meter = CpuMeter::start(roles);
    let m = load::open(t, rate, p.open_conns, p.warmup, p.measure).await?;
    let cpu = meter.stop();
    eprintln!(
        "bench: {:<16} open {:>6.0}/s achieved {:>6.0} rps  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}  (other load: {:.2} cores){}",
        t.name,
        rate,
        m.rps(),
        m.quantile_ms(0.5),
        m.quantile_ms(0.99),
        m.errors,
        cpu.background_cores,
        errors_suffix(&m)
    );
    Ok((m, cpu))
}

fn errors_suffix(m: &Measurement) -> String {
    if m.error_samples.is_empty() {
        String::new()
    } else {
        format!(" ({})", m.error_samples.join("; "))
    }
}

/// Sends `n` requests as fast as 4 connections allow and counts 429s:
/// whether a rate limiter refuses beyond the policy's limit.
pub async fn rate_limited(t: &Target, n: u64) -> anyhow::Result<u64> {
    let mut set = tokio::task::JoinSet::new();
    for k in 0..4u64 {
        let t = t.clone();
        set.spawn(async move {
            let mut c = t.connect().await?;
            let mut refused = 0;
            for i in (k..n).step_by(4) {
                if c.call(t.request(i)?).await? == Outcome::Status(429) {
                    refused += 1;
                }
            }
            anyhow::Ok(refused)
        });
    }
    let mut refused = 0;
    while let Some(r) = set.join_next().await {
        refused += r??;
    }
    Ok(refused)
}

/// `total_commands_processed` of a Redis server (`INFO stats`).
pub async fn redis_commands(addr: SocketAddr) -> anyhow::Result<u64> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(b"*2\r\n$4\r\nINFO\r\n$5\r\nstats\r\n").await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if String::from_utf8_lossy(&buf).contains("total_commands_processed:")
                && buf.ends_with(b"\r\n\r\n")
            {
                break;
            }
            if buf.len() > 1 << 20 {
                break;
            }
        }
        anyhow::Ok(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), read).await;
    let text = String::from_utf8_lossy(&buf);
    text.lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|v| v.trim().parse().ok())
        .context("no total_commands_processed in INFO stats")
}

/// Runs `oha` against `url` with the `dept-nb` identity, the same
/// concurrency and duration as a closed-loop run, with the CPU time of
/// `roles` and of oha itself metered, and returns its summary.
pub async fn oha(
    bin: &str,
    url: &str,
    certs: &std::path::Path,
    p: &Params,
    roles: Vec<(String, Vec<u32>)>,
) -> anyhow::Result<serde_json::Value> {
    let c = |rel: &str| certs.join(rel).display().to_string();
    let children0 = crate::procfs::children_cpu_secs();
    let meter = CpuMeter::start(roles);
    let out = tokio::process::Command::new(bin)
        .args(["--no-tui", "--output-format", "json", "-z"])
        .arg(format!("{}s", p.measure.as_secs()))
        .arg("-c")
        .arg(p.concurrency.to_string())
        .args(["--cert", &c("clients/dept-nb.crt")])
        .args(["--key", &c("clients/dept-nb.key")])
        .args(["--cacert", &c("ca.crt")])
        .args(["-H", "X-Credit-Purpose: administrative_approval"])
        .arg(url)
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("running {bin}"))?;
    let cpu = meter.stop();
    // oha has exited and been waited for: its CPU time is in ours.
    let oha_cpu = crate::procfs::children_cpu_secs() - children0;
    anyhow::ensure!(
        out.status.success(),
        "oha failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).context("oha's JSON output")?;
    let ms = |x: &serde_json::Value| x.as_f64().map(|s| crate::report::round(s * 1000.0, 3));
    let ok = v["statusCodeDistribution"]["200"].as_u64().unwrap_or(0);
    let secs = p.measure.as_secs_f64().max(1e-3);
    let per_request = |s: f64| crate::report::round(s * 1000.0 / ok.max(1) as f64, 4);
    let mut cpu_ms: serde_json::Map<String, serde_json::Value> = cpu
        .roles
        .iter()
        .map(|(role, s)| (role.clone(), per_request(*s).into()))
        .collect();
    cpu_ms.insert("oha".into(), per_request(oha_cpu).into());
    Ok(serde_json::json!({
        "tool": "oha",
        "url": url,
        "concurrency": p.concurrency,
        "duration_s": secs,
        "rps": crate::report::round(ok as f64 / secs, 1),
        "p50_ms": ms(&v["latencyPercentiles"]["p50"]),
        "p99_ms": ms(&v["latencyPercentiles"]["p99"]),
        "status_codes": v["statusCodeDistribution"].clone(),
        "errors": v["errorDistribution"].clone(),
        "cpu_ms_per_request": cpu_ms,
        "background_cores": crate::report::round(cpu.background_cores, 2),
    }))
}
