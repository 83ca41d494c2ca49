//! Rate limits on the request path (SPEC §9): right after the client is
//! identified (before anything else is looked at), its limit for the scope
//! its request uses and its own, decided together — before any upstream
//! call. In process by default; across replicas through Redis when
//! configured, with the configured behaviour while Redis is unreachable.

use crate::config::{Config, RedisFailureMode};
use crate::http::problem::{ApiError, Code};
use credgate_ratelimit::{
    FailureMode, Key, Limit, Limiter, LimiterConfig, LimiterStats, Mode, RedisLimiterConfig,
    Verdict,
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

    /// Checks the request of `client` under its limits, together: its limit for `scope`
    /// (when the grant it uses has one) and its own (when it has one). Either both allow
    /// it and count it, or the first that refuses it — the scope's, then the client's —
    /// is the answer and neither counts it: a request its scope refuses (a retry loop on
    /// one scope, say) spends none of the client's own rate and daily quota, which its
    /// other scopes share, and one the client's own limit refuses spends nothing of the
    /// scope's. With Redis, one round trip decides both (SPEC §9).
    ///
    /// `Ok(headers)` to add to the response (both limits' policies; a scope's are named
    /// after it, so that they share the `RateLimit` fields with the client's own); a
    /// refusal is `429 rate_limited` with `Retry-After` and the headers of the limit
    /// that refused; an undecidable check (`fail_closed`) is 503.
    pub async fn check(
        &self,
        client: &str,
        scope: Option<(&str, Option<&credgate_policy::RateLimit>)>,
        own: Option<&credgate_policy::RateLimit>,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, (ApiError, Vec<(HeaderName, HeaderValue)>)> {
        let mut checks = Vec::with_capacity(2);
        let mut prefixes = Vec::with_capacity(2);
        if let Some((scope, Some(limit))) = scope {
            checks.push((Key::scoped(client, scope), limit_of(limit)));
            prefixes.push(format!("{scope}/"));
        }
        if let Some(limit) = own {
            checks.push((Key::client(client), limit_of(limit)));
            prefixes.push(String::new());
        }
        if checks.is_empty() {
            return Ok(Vec::new());
        }
        let prefix = |i: usize| prefixes.get(i).map_or("", String::as_str);
        match self.limiter.check_all(&checks).await {
            Ok(Verdict::Allowed(infos)) => {
                let mut headers = Vec::new();
                for (i, info) in infos.iter().enumerate() {
                    merge_headers(&mut headers, info.headers_named(prefix(i)));
                }
                Ok(headers)
            }
            Ok(Verdict::Limited { index, info }) => {
                let secs = info.retry_after_secs().unwrap_or(1);
                let what = match info.why {
                    Some(credgate_ratelimit::Why::DailyQuota) => "daily quota exhausted",
                    _ => "rate limit exceeded",
                };
                Err((
                    ApiError::new(Code::RateLimited, format!("{what}; retry after {secs} s"))
                        .retry_after(secs),
                    info.headers_named(prefix(index)),
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

    /// Leaves Redis' count of the replicas sharing the limits (a graceful
    /// stop; see [`Limiter::leave`]).
    pub async fn leave(&self) {
        self.limiter.leave().await;
    }

    /// Decision counters (Redis errors, mode switches, fallbacks).
    pub fn stats(&self) -> LimiterStats {
        self.limiter.stats()
    }
}

/// Adds the headers of a second limit to those of the first: the
/// `RateLimit-Policy` and `RateLimit` lists are joined (their policy
/// names differ, see [`RateLimiter::check`]), `Retry-After` keeps the
/// longer wait.
fn merge_headers(into: &mut Vec<(HeaderName, HeaderValue)>, more: Vec<(HeaderName, HeaderValue)>) {
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
