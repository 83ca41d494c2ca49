//! The simulated platforms over real mutual TLS on loopback: formats,
//! client-certificate enforcement, the control endpoints and every fault.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on broken fixtures

use std::error::Error;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use credgate_sim::{start_all, Dataset, PlatformId, RunningPlatform};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

type BoxError = Box<dyn Error + Send + Sync>;
const SEED: u64 = 2026;

fn pem_certs(path: &Path) -> Vec<CertificateDer<'static>> {
    let pem = std::fs::read(path).unwrap();
    rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<_, _>>()
        .unwrap()
}

fn pem_key(path: &Path) -> PrivateKeyDer<'static> {
    let pem = std::fs::read(path).unwrap();
    rustls_pemfile::private_key(&mut pem.as_slice())
        .unwrap()
        .unwrap()
}

/// A client config trusting the upstream CA, presenting `identity` if given.
fn client(dir: &Path, identity: Option<(&str, &str)>, alpn: &[u8]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for c in pem_certs(&dir.join("upstream/ca.crt")) {
        roots.add(c).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let b = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut cfg = match identity {
        Some((crt, key)) => b
            .with_client_auth_cert(pem_certs(&dir.join(crt)), pem_key(&dir.join(key)))
            .unwrap(),
        None => b.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![alpn.to_vec()];
    Arc::new(cfg)
}

fn gateway(dir: &Path) -> Arc<ClientConfig> {
    client(
        dir,
        Some(("upstream/gateway.crt", "upstream/gateway.key")),
        b"http/1.1",
    )
}

/// One request over a fresh mTLS connection (HTTP/1.1 or h2 by ALPN).
async fn call(
    cfg: Arc<ClientConfig>,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    traceparent: Option<&str>,
) -> Result<(u16, Bytes), BoxError> {
    let tcp = TcpStream::connect(addr).await?;
    let tls = TlsConnector::from(cfg)
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?;
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let mut req = Request::builder()
        .method(method)
        .uri(format!("https://localhost{path}"));
    if let Some(tp) = traceparent {
        req = req.header("traceparent", tp);
    }
    if !h2 {
        req = req.header("host", "localhost");
    }
    let req = req.body(Full::new(Bytes::from(body.to_owned())))?;
    let resp = if h2 {
        let (mut send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        send.send_request(req).await?
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        send.send_request(req).await?
    };
    let status = resp.status().as_u16();
    Ok((status, resp.into_body().collect().await?.to_bytes()))
}

/// A plain-HTTP call to a control address.
async fn control(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, Value) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn setup() -> (tempfile::TempDir, Vec<RunningPlatform>, Dataset) {
    let dir = tempfile::tempdir().unwrap();
    let opts = credgate_certs::DevPkiOptions {
        out: dir.path().to_path_buf(),
        force: true,
    };
    credgate_certs::generate_dev_pki(&opts).unwrap();
    let running = start_all(dir.path(), SEED).await.unwrap();
    (dir, running, Dataset::generate(SEED))
}

fn owned_by(ds: &Dataset, p: PlatformId) -> String {
    ds.enterprises()
        .iter()
        .find(|e| e.platform == p && !e.legacy)
        .unwrap()
        .uscc
        .clone()
}

fn platform(running: &[RunningPlatform], p: PlatformId) -> &RunningPlatform {
    running.iter().find(|r| r.spec.id == p).unwrap()
}

#[tokio::test]
async fn every_platform_answers_in_its_own_format_over_mtls() {
    let (dir, running, ds) = setup().await;
    let cfg = gateway(dir.path());
    let nb = owned_by(&ds, PlatformId::Ningbo);
    let hz = owned_by(&ds, PlatformId::Hangzhou);
    let xm = owned_by(&ds, PlatformId::Xiamen);

    let r = platform(&running, PlatformId::Ningbo);
    let (status, body) = call(
        cfg.clone(),
        r.address,
        "GET",
        &format!("/api/v1/enterprise/{nb}/credit?modules=jbxx"),
        "",
        None,
    )
    .await
    .unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, v["code"].as_str()), (200, Some("0000")));
    assert_eq!(v["data"]["jbxx"]["tyshxydm"], nb.as_str());

    let r = platform(&running, PlatformId::Zhejiang);
    let q = format!(r#"{{"service":"credit.report","tyshxydm":"{nb}","items":["base_info"]}}"#);
    let (status, body) = call(
        cfg.clone(),
        r.address,
        "POST",
        "/gateway/v2/query",
        &q,
        None,
    )
    .await
    .unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, &v["success"]), (200, &Value::Bool(true)));
    assert_eq!(v["result"]["base_info"]["credit_code"], nb.as_str());

    let r = platform(&running, PlatformId::Hangzhou);
    let (_, body) = call(
        cfg.clone(),
        r.address,
        "GET",
        &format!("/hz/credit/v1/qy?tyshxydm={hz}&lb=JBXX"),
        "",
        None,
    )
    .await
    .unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["rows"][0]["fields"]["TYSHXYDM"], hz.as_str());
    let (_, body) = call(
        cfg.clone(),
        r.address,
        "GET",
        &format!("/hz/credit/v1/qy?tyshxydm={nb}&lb=JBXX"),
        "",
        None,
    )
    .await
    .unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v["status"], 404,
        "Hangzhou does not hold Ningbo's enterprises"
    );

    let r = platform(&running, PlatformId::Xiamen);
    let (_, body) = call(
        cfg.clone(),
        r.address,
        "GET",
        &format!("/xmcredit/report?code={xm}&sections=JBXX"),
        "",
        None,
    )
    .await
    .unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        text.contains(&format!("<CreditCode>{xm}</CreditCode>")),
        "{text}"
    );

    // h2 is offered and works.
    let h2 = client(
        dir.path(),
        Some(("upstream/gateway.crt", "upstream/gateway.key")),
        b"h2",
    );
    let r = platform(&running, PlatformId::Ningbo);
    let (status, _) = call(
        h2,
        r.address,
        "GET",
        &format!("/api/v1/enterprise/{nb}/credit"),
        "",
        None,
    )
    .await
    .unwrap();
    assert_eq!(status, 200);

    let pj = credgate_sim::platforms_json(&running);
    assert_eq!(pj.as_array().map(Vec::len), Some(4));
    assert_eq!(pj[1]["name"], "xinyong-zhejiang");
    assert_eq!(pj[1]["kind"], "province");
    assert!(pj[0]["address"]
        .as_str()
        .unwrap()
        .starts_with("https://127.0.0.1:"));
    assert!(pj[0]["control"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
}

#[tokio::test]
async fn clients_without_a_trusted_certificate_get_no_answer() {
    let (dir, running, ds) = setup().await;
    let r = platform(&running, PlatformId::Ningbo);
    let path = format!(
        "/api/v1/enterprise/{}/credit",
        owned_by(&ds, PlatformId::Ningbo)
    );
    let anonymous = client(dir.path(), None, b"http/1.1");
    assert!(call(anonymous, r.address, "GET", &path, "", None)
        .await
        .is_err());
    let rogue = client(
        dir.path(),
        Some(("rogue/client.crt", "rogue/client.key")),
        b"http/1.1",
    );
    assert!(call(rogue, r.address, "GET", &path, "", None)
        .await
        .is_err());
    assert!(
        r.requests().is_empty(),
        "refused handshakes never reach the request log"
    );
}

#[tokio::test]
async fn faults_and_request_log() {
    let (dir, running, ds) = setup().await;
    let cfg = gateway(dir.path());
    let r = platform(&running, PlatformId::Ningbo);
    let path = format!(
        "/api/v1/enterprise/{}/credit?modules=jbxx",
        owned_by(&ds, PlatformId::Ningbo)
    );
    let get = || call(cfg.clone(), r.address, "GET", &path, "", None);

    let (s, v) = control(r.control, "POST", "/_sim/faults", r#"{"mode":"error"}"#).await;
    assert_eq!((s, v["error_rate"].as_f64()), (200, Some(1.0)));
    let (status, _) = get().await.unwrap();
    assert!(status == 500 || status == 503, "{status}");
    let (s, v) = control(r.control, "GET", "/_sim/faults", "").await;
    assert_eq!((s, v["mode"].as_str()), (200, Some("error")));

    control(
        r.control,
        "POST",
        "/_sim/faults",
        r#"{"mode":"error","error_rate":0.0}"#,
    )
    .await;
    assert_eq!(get().await.unwrap().0, 200);

    control(r.control, "POST", "/_sim/faults", r#"{"mode":"malformed"}"#).await;
    let (status, body) = get().await.unwrap();
    assert_eq!(status, 200);
    assert!(!body.is_empty() && serde_json::from_slice::<Value>(&body).is_err());

    // One section spoiled: the body parses, that section's entries lost
    // their fields, the others are as before.
    let both = format!(
        "/api/v1/enterprise/{}/credit?modules=jbxx,xycn",
        owned_by(&ds, PlatformId::Ningbo)
    );
    control(r.control, "POST", "/_sim/faults", r#"{"mode":"none"}"#).await;
    let (_, normal) = call(cfg.clone(), r.address, "GET", &both, "", None)
        .await
        .unwrap();
    let normal: Value = serde_json::from_slice(&normal).unwrap();
    let (s, v) = control(
        r.control,
        "POST",
        "/_sim/faults",
        r#"{"mode":"malformed","section":"commitments"}"#,
    )
    .await;
    assert_eq!((s, v["section"].as_str()), (200, Some("commitments")));
    let (status, body) = call(cfg.clone(), r.address, "GET", &both, "", None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let spoiled: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(spoiled["data"]["xycn"], serde_json::json!([{}]));
    assert_eq!(spoiled["data"]["jbxx"], normal["data"]["jbxx"]);
    // A section fault only where sections are keyed, only with malformed.
    let hz = platform(&running, PlatformId::Hangzhou);
    for (addr, body) in [
        (
            hz.control,
            r#"{"mode":"malformed","section":"commitments"}"#,
        ),
        (r.control, r#"{"mode":"error","section":"commitments"}"#),
        (r.control, r#"{"mode":"malformed","section":"nonsense"}"#),
        (r.control, r#"{"mode":"none","status":400}"#),
        (r.control, r#"{"mode":"error","status":200}"#),
        (r.control, r#"{"mode":"error","bare":true}"#),
    ] {
        let (s, _) = control(addr, "POST", "/_sim/faults", body).await;
        assert_eq!(s, 400, "{body}");
    }

    control(r.control, "POST", "/_sim/faults", r#"{"mode":"reset"}"#).await;
    assert!(get().await.is_err());

    control(
        r.control,
        "POST",
        "/_sim/faults",
        r#"{"mode":"latency","latency_ms":300}"#,
    )
    .await;
    let t = Instant::now();
    assert_eq!(get().await.unwrap().0, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));

    control(r.control, "DELETE", "/_sim/requests", "").await;
    control(r.control, "POST", "/_sim/faults", r#"{"mode":"hang"}"#).await;
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let hung = tokio::time::timeout(
        Duration::from_millis(500),
        call(cfg.clone(), r.address, "GET", &path, "", Some(tp)),
    )
    .await;
    assert!(hung.is_err(), "a hung request is never answered");
    let (_, log) = control(r.control, "GET", "/_sim/requests", "").await;
    let log = log.as_array().cloned().unwrap_or_default();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["method"], "GET");
    assert_eq!(log[0]["path"], path.as_str());
    assert_eq!(log[0]["traceparent"], tp);
    assert_eq!(log[0]["client_identity"], "spiffe://credgate.dev/gateway");
    assert!(log[0]["at"].as_str().is_some_and(|a| a.ends_with('Z')));

    let (s, _) = control(r.control, "POST", "/_sim/faults", r#"{"mode":"explode"}"#).await;
    assert_eq!(s, 400);
    let (s, _) = control(
        r.control,
        "POST",
        "/_sim/faults",
        r#"{"mode":"error","error_rate":2}"#,
    )
    .await;
    assert_eq!(s, 400);
    control(r.control, "POST", "/_sim/faults", r#"{"mode":"none"}"#).await;
    assert_eq!(get().await.unwrap().0, 200);
    // Faults are per platform: the others were never affected.
    let z = platform(&running, PlatformId::Zhejiang);
    assert_eq!(
        control(z.control, "GET", "/_sim/faults", "").await.1["mode"],
        "none"
    );
    let (s, _) = control(r.control, "DELETE", "/_sim/requests", "").await;
    assert_eq!(s, 204);
    assert!(r.requests().is_empty());
    for p in running {
        p.shutdown().await;
    }
}
