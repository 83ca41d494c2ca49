//! Two gateway replicas on a Redis Cluster (`[redis] cluster = true`, SPEC
//! §12 "sharing one Redis (or Redis Cluster)"): one rate limit, one use
//! count and one revocation list across both, wherever the slots live.

use std::time::Duration;

use credgate_authz::AuthzState as _;
use credgate_integration::{policy_with_limit, Harness, Options};

const APPROVAL: (&str, &str) = ("x-credit-purpose", "administrative_approval");
const LOAN: (&str, &str) = ("x-credit-purpose", "loan_underwriting");

fn auth(token: &str) -> (&'static str, &str) {
    ("x-credit-authorization", token)
}

#[tokio::test]
async fn two_gateways_share_limits_use_counts_and_revocations_on_a_redis_cluster() {
    let cluster = credgate_authz::testing::RedisCluster::start(3)
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

    // Use counts: max_uses = 2, one use on each replica, the third fails.
    let twice = a.token_with(
        &nb,
        "bank-nb",
        &["enterprise.report"],
        "loan_underwriting",
        Some(2),
        0,
        3600,
    );
    for gw in [&a, &b] {
        let r = gw
            .client("bank-nb")
            .get(&report, &[LOAN, auth(&twice)])
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let r = b
        .client("bank-nb")
        .get(&report, &[LOAN, auth(&twice)])
        .await;
    assert_eq!(r.code(), "authorization_exhausted");

    // A revocation written through the cluster is seen by both replicas.
    let token = a.token(&nb, "bank-nb", "enterprise.report", "loan_underwriting");
    assert_eq!(
        b.client("bank-nb")
            .get(&report, &[LOAN, auth(&token)])
            .await
            .status,
        200
    );
    let mut o = credgate_authz::RedisOptions::new(urls[1].clone());
    o.cluster = true;
    o.call_timeout = Duration::from_secs(2);
    let state = credgate_authz::RedisState::new(&o).unwrap();
    let jti = credgate_integration::jti_of(&token);
    let tomorrow = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 86_400;
    state.revoke(&jti, tomorrow).await.unwrap();
    for gw in [&a, &b] {
        let r = gw
            .client("bank-nb")
            .get(&report, &[LOAN, auth(&token)])
            .await;
        assert_eq!(r.code(), "authorization_revoked");
    }
}
