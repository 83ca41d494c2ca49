//! Redis Cluster: every client's keys carry its own hash tag, so clients
//! spread over the cluster's nodes while each decision stays in one slot;
//! two replicas seeded from different nodes hold each client to one limit.

use std::time::Duration;

use credgate_authz::testing::RedisCluster;
use credgate_ratelimit::{Key, Limit, Limiter, LimiterConfig, Mode, RedisLimiterConfig};

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
    let clients: Vec<String> = (0..12).map(|i| format!("client-{i}")).collect();
    for client in &clients {
        let key = Key::scoped(client, "enterprise.report");
        let mut allowed = 0;
        for i in 0..10 {
            let limiter = if i % 2 == 0 { &a } else { &b };
            if limiter.check(&key, &limit).await.unwrap().is_allowed() {
                allowed += 1;
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
        24,
        "a GCRA key and a quota key per client"
    );
    assert!(nodes_with_keys >= 2, "keys on {nodes_with_keys} node(s)");
}
