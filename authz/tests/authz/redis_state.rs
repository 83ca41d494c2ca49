//! The Redis backend against a real `redis-server` (started by `testing::RedisServer`;
//! the test fails with an install hint when it is missing).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use credgate_authz::state::redis::{revoked_key, uses_key};
use credgate_authz::testing::RedisServer;
use credgate_authz::{
    enforce, AuthzError, AuthzState as _, RedisOptions, RedisState, StateBackend, StateError,
    UseOutcome,
};

use super::common::*;

fn client(server: &RedisServer) -> RedisState {
    RedisState::new(&RedisOptions::new(server.url())).unwrap()
}

fn used(outcome: UseOutcome) -> Option<u32> {
    match outcome {
        UseOutcome::Reserved(r) => Some(r.used),
        UseOutcome::Exhausted => None,
    }
}

/// After a failover: polls (bounded) until `state` answers again, and
/// checks `jti` is still revoked.
async fn assert_revoked_after_failover(state: &RedisState, jti: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match state.is_revoked(jti).await {
            Ok(revoked) => {
                assert!(revoked, "the revocation survived the failover");
                return;
            }
            Err(_) => {
                assert!(Instant::now() < deadline, "no answer after the failover");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Through a Sentinel set-up holding the revocation `jti` and one use of
/// `uses`: waits (bounded) until the replica has both keys, kills the
/// primary, and checks that `state` follows the failover with both intact.
async fn sentinel_failover_keeps_state(
    set_up: &mut credgate_authz::testing::RedisSentinel,
    state: &RedisState,
    jti: &str,
    uses: &str,
    exp: i64,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while set_up.keys() != (2, 2) {
        assert!(
            Instant::now() < deadline,
            "the replica never caught up: {:?}",
            set_up.keys()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    set_up.fail_over().unwrap();
    assert_revoked_after_failover(state, jti).await;
    assert_eq!(
        used(state.reserve_use(uses, 5, exp).await.unwrap()),
        Some(2),
        "written to the new primary"
    );
    assert_eq!(set_up.keys().1, 2);
}

/// Polls (bounded) until `state` answers `PING`.
async fn wait_until_reachable(state: &RedisState) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while state.ping().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "Redis not reachable again within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn ttl(server: &RedisServer, key: &str) -> i64 {
    let mut conn = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("TTL")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn two_clients_share_revocations_and_use_counts() {
    let server = RedisServer::start().unwrap();
    let (a, b) = (client(&server), client(&server));
    let exp = unix_now() + 600;

    assert!(!b.is_revoked("shared-1").await.unwrap());
    a.revoke("shared-1", exp).await.unwrap();
    assert!(b.is_revoked("shared-1").await.unwrap());
    let revoked_ttl = ttl(&server, &revoked_key("shared-1")).await;
    assert!((600..=600 + 3600).contains(&revoked_ttl), "{revoked_ttl}");

    assert_eq!(
        used(a.reserve_use("uses-1", 2, exp).await.unwrap()),
        Some(1)
    );
    assert_eq!(
        used(b.reserve_use("uses-1", 2, exp).await.unwrap()),
        Some(2)
    );
    assert_eq!(used(a.reserve_use("uses-1", 2, exp).await.unwrap()), None);
    assert_eq!(b.uses("uses-1").await.unwrap(), 2);
    b.release_use("uses-1").await.unwrap();
    assert_eq!(
        used(a.reserve_use("uses-1", 2, exp).await.unwrap()),
        Some(2)
    );
    let uses_ttl = ttl(&server, &uses_key("uses-1")).await;
    assert!((600..=600 + 3600).contains(&uses_ttl), "{uses_ttl}");

    // Release never goes below zero, and does not create counters.
    for _ in 0..5 {
        a.release_use("uses-1").await.unwrap();
    }
    assert_eq!(a.uses("uses-1").await.unwrap(), 0);
    a.release_use("never-used").await.unwrap();
    assert_eq!(ttl(&server, &uses_key("never-used")).await, -2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reservations_are_exact() {
    let server = RedisServer::start().unwrap();
    let clients = [client(&server), client(&server)];
    let exp = unix_now() + 600;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let c = clients[i % 2].clone();
            tokio::spawn(async move { c.reserve_use("race", 10, exp).await })
        })
        .collect();
    let mut counts = HashSet::new();
    let mut exhausted = 0;
    for t in tasks {
        match used(t.await.unwrap().unwrap()) {
            Some(n) => assert!(counts.insert(n)),
            None => exhausted += 1,
        }
    }
    assert_eq!(counts, (1..=10).collect());
    assert_eq!(exhausted, 40);
    assert_eq!(clients[0].uses("race").await.unwrap(), 10);
}

#[tokio::test]
async fn enforce_through_redis() {
    let server = RedisServer::start().unwrap();
    let state = StateBackend::Redis(client(&server));
    let exp = unix_now() + 600;
    let limited = authorization("enf-1", Some(1), exp);
    let reservation = enforce(&limited, &state).await.unwrap().unwrap();
    assert_eq!(enforce(&limited, &state).await, Err(AuthzError::Exhausted));
    state.release_use(&reservation.key).await.unwrap();
    assert!(enforce(&limited, &state).await.unwrap().is_some());
    let unlimited = authorization("enf-2", None, exp);
    assert_eq!(enforce(&unlimited, &state).await, Ok(None));
    state.revoke("enf-2", exp).await.unwrap();
    assert_eq!(enforce(&unlimited, &state).await, Err(AuthzError::Revoked));
}

#[tokio::test]
async fn fails_closed_when_redis_dies_and_recovers_when_it_is_back() {
    let mut server = RedisServer::start().unwrap();
    let state = client(&server);
    let exp = unix_now() + 600;
    assert!(!state.is_revoked("life").await.unwrap());

    server.stop();
    let backend = StateBackend::Redis(state.clone());
    let auth = authorization("life", Some(3), exp);
    for _ in 0..3 {
        let start = Instant::now();
        assert_eq!(enforce(&auth, &backend).await, Err(AuthzError::Unavailable));
        assert!(state.reserve_use("life", 3, exp).await.is_err());
        assert!(state.revoke("life", exp).await.is_err());
        // Bounded by the 200 ms per-call timeout (three calls, plus scheduling slack).
        assert!(
            start.elapsed() < Duration::from_millis(1500),
            "{:?}",
            start.elapsed()
        );
    }

    server.restart().unwrap();
    wait_until_reachable(&state).await;
    assert_eq!(
        used(state.reserve_use("life", 3, exp).await.unwrap()),
        Some(1)
    );
    state.revoke("life", exp).await.unwrap();
    assert!(state.is_revoked("life").await.unwrap());
}

#[tokio::test]
async fn a_redis_that_never_answers_times_out_per_call() {
    // Accepts TCP connections (kernel backlog) but never speaks.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}/", silent.local_addr().unwrap());
    let state = RedisState::new(&RedisOptions {
        call_timeout: Duration::from_millis(200),
        ..RedisOptions::new(url)
    })
    .unwrap();
    let start = Instant::now();
    let err = state.is_revoked("x").await.unwrap_err();
    let elapsed = start.elapsed();
    assert!(
        matches!(err, StateError::Timeout | StateError::Unavailable(_)),
        "{err:?}"
    );
    assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
    assert_eq!(
        enforce(
            &authorization("x", None, unix_now() + 60),
            &StateBackend::Redis(state)
        )
        .await,
        Err(AuthzError::Unavailable)
    );
}

#[tokio::test]
async fn nothing_listening_is_unavailable_not_a_hang() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let state = RedisState::new(&RedisOptions::new(format!("redis://127.0.0.1:{port}/"))).unwrap();
    let start = Instant::now();
    assert!(state.ping().await.is_err());
    assert!(start.elapsed() < Duration::from_millis(1000));
}

/// Redis restarted while this replica was idle: the shared connection is
/// dead, but the first calls after the restart still get answers (the
/// dropped connection is replaced within the call), so a request arriving
/// then is not refused with 503.
#[tokio::test]
async fn a_restart_between_two_requests_is_not_an_outage() {
    let mut server = RedisServer::start().unwrap();
    let state = client(&server);
    let exp = unix_now() + 600;
    assert!(!state.is_revoked("idle-1").await.unwrap());
    server.restart().unwrap();
    assert_eq!(state.is_revoked("idle-1").await, Ok(false));
    server.restart().unwrap();
    assert_eq!(
        used(state.reserve_use("idle-1", 3, exp).await.unwrap()),
        Some(1)
    );
    server.restart().unwrap();
    state.revoke("idle-1", exp).await.unwrap();
    assert!(state.is_revoked("idle-1").await.unwrap());
}

/// Redis Cluster: two replicas' states reach the `{authz}` slot's node
/// through the cluster client, wherever it lives, and share revocations
/// and use counts as on one server.
#[tokio::test]
async fn two_clients_share_revocations_and_use_counts_on_a_redis_cluster() {
    let cluster = credgate_authz::testing::RedisCluster::start(3).unwrap();
    let urls = cluster.urls();
    let state = |seed: usize| {
        let mut o = RedisOptions::new(urls[seed].clone());
        o.cluster = true;
        o.cluster_seeds = urls.iter().filter(|u| **u != urls[seed]).cloned().collect();
        RedisState::new(&o).unwrap()
    };
    // Seeded from different nodes: at most one of them holds the slot, so
    // at least one client must follow the slot map.
    let (a, b) = (state(0), state(2));
    wait_until_reachable(&a).await;
    let exp = unix_now() + 600;
    assert!(!b.is_revoked("cluster-1").await.unwrap());
    a.revoke("cluster-1", exp).await.unwrap();
    assert!(b.is_revoked("cluster-1").await.unwrap());
    let mut counts = Vec::new();
    for (i, s) in [&a, &b, &a, &b].into_iter().enumerate() {
        counts.push(used(s.reserve_use("cluster-uses", 3, exp).await.unwrap()));
        assert_eq!(s.uses("cluster-uses").await.unwrap(), (i + 1).min(3) as u32);
    }
    assert_eq!(counts, vec![Some(1), Some(2), Some(3), None]);
    b.release_use("cluster-uses").await.unwrap();
    assert_eq!(a.uses("cluster-uses").await.unwrap(), 2);
    // The keys live on exactly one node: the one owning the slot of `{authz}`.
    let mut keys = cluster.keys_per_node().unwrap();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [0, 0, 2],
        "the revocation and the counter, on one node"
    );
}

/// A Redis Cluster over TLS (`rediss://` seeds, `tls-cluster yes`): the
/// cluster client verifies every node it discovers against the CA and
/// shares state as over plain TCP; with another CA it reaches nothing.
#[tokio::test]
async fn a_redis_cluster_over_tls_is_verified_and_shared() {
    let pki = tempfile::tempdir().unwrap();
    let certs = credgate_authz::testing::dev_pki(pki.path()).unwrap();
    let cluster = credgate_authz::testing::RedisCluster::start_tls(
        3,
        credgate_authz::testing::TlsFiles::dev(&certs, "ca.crt", false),
        (
            certs.join("clients/dept-nb.crt"),
            certs.join("clients/dept-nb.key"),
        ),
    )
    .unwrap();
    let urls = cluster.tls_urls();
    assert_eq!(urls.len(), 3);
    let state = |ca: &str| {
        let mut o = RedisOptions::new(urls[0].clone());
        o.cluster = true;
        o.cluster_seeds = urls[1..].to_vec();
        o.call_timeout = Duration::from_secs(2);
        o.tls = Some(redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(std::fs::read(certs.join(ca)).unwrap()),
        });
        RedisState::new(&o).unwrap()
    };
    let (a, b) = (state("ca.crt"), state("ca.crt"));
    wait_until_reachable(&a).await;
    let exp = unix_now() + 600;
    a.revoke("tls-cluster-1", exp).await.unwrap();
    assert!(b.is_revoked("tls-cluster-1").await.unwrap());
    assert_eq!(
        used(b.reserve_use("tls-uses", 1, exp).await.unwrap()),
        Some(1)
    );
    assert_eq!(used(a.reserve_use("tls-uses", 1, exp).await.unwrap()), None);
    let keys = cluster.keys_per_node().unwrap();
    assert_eq!(keys.iter().sum::<u64>(), 2);
    // Another CA: no node is trusted, the state fails (closed), never open.
    let rogue = state("rogue/ca.crt");
    assert!(rogue.is_revoked("tls-cluster-1").await.is_err());
}

/// A cluster primary dies: its replica is promoted, the cluster client
/// follows the new slot map, and the revocations and use counts written
/// before the failover are still there.
#[tokio::test]
async fn a_cluster_failover_keeps_revocations_and_use_counts() {
    let mut cluster = credgate_authz::testing::RedisCluster::start_with_replicas(3).unwrap();
    let urls = cluster.urls();
    let mut o = RedisOptions::new(urls[0].clone());
    o.cluster = true;
    o.cluster_seeds = urls[1..].to_vec();
    let state = RedisState::new(&o).unwrap();
    wait_until_reachable(&state).await;
    let exp = unix_now() + 600;
    state.revoke("failover-1", exp).await.unwrap();
    assert_eq!(
        used(state.reserve_use("failover-uses", 5, exp).await.unwrap()),
        Some(1)
    );
    let holder = cluster.node_of("credgate:{authz}:x").unwrap();
    // Replication is asynchronous: wait until the replica has both keys.
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.keys_per_node().unwrap()[3 + holder] < 2 {
        assert!(Instant::now() < deadline, "the replica never caught up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.fail_over(holder).unwrap();
    // The client learns the new primary (bounded), and the state is intact.
    assert_revoked_after_failover(&state, "failover-1").await;
    assert_eq!(
        used(state.reserve_use("failover-uses", 5, exp).await.unwrap()),
        Some(2)
    );
}

/// Redis Sentinel: the state finds the primary through the Sentinel, and
/// after the primary dies and the Sentinel promotes its replica, the same
/// state reaches the new primary with the revocations and use counts
/// written before.
#[tokio::test]
async fn through_sentinel_a_failover_keeps_revocations_and_use_counts() {
    use credgate_authz::testing::RedisSentinel;
    let mut set_up = RedisSentinel::start().unwrap();
    let mut o = RedisOptions::new(set_up.primary_url());
    o.sentinel = Some(credgate_redisconn::SentinelTarget {
        master: RedisSentinel::MASTER.to_owned(),
        sentinels: vec![set_up.sentinel_url()],
        password: None,
    });
    let state = RedisState::new(&o).unwrap();
    wait_until_reachable(&state).await;
    let exp = unix_now() + 600;
    state.revoke("sentinel-1", exp).await.unwrap();
    assert_eq!(
        used(state.reserve_use("sentinel-uses", 5, exp).await.unwrap()),
        Some(1)
    );
    sentinel_failover_keeps_state(&mut set_up, &state, "sentinel-1", "sentinel-uses", exp).await;
}

/// A Sentinel that requires a password is reached with it (from
/// `SentinelTarget::password`), and without it nothing is reached: the
/// state fails (closed), never open.
#[tokio::test]
async fn a_sentinel_requiring_a_password_is_reached_only_with_it() {
    use credgate_authz::testing::RedisSentinel;
    let set_up = RedisSentinel::start_with_sentinel_password("s3ntinel").unwrap();
    let state = |password: Option<&str>| {
        let mut o = RedisOptions::new(set_up.primary_url());
        o.call_timeout = Duration::from_secs(2);
        o.sentinel = Some(credgate_redisconn::SentinelTarget {
            master: RedisSentinel::MASTER.to_owned(),
            sentinels: vec![set_up.sentinel_url()],
            password: password.map(str::to_owned),
        });
        RedisState::new(&o).unwrap()
    };
    let with = state(Some("s3ntinel"));
    wait_until_reachable(&with).await;
    with.revoke("sentinel-pw-1", unix_now() + 600)
        .await
        .unwrap();
    assert!(with.is_revoked("sentinel-pw-1").await.unwrap());
    let without = state(None);
    assert!(without.is_revoked("sentinel-pw-1").await.is_err());
}

/// Redis Sentinel over TLS (`rediss://` Sentinel and primary template,
/// every server requiring a client certificate): the state asks the
/// Sentinel over TLS, reaches the primary it names on its TLS port
/// (verified against the CA, presenting the client certificate), follows
/// a failover to the promoted replica's TLS port, and with another CA
/// reaches nothing: it fails (closed), never open.
#[tokio::test]
async fn through_sentinel_over_tls_a_failover_is_followed_and_verified() {
    use credgate_authz::testing::{RedisSentinel, TlsFiles};
    let pki = tempfile::tempdir().unwrap();
    let certs = credgate_authz::testing::dev_pki(pki.path()).unwrap();
    let mut set_up = RedisSentinel::start_tls(
        TlsFiles::dev(&certs, "ca.crt", true),
        (
            certs.join("clients/dept-nb.crt"),
            certs.join("clients/dept-nb.key"),
        ),
    )
    .unwrap();
    let state = |ca: &str| {
        let mut o = RedisOptions::new(set_up.primary_tls_url().unwrap());
        o.call_timeout = Duration::from_secs(2);
        o.sentinel = Some(credgate_redisconn::SentinelTarget {
            master: RedisSentinel::MASTER.to_owned(),
            sentinels: vec![set_up.sentinel_tls_url().unwrap()],
            password: None,
        });
        o.tls = Some(redis::TlsCertificates {
            client_tls: Some(redis::ClientTlsConfig {
                client_cert: std::fs::read(certs.join("clients/bank-nb.crt")).unwrap(),
                client_key: std::fs::read(certs.join("clients/bank-nb.key")).unwrap(),
            }),
            root_cert: Some(std::fs::read(certs.join(ca)).unwrap()),
        });
        RedisState::new(&o).unwrap()
    };
    let trusted = state("ca.crt");
    wait_until_reachable(&trusted).await;
    let exp = unix_now() + 600;
    trusted.revoke("sentinel-tls-1", exp).await.unwrap();
    assert_eq!(
        used(
            trusted
                .reserve_use("sentinel-tls-uses", 5, exp)
                .await
                .unwrap()
        ),
        Some(1)
    );
    assert_eq!(set_up.keys().0, 2, "written to the primary");
    let rogue = state("rogue/ca.crt");
    assert!(rogue.is_revoked("sentinel-tls-1").await.is_err());
    sentinel_failover_keeps_state(
        &mut set_up,
        &trusted,
        "sentinel-tls-1",
        "sentinel-tls-uses",
        exp,
    )
    .await;
    assert!(rogue.is_revoked("sentinel-tls-1").await.is_err());
}
