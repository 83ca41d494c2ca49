//! Telemetry end to end: a client's `traceparent` reaches the platform with
//! the same trace id and a child span id and lands in the audit record;
//! `/metrics` counts exactly what happened, with bounded labels.

use credgate_integration::{plain, Harness, Options};
use serde_json::json;

const APPROVAL: (&str, &str) = ("x-credit-purpose", "administrative_approval");
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

#[tokio::test]
async fn traceparent_propagates_to_the_platform_and_into_the_audit_record() {
    let h = Harness::start().await;
    let nb = h.enterprise_of("xinyong-ningbo");
    let tp = format!("00-{TRACE}-{PARENT}-01");
    let r = h
        .client("dept-nb")
        .get(
            &format!("/v1/enterprises/{nb}/report?sections=basic"),
            &[APPROVAL, ("traceparent", &tp)],
        )
        .await;
    assert_eq!(r.status, 200);
    let seq: u64 = r.headers["x-audit-seq"].to_str().unwrap().parse().unwrap();
    let seen = h.sim_requests("xinyong-ningbo").await;
    let upstream_tp = seen[0]["traceparent"]
        .as_str()
        .expect("traceparent forwarded");
    let parts: Vec<&str> = upstream_tp.split('-').collect();
    assert_eq!(parts[1], TRACE, "same trace id");
    assert_ne!(parts[2], PARENT, "a child span id, not the client's");
    assert_eq!(parts[2].len(), 16);
    let rec = h
        .client("auditor")
        .get(
            "/v1/audit/records?client=dept-nb",
            &[("x-credit-purpose", "audit_review")],
        )
        .await
        .json();
    let rec = rec["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["seq"] == seq)
        .unwrap()
        .clone();
    assert_eq!(rec["trace_id"], TRACE);
    // A malformed traceparent is ignored: a fresh trace, still propagated.
    h.clear_sim_requests().await;
    let r = h
        .client("dept-nb")
        .get(
            &format!("/v1/enterprises/{nb}/report?sections=basic"),
            &[APPROVAL, ("traceparent", "garbage")],
        )
        .await;
    assert_eq!(r.status, 200);
    let seen = h.sim_requests("xinyong-ningbo").await;
    let fresh = seen[0]["traceparent"].as_str().unwrap();
    assert!(!fresh.contains(TRACE) && fresh.len() == 55, "{fresh}");
}

fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| l.starts_with(name)).find_map(|l| {
        let (head, value) = l.rsplit_once(' ')?;
        let ok = labels
            .iter()
            .all(|(k, v)| head.contains(&format!("{k}=\"{v}\"")));
        let exact_name = head.split('{').next() == Some(name);
        (ok && exact_name).then(|| value.parse().ok()).flatten()
    })
}

#[tokio::test]
async fn metrics_count_a_known_mix_and_the_breaker_gauge_moves() {
    let h = Harness::start_with(Options {
        upstream_extra: "max_retries = 0\nbreaker = { failure_threshold = 2, open_ms = 60000 }"
            .into(),
        ..Options::default()
    })
    .await;
    let admin = h.gw().admin_addr.unwrap();
    let nb = h.enterprise_of("xinyong-ningbo");
    let dept = h.client("dept-nb");
    let path = format!("/v1/enterprises/{nb}/report?sections=basic");
    for _ in 0..3 {
        assert_eq!(dept.get(&path, &[APPROVAL]).await.status, 200);
    }
    for _ in 0..2 {
        assert_eq!(dept.get(&path, &[]).await.code(), "purpose_required");
    }
    assert_eq!(
        h.client("bank-nb")
            .get(&path, &[("x-credit-purpose", "loan_underwriting")])
            .await
            .code(),
        "authorization_required"
    );
    let scrape = || async {
        String::from_utf8(
            plain(admin, http::Method::GET, "/metrics", None)
                .await
                .1
                .to_vec(),
        )
        .unwrap()
    };
    let text = scrape().await;
    let ep = "/v1/enterprises/{uscc}/report";
    assert_eq!(
        metric(
            &text,
            "credgate_requests_total",
            &[("client", "dept-nb"), ("endpoint", ep), ("decision", "ok")]
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "credgate_requests_total",
            &[
                ("client", "dept-nb"),
                ("endpoint", ep),
                ("decision", "purpose_required")
            ]
        ),
        Some(2.0)
    );
    assert_eq!(
        metric(
            &text,
            "credgate_requests_total",
            &[
                ("client", "bank-nb"),
                ("endpoint", ep),
                ("decision", "authorization_required")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &text,
            "credgate_authorization_refusals_total",
            &[("code", "authorization_required")]
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &text,
            "credgate_upstream_requests_total",
            &[("upstream", "xinyong-ningbo"), ("outcome", "ok")]
        ),
        Some(3.0)
    );
    // Each call's latency, per platform: as many as the calls.
    assert_eq!(
        metric(
            &text,
            "credgate_upstream_request_duration_seconds_count",
            &[("upstream", "xinyong-ningbo")]
        ),
        Some(3.0)
    );
    assert_eq!(
        metric(
            &text,
            "credgate_upstream_request_duration_seconds_bucket",
            &[("upstream", "xinyong-ningbo"), ("le", "+Inf")]
        ),
        Some(3.0)
    );
    assert!(
        metric(
            &text,
            "credgate_upstream_request_duration_seconds_sum",
            &[("upstream", "xinyong-ningbo")]
        )
        .unwrap()
            > 0.0
    );
    assert_eq!(
        metric(
            &text,
            "credgate_upstream_breaker_open",
            &[("upstream", "xinyong-ningbo")]
        ),
        Some(0.0)
    );
    assert!(metric(&text, "credgate_audit_batch_size_count", &[]).unwrap() >= 1.0);
    assert!(
        metric(
            &text,
            "credgate_request_duration_seconds_count",
            &[("endpoint", ep)]
        )
        .unwrap()
            >= 6.0
    );
    // Label values are bounded: no subject identifier, no concrete path.
    assert!(!text.contains(&nb), "subject in metrics");
    // The audit index's memory for the six records kept (40 B each at
    // least, far below one chunk's 2.5 MiB: a small log stays small).
    let index = metric(&text, "credgate_audit_index_bytes", &[]).unwrap_or_default();
    assert!((240.0..1_000_000.0).contains(&index), "{index}");
    // The platform fails: the breaker opens and the gauge shows it.
    h.fault(
        "xinyong-ningbo",
        json!({ "mode": "error", "error_rate": 1.0 }),
    )
    .await;
    for _ in 0..2 {
        assert_eq!(dept.get(&path, &[APPROVAL]).await.status, 502);
    }
    let text = scrape().await;
    assert_eq!(
        metric(
            &text,
            "credgate_upstream_breaker_open",
            &[("upstream", "xinyong-ningbo")]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "credgate_upstream_requests_total",
            &[("upstream", "xinyong-ningbo"), ("outcome", "error_status")]
        ),
        Some(2.0)
    );
}

/// `/metrics` with `accept` (if any): the content type and the body.
async fn scrape_accepting(admin: std::net::SocketAddr, accept: Option<&str>) -> (String, String) {
    use http_body_util::BodyExt as _;
    let tcp = tokio::net::TcpStream::connect(admin).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::get("/metrics").header("host", "localhost");
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let resp = send
        .send_request(
            req.body(http_body_util::Empty::<bytes::Bytes>::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (ct, String::from_utf8(body.to_vec()).unwrap())
}

/// SPEC §4: `/metrics` is in the Prometheus text format; a scraper that
/// asks for OpenMetrics (Prometheus does) gets OpenMetrics.
#[tokio::test]
async fn metrics_are_prometheus_text_unless_openmetrics_is_asked_for() {
    let h = Harness::start().await;
    let admin = h.gw().admin_addr.unwrap();
    let nb = h.enterprise_of("xinyong-ningbo");
    let path = format!("/v1/enterprises/{nb}/report?sections=basic");
    assert_eq!(
        h.client("dept-nb").get(&path, &[APPROVAL]).await.status,
        200
    );
    for accept in [None, Some("text/plain;version=0.0.4"), Some("*/*")] {
        let (ct, text) = scrape_accepting(admin, accept).await;
        assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8", "{accept:?}");
        assert!(
            text.contains("# TYPE credgate_requests_total counter\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE credgate_request_duration_seconds histogram\n"));
        assert!(!text.contains("# EOF"));
        assert_eq!(
            metric(
                &text,
                "credgate_requests_total",
                &[
                    ("client", "dept-nb"),
                    ("endpoint", "/v1/enterprises/{uscc}/report"),
                    ("decision", "ok")
                ]
            ),
            Some(1.0)
        );
    }
    // What Prometheus sends.
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let (ct, text) = scrape_accepting(admin, Some(prometheus)).await;
    assert_eq!(
        ct,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(
        text.contains("# TYPE credgate_requests counter\n"),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"));
    // Declined with q=0: the Prometheus text.
    let (ct, _) =
        scrape_accepting(admin, Some("application/openmetrics-text;q=0, text/plain")).await;
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
}
