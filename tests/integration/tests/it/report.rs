//! `GET /v1/enterprises/{uscc}/report` end to end: routing to the owning
//! platform with provenance, refusals that never reach a platform, bounds,
//! and no personal data in clear.

use super::scan;
use credgate::server::CodecRefusal;
use credgate_integration::{eventually, Harness};
use serde_json::Value;

const PURPOSE: (&str, &str) = ("x-credit-purpose", "administrative_approval");

fn samples_for(h: &Harness, platform: &str) -> Vec<Value> {
    h.samples["enterprises"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["platform"] == platform)
        .cloned()
        .collect()
}

#[tokio::test]
async fn reports_come_from_the_owning_platform_with_provenance() {
    let h = Harness::start().await;
    let dataset = credgate_sim::Dataset::generate(credgate_integration::SEED);
    let dept = h.client("dept-nb");
    for platform in ["xinyong-ningbo", "hangzhou", "xiamen", "xinyong-zhejiang"] {
        let subjects = samples_for(&h, platform);
        assert!(
            !subjects.is_empty(),
            "samples list enterprises of {platform}"
        );
        for e in subjects.iter().take(3) {
            let uscc = e["uscc"].as_str().unwrap();
            h.clear_sim_requests().await;
            let r = dept
                .get(&format!("/v1/enterprises/{uscc}/report"), &[PURPOSE])
                .await;
            assert_eq!(
                r.status,
                200,
                "{platform}: {}",
                String::from_utf8_lossy(&r.body)
            );
            assert!(r.headers.contains_key("x-request-id"));
            let v = r.json();
            let sections = v["sections"].as_object().unwrap();
            assert!(sections.contains_key("basic"), "{platform}: {v}");
            for (name, s) in sections {
                assert_eq!(s["source"]["platform"], platform, "{name} provenance");
                let as_of = s["source"]["as_of"].as_str().unwrap();
                assert!(as_of.ends_with('Z') && as_of.len() >= 20, "as_of {as_of}");
            }
            // The answer matches the platform's own data.
            let truth = dataset.enterprise(uscc).unwrap();
            let basic = &sections["basic"]["data"];
            assert_eq!(basic["name"], truth.basic.name.as_str(), "{platform} name");
            assert_eq!(basic["uscc"], uscc);
            // Only the owning platform was asked.
            for p in &h.platforms {
                let n = h.sim_requests(p.spec.name).await.len();
                let want = usize::from(p.spec.name == platform);
                assert_eq!(
                    n, want,
                    "{} contacted {n} times for a {platform} subject",
                    p.spec.name
                );
            }
        }
    }
}

#[tokio::test]
async fn section_selection_and_unknown_sections() {
    let h = Harness::start().await;
    let dept = h.client("dept-nb");
    let hz = h.enterprise_of("hangzhou");
    let r = dept
        .get(
            &format!("/v1/enterprises/{hz}/report?sections=basic,penalties"),
            &[PURPOSE],
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let keys: Vec<String> = r.json()["sections"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, vec!["basic".to_string(), "penalties".to_string()]);
    let r = dept
        .get(
            &format!("/v1/enterprises/{hz}/report?sections=basic,gossip"),
            &[PURPOSE],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "invalid_request");
}

#[tokio::test]
async fn bad_identifiers_and_unserved_regions_never_reach_a_platform() {
    let h = Harness::start().await;
    let dept = h.client("dept-nb");
    let nb = h.enterprise_of("xinyong-ningbo");
    // Last character changed: the check fails.
    let mut bad = nb.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == '0' { '1' } else { '0' });
    for subject in [
        bad.as_str(),
        "123",
        "91310110666007217",
        "9131011066600721７T",
    ] {
        let path = format!(
            "/v1/enterprises/{}/report",
            subject.replace('７', "%EF%BC%97")
        );
        let r = dept.get(&path, &[PURPOSE]).await;
        assert_eq!(r.status, 400, "{subject}");
        assert_eq!(r.code(), "invalid_subject_id");
        // The problem detail never echoes the identifier.
        assert!(!String::from_utf8_lossy(&r.body).contains(subject));
    }
    // Valid code, region no platform serves (Shanghai).
    let r = dept
        .get("/v1/enterprises/91310110666007217T/report", &[PURPOSE])
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "subject_region_unknown");
    // Lower case is normalised and served.
    let r = dept
        .get(
            &format!(
                "/v1/enterprises/{}/report?sections=basic",
                nb.to_lowercase()
            ),
            &[PURPOSE],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["subject"]["uscc"], nb.as_str());
    let contacted = h.total_sim_requests().await;
    assert_eq!(
        contacted, 1,
        "only the valid, served query reached a platform"
    );
}

#[tokio::test]
async fn purpose_is_required_and_checked_before_any_upstream() {
    let h = Harness::start().await;
    let dept = h.client("dept-nb");
    let nb = h.enterprise_of("xinyong-ningbo");
    let path = format!("/v1/enterprises/{nb}/report");
    let r = dept.get(&path, &[]).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "purpose_required")
    );
    let r = dept
        .get(&path, &[("x-credit-purpose", "loan_underwriting")])
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (403, "purpose_not_allowed")
    );
    // The auditor has no report scope at all.
    let r = h
        .client("auditor")
        .get(&path, &[("x-credit-purpose", "audit_review")])
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (403, "scope_denied")
    );
    // A second purpose or authorization header is ambiguous, not a choice
    // of the first (whichever it is).
    for headers in [
        [
            ("x-credit-purpose", "administrative_approval"),
            ("x-credit-purpose", "loan_underwriting"),
        ],
        [
            ("x-credit-purpose", "administrative_approval"),
            ("x-credit-purpose", "administrative_approval"),
        ],
        [
            ("x-credit-purpose", "administrative_approval"),
            ("x-credit-authorization", "a.b.c"),
        ],
    ] {
        let mut headers = headers.to_vec();
        if headers[1].0 == "x-credit-authorization" {
            headers.push(("x-credit-authorization", "d.e.f"));
        }
        let r = dept.get(&path, &headers).await;
        assert_eq!(
            (r.status.as_u16(), r.code().as_str()),
            (400, "invalid_request"),
            "{headers:?}"
        );
        assert!(r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("more than once"));
    }
    assert_eq!(h.total_sim_requests().await, 0);
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let h = Harness::start().await;
    let nb = h.enterprise_of("xinyong-ningbo");
    let body = vec![b'x'; 65 * 1024];
    let r = h
        .client("dept-nb")
        .try_request(
            http::Method::GET,
            &format!("/v1/enterprises/{nb}/report"),
            &[PURPOSE],
            body.into(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 413);
    assert_eq!(r.code(), "payload_too_large");
    // Like every answer (SPEC §4): its request id, and not to be cached.
    assert_eq!(r.headers["cache-control"], "no-store");
    assert!(r.headers.contains_key("x-request-id"));
    assert_eq!(h.total_sim_requests().await, 0);
}

/// A body over the limit (within what is drained) is read to its end
/// before the 413 goes out, so the client has finished sending when the
/// answer comes, and an HTTP/1.1 connection stays usable.
#[tokio::test]
async fn a_body_over_the_limit_is_read_to_its_end_before_the_413() {
    use tokio::io::AsyncWriteExt as _;
    let h = Harness::start().await;
    let nb = h.enterprise_of("xinyong-ningbo");
    let mut tls = h.client("dept-nb").connect().await.unwrap();
    let body = vec![b' '; 512 * 1024];
    let head = format!(
        "POST /v1/sanctions/check HTTP/1.1\r\nHost: localhost\r\n\
         X-Credit-Purpose: administrative_approval\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(&body).await.unwrap();
    assert_eq!(
        &credgate_integration::read_h1_status(&mut tls).await,
        b"HTTP/1.1 413"
    );
    // The same connection serves the next request.
    let next = format!(
        "GET /v1/enterprises/{nb}/report?sections=basic HTTP/1.1\r\nHost: localhost\r\n\
         X-Credit-Purpose: administrative_approval\r\n\r\n"
    );
    tls.write_all(next.as_bytes()).await.unwrap();
    assert_eq!(
        &credgate_integration::read_h1_status(&mut tls).await,
        b"HTTP/1.1 200"
    );
}

/// Over HTTP/2 too, however large the body: the client gets its 413
/// (the stream is ended after the answer, not reset before it).
#[tokio::test]
async fn bodies_over_the_limit_get_413_over_http2() {
    let h = Harness::start().await;
    let dept = h.client("dept-nb").http2();
    for size in [70 * 1024, 300 * 1024, 2 * 1024 * 1024] {
        for _ in 0..3 {
            let r = dept
                .try_request(
                    http::Method::POST,
                    "/v1/sanctions/check",
                    &[PURPOSE, ("content-type", "application/json")],
                    vec![b' '; size].into(),
                )
                .await
                .unwrap_or_else(|e| panic!("{size} bytes: {e}"));
            assert_eq!(r.status, 413, "{size} bytes");
            assert_eq!(r.code(), "payload_too_large");
            assert_eq!(r.headers["cache-control"], "no-store", "{size} bytes");
        }
    }
    assert_eq!(h.total_sim_requests().await, 0);
}

/// A report request carrying `padding` in an extra header.
async fn padded_report(h: &Harness, padding: &str) -> Result<credgate_integration::Reply, String> {
    let nb = h.enterprise_of("xinyong-ningbo");
    h.client("dept-nb")
        .try_request(
            http::Method::GET,
            &format!("/v1/enterprises/{nb}/report"),
            &[PURPOSE, ("x-padding", padding)],
            bytes::Bytes::new(),
        )
        .await
}

#[tokio::test]
async fn oversized_headers_are_refused() {
    let h = Harness::start().await;
    // Far over what the codec buffers (twice max_header_bytes): refused
    // by the codec, never read into memory whole.
    let big = "a".repeat(256 * 1024);
    let r = padded_report(&h, &big).await;
    match r {
        Ok(reply) => {
            assert_eq!(reply.status, 400);
            assert_eq!(reply.code(), "invalid_request");
        }
        Err(e) => assert!(!e.is_empty(), "connection closed on oversized head"),
    }
    assert_eq!(h.total_sim_requests().await, 0);
}

/// Sends `raw` on a new HTTP/1.1 connection of dept-nb and reads until the
/// server closes it: (head, body).
async fn raw_exchange(h: &Harness, raw: &[u8]) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tls = h.client("dept-nb").connect().await.unwrap();
    tls.write_all(raw).await.unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        let mut buf = [0u8; 4096];
        loop {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server closes the connection after its answer: {:?}",
        String::from_utf8_lossy(&got)
    );
    let text = String::from_utf8_lossy(&got).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a whole answer");
    (head.to_ascii_lowercase(), body.to_owned())
}

/// What the connection's codec refuses by itself (before the handler sees
/// a request) is still a problem document, never a bare status.
#[tokio::test]
async fn requests_the_codec_cannot_parse_get_a_problem_document() {
    let h = Harness::start().await;
    let nb = h.enterprise_of("xinyong-ningbo");
    let many_fields: String = (0..120).map(|i| format!("x-f{i}: v\r\n")).collect();
    let cases = [
        (
            "malformed request line",
            "GET /v1/nope HTTP/1.1 trailing\r\nHost: localhost\r\n\r\n".to_owned(),
            "malformed",
        ),
        (
            "bad header field",
            format!("GET /v1/enterprises/{nb}/report HTTP/1.1\r\nHost: localhost\r\nbad header: x\r\n\r\n"),
            "malformed",
        ),
        (
            "over 100 header fields",
            format!("GET /v1/enterprises/{nb}/report HTTP/1.1\r\nHost: localhost\r\n{many_fields}\r\n"),
            "too large",
        ),
        (
            // Unfinished: a whole head that fits one read is parsed, and
            // the handler refuses it (a_head_over_the_bound_...).
            "head growing past twice max_header_bytes",
            format!(
                "GET /v1/enterprises/{nb}/report HTTP/1.1\r\nHost: localhost\r\nx-padding: {}",
                "a".repeat(40 * 1024)
            ),
            "too large",
        ),
    ];
    for (what, raw, detail) in cases {
        let (head, body) = raw_exchange(&h, raw.as_bytes()).await;
        assert!(head.starts_with("http/1.1 400"), "{what}: {head}");
        assert!(
            head.contains("content-type: application/problem+json"),
            "{what}: {head}"
        );
        assert!(head.contains("\r\nx-request-id: "), "{what}: {head}");
        assert!(head.contains("cache-control: no-store"), "{what}: {head}");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map(|v| v.trim().parse().unwrap())
            .expect("a content-length");
        assert_eq!(length, body.len(), "{what}: {body}");
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["code"], "invalid_request", "{what}: {doc}");
        assert_eq!(doc["status"], 400, "{what}: {doc}");
        assert_eq!(doc["type"], "urn:credgate:problem:invalid_request");
        assert!(doc["title"].is_string());
        assert!(
            doc["detail"].as_str().unwrap().contains(detail),
            "{what}: {doc}"
        );
    }
    assert_eq!(h.total_sim_requests().await, 0);
    // No audit record (nothing reached policy evaluation), but each is
    // counted by reason.
    assert!(h.audit_records("client=dept-nb").await.is_empty());
    let stats = &h.gw().stats.codec_refusals;
    eventually("the refusals counted", async || {
        stats.get(CodecRefusal::Malformed) == 2 && stats.get(CodecRefusal::TooLarge) == 2
    })
    .await;
    assert_eq!(stats.get(CodecRefusal::HeaderTimeout), 0);
    let text = h.metrics_text().await;
    for line in [
        "credgate_http_codec_refusals_total{reason=\"malformed\"} 2",
        "credgate_http_codec_refusals_total{reason=\"too_large\"} 2",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    // The gateway serves on.
    let ok = padded_report(&h, "x").await.unwrap();
    assert_eq!(ok.status, 200);
}

/// A head over `max_header_bytes` (16 KiB here) but within what the codec
/// buffers is refused like any other malformed request: a problem document,
/// an audit record, no platform call.
#[tokio::test]
async fn a_head_over_the_bound_gets_a_problem_document() {
    let h = Harness::start().await;
    let nb = h.enterprise_of("xinyong-ningbo");
    let big = "a".repeat(20 * 1024);
    let r = padded_report(&h, &big).await.unwrap();
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.code(), "invalid_request");
    assert_eq!(
        r.headers["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    assert!(r.headers.contains_key("x-audit-seq"));
    assert_eq!(h.total_sim_requests().await, 0);
    // Just under the bound passes.
    let fits = "a".repeat(15 * 1024);
    let r = h
        .client("dept-nb")
        .get(
            &format!("/v1/enterprises/{nb}/report?sections=basic"),
            &[PURPOSE, ("x-padding", &fits)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[tokio::test]
async fn personal_data_never_leaves_in_clear() {
    let h = Harness::start().await;
    let dept = h.client("dept-nb");
    let dataset = credgate_sim::Dataset::generate(credgate_integration::SEED);
    let mut saw_masked_id = false;
    for e in h.samples["enterprises"].as_array().unwrap() {
        let uscc = e["uscc"].as_str().unwrap();
        let r = dept
            .get(&format!("/v1/enterprises/{uscc}/report"), &[PURPOSE])
            .await;
        assert_eq!(
            r.status,
            200,
            "{uscc}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let text = String::from_utf8_lossy(&r.body).to_string();
        assert_eq!(
            scan::id_numbers(&text),
            Vec::<String>::new(),
            "ID number in clear"
        );
        assert_eq!(
            scan::mobiles(&text),
            Vec::<String>::new(),
            "mobile in clear"
        );
        let truth = dataset.enterprise(uscc).unwrap();
        let rep = &truth.basic.legal_representative;
        assert!(
            !text.contains(&rep.name),
            "legal representative name in clear"
        );
        let v = r.json();
        if let Some(id) =
            v["sections"]["basic"]["data"]["legal_representative"]["id_number"].as_str()
        {
            let real = rep.id_number.as_deref().unwrap();
            assert_eq!(id.chars().count(), 18);
            assert_eq!(&id[..6], &real[..6]);
            assert!(id.ends_with(&real[14..]));
            assert_eq!(&id[6..14], "********");
            saw_masked_id = true;
        }
    }
    assert!(
        saw_masked_id,
        "the department sees masked legal representative IDs"
    );
}

#[tokio::test]
async fn the_demo_platforms_legacy_codes_are_served_end_to_end() {
    // samples.json lists the pre-standard codes the Xiamen platform holds
    // "so that anyone can check answers against the platforms' own data":
    // the demo policy allows each of them, so each reads, and says so.
    let h = Harness::start().await;
    let dept = h.client("dept-nb");
    let codes = h.samples["legacy_codes"].as_array().unwrap().clone();
    assert!(!codes.is_empty());
    for code in codes {
        let code = code.as_str().unwrap();
        let r = dept
            .get(
                &format!("/v1/enterprises/{code}/report?sections=basic"),
                &[PURPOSE],
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let v = r.json();
        assert_eq!(v["subject"]["legacy_code"], true);
        assert_eq!(v["sections"]["basic"]["source"]["platform"], "xiamen");
        assert_eq!(v["sections"]["basic"]["data"]["uscc"], code);
    }
}

#[tokio::test]
async fn request_timeout_bounds_a_body_that_never_comes_and_a_stalled_platform() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let h = Harness::start_with(credgate_integration::Options {
        server_extra: "request_timeout_ms = 600".into(),
        ..Default::default()
    })
    .await;
    // A body announced and never sent: refused, recorded, the connection
    // not held.
    let mut tls = h.client("dept-nb").connect().await.unwrap();
    tls.write_all(
        b"POST /v1/sanctions/check HTTP/1.1\r\nHost: localhost\r\n\
          X-Credit-Purpose: administrative_approval\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{",
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within 10 s");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("\"code\":\"invalid_request\""), "{text}");
    assert!(text.to_ascii_lowercase().contains("x-audit-seq"), "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    // A platform that hangs longer than the request may take: 504.
    h.fault("xinyong-ningbo", serde_json::json!({ "mode": "hang" }))
        .await;
    let asked = std::time::Instant::now();
    let r = h
        .client("dept-nb")
        .get(&h.basic_report_path("xinyong-ningbo"), &[PURPOSE])
        .await;
    assert_eq!(r.status, 504, "{}", String::from_utf8_lossy(&r.body));
    // Before the upstream's own 3 s timeout.
    assert!(asked.elapsed() < std::time::Duration::from_millis(2500));
    assert_eq!(r.code(), "upstream_unavailable");
    assert!(r.headers.contains_key("x-audit-seq"));
    // Its record names the platform it was waiting for.
    let records = h.audit_records("client=dept-nb&limit=1").await;
    assert_eq!(
        records[0]["upstreams"][0]["name"], "xinyong-ningbo",
        "{records:?}"
    );
    assert_eq!(records[0]["upstreams"][0]["outcome"], "timeout");
}
