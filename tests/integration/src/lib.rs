//! Test support for credgate's end-to-end tests: a temporary dev PKI, the
//! four simulated platforms, an in-process gateway on `127.0.0.1:0`, and an
//! mTLS client that speaks HTTP/1.1 or HTTP/2 with any of the dev
//! certificates. Everything stays on loopback; nothing waits by sleeping.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use bytes::Bytes;
use credgate::app::Running;
use credgate::config::Config;
use credgate_sim::RunningPlatform;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio::net::TcpStream;

/// Seed of the synthetic data used by every test.
pub const SEED: u64 = credgate::demo::DEMO_SEED;

/// A complete test deployment.
pub struct Harness {
    /// The gateway (dropped first: fields drop in declaration order).
    pub gateway: Option<Running>,
    /// The simulated platforms.
    pub platforms: Vec<RunningPlatform>,
    /// `samples.json` of the synthetic data.
    pub samples: Value,
    /// The gateway configuration file.
    pub config_path: PathBuf,
    /// Holds certs, configuration, policy and audit files (dropped last).
    pub dir: TempDir,
}

/// Options for [`Harness::start_with`].
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Extra text appended to the `[server]` table.
    pub server_extra: String,
    /// Replaces the demo policy.
    pub policy: Option<String>,
    /// Upstream timeout in ms (default 3000).
    pub upstream_timeout_ms: Option<u64>,
    /// A shared Redis (`redis://127.0.0.1:PORT`).
    pub redis_url: Option<String>,
    /// `[redis] password_file` (with `redis_url`).
    pub redis_password_file: Option<PathBuf>,
    /// Extra lines for the `[redis]` table (with `redis_url`).
    pub redis_extra: String,
    /// Extra lines for every `[[upstreams]]` table (e.g. breaker settings).
    pub upstream_extra: String,
    /// Sanctions fan-out deadline in ms (default 2000).
    pub sanctions_deadline_ms: Option<u64>,
    /// `[sanctions] calls_per_platform` (default: the gateway's).
    pub sanctions_calls_per_platform: Option<usize>,
    /// Extra top-level tables appended to the configuration.
    pub toml_extra: String,
    /// Extra lines for the `[audit]` table.
    pub audit_extra: String,
    /// Reuse this directory's certificates and policy (a second replica).
    pub share_dir_with: Option<PathBuf>,
}

impl Harness {
    /// The demo setup: dev PKI, four platforms, demo policy, a gateway.
    pub async fn start() -> Harness {
        Harness::start_with(Options::default()).await
    }

    /// Like [`Harness::start`], with options.
    pub async fn start_with(opts: Options) -> Harness {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs");
        match &opts.share_dir_with {
            Some(other) => copy_dir(&other.join("certs"), &certs),
            None => {
                credgate_certs::generate_dev_pki(&credgate_certs::DevPkiOptions {
                    out: certs.clone(),
                    force: false,
                })
                .unwrap();
            }
        }
        credgate::demo::prepare_keys(&certs).unwrap();
        let platforms = credgate_sim::start_all(&certs, SEED).await.unwrap();
        let samples = credgate_sim::Dataset::generate(SEED).samples_json();
        std::fs::write(
            dir.path().join("policy.toml"),
            opts.policy
                .as_deref()
                .unwrap_or(credgate_policy::DEMO_POLICY),
        )
        .unwrap();
        let zero: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut toml = credgate::demo::gateway_toml(&zero, &zero, &platforms);
        if let Some(ms) = opts.upstream_timeout_ms {
            toml = toml.replace("timeout_ms = 3000", &format!("timeout_ms = {ms}"));
        }
        if !opts.upstream_extra.is_empty() {
            toml = toml.replace(
                "\ntimeout_ms = ",
                &format!("\n{}\ntimeout_ms = ", opts.upstream_extra),
            );
        }
        if let Some(ms) = opts.sanctions_deadline_ms {
            toml = toml.replace("deadline_ms = 2000", &format!("deadline_ms = {ms}"));
        }
        if let Some(n) = opts.sanctions_calls_per_platform {
            toml = toml.replace(
                "max_subjects = 100",
                &format!("max_subjects = 100\ncalls_per_platform = {n}"),
            );
        }
        if !opts.audit_extra.is_empty() {
            toml = toml.replace("[audit]\n", &format!("[audit]\n{}\n", opts.audit_extra));
        }
        if !opts.toml_extra.is_empty() {
            toml.push('\n');
            toml.push_str(&opts.toml_extra);
            toml.push('\n');
        }
        if let Some(url) = &opts.redis_url {
            toml.push_str(&format!(
                "\n[redis]\nurl = \"{url}\"\ncall_timeout_ms = 300\n"
            ));
            if let Some(f) = &opts.redis_password_file {
                toml.push_str(&format!("password_file = {:?}\n", f.display().to_string()));
            }
            toml.push_str(&opts.redis_extra);
        }
        if !opts.server_extra.is_empty() {
            toml = toml.replace(
                "crls = [\"certs/crl.pem\"]\n",
                &format!("crls = [\"certs/crl.pem\"]\n{}\n", opts.server_extra),
            );
        }
        let config_path = dir.path().join("gateway.toml");
        std::fs::write(&config_path, toml).unwrap();
        let cfg = Config::load(&config_path).unwrap();
        let gateway = credgate::app::start(&cfg).await.unwrap();
        Harness {
            dir,
            platforms,
            gateway: Some(gateway),
            samples,
            config_path,
        }
    }

    /// The basic-report path of a Ningbo enterprise and a single-use token
    /// of that enterprise for bank-nb (`enterprise.report`,
    /// `loan_underwriting`, `max_uses = 1`, valid an hour).
    pub fn single_use_report(&self) -> (String, String) {
        let nb = self.enterprise_of("xinyong-ningbo");
        let once = self.token_with(
            &nb,
            "bank-nb",
            &["enterprise.report"],
            "loan_underwriting",
            Some(1),
            0,
            3600,
        );
        (self.basic_report_path("xinyong-ningbo"), once)
    }

    /// A fresh authorization token signed by the demo issuer.
    pub fn token(&self, sub: &str, aud: &str, scope: &str, purpose: &str) -> String {
        self.token_with(sub, aud, &[scope], purpose, None, 0, 30 * 86_400)
    }

    /// A token with every knob: `age` seconds in the past, lifetime `ttl`.
    #[allow(clippy::too_many_arguments)]
    pub fn token_with(
        &self,
        sub: &str,
        aud: &str,
        scopes: &[&str],
        purpose: &str,
        max_uses: Option<u32>,
        age: i64,
        ttl: u64,
    ) -> String {
        let key = std::fs::read_to_string(self.certs().join("authz/issuer.key")).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        credgate_authz::issue(
            &key,
            &credgate_authz::IssueClaims {
                iss: "demo-issuer".into(),
                sub: sub.into(),
                aud: aud.into(),
                scope: scopes.iter().map(|s| s.to_string()).collect(),
                purpose: purpose.into(),
                ttl: Duration::from_secs(ttl),
                max_uses,
                kid: None,
                now_unix: now - age,
            },
        )
        .unwrap()
    }

    /// The gateway.
    pub fn gw(&self) -> &Running {
        self.gateway.as_ref().unwrap()
    }

    /// One scrape of the gateway's `/metrics` (admin listener), as text.
    pub async fn metrics_text(&self) -> String {
        let admin = self.gw().admin_addr.expect("an admin listener");
        let (_, body) = plain(admin, http::Method::GET, "/metrics", None).await;
        String::from_utf8(body.to_vec()).expect("UTF-8 metrics")
    }

    /// The gateway's client-facing address.
    pub fn addr(&self) -> SocketAddr {
        self.gw().addr
    }

    /// The directory of the dev PKI.
    pub fn certs(&self) -> PathBuf {
        self.dir.path().join("certs")
    }

    /// An mTLS client using `certs/clients/NAME.crt`.
    pub fn client(&self, name: &str) -> TestClient {
        let certs = self.certs();
        TestClient::new(
            self.addr(),
            &certs.join("ca.crt"),
            Some((
                certs.join(format!("clients/{name}.crt")),
                certs.join(format!("clients/{name}.key")),
            )),
        )
    }

    /// An mTLS client with an explicit certificate and key.
    pub fn client_with(&self, cert: &Path, key: &Path) -> TestClient {
        TestClient::new(
            self.addr(),
            &self.certs().join("ca.crt"),
            Some((cert.to_owned(), key.to_owned())),
        )
    }

    /// A platform by name.
    pub fn platform(&self, name: &str) -> &RunningPlatform {
        self.platforms
            .iter()
            .find(|p| p.spec.name == name)
            .unwrap_or_else(|| panic!("no platform {name}"))
    }

    /// Requests a platform received, from its control endpoint.
    pub async fn sim_requests(&self, platform: &str) -> Vec<Value> {
        let p = self.platform(platform);
        let (status, body) = plain(p.control, Method::GET, "/_sim/requests", None).await;
        assert_eq!(status, 200);
        serde_json::from_slice::<Value>(&body)
            .unwrap()
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Total requests received by every platform.
    pub async fn total_sim_requests(&self) -> usize {
        let mut n = 0;
        for p in &self.platforms {
            n += self.sim_requests(p.spec.name).await.len();
        }
        n
    }

    /// Clears every platform's request log.
    pub async fn clear_sim_requests(&self) {
        for p in &self.platforms {
            let (status, _) = plain(p.control, Method::DELETE, "/_sim/requests", None).await;
            assert!(status.is_success());
        }
    }

    /// Injects a fault into a platform.
    pub async fn fault(&self, platform: &str, fault: Value) {
        let p = self.platform(platform);
        let (status, _) = plain(
            p.control,
            Method::POST,
            "/_sim/faults",
            Some(fault.to_string()),
        )
        .await;
        assert!(status.is_success(), "fault injection failed: {status}");
    }

    /// The first sample enterprise held by `platform` (by samples.json).
    pub fn enterprise_of(&self, platform: &str) -> String {
        self.samples["enterprises"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["platform"] == platform)
            .and_then(|e| e["uscc"].as_str())
            .unwrap_or_else(|| panic!("no sample enterprise on {platform}"))
            .to_owned()
    }

    /// The basic-section report path of [`Harness::enterprise_of`] `platform`.
    pub fn basic_report_path(&self, platform: &str) -> String {
        let uscc = self.enterprise_of(platform);
        format!("/v1/enterprises/{uscc}/report?sections=basic")
    }

    /// The audit records the demo auditor gets for `query` (the part after
    /// `/v1/audit/records?`), newest first; panics unless it answers 200.
    pub async fn audit_records(&self, query: &str) -> Vec<Value> {
        let r = self
            .client("auditor")
            .get(
                &format!("/v1/audit/records?{query}"),
                &[("x-credit-purpose", "audit_review")],
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()["records"].as_array().cloned().unwrap_or_default()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// The demo policy with `client`'s rate limit replaced by `limit` (an
/// inline table like `{ per_second = 2, burst = 3 }`).
pub fn policy_with_limit(client: &str, limit: &str) -> String {
    let p = credgate_policy::DEMO_POLICY;
    let at = p
        .find(&format!("id = \"{client}\""))
        .expect("client in the demo policy");
    let rel = p[at..].find("rate_limit = ").expect("a rate limit line");
    let start = at + rel;
    let end = start + p[start..].find('\n').unwrap_or(p.len() - start);
    format!("{}rate_limit = {limit}{}", &p[..start], &p[end..])
}

/// The `jti` of a token (decoded without verification, for tests).
pub fn jti_of(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    v["jti"].as_str().unwrap().to_owned()
}

/// Two replicas sharing their authorization state (SPEC §6): a token
/// with `max_uses = 2` answers once on each replica and is then exhausted
/// on either; a token revoked through `revoke_via` (the Redis both use) is
/// refused by both.
pub async fn assert_replicas_share_authz_state(
    a: &Harness,
    b: &Harness,
    revoke_via: credgate_authz::RedisOptions,
) {
    let loan = ("x-credit-purpose", "loan_underwriting");
    let nb = a.enterprise_of("xinyong-ningbo");
    let path = format!("/v1/enterprises/{nb}/report?sections=basic");
    let get = |h: &Harness, token: &str| {
        let (client, path, token) = (h.client("bank-nb"), path.clone(), token.to_owned());
        async move {
            client
                .get(&path, &[loan, ("x-credit-authorization", &token)])
                .await
        }
    };
    let twice = a.token_with(
        &nb,
        "bank-nb",
        &["enterprise.report"],
        "loan_underwriting",
        Some(2),
        0,
        3600,
    );
    for h in [a, b] {
        let r = get(h, &twice).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    assert_eq!(get(a, &twice).await.code(), "authorization_exhausted");
    assert_eq!(get(b, &twice).await.code(), "authorization_exhausted");
    let token = a.token(&nb, "bank-nb", "enterprise.report", "loan_underwriting");
    assert_eq!(get(b, &token).await.status, 200);
    revoke_in_redis(revoke_via, &token).await;
    for h in [a, b] {
        assert_eq!(get(h, &token).await.code(), "authorization_revoked");
    }
}

/// Revokes `token` until tomorrow through the Redis that `options` names,
/// as `credgate authz revoke` does with a configured Redis.
pub async fn revoke_in_redis(mut options: credgate_authz::RedisOptions, token: &str) {
    use credgate_authz::AuthzState as _;
    options.call_timeout = Duration::from_secs(2);
    let state = credgate_authz::RedisState::new(&options).unwrap();
    let tomorrow = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 86_400;
    // Right after a Sentinel failover the Sentinel may briefly not name the
    // master (`MasterNameNotFoundBySentinel`): an operator would run
    // `authz revoke` again, and so does this (bounded).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match state.revoke(&jti_of(token), tomorrow).await {
            Ok(()) => return,
            Err(e) if std::time::Instant::now() < deadline => {
                eprintln!("revoke through Redis failed, trying again: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("revoke through Redis: {e}"),
        }
    }
}

/// A plain-HTTP request to a control address.
pub async fn plain(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: Option<String>,
) -> (StatusCode, Bytes) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, body)
}

/// Waits (bounded: 10 s, polling every 20 ms) until `cond` holds; panics
/// naming `what` otherwise. A readiness wait, not a sleep.
pub async fn eventually(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// A response seen by a test client.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (panics with the body text if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "not JSON ({}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The problem document's `code`.
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }
}

/// Reads one whole answer (head and `Content-Length` body); returns its
/// status line prefix (`HTTP/1.1 NNN`). For raw HTTP/1.1 keep-alive tests.
pub async fn read_h1_status(tls: &mut tokio_rustls::client::TlsStream<TcpStream>) -> Vec<u8> {
    let (head, _) = read_h1_answer(tls).await;
    head.as_bytes()[..12.min(head.len())].to_vec()
}

/// Reads one whole answer: its head (status line and header lines, as
/// sent) and its `Content-Length` body. Bytes read past it are dropped.
pub async fn read_h1_answer(
    tls: &mut tokio_rustls::client::TlsStream<TcpStream>,
) -> (String, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::io::AsyncReadExt::read(tls, &mut buf),
        )
        .await
        .expect("an answer")
        .unwrap();
        assert!(n > 0, "closed mid-answer");
        got.extend_from_slice(&buf[..n]);
        let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&got[..end]).into_owned();
        let length: usize = head
            .to_ascii_lowercase()
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or(0);
        if got.len() >= end + 4 + length {
            let body = got[end + 4..end + 4 + length].to_vec();
            return (head, body);
        }
    }
}

/// An mTLS client for the gateway.
#[derive(Clone)]
pub struct TestClient {
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    h2: bool,
}

impl TestClient {
    /// A client trusting `ca` and presenting `identity` (cert, key), if any.
    pub fn new(addr: SocketAddr, ca: &Path, identity: Option<(PathBuf, PathBuf)>) -> TestClient {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(ca).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let b = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
        let cfg = match identity {
            Some((cert, key)) => {
                let certs: Vec<_> = CertificateDer::pem_file_iter(&cert)
                    .unwrap()
                    .map(|c| c.unwrap())
                    .collect();
                let key = PrivateKeyDer::from_pem_file(&key).unwrap();
                b.with_client_auth_cert(certs, key).unwrap()
            }
            None => b.with_no_client_auth(),
        };
        TestClient {
            addr,
            tls: Arc::new(cfg),
            h2: false,
        }
    }

    /// The same client speaking HTTP/2 (negotiated by ALPN).
    pub fn http2(mut self) -> TestClient {
        let mut cfg = (*self.tls).clone();
        cfg.alpn_protocols = vec![b"h2".to_vec()];
        self.tls = Arc::new(cfg);
        self.h2 = true;
        self
    }

    /// A bare TLS connection (handshake done, nothing sent).
    pub async fn connect(&self) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(|e| e.to_string())?;
        let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
        let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
        connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))
    }

    /// Completes a TLS handshake and one round trip; `Err` when the server
    /// refuses the certificate (TLS 1.3 reports client-certificate refusal
    /// on the first read, so a request is attempted).
    pub async fn try_get(&self, path: &str) -> Result<Reply, String> {
        self.try_request(Method::GET, path, &[], Bytes::new()).await
    }

    /// GET with headers; panics on transport failure.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.try_request(Method::GET, path, headers, Bytes::new())
            .await
            .unwrap()
    }

    /// POST with headers and body; panics on transport failure.
    pub async fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        self.try_request(Method::POST, path, headers, body.into())
            .await
            .unwrap()
    }

    /// Any request; `Err` on any transport or TLS failure.
    pub async fn try_request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Reply, String> {
        let fut = async {
            let tcp = TcpStream::connect(self.addr)
                .await
                .map_err(|e| e.to_string())?;
            let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
            let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
            let tls = connector
                .connect(name, tcp)
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            let mut req = Request::builder()
                .method(method)
                .uri(format!("https://localhost:{}{path}", self.addr.port()));
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            // hyper's HTTP/1.1 connection sends no Host of its own, and an
            // HTTP/1.1 request without one is refused (RFC 9112 §3.2);
            // every real client sends it. Over HTTP/2, `:authority` says it.
            if !self.h2 && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
                req = req.header("host", format!("localhost:{}", self.addr.port()));
            }
            let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
            let resp = if self.h2 {
                let (mut send, conn) =
                    hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                        .await
                        .map_err(|e| format!("h2 handshake: {e}"))?;
                tokio::spawn(conn);
                send.send_request(req)
                    .await
                    .map_err(|e| format!("request: {e}"))?
            } else {
                let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                    .await
                    .map_err(|e| format!("h1 handshake: {e}"))?;
                tokio::spawn(conn);
                send.send_request(req)
                    .await
                    .map_err(|e| format!("request: {e}"))?
            };
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("body: {e}"))?
                .to_bytes();
            Ok(Reply {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(Duration::from_secs(20), fut)
            .await
            .map_err(|_| "timed out".to_string())?
    }
}
