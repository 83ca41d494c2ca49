//! The `credgate` binary: installs the crypto provider, sets up logging,
//! parses the command line and runs. Everything else lives in the library.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Installing the process-wide provider can only fail if one is already
    // installed, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = credgate::cli::Cli::parse();
    match credgate::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("credgate: {e:#}");
            ExitCode::FAILURE
        }
    }
}
