//! In-process state for a gateway running without Redis: use counts in a bounded
//! table, revocations from a watched file (see [`super::file`]) plus those made
//! through this process.
//!
//! Use counts are per replica: with several replicas, configure Redis.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use super::file::{append_revocation, FileRevocations};
use super::{unix_now, AuthzState, Reservation, StateError, UseOutcome, STATE_GRACE_SECS};

/// Sizing of [`MemoryState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryOptions {
    /// The most tokens with live use counts (default 100 000). When full, expired
    /// entries are evicted; if none are, reservations fail closed
    /// ([`StateError::CapacityExceeded`]) rather than forget a count.
    pub max_entries: usize,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
        }
    }
}

/// In-process revocations and use counts. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct MemoryState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    options: MemoryOptions,
    /// `jti` → use count and expiry.
    uses: Mutex<HashMap<String, UseEntry>>,
    /// Revocations made through [`AuthzState::revoke`] in this process: `jti` → `exp`.
    revoked: Mutex<HashMap<String, i64>>,
    /// The watched revocation file, if configured.
    file: Option<FileRevocations>,
}

#[derive(Debug, Clone, Copy)]
struct UseEntry {
    count: u32,
    expires_at: i64,
}

// === impl MemoryState ===

impl MemoryState {
    /// In-process state without a revocation file (revocations live in memory only).
    pub fn new(options: MemoryOptions) -> Self {
        Self::build(options, None)
    }

    /// In-process state with revocations read from (and written to) a watched file.
    pub fn with_revocation_file(options: MemoryOptions, file: FileRevocations) -> Self {
        Self::build(options, Some(file))
    }

    fn build(options: MemoryOptions, file: Option<FileRevocations>) -> Self {
        Self {
            inner: Arc::new(Inner {
                options,
                uses: Mutex::new(HashMap::new()),
                revoked: Mutex::new(HashMap::new()),
                file,
            }),
        }
    }

    /// The watched revocation file, if any.
    pub fn revocation_file(&self) -> Option<&FileRevocations> {
        self.inner.file.as_ref()
    }

    /// The current use count of `jti` (0 if none).
    pub fn uses(&self, jti: &str) -> u32 {
        lock(&self.inner.uses).get(jti).map_or(0, |e| e.count)
    }

    /// [`AuthzState::reserve_use`] with an explicit clock (for expiry and eviction).
    pub fn reserve_use_at(
        &self,
        jti: &str,
        max_uses: u32,
        expires_at: i64,
        now: i64,
    ) -> Result<UseOutcome, StateError> {
        let expires_at = expires_at.saturating_add(STATE_GRACE_SECS);
        let mut uses = lock(&self.inner.uses);
        if uses.get(jti).is_some_and(|e| e.expires_at <= now) {
            uses.remove(jti);
        }
        if !uses.contains_key(jti) && uses.len() >= self.inner.options.max_entries {
            uses.retain(|_, e| e.expires_at > now);
            if uses.len() >= self.inner.options.max_entries {
                return Err(StateError::CapacityExceeded(uses.len()));
            }
        }
        let entry = uses.entry(jti.to_owned()).or_insert(UseEntry {
            count: 0,
            expires_at,
        });
        entry.expires_at = entry.expires_at.max(expires_at);
        if entry.count >= max_uses {
            return Ok(UseOutcome::Exhausted);
        }
        entry.count += 1;
        Ok(UseOutcome::Reserved(Reservation {
            key: jti.to_owned(),
            used: entry.count,
            max_uses,
        }))
    }

    fn is_revoked_now(&self, jti: &str) -> bool {
        lock(&self.inner.revoked).contains_key(jti)
            || self.inner.file.as_ref().is_some_and(|f| f.is_revoked(jti))
    }

    fn release_now(&self, jti: &str) {
        if let Some(entry) = lock(&self.inner.uses).get_mut(jti) {
            entry.count = entry.count.saturating_sub(1);
        }
    }

    fn revoke_in_memory(&self, jti: &str, expires_at: i64) {
        let now = unix_now();
        let mut revoked = lock(&self.inner.revoked);
        revoked.retain(|_, until| *until > now);
        revoked.insert(jti.to_owned(), expires_at.saturating_add(STATE_GRACE_SECS));
    }

    fn file_path(&self) -> Option<PathBuf> {
        self.inner.file.as_ref().map(|f| f.path().to_path_buf())
    }
}

impl AuthzState for MemoryState {
    async fn is_revoked(&self, jti: &str) -> Result<bool, StateError> {
        Ok(self.is_revoked_now(jti))
    }

    async fn reserve_use(
        &self,
        jti: &str,
        max_uses: u32,
        expires_at: i64,
    ) -> Result<UseOutcome, StateError> {
        self.reserve_use_at(jti, max_uses, expires_at, unix_now())
    }

    async fn release_use(&self, jti: &str) -> Result<(), StateError> {
        self.release_now(jti);
        Ok(())
    }

    /// Takes effect in this process at once and, with a revocation file, is appended
    /// to it so other gateways watching the file see it too.
    async fn revoke(&self, jti: &str, expires_at: i64) -> Result<(), StateError> {
        if let Some(path) = self.file_path() {
            let owned = jti.to_owned();
            tokio::task::spawn_blocking(move || append_revocation(&path, &owned, expires_at))
                .await
                .map_err(|e| StateError::File(e.to_string()))?
                .map_err(|e| StateError::File(e.to_string()))?;
        }
        self.revoke_in_memory(jti, expires_at);
        Ok(())
    }
}

/// Locks `mutex`, recovering from poisoning (the maps stay consistent: every
/// critical section is a handful of map operations that cannot panic half-way).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
