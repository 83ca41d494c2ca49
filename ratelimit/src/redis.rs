//! The Redis backend: GCRA and daily quota decided inside Redis by one Lua script
//! (`redis/gcra.lua`), one round trip per decision — under all of a request's limits at
//! once (its scope's and its client's own), so that a request one of them refuses is
//! counted by none, without a second call to give anything back.
//!
//! The script is sent by `EVALSHA`; on `NOSCRIPT` (a restarted or flushed Redis) the
//! `redis` crate's [`Script`] loads it (`SCRIPT LOAD`) and retries, so a `SCRIPT FLUSH`
//! costs one extra round trip, once. [`RedisBackend::load`] loads it ahead of traffic.
//!
//! Time: by default the script reads Redis' `TIME`, so replicas with skewed clocks agree
//! on every key's state ([`TimeSource::RedisServer`]). The calendar day of the quota comes
//! from the gateway's clock (the key name must be known to the client for Redis Cluster);
//! a replica whose clock is off by δ changes day δ early or late. With
//! [`TimeSource::Gateway`] the gateway's clock is sent instead (tests drive it with a
//! manual clock).
//!
//! Every call runs under the configured timeout over a [`RedisConn`] (one server or a
//! Redis Cluster; it reconnects on its own); a timeout or error is a [`RedisFailure`] for the caller to act
//! on (fallback or refusal). A call refused at connection time (nothing was sent, so
//! nothing was counted) or failed on a connection Redis had dropped is tried once more
//! within the same timeout.

pub(crate) mod keys;

use std::time::{Duration, SystemTime};

use credgate_redisconn::{RedisConn, Target, Tuning};
use redis::{RedisError, Script};

use crate::clock::unix_micros;
use crate::config::TimeSource;
use crate::day::Day;
use crate::decision::{Info, QuotaInfo, Verdict, Why};
use crate::error::LimiterError;
use crate::headers::ceil_secs;
use crate::limit::Prepared;

/// The decision script.
const SCRIPT: &str = include_str!("redis/gcra.lua");

/// Adds what the fallback admitted to a day's quota count; sets the key's lifetime when
/// the add created it. One key: a single slot on a Cluster.
const ADD_QUOTA_SCRIPT: &str = "local v = redis.call('INCRBY', KEYS[1], ARGV[1]) \
    if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end \
    return v";

/// Records this replica in the set of replicas sharing the limits and counts those
/// seen within the window, on Redis' clock (so replicas' clocks do not matter). One
/// key: a single slot on a Cluster. `KEYS[1]` the set, `ARGV[1]` this replica's id,
/// `ARGV[2]` the window (ms).
const HEARTBEAT_SCRIPT: &str = "local t = redis.call('TIME') \
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) \
    redis.call('ZADD', KEYS[1], now, ARGV[1]) \
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2])) \
    redis.call('PEXPIRE', KEYS[1], ARGV[2]) \
    return redis.call('ZCARD', KEYS[1])";

/// How long a quota counter outlives its day (clock skew between replicas, late
/// requests): one hour. The lifetime is sent relative (`EXPIRE`, seconds until the day
/// ends on the gateway's clock, plus this margin) rather than as an `EXPIREAT`, so a Redis
/// whose clock differs from the gateway's does not drop a counter early.
const QUOTA_KEY_MARGIN_SECS: u64 = 3600;

/// Extra lifetime of a GCRA key beyond its TAT. With Redis time a little slack suffices;
/// with gateway time Redis' expiry clock is not the one the TAT is measured on, so keep
/// the state for a minute of difference.
const GCRA_SLACK_REDIS_TIME_MS: u64 = 1000;
const GCRA_SLACK_GATEWAY_TIME_MS: u64 = 60_000;

/// A connection to Redis and the decision script.
pub(crate) struct RedisBackend {
    conn: RedisConn,
    script: Script,
    add_quota: Script,
    heartbeat: Script,
    call_timeout: Duration,
    time_source: TimeSource,
}

/// Why a Redis call gave no decision.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RedisFailure {
    /// No answer within the call timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// A connection or server error.
    #[error("{0}")]
    Redis(#[from] RedisError),
    /// The script's reply does not have the documented shape.
    #[error("unexpected script reply {0:?}")]
    Reply(Vec<i64>),
}

// === impl RedisBackend ===

impl RedisBackend {
    /// Prepares a lazy connection to `url` (nothing is sent yet: the gateway starts while
    /// Redis is down). Must be called within a Tokio runtime.
    pub fn new(
        target: &Target,
        call_timeout: Duration,
        time_source: TimeSource,
    ) -> Result<Self, LimiterError> {
        let tuning = Tuning {
            call_timeout,
            retries: 1,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(100),
        };
        let conn = credgate_redisconn::connect_lazy(target, &tuning)
            .map_err(|e| LimiterError::Config(format!("Redis URL or TLS settings: {e}")))?;
        Ok(Self {
            conn,
            script: Script::new(SCRIPT),
            add_quota: Script::new(ADD_QUOTA_SCRIPT),
            heartbeat: Script::new(HEARTBEAT_SCRIPT),
            call_timeout,
            time_source,
        })
    }

    /// The connection (a handle: a TLS reload through it reaches this backend).
    pub(crate) fn conn(&self) -> &RedisConn {
        &self.conn
    }

    /// Loads the script (`SCRIPT LOAD`): readiness, and no `NOSCRIPT` on the first decision.
    pub async fn load(&self) -> Result<(), RedisFailure> {
        let mut conn = self.conn.clone();
        let script = &self.script;
        self.bounded(async move { script.load_async(&mut conn).await })
            .await
            .map(drop)
    }

    /// Decides one request in Redis under every limit of `checks` at once (one script
    /// call): either all allow it and each counts it, or the first that refuses it is
    /// reported and none counts it. The keys must be distinct and of one client (one
    /// Redis Cluster slot); the limiter checks that.
    pub async fn check_all(
        &self,
        checks: &[Prepared<'_>],
        now: SystemTime,
    ) -> Result<Verdict, RedisFailure> {
        let mut invocation = self.script.prepare_invoke();
        let (now_arg, slack) = match self.time_source {
            TimeSource::RedisServer => (String::new(), GCRA_SLACK_REDIS_TIME_MS),
            TimeSource::Gateway => (unix_micros(now).to_string(), GCRA_SLACK_GATEWAY_TIME_MS),
        };
        invocation.arg(now_arg).arg(slack).arg(checks.len());
        for c in checks {
            invocation.key(keys::gcra_key(&c.key));
            let quota = c.quota();
            if let Some((_, day)) = quota {
                invocation.key(keys::quota_key(&c.key, day.label));
            }
            invocation
                .arg(c.params.emission_micros())
                .arg(c.params.burst())
                .arg(quota.map_or_else(String::new, |(q, _)| q.to_string()))
                .arg(quota.map_or(0, |(_, day)| Self::quota_lifetime_secs(day, now)));
        }
        let mut conn = self.conn.clone();
        let reply: Vec<i64> = self
            .bounded(async move {
                match invocation.invoke_async(&mut conn).await {
                    // The connection manager hands out its last failed connection attempt
                    // once more (and starts a new one) before it reconnects: the first call
                    // after Redis comes back is refused without anything sent. Likewise a
                    // connection Redis dropped while this replica was idle (a restart, an
                    // idle timeout, a failover) fails the first call on it. Try once more,
                    // on the connection the manager is re-establishing, within the same
                    // time budget rather than fall back or refuse. If a drop instead lost
                    // the reply of a script that ran, the request is counted twice: the
                    // limit errs on the strict side, once.
                    Err(e) if e.is_connection_refusal() || e.is_connection_dropped() => {
                        invocation.invoke_async(&mut conn).await
                    }
                    other => other,
                }
            })
            .await?;
        Self::verdict(checks, now, &reply).ok_or(RedisFailure::Reply(reply))
    }

    /// Reads the script's reply (see `redis/gcra.lua`); `None` when it does not have the
    /// documented shape.
    fn verdict(checks: &[Prepared<'_>], now: SystemTime, reply: &[i64]) -> Option<Verdict> {
        match reply {
            [1, n, figures @ ..]
                if usize::try_from(*n).ok() == Some(checks.len())
                    && figures.len() == 6 * checks.len() =>
            {
                let infos = checks
                    .iter()
                    .zip(figures.chunks_exact(6))
                    .map(|(c, f)| info(c, now, f).filter(|_| f[0] == 1))
                    .collect::<Option<Vec<_>>>()?;
                Some(Verdict::Allowed(infos))
            }
            [0, i, figures @ ..] => {
                let index = usize::try_from(*i).ok()?.checked_sub(1)?;
                let c = checks.get(index)?;
                let info = info(c, now, figures).filter(|_| figures.first() == Some(&0))?;
                Some(Verdict::Limited { index, info })
            }
            _ => None,
        }
    }

    /// The lifetime of a quota key of `day` created at `now` (as the decision script
    /// sets it).
    pub(crate) fn quota_lifetime_secs(day: &Day, now: SystemTime) -> u64 {
        ceil_secs(day.until_next(now)).saturating_add(QUOTA_KEY_MARGIN_SECS)
    }

    /// Adds `n` to the quota count under `quota_key` (what the fallback admitted while
    /// Redis was down). One call, under the call timeout; not resent (an add that may
    /// have run must not run twice).
    pub(crate) async fn add_quota(
        &self,
        quota_key: &str,
        n: u64,
        lifetime_secs: u64,
    ) -> Result<(), RedisFailure> {
        let mut invocation = self.add_quota.key(quota_key);
        invocation.arg(n).arg(lifetime_secs.max(1));
        let mut conn = self.conn.clone();
        self.bounded(async move { invocation.invoke_async::<i64>(&mut conn).await })
            .await
            .map(drop)
    }

    /// Records replica `id` as alive and returns how many replicas were seen within
    /// `window` (itself included). One call, under the call timeout.
    pub(crate) async fn heartbeat(&self, id: &str, window: Duration) -> Result<u64, RedisFailure> {
        let mut invocation = self.heartbeat.key(keys::REPLICAS_KEY);
        invocation
            .arg(id)
            .arg(u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1));
        let mut conn = self.conn.clone();
        self.bounded(async move { invocation.invoke_async::<u64>(&mut conn).await })
            .await
    }

    /// Takes replica `id` out of the set of replicas sharing the limits (it
    /// is stopping), so the others count it gone without waiting for its
    /// entry to age out. One call, under the call timeout.
    pub(crate) async fn leave(&self, id: &str) -> Result<(), RedisFailure> {
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(keys::REPLICAS_KEY).arg(id);
        let mut conn = self.conn.clone();
        self.bounded(async move { cmd.query_async::<i64>(&mut conn).await })
            .await
            .map(drop)
    }

    /// Runs `fut` under the call timeout.
    async fn bounded<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, RedisError>>,
    ) -> Result<T, RedisFailure> {
        match tokio::time::timeout(self.call_timeout, fut).await {
            Ok(result) => result.map_err(RedisFailure::from),
            Err(_) => Err(RedisFailure::Timeout(self.call_timeout)),
        }
    }
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("call_timeout", &self.call_timeout)
            .field("time_source", &self.time_source)
            .finish_non_exhaustive()
    }
}

/// One limit's state from its six figures in the script's reply (`None` if not six).
fn info(c: &Prepared<'_>, now: SystemTime, figures: &[i64]) -> Option<Info> {
    let &[allowed, why, remaining, reset_us, retry_us, used] = figures else {
        return None;
    };
    let micros = |us: i64| Duration::from_micros(u64::try_from(us).unwrap_or(0));
    let quota = c.quota();
    let until_tomorrow = quota.map(|(_, d)| d.until_next(now)).unwrap_or_default();
    let (why, retry_after) = match (allowed, why) {
        (1, _) => (None, None),
        (_, 2) => (Some(Why::DailyQuota), Some(until_tomorrow)),
        (_, _) => (Some(Why::Rate), Some(micros(retry_us))),
    };
    Some(Info {
        limit: c.limit,
        remaining: u64::try_from(remaining).unwrap_or(0),
        reset_after: micros(reset_us),
        retry_after,
        quota: quota.map(|(q, day)| QuotaInfo {
            limit: q,
            remaining: q.saturating_sub(u64::try_from(used).unwrap_or(0)),
            resets_at_unix: day.next_start_unix,
            resets_after: until_tomorrow,
        }),
        why,
    })
}
