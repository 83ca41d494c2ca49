//! Refunds: a request one limit allowed and another refused gives back what the first
//! took (a rate token and the day's unit) — in process, in Redis, and in the fallback's
//! share while Redis is down.

use std::time::Duration;

use credgate_authz::testing::RedisServer;
use credgate_ratelimit::{Key, Limit, Limiter, ManualClock, Mode, RedisLimiterConfig, Why};

use super::common::{clock_at, config, redis_config, redis_limiter, NOON_SHANGHAI};

/// Burst 2, one more per second, 3 a day (for the fallback's share of 2 replicas:
/// `limit.share(2)` halves what the assertions below take).
async fn refunds_give_back_the_token_and_the_days_unit(limiter: &Limiter, clock: &ManualClock) {
    let key = Key::scoped("bank-nb", "enterprise.report");
    let limit = Limit::new(1.0, 2).with_daily_quota(3);
    let check = async || limiter.check(&key, &limit).await.unwrap();
    let quota_left = |d: &credgate_ratelimit::Decision| d.info().quota.map(|q| q.remaining);

    let a = check().await;
    assert!(a.is_allowed());
    assert_eq!((a.info().remaining, quota_left(&a)), (1, Some(2)));
    let b = check().await;
    assert!(b.is_allowed());
    assert_eq!((b.info().remaining, quota_left(&b)), (0, Some(1)));
    // Another limit refused b: its token and its unit come back.
    limiter.refund(&key, &limit).await.unwrap();
    let c = check().await;
    assert!(c.is_allowed(), "the refunded token");
    assert_eq!((c.info().remaining, quota_left(&c)), (0, Some(1)));
    let d = check().await;
    assert_eq!(d.info().why, Some(Why::Rate));

    clock.advance(Duration::from_secs(2));
    let e = check().await;
    assert!(e.is_allowed());
    assert_eq!(quota_left(&e), Some(0), "the day's last unit");
    limiter.refund(&key, &limit).await.unwrap();
    let f = check().await;
    assert!(f.is_allowed(), "the refunded unit");
    assert_eq!(quota_left(&f), Some(0));
    assert_eq!(check().await.info().why, Some(Why::DailyQuota));
}

#[tokio::test]
async fn in_process() {
    let clock = clock_at(NOON_SHANGHAI);
    let limiter = Limiter::local(config(&clock));
    refunds_give_back_the_token_and_the_days_unit(&limiter, &clock).await;
}

#[tokio::test]
async fn in_redis() {
    let redis = RedisServer::start().unwrap();
    let clock = clock_at(NOON_SHANGHAI);
    let limiter = redis_limiter(&redis.url(), &clock);
    refunds_give_back_the_token_and_the_days_unit(&limiter, &clock).await;
    assert_eq!(limiter.mode(), Mode::Redis);
}

#[tokio::test]
async fn in_the_fallback_share() {
    let mut redis = RedisServer::start().unwrap();
    let clock = clock_at(NOON_SHANGHAI);
    let cfg = RedisLimiterConfig {
        replicas: 1,
        ..redis_config(&redis.url())
    };
    let limiter = Limiter::redis(config(&clock), cfg).unwrap();
    redis.stop();
    // The first decision finds Redis gone and falls back (a share of 1 replica: the
    // whole limit).
    refunds_give_back_the_token_and_the_days_unit(&limiter, &clock).await;
    assert_eq!(limiter.mode(), Mode::FallbackLocal);
}
