//! Helpers: limiters on a manual clock, a Redis connection for inspection.

use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use credgate_ratelimit::{
    Limiter, LimiterConfig, ManualClock, Mode, RedisLimiterConfig, TimeSource,
};

/// 2025-03-01T12:00:00+08:00, a microsecond-aligned start for manual clocks.
pub const NOON_SHANGHAI: u64 = 1_740_801_600;

/// A manual clock at `secs` after the Unix epoch.
pub fn clock_at(secs: u64) -> ManualClock {
    ManualClock::new(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Limiter settings reading `clock` (zone: the default, +08:00).
pub fn config(clock: &ManualClock) -> LimiterConfig {
    LimiterConfig::default().with_clock(Arc::new(clock.clone()))
}

/// Redis settings for tests: the GCRA on the gateway's (manual) clock, quick retries.
pub fn redis_config(url: &str) -> RedisLimiterConfig {
    RedisLimiterConfig {
        time_source: TimeSource::Gateway,
        call_timeout: Duration::from_millis(200),
        min_retry_interval: Duration::from_millis(20),
        max_retry_interval: Duration::from_millis(50),
        ..RedisLimiterConfig::new(url)
    }
}

/// A Redis limiter on `clock`.
pub fn redis_limiter(url: &str, clock: &ManualClock) -> Limiter {
    Limiter::redis(config(clock), redis_config(url)).unwrap()
}

/// A Redis limiter on `clock` whose fallback shares divide by `replicas`
/// (until Redis counts them).
pub fn redis_limiter_of(url: &str, clock: &ManualClock, replicas: u32) -> Limiter {
    let cfg = RedisLimiterConfig {
        replicas,
        ..redis_config(url)
    };
    Limiter::redis(config(clock), cfg).unwrap()
}

/// A plain connection for looking at keys and flushing scripts.
pub async fn connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Drives `probe` (one decision) until the limiter is in `mode`, within `deadline`;
/// returns how long it took.
pub async fn until_mode<F, Fut>(
    limiter: &Limiter,
    mode: Mode,
    deadline: Duration,
    mut probe: F,
) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let start = Instant::now();
    loop {
        probe().await;
        if limiter.mode() == mode {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < deadline,
            "limiter still in {:?}, not {mode:?}, after {deadline:?}",
            limiter.mode()
        );
        // Pacing of the polling loop (bounded by the deadline above).
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
