//! Revocations and use counts shared by every replica through Redis.
//!
//! Keys carry the hash tag `{authz}` so that, on Redis Cluster, all of them live in
//! one slot (the scripts touch one key each, but keeping them together leaves room
//! for multi-key scripts):
//! - `credgate:{authz}:revoked:<jti>`: `SET … EXAT <exp + grace>`, value the revocation time;
//! - `credgate:{authz}:uses:<iss>/<jti>`: the use counter, expiring at `exp + grace`
//!   ([`super::STATE_GRACE_SECS`], so state outlives the token's clock-skew allowance).
//!
//! A reservation is one Lua script (`INCR`, set the expiry if the key has none, `DECR`
//! back and answer "exhausted" past `max_uses`): atomic, one round trip. Every call is
//! bounded by [`RedisOptions::call_timeout`]; a timeout or connection error is a
//! [`StateError`], which the gateway answers with 503 (fail closed). The connection is
//! a [`RedisConn`] (one server or a Redis Cluster), which reconnects by itself once
//! Redis is back; a call that meets a connection Redis dropped meanwhile is sent once
//! more (see `RedisState::call`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use credgate_redisconn::{RedisConn, Target, Tuning};
use redis::{RedisError, Script};

use super::{unix_now, AuthzState, Reservation, StateError, UseOutcome, STATE_GRACE_SECS};

/// `KEYS[1]` the counter, `ARGV[1]` max uses, `ARGV[2]` expiry (Unix seconds).
/// Returns the count after reserving, or -1 when exhausted (count unchanged).
const RESERVE_LUA: &str = r"
local n = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) == -1 then
  redis.call('EXPIREAT', KEYS[1], ARGV[2])
end
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return -1
end
return n
";

/// `KEYS[1]` the counter. Decrements it unless it is absent or already zero.
const RELEASE_LUA: &str = r"
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if v > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0
";

/// How to reach Redis.
#[derive(Clone)]
pub struct RedisOptions {
    /// `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. Never
    /// logged (it may hold a password). With `cluster`, a seed node.
    pub url: String,
    /// `url` is a node of a Redis Cluster (see `credgate_redisconn`).
    pub cluster: bool,
    /// More seed nodes of the cluster (same scheme and credentials).
    pub cluster_seeds: Vec<String>,
    /// Find the primary through Redis Sentinel (`url` gives credentials
    /// and database only).
    pub sentinel: Option<credgate_redisconn::SentinelTarget>,
    /// Bound on every call, connection included (default 200 ms).
    pub call_timeout: Duration,
    /// For `rediss://`: the trust anchors for Redis' certificate (else the
    /// system's) and the client certificate when Redis asks for one.
    pub tls: Option<redis::TlsCertificates>,
}

/// Revocations and use counts in Redis. Cheap to clone (one shared connection).
#[derive(Clone)]
pub struct RedisState {
    conn: RedisConn,
    call_timeout: Duration,
    scripts: Arc<Scripts>,
}

impl RedisState {
    /// The connection (a handle for [`RedisConn::set_tls`] after a
    /// certificate rotation).
    pub fn conn(&self) -> &RedisConn {
        &self.conn
    }
}

/// When [`RedisState::call`] may send a failed call again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Resend {
    /// Only when nothing was sent (connection refused).
    IfNotSent,
    /// Also after the connection dropped (the call may have run).
    AfterDrop,
}

struct Scripts {
    reserve: Script,
    release: Script,
}

// === impl RedisOptions ===

impl RedisOptions {
    /// Options for `url` with the default timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            cluster: false,
            cluster_seeds: Vec::new(),
            sentinel: None,
            call_timeout: Duration::from_millis(200),
            tls: None,
        }
    }
}

impl std::fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOptions")
            .field("url", &"[redacted]")
            .field("cluster", &self.cluster)
            .field("cluster_seeds", &self.cluster_seeds.len())
            .field("sentinel", &self.sentinel.as_ref().map(|s| &s.master))
            .field("call_timeout", &self.call_timeout)
            .field("tls", &self.tls)
            .finish()
    }
}

// === impl RedisState ===

impl RedisState {
    /// Prepares the connection without connecting: the gateway starts even when Redis
    /// is down and fails closed until it is up. Must be called within a Tokio runtime.
    pub fn new(options: &RedisOptions) -> Result<Self, StateError> {
        let target = Target {
            url: options.url.clone(),
            cluster: options.cluster,
            cluster_seeds: options.cluster_seeds.clone(),
            sentinel: options.sentinel.clone(),
            tls: options.tls.clone(),
        };
        let tuning = Tuning {
            call_timeout: options.call_timeout,
            retries: 2,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(200),
        };
        let conn = credgate_redisconn::connect_lazy(&target, &tuning)
            .map_err(|_| StateError::Unavailable("invalid Redis URL or TLS settings".to_owned()))?;
        Ok(Self {
            conn,
            call_timeout: options.call_timeout,
            scripts: Arc::new(Scripts {
                reserve: Script::new(RESERVE_LUA),
                release: Script::new(RELEASE_LUA),
            }),
        })
    }

    /// Connects and checks Redis answers `PING` (readiness).
    pub async fn ping(&self) -> Result<(), StateError> {
        self.call(Resend::AfterDrop, |mut conn| async move {
            redis::cmd("PING").query_async::<String>(&mut conn).await
        })
        .await
        .map(drop)
    }

    /// The current use count of `jti` (0 if none).
    pub async fn uses(&self, jti: &str) -> Result<u32, StateError> {
        let key = uses_key(jti);
        let count: Option<i64> = self
            .call(Resend::AfterDrop, |mut conn| {
                let cmd = redis::cmd("GET").arg(&key).clone();
                async move { cmd.query_async(&mut conn).await }
            })
            .await?;
        Ok(count.map_or(0, |c| u32::try_from(c).unwrap_or(0)))
    }

    /// Runs `call` on the shared connection under the per-call timeout. A
    /// call refused at connection time (nothing sent: the connection
    /// manager hands out its last failed attempt once more before it
    /// reconnects) is sent once more within the same timeout; so is a call
    /// on a connection Redis had dropped (a restart or failover while this
    /// replica was idle) when `resend` allows it: reads and idempotent
    /// writes, and a reservation, which, if the drop lost the reply of a
    /// script that ran, spends one use too many (strict, never lenient).
    /// A release is not resent after a drop: it could give back two uses.
    async fn call<T, F, Fut>(&self, resend: Resend, call: F) -> Result<T, StateError>
    where
        F: Fn(RedisConn) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        self.bounded(async {
            match call(self.conn.clone()).await {
                Err(e)
                    if e.is_connection_refusal()
                        || (resend == Resend::AfterDrop && e.is_connection_dropped()) =>
                {
                    call(self.conn.clone()).await
                }
                other => other,
            }
        })
        .await
    }

    /// Runs `fut` under the per-call timeout.
    async fn bounded<T>(
        &self,
        fut: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, StateError> {
        match tokio::time::timeout(self.call_timeout, fut).await {
            Ok(result) => result.map_err(redis_err),
            Err(_) => Err(StateError::Timeout),
        }
    }
}

impl std::fmt::Debug for RedisState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisState")
            .field("call_timeout", &self.call_timeout)
            .finish_non_exhaustive()
    }
}

impl AuthzState for RedisState {
    async fn is_revoked(&self, jti: &str) -> Result<bool, StateError> {
        let key = revoked_key(jti);
        self.call(Resend::AfterDrop, |mut conn| {
            let cmd = redis::cmd("EXISTS").arg(&key).clone();
            async move { cmd.query_async(&mut conn).await }
        })
        .await
    }

    async fn reserve_use(
        &self,
        jti: &str,
        max_uses: u32,
        expires_at: i64,
    ) -> Result<UseOutcome, StateError> {
        let key = uses_key(jti);
        let expiry = keep_until(expires_at);
        let n: i64 = self
            .call(Resend::AfterDrop, |mut conn| {
                let mut invocation = self.scripts.reserve.key(&key);
                invocation.arg(max_uses).arg(expiry);
                async move { invocation.invoke_async(&mut conn).await }
            })
            .await?;
        match u32::try_from(n) {
            Ok(used) if used >= 1 => Ok(UseOutcome::Reserved(Reservation {
                key: jti.to_owned(),
                used,
                max_uses,
            })),
            _ => Ok(UseOutcome::Exhausted),
        }
    }

    async fn release_use(&self, jti: &str) -> Result<(), StateError> {
        let key = uses_key(jti);
        self.call(Resend::IfNotSent, |mut conn| {
            let invocation = self.scripts.release.key(&key);
            async move { invocation.invoke_async::<i64>(&mut conn).await }
        })
        .await
        .map(drop)
    }

    async fn revoke(&self, jti: &str, expires_at: i64) -> Result<(), StateError> {
        let key = revoked_key(jti);
        let expiry = keep_until(expires_at);
        let now = unix_now();
        // Idempotent: a resend sets the same value and expiry.
        self.call(Resend::AfterDrop, |mut conn| {
            let cmd = redis::cmd("SET")
                .arg(&key)
                .arg(now)
                .arg("EXAT")
                .arg(expiry)
                .clone();
            async move { cmd.query_async::<()>(&mut conn).await }
        })
        .await
    }
}

/// The Redis key of a revocation.
pub fn revoked_key(jti: &str) -> String {
    format!("credgate:{{authz}}:revoked:{jti}")
}

/// The Redis key of a use counter.
pub fn uses_key(jti: &str) -> String {
    format!("credgate:{{authz}}:uses:{jti}")
}

/// When state about a token expiring at `expires_at` may be forgotten (never in the past).
fn keep_until(expires_at: i64) -> i64 {
    expires_at.max(unix_now()).saturating_add(STATE_GRACE_SECS)
}

fn redis_err(e: RedisError) -> StateError {
    StateError::Unavailable(e.to_string())
}
