//! An upstream's mTLS HTTP client — its CA, client identity and connection
//! pool — that can be rebuilt from its files while the gateway runs
//! (certificate rotation towards the platforms without a restart).
//!
//! The client in force sits behind an `ArcSwap`: a request takes the
//! current one for its whole exchange; a reload builds a new client (new
//! TLS configuration, new, empty pool) and swaps it in. Connections of the
//! old pool finish the requests they carry and close when the last request
//! holding the old client ends. A reload that cannot load the files keeps
//! the old client and says why.

use crate::config::UpstreamConfig;
use crate::tls::{self, TlsError};
use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::TokioExecutor;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// How long an idle pooled connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(30);

/// The files and settings a client is built from.
#[derive(Debug, Clone)]
struct Source {
    ca: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
    connect_timeout: Duration,
    max_idle: usize,
    http2: bool,
}

/// A reloadable upstream client.
pub(crate) struct UpstreamClient {
    source: Source,
    current: ArcSwap<HttpClient>,
    generation: AtomicU64,
}

impl std::fmt::Debug for UpstreamClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamClient")
            .field("source", &self.source)
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

impl UpstreamClient {
    /// Builds the client from the upstream's configuration (reads its files).
    pub(crate) fn new(cfg: &UpstreamConfig) -> Result<UpstreamClient, TlsError> {
        let source = Source {
            ca: cfg.ca.clone(),
            client_cert: cfg.client_cert.clone(),
            client_key: cfg.client_key.clone(),
            connect_timeout: Duration::from_millis(cfg.connect_timeout_ms),
            max_idle: cfg.max_concurrency,
            http2: cfg.http2,
        };
        let client = build(&source)?;
        Ok(UpstreamClient {
            source,
            current: ArcSwap::from_pointee(client),
            generation: AtomicU64::new(0),
        })
    }

    /// Sends a request on the client in force.
    pub(crate) fn request(&self, req: http::Request<Full<Bytes>>) -> ResponseFuture {
        // The future owns what it needs (the pool is reference-counted), so
        // the guard is released at once.
        self.current.load().request(req)
    }

    /// Re-reads the CA, certificate and key; on success, new connections
    /// use them. On failure the client in force stays.
    pub(crate) fn reload(&self) -> Result<(), TlsError> {
        let client = build(&self.source)?;
        self.current.store(Arc::new(client));
        self.generation.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Successful reloads so far.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// The files the client is built from.
    pub(crate) fn files(&self) -> [PathBuf; 3] {
        [
            self.source.ca.clone(),
            self.source.client_cert.clone(),
            self.source.client_key.clone(),
        ]
    }
}

/// A client with a fresh pool from the files.
fn build(s: &Source) -> Result<HttpClient, TlsError> {
    let roots = tls::read_roots("upstream CA", &s.ca)?;
    let certs = tls::read_certs("upstream client certificate", &s.client_cert)?;
    let key = tls::read_key("upstream client key", &s.client_key)?;
    let tls_cfg = rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(s.connect_timeout));
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_cfg)
        .https_only();
    // ALPN `h2` first when HTTP/2 is on; the platform picks.
    let connector = if s.http2 {
        builder.enable_all_versions().wrap_connector(http)
    } else {
        builder.enable_http1().wrap_connector(http)
    };
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE)
        .pool_max_idle_per_host(s.max_idle)
        .build(connector))
}
