//! Federation in depth (SPEC §4, §7): the sanctions fan-out against the
//! platforms' own data, partial answers under faults within the deadline,
//! timeouts, the circuit breaker, fan-out latency, and score recognition.

use credgate_integration::{Harness, Options};
use credgate_sim::{Dataset, PlatformId};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const APPROVAL: (&str, &str) = ("x-credit-purpose", "administrative_approval");
const JSON: (&str, &str) = ("content-type", "application/json");

/// dept-nb's sanctions check of `subjects`, which must answer 200; its JSON.
async fn check_batch(h: &Harness, subjects: &[String]) -> Value {
    let body = json!({ "subjects": subjects }).to_string();
    let r = h
        .client("dept-nb")
        .post("/v1/sanctions/check", &[APPROVAL, JSON], body)
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

/// [`check_batch`] with every platform heard (`partial` false).
async fn complete_batch(h: &Harness, subjects: &[String]) -> Value {
    let v = check_batch(h, subjects).await;
    assert_eq!(v["partial"], false, "{v}");
    v
}

/// The first `n` sample enterprises Hangzhou holds (Hangzhou takes one
/// subject per call), only those on no list when `unlisted`.
fn hangzhou_enterprises(h: &Harness, n: usize, unlisted: bool) -> Vec<String> {
    let subjects: Vec<String> = h.samples["enterprises"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["platform"] == "hangzhou" && !(unlisted && e["sanctioned"] == true))
        .take(n)
        .map(|e| e["uscc"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(subjects.len(), n);
    subjects
}

/// Which platforms the demo configuration asks about a subject: the city
/// or province owning its region, and the peers (which publish lists
/// covering anyone).
fn candidates(division: &str) -> Vec<PlatformId> {
    let mut v = Vec::new();
    for p in PlatformId::ALL {
        let spec = p.spec();
        let by_region = spec.regions.iter().any(|r| division.starts_with(r));
        if spec.kind == "peer" || by_region {
            v.push(p);
        }
    }
    v
}

fn truth(ds: &Dataset, subject: &str, division: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for p in candidates(division) {
        if let Some(listings) = ds.sanctions_on(p, subject) {
            for l in listings {
                out.insert((p.name().to_owned(), l.list_name.clone()));
            }
        }
    }
    out
}

fn batch_from_samples(h: &Harness) -> (Vec<String>, Vec<(String, String)>) {
    let mut subjects = Vec::new();
    let mut meta = Vec::new();
    for platform in ["xinyong-ningbo", "hangzhou", "xiamen", "xinyong-zhejiang"] {
        for sanctioned in [true, false] {
            let e = h.samples["enterprises"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["platform"] == platform && e["sanctioned"] == sanctioned)
                .unwrap_or_else(|| {
                    panic!("samples hold a {platform} enterprise sanctioned={sanctioned}")
                });
            subjects.push(e["uscc"].as_str().unwrap().to_owned());
            meta.push((
                e["uscc"].as_str().unwrap().to_owned(),
                e["region"].as_str().unwrap().to_owned(),
            ));
        }
    }
    for p in h.samples["persons"].as_array().unwrap().iter().take(3) {
        subjects.push(p["id"].as_str().unwrap().to_owned());
        meta.push((
            p["id"].as_str().unwrap().to_owned(),
            p["region"].as_str().unwrap().to_owned(),
        ));
    }
    (subjects, meta)
}

fn sources_of(r: &Value) -> BTreeSet<(String, String)> {
    r["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["platform"].as_str().unwrap().to_owned(),
                s["list_name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn sanctions_batch_matches_the_platforms_own_data() {
    let h = Harness::start().await;
    let ds = Dataset::generate(credgate_integration::SEED);
    let (mut subjects, meta) = batch_from_samples(&h);
    let n_valid = subjects.len();
    subjects.push("91330203MA2AXXXXXX".into()); // bad check character
    subjects.push("hello".into());
    subjects.push(subjects[0].to_lowercase()); // duplicate after normalisation
    let v = complete_batch(&h, &subjects).await;
    assert_eq!(v["failed_platforms"], json!([]));
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), subjects.len());
    // Every item echoes the subject exactly as given (SPEC §4), persons'
    // ID numbers and invalid items included, in the request's order.
    for (i, given) in subjects.iter().enumerate() {
        assert_eq!(results[i]["subject"], given.as_str(), "item {i}");
        assert_eq!(results[i]["index"], i);
    }
    assert!(
        subjects
            .iter()
            .any(|s| s.len() == 18 && s[..17].bytes().all(|b| b.is_ascii_digit())),
        "the batch has a person"
    );
    let mut hits = 0;
    for (i, (subject, division)) in meta.iter().enumerate() {
        let want = truth(&ds, subject, division);
        let got = sources_of(&results[i]);
        assert_eq!(got, want, "sources of item {i}");
        // Provenance: every source names its platform's as-of time.
        for src in results[i]["sources"].as_array().unwrap() {
            assert_eq!(src["as_of"], credgate_sim::dataset::AS_OF, "{src}");
        }
        let status = if want.is_empty() { "no_hit" } else { "hit" };
        hits += usize::from(!want.is_empty());
        assert_eq!(results[i]["status"], status, "item {i}");
        assert_eq!(results[i]["index"], i);
    }
    assert!(
        hits >= 4 && hits < n_valid,
        "the batch mixes hits and no-hits ({hits})"
    );
    assert_eq!(results[n_valid]["status"], "invalid");
    assert_eq!(results[n_valid + 1]["status"], "invalid");
    assert_eq!(
        results[n_valid + 2]["status"],
        results[0]["status"],
        "duplicate folded"
    );
}

/// Subjects of regions no platform serves are `unknown`, not `no_hit`:
/// the peer platforms asked about every subject do not know them, so no
/// answer vouches for them. Subjects a serving platform does not hold are
/// still `no_hit` (their region's platform answered for them).
#[tokio::test]
async fn sanctions_unserved_subjects_are_unknown_not_clean() {
    let h = Harness::start().await;
    let ids = |key: &str| -> Vec<String> {
        h.samples[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                s.get("uscc")
                    .or(s.get("id"))
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let unserved = ids("unserved");
    let not_held = ids("not_held");
    assert!(!unserved.is_empty() && !not_held.is_empty());
    let subjects: Vec<String> = unserved.iter().chain(&not_held).cloned().collect();
    let v = complete_batch(&h, &subjects).await;
    assert_eq!(v["failed_platforms"], json!([]));
    assert_eq!(v["partial"], false);
    let results = v["results"].as_array().unwrap();
    for (i, s) in subjects.iter().enumerate() {
        let want = if i < unserved.len() {
            "unknown"
        } else {
            "no_hit"
        };
        assert_eq!(results[i]["status"], want, "{s}");
        assert_eq!(results[i]["sources"], json!([]), "{s}");
    }
}

#[tokio::test]
async fn sanctions_body_and_size_are_checked() {
    let h = Harness::start().await;
    let dept = h.client("dept-nb");
    for body in [
        "{",
        "[]",
        "{\"subjects\": 5}",
        "{\"subjects\": []}",
        "{\"subjects\": [\"a\"], \"x\": 1}",
    ] {
        let r = dept
            .post("/v1/sanctions/check", &[APPROVAL, JSON], body)
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code().as_str()),
            (400, "invalid_request"),
            "{body}"
        );
    }
    let many: Vec<String> = (0..101).map(|i| format!("s{i}")).collect();
    let r = dept
        .post(
            "/v1/sanctions/check",
            &[APPROVAL, JSON],
            json!({ "subjects": many }).to_string(),
        )
        .await;
    assert_eq!(r.code(), "invalid_request");
    // No query parameters on this endpoint.
    let r = dept
        .post(
            "/v1/sanctions/check?dry_run=1",
            &[APPROVAL, JSON],
            "{\"subjects\":[\"x\"]}",
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "invalid_request")
    );
    assert!(r.json()["detail"].as_str().unwrap().contains("dry_run"));
    // Only departments hold the sanctions scope.
    let r = h
        .client("bank-nb")
        .post(
            "/v1/sanctions/check",
            &[("x-credit-purpose", "loan_underwriting"), JSON],
            "{\"subjects\":[\"x\"]}",
        )
        .await;
    assert_eq!(r.code(), "scope_denied");
    assert_eq!(h.total_sim_requests().await, 0);
    // The body is JSON: another declared type is refused (absent and JSON
    // with parameters are fine).
    let body = json!({ "subjects": [h.enterprise_of("xinyong-ningbo")] }).to_string();
    for (ct, status) in [
        (Some("application/x-www-form-urlencoded"), 400),
        (Some("text/plain"), 400),
        (Some("application/json; charset=utf-8"), 200),
        (Some("application/problem+json"), 200),
        (None, 200),
    ] {
        let mut headers = vec![APPROVAL];
        if let Some(ct) = ct {
            headers.push(("content-type", ct));
        }
        let r = dept
            .post("/v1/sanctions/check", &headers, body.clone())
            .await;
        assert_eq!(
            r.status,
            status,
            "{ct:?}: {}",
            String::from_utf8_lossy(&r.body)
        );
        if status == 400 {
            assert_eq!(r.code(), "invalid_request");
            assert!(r.json()["detail"]
                .as_str()
                .unwrap()
                .contains("Content-Type"));
        }
    }
}

#[tokio::test]
async fn a_failing_platform_makes_the_answer_partial_not_failed() {
    let deadline_ms = 800;
    let h = Harness::start_with(Options {
        sanctions_deadline_ms: Some(deadline_ms),
        // Keep the breaker out of the way: this test is about each fault.
        upstream_extra: "breaker = { failure_threshold = 1000 }".into(),
        ..Options::default()
    })
    .await;
    let ds = Dataset::generate(credgate_integration::SEED);
    let (subjects, meta) = batch_from_samples(&h);
    let body = json!({ "subjects": subjects }).to_string();
    for mode in ["hang", "reset", "error", "malformed"] {
        h.fault("xiamen", json!({ "mode": mode, "error_rate": 1.0 }))
            .await;
        let started = Instant::now();
        let r = h
            .client("dept-nb")
            .post("/v1/sanctions/check", &[APPROVAL, JSON], body.clone())
            .await;
        let took = started.elapsed();
        assert_eq!(r.status, 200, "{mode}");
        assert!(
            took < Duration::from_millis(deadline_ms + 100 + 150),
            "{mode} took {took:?}"
        );
        let v = r.json();
        assert_eq!(v["partial"], true, "{mode}: {v}");
        assert_eq!(v["failed_platforms"], json!(["xiamen"]), "{mode}");
        for (i, (subject, division)) in meta.iter().enumerate() {
            // What the healthy platforms know is reported exactly.
            let mut want = truth(&ds, subject, division);
            want.retain(|(p, _)| p != "xiamen");
            let got = sources_of(&v["results"][i]);
            assert_eq!(got, want, "{mode}: item {i}");
            let status = v["results"][i]["status"].as_str().unwrap();
            if want.is_empty() {
                assert_eq!(
                    status, "unknown",
                    "{mode}: xiamen could have listed item {i}"
                );
            } else {
                assert_eq!(status, "hit");
            }
        }
    }
    h.fault("xiamen", json!({ "mode": "none" })).await;
}

#[tokio::test]
async fn sources_come_in_platform_order_whichever_answers_first() {
    let h = Harness::start().await;
    // A Ningbo enterprise on a list: both 信用宁波 and 信用浙江 (the province)
    // publish it, so its sources come from two platforms.
    let (subjects, meta) = batch_from_samples(&h);
    let ds = Dataset::generate(credgate_integration::SEED);
    let (subject, _) = meta
        .iter()
        .find(|(s, d)| {
            let t = truth(&ds, s, d);
            t.iter().any(|(p, _)| p == "xinyong-ningbo")
                && t.iter().any(|(p, _)| p == "xinyong-zhejiang")
        })
        .expect("a subject listed by both the city and the province");
    assert!(subjects.contains(subject));
    let body = json!({ "subjects": [subject] }).to_string();
    let mut orders = Vec::new();
    // Each platform in turn answers last.
    for slow in ["xinyong-ningbo", "xinyong-zhejiang"] {
        h.fault(slow, json!({ "mode": "latency", "latency_ms": 150 }))
            .await;
        let r = h
            .client("dept-nb")
            .post("/v1/sanctions/check", &[APPROVAL, JSON], body.clone())
            .await;
        h.fault(slow, json!({ "mode": "none" })).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let platforms: Vec<String> = r.json()["results"][0]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["platform"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            platforms.iter().any(|p| p == "xinyong-ningbo")
                && platforms.iter().any(|p| p == "xinyong-zhejiang"),
            "{platforms:?}"
        );
        orders.push(platforms);
    }
    assert_eq!(orders[0], orders[1], "the same question, the same answer");
}

#[tokio::test]
async fn fan_out_costs_the_slowest_platform_not_the_sum() {
    // Hangzhou answers one subject per call: with the default of 8 calls in
    // flight per platform its dozen calls would come in two waves (2 × its
    // delay), which is not what this measures.
    let h = Harness::start_with(Options {
        sanctions_calls_per_platform: Some(100),
        ..Options::default()
    })
    .await;
    let (subjects, _) = batch_from_samples(&h);
    let body = json!({ "subjects": subjects }).to_string();
    // Warm the connection pools so the measurement is the fan-out itself.
    let r = h
        .client("dept-nb")
        .post("/v1/sanctions/check", &[APPROVAL, JSON], body.clone())
        .await;
    assert_eq!(r.status, 200);
    for (p, ms) in [
        ("xinyong-ningbo", 50),
        ("xinyong-zhejiang", 100),
        ("hangzhou", 150),
        ("xiamen", 200),
    ] {
        h.fault(p, json!({ "mode": "latency", "latency_ms": ms }))
            .await;
    }
    let started = Instant::now();
    let r = h
        .client("dept-nb")
        .post("/v1/sanctions/check", &[APPROVAL, JSON], body)
        .await;
    let took = started.elapsed();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["partial"], false);
    assert!(
        took >= Duration::from_millis(200),
        "the slowest platform was waited for: {took:?}"
    );
    assert!(
        took < Duration::from_millis(350),
        "fan-out took {took:?} (sum would be 500 ms)"
    );
}

#[tokio::test]
async fn a_hanging_platform_gives_504_within_the_timeout() {
    let h = Harness::start_with(Options {
        upstream_timeout_ms: Some(400),
        ..Options::default()
    })
    .await;
    let nb = h.enterprise_of("xinyong-ningbo");
    h.fault("xinyong-ningbo", json!({ "mode": "hang" })).await;
    let started = Instant::now();
    let r = h
        .client("dept-nb")
        .get(
            &format!("/v1/enterprises/{nb}/report?sections=basic"),
            &[APPROVAL],
        )
        .await;
    let took = started.elapsed();
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (504, "upstream_unavailable")
    );
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("xinyong-ningbo"));
    assert!(took < Duration::from_millis(400 + 300), "took {took:?}");
    // A malformed body is a 502 naming the platform, never echoing the body.
    h.fault("xinyong-ningbo", json!({ "mode": "malformed" }))
        .await;
    let r = h
        .client("dept-nb")
        .get(
            &format!("/v1/enterprises/{nb}/report?sections=basic"),
            &[APPROVAL],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (502, "upstream_unavailable")
    );
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("xinyong-ningbo"));
}

#[tokio::test]
async fn the_breaker_opens_fails_fast_and_closes_after_recovery() {
    let h = Harness::start_with(Options {
        upstream_extra: "max_retries = 0\nbreaker = { failure_threshold = 3, open_ms = 300 }"
            .into(),
        ..Options::default()
    })
    .await;
    let nb = h.enterprise_of("xinyong-ningbo");
    let path = format!("/v1/enterprises/{nb}/report?sections=basic");
    let dept = h.client("dept-nb");
    h.fault(
        "xinyong-ningbo",
        json!({ "mode": "error", "error_rate": 1.0 }),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(dept.get(&path, &[APPROVAL]).await.status, 502);
    }
    let admin = h.gw().admin_addr.unwrap();
    let ready = readyz(admin).await;
    // No Redis configured: no Redis to report.
    assert!(ready["redis"].is_null(), "{ready}");
    let nb_state = ready["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "xinyong-ningbo")
        .unwrap()
        .clone();
    assert_eq!(nb_state["breaker"], "open", "{ready}");
    assert_eq!(nb_state["last"]["outcome"], "error_status");
    // Open: fail fast without contacting the platform.
    let before = h.sim_requests("xinyong-ningbo").await.len();
    let r = dept.get(&path, &[APPROVAL]).await;
    // SPEC §4: upstream_unavailable is 502/504; a Retry-After says when.
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (502, "upstream_unavailable")
    );
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(
        h.sim_requests("xinyong-ningbo").await.len(),
        before,
        "not contacted while open"
    );
    // After open_ms, with no request since, the breaker is half-open: no
    // probe has succeeded, and the gauge still says it is not closed (an
    // alert on it must not clear by itself while the platform fails).
    let gauge = "credgate_upstream_breaker_open{upstream=\"xinyong-ningbo\"}";
    let deadline = Instant::now() + Duration::from_secs(5);
    while readyz(admin).await["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["name"] == "xinyong-ningbo" && u["breaker"] != "half_open")
    {
        assert!(Instant::now() < deadline, "never half-open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = h.metrics_text().await;
    assert!(text.contains(&format!("{gauge} 1")), "{text}");
    // The platform recovers; a probe goes through and closes it.
    h.fault("xinyong-ningbo", json!({ "mode": "none" })).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = dept.get(&path, &[APPROVAL]).await;
        if r.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "breaker never closed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready = readyz(admin).await;
    let nb_state = ready["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "xinyong-ningbo")
        .unwrap()
        .clone();
    assert_eq!(nb_state["breaker"], "closed");
    let text = h.metrics_text().await;
    assert!(text.contains(&format!("{gauge} 0")), "{text}");
}

async fn readyz(admin: std::net::SocketAddr) -> Value {
    let (_, body) = credgate_integration::plain(admin, http::Method::GET, "/readyz", None).await;
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test]
async fn a_platform_certificate_from_another_ca_is_a_failed_upstream() {
    let h = Harness::start().await;
    let certs = h.certs();
    let p = h.platform("xinyong-ningbo");
    let cfg = |ca: &str| {
        let text = format!(
            "name = \"xinyong-ningbo\"\nkind = \"city\"\nregions = [\"3302\"]\nbase_url = \"{}\"\n\
             adapter = \"ningbo-v1\"\nca = \"{}\"\nclient_cert = \"{}\"\nclient_key = \"{}\"\n",
            p.base_url(),
            certs.join(ca).display(),
            certs.join("upstream/gateway.crt").display(),
            certs.join("upstream/gateway.key").display(),
        );
        toml::from_str::<credgate::config::UpstreamConfig>(&text).unwrap()
    };
    let req = credgate::federation::adapters::UpstreamRequest {
        method: http::Method::GET,
        path_and_query: "/api/v1/person/x/tianyi".into(),
        content_type: None,
        body: Vec::new(),
    };
    // Trusting the right CA works (any HTTP answer proves the handshake).
    let good = credgate::federation::Upstream::from_config(&cfg("upstream/ca.crt")).unwrap();
    assert!(good.send(&req, None).await.is_ok());
    // Trusting another CA: the platform's certificate is refused, and the
    // error says why.
    let wrong = credgate::federation::Upstream::from_config(&cfg("rogue/ca.crt")).unwrap();
    let err = wrong.send(&req, None).await.unwrap_err();
    assert_eq!(err.kind(), "transport");
    let text = err.to_string();
    assert!(
        text.contains("UnknownIssuer") || text.contains("certificate"),
        "{text}"
    );
}

/// `[[upstreams]] http2` (default on) offers HTTP/2 in the TLS handshake:
/// a platform that speaks it gets the queries over HTTP/2; with `http2 =
/// false` it gets HTTP/1.1, and the answers are the same.
#[tokio::test]
async fn upstream_calls_use_http2_when_offered_and_http1_when_not() {
    let mut answers = Vec::new();
    for (extra, version) in [("", "HTTP/2.0"), ("http2 = false", "HTTP/1.1")] {
        let h = Harness::start_with(Options {
            upstream_extra: extra.to_owned(),
            ..Options::default()
        })
        .await;
        let path = h.basic_report_path("xinyong-ningbo");
        let r = h.client("dept-nb").get(&path, &[APPROVAL]).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let seen = h.sim_requests("xinyong-ningbo").await;
        let versions: Vec<&str> = seen.iter().filter_map(|q| q["version"].as_str()).collect();
        assert!(
            !versions.is_empty() && versions.iter().all(|v| *v == version),
            "{extra:?}: {versions:?}"
        );
        answers.push(r.json()["sections"].clone());
    }
    assert_eq!(answers[0], answers[1]);
}

/// A platform answering one subject per call (Hangzhou's format) gets at
/// most `calls_per_platform` calls of one request at a time, however many
/// of its subjects the batch holds; every subject is still answered.
#[tokio::test]
async fn one_batch_keeps_at_most_calls_per_platform_calls_in_flight_to_a_platform() {
    let h = Harness::start_with(Options {
        sanctions_calls_per_platform: Some(3),
        ..Options::default()
    })
    .await;
    // Each call held long enough that the batch's calls overlap.
    h.fault("hangzhou", json!({"mode": "latency", "latency_ms": 100}))
        .await;
    h.clear_sim_requests().await;
    let subjects: Vec<String> = (0..12)
        .map(|i| {
            credgate_policy::ids::Uscc::from_first17(&format!("91330102MA2{i:06}"))
                .unwrap()
                .as_str()
                .to_owned()
        })
        .collect();
    complete_batch(&h, &subjects).await;
    let calls = h.sim_requests("hangzhou").await;
    assert_eq!(calls.len(), 12, "one call per subject");
    let most = calls
        .iter()
        .filter_map(|c| c["in_flight"].as_u64())
        .max()
        .unwrap();
    assert!(
        (2..=3).contains(&most),
        "at most 3 at once, and concurrent: {most}"
    );
}

/// One section the gateway cannot read costs that section, not the report:
/// it is answered as unavailable and named in `unreadable_sections` ("could
/// not read" is not "not held"); a report of only that section fails whole.
#[tokio::test]
async fn a_section_the_gateway_cannot_read_is_named_unreadable() {
    let h = Harness::start().await;
    let nb = h.enterprise_of("xinyong-ningbo");
    let ask = |sections: &'static str| {
        let (h, nb) = (&h, nb.clone());
        async move {
            h.client("dept-nb")
                .get(
                    &format!("/v1/enterprises/{nb}/report?sections={sections}"),
                    &[APPROVAL],
                )
                .await
        }
    };
    // Before the fault both sections read.
    let r = ask("basic,commitments").await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let doc = r.json();
    assert!(doc["sections"]["commitments"]["data"].is_array(), "{doc}");
    assert_eq!(doc["unreadable_sections"], json!([]));

    h.fault(
        "xinyong-ningbo",
        json!({ "mode": "malformed", "section": "commitments" }),
    )
    .await;
    let r = ask("basic,commitments").await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let doc = r.json();
    assert!(doc["sections"]["basic"]["data"].is_object(), "{doc}");
    assert!(doc["sections"].get("commitments").is_none(), "{doc}");
    assert_eq!(doc["unavailable_sections"], json!(["commitments"]));
    assert_eq!(doc["unreadable_sections"], json!(["commitments"]));
    // Only that section: nothing readable, the platform's answer fails.
    let r = ask("commitments").await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (502, "upstream_unavailable"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
}

/// Retries only for what another try can mend (SPEC §7): a 5xx is tried
/// again, a 4xx is not; a 4xx in the platform's envelope other than 429 is
/// the request's fault and does not count against the platform's breaker;
/// a 429, or a bare 4xx from something in front of it, does.
#[tokio::test]
async fn a_4xx_is_not_retried_and_only_a_bare_one_or_a_429_counts_against_the_breaker() {
    let h = Harness::start_with(Options {
        upstream_extra: "breaker = { failure_threshold = 3, open_ms = 60000 }".into(),
        ..Options::default()
    })
    .await;
    let nb = h.enterprise_of("xinyong-ningbo");
    let path = format!("/v1/enterprises/{nb}/report?sections=basic");
    let dept = h.client("dept-nb");
    let ask_with = |status: u16| {
        let (h, dept, path) = (&h, &dept, &path);
        async move {
            h.fault(
                "xinyong-ningbo",
                json!({ "mode": "error", "error_rate": 1.0, "status": status }),
            )
            .await;
            h.clear_sim_requests().await;
            let r = dept.get(path, &[APPROVAL]).await;
            (r, h.sim_requests("xinyong-ningbo").await.len())
        }
    };
    // A 503 is retried once (the default max_retries).
    let (r, seen) = ask_with(503).await;
    assert_eq!((r.status.as_u16(), seen), (502, 2), "{}", r.code());
    // A 400 is not, however often; and the breaker stays closed.
    for _ in 0..4 {
        let (r, seen) = ask_with(400).await;
        assert_eq!(
            (r.status.as_u16(), r.code().as_str()),
            (502, "upstream_unavailable")
        );
        assert_eq!(seen, 1, "a 4xx is not retried");
    }
    // A bare 403 (a proxy in front of the platform, not the platform's
    // envelope) and a 429 are not retried either, but both count against
    // the breaker: two bare 403s and a 429 open it (threshold 3), and the
    // next request does not reach the platform.
    for _ in 0..2 {
        h.fault(
            "xinyong-ningbo",
            json!({ "mode": "error", "error_rate": 1.0, "status": 403, "bare": true }),
        )
        .await;
        h.clear_sim_requests().await;
        let r = dept.get(&path, &[APPROVAL]).await;
        assert_eq!(r.status, 502);
        assert_eq!(
            h.sim_requests("xinyong-ningbo").await.len(),
            1,
            "not retried"
        );
    }
    let (r, seen) = ask_with(429).await;
    assert_eq!((r.status.as_u16(), seen), (502, 1));
    let (r, seen) = ask_with(429).await;
    assert_eq!(seen, 0, "the breaker is open");
    assert_eq!(r.code(), "upstream_unavailable");
}

/// The same for the platforms whose format puts its status in the body
/// (Hangzhou's JSON, Xiamen's XML): a 4xx in the platform's own envelope
/// leaves the breaker closed, a bare 4xx page from something in front of
/// it counts against it.
#[tokio::test]
async fn a_bare_4xx_counts_against_the_breaker_of_every_format() {
    for platform in ["hangzhou", "xiamen"] {
        let h = Harness::start_with(Options {
            upstream_extra: "breaker = { failure_threshold = 3, open_ms = 60000 }".into(),
            ..Options::default()
        })
        .await;
        let subject = h.enterprise_of(platform);
        let path = format!("/v1/enterprises/{subject}/report?sections=basic");
        let dept = h.client("dept-nb");
        let ask = |fault: Value| {
            let (h, dept, path) = (&h, &dept, &path);
            async move {
                h.fault(platform, fault).await;
                h.clear_sim_requests().await;
                let r = dept.get(path, &[APPROVAL]).await;
                assert_eq!(r.status, 502, "{platform}: {}", r.code());
                h.sim_requests(platform).await.len()
            }
        };
        for _ in 0..4 {
            let enveloped = json!({ "mode": "error", "error_rate": 1.0, "status": 400 });
            assert_eq!(ask(enveloped).await, 1, "{platform}: the breaker opened");
        }
        let bare = json!({ "mode": "error", "error_rate": 1.0, "status": 403, "bare": true });
        for _ in 0..3 {
            assert_eq!(ask(bare.clone()).await, 1, "{platform}: not retried");
        }
        assert_eq!(
            ask(bare).await,
            0,
            "{platform}: the breaker is still closed"
        );
    }
}

/// A platform still silent at the fan-out's deadline is a `timeout` that
/// the audit record, the metrics and the breaker all see (each call ends by
/// the deadline by itself): after `failure_threshold` such batches the
/// breaker opens and later batches do not wait for it.
#[tokio::test]
async fn a_platform_silent_at_the_fan_out_deadline_is_a_recorded_timeout() {
    let deadline_ms = 400;
    let h = Harness::start_with(Options {
        sanctions_deadline_ms: Some(deadline_ms),
        upstream_extra: "breaker = { failure_threshold = 2, open_ms = 60000 }".into(),
        ..Options::default()
    })
    .await;
    let (subjects, _) = batch_from_samples(&h);
    let body = json!({ "subjects": subjects }).to_string();
    h.fault("xiamen", json!({ "mode": "hang" })).await;
    let check = || async {
        let started = Instant::now();
        let r = h
            .client("dept-nb")
            .post("/v1/sanctions/check", &[APPROVAL, JSON], body.clone())
            .await;
        assert_eq!(r.status, 200);
        let v = r.json();
        assert_eq!(v["failed_platforms"], json!(["xiamen"]), "{v}");
        started.elapsed()
    };
    for _ in 0..2 {
        let took = check().await;
        assert!(took >= Duration::from_millis(deadline_ms - 50), "{took:?}");
    }
    // The record names xiamen with its outcome.
    let records = h.audit_records("client=dept-nb&limit=1").await;
    let xiamen: Vec<&Value> = records[0]["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["name"] == "xiamen")
        .collect();
    assert!(!xiamen.is_empty(), "{records:?}");
    assert!(
        xiamen.iter().all(|u| u["outcome"] == "timeout"),
        "{xiamen:?}"
    );
    // Counted, and the breaker opened: the next batch does not wait.
    let text = h.metrics_text().await;
    assert!(
        text.lines().any(|l| l.starts_with(
            "credgate_upstream_requests_total{upstream=\"xiamen\",outcome=\"timeout\"}"
        )),
        "{text}"
    );
    assert!(
        text.contains("credgate_upstream_breaker_open{upstream=\"xiamen\"} 1"),
        "{text}"
    );
    let took = check().await;
    assert!(took < Duration::from_millis(deadline_ms / 2), "{took:?}");
}

/// A healthy platform is not cut off by the gateway's own queueing: the
/// batches of a big fan-out that get their turn too late to be answered
/// time out at the deadline, but only an attempt given half the deadline
/// or more counts against the breaker.
/// A platform that answers some of a fan-out's batches in time and misses
/// the deadline on others is a failed platform, but only the subjects of
/// the batches it missed lack its word: the others keep their answer.
#[tokio::test]
async fn only_the_subjects_of_a_missed_batch_are_unknown() {
    let h = Harness::start_with(Options {
        sanctions_deadline_ms: Some(1000),
        sanctions_calls_per_platform: Some(1),
        ..Options::default()
    })
    .await;
    // One call at a time here: of six calls of 300 ms, the first ends at
    // 300 ms, the last would at 1.8 s.
    let subjects = hangzhou_enterprises(&h, 6, true);
    let healthy = complete_batch(&h, &subjects).await;
    h.fault("hangzhou", json!({"mode": "latency", "latency_ms": 300}))
        .await;
    let v = check_batch(&h, &subjects).await;
    assert_eq!(v["partial"], true);
    assert_eq!(v["failed_platforms"], json!(["hangzhou"]));
    let status = |v: &Value, i: usize| v["results"][i]["status"].clone();
    // The first subject's batch was answered: checked and not listed, as
    // with every platform healthy (none of the six is listed anywhere).
    assert_eq!(status(&healthy, 0), "no_hit");
    assert_eq!(status(&v, 0), "no_hit");
    // The last one's never reached the platform in time.
    assert_eq!(status(&v, 5), "unknown");
}

#[tokio::test]
async fn late_batches_of_a_fan_out_do_not_open_a_healthy_platforms_breaker() {
    let deadline_ms = 400;
    let h = Harness::start_with(Options {
        sanctions_deadline_ms: Some(deadline_ms),
        sanctions_calls_per_platform: Some(2),
        upstream_extra: "breaker = { failure_threshold = 2, open_ms = 60000 }".into(),
        ..Options::default()
    })
    .await;
    // Hangzhou takes one subject per call: eight calls of 150 ms, two at a
    // time, do not fit in 400 ms; the third pair starts with 100 ms left.
    let subjects = hangzhou_enterprises(&h, 8, false);
    h.fault("hangzhou", json!({"mode": "latency", "latency_ms": 150}))
        .await;
    for _ in 0..2 {
        let v = check_batch(&h, &subjects).await;
        assert_eq!(v["failed_platforms"], json!(["hangzhou"]));
    }
    let text = h.metrics_text().await;
    assert!(
        text.contains("credgate_upstream_breaker_open{upstream=\"hangzhou\"} 0"),
        "{text}"
    );
    // And it still answers single reads.
    h.fault("hangzhou", json!({"mode": "none"})).await;
    let r = h
        .client("dept-nb")
        .get(&h.basic_report_path("hangzhou"), &[APPROVAL])
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// The breaker state `/readyz` reports for `platform`.
async fn breaker_of(h: &Harness, platform: &str) -> String {
    let ready = readyz(h.gw().admin_addr.unwrap()).await;
    let state = ready["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == platform)
        .map(|u| u["breaker"].clone());
    state.and_then(|s| s.as_str().map(str::to_owned)).unwrap()
}

/// A sanctions batch's calls to one platform are one call to its breaker
/// (black-box review): Hangzhou takes one subject per call, and a batch of
/// five that failed was five failures, opening the breaker for every
/// client at once; in half-open only one of the batch's calls got the
/// probe's slot, so the batch that probed a recovered platform came back
/// `partial`.
#[tokio::test]
async fn a_batchs_calls_to_one_platform_are_one_call_to_its_breaker() {
    let h = Harness::start_with(Options {
        upstream_extra: "max_retries = 0\nbreaker = { failure_threshold = 2, open_ms = 1000 }"
            .into(),
        ..Options::default()
    })
    .await;
    let subjects = hangzhou_enterprises(&h, 5, true);
    h.fault("hangzhou", json!({ "mode": "error", "error_rate": 1.0 }))
        .await;
    let v = check_batch(&h, &subjects).await;
    assert_eq!(v["failed_platforms"], json!(["hangzhou"]), "{v}");
    assert_eq!(
        breaker_of(&h, "hangzhou").await,
        "closed",
        "five calls, one failure"
    );
    check_batch(&h, &subjects).await;
    assert_eq!(
        breaker_of(&h, "hangzhou").await,
        "open",
        "the second failure"
    );

    // Recovered: once open_ms is over, the next batch is the probe, all of it.
    h.fault("hangzhou", json!({ "mode": "none" })).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while breaker_of(&h, "hangzhou").await != "half_open" {
        assert!(Instant::now() < deadline, "never due to probe");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let before = h.sim_requests("hangzhou").await.len();
    let v = complete_batch(&h, &subjects).await;
    assert_eq!(h.sim_requests("hangzhou").await.len() - before, 5);
    for r in v["results"].as_array().unwrap() {
        assert_eq!(r["status"], "no_hit", "{v}");
    }
    assert_eq!(breaker_of(&h, "hangzhou").await, "closed");
}
