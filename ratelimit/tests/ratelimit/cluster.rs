//! Redis Cluster: every client's keys carry its own hash tag, so clients
//! spread over the cluster's nodes while each decision stays in one slot;
//! two replicas seeded from different nodes hold each client to one limit.

use std::time::Duration;

use credgate_authz::testing::RedisCluster;
use credgate_ratelimit::{Key, Limit, Limiter, LimiterConfig, Mode, RedisLimiterConfig, Verdict};

use super::common::{clock_at, config, redis_config, until_mode, NOON_SHANGHAI};

#[tokio::test]
async fn two_replicas_share_each_clients_limit_across_a_cluster() {
    let cluster = RedisCluster::start(3).unwrap();
    let urls = cluster.urls();
    let replica = |seed: usize| {
        let cfg = RedisLimiterConfig {
            replicas: 2,
            call_timeout: Duration::from_millis(500),
            cluster: true,
            cluster_seeds: urls.iter().filter(|u| **u != urls[seed]).cloned().collect(),
            ..RedisLimiterConfig::new(urls[seed].clone())
        };
        Limiter::redis(LimiterConfig::default(), cfg).unwrap()
    };
    let (a, b) = (replica(0), replica(1));
    a.ready().await.unwrap();
    b.ready().await.unwrap();
    // A burst of 4 that refills once an hour: each client gets exactly 4
    // in all, whichever replica asks, with a daily quota counted too.
    let limit = Limit {
        daily_quota: Some(100),
        ..Limit::new(1.0 / 3600.0, 4)
    };
    // Each request is checked under that scope limit and the client's own
    // (looser) one together: one script over four keys of one slot.
    let own = Limit::new(1000.0, 1000).with_daily_quota(1000);
    let clients: Vec<String> = (0..12).map(|i| format!("client-{i}")).collect();
    for client in &clients {
        let checks = [
            (Key::scoped(client, "enterprise.report"), limit),
            (Key::client(client), own),
        ];
        let mut allowed = 0;
        for i in 0..10 {
            let limiter = if i % 2 == 0 { &a } else { &b };
            match limiter.check_all(&checks).await.unwrap() {
                Verdict::Allowed(_) => allowed += 1,
                Verdict::Limited { index, .. } => assert_eq!(index, 0, "{client}"),
            }
        }
        assert_eq!(allowed, 4, "{client}");
    }
    for limiter in [&a, &b] {
        assert_eq!(limiter.mode(), Mode::Redis);
        let stats = limiter.stats();
        assert_eq!((stats.redis_errors, stats.fallbacks), (0, 0));
        assert_eq!(stats.decisions, 60);
    }
    // The clients' keys are spread over the nodes (12 tags over 3 nodes:
    // all on one would mean the tags were ignored or one slot held all).
    let keys = cluster.keys_per_node().unwrap();
    let nodes_with_keys = keys.iter().filter(|n| **n > 0).count();
    assert_eq!(
        keys.iter().sum::<u64>(),
        48,
        "a GCRA key and a quota key per client and limit"
    );
    assert!(nodes_with_keys >= 2, "keys on {nodes_with_keys} node(s)");
}

/// A limiter built while the whole cluster is down falls back to this
/// replica's share, and decides in Redis again once the cluster is back
/// (rebuilt, empty), without a restart of the limiter.
#[tokio::test]
async fn a_limiter_started_while_the_cluster_is_down_uses_it_once_it_is_up() {
    let mut cluster = RedisCluster::start(3).unwrap();
    let urls = cluster.urls();
    for i in 0..3 {
        cluster.stop_node(i);
    }
    let clock = clock_at(NOON_SHANGHAI);
    let cfg = RedisLimiterConfig {
        replicas: 2,
        cluster: true,
        cluster_seeds: urls[1..].to_vec(),
        ..redis_config(&urls[0])
    };
    let limiter = Limiter::redis(config(&clock), cfg).unwrap();
    let limit = Limit::new(5.0, 10);
    let key = Key::client("bank-nb");
    let mut allowed = 0;
    for _ in 0..20 {
        allowed += usize::from(limiter.check(&key, &limit).await.unwrap().is_allowed());
    }
    assert_eq!(allowed, 5, "the share's burst while the cluster is down");
    assert_eq!(limiter.mode(), Mode::FallbackLocal);

    cluster.restart_all().unwrap();
    let other = Key::client("dept-nb");
    until_mode(&limiter, Mode::Redis, Duration::from_secs(10), || async {
        let _ = limiter.check(&other, &limit).await;
    })
    .await;
    // In Redis now: a fresh client gets the full limit, not the share.
    let fresh = Key::client("peer-hz");
    let mut allowed = 0;
    for _ in 0..15 {
        allowed += usize::from(limiter.check(&fresh, &limit).await.unwrap().is_allowed());
    }
    assert_eq!(allowed, 10, "the full limit again");
    assert_eq!(limiter.mode(), Mode::Redis);
}
