//! Running a simulated platform: a mutual-TLS data address (HTTP/1.1 and
//! h2) and a plain-HTTP loopback control address (SPEC §2).
//!
//! Faults injected through the control address apply to the data address
//! only. Every data request is logged before fault handling, so even hung or
//! reset requests are listed by `GET /_sim/requests`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::dataset::Dataset;
use crate::error::SimError;
use crate::platform::{platforms, PlatformSpec};

mod control;
mod data;
mod state;
mod tls;

pub use state::{Fault, FaultMode, RequestRecord};

/// TLS material for a platform's data address (PEM text).
#[derive(Clone, Debug)]
pub struct SimTls {
    /// The server certificate chain, leaf first.
    pub cert_chain_pem: String,
    /// The server's private key.
    pub key_pem: String,
    /// CA certificate(s) that client certificates must chain to.
    pub client_ca_pem: String,
}

/// A started platform. Dropping it stops its listeners and connections.
#[derive(Debug)]
pub struct RunningPlatform {
    /// What the platform is.
    pub spec: PlatformSpec,
    /// The mutual-TLS data address.
    pub address: SocketAddr,
    /// The plain-HTTP control address.
    pub control: SocketAddr,
    state: Arc<state::State>,
    stop: Option<watch::Sender<bool>>,
    tasks: Vec<JoinHandle<()>>,
}

// === impl RunningPlatform ===

impl RunningPlatform {
    /// `https://127.0.0.1:PORT` of the data address.
    pub fn base_url(&self) -> String {
        format!("https://{}", self.address)
    }

    /// `http://127.0.0.1:PORT` of the control address.
    pub fn control_url(&self) -> String {
        format!("http://{}", self.control)
    }

    /// Sets the fault mode in-process (the same as `POST /_sim/faults`).
    pub fn set_fault(&self, fault: Fault) {
        self.state.set_fault(fault);
    }

    /// The request log in-process (the same as `GET /_sim/requests`).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.requests()
    }

    /// Stops the listeners and every open connection.
    pub async fn shutdown(mut self) {
        self.stop_all();
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
    }

    fn stop_all(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Drop for RunningPlatform {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Starts one platform on `127.0.0.1:0` (data, TLS) and `127.0.0.1:0`
/// (control, plain HTTP). Response bodies are precomputed here.
pub async fn start(
    spec: PlatformSpec,
    dataset: Arc<Dataset>,
    tls: SimTls,
) -> Result<RunningPlatform, SimError> {
    let any: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
    start_at(spec, dataset, tls, any, any).await
}

/// Starts one platform with its data (TLS) and control (plain HTTP)
/// listeners on the given addresses (`credgate sim` in a container).
pub async fn start_at(
    spec: PlatformSpec,
    dataset: Arc<Dataset>,
    tls: SimTls,
    data: SocketAddr,
    control: SocketAddr,
) -> Result<RunningPlatform, SimError> {
    let acceptor = tls::acceptor(&tls)?;
    let data_listener = TcpListener::bind(data).await?;
    let control_listener = TcpListener::bind(control).await?;
    let address = data_listener.local_addr()?;
    let control = control_listener.local_addr()?;
    let state = Arc::new(state::State::new(spec.id, dataset));
    let (stop, stopped) = watch::channel(false);
    let tasks = vec![
        tokio::spawn(data::serve(
            data_listener,
            acceptor,
            state.clone(),
            stopped.clone(),
        )),
        tokio::spawn(control::serve(control_listener, state.clone(), stopped)),
    ];
    tracing::info!(platform = spec.name, %address, %control, "simulated platform started");
    Ok(RunningPlatform {
        spec,
        address,
        control,
        state,
        stop: Some(stop),
        tasks,
    })
}

/// Starts all four platforms with the dev PKI in `certs_dir`
/// (`upstream/ca.crt` verifies clients; `upstream/NAME.crt|.key` serve).
pub async fn start_all(certs_dir: &Path, seed: u64) -> Result<Vec<RunningPlatform>, SimError> {
    start_all_at(certs_dir, seed, None).await
}

/// Like [`start_all`]; with `Some((host, base))` platform `i` (in
/// [`platforms`] order) listens on `host:base+i` (data) and
/// `host:base+100+i` (control).
pub async fn start_all_at(
    certs_dir: &Path,
    seed: u64,
    at: Option<(std::net::IpAddr, u16)>,
) -> Result<Vec<RunningPlatform>, SimError> {
    let read = |p: std::path::PathBuf| {
        std::fs::read_to_string(&p).map_err(|source| SimError::Read { path: p, source })
    };
    let upstream = certs_dir.join("upstream");
    let client_ca_pem = read(upstream.join("ca.crt"))?;
    let dataset = Arc::new(Dataset::generate(seed));
    let mut running = Vec::new();
    for (i, spec) in platforms().into_iter().enumerate() {
        let tls = SimTls {
            cert_chain_pem: read(upstream.join(format!("{}.crt", spec.name)))?,
            key_pem: read(upstream.join(format!("{}.key", spec.name)))?,
            client_ca_pem: client_ca_pem.clone(),
        };
        let p = match at {
            None => start(spec, dataset.clone(), tls).await?,
            Some((host, base)) => {
                let offset = u16::try_from(i).unwrap_or(u16::MAX);
                let data = SocketAddr::new(host, base.saturating_add(offset));
                let control =
                    SocketAddr::new(host, base.saturating_add(100).saturating_add(offset));
                start_at(spec, dataset.clone(), tls, data, control).await?
            }
        };
        running.push(p);
    }
    Ok(running)
}

/// SPEC §11's `platforms.json`.
pub fn platforms_json(running: &[RunningPlatform]) -> Value {
    Value::Array(
        running
            .iter()
            .map(|p| {
                json!({
                    "name": p.spec.name, "kind": p.spec.kind, "regions": p.spec.regions,
                    "address": p.base_url(), "control": p.control_url(),
                    "display_name": p.spec.display_name, "adapter": p.spec.adapter, "scheme": p.spec.scheme,
                })
            })
            .collect(),
    )
}
