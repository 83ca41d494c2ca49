//! The command line: `serve`, `demo`, `certs dev`, `policy check` (and the
//! operator tools added by later modules). Errors go to stderr with a
//! non-zero exit; `anyhow` is used only here, at the binary's edge.

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

pub(crate) mod audit;
mod authz;
mod health;

/// credgate: a federated credit query gateway (mutual-TLS reverse proxy).
#[derive(Debug, Parser)]
#[command(name = "credgate", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway with a configuration file.
    Serve(ServeArgs),
    /// Start the simulated platforms and a gateway with the dev PKI and the
    /// demo policy, print ready-to-paste curl commands, run until interrupted.
    Demo(crate::demo::DemoArgs),
    /// Run only the four simulated platforms (for compose and manual tests),
    /// printing their `platforms.json`; runs until interrupted.
    Sim(SimArgs),
    /// Development PKI tools.
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Policy tools.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Subject authorization tokens: keygen, issue, revoke, inspect.
    #[command(subcommand)]
    Authz(authz::AuthzCommand),
    /// Audit log tools: verify, query, checkpoint, keygen.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Ask a running gateway's admin listener for `/healthz` (or another
    /// path); exit 0 on 200, 1 otherwise. For container health checks in
    /// images without a shell or curl.
    Health(health::HealthArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Gateway configuration file (TOML).
    #[arg(long, short)]
    config: PathBuf,
    /// Validate the configuration, the policy and every TLS file, then exit.
    #[arg(long)]
    check: bool,
    /// This replica's audit id, overriding `[audit] replica` (one
    /// configuration for every replica; e.g. the pod name of a StatefulSet).
    #[arg(long, env = "CREDGATE_AUDIT_REPLICA")]
    replica: Option<String>,
}

#[derive(Debug, Subcommand)]
enum CertsCommand {
    /// Write the development PKI (CA, server, clients, CRL, rogue CA,
    /// upstream side, authorization issuer key pair) into a directory.
    Dev {
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Overwrite files that already exist.
        #[arg(long)]
        force: bool,
        /// Extra DNS names (or IPs) for the gateway's and the platforms'
        /// server certificates, besides localhost (repeatable; e.g. `sim`
        /// and the load balancer's name in compose).
        #[arg(long = "san")]
        sans: Vec<String>,
    },
}

#[derive(Debug, Args)]
struct SimArgs {
    /// The dev PKI directory (`upstream/` is used).
    #[arg(long)]
    certs: PathBuf,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Platform i listens on base+i (data, mTLS) and base+100+i (control).
    #[arg(long, default_value_t = 7001)]
    base_port: u16,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = crate::demo::DEMO_SEED)]
    seed: u64,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Validate a policy file as a whole and print every error with its location.
    Check {
        /// The policy file.
        file: PathBuf,
        /// The gateway configuration whose `[[score_schemes]]` the
        /// clients' home schemes must name (they live there, not in the
        /// policy). Without it, home schemes are not checked, and a note
        /// says so.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(a) => serve(a),
        Command::Demo(a) => crate::demo::run(a),
        Command::Certs(CertsCommand::Dev { out, force, sans }) => {
            // Every name is checked before anything is written: a bad one
            // must not leave a PKI behind whose certificates lack the rest.
            for name in &sans {
                credgate_certs::check_server_san(name).context("--san")?;
            }
            let pki = credgate_certs::generate_dev_pki(&credgate_certs::DevPkiOptions {
                out: out.clone(),
                force,
            })
            .with_context(|| format!("writing the dev PKI to {}", out.display()))?;
            if !sans.is_empty() {
                add_sans(&out, &sans)?;
            }
            println!("dev PKI written to {}", pki.dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Sim(a) => {
            crate::logging::init("info");
            let rt = runtime()?;
            rt.block_on(async move {
                let platforms =
                    credgate_sim::start_all_at(&a.certs, a.seed, Some((a.host, a.base_port)))
                        .await
                        .context("starting the simulated platforms")?;
                println!(
                    "{}",
                    serde_json::to_string_pretty(&credgate_sim::platforms_json(&platforms))?
                );
                wait_for_signal().await;
                for p in platforms {
                    p.shutdown().await;
                }
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Authz(cmd) => authz::run(cmd),
        Command::Audit(cmd) => audit::run(cmd),
        Command::Health(a) => health::run(&a),
        Command::Policy(PolicyCommand::Check { file, config }) => {
            let loaded = match &config {
                Some(c) => {
                    let cfg = crate::config::Config::load(c)?;
                    crate::policy_store::load_policy_for(&file, &cfg.score_scheme_ids())
                }
                None => crate::policy_store::load_policy_file(&file),
            };
            match loaded {
                Ok(p) => {
                    println!(
                        "{}: ok ({}; sha256 {})",
                        file.display(),
                        p.summary(),
                        p.sha256
                    );
                    let homes: Vec<&str> = p
                        .policy
                        .clients()
                        .iter()
                        .filter_map(|c| c.home_scheme())
                        .collect();
                    if config.is_none() && !homes.is_empty() {
                        eprintln!(
                            "note: home schemes ({}) not checked: they must name score schemes \
                             of the gateway's configuration (--config FILE)",
                            homes.join(", ")
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = crate::config::Config::load(&a.config)?;
    if let Some(r) = a.replica {
        credgate_audit::validate_replica(&r)
            .map_err(|e| anyhow::anyhow!("--replica (or CREDGATE_AUDIT_REPLICA) {r:?}: {e}"))?;
        cfg.audit.replica = r;
    }
    if a.check {
        crate::tls::build_server_config(&crate::tls::ServerTlsPaths {
            cert: cfg.server.cert.clone(),
            key: cfg.server.key.clone(),
            client_ca: cfg.server.client_ca.clone(),
            crls: cfg.server.crls.clone(),
        })?;
        let p = crate::policy_store::load_policy_for(&cfg.policy.file, &cfg.score_scheme_ids())?;
        crate::federation::Federation::from_config(&cfg.upstreams)?;
        check_files(&cfg)?;
        println!(
            "{}: ok ({}; {} upstreams; audit replica {})",
            a.config.display(),
            p.summary(),
            cfg.upstreams.len(),
            cfg.audit.replica
        );
        return Ok(ExitCode::SUCCESS);
    }
    let rt = runtime()?;
    rt.block_on(async {
        let _telemetry = crate::telemetry::init(&cfg.telemetry, "info")?;
        let running = crate::app::start(&cfg).await?;
        wait_for_signal().await;
        tracing::info!("shutting down: draining in-flight requests");
        running.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Re-issues the gateway's and the platforms' server certificates with
/// extra names (the dev PKI names only localhost).
fn add_sans(out: &std::path::Path, extra: &[String]) -> anyhow::Result<()> {
    let mut sans: Vec<&str> = credgate_certs::SERVER_SANS.to_vec();
    sans.extend(extra.iter().map(String::as_str));
    let reissue = |ca_dir: &std::path::Path, names: &[String]| -> anyhow::Result<()> {
        let ca = std::fs::read_to_string(ca_dir.join("ca.crt"))?;
        let key = std::fs::read_to_string(ca_dir.join("ca.key"))?;
        for name in names {
            let pair = credgate_certs::issue_server_cert(
                &ca,
                &key,
                &sans,
                credgate_certs::Validity::Normal,
            )?;
            std::fs::write(ca_dir.join(format!("{name}.crt")), pair.cert_pem)?;
            write_private(&ca_dir.join(format!("{name}.key")), pair.key_pem.as_bytes())?;
        }
        Ok(())
    };
    reissue(out, &["server".to_owned()])?;
    let platforms: Vec<String> = credgate_certs::UPSTREAM_PLATFORMS
        .iter()
        .map(|s| s.to_string())
        .collect();
    reissue(&out.join("upstream"), &platforms)?;
    Ok(())
}

/// Replaces a private key with a new file of mode 0600.
fn write_private(path: &std::path::Path, data: &[u8]) -> anyhow::Result<()> {
    let _ = std::fs::remove_file(path);
    write_new(path, data, 0o600)
}

/// Writes `bytes` to a file that must not exist yet, created with `mode`
/// (never briefly readable by others), and syncs it.
fn write_new(path: &std::path::Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Files `serve` reads at start beyond TLS, policy and upstreams: the
/// audit signing key, the pseudonym key and the revocation file's folder.
fn check_files(cfg: &crate::config::Config) -> anyhow::Result<()> {
    if let Some(r) = &cfg.redis {
        // The client `serve` builds, without connecting: an unusable URL
        // (a bad database number, an unsupported fragment) fails here, not
        // at start.
        let opts = r.authz_options(std::time::Duration::from_millis(r.call_timeout_ms));
        runtime()?
            .block_on(async { credgate_authz::RedisState::new(&opts).map(drop) })
            .map_err(|e| anyhow::anyhow!("[redis] url: {e}"))?;
    }
    if !cfg.audit.danger_disabled {
        check_audit_dir(&cfg.audit.dir)?;
        let f = &cfg.audit.signing_key_file;
        let pem = std::fs::read_to_string(f)
            .with_context(|| format!("audit signing key {}", f.display()))?;
        credgate_audit::AuditSigner::from_pkcs8_pem(&pem)
            .map_err(|e| anyhow::anyhow!("audit signing key {}: {e}", f.display()))?;
    }
    if let Some(f) = &cfg.privacy.pseudonym_key_file {
        let key = std::fs::read(f).with_context(|| format!("pseudonym key {}", f.display()))?;
        crate::app::check_pseudonym_key(f, &key).map_err(anyhow::Error::msg)?;
    }
    if let Some(f) = &cfg.authorization.revocation_file {
        // `Path::parent` of a bare file name is "", which is the current directory.
        let dir = f
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or_else(|| std::path::Path::new("."));
        anyhow::ensure!(
            dir.is_dir(),
            "revocation file {}: its folder does not exist",
            f.display()
        );
    }
    Ok(())
}

/// Whether `serve` could create (or write in) the audit directory: the
/// nearest part of its path that exists must be a folder this process
/// can create a file in. Tried with a probe file, removed at once; the
/// directory itself is not created (a check changes nothing), and a
/// gateway already writing in it is no obstacle (its lock is not taken).
fn check_audit_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    let mut existing = dir;
    while !existing.exists() {
        existing = match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => std::path::Path::new("."),
        };
    }
    anyhow::ensure!(
        existing.is_dir(),
        "audit dir {}: {} is not a folder",
        dir.display(),
        existing.display()
    );
    let probe = existing.join(format!(".credgate-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .with_context(|| {
            format!(
                "audit dir {}: cannot create files in {}",
                dir.display(),
                existing.display()
            )
        })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The multi-threaded runtime all long-running commands use.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! { _ = t.recv() => {}, _ = i.recv() => {} }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Parses `host:port`.
pub(crate) fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse().map_err(|e| format!("{s:?}: {e}"))
}

/// A subject given on the command line, as the gateway stores and compares
/// it (normalised), and whether it is a legacy pilot code: a valid USCC or
/// ID number, or a code of the legacy shape (its embedded organisation code
/// checks out; a gateway accepts it only where its policy lists it, and
/// offline there is no policy to ask). `None` for anything else. The
/// identifier is never echoed in errors.
fn cli_subject(raw: &str) -> Option<(String, bool)> {
    use credgate_ids::{LegacyCodes, Subject};
    let raw = raw.trim();
    if let Ok(s) = Subject::parse(raw, &LegacyCodes::empty()) {
        return Some((s.as_str().to_owned(), false));
    }
    // An all-digit legacy code has the ID-number shape and fails as one
    // first: ask the legacy classifier directly.
    let legacy = LegacyCodes::new([raw]).ok()?;
    let code = legacy.iter().next()?.to_owned();
    Some((code, true))
}
