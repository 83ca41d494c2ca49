//! The nginx baseline: Debian's nginx terminating mutual TLS with the same
//! server certificate, client CA and CRL as credgate, and proxying the same
//! client request (`/v1/enterprises/{uscc}/report`) to the same platform
//! path credgate would call, over mutual TLS with credgate's upstream
//! client certificate and kept-alive upstream connections. No policy, no
//! masking, no audit: bare pass-through (SPEC §13).

use crate::procs::{free_addr, Proc, Registry};
use crate::setup::{direct_path, Workspace};
use anyhow::Context as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// A running nginx.
#[derive(Debug)]
pub struct Nginx {
    /// The master process (its workers are its children).
    pub proc: Proc,
    /// The mTLS listener.
    pub addr: SocketAddr,
}

/// The nginx configuration: `workers` worker processes (matched to
/// credgate's runtime threads), access log off.
pub fn config(
    ws: &Workspace,
    prefix: &Path,
    listen: SocketAddr,
    upstream: SocketAddr,
    workers: usize,
) -> anyhow::Result<String> {
    const PLACEHOLDER: &str = "ZZZZZZZZZZZZZZZZZZ";
    let upstream_path = direct_path(PLACEHOLDER)?;
    anyhow::ensure!(
        upstream_path.matches(PLACEHOLDER).count() == 1,
        "the adapter's path does not carry the USCC verbatim"
    );
    let upstream_path = upstream_path.replace(PLACEHOLDER, "$1");
    let c = |rel: &str| ws.certs.join(rel).display().to_string();
    let p = |rel: &str| prefix.join(rel).display().to_string();
    Ok(format!(
        r#"# nginx baseline for credgate's benchmark (generated).
worker_processes {workers};
error_log {error_log} warn;
pid {pid};
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 600s;

    upstream platform {{
        server {upstream};
        keepalive 256;
        keepalive_requests 10000000;
        keepalive_timeout 600s;
    }}

    server {{
        listen {listen} ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate {server_crt};
        ssl_certificate_key {server_key};
        ssl_client_certificate {ca};
        ssl_verify_client on;
        ssl_crl {crl};

        location ~ "^/v1/enterprises/([0-9A-Z]{{18}})/report$" {{
            proxy_pass https://platform{upstream_path};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_ssl_certificate {gw_crt};
            proxy_ssl_certificate_key {gw_key};
            proxy_ssl_trusted_certificate {up_ca};
            proxy_ssl_verify on;
            proxy_ssl_name localhost;
            proxy_ssl_session_reuse on;
        }}
        location / {{
            return 404;
        }}
    }}
}}
"#,
        error_log = p("error.log"),
        pid = p("nginx.pid"),
        tmp = p("tmp"),
        server_crt = c("server.crt"),
        server_key = c("server.key"),
        ca = c("ca.crt"),
        crl = c("crl.pem"),
        gw_crt = c("upstream/gateway.crt"),
        gw_key = c("upstream/gateway.key"),
        up_ca = c("upstream/ca.crt"),
    ))
}

/// Writes the configuration under `WORK/nginx/` and starts nginx in the
/// foreground (`-g 'daemon off;'`), waiting until it listens.
pub async fn start(
    ws: &Workspace,
    bin: &str,
    upstream: SocketAddr,
    workers: usize,
    registry: &Arc<Registry>,
) -> anyhow::Result<Nginx> {
    let prefix = ws.path("nginx");
    std::fs::create_dir_all(prefix.join("tmp")).context("creating the nginx prefix")?;
    let listen = free_addr()?;
    let conf = prefix.join("nginx.conf");
    std::fs::write(&conf, config(ws, &prefix, listen, upstream, workers)?)
        .context("writing nginx.conf")?;
    let mut cmd = Command::new(bin);
    cmd.arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(&prefix)
        .args(["-g", "daemon off;"]);
    let mut proc = Proc::spawn(
        "nginx",
        &mut cmd,
        &prefix.join("stderr.log"),
        false,
        registry,
    )?;
    proc.wait_listening(listen, Duration::from_secs(15)).await?;
    Ok(Nginx { proc, addr: listen })
}
