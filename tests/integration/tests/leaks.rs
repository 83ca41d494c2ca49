//! The leak check that cannot drift (issue: telemetry without leaks): run
//! the integration scenarios with the production log layer captured, spans
//! exported to an in-memory exporter, and metrics scraped — and assert that
//! no raw identifier, name or phone number of the synthetic data appears in
//! any of them. A second test proves the check fires: a raw USCC logged
//! through the production logger is found.
//!
//! Its own test binary: it installs the process-wide subscriber.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use credgate_integration::{plain, Harness};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

struct Sinks {
    logs: Capture,
    spans: InMemorySpanExporter,
    provider: SdkTracerProvider,
}

fn sinks() -> &'static Sinks {
    static S: OnceLock<Sinks> = OnceLock::new();
    S.get_or_init(|| {
        let logs = Capture::default();
        let spans = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        credgate::telemetry::install(
            tracing_subscriber::EnvFilter::new("debug"),
            logs.clone(),
            Some(&provider),
        );
        Sinks {
            logs,
            spans,
            provider,
        }
    })
}

/// Every forbidden string found in `text`.
fn leaks<'a>(text: &str, forbidden: &'a [String]) -> Vec<&'a str> {
    forbidden
        .iter()
        .filter(|f| text.contains(f.as_str()))
        .map(String::as_str)
        .collect()
}

fn spans_text(spans: &InMemorySpanExporter) -> (String, usize) {
    let finished = spans.get_finished_spans().unwrap();
    let mut out = String::new();
    for s in &finished {
        out.push_str(&s.name);
        out.push('\n');
        for kv in &s.attributes {
            out.push_str(&format!("{}={}\n", kv.key, kv.value));
        }
        for e in s.events.iter() {
            out.push_str(&e.name);
            for kv in &e.attributes {
                out.push_str(&format!(" {}={}", kv.key, kv.value));
            }
            out.push('\n');
        }
    }
    (out, finished.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_identifier_name_or_phone_in_logs_spans_or_metrics() {
    let s = sinks();
    let h = Harness::start().await;
    let ds = credgate_sim::Dataset::generate(credgate_integration::SEED);
    // Everything personal or identifying in the synthetic world.
    let mut forbidden: Vec<String> = Vec::new();
    for e in ds.enterprises() {
        forbidden.push(e.uscc.clone());
        let rep = &e.basic.legal_representative;
        forbidden.push(rep.name.clone());
        forbidden.extend(rep.id_number.clone());
        forbidden.extend(rep.phone.clone());
    }
    for p in ds.persons() {
        forbidden.push(p.id.clone());
        forbidden.push(p.name.clone());
        forbidden.push(p.phone.clone());
    }
    forbidden.retain(|f| f.chars().count() >= 2);

    // The scenarios: every endpoint, allowed and refused, healthy and failing.
    let approval = ("x-credit-purpose", "administrative_approval");
    let dept = h.client("dept-nb");
    let mut usccs = Vec::new();
    for e in h.samples["enterprises"].as_array().unwrap().iter().take(12) {
        let u = e["uscc"].as_str().unwrap().to_owned();
        assert_eq!(
            dept.get(&format!("/v1/enterprises/{u}/report"), &[approval])
                .await
                .status,
            200
        );
        usccs.push(u);
    }
    let nb = h.enterprise_of("xinyong-ningbo");
    let t = h.token(&nb, "bank-nb", "enterprise.report", "loan_underwriting");
    let bank = h.client("bank-nb");
    assert_eq!(
        bank.get(
            &format!("/v1/enterprises/{nb}/report"),
            &[
                ("x-credit-purpose", "loan_underwriting"),
                ("x-credit-authorization", &t)
            ]
        )
        .await
        .status,
        200
    );
    let other = h.enterprise_of("hangzhou");
    let _ = bank
        .get(
            &format!("/v1/enterprises/{other}/report"),
            &[
                ("x-credit-purpose", "loan_underwriting"),
                ("x-credit-authorization", &t),
            ],
        )
        .await;
    let mut bad = nb.clone();
    bad.pop();
    bad.push('Z');
    let _ = dept
        .get(&format!("/v1/enterprises/{bad}/report"), &[approval])
        .await;
    let peer = h.client("peer-hz");
    let mut ids = Vec::new();
    for p in h.samples["persons"].as_array().unwrap().iter().take(8) {
        let id = p["id"].as_str().unwrap().to_owned();
        let t = h.token(&id, "peer-hz", "person.score", "score_recognition");
        let _ = peer
            .get(
                &format!("/v1/persons/{id}/score"),
                &[
                    ("x-credit-purpose", "score_recognition"),
                    ("x-credit-authorization", &t),
                ],
            )
            .await;
        ids.push(id);
    }
    let batch: Vec<&String> = usccs.iter().chain(ids.iter()).collect();
    let body = json!({ "subjects": batch }).to_string();
    let r = dept
        .post(
            "/v1/sanctions/check",
            &[approval, ("content-type", "application/json")],
            body.clone(),
        )
        .await;
    assert_eq!(r.status, 200);
    h.fault("xiamen", json!({ "mode": "malformed" })).await;
    h.fault("hangzhou", json!({ "mode": "error", "error_rate": 1.0 }))
        .await;
    let _ = dept
        .post(
            "/v1/sanctions/check",
            &[approval, ("content-type", "application/json")],
            body,
        )
        .await;
    let xm = h.enterprise_of("xiamen");
    let _ = dept
        .get(&format!("/v1/enterprises/{xm}/report"), &[approval])
        .await;
    let t = h.token(&nb, "peer-hz", "self.access_log", "subject_request");
    let _ = peer
        .get(
            &format!("/v1/subjects/{nb}/access-log"),
            &[
                ("x-credit-purpose", "subject_request"),
                ("x-credit-authorization", &t),
            ],
        )
        .await;
    let _ = h
        .client("auditor")
        .get(
            &format!("/v1/audit/records?subject={nb}"),
            &[("x-credit-purpose", "audit_review")],
        )
        .await;
    let metrics = plain(
        h.gw().admin_addr.unwrap(),
        http::Method::GET,
        "/metrics",
        None,
    )
    .await
    .1;
    let metrics = String::from_utf8_lossy(&metrics).to_string();
    let _ = s.provider.force_flush();

    let logs = String::from_utf8_lossy(&s.logs.0.lock().unwrap()).to_string();
    let (spans, n_spans) = spans_text(&s.spans);
    // The check is not vacuous: there is a lot to look at.
    let n_req = logs.lines().filter(|l| l.contains("\"request\"")).count();
    assert!(
        n_req >= 25,
        "request log lines captured: {n_req}; sample: {}",
        logs.lines().take(3).collect::<Vec<_>>().join("\n")
    );
    assert!(logs.contains("upstream"), "upstream failures were logged");
    assert!(n_spans >= 40, "spans exported: {n_spans}");
    assert!(
        spans.contains("upstream=xiamen"),
        "upstream spans carry the upstream name"
    );
    assert!(metrics.contains("credgate_requests_total"));
    for (what, text) in [("logs", &logs), ("spans", &spans), ("metrics", &metrics)] {
        let found = leaks(text, &forbidden);
        assert!(
            found.is_empty(),
            "personal data in {what}: {} item(s)",
            found.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_fires_when_a_raw_uscc_is_logged() {
    let s = sinks();
    // Not an identifier of the synthetic data, so the other test is unaffected.
    let uscc = "91310110666007217T";
    tracing::info!(subject = uscc, "a careless log line");
    let logs = String::from_utf8_lossy(&s.logs.0.lock().unwrap()).to_string();
    assert_eq!(
        leaks(&logs, &[uscc.to_owned()]),
        vec![uscc],
        "the check sees a leak"
    );
}
