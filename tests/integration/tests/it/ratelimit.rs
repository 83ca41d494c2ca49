//! Rate limits and quotas through the gateway (SPEC §9): headers on every
//! answer, 429 with `Retry-After`, refusals audited and never forwarded,
//! one limit across two replicas through Redis, the Redis failure modes,
//! and the daily quota's reset at the next day start (UTC+8).

use credgate_integration::{eventually, policy_with_limit, Harness, Options};
use std::time::{Duration, Instant};

const APPROVAL: (&str, &str) = ("x-credit-purpose", "administrative_approval");

/// `policy` with a client × scope limit on dept-nb's sanctions checks that
/// one request spends (one per 100 s).
fn with_spent_sanctions_scope(policy: &str) -> String {
    with_sanctions_scope_limit(policy, "{ per_second = 0.01, burst = 1 }")
}

/// `policy` with the client × scope limit `limit` on dept-nb's sanctions
/// checks.
fn with_sanctions_scope_limit(policy: &str, limit: &str) -> String {
    let grant = "  scope = \"sanctions.check\"\n  purposes = [\"administrative_approval\"]\n";
    let out = policy.replacen(grant, &format!("{grant}  rate_limit = {limit}\n"), 1);
    assert_ne!(out, policy);
    out
}

/// A header of `r` as text (it must be there).
fn field(r: &credgate_integration::Reply, name: &str) -> String {
    r.headers[name].to_str().unwrap().to_owned()
}

/// A sanctions check body naming one Ningbo enterprise.
/// A gateway on `policy`, the department's client and a one-subject
/// sanctions body.
async fn dept_sanctions(policy: String) -> (Harness, credgate_integration::TestClient, String) {
    dept_sanctions_with(Options {
        policy: Some(policy),
        ..Options::default()
    })
    .await
}

/// [`dept_sanctions`] on a gateway started with `opts`.
async fn dept_sanctions_with(opts: Options) -> (Harness, credgate_integration::TestClient, String) {
    let h = Harness::start_with(opts).await;
    let (dept, body) = (h.client("dept-nb"), one_subject_batch(&h));
    (h, dept, body)
}

fn one_subject_batch(h: &Harness) -> String {
    format!(
        "{{\"subjects\": [\"{}\"]}}",
        h.enterprise_of("xinyong-ningbo")
    )
}

fn path(h: &Harness) -> String {
    format!(
        "/v1/enterprises/{}/report?sections=basic",
        h.enterprise_of("xinyong-ningbo")
    )
}

#[tokio::test]
async fn burst_then_429_with_retry_after_and_headers_and_no_upstream_call() {
    let h = Harness::start_with(Options {
        policy: Some(policy_with_limit(
            "dept-nb",
            "{ per_second = 0.5, burst = 3 }",
        )),
        ..Options::default()
    })
    .await;
    let dept = h.client("dept-nb");
    let p = path(&h);
    let mut statuses = Vec::new();
    let mut last = None;
    // The last three are refused by the limit before anything else; their
    // records still name the endpoint and the purpose — a purpose only
    // when the policy knows it (a header is free text).
    let id_like = ("x-credit-purpose", "330203199001015830");
    let asks = [
        (p.as_str(), APPROVAL),
        (p.as_str(), APPROVAL),
        (p.as_str(), APPROVAL),
        (p.as_str(), APPROVAL),
        (p.as_str(), id_like),
        ("/v1/nowhere", APPROVAL),
    ];
    for (p, purpose) in asks {
        let r = dept.get(p, &[purpose]).await;
        assert!(
            r.headers.contains_key("ratelimit-policy"),
            "on every answer"
        );
        assert!(r.headers.contains_key("ratelimit"));
        statuses.push(r.status.as_u16());
        last = Some(r);
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429, 429]);
    let r = last.unwrap();
    assert_eq!(r.code(), "rate_limited");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        (1..=2).contains(&retry),
        "next token in ≤ 2 s at 0.5/s: {retry}"
    );
    assert_eq!(
        h.sim_requests("xinyong-ningbo").await.len(),
        3,
        "refusals never reach a platform"
    );
    // Refusals are audited.
    let recs = h.audit_records("client=dept-nb&decision=deny").await;
    let denied: Vec<(&str, &str, &str)> = recs
        .iter()
        .map(|r| {
            (
                r["reason"].as_str().unwrap(),
                r["endpoint"].as_str().unwrap(),
                r["purpose"].as_str().unwrap(),
            )
        })
        .collect();
    // Newest first.
    assert_eq!(
        denied,
        vec![
            ("rate_limited", "-", "administrative_approval"),
            ("rate_limited", "/v1/enterprises/{uscc}/report", "(unknown)"),
            (
                "rate_limited",
                "/v1/enterprises/{uscc}/report",
                "administrative_approval"
            ),
        ]
    );
}

#[tokio::test]
async fn daily_quota_exhaustion_points_to_the_next_day_start() {
    let h = Harness::start_with(Options {
        policy: Some(policy_with_limit(
            "dept-nb",
            "{ per_second = 1000, burst = 1000, daily_quota = 2 }",
        )),
        ..Options::default()
    })
    .await;
    let dept = h.client("dept-nb");
    let p = path(&h);
    assert_eq!(dept.get(&p, &[APPROVAL]).await.status, 200);
    assert_eq!(dept.get(&p, &[APPROVAL]).await.status, 200);
    let r = dept.get(&p, &[APPROVAL]).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (429, "rate_limited")
    );
    let retry: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let shanghai = now + 8 * 3600;
    let to_midnight = 86_400 - shanghai.rem_euclid(86_400);
    assert!(
        (retry - to_midnight).abs() <= 2,
        "Retry-After {retry} vs {to_midnight} s to midnight (UTC+8)"
    );
}

#[tokio::test]
async fn two_replicas_share_one_limit_through_redis_and_fail_as_configured() {
    let mut redis = credgate_authz::testing::RedisServer::start()
        .expect("redis-server (scripts/test installs it)");
    let limit = "{ per_second = 5, burst = 5 }";
    let opts = |extra: &str, share: Option<std::path::PathBuf>| Options {
        policy: Some(policy_with_limit("dept-nb", limit)),
        redis_url: Some(redis.url()),
        toml_extra: extra.to_owned(),
        share_dir_with: share,
        ..Options::default()
    };
    // A is configured as if alone (an autoscaler added B): its share
    // while Redis is down comes from the replicas counted alive in Redis.
    let a = Harness::start_with(opts(
        "[ratelimit]\nreplicas = 1\nredis_failure_mode = \"fail_open_local\"",
        None,
    ))
    .await;
    let b = Harness::start_with(opts(
        "[ratelimit]\nreplicas = 2\nredis_failure_mode = \"fail_closed\"",
        Some(a.dir.path().to_owned()),
    ))
    .await;
    let p = path(&a);
    let (ca, cb) = (a.client("dept-nb"), b.client("dept-nb"));
    // Together: burst 5 plus 5/s, whichever replica is asked.
    let started = Instant::now();
    let mut allowed = 0;
    for i in 0..30 {
        let c = if i % 2 == 0 { &ca } else { &cb };
        if c.get(&p, &[APPROVAL]).await.status == 200 {
            allowed += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let expected = 5.0 + 5.0 * elapsed;
    assert!(
        (allowed as f64) <= expected + 5.0 && allowed >= 5,
        "allowed {allowed} over {elapsed:.2}s; one limit would allow ≈ {expected:.1} (± one burst)"
    );
    eventually("A counts two replicas", async || {
        a.metrics_text()
            .await
            .contains("credgate_ratelimit_replicas 2\n")
    })
    .await;
    // Redis gone: A falls back to its share (half: two replicas counted),
    // B refuses with 503.
    redis.stop();
    let mut a_ok = 0;
    for _ in 0..10 {
        if ca.get(&p, &[APPROVAL]).await.status == 200 {
            a_ok += 1;
        }
    }
    assert!(
        (1..=4).contains(&a_ok),
        "fail_open_local allows this replica's share: {a_ok}"
    );
    let r = cb.get(&p, &[APPROVAL]).await;
    assert_eq!(
        r.status,
        503,
        "fail_closed: {}",
        String::from_utf8_lossy(&r.body)
    );
    // Redis back: shared limiting again within a second.
    redis.restart().unwrap();
    let back = Instant::now();
    loop {
        let r = cb.get(&p, &[APPROVAL]).await;
        if r.status != 503 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(1),
            "not restored within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A client × scope limit is checked before the client's own and before
/// the request shape (SPEC §4: the rate limit comes first once the
/// certificate identified the client): a spent scope limit answers 429 even
/// to a malformed request. Both limits show in the RateLimit fields, the
/// scope's under its own names.
#[tokio::test]
async fn a_scope_limit_comes_before_the_request_shape_and_shares_the_fields() {
    let policy = with_spent_sanctions_scope(credgate_policy::DEMO_POLICY);
    let h = Harness::start_with(Options {
        policy: Some(policy),
        ..Options::default()
    })
    .await;
    let dept = h.client("dept-nb");
    let json = ("content-type", "application/json");
    let uscc = h.enterprise_of("xinyong-ningbo");
    let body = format!("{{\"subjects\": [\"{uscc}\"]}}");
    let r = dept
        .post("/v1/sanctions/check", &[APPROVAL, json], body.clone())
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        field(&r, "ratelimit-policy"),
        "\"sanctions.check/burst\";q=1;w=100, \"burst\";q=100;w=2"
    );
    assert!(
        field(&r, "ratelimit").starts_with("\"sanctions.check/burst\";r=0;"),
        "{}",
        field(&r, "ratelimit")
    );
    // The scope's limit is spent: a malformed body and a missing purpose
    // are refused for the rate, not for their shape.
    for (headers, body) in [
        (vec![APPROVAL, json], "{".to_owned()),
        (vec![json], body.clone()),
        (vec![APPROVAL, json], body.clone()),
    ] {
        let r = dept
            .post("/v1/sanctions/check", &headers, body.clone())
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code().as_str()),
            (429, "rate_limited"),
            "{body}"
        );
        let retry: u64 = field(&r, "retry-after").parse().unwrap();
        assert!((90..=100).contains(&retry), "Retry-After {retry}");
    }
    // Another scope of the same client is not limited by it.
    let r = dept
        .get(
            &format!("/v1/enterprises/{uscc}/report?sections=basic"),
            &[APPROVAL],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(field(&r, "ratelimit-policy"), "\"burst\";q=100;w=2");
}

/// A request its scope's limit refuses spends nothing of the client's own
/// limit: a retry loop on one scope must not use up the daily quota that
/// every other scope of the client shares.
#[tokio::test]
async fn a_request_refused_by_its_scope_limit_spends_no_client_quota() {
    let policy = with_spent_sanctions_scope(&policy_with_limit(
        "dept-nb",
        "{ per_second = 1000, burst = 1000, daily_quota = 3 }",
    ));
    assert!(policy.contains("daily_quota = 3"));
    let (h, dept, body) = dept_sanctions(policy).await;
    let json = ("content-type", "application/json");
    let check = async || {
        let r = dept
            .post("/v1/sanctions/check", &[APPROVAL, json], body.clone())
            .await;
        (r.status.as_u16(), r.code())
    };
    assert_eq!(check().await.0, 200); // quota 1 of 3
    for _ in 0..5 {
        assert_eq!(check().await, (429, "rate_limited".to_owned()));
    }
    // Two more of the quota's three are left for the other scopes.
    let p = path(&h);
    assert_eq!(dept.get(&p, &[APPROVAL]).await.status, 200);
    assert_eq!(dept.get(&p, &[APPROVAL]).await.status, 200);
    let r = dept.get(&p, &[APPROVAL]).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (429, "rate_limited".to_owned())
    );
    let detail = r.json()["detail"].as_str().unwrap_or_default().to_owned();
    assert!(detail.contains("daily quota"), "{detail}");
}

/// The other way round: a request the client's own limit refuses counts in
/// its scope's limit neither, so a client retrying over its own rate does
/// not spend its scope's daily quota (which lasts until midnight). The
/// refusal's RateLimit fields name the client's limit only. In process and
/// through Redis (where one script call decides both limits).
#[tokio::test]
async fn a_request_refused_by_the_clients_own_limit_spends_nothing_of_its_scope() {
    clients_own_refusal_spends_nothing_of_its_scope(None).await;
}

#[tokio::test]
async fn through_redis_a_request_refused_by_the_clients_own_limit_spends_nothing_of_its_scope() {
    let redis = credgate_authz::testing::RedisServer::start()
        .expect("redis-server (scripts/test installs it)");
    clients_own_refusal_spends_nothing_of_its_scope(Some(redis.url())).await;
}

async fn clients_own_refusal_spends_nothing_of_its_scope(redis_url: Option<String>) {
    let policy = with_sanctions_scope_limit(
        &policy_with_limit("dept-nb", "{ per_second = 2, burst = 2 }"),
        "{ per_second = 1000, burst = 1000, daily_quota = 10 }",
    );
    let mode = if redis_url.is_some() {
        "redis"
    } else {
        "local"
    };
    let (h, dept, body) = dept_sanctions_with(Options {
        policy: Some(policy),
        redis_url,
        ..Options::default()
    })
    .await;
    let json = ("content-type", "application/json");
    let check = async || {
        dept.post("/v1/sanctions/check", &[APPROVAL, json], body.clone())
            .await
    };
    let daily_left = |r: &credgate_integration::Reply| {
        let f = field(r, "ratelimit");
        let at = f
            .find("\"sanctions.check/daily\";r=")
            .expect("the scope's quota field")
            + 26;
        f[at..].split(';').next().unwrap().parse::<u64>().unwrap()
    };
    for left in [9, 8] {
        let r = check().await;
        assert_eq!(r.status, 200);
        assert_eq!(daily_left(&r), left);
    }
    // Over the client's own rate until a token comes back (2 a second).
    let mut refused = 0;
    let r = loop {
        let r = check().await;
        if r.status == 200 {
            break r;
        }
        assert_eq!(
            (r.status.as_u16(), r.code().as_str()),
            (429, "rate_limited")
        );
        assert!(
            !field(&r, "ratelimit-policy").contains("sanctions.check"),
            "{}",
            field(&r, "ratelimit-policy")
        );
        refused += 1;
        assert!(refused < 500, "the client's limit never let one through");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(refused >= 1, "no request was refused by the client's limit");
    assert_eq!(daily_left(&r), 7, "after {refused} refusals");
    assert!(
        h.metrics_text()
            .await
            .contains(&format!("credgate_ratelimit_mode{{mode=\"{mode}\"}} 1")),
        "decided {mode}"
    );
}
