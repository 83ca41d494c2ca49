//! A wall clock stepped back does not block clients that were active: in process the GCRA
//! runs on the monotonic clock; in Redis a stored TAT later than `now + τ + T` (which no
//! GCRA can write) is clamped to it: an empty bucket one interval from its next token —
//! neither a wait for the length of the step nor a fresh burst.

use std::time::Duration;

use credgate_authz::testing::RedisServer;
use credgate_ratelimit::{gcra_key, Clock, Key, Limit, Limiter, RedisLimiterConfig, Why};

use super::common::{clock_at, config, connection, redis_limiter, NOON_SHANGHAI};

/// 10/s, burst 20: T = 100 ms, τ = 1.9 s.
fn limit() -> Limit {
    Limit::new(10.0, 20)
}

async fn take(limiter: &Limiter, key: &Key<'_>, n: usize) {
    for _ in 0..n {
        assert!(limiter.check(key, &limit()).await.unwrap().is_allowed());
    }
}

#[tokio::test]
async fn in_process_a_60_s_step_back_changes_nothing() {
    let clock = clock_at(NOON_SHANGHAI);
    let limiter = Limiter::local(config(&clock));
    let key = Key::client("bank-nb");
    take(&limiter, &key, 1).await;
    // Active for a while, then the wall clock goes back 60 s (to 40 s after the first
    // request).
    clock.advance(Duration::from_secs(100));
    take(&limiter, &key, 6).await;
    clock.set(clock.now() - Duration::from_secs(60));
    let d = limiter.check(&key, &limit()).await.unwrap();
    assert!(d.is_allowed(), "{d:?}");
    assert_eq!(d.info().remaining, 13);
    take(&limiter, &key, 13).await;
    let refused = limiter.check(&key, &limit()).await.unwrap();
    assert_eq!(refused.info().why, Some(Why::Rate));
    assert_eq!(
        refused.info().retry_after,
        Some(Duration::from_millis(100)),
        "one emission interval, not the length of the step"
    );
}

#[tokio::test]
async fn in_redis_a_60_s_step_back_of_the_gcra_clock_costs_one_interval() {
    let redis = RedisServer::start().unwrap();
    let clock = clock_at(NOON_SHANGHAI);
    let limiter = redis_limiter(&redis.url(), &clock);
    let key = Key::client("bank-nb");
    take(&limiter, &key, 6).await;
    clock.set(clock.now() - Duration::from_secs(60));
    let refused = limiter.check(&key, &limit()).await.unwrap();
    assert_eq!(refused.info().why, Some(Why::Rate), "{refused:?}");
    assert_eq!(
        refused.info().retry_after,
        Some(Duration::from_millis(100)),
        "one emission interval, not the 60 s of the step"
    );
    // From there on, the GCRA as usual on the stepped clock: one token per T.
    clock.advance(Duration::from_millis(100));
    let d = limiter.check(&key, &limit()).await.unwrap();
    assert!(d.is_allowed(), "{d:?}");
    assert_eq!(d.info().remaining, 0, "no fresh burst");
}

#[tokio::test]
async fn in_redis_a_far_future_tat_is_clamped_to_an_empty_bucket() {
    let redis = RedisServer::start().unwrap();
    let clock = clock_at(NOON_SHANGHAI);
    let limiter = redis_limiter(&redis.url(), &clock);
    let mut conn = connection(&redis.url()).await;
    let key = Key::client("bank-nb");
    let name = gcra_key(&key);
    let now_us = NOON_SHANGHAI * 1_000_000;

    // The most the GCRA can hold (an empty bucket just after a request) is kept.
    let _: () = redis::cmd("SET")
        .arg(&name)
        .arg(now_us + 2_000_000)
        .query_async(&mut conn)
        .await
        .unwrap();
    let refused = limiter.check(&key, &limit()).await.unwrap();
    assert_eq!(refused.info().retry_after, Some(Duration::from_millis(100)));

    // One microsecond more is impossible: clamped to that, an empty bucket one T from
    // its next token (refused, TAT unchanged at now + τ + T), never a fresh burst.
    for far in [
        now_us + 2_000_001,
        now_us + 61_400_000,
        9_000_000_000_000_000,
    ] {
        let _: () = redis::cmd("SET")
            .arg(&name)
            .arg(far)
            .query_async(&mut conn)
            .await
            .unwrap();
        let d = limiter.check(&key, &limit()).await.unwrap();
        assert!(!d.is_allowed(), "TAT {far}: {d:?}");
        assert_eq!(
            d.info().retry_after,
            Some(Duration::from_millis(100)),
            "TAT {far}"
        );
        let tat: u64 = redis::cmd("GET")
            .arg(&name)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(tat <= now_us + 2_000_000, "TAT {far} left at {tat}");
        let _: () = redis::cmd("DEL")
            .arg(&name)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

/// On Redis' own clock (the default): a TAT far beyond Redis `TIME` costs one interval.
#[tokio::test]
async fn on_redis_time_a_far_future_tat_costs_one_interval() {
    let redis = RedisServer::start().unwrap();
    let limiter = Limiter::redis(
        credgate_ratelimit::LimiterConfig::default(),
        RedisLimiterConfig::new(redis.url()),
    )
    .unwrap();
    let mut conn = connection(&redis.url()).await;
    let key = Key::client("bank-nb");
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(&mut conn).await.unwrap();
    let stepped = secs * 1_000_000 + micros + 60_000_000;
    let _: () = redis::cmd("SET")
        .arg(gcra_key(&key))
        .arg(stepped)
        .query_async(&mut conn)
        .await
        .unwrap();
    let d = limiter.check(&key, &limit()).await.unwrap();
    assert!(!d.is_allowed(), "{d:?}");
    let wait = d.info().retry_after.unwrap();
    assert!(wait <= Duration::from_millis(100), "{wait:?}, not the 60 s");
}
