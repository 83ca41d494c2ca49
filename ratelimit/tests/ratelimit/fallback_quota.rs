//! `fail_open_local` and the daily quota: each replica's fallback starts from the day's
//! count Redis last reported to it and admits at most its share of what is left,
//! `⌊(quota − used) / replicas⌋`, never the whole share again.

use std::time::Duration;

use credgate_authz::testing::RedisServer;
use credgate_ratelimit::{Key, Limit, Limiter, Mode, RedisLimiterConfig, Why};

use super::common::{clock_at, config, connection, redis_config, until_mode, NOON_SHANGHAI};

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
    // The 5 the fallback admitted today are added to Redis' count of today once it is
    // back, so 5 are left, not 10.
    let mut conn = connection(&redis.url()).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("*bank-nb*quota*")
            .query_async(&mut conn)
            .await
            .unwrap();
        if keys.len() == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{keys:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(until_quota_refuses(&a, &key, 20).await, 5);
    redis.stop();
    assert_eq!(
        until_quota_refuses(&a, &key, 20).await,
        0,
        "spent in Redis today"
    );
}

/// What a replica's fallback admitted under the daily quota while Redis was down is added
/// to Redis' count once Redis answers again: the fleet's count of the day includes it.
#[tokio::test]
async fn the_fallbacks_admissions_are_added_to_redis_when_it_is_back() {
    let mut redis = RedisServer::start().unwrap();
    let (a, b, _clock) = replicas(&redis);
    let key = Key::client("bank-nb");
    // 4 of 10 used; a last saw 3.
    assert_eq!(alternate(&a, &b, &key, 4).await, [2, 2]);
    let mut conn = connection(&redis.url()).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*bank-nb*quota*")
        .query_async(&mut conn)
        .await
        .unwrap();
    let [quota_key] = keys.as_slice() else {
        panic!("one quota key: {keys:?}")
    };

    redis.stop();
    // a: ⌊(10 − 3) / 2⌋ = 3 in its fallback.
    assert_eq!(until_quota_refuses(&a, &key, 20).await, 3);

    // Redis back with its data (as a persistent Redis would be).
    redis.restart().unwrap();
    let mut conn = connection(&redis.url()).await;
    let _: () = redis::cmd("SET")
        .arg(quota_key)
        .arg(4)
        .query_async(&mut conn)
        .await
        .unwrap();
    until_mode(&a, Mode::Redis, Duration::from_secs(5), || async {
        let _ = a.check(&Key::client("probe"), &limit()).await;
    })
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let n: i64 = redis::cmd("GET")
            .arg(quota_key)
            .query_async(&mut conn)
            .await
            .unwrap();
        if n == 7 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Redis' count {n}, not 4 + the fallback's 3"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // So the other replica, on Redis, finds 3 left, not 6.
    assert_eq!(until_quota_refuses(&b, &key, 20).await, 3);
}
