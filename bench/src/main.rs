//! `credgate-bench`: credgate's benchmark (SPEC §13).
//!
//! `credgate-bench run` starts everything it needs on 127.0.0.1 — one
//! simulated platform (in a child `credgate-bench sim` process), nginx as
//! the bare mTLS pass-through baseline, release `credgate serve` gateways
//! in several configurations, a throw-away redis-server — drives load with
//! mTLS client certificates, and writes `target/bench/results.json` and
//! `results.md`. `scripts/bench` builds and runs it.
//!
//! Modules: [`client`] (mTLS keep-alive connections), [`load`] (closed and
//! open loops, HDR histograms), [`idle`] (10k idle connections), [`setup`]
//! (PKI, policy, gateway configurations), [`services`] / [`nginx`] /
//! [`sim`] (the processes), [`procs`] (child guards), [`procfs`] (RSS, CPU
//! time, machine), [`measure`] (steps), [`report`] and [`summary`]
//! (results), [`run`] (the sequence).

use clap::{Parser, Subcommand};

mod client;
mod fanout;
mod idle;
mod load;
mod measure;
mod nginx;
mod procfs;
mod procs;
mod report;
mod run;
mod services;
mod setup;
mod sim;
mod summary;

/// credgate's benchmark.
#[derive(Debug, Parser)]
#[command(name = "credgate-bench", about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole benchmark and write results.json / results.md.
    Run(Box<run::RunArgs>),
    /// Serve one simulated platform until stdin closes (used by `run`).
    Sim(sim::SimArgs),
}

fn main() -> anyhow::Result<()> {
    // Fails only when a provider is already installed, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match Cli::parse().command {
        Command::Run(a) => run::main(*a),
        Command::Sim(a) => sim::main(a),
    }
}
