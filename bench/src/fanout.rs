//! SPEC §13: "fan-out cost grows with the slowest platform, not the sum of
//! platforms". The four simulated platforms run in this process, a gateway
//! is configured for all four (the demo's configuration), and one
//! `POST /v1/sanctions/check` whose batch needs every platform is timed
//! while each platform answers after a set delay (the platforms' `latency`
//! fault). With delays d₁…d₄, a gateway that fans out in parallel answers
//! in about max(dᵢ) plus its own cost; one that called the platforms one
//! after another would take the sum.

use crate::client::Target;
use crate::procs::Registry;
use crate::services;
use crate::setup::{self, Variant, Workspace};
use anyhow::Context as _;
use bytes::Bytes;
use credgate_sim::server::{Fault, FaultMode};
use http::{header, Request};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Timed requests per case (sequential, on one keep-alive connection).
const REQUESTS: usize = 10;

/// Platform delays per case, ms, in `credgate_sim::platforms()` order.
const CASES: [[u64; 4]; 4] = [
    [0, 0, 0, 0],
    [0, 0, 0, 100],
    [100, 100, 100, 100],
    [25, 50, 75, 100],
];

/// The fan-out measurement.
#[derive(Debug, Serialize)]
pub struct FanoutResult {
    /// Subjects in the batch (one per platform region, so every platform
    /// is asked).
    pub subjects: usize,
    /// One entry per delay setting.
    pub cases: Vec<FanoutCase>,
    /// Every case's median within [`TOLERANCE_MS`] of its slowest platform
    /// plus the no-delay median.
    pub grows_with_slowest: bool,
}

/// One delay setting.
#[derive(Debug, Serialize)]
pub struct FanoutCase {
    /// The delay each platform adds, ms.
    pub platform_delay_ms: BTreeMap<String, u64>,
    /// The largest delay (what a parallel fan-out waits for), ms.
    pub slowest_ms: u64,
    /// The sum of the delays (what calls one after another would wait
    /// for), ms.
    pub sum_ms: u64,
    /// Requests timed.
    pub requests: usize,
    /// Median end-to-end latency, ms.
    pub p50_ms: f64,
    /// Largest end-to-end latency, ms.
    pub max_ms: f64,
    /// Requests that did not answer 200 with every platform present
    /// (`partial: false`).
    pub errors: usize,
}

/// How far a case's median may exceed slowest + the no-delay median
/// before the fan-out counts as not parallel, ms.
pub const TOLERANCE_MS: f64 = 20.0;

/// Runs the measurement on a gateway of its own.
pub async fn run(
    ws: &Workspace,
    credgate: &str,
    client_tls: Arc<rustls::ClientConfig>,
    registry: &Arc<Registry>,
) -> anyhow::Result<FanoutResult> {
    let platforms = credgate_sim::start_all(&ws.certs, credgate::demo::DEMO_SEED)
        .await
        .context("starting the four simulated platforms")?;
    let result = measure(ws, credgate, client_tls, registry, &platforms).await;
    for p in platforms {
        p.shutdown().await;
    }
    if let Ok(f) = &result {
        let medians: Vec<String> = f.cases.iter().map(|c| c.p50_ms.to_string()).collect();
        let delays: Vec<String> = CASES.iter().map(|d| format!("{d:?}")).collect();
        eprintln!(
            "bench: fan-out: median {} ms with the platforms delayed {} ms",
            medians.join(" / "),
            delays.join(" / ")
        );
    }
    result
}

async fn measure(
    ws: &Workspace,
    credgate: &str,
    client_tls: Arc<rustls::ClientConfig>,
    registry: &Arc<Registry>,
    platforms: &[credgate_sim::RunningPlatform],
) -> anyhow::Result<FanoutResult> {
    let toml = setup::with_placeholders(platforms)?;
    let v = Variant {
        name: "credgate_fanout",
        audit: true,
        redis: None,
        rust_log: None,
    };
    let gw = services::start_gateway(ws, credgate, &toml, &v, registry).await?;
    let body = batch(platforms)?;
    let target = Target {
        name: v.name.into(),
        addr: gw.addr,
        tls: client_tls,
        paths: Arc::new(Vec::new()),
    };
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(target.handshake().await?)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut cases = Vec::new();
    for delays in CASES {
        let mut names = BTreeMap::new();
        for (p, ms) in platforms.iter().zip(delays) {
            p.set_fault(Fault {
                mode: if ms == 0 {
                    FaultMode::None
                } else {
                    FaultMode::Latency
                },
                latency_ms: ms,
                ..Fault::default()
            });
            names.insert(p.spec.name.to_owned(), ms);
        }
        // One untimed request per case: connections to the platforms and
        // the fault settings in place.
        post(&mut send, gw.addr, &body).await?;
        let mut times = Vec::with_capacity(REQUESTS);
        let mut errors = 0;
        for _ in 0..REQUESTS {
            let started = Instant::now();
            let complete = post(&mut send, gw.addr, &body).await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            errors += usize::from(!complete);
        }
        times.sort_by(f64::total_cmp);
        cases.push(FanoutCase {
            platform_delay_ms: names,
            slowest_ms: delays.iter().copied().max().unwrap_or(0),
            sum_ms: delays.iter().sum(),
            requests: REQUESTS,
            p50_ms: crate::report::round(times[REQUESTS / 2], 2),
            max_ms: crate::report::round(times[REQUESTS - 1], 2),
            errors,
        });
    }
    for p in platforms {
        p.set_fault(Fault::default());
    }
    drop(gw);
    Ok(FanoutResult {
        subjects: body_subjects(&body)?,
        grows_with_slowest: grows_with_slowest(&cases),
        cases,
    })
}

/// Whether every case answered completely, its median within
/// [`TOLERANCE_MS`] of its slowest platform plus the first (no-delay)
/// case's median.
fn grows_with_slowest(cases: &[FanoutCase]) -> bool {
    let base = cases.first().map_or(0.0, |c| c.p50_ms);
    cases
        .iter()
        .all(|c| c.errors == 0 && c.p50_ms <= c.slowest_ms as f64 + base + TOLERANCE_MS)
}

/// A sanctions batch with one enterprise of each platform's own region
/// (Ningbo's and Hangzhou's subjects also go to the province platform).
fn batch(platforms: &[credgate_sim::RunningPlatform]) -> anyhow::Result<Bytes> {
    let samples = credgate_sim::Dataset::generate(credgate::demo::DEMO_SEED).samples_json();
    let all = samples["enterprises"]
        .as_array()
        .context("samples.json has no enterprises")?;
    let mut subjects = Vec::new();
    for p in platforms {
        let uscc = all
            .iter()
            .find(|e| e["platform"] == p.spec.name)
            .and_then(|e| e["uscc"].as_str())
            .with_context(|| format!("no enterprise of {}", p.spec.name))?;
        subjects.push(uscc.to_owned());
    }
    Ok(Bytes::from(serde_json::to_vec(
        &serde_json::json!({ "subjects": subjects }),
    )?))
}

fn body_subjects(body: &Bytes) -> anyhow::Result<usize> {
    let v: serde_json::Value = serde_json::from_slice(body)?;
    Ok(v["subjects"].as_array().map_or(0, Vec::len))
}

/// One sanctions check; `true` when it answered 200 with every platform
/// (`partial: false`).
async fn post(
    send: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
    body: &Bytes,
) -> anyhow::Result<bool> {
    let req = Request::post("/v1/sanctions/check")
        .header(header::HOST, addr.to_string())
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-credit-purpose", "administrative_approval")
        .body(Full::new(body.clone()))?;
    let fut = async {
        send.ready().await?;
        let resp = send.send_request(req).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        anyhow::Ok(status == 200 && v["partial"] == false)
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .context("sanctions check timed out")?
}

/// The fan-out table of `results.md`.
pub fn markdown(o: &mut String, f: &FanoutResult) {
    use std::fmt::Write as _;
    let _ = writeln!(
        o,
        "\nFan-out: `POST /v1/sanctions/check` with {} subjects needing all four platforms, each platform answering after the delay shown ({} sequential requests per row; parallel fan-out waits for the slowest, sequential calls would wait for the sum):\n",
        f.subjects, REQUESTS
    );
    let _ = writeln!(
        o,
        "| platform delays ms | slowest ms | sum ms | p50 ms | max ms | p50 − slowest ms | errors |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|");
    for c in &f.cases {
        let delays: Vec<String> = c
            .platform_delay_ms
            .iter()
            .map(|(name, ms)| format!("{name} {ms}"))
            .collect();
        let _ = writeln!(
            o,
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {} |",
            delays.join(", "),
            c.slowest_ms,
            c.sum_ms,
            c.p50_ms,
            c.max_ms,
            c.p50_ms - c.slowest_ms as f64,
            c.errors
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(delays: [u64; 4], p50_ms: f64, errors: usize) -> FanoutCase {
        FanoutCase {
            platform_delay_ms: delays
                .iter()
                .enumerate()
                .map(|(i, ms)| (format!("p{i}"), *ms))
                .collect(),
            slowest_ms: delays.iter().copied().max().unwrap_or(0),
            sum_ms: delays.iter().sum(),
            requests: REQUESTS,
            p50_ms,
            max_ms: p50_ms,
            errors,
        }
    }

    #[test]
    fn the_verdict_tells_parallel_from_sequential_and_counts_errors() {
        let parallel = [
            case([0, 0, 0, 0], 4.0, 0),
            case([0, 0, 0, 100], 108.0, 0),
            case([100, 100, 100, 100], 109.0, 0),
        ];
        assert!(grows_with_slowest(&parallel));
        // Calls one after another: the median follows the sum.
        let sequential = [
            case([0, 0, 0, 0], 4.0, 0),
            case([100, 100, 100, 100], 405.0, 0),
        ];
        assert!(!grows_with_slowest(&sequential));
        // Fast but partial answers do not count.
        let partial = [case([0, 0, 0, 0], 4.0, 0), case([0, 0, 0, 100], 50.0, 3)];
        assert!(!grows_with_slowest(&partial));
    }
}
