//! Hot reload: SIGHUP, or a change to any watched file — server
//! certificate, key, CA bundle, CRLs, the policy and the issuer keys it
//! names, each upstream's CA, client certificate and key, and a `rediss://`
//! Redis' CA, client certificate and key — re-reads the
//! material off the request path. Each store swaps atomically or keeps the
//! old material and logs why.
//!
//! Changes are detected by fingerprint, not by event path: any event in a
//! watched directory makes the reloader compare each file's (length,
//! mtime, inode) — through symlinks — with what it last loaded. That
//! catches in-place writes, atomic renames, and Kubernetes' ConfigMap and
//! Secret updates (a `..data` symlink swap that never names the file).
//! A watched folder replaced by a rename is watched again at the next
//! check, as inotify's watch stays with the old folder. A reload that
//! fails after a change waits a few seconds for the rest of it (a key,
//! then its certificate) before the failure is reported and counted
//! (`settle`).

mod settle;

use crate::federation::Federation;
use crate::policy_store::PolicyStore;
use crate::tls::TlsStore;
use notify::{RecursiveMode, Watcher};
use settle::{Outcome, Settle};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, watch};

/// What a file looked like when last loaded (`None`: missing).
type Fingerprint = Option<(u64, SystemTime, u64)>;

fn fingerprint(p: &Path) -> Fingerprint {
    let m = std::fs::metadata(p).ok()?;
    Some((
        m.len(),
        m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        m.ino(),
    ))
}

fn fingerprints(paths: &[PathBuf]) -> Vec<Fingerprint> {
    paths.iter().map(|p| fingerprint(p)).collect()
}

/// The TLS files of a `rediss://` Redis and the connections that use them
/// (the rate limiter's and the authorization store's).
pub struct RedisTls {
    config: crate::config::RedisConfig,
    conns: Vec<credgate_redisconn::RedisConn>,
}

impl RedisTls {
    /// `None` unless Redis is reached over TLS with files to watch.
    pub fn new(
        config: &crate::config::RedisConfig,
        conns: Vec<credgate_redisconn::RedisConn>,
    ) -> Option<RedisTls> {
        let tls = RedisTls {
            config: config.clone(),
            conns,
        };
        (config.url.starts_with("rediss://") && !tls.files().is_empty() && !tls.conns.is_empty())
            .then_some(tls)
    }

    fn files(&self) -> Vec<PathBuf> {
        [
            &self.config.ca_file,
            &self.config.client_cert_file,
            &self.config.client_key_file,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
    }

    /// Reads and checks the files again; on success every connection
    /// switches to the new material, else the old one stays.
    fn reload(&self) -> Result<(), String> {
        let tls = crate::config::redis_tls(&self.config).map_err(|e| e.to_string())?;
        for conn in &self.conns {
            conn.set_tls(tls.clone()).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for RedisTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTls")
            .field("files", &self.files())
            .field("conns", &self.conns.len())
            .finish()
    }
}

/// Starts watching; returns once the watcher is installed, so a change made
/// after this returns is seen.
pub fn spawn(
    tls: Arc<TlsStore>,
    policy: Arc<PolicyStore>,
    federation: Arc<Federation>,
    redis: Option<RedisTls>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, notify::Error> {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let recheck = tx.clone();
    let redis_files: Vec<PathBuf> = redis
        .as_ref()
        .map(|r| r.files().iter().map(|p| normalise(p)).collect())
        .unwrap_or_default();
    let tls_files: Vec<PathBuf> = tls.paths().files().iter().map(|p| normalise(p)).collect();
    let upstream_files: Vec<PathBuf> = federation
        .tls_files()
        .iter()
        .map(|p| normalise(p))
        .collect();
    let policy_files = || -> Vec<PathBuf> {
        policy
            .watched_files()
            .iter()
            .map(|p| normalise(p))
            .collect()
    };
    let mut dirs: HashMap<PathBuf, Option<u64>> = HashMap::new();
    for f in tls_files
        .iter()
        .chain(upstream_files.iter())
        .chain(redis_files.iter())
        .chain(policy_files().iter())
    {
        if let Some(d) = f.parent() {
            dirs.insert(d.to_owned(), dir_inode(d));
        }
    }
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if matches!(res, Ok(ref ev) if !ev.kind.is_access()) {
            // A full channel already holds a pending check: dropping is fine.
            let _ = tx.try_send(());
        }
    })?;
    for d in dirs.keys() {
        watcher.watch(d, RecursiveMode::NonRecursive)?;
    }
    let mut tls_seen = fingerprints(&tls_files);
    let mut upstream_seen = fingerprints(&upstream_files);
    let mut redis_seen = fingerprints(&redis_files);
    let mut policy_seen = fingerprints(&policy_files());
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    Ok(tokio::spawn(async move {
        let mut watcher = watcher; // kept alive for the task's lifetime
        let mut dirs = dirs;
        let mut settle = Settling::default();
        loop {
            let due = settle.due();
            let trigger = tokio::select! {
                r = rx.recv() => match r { Some(()) => Trigger::Change, None => return },
                _ = async { match hup.as_mut() { Some(h) => { h.recv().await; } None => std::future::pending().await } } => Trigger::Signal,
                _ = async { match due { Some(t) => tokio::time::sleep_until(t.into()).await, None => std::future::pending().await } } => Trigger::Due,
                _ = shutdown.changed() => return,
            };
            let forced = trigger == Trigger::Signal;
            match trigger {
                Trigger::Due => {
                    settle.report_expired(&tls, &policy);
                    continue;
                }
                Trigger::Change => {
                    // Editors, `cp` and kubelet write in several steps: let
                    // them settle, then compare once for everything that
                    // happened.
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    while rx.try_recv().is_ok() {}
                }
                Trigger::Signal => {}
            }
            let now = std::time::Instant::now();
            rewatch_replaced_dirs(&mut watcher, &mut dirs);
            let tls_now = fingerprints(&tls_files);
            if forced || tls_now != tls_seen {
                let result = tls.reload().map_err(|e| e.to_string());
                match settle.tls.record(result, forced, now) {
                    Outcome::Loaded => tracing::info!("TLS material reloaded"),
                    Outcome::Waiting(e) => waiting("TLS material", &e),
                    Outcome::Failed(e) => Kind::Tls.report(&e, &tls, &policy),
                }
                tls_seen = tls_now;
            }
            let upstream_now = fingerprints(&upstream_files);
            if forced || upstream_now != upstream_seen {
                let failed = federation.reload_tls();
                let result = if failed.is_empty() {
                    Ok(())
                } else {
                    Err(failed
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "))
                };
                match settle.upstream.record(result, forced, now) {
                    Outcome::Loaded => tracing::info!("upstream TLS material reloaded"),
                    Outcome::Waiting(e) => waiting("upstream TLS material", &e),
                    Outcome::Failed(e) => Kind::Upstream.report(&e, &tls, &policy),
                }
                upstream_seen = upstream_now;
            }
            if let Some(r) = &redis {
                let redis_now = fingerprints(&redis_files);
                if forced || redis_now != redis_seen {
                    match settle.redis.record(r.reload(), forced, now) {
                        Outcome::Loaded => tracing::info!("Redis TLS material reloaded"),
                        Outcome::Waiting(e) => waiting("Redis TLS material", &e),
                        Outcome::Failed(e) => Kind::Redis.report(&e, &tls, &policy),
                    }
                    redis_seen = redis_now;
                }
            }
            let files = policy
                .watched_files()
                .iter()
                .map(|p| normalise(p))
                .collect::<Vec<_>>();
            let policy_now = fingerprints(&files);
            if forced || policy_now != policy_seen {
                let result = policy.reload().map_err(|e| e.to_string());
                match settle.policy.record(result, forced, now) {
                    Outcome::Loaded => {
                        let now = policy.current();
                        tracing::info!(summary = %now.summary(), sha256 = %now.sha256, "policy reloaded");
                    }
                    Outcome::Waiting(e) => waiting("policy", &e),
                    Outcome::Failed(e) => Kind::Policy.report(&e, &tls, &policy),
                }
                // The files the new policy names (issuer keys), or those a
                // refused one names (a key it waits for), may be in folders
                // not watched yet: watch them too, then compare once more
                // for a change made meanwhile.
                let files: Vec<PathBuf> = policy
                    .watched_files()
                    .iter()
                    .map(|p| normalise(p))
                    .collect();
                if watch_new_dirs(&mut watcher, &mut dirs, &files) {
                    let _ = recheck.try_send(());
                }
                policy_seen = policy_now;
            }
        }
    }))
}

/// What woke the reloader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    /// A watched folder changed.
    Change,
    /// SIGHUP: reload everything, report failures at once.
    Signal,
    /// A failure's grace ran out.
    Due,
}

/// The material the reloader keeps, each with its failures not reported yet.
#[derive(Debug, Default)]
struct Settling {
    tls: Settle,
    upstream: Settle,
    redis: Settle,
    policy: Settle,
}

impl Settling {
    fn due(&self) -> Option<std::time::Instant> {
        [&self.tls, &self.upstream, &self.redis, &self.policy]
            .into_iter()
            .filter_map(Settle::due)
            .min()
    }

    /// Reports (and counts) each failure whose grace has passed.
    fn report_expired(&mut self, tls: &TlsStore, policy: &PolicyStore) {
        let now = std::time::Instant::now();
        for (kind, settle) in [
            (Kind::Tls, &mut self.tls),
            (Kind::Upstream, &mut self.upstream),
            (Kind::Redis, &mut self.redis),
            (Kind::Policy, &mut self.policy),
        ] {
            if let Some(e) = settle.expire(now) {
                kind.report(&e, tls, policy);
            }
        }
    }
}

/// A failure within its grace: the rest of the change may be on its way.
fn waiting(what: &str, error: &str) {
    tracing::info!(
        error = %error,
        grace_ms = settle::GRACE.as_millis() as u64,
        "{what} does not load yet; waiting for the rest of the change before refusing it"
    );
}

/// The kinds of material, for reporting a failure.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Tls,
    Upstream,
    Redis,
    Policy,
}

impl Kind {
    /// Logs a failed reload and counts it where a counter exists.
    fn report(self, error: &str, tls: &TlsStore, policy: &PolicyStore) {
        match self {
            Kind::Tls => {
                tls.count_failed_reload();
                tracing::error!(error = %error, "TLS reload failed; previous material stays in force");
            }
            Kind::Upstream => tracing::error!(
                error = %error,
                "upstream TLS reload failed; previous material stays in force for it"
            ),
            Kind::Redis => tracing::error!(
                error = %error,
                "Redis TLS reload failed; previous material stays in force"
            ),
            Kind::Policy => {
                policy.count_failed_reload();
                tracing::error!(error = %error, "policy reload failed; previous policy stays in force");
            }
        }
    }
}

/// Adds a watch on the folder of each of `files` not watched yet; true
/// when one was added. A folder that cannot be watched (not there yet) is
/// logged and tried again at the next reload.
fn watch_new_dirs(
    watcher: &mut notify::RecommendedWatcher,
    dirs: &mut HashMap<PathBuf, Option<u64>>,
    files: &[PathBuf],
) -> bool {
    let mut added = false;
    for d in files.iter().filter_map(|f| f.parent()) {
        if dirs.contains_key(d) {
            continue;
        }
        match watcher.watch(d, RecursiveMode::NonRecursive) {
            Ok(()) => {
                tracing::info!(dir = %d.display(), "watching a folder the policy names");
                dirs.insert(d.to_owned(), dir_inode(d));
                added = true;
            }
            Err(e) => tracing::warn!(dir = %d.display(), error = %e,
                "cannot watch a folder the policy names; changes there apply on SIGHUP or the next reload"),
        }
    }
    added
}

/// The inode a folder's path names now (through symlinks), `None` when
/// it is missing.
fn dir_inode(d: &Path) -> Option<u64> {
    std::fs::metadata(d).ok().map(|m| m.ino())
}

/// inotify watches an inode, not a path: a folder replaced by a rename
/// (`mv keys keys.old && mv keys.new keys`) would keep the watch on the
/// old folder, and later changes in the new one would go unseen. So every
/// check first watches again each folder whose path now names another
/// inode. (The replacement itself is seen: the folder's parent is watched
/// whenever a watched file lives there, and SIGHUP always works.)
fn rewatch_replaced_dirs(
    watcher: &mut notify::RecommendedWatcher,
    dirs: &mut HashMap<PathBuf, Option<u64>>,
) {
    for (d, seen) in dirs.iter_mut() {
        let now = dir_inode(d);
        if now == *seen {
            continue;
        }
        // The old watch may already be gone with its folder.
        let _ = watcher.unwatch(d);
        if now.is_none() {
            // Watched again once a folder is back at the path.
            *seen = None;
            continue;
        }
        match watcher.watch(d, RecursiveMode::NonRecursive) {
            Ok(()) => {
                tracing::info!(dir = %d.display(), "a watched folder was replaced; watching the new one");
                *seen = now;
            }
            // Left as seen so the next check tries again.
            Err(e) => tracing::warn!(dir = %d.display(), error = %e,
                "cannot watch a replaced folder; changes there apply on SIGHUP or the next reload"),
        }
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
