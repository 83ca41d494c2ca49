//! `credgate-bench run`: the whole benchmark in one process tree, stopped
//! on success, on error and on Ctrl-C.
//!
//! Order: start the simulated platform (its own process), nginx, a
//! redis-server and four gateways (`credgate`, `credgate_noaudit`,
//! `credgate_redis`, credgate with `RUST_LOG=off`), all idle until their
//! turn; check each with one request; closed-loop peaks in rounds, every
//! scenario once per round; the optional `oha` cross-check; open-loop runs
//! of direct, nginx and credgate at fractions of credgate's peak; the
//! fan-out measurement over four platforms; a rate-limiter probe; and 10k
//! idle connections against a fresh gateway.

use crate::client::{tls_config, Target};
use crate::load::Measurement;
use crate::measure::{self, Expect, Params};
use crate::procfs::CpuUse;
use crate::procs::Registry;
use crate::report::{self, Results, Summary};
use crate::services::{self, Gateway};
use crate::setup::{self, Variant, Workspace};
use anyhow::Context as _;
use clap::Args;
use std::collections::BTreeMap;
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
    /// Closed-loop rounds (every scenario measured once per round at
    /// every concurrency).
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Back-to-back runs of credgate and credgate_log_off (order
    /// alternating) at the same fixed rate, half of credgate's peak, for
    /// the telemetry ratio: both then do the same work per second (at
    /// their own peaks the logs-on gateway runs slower and its audit
    /// batches differ), and the effect is a few per cent, about the spread
    /// of a single pair.
    #[arg(long, default_value_t = 4)]
    telemetry_pairs: usize,
    /// Also measure credgate_log_off's closed-loop peaks (every round and
    /// concurrency), for the logging cost at each side's own peak: ≈ 24 s,
    /// and on a 2-core machine shared by everything a noisy figure (the
    /// fixed-rate pairs give the telemetry cost).
    #[arg(long)]
    log_off_peaks: bool,
    /// Measured window of each closed-loop run, seconds.
    #[arg(long, default_value_t = 3)]
    measure_secs: u64,
    /// Measured window of each open-loop run, seconds.
    #[arg(long, default_value_t = 4)]
    open_secs: u64,
    /// Warm-up before every measurement, seconds.
    #[arg(long, default_value_t = 1)]
    warmup_secs: u64,
    /// Closed-loop connection counts (each scenario's peak is its best).
    /// nginx peaks at 32; credgate, whose every answer waits for its audit
    /// fsync, needs 256 (at 128 its peak was bound by commit latency, 15 %
    /// below its peak at 256; 512 is past it).
    #[arg(long, value_delimiter = ',', default_value = "32,128,256")]
    concurrency: Vec<usize>,
    /// Open-loop connections (the pool serving scheduled requests; large
    /// enough that it is not what limits credgate near its peak).
    #[arg(long, default_value_t = 256)]
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
    /// Only these scenarios (comma-separated; default: all). For
    /// re-measuring one thing; the SPEC checks then stay incomplete.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Directory for the children's logs (default: OUT/work/logs, on the
    /// same file system as the audit logs).
    #[arg(long)]
    logs_dir: Option<PathBuf>,
    /// Skip the open-loop runs.
    #[arg(long)]
    no_open: bool,
    /// Skip the rate-limiter probe and the idle-connection reading.
    #[arg(long)]
    no_idle: bool,
    /// Skip the fan-out measurement (sanctions check over four platforms
    /// with set delays).
    #[arg(long)]
    no_fanout: bool,
    /// Only the idle-connection reading: start the simulated platform and
    /// one fresh gateway, open `--idle-conns` connections, print the
    /// readings (JSON on stdout) and write OUT/idle.json. No load runs, no
    /// nginx or redis, results.json untouched. For memory work on a machine
    /// where others measure CPU.
    #[arg(long, conflicts_with = "no_idle")]
    idle_only: bool,
}

/// Scenarios with open-loop runs (direct first: the others are compared
/// with it).
const OPEN_LOOP: [&str; 4] = ["direct", "nginx", "credgate", "credgate_noaudit"];

/// One closed-loop run: concurrency, round, what it measured.
type PeakRun = (usize, usize, Measurement, CpuUse);

/// A system under test in the closed-loop rounds.
struct Sut {
    name: &'static str,
    target: Target,
    roles: Vec<(String, Vec<u32>)>,
    expect: Expect,
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
    // Children run in the work directory: a relative binary path would
    // resolve against it.
    let credgate = std::fs::canonicalize(&a.credgate)
        .with_context(|| format!("credgate binary {}", a.credgate))?
        .display()
        .to_string();
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let ws = Workspace::create(&a.out.join("work"), a.logs_dir.as_deref())?;
    let registry = Registry::new(a.out.join("pids"))?;
    let p = Params {
        concurrency: a.concurrency.first().copied().unwrap_or(32),
        warmup: Duration::from_secs(a.warmup_secs),
        measure: Duration::from_secs(a.measure_secs),
        open_conns: a.open_conns,
    };
    let load_at_start = crate::procfs::loadavg();
    let mut notes = Vec::new();

    // Everything starts now and idles until its turn.
    let sim = services::start_sim(&ws, &registry).await?;
    let demo = setup::demo_toml(&ws, sim.addr).await?;
    if a.idle_only {
        return idle_only(a, &ws, &credgate, &demo, &registry).await;
    }
    let ngx = crate::nginx::start(&ws, &a.nginx, sim.addr, a.threads, &registry).await?;
    let (redis, redis_addr) = services::start_redis(&ws, &a.redis_server, &registry).await?;
    let full = Variant {
        name: "credgate",
        audit: true,
        redis: None,
        rust_log: None,
    };
    let variants = [
        full.clone(),
        Variant {
            name: "credgate_noaudit",
            audit: false,
            ..full.clone()
        },
        Variant {
            name: "credgate_redis",
            redis: Some(format!("redis://{redis_addr}")),
            ..full.clone()
        },
        Variant {
            name: "credgate_log_off",
            rust_log: Some("off"),
            ..full.clone()
        },
    ];
    let mut gws: Vec<Gateway> = Vec::new();
    for v in &variants {
        gws.push(services::start_gateway(&ws, &credgate, &demo, v, &registry).await?);
    }

    let subjects = setup::subjects()?;
    let api = Arc::new(
        subjects
            .iter()
            .map(|s| setup::api_path(s))
            .collect::<Vec<_>>(),
    );
    let direct_paths = subjects
        .iter()
        .map(|s| setup::direct_path(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let c = |rel: &str| ws.certs.join(rel);
    let client_tls = tls_config(
        &c("ca.crt"),
        &c("clients/dept-nb.crt"),
        &c("clients/dept-nb.key"),
    )?;
    let upstream_tls = tls_config(
        &c("upstream/ca.crt"),
        &c("upstream/gateway.crt"),
        &c("upstream/gateway.key"),
    )?;
    let target = |name: &str, addr| Target {
        name: name.to_owned(),
        addr,
        tls: client_tls.clone(),
        paths: api.clone(),
    };
    let roles = |proxy: Option<(&str, Vec<u32>)>| {
        let mut r = vec![
            ("loadgen".to_owned(), vec![std::process::id()]),
            ("upstream".to_owned(), vec![sim.proc.pid()]),
        ];
        r.extend(proxy.map(|(role, pids)| (role.to_owned(), pids)));
        r
    };
    let mut nginx_pids = vec![ngx.proc.pid()];
    nginx_pids.extend(crate::procfs::children(ngx.proc.pid()));
    let mut suts = vec![
        Sut {
            name: "direct",
            target: Target {
                name: "direct".into(),
                addr: sim.addr,
                tls: upstream_tls,
                paths: Arc::new(direct_paths),
            },
            roles: roles(None),
            expect: Expect::Body,
        },
        Sut {
            name: "nginx",
            target: target("nginx", ngx.addr),
            roles: roles(Some(("nginx", nginx_pids))),
            expect: Expect::Body,
        },
    ];
    for (v, gw) in variants.iter().zip(&gws) {
        let mut r = roles(Some(("gateway", vec![gw.proc.pid()])));
        if v.redis.is_some() {
            r.push(("redis".to_owned(), vec![redis.pid()]));
        }
        suts.push(Sut {
            name: v.name,
            target: target(v.name, gw.addr),
            roles: r,
            expect: if v.audit {
                Expect::Audited
            } else {
                Expect::Unaudited
            },
        });
    }
    suts.retain(|s| a.only.is_empty() || a.only.iter().any(|o| o == s.name));
    anyhow::ensure!(!suts.is_empty(), "--only selects no scenario");
    for s in &suts {
        measure::preflight(&s.target, s.expect).await?;
    }
    let sut = |name: &str| suts.iter().find(|s| s.name == name);

    // Closed-loop peaks, interleaved in rounds.
    let metrics_before = services::metrics(gws[0].admin).await?;
    let credgate_measured = sut("credgate").is_some();
    let mut runs: Vec<Vec<PeakRun>> = suts.iter().map(|_| Vec::new()).collect();
    let levels: Vec<usize> = a.concurrency.iter().copied().filter(|c| *c > 0).collect();
    anyhow::ensure!(!levels.is_empty(), "no concurrency given");
    for r in 0..a.rounds.max(1) {
        eprintln!("bench: round {} of {}", r + 1, a.rounds.max(1));
        for &c in &levels {
            let pc = Params {
                concurrency: c,
                ..p.clone()
            };
            // Every other round in reverse order (A B, B A, …): a drift of
            // the machine over a round then favours no scenario.
            let mut order: Vec<usize> = (0..suts.len()).collect();
            if r % 2 == 1 {
                order.reverse();
            }
            for i in order {
                let s = &suts[i];
                if s.name == "credgate_log_off" && !a.log_off_peaks {
                    continue;
                }
                let (m, cpu) = measure::peak(&s.target, &pc, s.roles.clone()).await?;
                runs[i].push((c, r + 1, m, cpu));
            }
        }
    }
    let metrics_after = services::metrics(gws[0].admin).await?;
    let mut summary = Summary::default();
    if credgate_measured {
        crate::summary::audit_batch(&mut summary, &metrics_before, &metrics_after);
    }
    let mut scenarios = Vec::new();
    let mut log_off_rps = None;
    let mut log_off_runs = Vec::new();
    for (s, rs) in suts.iter().zip(&runs) {
        if rs.is_empty() && s.name == "credgate_log_off" {
            continue;
        }
        let best = rs
            .iter()
            .max_by(|x, y| x.2.rps().total_cmp(&y.2.rps()))
            .context("no run")?;
        let mut sc = report::scenario(s.name, &best.2, best.0, &best.3);
        sc.runs = rs
            .iter()
            .map(|(c, r, m, cpu)| report::peak_run(*c, *r, m, cpu))
            .collect();
        if s.name == "credgate_log_off" {
            log_off_rps = Some(sc.rps);
            log_off_runs = sc.runs;
        } else {
            scenarios.push(sc);
        }
    }

    if let Some(s) = sut("credgate_redis") {
        let per_request = redis_per_request(&s.target, redis_addr).await?;
        notes.push(crate::summary::redis_note(per_request));
    }
    let cross_check = match (&a.oha, sut("credgate")) {
        (Some(bin), Some(cg)) => {
            let url = format!(
                "https://{}{}",
                cg.target.addr,
                setup::api_path(&subjects[0])
            );
            // At the concurrency where credgate peaked, compared with our
            // best run there.
            let ours = scenarios.iter().find(|s| s.name == "credgate");
            let c = ours.map_or(p.concurrency, |s| s.concurrency);
            let pc = Params {
                concurrency: c,
                ..p.clone()
            };
            let roles = cg
                .roles
                .iter()
                .filter(|(r, _)| r != "loadgen")
                .cloned()
                .collect();
            let mut v = measure::oha(bin, &url, &ws.certs, &pc, roles).await?;
            if let Some(o) = ours {
                v["credgate_bench"] = serde_json::json!({
                    "rps": o.rps, "p50_ms": o.p50_ms, "p99_ms": o.p99_ms,
                    "concurrency": o.concurrency, "cpu_ms_per_request": o.cpu_ms_per_request,
                });
                if let Some(r) = v["rps"].as_f64() {
                    v["rps_difference_pct"] =
                        report::round((r / o.rps.max(1.0) - 1.0) * 100.0, 1).into();
                }
            }
            eprintln!("bench: oha cross-check: {v}");
            Some(v)
        }
        _ => None,
    };

    // Open loop at fractions of credgate's peak, interleaved per rate.
    let credgate_peak = scenarios
        .iter()
        .find(|s| s.name == "credgate")
        .map(|s| s.rps);
    let open_p = Params {
        measure: Duration::from_secs(a.open_secs),
        ..p.clone()
    };
    if let (Some(peak), false) = (credgate_peak, a.no_open) {
        for &f in &a.loads {
            let rate = (peak * f).max(1.0);
            for name in OPEN_LOOP {
                let (Some(s), Some(sc)) =
                    (sut(name), scenarios.iter_mut().find(|x| x.name == name))
                else {
                    continue;
                };
                let (m, cpu) = measure::open(&s.target, &open_p, rate, s.roles.clone()).await?;
                sc.open_loop
                    .push(report::open_loop(&m, rate, f, cpu.background_cores));
            }
        }
    }
    crate::summary::added_latency(&mut scenarios);
    let telemetry_pairs = match (credgate_peak, sut("credgate"), sut("credgate_log_off")) {
        (Some(peak), Some(on), Some(off)) if a.telemetry_pairs > 0 => {
            let rate = (peak * 0.5).max(1.0);
            let mut pairs = Vec::new();
            for k in 0..a.telemetry_pairs {
                eprintln!(
                    "bench: telemetry pair {} of {} at {rate:.0} rps",
                    k + 1,
                    a.telemetry_pairs
                );
                let run = |s| fixed_rate(s, &open_p, rate, k + 1, a.open_conns);
                let (x, y) = if k % 2 == 0 {
                    let y = run(off).await?;
                    (run(on).await?, y)
                } else {
                    let x = run(on).await?;
                    (x, run(off).await?)
                };
                pairs.push((x, y));
            }
            pairs
        }
        _ => Vec::new(),
    };
    drop(suts);
    drop(gws);
    ngx.proc.stop();
    drop(redis);

    let fanout = if a.no_fanout {
        None
    } else {
        Some(crate::fanout::run(&ws, &credgate, client_tls.clone(), &registry).await?)
    };

    let idle = if a.no_idle {
        None
    } else {
        // Rate-limiter probe (demo policy: dept-nb 50/s, burst 100).
        std::fs::write(ws.path("policy-demo.toml"), credgate_policy::DEMO_POLICY)?;
        let probe_toml = demo.replacen("file = \"policy.toml\"", "file = \"policy-demo.toml\"", 1);
        let probe_v = Variant {
            name: "ratelimit_probe",
            ..full.clone()
        };
        let gw = services::start_gateway(&ws, &credgate, &probe_toml, &probe_v, &registry).await?;
        let refused = measure::rate_limited(&target(probe_v.name, gw.addr), 300).await?;
        eprintln!("bench: rate-limiter probe: {refused} of 300 refused with 429");
        notes.push(crate::summary::ratelimit_note(refused > 0));
        drop(gw);

        // 10k idle connections on a fresh gateway.
        let idle_v = Variant {
            name: "credgate_idle",
            ..full.clone()
        };
        let gw = services::start_gateway(&ws, &credgate, &demo, &idle_v, &registry).await?;
        let idle = crate::idle::run(
            &target(idle_v.name, gw.addr),
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
        Some(idle)
    };
    drop(sim);

    let rss = idle
        .as_ref()
        .map(|i| report::round(i.rss_after_request_mib, 1));
    crate::summary::finish(&mut summary, &scenarios, log_off_rps, rss);
    if !log_off_runs.is_empty() || !telemetry_pairs.is_empty() {
        let metrics_us = crate::summary::metrics_us_per_request();
        let log_line_us = match crate::summary::log_line_us_per_request(&ws.logs) {
            Ok(us) => Some(us),
            Err(e) => {
                eprintln!("bench: the in-process log line measurement failed: {e:#}");
                None
            }
        };
        crate::summary::telemetry(
            &mut summary,
            &scenarios,
            &log_off_runs,
            &telemetry_pairs,
            metrics_us,
            log_line_us,
        );
    }
    if let Some(n) = crate::summary::disturbed_note(&scenarios, &load_at_start) {
        eprintln!("bench: {n}");
        notes.insert(0, n);
    }
    notes.extend(crate::summary::static_notes(
        a.threads,
        a.rounds.max(1),
        &levels,
        a.telemetry_pairs,
    ));
    let mut parameters = BTreeMap::new();
    parameters.insert("concurrency".into(), levels.clone().into());
    parameters.insert("rounds".into(), a.rounds.into());
    parameters.insert("telemetry_pairs".into(), a.telemetry_pairs.into());
    parameters.insert("open_loop_connections".into(), a.open_conns.into());
    parameters.insert("warmup_s".into(), a.warmup_secs.into());
    parameters.insert("measure_s".into(), a.measure_secs.into());
    parameters.insert("open_loop_measure_s".into(), a.open_secs.into());
    parameters.insert("subjects".into(), subjects.len().into());
    parameters.insert("loadavg_at_start".into(), load_at_start.into());
    parameters.insert(
        "request".into(),
        "GET /v1/enterprises/{uscc}/report?sections=basic as dept-nb (administrative_approval)"
            .into(),
    );
    let results = Results {
        scenarios,
        rss_10k_idle_mib: rss,
        machine: crate::procfs::machine(),
        idle,
        summary,
        cross_check,
        fanout,
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

/// `--idle-only`: the idle-connection reading on a fresh full gateway.
async fn idle_only(
    a: &RunArgs,
    ws: &Workspace,
    credgate: &str,
    demo: &str,
    registry: &Arc<Registry>,
) -> anyhow::Result<()> {
    let c = |rel: &str| ws.certs.join(rel);
    let target = Target {
        name: "credgate_idle".into(),
        addr: "127.0.0.1:0".parse()?,
        tls: tls_config(
            &c("ca.crt"),
            &c("clients/dept-nb.crt"),
            &c("clients/dept-nb.key"),
        )?,
        paths: Arc::new(
            setup::subjects()?
                .iter()
                .map(|s| setup::api_path(s))
                .collect(),
        ),
    };
    let v = Variant {
        name: "credgate_idle",
        audit: true,
        redis: None,
        rust_log: None,
    };
    let gw = services::start_gateway(ws, credgate, demo, &v, registry).await?;
    let target = Target {
        addr: gw.addr,
        ..target
    };
    let idle = crate::idle::run(&target, gw.proc.pid(), a.idle_conns, a.idle_parallel).await?;
    let json = serde_json::to_string_pretty(&idle)?;
    std::fs::write(a.out.join("idle.json"), json.clone() + "\n")?;
    println!("{json}");
    Ok(())
}

/// Redis commands per request through a gateway: `INFO stats` around 200
/// sequential requests.
async fn redis_per_request(t: &Target, redis: std::net::SocketAddr) -> anyhow::Result<f64> {
    const N: u64 = 200;
    let mut conn = t.connect().await?;
    let before = measure::redis_commands(redis).await?;
    for i in 0..N {
        conn.call(t.request(i)?).await?;
    }
    let after = measure::redis_commands(redis).await?;
    // The second INFO itself counts as one command.
    Ok(after.saturating_sub(before + 1) as f64 / N as f64)
}

/// One open-loop run at `rate` for the telemetry pairs, as a run entry
/// (`concurrency` is the connection pool).
async fn fixed_rate(
    s: &Sut,
    p: &Params,
    rate: f64,
    round: usize,
    conns: usize,
) -> anyhow::Result<report::PeakRunEntry> {
    let (m, cpu) = measure::open(&s.target, p, rate, s.roles.clone()).await?;
    Ok(report::peak_run(conns, round, &m, &cpu))
}
