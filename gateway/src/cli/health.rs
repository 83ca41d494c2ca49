//! `credgate health`: one plain-HTTP GET to a running gateway's admin
//! listener, for container health checks (Docker `HEALTHCHECK`, compose)
//! in images that have no shell or curl. Exit 0 when the answer is 200,
//! 1 otherwise (refused, timed out, other status), with the reason on
//! stderr. Bounded: one connection, one request, a total timeout, and at
//! most 4 KiB of the answer read.

use anyhow::Context as _;
use clap::Args;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// Most of the answer's body read (shown on failure).
const MAX_BODY: usize = 4096;

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The admin listener (`[admin] listen`).
    #[arg(long, env = "CREDGATE_HEALTH_ADDR", default_value = "127.0.0.1:9090")]
    addr: SocketAddr,
    /// `/healthz` (the process serves) or `/readyz` (it can answer queries).
    #[arg(long, default_value = "/healthz")]
    path: String,
    /// Give up after this long, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
}

pub fn run(a: &HealthArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        a.path.starts_with('/'),
        "--path must start with / (got {:?})",
        a.path
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let limit = Duration::from_millis(a.timeout_ms);
    let outcome = rt.block_on(async { tokio::time::timeout(limit, get(a.addr, &a.path)).await });
    match outcome {
        Ok(Ok((200, _))) => {
            println!("{}{}: 200", a.addr, a.path);
            Ok(ExitCode::SUCCESS)
        }
        Ok(Ok((status, body))) => {
            eprintln!("{}{}: {status} {}", a.addr, a.path, body.trim());
            Ok(ExitCode::from(1))
        }
        Ok(Err(e)) => {
            eprintln!("{}{}: {e:#}", a.addr, a.path);
            Ok(ExitCode::from(1))
        }
        Err(_) => {
            eprintln!("{}{}: no answer within {} ms", a.addr, a.path, a.timeout_ms);
            Ok(ExitCode::from(1))
        }
    }
}

/// One GET over a fresh connection: status and (the start of) the body.
async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .context("connecting")?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .context("HTTP handshake")?;
    let driver = tokio::spawn(conn);
    let req = http::Request::get(path)
        .header(http::header::HOST, addr.to_string())
        .header(http::header::USER_AGENT, "credgate-health")
        .body(Empty::<bytes::Bytes>::new())
        .context("building the request")?;
    let resp = send
        .send_request(req)
        .await
        .context("sending the request")?;
    let status = resp.status().as_u16();
    // A body over the limit is not an error here: the status decides.
    let body = match Limited::new(resp.into_body(), MAX_BODY).collect().await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    driver.abort();
    Ok((status, body))
}
