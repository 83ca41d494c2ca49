//! Hot reload: SIGHUP or a change to any watched file (server certificate,
//! key, CA bundle, CRLs, policy) re-reads the material off the request
//! path. Each store swaps atomically or keeps the old material and logs why.

use crate::policy_store::PolicyStore;
use crate::tls::TlsStore;
use notify::{RecursiveMode, Watcher};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    Tls,
    Policy,
    All,
}

/// Starts watching; returns once the watcher is installed, so a change made
/// after this returns is seen.
pub fn spawn(
    tls: Arc<TlsStore>,
    policy: Arc<PolicyStore>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, notify::Error> {
    let (tx, mut rx) = mpsc::channel::<Trigger>(64);
    let tls_files: HashSet<PathBuf> = tls.paths().files().iter().map(|p| normalise(p)).collect();
    let policy_file = normalise(policy.path());
    let mut dirs: HashSet<PathBuf> = HashSet::new();
    for f in tls_files.iter().chain(std::iter::once(&policy_file)) {
        if let Some(d) = f.parent() {
            dirs.insert(d.to_owned());
        }
    }
    let watch_tx = tx.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        if ev.kind.is_access() {
            return;
        }
        for p in &ev.paths {
            let p = normalise(p);
            let t = if p == policy_file {
                Some(Trigger::Policy)
            } else if tls_files.contains(&p) {
                Some(Trigger::Tls)
            } else {
                None
            };
            if let Some(t) = t {
                // A full queue already holds a pending reload: dropping is fine.
                let _ = watch_tx.try_send(t);
            }
        }
    })?;
    for d in &dirs {
        watcher.watch(d, RecursiveMode::NonRecursive)?;
    }
    let sighup_tx = tx;
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    Ok(tokio::spawn(async move {
        let _watcher = watcher; // kept alive for the task's lifetime
        loop {
            let first = tokio::select! {
                t = rx.recv() => match t { Some(t) => t, None => return },
                _ = async { match hup.as_mut() { Some(h) => { h.recv().await; } None => std::future::pending().await } } => {
                    let _ = sighup_tx.try_send(Trigger::All);
                    continue;
                }
                _ = shutdown.changed() => return,
            };
            // Editors and `cp` write in several steps: let them settle, then
            // reload once for everything that arrived meanwhile.
            tokio::time::sleep(Duration::from_millis(150)).await;
            let (mut do_tls, mut do_policy) = wants(first);
            while let Ok(t) = rx.try_recv() {
                let (a, b) = wants(t);
                do_tls |= a;
                do_policy |= b;
            }
            if do_tls {
                match tls.reload() {
                    Ok(()) => tracing::info!("TLS material reloaded"),
                    Err(e) => {
                        tracing::error!(error = %e, "TLS reload failed; previous material stays in force")
                    }
                }
            }
            if do_policy {
                match policy.reload() {
                    Ok(()) => {
                        tracing::info!(summary = %policy.current().summary(), "policy reloaded")
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "policy reload failed; previous policy stays in force")
                    }
                }
            }
        }
    }))
}

fn wants(t: Trigger) -> (bool, bool) {
    match t {
        Trigger::Tls => (true, false),
        Trigger::Policy => (false, true),
        Trigger::All => (true, true),
    }
}

/// Absolute, with `.`/`..` folded lexically (files may not exist yet).
fn normalise(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_owned()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
