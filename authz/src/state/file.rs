//! Revocations from a file, for gateways running without Redis (the demo).
//!
//! The file holds one JSON object per line:
//! `{"jti":"…","exp":<unix>,"revoked_at":<unix>}`. [`append_revocation`] (behind
//! `credgate authz revoke`) appends a line with `O_APPEND` and fsync; a running gateway's
//! [`FileRevocations`] watches the file's directory and re-reads the whole file on every
//! create, modify or rename of it, so the revocation takes effect at once.
//!
//! Reading is forgiving: a malformed line is skipped with a warning (never fatal), and
//! an unterminated last line that does not parse is taken for a write in progress.
//! Revocations are never undone by the file while the gateway runs: a reload adds
//! what the file holds to what is in force, so a file deleted, truncated
//! (`: > file`, logrotate's `copytruncate`), replaced by a shorter one or holding a
//! mangled line lifts nothing (logged when the file no longer holds some). To lift
//! a revocation on purpose, remove its line and restart the gateway. Revocations of
//! tokens expired more than [`STATE_GRACE_SECS`](super::STATE_GRACE_SECS) ago are
//! not kept in memory (such a token no longer verifies).

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::claims::is_valid_jti;

/// One line of the revocation file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationRecord {
    /// The revoked token's `jti`.
    pub jti: String,
    /// Until when the revocation matters (the token's `exp`), Unix seconds.
    pub exp: i64,
    /// When it was revoked, Unix seconds.
    pub revoked_at: i64,
}

/// Why the revocation file could not be opened, watched or appended to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationFileError {
    /// The `jti` is not 1–128 visible ASCII characters.
    #[error("invalid jti: must be 1-128 visible ASCII characters")]
    InvalidJti,
    /// The path has no file name.
    #[error("{} is not a file path", .0.display())]
    NotAFile(PathBuf),
    /// Reading or writing failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file watcher could not be started.
    #[error("watch {}: {detail}", path.display())]
    Watch {
        /// The directory that was to be watched.
        path: PathBuf,
        /// The watcher's error.
        detail: String,
    },
}

/// The revocations listed in a file, kept current by a watcher. Cheap to clone.
#[derive(Clone)]
pub struct FileRevocations {
    shared: Arc<Shared>,
    /// Dropping the last clone stops the watcher.
    _watcher: Arc<Mutex<RecommendedWatcher>>,
}

/// What the watcher thread and the readers share.
struct Shared {
    path: PathBuf,
    /// `jti` → `exp` of every revocation loaded.
    revoked: ArcSwap<HashMap<String, i64>>,
    /// Incremented after every successful (re)load.
    generation: watch::Sender<u64>,
}

// === impl FileRevocations ===

impl FileRevocations {
    /// Loads `path` (a missing file is an empty list) and starts watching it.
    ///
    /// The parent directory must exist. No runtime is needed: the watcher runs on its
    /// own thread.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, RevocationFileError> {
        let path: PathBuf = path.into();
        let file_name = path
            .file_name()
            .ok_or_else(|| RevocationFileError::NotAFile(path.clone()))?
            .to_owned();
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let (generation, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            path: path.clone(),
            revoked: ArcSwap::from_pointee(HashMap::new()),
            generation,
        });
        let handler_shared = Arc::clone(&shared);
        let watch_err = |e: notify::Error| RevocationFileError::Watch {
            path: dir.clone(),
            detail: e.to_string(),
        };
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<Event>| match res {
                Ok(event) if concerns(&event, &file_name) => handler_shared.reload_logged(),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "revocation file watcher error"),
            })
            .map_err(watch_err)?;
        // Watch first, then load: a write between the two is seen by the watcher.
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(watch_err)?;
        match shared.reload() {
            Ok(()) => {}
            Err(RevocationFileError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                shared.generation.send_modify(|g| *g += 1);
            }
            Err(e) => return Err(e),
        }
        Ok(Self {
            shared,
            _watcher: Arc::new(Mutex::new(watcher)),
        })
    }

    /// Whether `jti` is listed.
    pub fn is_revoked(&self, jti: &str) -> bool {
        self.shared.revoked.load().contains_key(jti)
    }

    /// How many distinct `jti`s are listed.
    pub fn len(&self) -> usize {
        self.shared.revoked.load().len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The file watched.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// How many times the file has been loaded (1 after [`FileRevocations::open`]).
    pub fn generation(&self) -> u64 {
        *self.shared.generation.borrow()
    }

    /// A receiver notified after every reload (tests wait on it with a deadline).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.generation.subscribe()
    }

    /// Re-reads the file now (the watcher does this by itself).
    pub fn reload(&self) -> Result<(), RevocationFileError> {
        self.shared.reload()
    }
}

impl std::fmt::Debug for FileRevocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileRevocations")
            .field("path", &self.shared.path)
            .field("revoked", &self.len())
            .field("generation", &self.generation())
            .finish()
    }
}

// === impl Shared ===

impl Shared {
    fn reload(&self) -> Result<(), RevocationFileError> {
        let content = std::fs::read(&self.path).map_err(|source| RevocationFileError::Io {
            action: "read",
            path: self.path.clone(),
            source,
        })?;
        let now = super::unix_now();
        let read = parse(&self.path, &content, now);
        let live_after = now.saturating_sub(super::STATE_GRACE_SECS);
        let mut only_in_memory = 0usize;
        // `rcu`: two reloads at once (the watcher's and a request's) each
        // add to the latest list, so neither drops what the other stored.
        self.revoked.rcu(|in_force| {
            let mut next = read.clone();
            only_in_memory = 0;
            for (jti, exp) in in_force.iter().filter(|(_, exp)| **exp >= live_after) {
                let kept = next.entry(jti.clone()).or_insert_with(|| {
                    only_in_memory += 1;
                    *exp
                });
                *kept = (*kept).max(*exp);
            }
            next
        });
        if only_in_memory > 0 {
            tracing::warn!(
                path = %self.path.display(),
                revocations = only_in_memory,
                "revocation file no longer holds revocations still in force; they stay in force (a restart reads the file alone)"
            );
        }
        self.generation.send_modify(|g| *g += 1);
        Ok(())
    }

    fn reload_logged(&self) {
        if let Err(e) = self.reload() {
            tracing::warn!(error = %e, "revocation file not reloaded; keeping the previous list");
        }
    }
}

/// Whether a watcher event is about the file called `name` (or asks for a rescan).
fn concerns(event: &Event, name: &std::ffi::OsStr) -> bool {
    let relevant_kind = matches!(
        event.kind,
        EventKind::Any
            | EventKind::Create(_)
            | EventKind::Modify(_)
            | EventKind::Remove(_)
            | EventKind::Access(AccessKind::Close(AccessMode::Write))
    );
    event.need_rescan()
        || (relevant_kind && event.paths.iter().any(|p| p.file_name() == Some(name)))
}

/// Parses the file's lines; malformed ones are skipped with a warning.
/// Revocations of tokens that can no longer verify (past their `exp` by
/// more than [`STATE_GRACE_SECS`](super::STATE_GRACE_SECS), which exceeds
/// any clock-skew allowance) are left out, so memory holds only the live
/// ones however long the file grows.
fn parse(path: &Path, content: &[u8], now_unix: i64) -> HashMap<String, i64> {
    let live_after = now_unix.saturating_sub(super::STATE_GRACE_SECS);
    let mut out = HashMap::new();
    let text = String::from_utf8_lossy(content);
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let terminated = line.ends_with('\n');
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<RevocationRecord>(line) {
            Ok(rec) if is_valid_jti(&rec.jti) && rec.exp < live_after => {}
            Ok(rec) if is_valid_jti(&rec.jti) => {
                let exp = out.entry(rec.jti).or_insert(rec.exp);
                *exp = (*exp).max(rec.exp);
            }
            // An unterminated last line may be an append in progress: the next event re-reads it.
            _ if !terminated => {
                tracing::debug!(path = %path.display(), line = index + 1, "incomplete last revocation line");
            }
            _ => {
                tracing::warn!(path = %path.display(), line = index + 1, "skipping malformed revocation line");
            }
        }
    }
    out
}

/// Appends a revocation of `jti` (kept until `exp`) to the file at `path`, creating
/// it if missing, with `O_APPEND` and fsync. Returns the record written.
pub fn append_revocation(
    path: &Path,
    jti: &str,
    exp: i64,
) -> Result<RevocationRecord, RevocationFileError> {
    if !is_valid_jti(jti) {
        return Err(RevocationFileError::InvalidJti);
    }
    let io = |action: &'static str| {
        move |source| RevocationFileError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    };
    let record = RevocationRecord {
        jti: jti.to_owned(),
        exp,
        revoked_at: super::unix_now(),
    };
    let existed = path.exists();
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(io("open"))?;
    #[cfg(unix)]
    if !existed {
        // Readable by the gateway whatever the revoking user's umask (077
        // under sudo, say): a list the gateway cannot read makes it refuse
        // every authorized query. It holds token ids and expiry times only.
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io("set the mode of"))?;
    }
    let mut line = Vec::with_capacity(128);
    if file.metadata().map_err(io("stat"))?.len() > 0 {
        // Never glue our line to a hand-written last line without a newline.
        let mut last = [0u8; 1];
        file.seek(SeekFrom::End(-1)).map_err(io("seek"))?;
        file.read_exact(&mut last).map_err(io("read"))?;
        if last[0] != b'\n' {
            line.push(b'\n');
        }
    }
    serde_json::to_writer(&mut line, &record)
        .map_err(|e| io("encode")(std::io::Error::other(e)))?;
    line.push(b'\n');
    // One write of one buffer: with O_APPEND concurrent appenders never interleave.
    file.write_all(&line).map_err(io("append to"))?;
    file.sync_all().map_err(io("sync"))?;
    if !existed {
        sync_parent(path).map_err(io("sync directory of"))?;
    }
    Ok(record)
}

/// Fsyncs the directory holding `path`, so a newly created file survives a crash.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests;
