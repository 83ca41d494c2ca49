//! `fail_open_local` and the daily quota: each replica's fallback starts from the day's
//! count Redis last reported to it and admits at most its share of what is left,
//! `⌊(quota − used) / replicas⌋`, never the whole share again.

use std::time::Duration;

use credgate_authz::testing::RedisServer;
use credgate_ratelimit::{Key, Limit, Limiter, Mode, RedisLimiterConfig, Why};

use super::common::{clock_at, config, redis_config, until_mode, NOON_SHANGHAI};

/// A generous rate with a daily quota of 10: only the quota ever refuses.
fn limit() -> Limit {
    Limit::new(1000.0, 1000).with_daily_quota(10)
}

/// Two replicas on one Redis (on one manual clock), each knowing there are two.
fn replicas(redis: &RedisServer) -> (Limiter, Limiter, credgate_ratelimit::ManualClock) {
    let clock = clock_at(NOON_SHANGHAI);
    let replica = || {
        let cfg = RedisLimiterConfig {
            replicas: 2,
            ..redis_config(&redis.url())
        };
        Limiter::redis(config(&clock), cfg).unwrap()
    };
    (replica(), replica(), clock)
}

/// `n` requests alternating between the replicas, starting with `a`; allowed per replica.
async fn alternate(a: &Limiter, b: &Limiter, key: &Key<'_>, n: usize) -> [usize; 2] {
    let mut allowed = [0; 2];
    for i in 0..n {
        let limiter = if i % 2 == 0 { a } else { b };
        if limiter.check(key, &limit()).await.unwrap().is_allowed() {
            allowed[i % 2] += 1;
        }
    }
    allowed
}

/// Requests to one replica until it refuses for the quota (at most `max`); allowed.
async fn until_quota_refuses(limiter: &Limiter, key: &Key<'_>, max: usize) -> usize {
    for n in 0..max {
        let d = limiter.check(key, &limit()).await.unwrap();
        if !d.is_allowed() {
            assert_eq!(d.info().why, Some(Why::DailyQuota), "{d:?}");
            assert_eq!(d.info().quota.map(|q| q.remaining), Some(0));
            return n;
        }
    }
    max
}

#[tokio::test]
async fn a_quota_spent_through_redis_stays_spent_when_redis_goes_away() {
    let mut redis = RedisServer::start().unwrap();
    let (a, b, _clock) = replicas(&redis);
    let key = Key::client("bank-nb");
    assert_eq!(alternate(&a, &b, &key, 10).await, [5, 5]);
    // Each replica is told the quota is spent (a refusal reports the day's count too).
    assert_eq!(alternate(&a, &b, &key, 2).await, [0, 0]);

    redis.stop();
    assert_eq!(until_quota_refuses(&a, &key, 20).await, 0, "replica a");
    assert_eq!(until_quota_refuses(&b, &key, 20).await, 0, "replica b");
    assert_eq!(
        (a.mode(), b.mode()),
        (Mode::FallbackLocal, Mode::FallbackLocal)
    );
}

#[tokio::test]
async fn a_partly_spent_quota_leaves_each_replica_its_share_of_the_rest() {
    let mut redis = RedisServer::start().unwrap();
    let (a, b, _clock) = replicas(&redis);
    let key = Key::scoped("bank-nb", "enterprise.report");
    // 4 of 10 used: a last saw 3, b saw 4.
    assert_eq!(alternate(&a, &b, &key, 4).await, [2, 2]);

    redis.stop();
    // a: ⌊(10 − 3) / 2⌋ = 3; b: ⌊(10 − 4) / 2⌋ = 3. Together 6, the 6 left.
    assert_eq!(until_quota_refuses(&a, &key, 20).await, 3, "replica a");
    assert_eq!(until_quota_refuses(&b, &key, 20).await, 3, "replica b");
    let refused = a.check(&key, &limit()).await.unwrap();
    let quota = refused.info().quota.unwrap();
    assert_eq!(
        (quota.limit, quota.remaining),
        (5, 0),
        "headers state the share"
    );

    // A key Redis never reported on: the plain share, ⌊10 / 2⌋.
    let other = Key::client("dept-nb");
    assert_eq!(until_quota_refuses(&a, &other, 20).await, 5);
}

#[tokio::test]
async fn an_odd_remainder_is_rounded_down() {
    let mut redis = RedisServer::start().unwrap();
    let (a, b, _clock) = replicas(&redis);
    let key = Key::client("bank-nb");
    // 9 of 10 used, both replicas told: 1 left, ⌊1 / 2⌋ = 0 each (never over-admit).
    assert_eq!(alternate(&a, &b, &key, 9).await, [5, 4]);
    assert_eq!(
        until_quota_refuses(&b, &key, 1).await,
        1,
        "b takes the 10th"
    );
    let _ = alternate(&a, &b, &key, 2).await;

    redis.stop();
    assert_eq!(until_quota_refuses(&a, &key, 20).await, 0);
    assert_eq!(until_quota_refuses(&b, &key, 20).await, 0);
}

#[tokio::test]
async fn a_new_day_during_the_outage_starts_from_the_full_share() {
    let mut redis = RedisServer::start().unwrap();
    let (a, b, clock) = replicas(&redis);
    let key = Key::client("bank-nb");
    assert_eq!(alternate(&a, &b, &key, 12).await, [5, 5]);

    redis.stop();
    assert_eq!(until_quota_refuses(&a, &key, 20).await, 0);
    // Noon to the next noon in Shanghai: yesterday's count is not carried over.
    clock.advance(Duration::from_secs(86_400));
    assert_eq!(until_quota_refuses(&a, &key, 20).await, 5);

    // Back on Redis (restarted empty), then down again: the new day's count counts.
    redis.restart().unwrap();
    until_mode(&a, Mode::Redis, Duration::from_secs(5), || async {
        let _ = a.check(&Key::client("probe"), &limit()).await;
    })
    .await;
    assert_eq!(until_quota_refuses(&a, &key, 20).await, 10);
    redis.stop();
    assert_eq!(
        until_quota_refuses(&a, &key, 20).await,
        0,
        "spent in Redis today"
    );
}
