//! Test helper for the crash test (`tests/audit/crash.rs`), not shipped:
//! opens the audit log in `DIR` with the key in `KEY_PEM_FILE`, appends
//! from `TASKS` concurrent tasks, and prints the seq of every acknowledged
//! append on its own line of stdout, flushed before the next append — so
//! every seq printed was durable before it was printed. The test SIGKILLs
//! it at a random moment.
//!
//! Usage: `audit-crash-child DIR KEY_PEM_FILE TASKS`. Small segments (16 KiB)
//! and frequent checkpoints make crashes land in rotations and checkpoint
//! writes too. Each task stops after 1 000 000 appends.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use credgate_audit::{AuditConfig, AuditError, AuditLog, AuditSigner, Decision, NewRecord};

const APPENDS_PER_TASK: u64 = 1_000_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, key, tasks] = args.as_slice() else {
        eprintln!("usage: audit-crash-child DIR KEY_PEM_FILE TASKS");
        return ExitCode::from(64);
    };
    match run(PathBuf::from(dir), key, tasks.parse().unwrap_or(4)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("audit-crash-child: {e}");
            ExitCode::from(2)
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn run(dir: PathBuf, key: &str, tasks: usize) -> Result<(), BoxError> {
    let pem = std::fs::read_to_string(key)?;
    let mut cfg = AuditConfig::new(dir, "crash-child", AuditSigner::from_pkcs8_pem(&pem)?);
    cfg.segment_max_bytes = 16 << 10;
    cfg.checkpoint_every_records = 50;
    cfg.queue_bound = 1024;
    let log = AuditLog::open(cfg).await?;
    let mut handles = Vec::new();
    for task in 0..tasks {
        let log = log.clone();
        handles.push(tokio::spawn(async move { append_loop(log, task).await }));
    }
    for h in handles {
        h.await??;
    }
    Ok(())
}

async fn append_loop(log: AuditLog, task: usize) -> Result<(), BoxError> {
    for i in 0..APPENDS_PER_TASK {
        let rec = NewRecord {
            request_id: format!("req-{task}-{i}"),
            client_id: format!("client-{}", task % 3),
            cert_fingerprint: "00".repeat(32),
            endpoint: "/v1/enterprises/{uscc}/report".to_owned(),
            purpose: Some("loan_underwriting".to_owned()),
            decision: if i % 7 == 0 {
                Decision::Deny
            } else {
                Decision::Allow
            },
            reason: "ok".to_owned(),
            status: 200,
            ..NewRecord::default()
        };
        match log.append(rec).await {
            Ok(done) => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{}", done.seq)?;
                out.flush()?;
            }
            Err(AuditError::Saturated { .. }) => tokio::task::yield_now().await,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
