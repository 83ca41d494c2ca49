//! Two replicas (two independent `Limiter`s) on one Redis hold a key to one limit, on
//! Redis' clock.

use std::time::{Duration, Instant};

use credgate_authz::testing::RedisServer;
use credgate_ratelimit::{Key, Limit, Limiter, LimiterConfig, Mode, RedisLimiterConfig};

#[tokio::test]
async fn two_replicas_share_one_limit() {
    let redis = RedisServer::start().unwrap();
    let replica = || {
        let cfg = RedisLimiterConfig {
            replicas: 2,
            call_timeout: Duration::from_millis(200),
            ..RedisLimiterConfig::new(redis.url())
        };
        Limiter::redis(LimiterConfig::default(), cfg).unwrap()
    };
    let (a, b) = (replica(), replica());
    a.ready().await.unwrap();
    b.ready().await.unwrap();
    let limit = Limit::new(5.0, 10);
    let key = Key::scoped("bank-nb", "enterprise.report");

    // 40 requests alternating between the replicas, one every 25 ms (1 s in all).
    let mut allowed = [0u32; 2];
    let mut ticker = tokio::time::interval(Duration::from_millis(25));
    let mut first = None;
    for i in 0..40 {
        ticker.tick().await;
        first.get_or_insert_with(Instant::now);
        let limiter = if i % 2 == 0 { &a } else { &b };
        if limiter.check(&key, &limit).await.unwrap().is_allowed() {
            allowed[i % 2] += 1;
        }
    }
    let elapsed = first.unwrap().elapsed().as_secs_f64();

    // Together: the burst plus what the rate refilled while the requests ran (± 1 for
    // where the boundaries fall), not twice the burst as two separate limiters would give.
    let total = f64::from(allowed[0] + allowed[1]);
    let expected = 10.0 + 5.0 * elapsed;
    assert!(
        (total - expected).abs() <= 1.5,
        "allowed {allowed:?} = {total} over {elapsed:.3} s, expected about {expected:.1}"
    );
    assert!(
        allowed[0] >= 5 && allowed[1] >= 5,
        "both replicas served: {allowed:?}"
    );
    for limiter in [&a, &b] {
        assert_eq!(limiter.mode(), Mode::Redis);
        let stats = limiter.stats();
        assert_eq!((stats.redis_errors, stats.fallbacks), (0, 0));
        assert_eq!(stats.decisions, 20);
    }
    assert_eq!(
        a.stats().rejections + b.stats().rejections,
        40 - (allowed[0] + allowed[1]) as u64
    );
}
