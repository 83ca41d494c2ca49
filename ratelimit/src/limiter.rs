//! The [`Limiter`]: one per gateway, in process or over Redis, with the failure modes of
//! SPEC §9.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use time::UtcOffset;

use crate::clock::{nanos, Clock};
use crate::config::{FailureMode, LimiterConfig, RedisLimiterConfig};
use crate::day::Day;
use crate::decision::{Decision, Verdict};
use crate::error::LimiterError;
use crate::gcra::Params;
use crate::health::{Health, Route, Transition};
use crate::limit::{share_counted, Key, Limit, Prepared};
use crate::local::{Fresh, LocalBackend, StartFrom};
use crate::redis::RedisBackend;
use crate::seen::{QuotaSeen, RateSeen};

/// The most limits one [`Limiter::check_all`] decides together (the gateway uses two: a
/// scope's and the client's own).
pub const MAX_LIMITS_PER_CHECK: usize = 4;

/// How decisions are being made right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// In process, by configuration (no Redis).
    Local,
    /// In Redis, across replicas.
    Redis,
    /// Redis is unreachable: in process with this replica's share (`fail_open_local`).
    FallbackLocal,
    /// Redis is unreachable: refusing to decide (`fail_closed`).
    Closed,
}

/// Counters since the limiter was built (for `/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimiterStats {
    /// Decisions made (allowed or limited).
    pub decisions: u64,
    /// Requests refused (429).
    pub rejections: u64,
    /// Redis calls that failed or timed out.
    pub redis_errors: u64,
    /// Switches between Redis and the fallback (either way).
    pub mode_switches: u64,
    /// Decisions made (or refused to be made, `fail_closed`) without Redis while it was
    /// down.
    pub fallbacks: u64,
}

/// The rate limiter of one gateway. Cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct Limiter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    clock: Arc<dyn Clock>,
    zone: UtcOffset,
    pub(crate) backend: Backend,
    stats: Counters,
}

#[derive(Debug)]
pub(crate) enum Backend {
    Local(LocalBackend),
    Redis(Box<Shared>),
}

/// The Redis backend with its fallback.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) redis: RedisBackend,
    health: Health,
    failure_mode: FailureMode,
    /// The configured number of replicas.
    pub(crate) replicas: u32,
    /// The replicas Redis last counted alive (0: not counted yet; see `heartbeat`).
    pub(crate) live: std::sync::atomic::AtomicU32,
    /// This replica's id in that count (empty: not counted).
    replica_id: String,
    /// Set by [`Limiter::leave`]: the heartbeat stops (it would add the
    /// replica back).
    pub(crate) left: std::sync::atomic::AtomicBool,
    /// This replica's share of each limit while Redis is down (`fail_open_local`).
    fallback: LocalBackend,
    /// The day's quota count Redis last reported for each key: where the fallback's
    /// count starts.
    seen: QuotaSeen,
    /// When each key's bucket is full again as Redis last reported it: where the
    /// fallback's share of the bucket starts.
    rate_seen: RateSeen,
    /// What the fallback admitted under daily quotas: added to Redis' counts when it
    /// answers again.
    owed: crate::owed::Owed,
}

#[derive(Debug, Default)]
struct Counters {
    decisions: AtomicU64,
    rejections: AtomicU64,
    redis_errors: AtomicU64,
    mode_switches: AtomicU64,
    fallbacks: AtomicU64,
}

// === impl Limiter ===

impl Limiter {
    /// The embedded, in-process limiter (governor), for a single replica.
    pub fn local(config: LimiterConfig) -> Self {
        let backend = Backend::Local(LocalBackend::new(
            Arc::clone(&config.clock),
            config.time_zone,
        ));
        Self::with_backend(config, backend)
    }

    /// A limiter shared by all replicas through Redis. Nothing is sent yet (the gateway
    /// starts while Redis is down); [`ready`](Self::ready) checks it. Must be called
    /// within a Tokio runtime.
    pub fn redis(config: LimiterConfig, redis: RedisLimiterConfig) -> Result<Self, LimiterError> {
        if redis.replicas == 0 {
            return Err(LimiterError::Config("replicas must be at least 1".into()));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(LimiterError::Config(
                "the Redis limiter must be built within a Tokio runtime".into(),
            ));
        }
        if redis.call_timeout.is_zero() {
            return Err(LimiterError::Config("call_timeout must be positive".into()));
        }
        let backend = Backend::Redis(Box::new(Shared {
            redis: RedisBackend::new(
                &credgate_redisconn::Target {
                    url: redis.url.clone(),
                    cluster: redis.cluster,
                    cluster_seeds: redis.cluster_seeds.clone(),
                    sentinel: redis.sentinel.clone(),
                    tls: redis.tls.clone(),
                },
                redis.call_timeout,
                redis.time_source,
            )?,
            health: Health::new(redis.min_retry_interval, redis.max_retry_interval),
            failure_mode: redis.failure_mode,
            replicas: redis.replicas,
            live: std::sync::atomic::AtomicU32::new(0),
            replica_id: redis.replica_id.clone(),
            left: std::sync::atomic::AtomicBool::new(false),
            fallback: LocalBackend::new(Arc::clone(&config.clock), config.time_zone),
            seen: QuotaSeen::new(),
            rate_seen: RateSeen::default(),
            owed: crate::owed::Owed::default(),
        }));
        let limiter = Self::with_backend(config, backend);
        if !redis.heartbeat_interval.is_zero() && !redis.replica_id.is_empty() {
            tokio::spawn(crate::heartbeat::run(
                Arc::downgrade(&limiter.inner),
                redis.replica_id,
                redis.heartbeat_interval,
            ));
        }
        Ok(limiter)
    }

    fn with_backend(config: LimiterConfig, backend: Backend) -> Self {
        Self {
            inner: Arc::new(Inner {
                clock: config.clock,
                zone: config.time_zone,
                backend,
                stats: Counters::default(),
            }),
        }
    }

    /// Decides one request of `key` under `limit`, at the limiter clock's current time,
    /// and counts it when allowed: [`check_all`](Self::check_all) with one limit.
    pub async fn check(&self, key: &Key<'_>, limit: &Limit) -> Result<Decision, LimiterError> {
        Ok(match self.check_all(&[(*key, *limit)]).await? {
            Verdict::Allowed(mut infos) => match infos.pop() {
                Some(info) => Decision::Allowed(info),
                None => return Err(LimiterError::Checks("no limit to check")),
            },
            Verdict::Limited { info, .. } => Decision::Limited(info),
        })
    }

    /// Decides one request under several limits at once — a client's limit for one scope
    /// and its own over all scopes, say — at the limiter clock's current time: either
    /// every limit allows it and each counts it ([`Verdict::Allowed`], their states in
    /// the order given), or the first limit in that order that refuses it is reported
    /// ([`Verdict::Limited`]) and **none** counts it. So a request one limit refuses
    /// spends nothing of the others (a retry loop on one scope does not spend the
    /// client's own daily quota, which its other scopes share).
    ///
    /// The limits must be of one client (one Redis Cluster slot) under distinct keys;
    /// at most [`MAX_LIMITS_PER_CHECK`] ([`LimiterError::Checks`] otherwise).
    ///
    /// With Redis, one script call bounded by the call timeout decides all of them
    /// atomically; when it fails the failure mode applies at once. Errors: a limit is
    /// invalid, or Redis is unreachable under `fail_closed`
    /// ([`LimiterError::Unavailable`]).
    pub async fn check_all(&self, checks: &[(Key<'_>, Limit)]) -> Result<Verdict, LimiterError> {
        let now = self.inner.clock.now();
        let prepared = self.prepare(checks, now)?;
        let verdict = match &self.inner.backend {
            Backend::Local(local) => local.check_all_from(&prepared, now, &Fresh)?,
            Backend::Redis(shared) => {
                let route = shared.health.route();
                let guard = shared.health.guard(route);
                let answer = match route {
                    Route::Redis | Route::Probe => {
                        Some(shared.redis.check_all(&prepared, now).await)
                    }
                    Route::Without => None,
                };
                guard.reported();
                match answer {
                    Some(Ok(verdict)) => {
                        if let Some(t) = shared.health.succeeded(route) {
                            self.transition(shared, t, None);
                            if t == Transition::CameBack {
                                self.repay_owed();
                            }
                        }
                        self.remember(shared, &prepared, &verdict);
                        verdict
                    }
                    Some(Err(e)) => {
                        self.inner
                            .stats
                            .redis_errors
                            .fetch_add(1, Ordering::Relaxed);
                        if let Some(t) = shared.health.failed(route) {
                            self.transition(shared, t, Some(&e));
                        } else {
                            tracing::debug!(error = %e, "rate limiter: Redis call failed");
                        }
                        self.without_redis(shared, &prepared, now)?
                    }
                    None => self.without_redis(shared, &prepared, now)?,
                }
            }
        };
        self.inner.stats.decisions.fetch_add(1, Ordering::Relaxed);
        if matches!(verdict, Verdict::Limited { .. }) {
            self.inner.stats.rejections.fetch_add(1, Ordering::Relaxed);
        }
        Ok(verdict)
    }

    /// Validates the limits of one request and prepares them for a backend: GCRA
    /// parameters, and the calendar day of `now` for those with a daily quota.
    fn prepare<'k>(
        &self,
        checks: &[(Key<'k>, Limit)],
        now: std::time::SystemTime,
    ) -> Result<Vec<Prepared<'k>>, LimiterError> {
        let Some((first, _)) = checks.first() else {
            return Err(LimiterError::Checks("no limit to check"));
        };
        if checks.len() > MAX_LIMITS_PER_CHECK {
            return Err(LimiterError::Checks("too many limits in one check"));
        }
        if checks.iter().any(|(k, _)| k.client != first.client) {
            return Err(LimiterError::Checks(
                "the limits of one check must be of one client",
            ));
        }
        for (i, (k, _)) in checks.iter().enumerate() {
            if checks[..i].iter().any(|(other, _)| other == k) {
                return Err(LimiterError::Checks(
                    "the limits of one check need distinct keys",
                ));
            }
        }
        let mut day = None;
        checks
            .iter()
            .map(|(key, limit)| {
                let params = Params::new(limit)?;
                let day = match limit.daily_quota {
                    Some(_) => Some(match day {
                        Some(d) => d,
                        None => *day.insert(Day::containing(now, self.inner.zone)?),
                    }),
                    None => None,
                };
                Ok(Prepared {
                    key: *key,
                    limit: *limit,
                    params,
                    day,
                })
            })
            .collect()
    }

    /// Readiness: with Redis, loads the decision script within the call timeout (so the
    /// first decision needs no extra round trip). Always ready in process.
    pub async fn ready(&self) -> Result<(), LimiterError> {
        match &self.inner.backend {
            Backend::Local(_) => Ok(()),
            Backend::Redis(shared) => shared.redis.load().await.map_err(|e| {
                tracing::debug!(error = %e, "rate limiter: Redis not ready");
                LimiterError::Unavailable
            }),
        }
    }

    /// The Redis connection, when limits are shared through Redis: a
    /// handle for [`credgate_redisconn::RedisConn::set_tls`] after a
    /// certificate rotation.
    pub fn redis_conn(&self) -> Option<credgate_redisconn::RedisConn> {
        match &self.inner.backend {
            Backend::Local(_) => None,
            Backend::Redis(shared) => Some(shared.redis.conn().clone()),
        }
    }

    /// The replicas sharing the limits as this replica counts them: Redis' last count
    /// of the replicas alive, or the configured number before the first count (1 in
    /// process). Each one's share in the `fail_open_local` fallback is `1 / this`.
    pub fn replicas(&self) -> u32 {
        match &self.inner.backend {
            Backend::Local(_) => 1,
            Backend::Redis(shared) => shared.divisor(),
        }
    }

    /// Takes this replica out of Redis' count of the replicas sharing the
    /// limits, at a graceful stop: the others' shares grow a window later
    /// (see `heartbeat`) instead of after its entry ages out. A failure is
    /// only logged: the entry then ages out as after a crash.
    pub async fn leave(&self) {
        if let Backend::Redis(shared) = &self.inner.backend {
            if shared.replica_id.is_empty() {
                return;
            }
            shared.left.store(true, Ordering::SeqCst);
            if let Err(e) = shared.redis.leave(&shared.replica_id).await {
                tracing::debug!(error = %e, "rate limiter: leaving the replica count failed");
            }
        }
    }

    /// How decisions are being made now.
    pub fn mode(&self) -> Mode {
        match &self.inner.backend {
            Backend::Local(_) => Mode::Local,
            Backend::Redis(shared) if !shared.health.is_down() => Mode::Redis,
            Backend::Redis(shared) => match shared.failure_mode {
                FailureMode::FailOpenLocal => Mode::FallbackLocal,
                FailureMode::FailClosed => Mode::Closed,
            },
        }
    }

    /// Counters since the limiter was built.
    pub fn stats(&self) -> LimiterStats {
        let s = &self.inner.stats;
        LimiterStats {
            decisions: s.decisions.load(Ordering::Relaxed),
            rejections: s.rejections.load(Ordering::Relaxed),
            redis_errors: s.redis_errors.load(Ordering::Relaxed),
            mode_switches: s.mode_switches.load(Ordering::Relaxed),
            fallbacks: s.fallbacks.load(Ordering::Relaxed),
        }
    }

    /// The verdict while Redis is down: this replica's share of each limit in process,
    /// or none.
    ///
    /// The share's daily count starts from what Redis last reported for the key today
    /// (if it did), so that this replica admits at most `⌊(quota − used) / replicas⌋` more
    /// today ([`share_counted`]).
    fn without_redis(
        &self,
        shared: &Shared,
        checks: &[Prepared<'_>],
        now: std::time::SystemTime,
    ) -> Result<Verdict, LimiterError> {
        self.inner.stats.fallbacks.fetch_add(1, Ordering::Relaxed);
        match shared.failure_mode {
            FailureMode::FailClosed => Err(LimiterError::Unavailable),
            FailureMode::FailOpenLocal => {
                let replicas = shared.divisor();
                let shares = checks
                    .iter()
                    .map(|c| {
                        let limit = c.limit.share(replicas);
                        Ok(Prepared {
                            limit,
                            params: Params::new(&limit)?,
                            ..*c
                        })
                    })
                    .collect::<Result<Vec<_>, LimiterError>>()?;
                let start = Reported {
                    shared,
                    checks,
                    shares: &shares,
                    replicas,
                };
                let verdict = shared.fallback.check_all_from(&shares, now, &start)?;
                if matches!(verdict, Verdict::Allowed(_)) {
                    for c in checks {
                        if let (Some(day), Some(_)) = (&c.day, c.limit.daily_quota) {
                            shared.owed.add(
                                &crate::redis::keys::quota_key(&c.key, day.label),
                                day.number,
                                1,
                                RedisBackend::quota_lifetime_secs(day, now),
                            );
                        }
                    }
                }
                Ok(verdict)
            }
        }
    }

    /// Remembers what a Redis verdict reported, where the fallback would start: when
    /// each bucket is full again (see [`RateSeen`]) and each day's quota count. All of
    /// them when allowed; when refused, only the refusing limit's bucket (the others
    /// were not counted, so their figures say nothing new).
    fn remember(&self, shared: &Shared, checks: &[Prepared<'_>], verdict: &Verdict) {
        let now = nanos(self.inner.clock.monotonic());
        let full_at = |info: &crate::decision::Info| {
            now.saturating_add(u64::try_from(info.reset_after.as_nanos()).unwrap_or(u64::MAX))
        };
        match verdict {
            Verdict::Allowed(infos) => {
                for (c, info) in checks.iter().zip(infos) {
                    shared.rate_seen.record(&c.key, full_at(info));
                    if let (Some(day), Some(quota)) = (&c.day, info.quota) {
                        // `remaining` is `limit − used`, floored at 0: `used` exactly, or
                        // the whole quota when Redis counted beyond it.
                        let used = quota.limit.saturating_sub(quota.remaining);
                        shared.seen.record(&c.key, day.number, used);
                    }
                }
            }
            Verdict::Limited { index, info } => {
                if let Some(c) = checks.get(*index) {
                    shared.rate_seen.record(&c.key, full_at(info));
                }
            }
        }
    }

    /// After Redis came back: adds what the fallback admitted today to Redis' counts, on
    /// a task of its own (the request that saw the recovery does not wait for it). What
    /// cannot be added is kept for the next recovery.
    fn repay_owed(&self) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let limiter = self.clone();
        rt.spawn(async move {
            let Backend::Redis(shared) = &limiter.inner.backend else {
                return;
            };
            let Ok(today) = Day::containing(limiter.inner.clock.now(), limiter.inner.zone) else {
                return;
            };
            let mut owed = shared.owed.take(today.number).into_iter();
            let mut repaid = 0u64;
            for (key, entry) in owed.by_ref() {
                if let Err(e) = shared
                    .redis
                    .add_quota(&key, entry.count, entry.lifetime_secs)
                    .await
                {
                    tracing::warn!(
                        error = %e,
                        "rate limiter: could not add the fallback's quota counts to Redis; \
                         kept for the next recovery"
                    );
                    shared.owed.give_back(key, entry);
                    for (key, entry) in owed {
                        shared.owed.give_back(key, entry);
                    }
                    return;
                }
                repaid = repaid.saturating_add(entry.count);
            }
            if repaid > 0 {
                tracing::info!(
                    requests = repaid,
                    "rate limiter: the fallback's quota counts of today were added to Redis"
                );
            }
        });
    }

    /// Logs and counts a change of availability, once per change.
    fn transition(
        &self,
        shared: &Shared,
        t: Transition,
        error: Option<&crate::redis::RedisFailure>,
    ) {
        self.inner
            .stats
            .mode_switches
            .fetch_add(1, Ordering::Relaxed);
        let mode = match shared.failure_mode {
            FailureMode::FailOpenLocal => "fail_open_local",
            FailureMode::FailClosed => "fail_closed",
        };
        match t {
            Transition::WentDown => {
                let error = error.map(ToString::to_string).unwrap_or_default();
                match shared.failure_mode {
                    FailureMode::FailOpenLocal => tracing::warn!(
                        %error,
                        failure_mode = mode,
                        replicas = shared.divisor(),
                        "rate limiter: Redis unreachable; each replica now limits with its \
                         share of every limit until Redis answers again"
                    ),
                    FailureMode::FailClosed => tracing::error!(
                        %error,
                        failure_mode = mode,
                        "rate limiter: Redis unreachable; requests are refused (503) until \
                         Redis answers again"
                    ),
                }
            }
            Transition::CameBack => tracing::info!(
                failure_mode = mode,
                "rate limiter: Redis reachable again; limits are shared across replicas"
            ),
        }
    }
}

/// What Redis last reported of a request's keys, where the fallback's shares start: the
/// day's count so that this replica admits at most `⌊(quota − used) / replicas⌋` more
/// today ([`share_counted`]), and when each bucket is full again.
struct Reported<'a, 'k> {
    shared: &'a Shared,
    /// The limits, and this replica's share of each (same order).
    checks: &'a [Prepared<'k>],
    shares: &'a [Prepared<'k>],
    replicas: u32,
}

impl StartFrom for Reported<'_, '_> {
    fn counted(&self, key: &Key<'_>, number: i64) -> u64 {
        let Some((c, share)) = self
            .checks
            .iter()
            .zip(self.shares)
            .find(|(c, _)| c.key == *key)
        else {
            return 0;
        };
        let seen = c
            .day
            .and_then(|day| Some((day.number, self.shared.seen.used(key, day.number)?)));
        match (seen, c.limit.daily_quota, share.limit.daily_quota) {
            (Some((day, used)), Some(quota), Some(share_quota)) if day == number => {
                share_counted(quota, used, self.replicas, share_quota)
            }
            _ => 0,
        }
    }

    fn full_at(&self, key: &Key<'_>) -> Option<u64> {
        self.shared.rate_seen.full_at(key)
    }
}

impl Shared {
    /// What each share divides the limits by: the replicas last counted alive, or the
    /// configured number before the first count.
    fn divisor(&self) -> u32 {
        match self.live.load(Ordering::Relaxed) {
            0 => self.replicas,
            n => n,
        }
    }
}
