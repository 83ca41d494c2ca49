//! Redis unreachable: `fail_open_local` decides with this replica's share, `fail_closed`
//! refuses; both switch back to Redis once it answers, and say so once.

use std::time::Duration;

use credgate_authz::testing::RedisServer;
use credgate_ratelimit::{
    FailureMode, Key, Limit, Limiter, LimiterConfig, LimiterError, ManualClock, Mode,
    RedisLimiterConfig, Why,
};

use super::common::{
    clock_at, config, connection, redis_config, redis_limiter_of, until_mode, NOON_SHANGHAI,
};

/// Fires `n` requests at the current (manual) time; counts the allowed ones.
async fn burst(limiter: &Limiter, key: &Key<'_>, limit: &Limit, n: usize) -> usize {
    let mut allowed = 0;
    for _ in 0..n {
        if limiter.check(key, limit).await.unwrap().is_allowed() {
            allowed += 1;
        }
    }
    allowed
}

#[tokio::test]
async fn fail_open_local_allows_this_replicas_share_then_recovers() {
    let mut redis = RedisServer::start().unwrap();
    let clock = clock_at(NOON_SHANGHAI);
    let limiter = redis_limiter_of(&redis.url(), &clock, 2);
    let key = Key::client("bank-nb");
    // Burst 10 at 5/s; the share of one of 2 replicas: burst 5 at 2.5/s (T = 400 ms).
    let limit = Limit::new(5.0, 10);

    assert_eq!(burst(&limiter, &key, &limit, 4).await, 4);
    assert_eq!(limiter.mode(), Mode::Redis);

    redis.stop();
    let shared_key = Key::client("dept-nb");
    assert_eq!(
        burst(&limiter, &shared_key, &limit, 20).await,
        5,
        "the share's burst"
    );
    assert_eq!(limiter.mode(), Mode::FallbackLocal);
    let refused = limiter.check(&shared_key, &limit).await.unwrap();
    assert_eq!(refused.info().why, Some(Why::Rate));
    assert_eq!(
        refused.info().limit,
        limit.share(2),
        "headers state the share in force"
    );
    clock.advance(Duration::from_secs(1));
    // TAT 2.0 s, τ 1.6 s: at 1 s two more pass (earliest 0.4 s, then 0.8 s; 1.2 s is late).
    assert_eq!(
        burst(&limiter, &shared_key, &limit, 10).await,
        2,
        "the share's rate"
    );

    let stats = limiter.stats();
    assert_eq!(stats.mode_switches, 1, "one switch to the fallback");
    assert!(stats.redis_errors >= 1);
    assert!(stats.fallbacks >= 31, "{stats:?}");

    redis.restart().unwrap();
    let recovered = until_mode(&limiter, Mode::Redis, Duration::from_secs(5), || async {
        let _ = limiter.check(&key, &limit).await;
    })
    .await;
    assert_eq!(limiter.stats().mode_switches, 2, "one switch back");
    // Redis restarted empty: the shared state starts over, in Redis.
    clock.advance(Duration::from_secs(10));
    let other = Key::client("peer-hz");
    assert_eq!(
        burst(&limiter, &other, &limit, 15).await,
        10,
        "the full limit again"
    );
    assert!(recovered < Duration::from_secs(5));
}

#[tokio::test]
async fn fail_closed_refuses_to_decide_while_redis_is_down() {
    let mut redis = RedisServer::start().unwrap();
    let clock = clock_at(NOON_SHANGHAI);
    let cfg = RedisLimiterConfig {
        failure_mode: FailureMode::FailClosed,
        ..redis_config(&redis.url())
    };
    let limiter = Limiter::redis(config(&clock), cfg).unwrap();
    let key = Key::client("bank-nb");
    let limit = Limit::new(5.0, 10);
    assert!(limiter.check(&key, &limit).await.unwrap().is_allowed());

    redis.stop();
    for _ in 0..5 {
        let err = limiter.check(&key, &limit).await.unwrap_err();
        assert!(matches!(err, LimiterError::Unavailable) && err.is_unavailable());
    }
    assert_eq!(limiter.mode(), Mode::Closed);
    assert!(matches!(
        limiter.ready().await,
        Err(LimiterError::Unavailable)
    ));
    assert_eq!(limiter.stats().mode_switches, 1);
    assert_eq!(
        limiter.stats().decisions,
        1,
        "refusing to decide is not a decision"
    );

    redis.restart().unwrap();
    until_mode(&limiter, Mode::Redis, Duration::from_secs(5), || async {
        let _ = limiter.check(&key, &limit).await;
    })
    .await;
    assert!(limiter.check(&key, &limit).await.unwrap().is_allowed());
    assert_eq!(limiter.stats().mode_switches, 2);
}

/// With the default retry schedule (250 ms doubling to 750 ms) and the default 50 ms call
/// timeout, on Redis' own clock: limiting is cluster-wide again within 1 s of Redis
/// answering, however long it was down.
#[tokio::test]
async fn shared_limiting_is_back_within_one_second_of_a_restart() {
    let mut redis = RedisServer::start().unwrap();
    let replica = || {
        let cfg = RedisLimiterConfig {
            replicas: 2,
            ..RedisLimiterConfig::new(redis.url())
        };
        Limiter::redis(LimiterConfig::default(), cfg).unwrap()
    };
    let (a, b) = (replica(), replica());
    let key = Key::client("bank-nb");
    let limit = Limit::new(1.0, 10);
    a.ready().await.unwrap();
    assert!(a.check(&key, &limit).await.unwrap().is_allowed());

    redis.stop();
    // Long enough down for the retry interval to reach its maximum (probes at 0.25 s and
    // 0.75 s fail; the next is due at 1.5 s, after the restart).
    let down_until = std::time::Instant::now() + Duration::from_millis(1200);
    while std::time::Instant::now() < down_until {
        let _ = a.check(&key, &limit).await;
        let _ = b.check(&key, &limit).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        (a.mode(), b.mode()),
        (Mode::FallbackLocal, Mode::FallbackLocal)
    );
    // ~100 decisions each while down, but Redis was tried only by the first failure and
    // the spaced probes (250 ms, then 500 ms, then 750 ms apart).
    for limiter in [&a, &b] {
        let stats = limiter.stats();
        eprintln!("while down: {stats:?}");
        assert!(stats.fallbacks >= 50, "{stats:?}");
        assert!((1..=5).contains(&stats.redis_errors), "{stats:?}");
        assert_eq!(stats.mode_switches, 1);
    }

    // Restart while traffic keeps flowing (probes on their own schedule), and measure
    // from the moment Redis answers PING again.
    let restart = tokio::task::spawn_blocking(move || {
        redis.restart().unwrap();
        (redis, std::time::Instant::now())
    });
    let traffic_deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !restart.is_finished() {
        assert!(
            std::time::Instant::now() < traffic_deadline,
            "restart hangs"
        );
        let _ = a.check(&key, &limit).await;
        let _ = b.check(&key, &limit).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (_redis, up_at) = restart.await.unwrap();
    let traffic = || async {
        let _ = a.check(&key, &limit).await;
        let _ = b.check(&key, &limit).await;
    };
    until_mode(&a, Mode::Redis, Duration::from_secs(3), traffic).await;
    let took_a = up_at.elapsed();
    until_mode(&b, Mode::Redis, Duration::from_secs(3), traffic).await;
    let took = up_at.elapsed();
    eprintln!("shared limiting back {took_a:?} / {took:?} after redis-server answered again");
    assert!(took < Duration::from_secs(1), "back after {took:?}");
    // Shared again: 10 requests over both replicas exhaust the one burst of 10.
    let fresh = Key::client("dept-nb");
    let mut allowed = 0;
    for i in 0..14 {
        let limiter = if i % 2 == 0 { &a } else { &b };
        allowed += usize::from(limiter.check(&fresh, &limit).await.unwrap().is_allowed());
    }
    assert!((10..=11).contains(&allowed), "allowed {allowed}");
}

/// Redis restarted while the limiter was idle: its connection is dead, but
/// nothing was sent on it. The first decision after the restart is still
/// Redis's (the dropped connection is replaced within the call), with no
/// Redis error, no fallback and no mode switch.
#[tokio::test]
async fn a_restart_between_two_requests_costs_no_decision() {
    for failure_mode in [FailureMode::FailOpenLocal, FailureMode::FailClosed] {
        let mut redis = RedisServer::start().unwrap();
        let clock = clock_at(NOON_SHANGHAI);
        let cfg = RedisLimiterConfig {
            failure_mode,
            ..redis_config(&redis.url())
        };
        let limiter = Limiter::redis(config(&clock), cfg).unwrap();
        let key = Key::client("bank-nb");
        let limit = Limit::new(5.0, 10);
        assert!(limiter.check(&key, &limit).await.unwrap().is_allowed());
        redis.restart().unwrap();
        let d = limiter.check(&key, &limit).await;
        assert!(
            d.as_ref().is_ok_and(|d| d.is_allowed()),
            "{failure_mode:?}: {d:?}"
        );
        let stats = limiter.stats();
        assert_eq!(limiter.mode(), Mode::Redis, "{failure_mode:?}: {stats:?}");
        assert_eq!(stats.redis_errors, 0, "{failure_mode:?}: {stats:?}");
        assert_eq!(stats.mode_switches, 0, "{failure_mode:?}: {stats:?}");
        assert_eq!(stats.fallbacks, 0, "{failure_mode:?}: {stats:?}");
    }
}

/// A limiter configured as one replica, counted in Redis as `id` (a heartbeat every
/// 50 ms).
fn counted_replica(url: &str, clock: &ManualClock, id: &str) -> Limiter {
    let cfg = RedisLimiterConfig {
        replicas: 1,
        replica_id: id.into(),
        heartbeat_interval: Duration::from_millis(50),
        ..redis_config(url)
    };
    Limiter::redis(config(clock), cfg).unwrap()
}

/// Polls `cond` every 10 ms until it holds, failing after 5 s.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{what}: not within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn the_fallback_share_divides_by_the_replicas_counted_alive() {
    let mut redis = RedisServer::start().unwrap();
    let clock = clock_at(NOON_SHANGHAI);
    // Configured as one replica (an autoscaler added the second): without the count,
    // each would admit the whole limit while Redis is down.
    let replica = |id: &str| counted_replica(&redis.url(), &clock, id);
    let (a, b) = (replica("a"), replica("b"));
    assert_eq!(
        a.replicas(),
        1,
        "the configured number before the first count"
    );
    until("both count two replicas", || {
        a.replicas() == 2 && b.replicas() == 2
    })
    .await;

    redis.stop();
    let key = Key::client("bank-nb");
    // Burst 10: each of the two admits its share, 5.
    let limit = Limit::new(5.0, 10);
    assert_eq!(burst(&a, &key, &limit, 20).await, 5);
    assert_eq!(burst(&b, &key, &limit, 20).await, 5);
    assert_eq!(a.mode(), Mode::FallbackLocal);
    assert_eq!(a.replicas(), 2, "the last count holds while Redis is down");

    // A replica that is gone stops being counted once its entry is older than the
    // window (three intervals).
    redis.restart().unwrap();
    drop(b);
    until("one replica left", || a.replicas() == 1).await;
}

/// A replica that stops gracefully leaves Redis' count at once (and stays
/// out: its heartbeat ends), instead of being counted until its entry ages
/// out; the other counts it gone a window later.
#[tokio::test]
async fn a_replica_that_leaves_is_no_longer_counted() {
    let redis = RedisServer::start().unwrap();
    let clock = clock_at(NOON_SHANGHAI);
    let replica = |id: &str| counted_replica(&redis.url(), &clock, id);
    let (a, b) = (replica("a"), replica("b"));
    until("both count two replicas", || {
        a.replicas() == 2 && b.replicas() == 2
    })
    .await;
    b.leave().await;
    let mut conn = connection(&redis.url()).await;
    let ids: Vec<String> = redis::cmd("ZRANGE")
        .arg("credgate:rl:replicas")
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(ids, ["a"]);
    until("a counts one replica", || a.replicas() == 1).await;
    // b, still alive, never adds itself back.
    for _ in 0..3 {
        let score: Option<f64> = redis::cmd("ZSCORE")
            .arg("credgate:rl:replicas")
            .arg("b")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(score, None);
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
}
