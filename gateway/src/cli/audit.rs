//! `credgate audit verify|query|checkpoint|keygen`: offline tools over a replica's
//! audit directory (SPEC §8). `query --subject` takes a raw identifier and
//! the pseudonym key, and searches by the pseudonym the log stores.

use anyhow::Context as _;
use clap::Subcommand;
use credgate_audit::{Decision, Query};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Audit log tools.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check framing, seals, every checkpoint's signature and root, and the
    /// consistency between checkpoints; name the first bad record or segment.
    Verify {
        /// The replica's audit directory.
        #[arg(long)]
        dir: PathBuf,
        /// The checkpoint signing public key (SPKI PEM); without it,
        /// signatures are checked against the key the log names.
        #[arg(long)]
        pubkey: Option<PathBuf>,
    },
    /// Search the log offline; prints JSON lines, newest first.
    Query {
        /// The replica's audit directory.
        #[arg(long)]
        dir: PathBuf,
        /// Only this client id.
        #[arg(long)]
        client: Option<String>,
        /// Only this subject (raw USCC or ID number; needs --key).
        #[arg(long, requires = "key")]
        subject: Option<String>,
        /// The pseudonym key file (`privacy.pseudonym_key_file`).
        #[arg(long)]
        key: Option<PathBuf>,
        /// From (RFC 3339 or unix ms, inclusive).
        #[arg(long)]
        from: Option<String>,
        /// To (RFC 3339 or unix ms, exclusive).
        #[arg(long)]
        to: Option<String>,
        /// `allow` or `deny`.
        #[arg(long)]
        decision: Option<String>,
        /// Most records (default 100, at most 1000).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Print the latest signed checkpoint.
    Checkpoint {
        /// The replica's audit directory.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Write a new checkpoint signing key: `signing.key` (Ed25519 PKCS#8
    /// PEM, mode 0600, for `[audit] signing_key_file`) and `signing.pub`
    /// (SPKI PEM, for auditors' `audit verify --pubkey`). Never overwrites.
    Keygen {
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs an audit command.
pub fn run(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Keygen { out } => {
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let (key, public) = (out.join("signing.key"), out.join("signing.pub"));
            for p in [&key, &public] {
                anyhow::ensure!(!p.exists(), "{} exists: not overwriting a key", p.display());
            }
            let (private_pem, public_pem) = credgate_audit::generate_signing_key_pem()?;
            let id = credgate_audit::AuditSigner::from_pkcs8_pem(&private_pem)?
                .key_id()
                .to_owned();
            super::write_new(&key, private_pem.as_bytes(), 0o600)?;
            super::write_new(&public, public_pem.as_bytes(), 0o644)?;
            println!(
                "private key: {} (key id {id})\npublic key:  {}",
                key.display(),
                public.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify { dir, pubkey } => {
            let pem = match &pubkey {
                Some(p) => Some(
                    std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?,
                ),
                None => None,
            };
            match credgate_audit::verify(&dir, pem.as_deref()) {
                Ok(r) => {
                    println!(
                        "{}: ok: replica {}, {} records ({} present, {} deleted by retention), {} segments, root {}",
                        dir.display(),
                        r.replica.as_deref().unwrap_or("-"),
                        r.tree_size,
                        r.records_present,
                        r.deleted_records,
                        r.segments,
                        r.root_hash
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(f) => {
                    eprintln!("{}: FAILED: {f}", dir.display());
                    Ok(ExitCode::from(1))
                }
            }
        }
        AuditCommand::Query {
            dir,
            client,
            subject,
            key,
            from,
            to,
            decision,
            limit,
        } => {
            let mut q = Query {
                client,
                limit,
                ..Query::default()
            };
            if let (Some(raw), Some(key)) = (subject, key) {
                let k =
                    std::fs::read(&key).with_context(|| format!("reading {}", key.display()))?;
                let normalised = credgate_policy::ids::Subject::parse(
                    raw.trim(),
                    &credgate_policy::ids::LegacyCodes::empty(),
                )
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|_| raw.trim().to_ascii_uppercase());
                q.subject_pseudonym = Some(credgate_audit::pseudonym(&k, &normalised));
            }
            if let Some(t) = from {
                q.from = Some(Query::parse_time(&t).context("--from")?);
            }
            if let Some(t) = to {
                q.to = Some(Query::parse_time(&t).context("--to")?);
            }
            q.decision = match decision.as_deref() {
                None => None,
                Some("allow") => Some(Decision::Allow),
                Some("deny") => Some(Decision::Deny),
                Some(other) => anyhow::bail!("--decision: allow or deny, not {other:?}"),
            };
            let page = credgate_audit::query_dir(&dir, &q)?;
            let mut out = std::io::stdout().lock();
            for r in &page.records {
                writeln!(out, "{}", serde_json::to_string(r)?)?;
            }
            if let Some(c) = page.next_cursor {
                eprintln!("more records below seq {c}");
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Checkpoint { dir } => match latest_checkpoint(&dir)? {
            Some(cp) => {
                println!(
                    "{}",
                    serde_json::json!({
                        "replica": cp.replica,
                        "tree_size": cp.tree_size,
                        "root_hash": cp.root_hash,
                        "time": cp.time,
                        "key_id": cp.key_id,
                        "signature": cp.signature,
                    })
                );
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!("{}: no checkpoint yet", dir.display());
                Ok(ExitCode::from(1))
            }
        },
    }
}

/// The directory's latest checkpoint; a missing directory is an error, not
/// "no checkpoint yet".
fn latest_checkpoint(
    dir: &std::path::Path,
) -> anyhow::Result<Option<credgate_audit::SignedCheckpoint>> {
    if !dir.is_dir() {
        anyhow::bail!(
            "{}: not a directory (the replica's audit directory)",
            dir.display()
        );
    }
    Ok(credgate_audit::latest_checkpoint_dir(dir)?)
}
