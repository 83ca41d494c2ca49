//! The decision script survives `SCRIPT FLUSH` (`NOSCRIPT` → reload → retry) and keeps its
//! keys short-lived.

use credgate_authz::testing::RedisServer;
use credgate_ratelimit::{gcra_key, Key, Limit, Mode};

use super::common::{clock_at, connection, redis_limiter, NOON_SHANGHAI};

#[tokio::test]
async fn a_script_flush_mid_run_is_survived() {
    let redis = RedisServer::start().unwrap();
    let clock = clock_at(NOON_SHANGHAI);
    let limiter = redis_limiter(&redis.url(), &clock);
    limiter.ready().await.unwrap();
    let mut conn = connection(&redis.url()).await;
    let key = Key::client("bank-nb");
    let limit = Limit::new(1.0, 3);

    assert!(limiter.check(&key, &limit).await.unwrap().is_allowed());
    assert!(limiter.check(&key, &limit).await.unwrap().is_allowed());
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut conn)
        .await
        .unwrap();
    let third = limiter.check(&key, &limit).await.unwrap();
    assert!(third.is_allowed(), "decided by the reloaded script");
    assert_eq!(third.info().remaining, 0, "state kept across the flush");
    assert!(!limiter.check(&key, &limit).await.unwrap().is_allowed());
    assert_eq!(limiter.mode(), Mode::Redis);
    assert_eq!(limiter.stats().redis_errors, 0, "NOSCRIPT is not a failure");

    // The GCRA key holds the TAT (µs) and expires after it (+ slack), in the client's slot.
    let name = gcra_key(&key);
    assert_eq!(name, "credgate:{rl:bank-nb}:gcra:*");
    let tat: u64 = redis::cmd("GET")
        .arg(&name)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(tat, NOON_SHANGHAI * 1_000_000 + 3_000_000);
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&name)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 3_000 && ttl <= 3_001 + 60_000, "pttl {ttl}");
}
