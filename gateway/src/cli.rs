//! The command line: `serve`, `demo`, `certs dev`, `policy check` (and the
//! operator tools added by later modules). Errors go to stderr with a
//! non-zero exit; `anyhow` is used only here, at the binary's edge.

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

mod audit;
mod authz;

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
    /// Development PKI tools.
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Policy tools.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Subject authorization tokens: keygen, issue, revoke, inspect.
    #[command(subcommand)]
    Authz(authz::AuthzCommand),
    /// Audit log tools: verify, query, checkpoint.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Gateway configuration file (TOML).
    #[arg(long, short)]
    config: PathBuf,
    /// Validate the configuration, the policy and every TLS file, then exit.
    #[arg(long)]
    check: bool,
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
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Validate a policy file as a whole and print every error with its location.
    Check {
        /// The policy file.
        file: PathBuf,
    },
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(a) => serve(a),
        Command::Demo(a) => crate::demo::run(a),
        Command::Certs(CertsCommand::Dev { out, force }) => {
            let pki = credgate_certs::generate_dev_pki(&credgate_certs::DevPkiOptions {
                out: out.clone(),
                force,
            })
            .with_context(|| format!("writing the dev PKI to {}", out.display()))?;
            println!("dev PKI written to {}", pki.dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Authz(cmd) => authz::run(cmd),
        Command::Audit(cmd) => audit::run(cmd),
        Command::Policy(PolicyCommand::Check { file }) => {
            match crate::policy_store::load_policy_file(&file) {
                Ok(p) => {
                    println!("{}: ok ({})", file.display(), p.summary());
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
    let cfg = crate::config::Config::load(&a.config)?;
    if a.check {
        crate::tls::build_server_config(&crate::tls::ServerTlsPaths {
            cert: cfg.server.cert.clone(),
            key: cfg.server.key.clone(),
            client_ca: cfg.server.client_ca.clone(),
            crls: cfg.server.crls.clone(),
        })?;
        let p = crate::policy_store::load_policy_file(&cfg.policy.file)?;
        crate::federation::Federation::from_config(&cfg.upstreams)?;
        check_files(&cfg)?;
        println!(
            "{}: ok ({}; {} upstreams)",
            a.config.display(),
            p.summary(),
            cfg.upstreams.len()
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

/// Files `serve` reads at start beyond TLS, policy and upstreams: the
/// audit signing key, the pseudonym key and the revocation file's folder.
fn check_files(cfg: &crate::config::Config) -> anyhow::Result<()> {
    if !cfg.audit.danger_disabled {
        let f = &cfg.audit.signing_key_file;
        let pem = std::fs::read_to_string(f)
            .with_context(|| format!("audit signing key {}", f.display()))?;
        credgate_audit::AuditSigner::from_pkcs8_pem(&pem)
            .map_err(|e| anyhow::anyhow!("audit signing key {}: {e}", f.display()))?;
    }
    if let Some(f) = &cfg.privacy.pseudonym_key_file {
        let key = std::fs::read(f).with_context(|| format!("pseudonym key {}", f.display()))?;
        anyhow::ensure!(
            key.len() >= 32,
            "pseudonym key {}: at least 32 bytes",
            f.display()
        );
    }
    if let Some(f) = &cfg.authorization.revocation_file {
        let dir = f.parent().unwrap_or_else(|| std::path::Path::new("."));
        anyhow::ensure!(
            dir.is_dir(),
            "revocation file {}: its folder does not exist",
            f.display()
        );
    }
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
