//! Figures derived from the scenarios: added latency, ratios, the SPEC §13
//! checks, the audit batch size from the gateway's metrics, and the notes
//! every results file carries.

use crate::report::{self, Scenario, Summary};
use crate::services;

/// Mean audit batch size and write time between two `/metrics` scrapes.
pub fn audit_batch(s: &mut Summary, before: &str, after: &str) {
    let d = |name: &str| -> Option<f64> {
        Some(services::metric(after, name)? - services::metric(before, name).unwrap_or(0.0))
    };
    if let (Some(sum), Some(n)) = (
        d("credgate_audit_batch_size_sum"),
        d("credgate_audit_batch_size_count"),
    ) {
        if n > 0.0 {
            s.audit_mean_batch_size = Some(report::round(sum / n, 2));
        }
    }
    if let (Some(sum), Some(n)) = (
        d("credgate_audit_write_seconds_sum"),
        d("credgate_audit_write_seconds_count"),
    ) {
        if n > 0.0 {
            s.audit_mean_write_ms = Some(report::round(sum / n * 1000.0, 3));
        }
    }
}

/// Fills `added_*` of every open-loop entry: minus `direct` at the same
/// offered load.
pub fn added_latency(scenarios: &mut [Scenario]) {
    let Some(direct) = scenarios.iter().find(|s| s.name == "direct") else {
        return;
    };
    let base: Vec<(f64, f64, f64)> = direct
        .open_loop
        .iter()
        .map(|l| (l.offered_rps, l.p50_ms, l.p99_ms))
        .collect();
    for s in scenarios.iter_mut().filter(|s| s.name != "direct") {
        for l in &mut s.open_loop {
            if let Some((_, p50, p99)) = base.iter().find(|b| (b.0 - l.offered_rps).abs() < 0.5) {
                l.added_p50_ms = Some(report::round(l.p50_ms - p50, 3));
                l.added_p99_ms = Some(report::round(l.p99_ms - p99, 3));
            }
        }
    }
}

/// Ratios and SPEC checks from the scenarios and the RSS reading.
pub fn finish(s: &mut Summary, scenarios: &[Scenario], log_off_rps: Option<f64>, rss: Option<f64>) {
    let rps = |n: &str| scenarios.iter().find(|x| x.name == n).map(|x| x.rps);
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(report::round(a / b, 3)),
        _ => None,
    };
    let pct_cost = |r: Option<f64>| r.map(|r| report::round((1.0 - r) * 100.0, 1));
    s.credgate_over_nginx = ratio(rps("credgate"), rps("nginx"));
    s.throughput_floor_met = s.credgate_over_nginx.map(|r| r >= 0.7);
    let capacity = |n: &str| {
        scenarios
            .iter()
            .find(|x| x.name == n)
            .map(|x| x.cpu_capacity_rps)
    };
    s.credgate_over_nginx_by_cpu = ratio(capacity("credgate"), capacity("nginx"));
    s.redis_over_local = ratio(rps("credgate_redis"), rps("credgate"));
    s.audit_throughput_cost_pct = pct_cost(ratio(rps("credgate"), rps("credgate_noaudit")));
    s.credgate_log_off_rps = log_off_rps;
    s.logging_overhead_pct = pct_cost(ratio(rps("credgate"), log_off_rps));
    let half = scenarios
        .iter()
        .find(|x| x.name == "credgate")
        .and_then(|c| {
            c.open_loop
                .iter()
                .find(|l| (l.fraction_of_credgate_peak - 0.5).abs() < 1e-9)
        })
        .and_then(|l| l.added_p99_ms);
    s.added_p99_at_half_peak_ms = half;
    s.added_latency_target_met = half.map(|h| h <= 1.0);
    s.rss_target_met = rss.map(|r| r <= 200.0);
}

/// Telemetry's cost with no OTLP endpoint: the gateway's CPU per request
/// with logs on over logs off, each the median of per-pair ratios (a pair
/// runs both back to back, so a slow stretch of the machine hits both
/// sides of a ratio) — headline from the pairs at a fixed rate (`pairs`:
/// same work per second on both sides), also given from the peak runs of
/// each round — plus the in-process cost of one request's metrics
/// updates. Spans are disabled without an exporter in both
/// configurations. `log_line_us` (in process) gives the cross-check.
pub fn telemetry(
    s: &mut Summary,
    scenarios: &[Scenario],
    log_off_runs: &[report::PeakRunEntry],
    pairs: &[(report::PeakRunEntry, report::PeakRunEntry)],
    metrics_us: f64,
    log_line_us: Option<f64>,
) {
    let Some(on_runs) = scenarios
        .iter()
        .find(|x| x.name == "credgate")
        .map(|c| c.runs.as_slice())
    else {
        return;
    };
    let ratio = |a: &report::PeakRunEntry, b: &report::PeakRunEntry| {
        let (x, y) = (a.gateway_cpu_ms?, b.gateway_cpu_ms?);
        (y > 0.0).then(|| x / y)
    };
    let at_peak = median(
        on_runs
            .iter()
            .filter_map(|a| {
                let b = log_off_runs
                    .iter()
                    .find(|b| b.round == a.round && b.concurrency == a.concurrency)?;
                ratio(a, b)
            })
            .collect(),
    );
    let at_rate = median(pairs.iter().filter_map(|(a, b)| ratio(a, b)).collect());
    let Some(r) = at_rate.or(at_peak) else {
        return;
    };
    // The gateway CPU per request the shares are related to.
    let (on, off) = match pairs.is_empty() {
        false => (
            median(pairs.iter().filter_map(|p| p.0.gateway_cpu_ms).collect()),
            median(pairs.iter().filter_map(|p| p.1.gateway_cpu_ms).collect()),
        ),
        true => (
            median(on_runs.iter().filter_map(|x| x.gateway_cpu_ms).collect()),
            median(
                log_off_runs
                    .iter()
                    .filter_map(|x| x.gateway_cpu_ms)
                    .collect(),
            ),
        ),
    };
    let (Some(on), Some(off)) = (on, off) else {
        return;
    };
    if off <= 0.0 {
        return;
    }
    let logs = (r - 1.0) * 100.0;
    // Metrics are updated in both configurations: their cost is measured
    // in process and related to the logs-off gateway CPU per request.
    let metrics = metrics_us / (off * 1000.0) * 100.0;
    s.metrics_us_per_request = Some(report::round(metrics_us, 3));
    s.telemetry_logs_cost_pct = Some(report::round(logs, 1));
    s.telemetry_logs_cost_at_peak_pct = at_peak.map(|r| report::round((r - 1.0) * 100.0, 1));
    s.telemetry_metrics_cost_pct = Some(report::round(metrics, 1));
    s.telemetry_cost_pct = Some(report::round(logs + metrics, 1));
    s.credgate_log_off_runs = log_off_runs.to_vec();
    s.telemetry_pairs = pairs.to_vec();
    if let Some(l) = log_line_us {
        // Over the gateway CPU per request at its peak when measured (the
        // smallest per-request cost, so the largest share).
        let base = median(on_runs.iter().filter_map(|x| x.gateway_cpu_ms).collect()).unwrap_or(on);
        s.log_line_us_per_request = Some(report::round(l, 3));
        s.telemetry_in_process_pct =
            Some(report::round((l + metrics_us) / (base * 1000.0) * 100.0, 1));
    }
}

/// The median (mean of the middle two for an even count).
fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// CPU time of one request log line in µs: the production subscriber
/// (`credgate::telemetry::dispatch`, `info`) and line
/// (`RequestLine::log`), written by the production `LogSink` to a file in
/// `dir` — the process's CPU time (the flusher thread's writes included)
/// over 200,000 lines, best of 3 batches. The file is emptied after each
/// batch and removed.
pub fn log_line_us_per_request(dir: &std::path::Path) -> anyhow::Result<f64> {
    use anyhow::Context as _;
    const LINES: u32 = 200_000;
    let path = dir.join("bench-log-line.jsonl");
    let file = std::fs::File::create(&path).with_context(|| format!("{}", path.display()))?;
    let truncate = file.try_clone()?;
    let (sink, guard) = credgate::telemetry::LogSink::new(Box::new(file))?;
    let dispatch = credgate::telemetry::dispatch(
        tracing_subscriber::EnvFilter::new("info"),
        sink.clone(),
        None,
    );
    let line = credgate::telemetry::RequestLine {
        request_id: "0f6d3c1e9b2a4c5d8e7f60718293a4b5",
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
        client: "dept-nb",
        endpoint: "/v1/enterprises/{uscc}/report",
        status: 200,
        decision: "ok",
        audit_seq: 1_234_567,
        elapsed_ms: 3,
    };
    let pid = std::process::id();
    let mut best = f64::INFINITY;
    tracing::dispatcher::with_default(&dispatch, || -> anyhow::Result<()> {
        for _ in 0..3 {
            let before = crate::procfs::cpu_secs(pid);
            for _ in 0..LINES {
                std::hint::black_box(&line).log();
            }
            sink.flush();
            let used = crate::procfs::cpu_secs(pid) - before;
            best = best.min(used * 1e6 / f64::from(LINES));
            truncate.set_len(0)?;
        }
        Ok(())
    })?;
    drop(guard);
    let _ = std::fs::remove_file(&path);
    Ok(best)
}

/// CPU time of one request's metrics updates in µs: the gateway's own
/// `Metrics::observe_request` for a report request, best of 5 batches of
/// 100,000 on one thread (the minimum is robust to other load).
pub fn metrics_us_per_request() -> f64 {
    let metrics = credgate::metrics::Metrics::new();
    let trail = credgate::http::Trail {
        client: Some("dept-nb".to_owned()),
        endpoint: Some("/v1/enterprises/{uscc}/report"),
        ..Default::default()
    };
    let elapsed = std::time::Duration::from_micros(900);
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = std::time::Instant::now();
        for _ in 0..100_000 {
            metrics.observe_request(std::hint::black_box(&trail), "ok", elapsed);
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e6 / 100_000.0);
    }
    best
}

/// Other load on the machine above this many cores marks a measurement as
/// disturbed.
const DISTURBED_CORES: f64 = 0.25;

/// A note naming the reported measurements during which other processes
/// on the machine took CPU (their figures are worse than on a quiet
/// machine), if any.
pub fn disturbed_note(scenarios: &[Scenario], load_at_start: &str) -> Option<String> {
    let mut hit = Vec::new();
    for s in scenarios {
        if s.background_cores > DISTURBED_CORES {
            hit.push(format!("{} peak ({:.2} cores)", s.name, s.background_cores));
        }
        for l in &s.open_loop {
            if l.background_cores > DISTURBED_CORES {
                hit.push(format!(
                    "{} open loop at {:.0}% ({:.2} cores)",
                    s.name,
                    l.fraction_of_credgate_peak * 100.0,
                    l.background_cores
                ));
            }
        }
    }
    (!hit.is_empty()).then(|| {
        format!(
            "DISTURBED: other processes on the machine used CPU during {} (load average {load_at_start} at the start); those figures are worse than on a quiet machine: rerun when the machine is idle",
            hit.join(", ")
        )
    })
}

/// The note on what Redis did per request.
pub fn redis_note(per_request: f64) -> String {
    format!(
        "credgate_redis: {per_request:.2} Redis commands per request (INFO stats around 200 sequential requests); {}",
        if per_request < 0.1 {
            "Redis is NOT on this request's path in the gateway build measured (dept-nb needs no subject authorization and rate limits do not go through Redis): the scenario measures only having Redis configured"
        } else {
            "Redis is on the request path (rate-limit decisions across replicas)"
        }
    )
}

/// The note on the rate-limiter probe.
pub fn ratelimit_note(limited: bool) -> String {
    if limited {
        "local rate limiting is active in the gateway build measured (probe: with the demo policy, 50/s burst 100, part of 300 rapid requests got 429); the scenarios use a bench policy with dept-nb at 1,000,000/s burst 1,000,000, so the limiter decides every request and never refuses".to_owned()
    } else {
        "local rate limiting was NOT active in the gateway build measured (probe: with the demo policy none of 300 rapid requests got 429), so the credgate figures include no rate-limit decision".to_owned()
    }
}

/// Notes on how the run is set up.
pub fn static_notes(
    threads: usize,
    rounds: usize,
    levels: &[usize],
    telemetry_pairs: usize,
) -> Vec<String> {
    vec![
        format!("one machine for everything: the load generator ({threads} runtime threads + 1 scheduler thread), the gateway or nginx ({threads} workers) and the simulated platform (its own process, 2 runtime threads) share the cores; cpu_ms_per_request shows where the CPU went and background_cores what other processes on the machine took meanwhile"),
        format!("peak = closed loop over keep-alive mTLS HTTP/1.1 connections at {levels:?} connections, {rounds} rounds, every scenario measured once per round and concurrency (interleaved, every other round in reverse order, so that other load or drift of the machine hits all of them alike); the best run is reported (with its latency and concurrency) and runs lists all; credgate needs more connections than nginx to peak because every answer waits for its audit fsync"),
        "open loop = requests scheduled at a fixed rate by a dedicated thread, latency from the scheduled start (coordinated omission corrected); added latency = the scenario minus direct at the same offered load".to_owned(),
        "direct = the same logical request straight to the platform (the adapter's path) with credgate's upstream client certificate; nginx = mTLS termination (same server certificate, client CA and CRL) and mTLS pass-through of the client request to the same platform path with kept-alive upstream connections, no policy".to_owned(),
        format!("telemetry: no OTLP endpoint is configured, so no layer wants spans and they are disabled (a disabled span costs a branch); the telemetry cost is the gateway's CPU per request with default info logging (one JSON line per request, batched to stderr) over RUST_LOG=off (credgate_log_off), the median of the ratios of {telemetry_pairs} back-to-back pairs at the same fixed rate (half of credgate's peak, so both do the same work per second; order alternating; in telemetry_pairs), plus the metrics updates of one request measured in process, over the gateway's CPU per request; the in-process cross-check times the production log line through the production subscriber and sink to a file on the logs' file system and relates it (with the metrics) to the gateway CPU per request at peak; with --log-off-peaks, the same ratio from closed-loop peak runs of credgate_log_off (each side at its own peak) too"),
        "rss_10k_idle_mib: a fresh gateway (credgate configuration), 10,000 mTLS connections each having served one request and now idle (keep-alive)".to_owned(),
    ]
}
