//! `target/bench/results.json` and `results.md`: the scenarios (SPEC §13
//! names and fields, plus extras), the SPEC checks, and a Markdown table.

use crate::idle::IdleResult;
use crate::load::Measurement;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The whole results file.
#[derive(Debug, Serialize)]
pub struct Results {
    /// One entry per scenario (`direct`, `nginx`, `credgate`,
    /// `credgate_noaudit`, `credgate_redis`).
    pub scenarios: Vec<Scenario>,
    /// Gateway RSS with 10,000 idle keep-alive client connections, MiB.
    pub rss_10k_idle_mib: Option<f64>,
    /// CPU model, cores, memory, kernel.
    pub machine: String,
    /// The 10k-connection readings in detail.
    pub idle: Option<IdleResult>,
    /// Ratios and SPEC checks.
    pub summary: Summary,
    /// `oha` on the `credgate` scenario (with `--oha`).
    pub cross_check: Option<serde_json::Value>,
    /// SPEC §13: fan-out latency against the slowest platform.
    pub fanout: Option<crate::fanout::FanoutResult>,
    /// How the run was set up and anything a reader must know.
    pub notes: Vec<String>,
    /// Load parameters.
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// Wall time of the measurement (without the build), seconds.
    pub wall_s: f64,
}

/// One scenario's closed-loop peak and its open-loop runs.
#[derive(Debug, Serialize)]
pub struct Scenario {
    /// Scenario name.
    pub name: String,
    /// Successful requests per second at the peak (closed loop).
    pub rps: f64,
    /// Median latency at the peak, ms.
    pub p50_ms: f64,
    /// 90th percentile at the peak, ms.
    pub p90_ms: f64,
    /// 99th percentile at the peak, ms.
    pub p99_ms: f64,
    /// 99.9th percentile at the peak, ms.
    pub p999_ms: f64,
    /// Failed requests at the peak (non-200, transport errors, timeouts).
    pub errors: u64,
    /// Successful requests at the peak.
    pub requests: u64,
    /// Closed-loop connections.
    pub concurrency: usize,
    /// Measured window, seconds.
    pub duration_s: f64,
    /// CPU time per request of each process role at the peak, ms.
    pub cpu_ms_per_request: BTreeMap<String, f64>,
    /// Average cores used by processes outside the benchmark during the
    /// reported round (other work on a shared machine; ideally ~0).
    pub background_cores: f64,
    /// Requests per second the machine's cores could serve if this
    /// scenario were CPU-bound: cores ÷ CPU seconds per request of all its
    /// processes (insensitive to other load on the machine).
    pub cpu_capacity_rps: f64,
    /// Every closed-loop run (the best is reported above).
    pub runs: Vec<PeakRunEntry>,
    /// Open-loop runs at fixed offered loads.
    pub open_loop: Vec<OpenLoop>,
}

/// One closed-loop run of a scenario.
#[derive(Debug, Clone, Serialize)]
pub struct PeakRunEntry {
    /// Connections.
    pub concurrency: usize,
    /// Round (1-based).
    pub round: usize,
    /// Successful requests per second.
    pub rps: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Failed requests.
    pub errors: u64,
    /// Cores used by other processes on the machine meanwhile.
    pub background_cores: f64,
    /// The gateway's CPU time per successful request, ms (credgate
    /// scenarios only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_cpu_ms: Option<f64>,
}

/// One open-loop run.
#[derive(Debug, Serialize)]
pub struct OpenLoop {
    /// Offered requests per second.
    pub offered_rps: f64,
    /// Offered load as a fraction of credgate's peak.
    pub fraction_of_credgate_peak: f64,
    /// Successful requests per second scheduled in the window.
    pub achieved_rps: f64,
    /// Median latency from the scheduled start, ms.
    pub p50_ms: f64,
    /// 99th percentile from the scheduled start, ms.
    pub p99_ms: f64,
    /// 99.9th percentile, ms.
    pub p999_ms: f64,
    /// Failed requests.
    pub errors: u64,
    /// This scenario's p50 minus `direct`'s at the same offered load, ms.
    pub added_p50_ms: Option<f64>,
    /// This scenario's p99 minus `direct`'s at the same offered load, ms.
    pub added_p99_ms: Option<f64>,
    /// Average cores used by other processes on the machine meanwhile.
    pub background_cores: f64,
}

/// Ratios between scenarios and the SPEC §13 checks.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// credgate rps ÷ nginx rps (SPEC floor 0.7).
    pub credgate_over_nginx: Option<f64>,
    /// The same ratio from CPU cost (`cpu_capacity_rps`), which other load
    /// on the machine does not distort.
    pub credgate_over_nginx_by_cpu: Option<f64>,
    /// Whether the throughput floor holds.
    pub throughput_floor_met: Option<bool>,
    /// credgate's added p99 at half its peak, ms (SPEC target ≤ 1).
    pub added_p99_at_half_peak_ms: Option<f64>,
    /// Whether the added-latency target holds.
    pub added_latency_target_met: Option<bool>,
    /// Whether RSS at 10k idle connections is ≤ 200 MiB.
    pub rss_target_met: Option<bool>,
    /// Throughput lost to durable audit: 1 − credgate ÷ credgate_noaudit, %.
    pub audit_throughput_cost_pct: Option<f64>,
    /// Mean records per audit write + fsync at credgate's peak.
    pub audit_mean_batch_size: Option<f64>,
    /// Mean audit write + fsync time at credgate's peak, ms.
    pub audit_mean_write_ms: Option<f64>,
    /// credgate_redis rps ÷ credgate rps.
    pub redis_over_local: Option<f64>,
    /// credgate's peak with `RUST_LOG=off` (no request log lines; with no
    /// OTLP endpoint spans are disabled in both), rps.
    pub credgate_log_off_rps: Option<f64>,
    /// Every peak run of credgate with `RUST_LOG=off` (the other side of
    /// the telemetry ratios).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub credgate_log_off_runs: Vec<PeakRunEntry>,
    /// Throughput cost of default `info` logging: 1 − credgate ÷ log-off, %.
    pub logging_overhead_pct: Option<f64>,
    /// Telemetry's share of the gateway's cost with no OTLP endpoint, %:
    /// the gateway CPU per request with logs on over logs off (median of
    /// the ratios of back-to-back pairs at the same fixed rate), plus the metrics updates of one request (measured in
    /// process) over the gateway CPU per request.
    pub telemetry_cost_pct: Option<f64>,
    /// Of which the logs (and disabled spans), %.
    pub telemetry_logs_cost_pct: Option<f64>,
    /// The logs' share from the closed-loop peak runs instead (each side
    /// at its own peak), %.
    pub telemetry_logs_cost_at_peak_pct: Option<f64>,
    /// The fixed-rate pairs (credgate, credgate_log_off) behind the
    /// telemetry figure.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub telemetry_pairs: Vec<(PeakRunEntry, PeakRunEntry)>,
    /// Of which the per-request metrics updates, %.
    pub telemetry_metrics_cost_pct: Option<f64>,
    /// CPU time of one request's metrics updates, µs (in process).
    pub metrics_us_per_request: Option<f64>,
    /// CPU time of one request log line, µs, measured in process: the
    /// production subscriber and line, batched by the production sink to a
    /// file on the logs' file system (the flusher's writes included).
    pub log_line_us_per_request: Option<f64>,
    /// The same share from the in-process figures: (log line + metrics)
    /// over the gateway CPU per request, % (a cross-check of
    /// `telemetry_cost_pct` that other load barely moves).
    pub telemetry_in_process_pct: Option<f64>,
}

/// A scenario from a closed-loop measurement.
pub fn scenario(
    name: &str,
    m: &Measurement,
    concurrency: usize,
    cpu: &crate::procfs::CpuUse,
) -> Scenario {
    let n = m.ok.max(1) as f64;
    Scenario {
        name: name.to_owned(),
        rps: round(m.rps(), 1),
        p50_ms: round(m.quantile_ms(0.50), 3),
        p90_ms: round(m.quantile_ms(0.90), 3),
        p99_ms: round(m.quantile_ms(0.99), 3),
        p999_ms: round(m.quantile_ms(0.999), 3),
        errors: m.errors,
        requests: m.ok,
        concurrency,
        duration_s: m.window_s,
        cpu_ms_per_request: cpu
            .roles
            .iter()
            .map(|(role, s)| (role.clone(), round(s * 1000.0 / n, 4)))
            .collect(),
        background_cores: round(cpu.background_cores, 2),
        cpu_capacity_rps: {
            let per_request: f64 = cpu.roles.iter().map(|(_, s)| s).sum::<f64>() / n;
            let cores = std::thread::available_parallelism().map_or(1, |c| c.get()) as f64;
            if per_request > 0.0 {
                round(cores / per_request, 0)
            } else {
                0.0
            }
        },
        runs: Vec::new(),
        open_loop: Vec::new(),
    }
}

/// A closed-loop run's entry.
pub fn peak_run(
    concurrency: usize,
    round_no: usize,
    m: &Measurement,
    cpu: &crate::procfs::CpuUse,
) -> PeakRunEntry {
    PeakRunEntry {
        concurrency,
        round: round_no,
        rps: round(m.rps(), 1),
        p50_ms: round(m.quantile_ms(0.50), 3),
        p99_ms: round(m.quantile_ms(0.99), 3),
        errors: m.errors,
        background_cores: round(cpu.background_cores, 2),
        gateway_cpu_ms: cpu
            .roles
            .iter()
            .find(|(role, _)| role == "gateway")
            .map(|(_, s)| round(s * 1000.0 / m.ok.max(1) as f64, 4)),
    }
}

/// An open-loop entry (added latency filled in later).
pub fn open_loop(m: &Measurement, offered: f64, fraction: f64, background: f64) -> OpenLoop {
    OpenLoop {
        offered_rps: round(offered, 1),
        fraction_of_credgate_peak: fraction,
        achieved_rps: round(m.rps(), 1),
        p50_ms: round(m.quantile_ms(0.50), 3),
        p99_ms: round(m.quantile_ms(0.99), 3),
        p999_ms: round(m.quantile_ms(0.999), 3),
        errors: m.errors,
        added_p50_ms: None,
        added_p99_ms: None,
        background_cores: round(background, 2),
    }
}

/// Rounds to `digits` decimals.
pub fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".to_owned(), |x| format!("{x:.digits$}"))
}

/// `32: 4124 / 4601; 128: 8538 / 8526`.
fn runs_text(runs: &[PeakRunEntry]) -> String {
    let mut levels: Vec<usize> = runs.iter().map(|r| r.concurrency).collect();
    levels.sort_unstable();
    levels.dedup();
    levels
        .iter()
        .map(|c| {
            let rps: Vec<String> = runs
                .iter()
                .filter(|r| r.concurrency == *c)
                .map(|r| format!("{:.0}", r.rps))
                .collect();
            format!("{c}: {}", rps.join(" / "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The oha cross-check beside our own run at the same concurrency.
fn cross_check_table(o: &mut String, c: &serde_json::Value) {
    let f = |v: &serde_json::Value| {
        v.as_f64()
            .map_or_else(|| "–".to_owned(), |x| format!("{x:.2}"))
    };
    let f3 = |v: &serde_json::Value| {
        v.as_f64()
            .map_or_else(|| "–".to_owned(), |x| format!("{x:.3}"))
    };
    let ours = &c["credgate_bench"];
    let _ = writeln!(
        o,
        "\nCross-check of the credgate scenario ({} connections):\n\n| generator | rps | p50 ms | p99 ms | generator CPU ms/request | gateway CPU ms/request |\n|---|---:|---:|---:|---:|---:|",
        c["concurrency"]
    );
    let _ = writeln!(
        o,
        "| credgate-bench | {} | {} | {} | {} | {} |",
        f(&ours["rps"]),
        f(&ours["p50_ms"]),
        f(&ours["p99_ms"]),
        f3(&ours["cpu_ms_per_request"]["loadgen"]),
        f3(&ours["cpu_ms_per_request"]["gateway"])
    );
    let _ = writeln!(
        o,
        "| oha | {} | {} | {} | {} | {} |",
        f(&c["rps"]),
        f(&c["p50_ms"]),
        f(&c["p99_ms"]),
        f3(&c["cpu_ms_per_request"]["oha"]),
        f3(&c["cpu_ms_per_request"]["gateway"])
    );
}

/// The Markdown report.
pub fn markdown(r: &Results) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "## credgate benchmark\n\nMachine: {}\n", r.machine);
    let _ = writeln!(
        o,
        "| scenario | rps | p50 ms | p99 ms | p99.9 ms | errors | conns | rps of every run (conns: rounds) | CPU ms/request (by process) | CPU-bound capacity rps | other load (cores) |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|---|---|---:|---:|");
    for s in &r.scenarios {
        let cpu: Vec<String> = s
            .cpu_ms_per_request
            .iter()
            .map(|(k, v)| format!("{k} {v:.3}"))
            .collect();
        let _ = writeln!(
            o,
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {:.0} | {:.2} |",
            s.name,
            s.rps,
            s.p50_ms,
            s.p99_ms,
            s.p999_ms,
            s.errors,
            s.concurrency,
            runs_text(&s.runs),
            cpu.join(", "),
            s.cpu_capacity_rps,
            s.background_cores
        );
    }
    let with_open: Vec<&Scenario> = r
        .scenarios
        .iter()
        .filter(|s| !s.open_loop.is_empty())
        .collect();
    if !with_open.is_empty() {
        let _ = writeln!(
            o,
            "\nOpen loop (latency from the scheduled start; added = minus `direct` at the same offered load):\n"
        );
        let _ = writeln!(
            o,
            "| scenario | offered rps | % of credgate peak | achieved rps | p50 ms | p99 ms | added p50 ms | added p99 ms | errors | other load (cores) |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for s in with_open {
            for l in &s.open_loop {
                let _ = writeln!(
                    o,
                    "| {} | {:.0} | {:.0}% | {:.0} | {:.2} | {:.2} | {} | {} | {} | {:.2} |",
                    s.name,
                    l.offered_rps,
                    l.fraction_of_credgate_peak * 100.0,
                    l.achieved_rps,
                    l.p50_ms,
                    l.p99_ms,
                    opt(l.added_p50_ms, 2),
                    opt(l.added_p99_ms, 2),
                    l.errors,
                    l.background_cores
                );
            }
        }
    }
    let s = &r.summary;
    let _ = writeln!(o, "\n| figure | value | SPEC §13 |\n|---|---:|---|");
    let verdict = |b: Option<bool>| match b {
        Some(true) => "met",
        Some(false) => "**not met**",
        None => "–",
    };
    let _ = writeln!(
        o,
        "| credgate ÷ nginx throughput | {} | ≥ 0.70: {} |",
        opt(s.credgate_over_nginx, 2),
        verdict(s.throughput_floor_met)
    );
    let _ = writeln!(
        o,
        "| credgate ÷ nginx by CPU cost per request | {} | (robust to other load) |",
        opt(s.credgate_over_nginx_by_cpu, 2)
    );
    let _ = writeln!(
        o,
        "| added p99 at half of credgate's peak | {} ms | ≤ 1 ms: {} |",
        opt(s.added_p99_at_half_peak_ms, 2),
        verdict(s.added_latency_target_met)
    );
    let _ = writeln!(
        o,
        "| RSS at 10k idle keep-alive connections | {} MiB | ≤ 200 MiB: {} |",
        opt(r.rss_10k_idle_mib, 1),
        verdict(s.rss_target_met)
    );
    let _ = writeln!(
        o,
        "| fan-out (sanctions check over four platforms) grows with the slowest platform, not the sum | {} | {} |",
        r.fanout.as_ref().map_or("–", |f| if f.grows_with_slowest { "yes" } else { "no" }),
        verdict(r.fanout.as_ref().map(|f| f.grows_with_slowest))
    );
    let _ = writeln!(
        o,
        "| durable audit throughput cost (1 − credgate ÷ noaudit) | {} % | |",
        opt(s.audit_throughput_cost_pct, 1)
    );
    let _ = writeln!(
        o,
        "| mean audit batch (records per fsync) at peak | {} (mean write {} ms) | |",
        opt(s.audit_mean_batch_size, 1),
        opt(s.audit_mean_write_ms, 2)
    );
    let _ = writeln!(
        o,
        "| credgate_redis ÷ credgate throughput | {} | |",
        opt(s.redis_over_local, 2)
    );
    // The closed-loop log-off peaks are measured with --log-off-peaks only.
    if s.credgate_log_off_rps.is_some() {
        let _ = writeln!(
            o,
            "| logging throughput cost (1 − info ÷ RUST_LOG=off; {} rps with logs off) | {} % | |",
            opt(s.credgate_log_off_rps, 0),
            opt(s.logging_overhead_pct, 1)
        );
    }
    let at_peak = match s.telemetry_logs_cost_at_peak_pct {
        Some(p) => format!("; logs at each side's peak {p:.1} %"),
        None => String::new(),
    };
    let _ = writeln!(
        o,
        "| telemetry cost with no OTLP endpoint (gateway CPU per request at the same rate: logs {} % + metrics {} % ({} µs){at_peak}) | {} % | ≤ 3 % (issue 8): {} |",
        opt(s.telemetry_logs_cost_pct, 1),
        opt(s.telemetry_metrics_cost_pct, 1),
        opt(s.metrics_us_per_request, 2),
        opt(s.telemetry_cost_pct, 1),
        match s.telemetry_cost_pct {
            Some(p) if p <= 3.0 => "met",
            Some(_) => "not met",
            None => "–",
        }
    );
    let _ = writeln!(
        o,
        "| telemetry cost measured in process (log line {} µs + metrics {} µs, over the gateway CPU per request at peak) | {} % | cross-check |",
        opt(s.log_line_us_per_request, 2),
        opt(s.metrics_us_per_request, 2),
        opt(s.telemetry_in_process_pct, 1),
    );
    if let Some(f) = &r.fanout {
        crate::fanout::markdown(&mut o, f);
    }
    if let Some(c) = &r.cross_check {
        cross_check_table(&mut o, c);
    }
    if !r.notes.is_empty() {
        let _ = writeln!(o, "\nNotes:");
        for n in &r.notes {
            let _ = writeln!(o, "- {n}");
        }
    }
    o
}
