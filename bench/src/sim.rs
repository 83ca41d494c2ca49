//! `credgate-bench sim`: one simulated platform in a process of its own, so
//! that its CPU time shows separately from the load generator's and the
//! gateway's. It prints its addresses as one JSON line on stdout and runs
//! until its stdin closes (the parent exited) or it gets SIGTERM/SIGINT.

use anyhow::Context as _;
use clap::Args;
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `credgate-bench sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// The dev PKI directory (`upstream/NAME.crt|key`, `upstream/ca.crt`).
    #[arg(long)]
    certs: PathBuf,
    /// Which platform.
    #[arg(long, default_value = crate::setup::PLATFORM)]
    platform: String,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = credgate::demo::DEMO_SEED)]
    seed: u64,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// Runs the platform until stdin closes or a termination signal arrives.
pub fn main(a: SimArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let id = credgate_sim::PlatformId::from_name(&a.platform)
            .with_context(|| format!("unknown platform {}", a.platform))?;
        let up = a.certs.join("upstream");
        let read = |p: PathBuf| {
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))
        };
        let tls = credgate_sim::SimTls {
            cert_chain_pem: read(up.join(format!("{}.crt", a.platform)))?,
            key_pem: read(up.join(format!("{}.key", a.platform)))?,
            client_ca_pem: read(up.join("ca.crt"))?,
        };
        let dataset = Arc::new(credgate_sim::Dataset::generate(a.seed));
        let p = credgate_sim::start(id.spec(), dataset, tls).await?;
        let line = serde_json::json!({ "address": p.address, "control": p.control });
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
        drop(out);
        wait_for_end().await;
        p.shutdown().await;
        anyhow::Ok(())
    })
}

async fn wait_for_end() {
    use tokio::signal::unix::{signal, SignalKind};
    // A detached thread blocks on stdin; the process exits without it.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
        let _ = tx.send(());
    });
    let stdin_closed = async {
        let _ = rx.await;
    };
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        stdin_closed.await;
        return;
    };
    tokio::select! {
        _ = stdin_closed => {}
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
