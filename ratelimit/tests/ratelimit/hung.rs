//! A Redis that accepts connections and never answers: a decision waits at most the call
//! timeout, and while Redis is considered down no decision waits for it at all.

use std::time::{Duration, Instant};

use credgate_ratelimit::{Key, Limit, Limiter, LimiterConfig, Mode, RedisLimiterConfig};
use tokio::net::TcpListener;

/// A "Redis" that accepts (a bounded number of) connections, reads nothing and answers
/// nothing.
async fn silent_redis() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        for _ in 0..100 {
            match listener.accept().await {
                Ok((socket, _)) => held.push(socket),
                Err(_) => break,
            }
        }
    });
    addr
}

#[tokio::test]
async fn a_silent_redis_costs_one_timeout_then_nothing() {
    let addr = silent_redis().await;
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

/// A probe whose request is cancelled while it waits for Redis (the client went away, a
/// timeout around the decision) does not keep the probe slot: a later decision probes
/// again. Otherwise Redis would stay "down" until a restart, and under `fail_closed` every
/// decision would be refused.
#[tokio::test]
async fn a_cancelled_probe_does_not_stop_later_probes() {
    let addr = silent_redis().await;
    let cfg = RedisLimiterConfig {
        call_timeout: Duration::from_millis(100),
        min_retry_interval: Duration::from_millis(20),
        max_retry_interval: Duration::from_millis(20),
        ..RedisLimiterConfig::new(format!("redis://{addr}/"))
    };
    let limiter = Limiter::redis(LimiterConfig::default(), cfg).unwrap();
    let key = Key::client("bank-nb");
    let limit = Limit::new(1000.0, 100);
    limiter.check(&key, &limit).await.unwrap();
    assert_eq!(limiter.stats().redis_errors, 1);
    // Decisions cut off after 10 ms: those made without Redis finish, the probe (once the
    // 20 ms backoff has passed) is cancelled while it waits for the silent Redis.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut cancelled = 0;
    while cancelled == 0 {
        assert!(Instant::now() < deadline, "no probe was ever sent");
        let cut = tokio::time::timeout(Duration::from_millis(10), limiter.check(&key, &limit));
        if cut.await.is_err() {
            cancelled += 1;
        }
    }
    assert_eq!(limiter.stats().redis_errors, 1, "the probe had no outcome");
    // Whole decisions now: one of them is the next probe, which times out and counts.
    let deadline = Instant::now() + Duration::from_secs(5);
    while limiter.stats().redis_errors < 2 {
        assert!(
            Instant::now() < deadline,
            "no probe after the cancelled one: {:?}",
            limiter.stats()
        );
        limiter.check(&key, &limit).await.unwrap();
    }
}
