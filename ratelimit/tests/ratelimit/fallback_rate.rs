//! The fallback's share of a bucket starts as spent as Redis last reported the shared
//! bucket: a burst spent in Redis is not spent once more the moment Redis goes away.

use std::time::Duration;

use credgate_authz::testing::RedisServer;
use credgate_ratelimit::{Key, Limit, Mode};

use super::common::{clock_at, redis_limiter_of, NOON_SHANGHAI};

#[tokio::test]
async fn a_burst_spent_in_redis_is_not_spent_again_in_the_fallback() {
    let mut redis = RedisServer::start().unwrap();
    let clock = clock_at(NOON_SHANGHAI);
    let limiter = redis_limiter_of(&redis.url(), &clock, 2);
    // Burst 4, one more per second; each of 2 replicas' share: burst 2, one per 2 s.
    let limit = Limit::new(1.0, 4);
    let (spent, fresh) = (Key::client("bank-nb"), Key::client("bank-hz"));
    for _ in 0..4 {
        assert!(limiter.check(&spent, &limit).await.unwrap().is_allowed());
    }
    assert!(!limiter.check(&spent, &limit).await.unwrap().is_allowed());
    assert_eq!(limiter.mode(), Mode::Redis);

    redis.stop();
    // The shared bucket is full again in 4 s; so is the share, which therefore starts
    // empty: its next token comes in 2 s.
    let d = limiter.check(&spent, &limit).await.unwrap();
    assert_eq!(limiter.mode(), Mode::FallbackLocal);
    assert!(!d.is_allowed(), "{d:?}");
    assert_eq!(d.info().retry_after, Some(Duration::from_secs(2)));
    assert_eq!(d.info().limit, limit.share(2));
    clock.advance(Duration::from_secs(2));
    assert!(limiter.check(&spent, &limit).await.unwrap().is_allowed());
    assert!(!limiter.check(&spent, &limit).await.unwrap().is_allowed());
    clock.advance(Duration::from_secs(2));
    assert!(limiter.check(&spent, &limit).await.unwrap().is_allowed());

    // A key Redis never reported on starts with the share's whole burst.
    let fresh_allowed = [
        limiter.check(&fresh, &limit).await.unwrap().is_allowed(),
        limiter.check(&fresh, &limit).await.unwrap().is_allowed(),
        limiter.check(&fresh, &limit).await.unwrap().is_allowed(),
    ];
    assert_eq!(fresh_allowed, [true, true, false]);
}
