//! Rate limits on the request path (SPEC §9): the client's limit right
//! after it is identified (before anything else is looked at), and the
//! client × scope limit once the scope is known — both before any upstream
//! call. In process by default; across replicas through Redis when
//! configured, with the configured behaviour while Redis is unreachable.

use crate::config::{Config, RedisFailureMode};
use crate::http::problem::{ApiError, Code};
use credgate_ratelimit::{
    Decision, FailureMode, Key, Limit, Limiter, LimiterConfig, LimiterStats, Mode,
    RedisLimiterConfig,
};
use http::{HeaderName, HeaderValue};
use std::time::Duration;

/// Why the limiter could not start.
#[derive(Debug, thiserror::Error)]
#[error("rate limiter: {0}")]
pub struct RateLimitSetupError(String);

/// The gateway's limiter.
#[derive(Clone)]
pub struct RateLimiter {
    limiter: Limiter,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("mode", &self.limiter.mode())
            .finish()
    }
}

/// `+08:00` → the offset.
pub fn parse_offset(s: &str) -> Option<time::UtcOffset> {
    let fmt = time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]");
    time::UtcOffset::parse(s, &fmt).ok()
}

/// Converts a policy limit.
fn limit_of(l: &credgate_policy::RateLimit) -> Limit {
    Limit {
        per_second: l.per_second,
        burst: l.burst,
        daily_quota: l.daily_quota,
    }
}

impl RateLimiter {
    /// Builds the limiter the configuration names (inside the runtime).
    pub fn from_config(cfg: &Config) -> Result<RateLimiter, RateLimitSetupError> {
        let zone = parse_offset(&cfg.ratelimit.quota_utc_offset)
            .ok_or_else(|| RateLimitSetupError("quota_utc_offset".into()))?;
        let base = LimiterConfig::default().with_time_zone(zone);
        let limiter = match &cfg.redis {
            None => {
                tracing::warn!(
                    "no redis: rate limits and daily quotas are counted in this process only; \
                     quotas start again from zero at a restart, and each replica admits its own \
                     full rate (use redis to share and keep them)"
                );
                Limiter::local(base)
            }
            Some(r) => {
                let mut rc = RedisLimiterConfig::new(r.connection_url().to_owned());
                rc.tls = r.tls.clone();
                rc.cluster = r.cluster;
                rc.cluster_seeds = r.cluster_seed_urls().to_vec();
                rc.sentinel = r.sentinel_target();
                rc.call_timeout = Duration::from_millis(cfg.ratelimit.call_timeout_ms);
                rc.replicas = cfg.ratelimit.replicas;
                // Counted alive in Redis under this name: the audit replica
                // name (for an operator reading the set) and a random
                // suffix (two replicas configured with one name still count
                // as two).
                let mut suffix = [0u8; 4];
                rand::Rng::fill(&mut rand::thread_rng(), &mut suffix);
                rc.replica_id = format!("{}/{}", cfg.audit.replica, hex::encode(suffix));
                rc.failure_mode = match cfg.ratelimit.redis_failure_mode {
                    RedisFailureMode::FailOpenLocal => FailureMode::FailOpenLocal,
                    RedisFailureMode::FailClosed => FailureMode::FailClosed,
                };
                Limiter::redis(base, rc).map_err(|e| RateLimitSetupError(e.to_string()))?
            }
        };
        Ok(RateLimiter { limiter })
    }

    /// Checks `limit` for the client (and scope). `Ok(headers)` to add to
    /// the response; a refusal is `429 rate_limited` with `Retry-After`
    /// and the same headers; an undecidable check (`fail_closed`) is 503.
    pub async fn check(
        &self,
        client: &str,
        scope: Option<&str>,
        limit: Option<&credgate_policy::RateLimit>,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, (ApiError, Vec<(HeaderName, HeaderValue)>)> {
        let Some(limit) = limit else {
            return Ok(Vec::new());
        };
        let key = Key { client, scope };
        // A client × scope limit names its policies after the scope, so
        // that they share the RateLimit fields with the client's own.
        let prefix = scope.map(|s| format!("{s}/")).unwrap_or_default();
        match self.limiter.check(&key, &limit_of(limit)).await {
            Ok(Decision::Allowed(info)) => Ok(info.headers_named(&prefix)),
            Ok(Decision::Limited(info)) => {
                let secs = info.retry_after_secs().unwrap_or(1);
                let what = match info.why {
                    Some(credgate_ratelimit::Why::DailyQuota) => "daily quota exhausted",
                    _ => "rate limit exceeded",
                };
                Err((
                    ApiError::new(Code::RateLimited, format!("{what}; retry after {secs} s"))
                        .retry_after(secs),
                    info.headers_named(&prefix),
                ))
            }
            Err(e) if e.is_unavailable() => Err((
                ApiError::new(
                    Code::ServiceUnavailable,
                    "rate limits cannot be decided right now",
                )
                .retry_after(1),
                Vec::new(),
            )),
            Err(e) => {
                tracing::error!(error = %e, "rate limit check failed");
                Err((
                    ApiError::new(Code::Internal, "rate limit check failed"),
                    Vec::new(),
                ))
            }
        }
    }

    /// Gives back what an allowed [`check`](Self::check) took, when a later limit of
    /// the same request refused it (a request refused by the client's own limit spends
    /// none of its scope's rate or daily quota). Best effort: a refund that cannot be
    /// made leaves the limit strict by one request, and is logged.
    pub async fn refund(
        &self,
        client: &str,
        scope: Option<&str>,
        limit: Option<&credgate_policy::RateLimit>,
    ) {
        let Some(limit) = limit else {
            return;
        };
        let key = Key { client, scope };
        if let Err(e) = self.limiter.refund(&key, &limit_of(limit)).await {
            tracing::warn!(error = %e, "rate limit refund failed");
        }
    }

    /// The Redis connection, when limits are shared through Redis.
    pub fn redis_conn(&self) -> Option<credgate_redisconn::RedisConn> {
        self.limiter.redis_conn()
    }

    /// Where decisions are made now.
    pub fn mode(&self) -> Mode {
        self.limiter.mode()
    }

    /// The replicas sharing the limits as counted (see
    /// [`Limiter::replicas`]).
    pub fn replicas(&self) -> u32 {
        self.limiter.replicas()
    }

    /// Decision counters (Redis errors, mode switches, fallbacks).
    pub fn stats(&self) -> LimiterStats {
        self.limiter.stats()
    }
}

/// Adds the headers of a second limit check to those of the first: the
/// `RateLimit-Policy` and `RateLimit` lists are joined (their policy
/// names differ, see [`RateLimiter::check`]), `Retry-After` keeps the
/// longer wait.
pub fn merge_headers(
    into: &mut Vec<(HeaderName, HeaderValue)>,
    more: Vec<(HeaderName, HeaderValue)>,
) {
    for (name, value) in more {
        let Some(slot) = into.iter_mut().find(|(n, _)| *n == name) else {
            into.push((name, value));
            continue;
        };
        let merged = if name == http::header::RETRY_AFTER {
            let secs = |v: &HeaderValue| v.to_str().ok().and_then(|s| s.parse::<u64>().ok());
            match (secs(&slot.1), secs(&value)) {
                (Some(a), Some(b)) if b > a => Some(value),
                _ => None,
            }
        } else {
            let joined = [slot.1.as_bytes(), b", ", value.as_bytes()].concat();
            HeaderValue::from_bytes(&joined).ok()
        };
        if let Some(v) = merged {
            slot.1 = v;
        }
    }
}

/// Lower-case name of a mode for `/readyz` and metrics.
pub fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Local => "local",
        Mode::Redis => "redis",
        Mode::FallbackLocal => "fallback_local",
        Mode::Closed => "closed",
    }
}
