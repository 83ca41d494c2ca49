//! The benchmark's working directory: the dev PKI and keys, a bench policy
//! (the demo policy with `dept-nb`'s rate limit raised so that it never
//! refuses), one gateway configuration per scenario (built from
//! `credgate::demo::gateway_toml`), the subjects to query and the paths
//! each target is asked for.

use anyhow::Context as _;
use credgate_policy::canonical::Section;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The simulated platform the benchmark runs (one is enough for
/// throughput: every request is a single-platform report).
pub const PLATFORM: &str = "xinyong-ningbo";
/// Its adapter (for the direct path).
pub const ADAPTER: &str = "ningbo-v1";
/// Subjects queried round-robin.
const SUBJECTS: usize = 64;

/// `dept-nb`'s rate limit in the demo policy, and the bench's.
const DEMO_LIMIT: &str = "rate_limit = { per_second = 50, burst = 100 }";
const BENCH_LIMIT: &str = "rate_limit = { per_second = 1000000, burst = 1000000 }";

/// The working directory and what is in it.
#[derive(Debug)]
pub struct Workspace {
    /// The directory (created afresh).
    pub dir: PathBuf,
    /// `dir/certs`: the dev PKI.
    pub certs: PathBuf,
    /// Where the children's stdout/stderr go (`dir/logs` by default).
    pub logs: PathBuf,
}

/// What differs between the gateway scenarios.
#[derive(Clone, Debug)]
pub struct Variant {
    /// Scenario name (also names its audit directory and log).
    pub name: &'static str,
    /// Durable audit on (`false`: `[audit] danger_disabled = true`).
    pub audit: bool,
    /// `redis://…` when the gateway shares state through Redis.
    pub redis: Option<String>,
    /// `RUST_LOG` for the gateway (`None`: its default, `info`).
    pub rust_log: Option<&'static str>,
}

// === impl Workspace ===

impl Workspace {
    /// Creates `dir` afresh with the dev PKI, the demo's audit and
    /// pseudonym keys and the bench policy; logs go to `logs` (default
    /// `dir/logs`).
    pub fn create(dir: &Path, logs: Option<&Path>) -> anyhow::Result<Workspace> {
        if dir.exists() {
            std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let dir = dir.canonicalize()?;
        let certs = dir.join("certs");
        credgate_certs::generate_dev_pki(&credgate_certs::DevPkiOptions {
            out: certs.clone(),
            force: true,
        })
        .context("writing the dev PKI")?;
        credgate::demo::prepare_keys(&certs)?;
        std::fs::write(dir.join("policy.toml"), bench_policy()?).context("writing policy.toml")?;
        // Logs live apart from the configuration: the gateway watches the
        // policy's directory for changes, and a log written there would
        // wake its watcher on every line.
        let logs = logs.map_or_else(|| dir.join("logs"), Path::to_owned);
        std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
        Ok(Workspace { dir, certs, logs })
    }

    /// A path under the working directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Writes `gateway-NAME.toml` for a variant: the demo configuration for
    /// the one running platform, with connection bounds raised for the
    /// 10k-connection measurement, the production checkpoint cadence, the
    /// variant's audit and Redis settings, and an audit directory of its own.
    pub fn gateway_config(
        &self,
        demo_toml: &str,
        listen: SocketAddr,
        admin: SocketAddr,
        v: &Variant,
    ) -> anyhow::Result<PathBuf> {
        let mut t = demo_toml.to_owned();
        t = replace_once(&t, "listen = \"LISTEN\"", &format!("listen = \"{listen}\""))?;
        t = replace_once(&t, "listen = \"ADMIN\"", &format!("listen = \"{admin}\""))?;
        t = insert_after(
            &t,
            "crls = [\"certs/crl.pem\"]\n",
            "max_connections = 20000\nidle_timeout_ms = 600000\nheader_read_timeout_ms = 600000\n",
        )?;
        t = replace_once(
            &t,
            "dir = \"audit\"",
            &format!("dir = \"audit-{}\"", v.name),
        )?;
        // Checkpoint cadence of the production examples (deploy/), not the
        // demo's (every 100 records / 10 s, to show checkpoints quickly).
        t = t
            .replacen(
                "checkpoint_every_records = 100\n",
                "checkpoint_every_records = 1000\n",
                1,
            )
            .replacen(
                "checkpoint_every_secs = 10\n",
                "checkpoint_every_secs = 60\n",
                1,
            );
        if !v.audit {
            t = insert_after(&t, "[audit]\n", "danger_disabled = true\n")?;
        }
        if let Some(url) = &v.redis {
            t.push_str(&format!("\n[redis]\nurl = \"{url}\"\n"));
        }
        let path = self.dir.join(format!("gateway-{}.toml", v.name));
        std::fs::write(&path, t).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

/// The demo policy with `dept-nb`'s rate limit raised (the first
/// `rate_limit` line after its `id`).
pub fn bench_policy() -> anyhow::Result<String> {
    let demo = credgate_policy::DEMO_POLICY;
    let client = demo
        .find("id = \"dept-nb\"")
        .context("the demo policy has no dept-nb client")?;
    let at = demo[client..]
        .find(DEMO_LIMIT)
        .map(|i| client + i)
        .context("the demo policy no longer has dept-nb's rate limit line")?;
    Ok(format!(
        "{}{BENCH_LIMIT}{}",
        &demo[..at],
        &demo[at + DEMO_LIMIT.len()..]
    ))
}

/// `credgate::demo::gateway_toml` for one platform whose data address is
/// `upstream`, with the listen and admin addresses left as the
/// placeholders `LISTEN` and `ADMIN`. The function needs a running
/// platform, so one is started in-process for a moment and its address
/// replaced by `upstream`'s (the benchmark's platform runs in a process of
/// its own).
pub async fn demo_toml(ws: &Workspace, upstream: SocketAddr) -> anyhow::Result<String> {
    let spec = credgate_sim::PlatformId::from_name(PLATFORM)
        .context("unknown platform")?
        .spec();
    let dataset = Arc::new(credgate_sim::Dataset::generate(0));
    let up = ws.certs.join("upstream");
    let read = |p: PathBuf| {
        std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))
    };
    let tls = credgate_sim::SimTls {
        cert_chain_pem: read(up.join(format!("{PLATFORM}.crt")))?,
        key_pem: read(up.join(format!("{PLATFORM}.key")))?,
        client_ca_pem: read(up.join("ca.crt"))?,
    };
    let p = credgate_sim::start(spec, dataset, tls).await?;
    let t = with_placeholders(std::slice::from_ref(&p))?;
    let t = replace_once(&t, &p.base_url(), &format!("https://{upstream}"))?;
    p.shutdown().await;
    Ok(t)
}

/// `credgate::demo::gateway_toml` for running platforms, with the listen
/// and admin addresses left as the placeholders `LISTEN` and `ADMIN` (see
/// [`Workspace::gateway_config`]).
pub fn with_placeholders(platforms: &[credgate_sim::RunningPlatform]) -> anyhow::Result<String> {
    // Placeholder addresses that cannot occur elsewhere in the file.
    let listen: SocketAddr = "127.0.0.1:1".parse()?;
    let admin: SocketAddr = "127.0.0.1:2".parse()?;
    let t = credgate::demo::gateway_toml(&listen, &admin, platforms);
    let t = replace_once(&t, "listen = \"127.0.0.1:1\"", "listen = \"LISTEN\"")?;
    replace_once(&t, "listen = \"127.0.0.1:2\"", "listen = \"ADMIN\"")
}

/// USCCs of enterprises the platform holds (from the demo data set's
/// `samples.json`).
pub fn subjects() -> anyhow::Result<Vec<String>> {
    let samples = credgate_sim::Dataset::generate(credgate::demo::DEMO_SEED).samples_json();
    let list: Vec<String> = samples["enterprises"]
        .as_array()
        .context("samples.json has no enterprises")?
        .iter()
        .filter(|e| e["platform"] == PLATFORM)
        .filter_map(|e| e["uscc"].as_str().map(str::to_owned))
        .take(SUBJECTS)
        .collect();
    anyhow::ensure!(!list.is_empty(), "no enterprise held by {PLATFORM}");
    Ok(list)
}

/// The client API path for a subject (credgate and nginx).
pub fn api_path(uscc: &str) -> String {
    format!("/v1/enterprises/{uscc}/report?sections=basic")
}

/// The platform's own path for the same request (direct): the adapter's.
pub fn direct_path(uscc: &str) -> anyhow::Result<String> {
    let adapter = credgate::federation::adapters::by_name(ADAPTER).context("unknown adapter")?;
    Ok(adapter
        .report_request(uscc, &[Section::Basic])
        .path_and_query)
}

fn replace_once(text: &str, from: &str, to: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        text.matches(from).count() == 1,
        "expected exactly one {from:?} in the generated file"
    );
    Ok(text.replacen(from, to, 1))
}

fn insert_after(text: &str, anchor: &str, addition: &str) -> anyhow::Result<String> {
    replace_once(text, anchor, &format!("{anchor}{addition}"))
}
