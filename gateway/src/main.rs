//! The `credgate` binary: installs the crypto provider, sets up logging,
//! parses the command line and runs. Everything else lives in the library.

use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of glibc malloc: profiles under load showed a quarter
/// of the gateway's samples in glibc's allocator (arena lock contention
/// between tokio workers and the audit writer thread).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Installing the process-wide provider can only fail if one is already
    // installed, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = credgate::cli::Cli::parse();
    match credgate::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("credgate: {}", message(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, `: `-separated — skipping a cause whose text
/// the message already ends with (our typed errors print their source, and
/// `{:#}` would print it again).
fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
