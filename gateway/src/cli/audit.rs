//! `credgate audit verify|query|checkpoint|keygen`: offline tools over a replica's
//! audit directory (SPEC §8). `query --subject` takes a raw identifier and
//! the pseudonym key, and searches by the pseudonym the log stores.

use anyhow::Context as _;
use clap::Subcommand;
use credgate_audit::{Decision, Query};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Audit log tools.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check framing, seals, every checkpoint's signature and root, and the
    /// consistency between checkpoints; name the first bad record or segment.
    /// Prints what is not covered (records after the last checkpoint, a torn
    /// tail, signatures without --pubkey) as warnings on stderr.
    Verify {
        /// The replica's audit directory.
        #[arg(long)]
        dir: PathBuf,
        /// The checkpoint signing public key (SPKI PEM). Without it no
        /// signature is checked (a forged checkpoint or seal would pass),
        /// and a warning says so.
        #[arg(long)]
        pubkey: Option<PathBuf>,
        /// A checkpoint held outside the log (the JSON of `GET
        /// /v1/audit/checkpoint` or of `audit checkpoint`, saved earlier):
        /// the log must still hold its records with its root. Detects
        /// records and checkpoints cut from the end together. Repeatable.
        #[arg(long = "checkpoint")]
        checkpoints: Vec<PathBuf>,
        /// Fail (exit 1) on any warning too: no --pubkey, records after the
        /// last checkpoint, a torn tail.
        #[arg(long)]
        strict: bool,
        /// Fail (exit 1) when more than N records are covered by no signed
        /// checkpoint (in the log or given with --checkpoint). A gateway
        /// checkpoints every `checkpoint_every_records` records and every
        /// `checkpoint_every_secs` while records arrive, so a crash leaves at
        /// most about that many uncovered; many more means checkpoints were
        /// removed, and with them the proof of the records they covered.
        /// Default: 2000 (twice the default `checkpoint_every_records`),
        /// and a log with records must have a checkpoint; a given N
        /// replaces both. Both hold while a gateway writes the log too: it
        /// checkpoints at start and every `checkpoint_every_records`, so a
        /// held `writer.lock` does not excuse missing checkpoints.
        #[arg(long, value_name = "N")]
        max_uncovered: Option<u64>,
        /// DIR is a copy shipped from a replica (its sealed segments with
        /// their seals, `checkpoints.log` and `deletions.log`; see
        /// deploy/README.md): checkpoints that cover records not in the copy
        /// yet (the replica's active segment, segments sealed since) are a
        /// warning, with their signatures and order checked, not a failure;
        /// records in sealed segments count as covered by their seal's
        /// signed root. A copy cannot tell segments not shipped yet from
        /// segments removed from its end: the warning names the seqs
        /// missing, to compare with the replica or a later copy.
        #[arg(long)]
        shipped: bool,
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
        /// Continue below this seq: the next page of a search whose last
        /// page ended with "more records below seq N" (give the same filters).
        #[arg(long)]
        cursor: Option<u64>,
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
        AuditCommand::Verify {
            dir,
            pubkey,
            checkpoints,
            strict,
            max_uncovered,
            shipped,
        } => verify(
            &dir,
            pubkey.as_deref(),
            &checkpoints,
            Bounds {
                strict,
                max_uncovered,
                shipped,
            },
        ),
        AuditCommand::Query {
            dir,
            client,
            subject,
            key,
            from,
            to,
            decision,
            limit,
            cursor,
        } => {
            let mut q = Query {
                client,
                limit,
                cursor,
                ..Query::default()
            };
            let mut subject_asked = false;
            if let (Some(raw), Some(key)) = (subject, key) {
                let k =
                    std::fs::read(&key).with_context(|| format!("reading {}", key.display()))?;
                // The gateway refuses such a key at start-up: none of its
                // records can carry a pseudonym made with it.
                crate::app::check_pseudonym_key(&key, &k).map_err(anyhow::Error::msg)?;
                let (normalised, legacy) = super::cli_subject(&raw).ok_or_else(|| {
                    anyhow::anyhow!("--subject: not a valid USCC, ID number or legacy code")
                })?;
                if legacy {
                    // The allow-list is the gateway's configuration, which
                    // this command does not read: say what it searched for.
                    eprintln!(
                        "note: --subject fails the USCC and ID-number checks; searched as a \
                         pre-standard legacy code (the gateway answers only those its \
                         legacy allow-list names)"
                    );
                }
                q.subject_pseudonym = Some(credgate_audit::pseudonym(&k, &normalised));
                subject_asked = true;
            }
            if let Some(t) = from {
                q.from = Some(Query::parse_time(&t).context("--from")?);
            }
            if let Some(t) = to {
                q.to = Some(Query::parse_time(&t).context("--to")?);
            }
            if let (Some(from), Some(to)) = (q.from, q.to) {
                anyhow::ensure!(from <= to, "--from must not be after --to");
            }
            q.decision = match decision.as_deref() {
                None => None,
                Some("allow") => Some(Decision::Allow),
                Some("deny") => Some(Decision::Deny),
                Some(other) => anyhow::bail!("--decision: allow or deny, not {other:?}"),
            };
            let credgate_audit::DirPage { page, missing } = credgate_audit::query_dir(&dir, &q)?;
            if let Some((held, covered)) = missing {
                eprintln!(
                    "note: {} holds records 1–{held}, its latest checkpoint covers {covered}: seqs \
                     {}–{covered} are not here and were not searched (a shipped copy whose newest \
                     segments are not shipped yet, or a log cut at its end: `audit verify` tells)",
                    dir.display(),
                    held + 1
                );
            }
            if subject_asked && page.records.is_empty() {
                // Nothing found and a wrong key look alike: say so.
                eprintln!(
                    "no record of this subject matches the other filters; if one was expected, \
                     check that --key is the replica's privacy.pseudonym_key_file"
                );
            }
            let mut out = std::io::stdout().lock();
            for r in &page.records {
                writeln!(out, "{}", serde_json::to_string(r)?)?;
            }
            if let Some(c) = page.next_cursor {
                eprintln!(
                    "more records below seq {c} (next page: the same command with --cursor {c})"
                );
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
                        // Signed (the body's last line for start and
                        // final): a held copy without it does not verify.
                        "kind": cp.kind,
                        "signed_body": cp.signed_body(),
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

/// What `audit verify` fails on besides a broken log.
struct Bounds {
    /// Any warning.
    strict: bool,
    /// More records than this covered by no signed checkpoint.
    max_uncovered: Option<u64>,
    /// The directory is a shipped copy (`credgate_audit::verify_shipped`).
    shipped: bool,
}

/// Whether a gateway holds the directory's writer lock now (it is running:
/// its newest records await their next checkpoint).
pub(crate) fn writer_running(dir: &Path) -> bool {
    let Ok(file) = std::fs::File::open(dir.join(credgate_audit::LOCK_FILE)) else {
        return false;
    };
    matches!(
        file.try_lock_shared(),
        Err(std::fs::TryLockError::WouldBlock)
    )
}

/// `audit verify`: the report on stdout, warnings and failures on stderr.
fn verify(
    dir: &Path,
    pubkey: Option<&Path>,
    held: &[PathBuf],
    bounds: Bounds,
) -> anyhow::Result<ExitCode> {
    let pem = match pubkey {
        Some(p) => {
            Some(std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)
        }
        None => None,
    };
    let anchors = held
        .iter()
        .map(|p| read_held_checkpoint(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let check = if bounds.shipped {
        credgate_audit::verify_shipped
    } else {
        credgate_audit::verify_anchored
    };
    let r = match check(dir, pem.as_deref(), &anchors) {
        Ok(r) => r,
        Err(f) => {
            eprintln!("{}: FAILED: {f}", dir.display());
            return Ok(ExitCode::from(1));
        }
    };
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
    println!(
        "{}: {} checkpoints{}, {} seals, {} deletion records; signatures {}; {} checkpoints held outside the log matched",
        dir.display(),
        r.checkpoints,
        r.latest_checkpoint
            .as_ref()
            .map(|c| format!(" (the latest covers {} records, {})", c.tree_size, c.time))
            .unwrap_or_default(),
        r.seals,
        r.deleted_segments,
        if r.signatures_checked { "checked" } else { "NOT checked" },
        r.anchors_checked,
    );
    // Records no signed checkpoint covers, in the log or held outside it.
    // (A held checkpoint beyond a shipped copy's end proves none of it.)
    let held_size = anchors
        .iter()
        .map(|a| a.tree_size)
        .filter(|&size| size <= r.tree_size)
        .max()
        .unwrap_or(0);
    let uncovered = r
        .records_after_checkpoint
        .min(r.tree_size.saturating_sub(held_size));
    let running = writer_running(dir);
    let warnings = verify_warnings(&r, uncovered, running);
    for w in &warnings {
        eprintln!("{}: WARNING: {w}", dir.display());
    }
    // Without --max-uncovered, a log may leave uncovered what a crash (or
    // a running gateway between checkpoints) can: about
    // checkpoint_every_records, 1000 by default; and it must have a
    // checkpoint at all: a log whose checkpoints are gone proves nothing,
    // and passing it would let anyone edit it after deleting
    // checkpoints.log. A running gateway is held to this too: it writes a
    // checkpoint when it opens the log and every checkpoint_every_records
    // records, and anyone can hold `writer.lock`.
    let max = bounds.max_uncovered.unwrap_or(DEFAULT_MAX_UNCOVERED);
    if uncovered > max {
        eprintln!(
            "{}: FAILED (--max-uncovered {max}{}): {uncovered} records are covered by no signed \
             checkpoint, more than a crash leaves: checkpoints were removed, and nothing proves \
             those records unchanged",
            dir.display(),
            if bounds.max_uncovered.is_none() {
                ", the default"
            } else {
                ""
            },
        );
        return Ok(ExitCode::from(1));
    }
    let no_cover = r.checkpoints == 0 && anchors.is_empty() && uncovered > 0;
    if no_cover && bounds.max_uncovered.is_none() {
        eprintln!(
            "{}: FAILED: no signed checkpoint covers any of its {uncovered} records: \
             checkpoints.log is missing or empty. A gateway checkpoints before its first \
             record, so the file was deleted or emptied, and the log cannot be trusted. \
             (Only a log begun by a version before start checkpoints that crashed before \
             its first checkpoint looks like this honestly: accept that with \
             --max-uncovered {uncovered}.)",
            dir.display()
        );
        return Ok(ExitCode::from(1));
    }
    if r.unclean_stops > 0 {
        // Not a warning either: a crash is not tampering, but an auditor
        // reading "ok" should know the runs did not all end cleanly.
        eprintln!(
            "{}: note: {} runs of the gateway ended without a final checkpoint (a crash, a \
             kill, a failed last write, or a log from before final checkpoints); their last \
             records were adopted by the next run's start checkpoint",
            dir.display(),
            r.unclean_stops
        );
    }
    if anchors.is_empty() {
        // Not a warning (nothing is wrong), but what "ok" cannot include: a
        // log cut at its end together with the checkpoints covering that
        // end reads as a shorter, intact log.
        eprintln!(
            "{}: note: the end of the log is not anchored: records removed from its end \
             together with their checkpoints would pass; give --checkpoint FILE (one saved \
             from GET /v1/audit/checkpoint or shipped off the host) to check that too",
            dir.display()
        );
    }
    if bounds.strict && !warnings.is_empty() {
        eprintln!(
            "{}: FAILED (--strict): {} warnings",
            dir.display(),
            warnings.len()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Uncovered records a stopped log may have without `--max-uncovered`:
/// twice the default `checkpoint_every_records` (a crash leaves at most
/// about one interval, plus a batch).
const DEFAULT_MAX_UNCOVERED: u64 = 2_000;

/// What a passing verification does not vouch for. `uncovered`: records no
/// signed checkpoint covers; `running`: a gateway writes the log now.
fn verify_warnings(r: &credgate_audit::VerifyReport, uncovered: u64, running: bool) -> Vec<String> {
    let mut out = Vec::new();
    if !r.signatures_checked {
        out.push(
            "no --pubkey: no signature was checked, so a forged checkpoint, seal or deletion \
             record would pass"
                .to_owned(),
        );
    }
    if let Some(size) = r.first_checkpoint_is_late_start {
        out.push(format!(
            "the first checkpoint is a run's start at size {size}: the checkpoints before it \
             are gone (checkpoints.log deleted or emptied, and a gateway then signed what it \
             found), or the log began under a version without start checkpoints and crashed \
             before its first; records 1–{size} are proven only as that start found them"
        ));
    }
    if uncovered > 0 && running && r.checkpoints > 0 {
        out.push(format!(
            "the last {uncovered} records are covered by no checkpoint yet and are NOT verified: \
             writer.lock is held (a gateway writing this log checkpoints them within \
             checkpoint_every_secs; anyone else can hold the lock too)"
        ));
    } else if uncovered > 0 {
        out.push(format!(
            "the last {uncovered} records are covered by no signed checkpoint and are NOT \
             verified: the gateway stopped without its final checkpoint (a crash), or records \
             were changed, added or cut together with the checkpoints covering them; compare \
             with a checkpoint held elsewhere (--checkpoint FILE), or bound them with \
             --max-uncovered"
        ));
    }
    if let Some(most) = r.beyond_copy {
        out.push(format!(
            "seqs {}–{most}, covered by signed checkpoints, are not in this copy: the segments \
             holding them were not shipped yet (the replica's active segment, or sealed since), \
             or were removed from the copy's end; check them in a later copy or the replica's \
             log",
            r.tree_size + 1
        ));
    }
    if let Some(at) = &r.torn_tail {
        out.push(format!(
            "torn tail at {at}: a write cut by a crash, never acknowledged (the gateway cuts it \
             at its next start)"
        ));
    }
    out
}

/// A checkpoint saved from `GET /v1/audit/checkpoint` or `audit checkpoint`
/// (their extra fields, such as `public_key`, ignored).
fn read_held_checkpoint(path: &Path) -> anyhow::Result<credgate_audit::SignedCheckpoint> {
    #[derive(serde::Deserialize)]
    struct Held {
        replica: String,
        tree_size: u64,
        root_hash: String,
        time: String,
        key_id: String,
        signature: String,
        #[serde(default)]
        kind: credgate_audit::CheckpointKind,
    }
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let h: Held = serde_json::from_slice(&text).with_context(|| {
        format!(
            "{}: not a checkpoint (the JSON of GET /v1/audit/checkpoint or `audit checkpoint`)",
            path.display()
        )
    })?;
    Ok(credgate_audit::SignedCheckpoint {
        replica: h.replica,
        tree_size: h.tree_size,
        root_hash: h.root_hash,
        time: h.time,
        key_id: h.key_id,
        signature: h.signature,
        kind: h.kind,
    })
}

/// The directory's latest checkpoint; a missing directory is an error, not
/// "no checkpoint yet".
fn latest_checkpoint(dir: &Path) -> anyhow::Result<Option<credgate_audit::SignedCheckpoint>> {
    if !dir.is_dir() {
        anyhow::bail!(
            "{}: not a directory (the replica's audit directory)",
            dir.display()
        );
    }
    Ok(credgate_audit::latest_checkpoint_dir(dir)?)
}
