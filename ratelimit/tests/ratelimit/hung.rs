//! A Redis that accepts connections and never answers: a decision waits at most the call
//! timeout, and while Redis is considered down no decision waits for it at all.

use std::time::{Duration, Instant};

use credgate_ratelimit::{Key, Limit, Limiter, LimiterConfig, Mode, RedisLimiterConfig};
use tokio::net::TcpListener;

#[tokio::test]
async fn a_silent_redis_costs_one_timeout_then_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts (a bounded number of) connections, reads nothing, answers nothing.
    tokio::spawn(async move {
        let mut held = Vec::new();
        for _ in 0..100 {
            match listener.accept().await {
                Ok((socket, _)) => held.push(socket),
                Err(_) => break,
            }
        }
    });
    let timeout = Duration::from_millis(100);
    let cfg = RedisLimiterConfig {
        call_timeout: timeout,
        // No probe during the test: every later decision must be made without Redis.
        min_retry_interval: Duration::from_secs(30),
        max_retry_interval: Duration::from_secs(30),
        ..RedisLimiterConfig::new(format!("redis://{addr}/"))
    };
    let limiter = Limiter::redis(LimiterConfig::default(), cfg).unwrap();
    let key = Key::client("bank-nb");
    let limit = Limit::new(1000.0, 100);

    let started = Instant::now();
    let first = limiter.check(&key, &limit).await.unwrap();
    let waited = started.elapsed();
    assert!(first.is_allowed(), "decided locally (fail_open_local)");
    assert_eq!(limiter.mode(), Mode::FallbackLocal);
    assert!(waited >= timeout, "the call ran to its timeout: {waited:?}");
    assert!(
        waited < Duration::from_secs(2),
        "bounded by the call timeout: {waited:?}"
    );

    let started = Instant::now();
    for _ in 0..50 {
        limiter.check(&key, &limit).await.unwrap();
    }
    let rest = started.elapsed();
    let stats = limiter.stats();
    assert_eq!(stats.redis_errors, 1, "no further Redis call: {stats:?}");
    assert_eq!((stats.fallbacks, stats.mode_switches), (51, 1));
    assert!(rest < timeout * 5, "50 decisions without waiting: {rest:?}");
}
