//! `credgate-bench run`: the whole benchmark in one process tree, stopped
//! on success, on error and on Ctrl-C.
//!
//! Order: the simulated platform (its own process, for the whole run);
//! closed-loop peaks of `direct`, `nginx` and `credgate` (+ the optional
//! `oha` cross-check); open-loop runs of the three at fractions of
//! credgate's peak, interleaved per rate; peaks of `credgate_noaudit`,
//! `credgate_redis` and credgate with `RUST_LOG=off`; a rate-limiter probe;
//! and the 10k idle connections against a fresh gateway.

use crate::client::{tls_config, Target};
use crate::measure::{self, Expect, Params};
use crate::procs::Registry;
use crate::report::{self, Results, Scenario, Summary};
use crate::services;
use crate::setup::{self, Variant, Workspace};
use anyhow::Context as _;
use clap::Args;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Arguments of `credgate-bench run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The release `credgate` binary.
    #[arg(long, default_value = "target/release/credgate")]
    credgate: String,
    /// Output directory (`results.json`, `results.md`, `work/`).
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// nginx binary.
    #[arg(long, default_value = "nginx")]
    nginx: String,
    /// redis-server binary.
    #[arg(long, default_value = "redis-server")]
    redis_server: String,
    /// Also run `oha` (this binary) on the credgate scenario.
    #[arg(long)]
    oha: Option<String>,
    /// Measured window of every run, seconds.
    #[arg(long, default_value_t = 10)]
    measure_secs: u64,
    /// Warm-up before every measurement, seconds.
    #[arg(long, default_value_t = 2)]
    warmup_secs: u64,
    /// Closed-loop connections.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Open-loop connections.
    #[arg(long, default_value_t = 64)]
    open_conns: usize,
    /// Open-loop offered loads as fractions of credgate's peak.
    #[arg(long, value_delimiter = ',', default_value = "0.25,0.5,0.75")]
    loads: Vec<f64>,
    /// Idle keep-alive connections for the memory reading.
    #[arg(long, default_value_t = 10_000)]
    idle_conns: usize,
    /// Handshakes in flight at once while opening them.
    #[arg(long, default_value_t = 200)]
    idle_parallel: usize,
    /// Worker threads of the load generator's runtime (and nginx workers).
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// Runs the benchmark; Ctrl-C / SIGTERM stop it (children included).
pub fn main(a: RunArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::select! {
            r = run(&a) => r,
            _ = term.recv() => anyhow::bail!("terminated"),
            _ = int.recv() => anyhow::bail!("interrupted"),
        }
    })
}

async fn run(a: &RunArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let need = a.idle_conns as u64 + 2048;
    match crate::procfs::open_files_limit() {
        Some(n) if n >= need => {}
        n => anyhow::bail!(
            "open-file limit {n:?} is below {need}: run `ulimit -n 65536` first (scripts/bench does)"
        ),
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let ws = Workspace::create(&a.out.join("work"))?;
    let registry = Registry::new(a.out.join("pids"))?;
    let p = Params {
        concurrency: a.concurrency,
        warmup: Duration::from_secs(a.warmup_secs),
        measure: Duration::from_secs(a.measure_secs),
        open_conns: a.open_conns,
    };
    let mut notes = Vec::new();
    let load_at_start = crate::procfs::loadavg();

    let sim = services::start_sim(&ws, &registry).await?;
    let demo = setup::demo_toml(&ws, sim.addr).await?;
    let subjects = setup::subjects()?;
    let api: Vec<String> = subjects.iter().map(|s| setup::api_path(s)).collect();
    let direct_paths = subjects
        .iter()
        .map(|s| setup::direct_path(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let client_tls = tls_config(
        &ws.certs.join("ca.crt"),
        &ws.certs.join("clients/dept-nb.crt"),
        &ws.certs.join("clients/dept-nb.key"),
    )?;
    let upstream_tls = tls_config(
        &ws.certs.join("upstream/ca.crt"),
        &ws.certs.join("upstream/gateway.crt"),
        &ws.certs.join("upstream/gateway.key"),
    )?;
    let b = Bench {
        a,
        ws: &ws,
        demo: &demo,
        registry: &registry,
        p: &p,
        client_tls,
        api: Arc::new(api),
        sim_pid: sim.proc.pid(),
    };
    let mut scenarios: Vec<Scenario> = Vec::new();

    // direct
    let direct = Target {
        name: "direct".into(),
        addr: sim.addr,
        tls: upstream_tls,
        paths: Arc::new(direct_paths),
    };
    measure::preflight(&direct, Expect::Body).await?;
    let (m, cpu) = measure::peak(&direct, &p, b.roles(None)).await?;
    scenarios.push(report::scenario("direct", &m, p.concurrency, &cpu));

    // nginx
    let ngx = crate::nginx::start(&ws, &a.nginx, sim.addr, a.threads, &registry).await?;
    let nginx_t = b.target("nginx", ngx.addr);
    measure::preflight(&nginx_t, Expect::Body).await?;
    let mut nginx_pids = vec![ngx.proc.pid()];
    nginx_pids.extend(crate::procfs::children(ngx.proc.pid()));
    let (m, cpu) = measure::peak(&nginx_t, &p, b.roles(Some(("nginx", nginx_pids)))).await?;
    scenarios.push(report::scenario("nginx", &m, p.concurrency, &cpu));

    // credgate (full policy, masking, durable audit)
    let full = Variant {
        name: "credgate",
        audit: true,
        redis: None,
        rust_log: None,
    };
    let gw = services::start_gateway(&ws, &a.credgate, &demo, &full, &registry).await?;
    let gw_t = b.target("credgate", gw.addr);
    measure::preflight(&gw_t, Expect::Audited).await?;
    let before = services::metrics(gw.admin).await?;
    let (m, cpu) =
        measure::peak(&gw_t, &p, b.roles(Some(("gateway", vec![gw.proc.pid()])))).await?;
    let after = services::metrics(gw.admin).await?;
    let credgate_peak = m.rps();
    scenarios.push(report::scenario("credgate", &m, p.concurrency, &cpu));
    let mut summary = Summary::default();
    audit_batch(&mut summary, &before, &after);
    let cross_check = match &a.oha {
        Some(bin) => {
            let url = format!("https://{}{}", gw.addr, setup::api_path(&subjects[0]));
            let v = measure::oha(bin, &url, &ws.certs, &p).await?;
            eprintln!("bench: oha cross-check: {v}");
            Some(v)
        }
        None => None,
    };

    // open loop at fractions of credgate's peak, interleaved per rate
    for &f in &a.loads {
        let rate = (credgate_peak * f).max(1.0);
        for (i, t) in [&direct, &nginx_t, &gw_t].into_iter().enumerate() {
            let m = measure::open(t, &p, rate).await?;
            scenarios[i].open_loop.push(report::open_loop(&m, rate, f));
        }
    }
    added_latency(&mut scenarios);
    drop(gw);
    ngx.proc.stop();

    // credgate without durable audit
    let noaudit = Variant {
        name: "credgate_noaudit",
        audit: false,
        ..full.clone()
    };
    let s = b.gateway_peak(&noaudit, Expect::Unaudited, None).await?;
    scenarios.push(s);

    // credgate with Redis
    let (redis, redis_addr) = services::start_redis(&ws, &a.redis_server, &registry).await?;
    let with_redis = Variant {
        name: "credgate_redis",
        redis: Some(format!("redis://{redis_addr}")),
        ..full.clone()
    };
    let cmds0 = measure::redis_commands(redis_addr).await?;
    let s = b
        .gateway_peak(&with_redis, Expect::Audited, Some(("redis", redis.pid())))
        .await?;
    let cmds = measure::redis_commands(redis_addr)
        .await?
        .saturating_sub(cmds0);
    let per_req = cmds as f64 / (s.requests.max(1) as f64 * 2.0);
    notes.push(format!(
        "credgate_redis: Redis served {cmds} commands during warm-up + measurement (~{per_req:.2} per request); {}",
        if per_req < 0.1 {
            "so Redis is NOT on this request's path in the gateway build measured (dept-nb needs no subject authorization, and rate limits do not go through Redis yet): the scenario measures only the cost of having Redis configured"
        } else {
            "Redis is on the request path"
        }
    ));
    scenarios.push(s);
    drop(redis);

    // logging / telemetry overhead
    let log_off = Variant {
        name: "credgate_log_off",
        rust_log: Some("off"),
        ..full.clone()
    };
    let s = b.gateway_peak(&log_off, Expect::Audited, None).await?;
    summary.credgate_log_off_rps = Some(s.rps);

    // rate-limiter probe (demo policy: dept-nb 50/s, burst 100)
    let limited = b.rate_limiter_probe().await?;
    notes.push(if limited {
        "local rate limiting is active in the gateway build measured (probe: the demo policy's 50/s burst 100 refused part of 300 rapid requests); the scenarios use a bench policy with dept-nb at 1,000,000/s so the limiter decides on every request but never refuses".to_owned()
    } else {
        "local rate limiting was NOT active in the gateway build measured (probe: the demo policy's 50/s burst 100 refused none of 300 rapid requests), so the credgate figures do not include a rate-limit decision; the bench policy raises dept-nb to 1,000,000/s for when it is".to_owned()
    });

    // 10k idle connections on a fresh gateway
    let idle_v = Variant {
        name: "credgate_idle",
        ..full.clone()
    };
    let gw = services::start_gateway(&ws, &a.credgate, &demo, &idle_v, &registry).await?;
    let idle = crate::idle::run(
        &b.target("credgate_idle", gw.addr),
        gw.proc.pid(),
        a.idle_conns,
        a.idle_parallel,
    )
    .await?;
    eprintln!(
        "bench: {} idle connections: gateway RSS {:.1} MiB (baseline {:.1}, handshaken {:.1})",
        idle.connections,
        idle.rss_after_request_mib,
        idle.rss_baseline_mib,
        idle.rss_after_handshake_mib
    );
    drop(gw);
    drop(sim);

    finish_summary(&mut summary, &scenarios, idle.rss_after_request_mib);
    let busiest = scenarios
        .iter()
        .map(|s| s.background_cores)
        .fold(0.0, f64::max);
    if busiest > 0.25 {
        notes.push(format!(
            "other processes on the machine used up to {busiest:.2} cores during the peaks (background_cores per scenario; load average {load_at_start} at the start): throughput figures are lower than on a quiet machine"
        ));
    }
    notes.extend(static_notes(a));
    let mut parameters = BTreeMap::new();
    parameters.insert("concurrency".into(), a.concurrency.into());
    parameters.insert("open_loop_connections".into(), a.open_conns.into());
    parameters.insert("warmup_s".into(), a.warmup_secs.into());
    parameters.insert("measure_s".into(), a.measure_secs.into());
    parameters.insert("subjects".into(), subjects.len().into());
    parameters.insert("loadavg_at_start".into(), load_at_start.clone().into());
    parameters.insert(
        "request".into(),
        "GET /v1/enterprises/{uscc}/report?sections=basic as dept-nb (administrative_approval)"
            .into(),
    );
    let results = Results {
        scenarios,
        rss_10k_idle_mib: Some(report::round(idle.rss_after_request_mib, 1)),
        machine: crate::procfs::machine(),
        idle: Some(idle),
        summary,
        cross_check,
        notes,
        parameters,
        wall_s: report::round(started.elapsed().as_secs_f64(), 1),
    };
    let json = serde_json::to_string_pretty(&results)?;
    std::fs::write(a.out.join("results.json"), json + "\n")?;
    let md = report::markdown(&results);
    std::fs::write(a.out.join("results.md"), &md)?;
    println!("{md}");
    eprintln!(
        "bench: wrote {} and results.md ({:.0} s)",
        a.out.join("results.json").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What every step needs.
struct Bench<'a> {
    a: &'a RunArgs,
    ws: &'a Workspace,
    demo: &'a str,
    registry: &'a Arc<Registry>,
    p: &'a Params,
    client_tls: Arc<rustls::ClientConfig>,
    api: Arc<Vec<String>>,
    sim_pid: u32,
}

// === impl Bench ===

impl Bench<'_> {
    /// The client API at `addr` as `dept-nb`.
    fn target(&self, name: &str, addr: SocketAddr) -> Target {
        Target {
            name: name.to_owned(),
            addr,
            tls: self.client_tls.clone(),
            paths: self.api.clone(),
        }
    }

    /// The processes whose CPU time is metered: the load generator, the
    /// platform, and the proxy under test when there is one.
    fn roles(&self, proxy: Option<(&str, Vec<u32>)>) -> Vec<(String, Vec<u32>)> {
        let mut r = vec![
            ("loadgen".to_owned(), vec![std::process::id()]),
            ("upstream".to_owned(), vec![self.sim_pid]),
        ];
        if let Some((role, pids)) = proxy {
            r.push((role.to_owned(), pids));
        }
        r
    }

    /// Starts a gateway variant, checks it, measures its peak, stops it.
    async fn gateway_peak(
        &self,
        v: &Variant,
        expect: Expect,
        extra: Option<(&str, u32)>,
    ) -> anyhow::Result<Scenario> {
        let gw =
            services::start_gateway(self.ws, &self.a.credgate, self.demo, v, self.registry).await?;
        let t = self.target(v.name, gw.addr);
        measure::preflight(&t, expect).await?;
        let mut roles = self.roles(Some(("gateway", vec![gw.proc.pid()])));
        if let Some((role, pid)) = extra {
            roles.push((role.to_owned(), vec![pid]));
        }
        let (m, cpu) = measure::peak(&t, self.p, roles).await?;
        Ok(report::scenario(v.name, &m, self.p.concurrency, &cpu))
    }

    /// Whether the gateway refuses beyond the demo policy's limit for
    /// dept-nb (50/s, burst 100): 300 rapid requests.
    async fn rate_limiter_probe(&self) -> anyhow::Result<bool> {
        std::fs::write(
            self.ws.path("policy-demo.toml"),
            credgate_policy::DEMO_POLICY,
        )?;
        let probe_toml =
            self.demo
                .replacen("file = \"policy.toml\"", "file = \"policy-demo.toml\"", 1);
        let v = Variant {
            name: "ratelimit_probe",
            audit: true,
            redis: None,
            rust_log: None,
        };
        let gw = services::start_gateway(self.ws, &self.a.credgate, &probe_toml, &v, self.registry)
            .await?;
        let refused = measure::rate_limited(&self.target(v.name, gw.addr), 300).await?;
        eprintln!("bench: rate-limiter probe: {refused} of 300 refused with 429");
        Ok(refused > 0)
    }
}

fn audit_batch(s: &mut Summary, before: &str, after: &str) {
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
fn added_latency(scenarios: &mut [Scenario]) {
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

fn finish_summary(s: &mut Summary, scenarios: &[Scenario], rss: f64) {
    let rps = |n: &str| scenarios.iter().find(|x| x.name == n).map(|x| x.rps);
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(report::round(a / b, 3)),
        _ => None,
    };
    s.credgate_over_nginx = ratio(rps("credgate"), rps("nginx"));
    s.throughput_floor_met = s.credgate_over_nginx.map(|r| r >= 0.7);
    s.redis_over_local = ratio(rps("credgate_redis"), rps("credgate"));
    s.audit_throughput_cost_pct = ratio(rps("credgate"), rps("credgate_noaudit"))
        .map(|r| report::round((1.0 - r) * 100.0, 1));
    s.logging_overhead_pct =
        ratio(rps("credgate"), s.credgate_log_off_rps).map(|r| report::round((1.0 - r) * 100.0, 1));
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
    s.rss_target_met = Some(rss <= 200.0);
}

fn static_notes(a: &RunArgs) -> Vec<String> {
    vec![
        format!("one machine for everything: the load generator ({} runtime threads + 1 scheduler thread), the gateway or nginx ({} workers) and the simulated platform (its own process, 2 runtime threads) share the cores; cpu_ms_per_request shows where the CPU went", a.threads, a.threads),
        "peak = closed loop at fixed concurrency over keep-alive mTLS HTTP/1.1 connections; open loop = requests scheduled at a fixed rate, latency from the scheduled start (coordinated omission corrected)".to_owned(),
        "direct = the same logical request straight to the platform (the adapter's path) with credgate's upstream client certificate; nginx = mTLS termination (same server cert, client CA and CRL) and mTLS pass-through to the same platform path, no policy".to_owned(),
        "telemetry is always compiled in and no OTLP endpoint is configured: the telemetry figure is the cost of the default info logging (one JSON line per request) measured against RUST_LOG=off; isolating span creation (≤ 3 % target) would need a build without it".to_owned(),
        "credgate_idle (10k connections) is a fresh gateway with the credgate configuration; rss_10k_idle_mib is read after each connection has served one request and sits idle".to_owned(),
    ]
}
