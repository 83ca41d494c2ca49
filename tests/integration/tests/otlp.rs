//! Traces are exported by OTLP over HTTP when an endpoint is configured:
//! an in-process collector receives protobuf batches carrying the client's
//! trace id. Its own test binary: it installs the process-wide subscriber.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use credgate_integration::Harness;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the collector received: (path, content type, body).
type Received = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_otlp_collector() {
    // A minimal OTLP/HTTP collector: records every POST body.
    let received: Received = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sink = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let sink = sink.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let sink = sink.clone();
                    async move {
                        let path = req.uri().path().to_owned();
                        let ct = req
                            .headers()
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned();
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|c| c.to_bytes())
                            .unwrap_or_default();
                        sink.lock().unwrap().push((path, ct, body.to_vec()));
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::new(),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    let guard = credgate::telemetry::init(
        &credgate::telemetry::TelemetryConfig {
            otlp_endpoint: Some(format!("http://{addr}/v1/traces")),
            service_name: Some("credgate-test".into()),
        },
        "warn",
    )
    .unwrap();

    let h = Harness::start().await;
    let nb = h.enterprise_of("xinyong-ningbo");
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let r = h
        .client("dept-nb")
        .get(
            &format!("/v1/enterprises/{nb}/report?sections=basic"),
            &[
                ("x-credit-purpose", "administrative_approval"),
                ("traceparent", &format!("00-{trace}-00f067aa0ba902b7-01")),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    // The upstream saw the request span's child context, same trace.
    let seen = h.sim_requests("xinyong-ningbo").await;
    assert!(seen[0]["traceparent"].as_str().unwrap().contains(trace));
    // Flush: shutting the provider down exports what is buffered.
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .unwrap();
    let want = hex::decode(trace).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        {
            let got = received.lock().unwrap();
            if let Some((path, ct, _)) = got
                .iter()
                .find(|(_, _, b)| b.windows(16).any(|w| w == want.as_slice()))
            {
                assert_eq!(path, "/v1/traces");
                assert_eq!(ct, "application/x-protobuf");
                // The subject never appears in what is exported.
                assert!(got
                    .iter()
                    .all(|(_, _, b)| !b.windows(nb.len()).any(|w| w == nb.as_bytes())));
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no span with the client's trace id reached the collector"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
