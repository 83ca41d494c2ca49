//! The load generator's client: mutual-TLS keep-alive HTTP/1.1 connections
//! (rustls with ring, hyper's connection-level client) to one target, and a
//! plain-HTTP GET for the gateway's admin listener.

use anyhow::Context as _;
use bytes::Bytes;
use http::{header, Request};
use http_body_util::{BodyExt as _, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Longest one request may take before it counts as an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What to load: an address, the client identity and the requests (one
/// path per subject, used round-robin).
#[derive(Clone, Debug)]
pub struct Target {
    /// Scenario name.
    pub name: String,
    /// The address to connect to.
    pub addr: SocketAddr,
    /// Trust anchors, client certificate and key.
    pub tls: Arc<rustls::ClientConfig>,
    /// Request paths (with query), used round-robin.
    pub paths: Arc<Vec<String>>,
}

/// One keep-alive connection.
#[derive(Debug)]
pub struct Conn {
    send: SendRequest<Empty<Bytes>>,
}

/// The outcome of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 200 with a body.
    Ok,
    /// Any other status.
    Status(u16),
}

/// A client TLS configuration: `ca` verifies the server, `cert` + `key`
/// identify the client; ALPN offers HTTP/1.1 only.
pub fn tls_config(ca: &Path, cert: &Path, key: &Path) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut read(ca)?.as_slice()) {
        roots.add(c?)?;
    }
    let chain =
        rustls_pemfile::certs(&mut read(cert)?.as_slice()).collect::<Result<Vec<_>, _>>()?;
    let key = rustls_pemfile::private_key(&mut read(key)?.as_slice())?
        .with_context(|| format!("no private key in {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

// === impl Target ===

impl Target {
    /// TCP connect and TLS handshake, without HTTP.
    pub async fn handshake(&self) -> anyhow::Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("connecting to {}", self.addr))?;
        tcp.set_nodelay(true)?;
        let name = ServerName::IpAddress(self.addr.ip().into());
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .with_context(|| format!("TLS handshake with {}", self.addr))?;
        Ok(tls)
    }

    /// A new keep-alive HTTP/1.1 connection.
    pub async fn connect(&self) -> anyhow::Result<Conn> {
        let tls = self.handshake().await?;
        Conn::over(tls).await
    }

    /// The `i`-th request (round-robin over the paths).
    pub fn request(&self, i: u64) -> anyhow::Result<Request<Empty<Bytes>>> {
        let n = self.paths.len().max(1) as u64;
        let path = usize::try_from(i % n)
            .ok()
            .and_then(|k| self.paths.get(k))
            .context("no request path")?;
        Ok(Request::get(path.as_str())
            .header(header::HOST, "localhost")
            .header("x-credit-purpose", "administrative_approval")
            .body(Empty::new())?)
    }
}

// === impl Conn ===

impl Conn {
    /// HTTP/1.1 over an established TLS stream; the connection is driven
    /// by a task of its own.
    pub async fn over(tls: TlsStream<TcpStream>) -> anyhow::Result<Conn> {
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn { send })
    }

    /// Whether the server closed the connection (it must be replaced).
    pub fn is_closed(&self) -> bool {
        self.send.is_closed()
    }

    /// Sends one request and reads the whole answer.
    pub async fn call(&mut self, req: Request<Empty<Bytes>>) -> anyhow::Result<Outcome> {
        let fut = async {
            self.send.ready().await?;
            let resp = self.send.send_request(req).await?;
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await?.to_bytes();
            anyhow::Ok(if status == 200 && !body.is_empty() {
                Outcome::Ok
            } else {
                Outcome::Status(status)
            })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, fut)
            .await
            .context("request timed out")?
    }

    /// Sends one request and returns status, headers and body (for the
    /// pre-flight check).
    pub async fn fetch(
        &mut self,
        req: Request<Empty<Bytes>>,
    ) -> anyhow::Result<(u16, http::HeaderMap, Bytes)> {
        self.send.ready().await?;
        let resp = tokio::time::timeout(REQUEST_TIMEOUT, self.send.send_request(req))
            .await
            .context("request timed out")??;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, headers, body))
    }
}

/// `GET http://addr/path` (the admin listener): status and body.
pub async fn plain_get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let tcp = TcpStream::connect(addr).await?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = Request::get(path)
        .header(header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())?;
    let fut = async {
        let resp = send.send_request(req).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, String::from_utf8_lossy(&body).into_owned()))
    };
    tokio::time::timeout(REQUEST_TIMEOUT, fut)
        .await
        .context("admin request timed out")?
}
