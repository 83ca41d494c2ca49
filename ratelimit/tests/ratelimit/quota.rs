//! Daily quotas: exhaustion refuses until the next day starts in Shanghai (UTC+8), and the
//! count starts over then — in process and in Redis alike.

use std::time::{Duration, UNIX_EPOCH};

use credgate_authz::testing::RedisServer;
use credgate_ratelimit::{quota_key, Key, Limit, Limiter, ManualClock, Why};

use super::common::{config, connection, redis_limiter};

/// 2025-03-01T23:59:59.500+08:00 (15:59:59.5 UTC).
fn half_a_second_before_midnight() -> ManualClock {
    ManualClock::new(UNIX_EPOCH + Duration::from_millis(1_740_844_799_500))
}
const MIDNIGHT: i64 = 1_740_844_800;

async fn quota_resets_at_midnight_shanghai(limiter: &Limiter, clock: &ManualClock) {
    let key = Key::scoped("bank-nb", "enterprise.report");
    let limit = Limit::new(100.0, 100).with_daily_quota(3);
    for remaining in [2, 1, 0] {
        let d = limiter.check(&key, &limit).await.unwrap();
        assert!(d.is_allowed());
        let quota = d.info().quota.unwrap();
        assert_eq!((quota.limit, quota.remaining), (3, remaining));
        assert_eq!(quota.resets_at_unix, MIDNIGHT);
    }
    let refused = limiter.check(&key, &limit).await.unwrap();
    assert!(!refused.is_allowed());
    let info = refused.info();
    assert_eq!(info.why, Some(Why::DailyQuota));
    assert_eq!(info.retry_after, Some(Duration::from_millis(500)));
    assert_eq!(info.retry_after_secs(), Some(1));
    assert_eq!(info.remaining, 97, "the refusal took no rate token");
    assert_eq!(
        info.ratelimit_header(),
        "\"burst\";r=97;t=1, \"daily\";r=0;t=1"
    );
    assert_eq!(
        info.policy_header(),
        "\"burst\";q=100;w=1, \"daily\";q=3;w=86400"
    );
    // Other keys of the client have their own counters.
    assert!(limiter
        .check(&Key::client("bank-nb"), &limit)
        .await
        .unwrap()
        .is_allowed());

    clock.advance(Duration::from_millis(499));
    assert_eq!(
        limiter
            .check(&key, &limit)
            .await
            .unwrap()
            .info()
            .retry_after,
        Some(Duration::from_millis(1))
    );
    clock.advance(Duration::from_millis(1));
    let d = limiter.check(&key, &limit).await.unwrap();
    assert!(d.is_allowed(), "a new day in Shanghai");
    let quota = d.info().quota.unwrap();
    assert_eq!(quota.remaining, 2);
    assert_eq!(quota.resets_at_unix, MIDNIGHT + 86_400);
    assert_eq!(quota.resets_after, Duration::from_secs(86_400));
}

#[tokio::test]
async fn in_process() {
    let clock = half_a_second_before_midnight();
    let limiter = Limiter::local(config(&clock));
    quota_resets_at_midnight_shanghai(&limiter, &clock).await;
}

#[tokio::test]
async fn in_redis() {
    let redis = RedisServer::start().unwrap();
    let clock = half_a_second_before_midnight();
    let limiter = redis_limiter(&redis.url(), &clock);
    quota_resets_at_midnight_shanghai(&limiter, &clock).await;
    assert_eq!(limiter.stats().redis_errors, 0);

    // The counters are per day, live until an hour after the day, share the client's slot.
    let mut conn = connection(&redis.url()).await;
    let key = Key::scoped("bank-nb", "enterprise.report");
    let (day1, day2) = (quota_key(&key, 20250301), quota_key(&key, 20250302));
    assert!(day1.starts_with("credgate:{rl:bank-nb}:quota:"));
    let counts: (Option<u64>, Option<u64>) = redis::pipe()
        .get(&day1)
        .get(&day2)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(counts, (Some(3), Some(1)));
    // 0.5 s of the day were left at the first count: 1 s rounded up, plus one hour.
    let ttl: i64 = redis::cmd("TTL")
        .arg(&day1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((3590..=3601).contains(&ttl), "ttl {ttl}");
    let ttl: i64 = redis::cmd("TTL")
        .arg(&day2)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((86_400 + 3590..=86_400 + 3600).contains(&ttl), "ttl {ttl}");
}
