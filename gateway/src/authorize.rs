//! Subject authorization on the request path (SPEC §6): verify the token
//! (signature, issuer, window, subject, audience, scope, purpose), then
//! revocation and the use count. A use is reserved before the upstream
//! call and given back if the query is not answered, so only answered
//! queries count and two concurrent requests cannot both spend the last
//! use. If the state store cannot be reached, refuse (fail closed).

use crate::config::Config;
use crate::http::problem::{ApiError, Code};
use crate::policy_store::LoadedPolicy;
use credgate_authz::{
    enforce, AuthzError, AuthzState, Expectation, FileRevocations, MemoryOptions, MemoryState,
    RedisState, Reservation, StateBackend, VerifyOptions,
};
use credgate_policy::Grant;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Why the authorization machinery could not start.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeSetupError {
    /// The revocation file is unusable.
    #[error("revocation file: {0}")]
    RevocationFile(String),
    /// The Redis configuration is unusable.
    #[error("redis: {0}")]
    Redis(String),
}

/// Token verification settings and the revocation / use-count store.
#[derive(Debug)]
pub struct Authorizer {
    state: StateBackend,
    opts: VerifyOptions,
    file: Option<WatchedFile>,
    store: Arc<StoreHealth>,
}

/// Whether the revocation / use-count store answered last time: the
/// switch to "unavailable" and back is logged once each, not per request.
#[derive(Debug, Default)]
pub struct StoreHealth {
    down: AtomicBool,
    failures: AtomicU64,
}

impl StoreHealth {
    /// Notes a store failure; true when the store was answering until now.
    fn failed(&self) -> bool {
        self.failures.fetch_add(1, Ordering::Relaxed);
        !self.down.swap(true, Ordering::Relaxed)
    }

    /// Authorization checks refused because the store did not answer,
    /// since start.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Whether the store failed the last check.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// Notes an answer; true when the store was failing until now.
    fn answered(&self) -> bool {
        self.down.load(Ordering::Relaxed) && self.down.swap(false, Ordering::Relaxed)
    }

    /// Notes a failed probe (no check was refused, so none is counted);
    /// true when the store was answering until now.
    fn probe_failed(&self) -> bool {
        !self.down.swap(true, Ordering::Relaxed)
    }
}

/// How often the store is probed while it answers, and while it does not:
/// without probes `credgate_authz_store_up` would change only when an
/// authorized query arrives, and could read 1 through an outage (or 0
/// long after it) on a replica that gets none.
const PROBE_WHILE_UP: Duration = Duration::from_secs(5);
const PROBE_WHILE_DOWN: Duration = Duration::from_secs(1);

/// The revocation file, re-checked on every authorization: the watcher
/// reloads it in the background, but a revocation written just before a
/// request must already apply to that request, so a changed size or mtime
/// triggers a synchronous reload first (one `stat` per check).
struct WatchedFile {
    revocations: FileRevocations,
    seen: std::sync::Mutex<Option<(u64, std::time::SystemTime)>>,
    /// Whether the last check could read the file (logged on change).
    health: StoreHealth,
}

impl std::fmt::Debug for WatchedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchedFile").finish_non_exhaustive()
    }
}

impl WatchedFile {
    /// Brings the list up to date with the file. `Err` when the file is
    /// there but cannot be read (its permissions, a directory in its
    /// place, an I/O error): a revocation written to it may be missed, so
    /// the caller refuses (fail closed) until it can be read again. A
    /// deleted file keeps the last list in force: deleting it must not
    /// lift revocations, and `authz revoke` creates it again.
    fn refresh(&self) -> Result<(), String> {
        let meta = match std::fs::metadata(self.revocations.path()) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("{}: {e}", self.revocations.path().display())),
        };
        let now = (meta.len(), meta.modified().unwrap_or(std::time::UNIX_EPOCH));
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if *seen != Some(now) {
            self.revocations.reload().map_err(|e| e.to_string())?;
            *seen = Some(now);
        }
        Ok(())
    }
}

/// A refused authorization: the problem to answer, and the `jti` of the
/// token refused when it was authentic (for the audit record).
#[derive(Debug)]
pub struct Refused {
    /// The problem document.
    pub error: ApiError,
    /// The authentic token's `jti`.
    pub jti: Option<String>,
}

/// A verified, unrevoked authorization with its use reserved.
#[derive(Debug)]
pub struct Authorized {
    /// The token's `jti` (recorded in the audit record).
    pub jti: String,
    reservation: Option<Reservation>,
}

impl Authorizer {
    /// Builds the store the configuration names: Redis when configured
    /// (shared by every replica), else in-process counts with the watched
    /// revocation file.
    pub fn from_config(cfg: &Config) -> Result<Authorizer, AuthorizeSetupError> {
        let opts = VerifyOptions {
            max_token_bytes: cfg.authorization.max_token_bytes,
            clock_skew: Duration::from_secs(cfg.authorization.clock_skew_secs),
        };
        // The revocation file is honoured whenever it is configured, with
        // Redis too: a gateway moved from the file to Redis must not forget
        // the revocations the file holds (`authz revoke` then writes to
        // Redis, and the file stays as it is).
        let file = match &cfg.authorization.revocation_file {
            Some(path) => Some(WatchedFile {
                revocations: FileRevocations::open(path.clone())
                    .map_err(|e| AuthorizeSetupError::RevocationFile(e.to_string()))?,
                seen: std::sync::Mutex::new(None),
                health: StoreHealth::default(),
            }),
            None => None,
        };
        let state = match (&cfg.redis, &file) {
            (Some(r), _) => {
                let o = r.authz_options(Duration::from_millis(r.call_timeout_ms));
                if file.is_some() {
                    tracing::info!(
                        "revocations are read from Redis and from authorization.revocation_file"
                    );
                }
                StateBackend::Redis(
                    RedisState::new(&o).map_err(|e| AuthorizeSetupError::Redis(e.to_string()))?,
                )
            }
            (None, Some(f)) => {
                tracing::warn!(
                    "no redis: max_uses counts are kept in this process only and start again from zero at a restart (use redis to keep them)"
                );
                StateBackend::Memory(MemoryState::with_revocation_file(
                    MemoryOptions::default(),
                    f.revocations.clone(),
                ))
            }
            (None, None) => {
                tracing::warn!(
                    "no redis and no authorization.revocation_file: revocations cannot reach this gateway, and max_uses counts start again from zero at a restart"
                );
                StateBackend::Memory(MemoryState::new(MemoryOptions::default()))
            }
        };
        Ok(Authorizer {
            state,
            opts,
            file,
            store: Arc::default(),
        })
    }

    /// Checks the subject's authorization when the grant requires it, in
    /// the SPEC's order, and reserves one use. `Ok(None)`: not required.
    /// A refusal names the token's `jti` when the token was authentic.
    pub async fn check(
        &self,
        loaded: &LoadedPolicy,
        grant: &Grant,
        client_id: &str,
        subject: &str,
        header: Option<&http::HeaderValue>,
    ) -> Result<Option<Authorized>, Refused> {
        if !grant.authorization_required {
            return Ok(None);
        }
        let header = match header {
            None => None,
            Some(v) => Some(v.to_str().map_err(|_| Refused {
                error: ApiError::new(
                    Code::AuthorizationInvalid,
                    "the authorization token is not ASCII",
                ),
                jti: None,
            })?),
        };
        let expect = Expectation {
            subject,
            client_id,
            scope: &grant.scope,
            purpose: &grant.purpose,
            max_lifetime: grant
                .max_authorization_lifetime_days
                .map(|d| Duration::from_secs(u64::from(d) * 86_400)),
        };
        let now = unix_now();
        let auth = credgate_authz::verify_header(header, &loaded.issuers, &expect, &self.opts, now)
            .map_err(|r| Refused {
                error: refusal(&r.error),
                jti: r.jti,
            })?;
        if let Some(f) = &self.file {
            if let Err(e) = f.refresh() {
                if f.health.failed() {
                    tracing::warn!(error = %e,
                        "revocation file unreadable: refusing authorized queries with 503 until it can be read (fail closed)");
                }
                return Err(Refused {
                    error: refusal(&AuthzError::Unavailable),
                    jti: Some(auth.jti),
                });
            }
            if f.health.answered() {
                tracing::info!("revocation file readable again");
            }
            // Without Redis the store reads this file itself; with Redis
            // it is checked here, so that it holds there too.
            if matches!(self.state, StateBackend::Redis(_)) && f.revocations.is_revoked(&auth.jti) {
                return Err(Refused {
                    error: refusal(&AuthzError::Revoked),
                    jti: Some(auth.jti),
                });
            }
        }
        let enforced = enforce(&auth, &self.state).await;
        match &enforced {
            Err(AuthzError::Unavailable) => {
                if self.store.failed() {
                    tracing::warn!(
                        "authorization state store unavailable: refusing authorized queries with 503 until it answers (fail closed)"
                    );
                }
            }
            _ => {
                if self.store.answered() {
                    tracing::info!("authorization state store answers again");
                }
            }
        }
        let reservation = enforced.map_err(|e| Refused {
            error: refusal(&e),
            jti: Some(auth.jti.clone()),
        })?;
        Ok(Some(Authorized {
            jti: auth.jti,
            reservation,
        }))
    }

    /// The Redis connection, when revocations and use counts live in Redis.
    pub fn redis_conn(&self) -> Option<credgate_redisconn::RedisConn> {
        match &self.state {
            StateBackend::Redis(r) => Some(r.conn().clone()),
            StateBackend::Memory(_) => None,
        }
    }

    /// With revocations and use counts in Redis: a task that `PING`s it
    /// every few seconds until `shutdown`, so the store's health (the
    /// metric, `/readyz`, the log lines on each change) follows Redis
    /// rather than the last authorized query.
    pub fn spawn_store_probe(
        &self,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let StateBackend::Redis(redis) = &self.state else {
            return None;
        };
        let (redis, store) = (redis.clone(), Arc::clone(&self.store));
        Some(tokio::spawn(async move {
            loop {
                let wait = if store.is_down() {
                    PROBE_WHILE_DOWN
                } else {
                    PROBE_WHILE_UP
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => return,
                }
                // Bounded by the connection's call timeout.
                match redis.ping().await {
                    Ok(()) => {
                        if store.answered() {
                            tracing::info!("authorization state store answers again");
                        }
                    }
                    Err(e) => {
                        if store.probe_failed() {
                            tracing::warn!(error = %e, "authorization state store does not answer: authorized queries will be refused with 503 until it does (fail closed)");
                        }
                    }
                }
            }
        }))
    }

    /// The store's health, for metrics.
    pub fn store_health(&self) -> Arc<StoreHealth> {
        Arc::clone(&self.store)
    }

    /// Settles a reserved use: kept when the query was answered, given
    /// back otherwise. Failing to give it back only over-counts (safe).
    pub async fn settle(&self, authorized: Option<Authorized>, answered: bool) {
        let Some(Authorized {
            reservation: Some(r),
            ..
        }) = authorized
        else {
            return;
        };
        if !answered {
            give_back(&self.state, &r.key).await;
        }
    }

    /// Gives back a use reserved for a request that was dropped before it
    /// was answered or recorded (the client went away), from a context that
    /// cannot wait: on a spawned task. Without a runtime (not the case on
    /// the request path) the use stays spent, which only over-counts.
    pub fn release_detached(&self, authorized: Authorized) {
        let Some(r) = authorized.reservation else {
            return;
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(key = %r.key, "no runtime to give back an authorization use");
            return;
        };
        let state = self.state.clone();
        rt.spawn(async move { give_back(&state, &r.key).await });
    }
}

/// Gives back one reserved use; a failure only over-counts, so it is logged.
async fn give_back(state: &StateBackend, key: &str) {
    if let Err(e) = state.release_use(key).await {
        tracing::warn!(key = %key, error = %e, "could not give back an authorization use");
    }
}

/// An authorization refusal as a problem document (SPEC codes).
pub fn refusal(e: &AuthzError) -> ApiError {
    let code = match e {
        AuthzError::Required => Code::AuthorizationRequired,
        // The token, not the body, is too large: in the SPEC's order a
        // token problem is an authorization code (`payload_too_large` is a
        // request-shape code, reported before purpose and scope).
        AuthzError::TooLarge { .. } => Code::AuthorizationInvalid,
        AuthzError::Invalid(_) => Code::AuthorizationInvalid,
        AuthzError::Expired(_) => Code::AuthorizationExpired,
        AuthzError::Mismatch(_) => Code::AuthorizationMismatch,
        AuthzError::Revoked => Code::AuthorizationRevoked,
        AuthzError::Exhausted => Code::AuthorizationExhausted,
        AuthzError::Unavailable => Code::ServiceUnavailable,
        // A refusal this build does not know yet: refuse (fail closed).
        _ => Code::AuthorizationInvalid,
    };
    let err = ApiError::new(code, e.to_string());
    if code == Code::ServiceUnavailable {
        err.retry_after(1)
    } else {
        err
    }
}

/// Seconds since the Unix epoch (0 before it), as token times are counted.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::StoreHealth;

    #[test]
    fn store_health_reports_each_switch_once() {
        let h = StoreHealth::default();
        assert!(!h.answered(), "up from the start: no recovery to report");
        assert!(h.failed(), "the first failure is a switch");
        assert!(!h.failed() && !h.failed(), "later failures are not");
        assert!(h.answered(), "the first answer after failures is a switch");
        assert!(!h.answered());
        assert!(h.failed());
        assert_eq!(h.failures(), 4);
    }
}
