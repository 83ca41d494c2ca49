//! Starting what the scenarios need: the simulated platform (a child
//! `credgate-bench sim`), a release `credgate serve` per gateway variant,
//! and a throw-away `redis-server`; and reading the gateway's metrics.

use crate::client::plain_get;
use crate::procs::{free_addr, Proc, Registry};
use crate::setup::{Variant, Workspace};
use anyhow::Context as _;
use std::io::BufRead as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The simulated platform's process and data address.
#[derive(Debug)]
pub struct Sim {
    /// The `credgate-bench sim` child.
    pub proc: Proc,
    /// Its mutual-TLS data address.
    pub addr: SocketAddr,
}

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    /// The `credgate serve` child.
    pub proc: Proc,
    /// Client-facing mTLS address.
    pub addr: SocketAddr,
    /// Admin address (`/healthz`, `/metrics`).
    pub admin: SocketAddr,
}

/// Starts `credgate-bench sim` and reads the address it prints.
pub async fn start_sim(ws: &Workspace, registry: &Arc<Registry>) -> anyhow::Result<Sim> {
    let exe = std::env::current_exe().context("locating credgate-bench")?;
    let mut cmd = Command::new(exe);
    cmd.arg("sim")
        .arg("--certs")
        .arg(&ws.certs)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut proc = Proc::spawn(
        "simulated platform",
        &mut cmd,
        &ws.logs.join("sim.log"),
        true,
        registry,
    )?;
    let stdout = proc.take_stdout().context("no stdout pipe")?;
    let line = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .map(|_| line)
        }),
    )
    .await
    .context("the simulated platform did not start within 60 s")???;
    proc.check_alive()?;
    let v: serde_json::Value = serde_json::from_str(line.trim())
        .with_context(|| format!("unexpected line from the simulated platform: {line:?}"))?;
    let addr: SocketAddr = v["address"]
        .as_str()
        .context("no address from the simulated platform")?
        .parse()?;
    Ok(Sim { proc, addr })
}

/// Starts `credgate serve` for a variant and waits until `/healthz`
/// answers 200 and the client listener accepts.
pub async fn start_gateway(
    ws: &Workspace,
    credgate: &str,
    demo_toml: &str,
    v: &Variant,
    registry: &Arc<Registry>,
) -> anyhow::Result<Gateway> {
    let addr = free_addr()?;
    let admin = free_addr()?;
    let cfg = ws.gateway_config(demo_toml, addr, admin, v)?;
    let mut cmd = Command::new(credgate);
    cmd.arg("serve")
        .arg("--config")
        .arg(&cfg)
        .current_dir(&ws.dir)
        .stdin(Stdio::null());
    match v.rust_log {
        Some(level) => cmd.env("RUST_LOG", level),
        None => cmd.env_remove("RUST_LOG"),
    };
    let log = ws.logs.join(format!("gateway-{}.log", v.name));
    let mut proc = Proc::spawn(
        &format!("gateway ({})", v.name),
        &mut cmd,
        &log,
        false,
        registry,
    )?;
    proc.wait_listening(admin, Duration::from_secs(30)).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        proc.check_alive()?;
        if matches!(plain_get(admin, "/healthz").await, Ok((200, _))) {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "gateway /healthz not ready; see {}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proc.wait_listening(addr, Duration::from_secs(10)).await?;
    Ok(Gateway { proc, addr, admin })
}

/// Starts `redis-server` on a free loopback port, without persistence.
pub async fn start_redis(
    ws: &Workspace,
    bin: &str,
    registry: &Arc<Registry>,
) -> anyhow::Result<(Proc, SocketAddr)> {
    let addr = free_addr()?;
    let mut cmd = Command::new(bin);
    cmd.args(["--bind", "127.0.0.1", "--port"])
        .arg(addr.port().to_string())
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .current_dir(&ws.dir)
        .stdin(Stdio::null());
    let mut proc = Proc::spawn(
        "redis-server",
        &mut cmd,
        &ws.logs.join("redis.log"),
        false,
        registry,
    )?;
    proc.wait_listening(addr, Duration::from_secs(15)).await?;
    Ok((proc, addr))
}

/// The gateway's `/metrics` text.
pub async fn metrics(admin: SocketAddr) -> anyhow::Result<String> {
    let (status, body) = plain_get(admin, "/metrics").await?;
    anyhow::ensure!(status == 200, "/metrics answered {status}");
    Ok(body)
}

/// The value of an unlabelled sample in Prometheus text (`name value`).
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let (n, v) = l.split_once(' ')?;
        (n == name).then(|| v.trim().parse().ok()).flatten()
    })
}
