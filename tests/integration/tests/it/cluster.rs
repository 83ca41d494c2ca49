//! Two gateway replicas on a Redis Cluster (`[redis] cluster = true`, SPEC
//! §12 "sharing one Redis (or Redis Cluster)") or behind Redis Sentinel:
//! one rate limit, one use count and one revocation list across both,
//! wherever the slots live and whichever server is the primary.

use credgate_integration::{policy_with_limit, Harness, Options};

const APPROVAL: (&str, &str) = ("x-credit-purpose", "administrative_approval");

/// `/readyz`'s `redis` member.
async fn readyz_redis(h: &Harness) -> serde_json::Value {
    let admin = h.gw().admin_addr.unwrap();
    let (_, body) = credgate_integration::plain(admin, http::Method::GET, "/readyz", None).await;
    serde_json::from_slice::<serde_json::Value>(&body).unwrap()["redis"].clone()
}

#[tokio::test]
async fn two_gateways_share_limits_use_counts_and_revocations_on_a_redis_cluster() {
    let mut cluster = credgate_authz::testing::RedisCluster::start(3)
        .expect("a Redis Cluster of redis-servers (scripts/test installs redis-server)");
    let urls = cluster.urls();
    let seeds = |skip: usize| {
        let list: Vec<String> = urls
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, u)| format!("{:?}", u.trim_end_matches('/')))
            .collect();
        format!("cluster = true\ncluster_seeds = [{}]\n", list.join(", "))
    };
    let opts = |seed: usize, share: Option<std::path::PathBuf>| Options {
        // Four requests in all, refilled once an hour: whichever replica
        // is asked, the fifth is refused.
        policy: Some(policy_with_limit(
            "dept-nb",
            "{ per_second = 0.0003, burst = 4 }",
        )),
        redis_url: Some(urls[seed].clone()),
        redis_extra: seeds(seed),
        toml_extra: "[ratelimit]\nreplicas = 2\nredis_failure_mode = \"fail_closed\"".into(),
        share_dir_with: share,
        ..Options::default()
    };
    // Seeded from different nodes.
    let a = Harness::start_with(opts(0, None)).await;
    let b = Harness::start_with(opts(2, Some(a.dir.path().to_owned()))).await;
    let nb = a.enterprise_of("xinyong-ningbo");
    let report = format!("/v1/enterprises/{nb}/report?sections=basic");

    let (da, db) = (a.client("dept-nb"), b.client("dept-nb"));
    let mut statuses = Vec::new();
    for i in 0..8 {
        let c = if i % 2 == 0 { &da } else { &db };
        statuses.push(c.get(&report, &[APPROVAL]).await.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429, 429, 429]);
    for h in [&a, &b] {
        assert_eq!(
            readyz_redis(h).await,
            serde_json::json!({ "topology": "cluster", "reachable": true })
        );
    }

    // Use counts and a revocation, through the cluster client too.
    let mut revoke_via = credgate_authz::RedisOptions::new(urls[1].clone());
    revoke_via.cluster = true;
    credgate_integration::assert_replicas_share_authz_state(&a, &b, revoke_via).await;

    // The node holding the authorization state dies: checks that need it
    // fail closed (503) on both replicas, within the call timeout, never
    // open and never hanging.
    let holder = cluster.node_of("credgate:{authz}:uses:x").unwrap();
    assert!(cluster.keys_per_node().unwrap()[holder] > 0);
    cluster.stop_node(holder);
    let fresh = a.token(&nb, "bank-nb", "enterprise.report", "loan_underwriting");
    for h in [&a, &b] {
        let started = std::time::Instant::now();
        let r = h
            .client("bank-nb")
            .get(
                &report,
                &[
                    ("x-credit-purpose", "loan_underwriting"),
                    ("x-credit-authorization", &fresh),
                ],
            )
            .await;
        assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}

/// Two gateway replicas finding the primary through Redis Sentinel
/// (`[redis] sentinel_master`, `sentinels`): one rate limit across both;
/// the primary dies, the Sentinel promotes its replica, and both replicas
/// carry on against the new primary with the state written before.
#[tokio::test]
async fn two_gateways_follow_a_sentinel_failover_with_their_shared_state() {
    use credgate_authz::testing::RedisSentinel;
    let mut set_up = RedisSentinel::start()
        .expect("a primary, a replica and a Sentinel (scripts/test installs redis-server)");
    let extra = format!(
        "sentinel_master = {:?}\nsentinels = [{:?}]\n",
        RedisSentinel::MASTER,
        set_up.sentinel_url()
    );
    let opts = |share: Option<std::path::PathBuf>| Options {
        policy: Some(policy_with_limit(
            "dept-nb",
            "{ per_second = 0.0003, burst = 4 }",
        )),
        redis_url: Some(set_up.primary_url()),
        redis_extra: extra.clone(),
        toml_extra: "[ratelimit]\nreplicas = 2\nredis_failure_mode = \"fail_closed\"".into(),
        share_dir_with: share,
        ..Options::default()
    };
    let a = Harness::start_with(opts(None)).await;
    let b = Harness::start_with(opts(Some(a.dir.path().to_owned()))).await;
    let nb = a.enterprise_of("xinyong-ningbo");
    let report = format!("/v1/enterprises/{nb}/report?sections=basic");
    let (da, db) = (a.client("dept-nb"), b.client("dept-nb"));
    let mut statuses = Vec::new();
    for i in 0..6 {
        let c = if i % 2 == 0 { &da } else { &db };
        statuses.push(c.get(&report, &[APPROVAL]).await.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429]);
    assert_eq!(
        readyz_redis(&a).await,
        serde_json::json!({ "topology": "sentinel", "reachable": true })
    );
    // The limit's state reaches the replica, then the primary dies.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while set_up.keys().1 == 0 || set_up.keys().0 != set_up.keys().1 {
        assert!(std::time::Instant::now() < deadline, "{:?}", set_up.keys());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    set_up.fail_over().unwrap();
    // Both replicas reach the new primary (bounded) and it kept the limit:
    // still refused, now by the limit rather than for want of Redis.
    for c in [&da, &db] {
        let report = report.clone();
        credgate_integration::eventually("a decision on the new primary", async || {
            c.get(&report, &[APPROVAL]).await.status.as_u16() == 429
        })
        .await;
    }
    let mut revoke_via = credgate_authz::RedisOptions::new(set_up.primary_url());
    revoke_via.sentinel = Some(credgate_redisconn::SentinelTarget {
        master: RedisSentinel::MASTER.to_owned(),
        sentinels: vec![set_up.sentinel_url()],
        password: None,
    });
    credgate_integration::assert_replicas_share_authz_state(&a, &b, revoke_via).await;
}
