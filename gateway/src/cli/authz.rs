//! `credgate authz keygen|issue|revoke|inspect`: operator tools for subject
//! authorization tokens (SPEC §6). Raw tokens are printed only by `issue`
//! (to stdout, for the operator); nothing here logs a token or a subject.

use anyhow::{bail, Context as _};
use clap::Subcommand;
use credgate_authz::{AuthzState, IssueClaims, VerifyOptions};
use std::path::PathBuf;
use std::process::ExitCode;

/// Authorization token tools.
#[derive(Debug, Subcommand)]
pub enum AuthzCommand {
    /// Make an Ed25519 issuer key pair (`issuer.key` PKCS#8, `issuer.pub` SPKI).
    Keygen {
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Issue a signed authorization token and print it.
    Issue {
        /// The issuer's private key (PEM, PKCS#8).
        #[arg(long)]
        key: PathBuf,
        /// Issuer id (`iss`), as the policy trusts it.
        #[arg(long)]
        iss: String,
        /// Subject: the enterprise's USCC or the person's ID number (`sub`).
        #[arg(long)]
        sub: String,
        /// Grantee client id (`aud`).
        #[arg(long)]
        aud: String,
        /// Granted scopes, comma-separated (`scope`).
        #[arg(long, value_delimiter = ',', required = true)]
        scope: Vec<String>,
        /// Agreed purpose (`purpose`).
        #[arg(long)]
        purpose: String,
        /// Lifetime, e.g. `30d`, `12h`, `90m`.
        #[arg(long, default_value = "30d")]
        ttl: String,
        /// Most uses (`max_uses`).
        #[arg(long)]
        max_uses: Option<u32>,
        /// `kid` header, when the policy pins one.
        #[arg(long)]
        kid: Option<String>,
    },
    /// Revoke a token by `jti`, at once on every running gateway: through
    /// Redis when the config names one, else through the revocation file.
    Revoke {
        /// The token's `jti`.
        #[arg(long)]
        jti: String,
        /// The gateway configuration (to find Redis or the revocation file).
        #[arg(long)]
        config: PathBuf,
        /// Keep the revocation until this Unix time, e.g. the token's `exp`
        /// (default: for good — a revocation that lapsed before its token
        /// expired would make the token valid again).
        #[arg(long)]
        until: Option<i64>,
    },
    /// Decode a token without trusting it and say why it would be refused
    /// by the checks that need no request and no store (signature, issuer,
    /// validity window, claims). Whether it is revoked or its uses spent is
    /// not checked: that lives in Redis or the revocation file.
    Inspect {
        /// The token.
        token: String,
        /// A policy file whose trusted issuers to check the signature against
        /// (without one the signature is not checked).
        #[arg(long)]
        policy: Option<PathBuf>,
    },
}

/// `--sub` as the gateway will compare it: a valid USCC or ID number,
/// normalised. A USCC that fails only its check character may be a legacy
/// pilot code, which a gateway accepts where its policy allow-lists it:
/// issued, with a note. Anything else is refused (a token for an
/// identifier the gateway rejects could never be used). Errors do not
/// repeat the identifier.
fn checked_subject(raw: &str) -> anyhow::Result<String> {
    // The one check the pure parser cannot make: a birth date still to
    // come is not one (SPEC §3), and the gateway refuses such a number.
    let plain = credgate_ids::Subject::parse(raw.trim(), &credgate_ids::LegacyCodes::empty());
    if plain.is_ok_and(|s| s.born_after(crate::http::subject::today_cst())) {
        bail!(
            "--sub: not a valid USCC or ID number: {}",
            credgate_ids::IdError::BadBirthDate
        );
    }
    match super::cli_subject(raw) {
        Some((s, false)) => Ok(s),
        Some((s, true)) => {
            eprintln!(
                "note: --sub fails the standard check character but is shaped like a legacy \
                 pilot code; a gateway accepts it only if its policy lists it in legacy_codes"
            );
            Ok(s)
        }
        None => {
            let detail =
                credgate_ids::Subject::parse(raw.trim(), &credgate_ids::LegacyCodes::empty())
                    .err()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default();
            bail!("--sub: not a valid USCC or ID number{detail}")
        }
    }
}

/// Runs an authz command.
pub fn run(cmd: AuthzCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AuthzCommand::Keygen { out } => {
            let (key, public) = credgate_authz::keygen(&out)
                .with_context(|| format!("writing the key pair to {}", out.display()))?;
            println!(
                "private key: {}\npublic key:  {}",
                key.display(),
                public.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        AuthzCommand::Issue {
            key,
            iss,
            sub,
            aud,
            scope,
            purpose,
            ttl,
            max_uses,
            kid,
        } => {
            let pem = std::fs::read_to_string(&key)
                .with_context(|| format!("reading {}", key.display()))?;
            let ttl = credgate_authz::parse_ttl(&ttl).context("--ttl")?;
            let sub = checked_subject(&sub)?;
            let token = credgate_authz::issue(
                &pem,
                &IssueClaims {
                    iss,
                    sub,
                    aud,
                    scope,
                    purpose,
                    ttl,
                    max_uses,
                    kid,
                    now_unix: now(),
                },
            )?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        AuthzCommand::Revoke { jti, config, until } => {
            if !credgate_authz::is_valid_jti(&jti) {
                bail!("--jti: not a valid token id");
            }
            if credgate_authz::jti_names_a_subject(&jti) {
                // Never accepted, so nothing to revoke; and the revocation
                // file or Redis would then hold the identifier.
                bail!(
                    "--jti: holds an ID number or USCC; no token with such an id is ever \
                     accepted, so there is nothing to revoke"
                );
            }
            let cfg = crate::config::Config::load(&config)?;
            let until = until.unwrap_or(credgate_authz::MAX_NUMERIC_DATE);
            if !(now()..=credgate_authz::MAX_NUMERIC_DATE).contains(&until) {
                bail!("--until: must be a Unix time from now to 9999-12-31");
            }
            if let Some(r) = &cfg.redis {
                let o = r.authz_options(std::time::Duration::from_millis(
                    r.call_timeout_ms.max(1000),
                ));
                // The Redis client needs the runtime to exist when it is made.
                let rt = crate::cli::runtime()?;
                rt.block_on(async {
                    let state = credgate_authz::RedisState::new(&o)?;
                    state.revoke(&jti, until).await
                })
                .context("revoking through Redis")?;
                println!("revoked {jti} through Redis (every replica sees it now)");
            } else if let Some(file) = &cfg.authorization.revocation_file {
                credgate_authz::append_revocation(file, &jti, until)
                    .with_context(|| format!("appending to {}", file.display()))?;
                println!(
                    "revoked {jti} in {} (running gateways reload it)",
                    file.display()
                );
            } else {
                bail!(
                    "{}: names neither [redis] nor authorization.revocation_file; nowhere to revoke",
                    config.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        AuthzCommand::Inspect { token, policy } => {
            let issuers = match &policy {
                Some(p) => crate::policy_store::load_policy_file(p)?.issuers,
                None => Vec::new(),
            };
            let mut report =
                credgate_authz::inspect(&token, &issuers, &VerifyOptions::default(), now());
            // Without a policy no issuer is trusted or untrusted: the
            // signature is simply not checked, and the report says so.
            if policy.is_none() {
                let untrusted = credgate_authz::Problem::Invalid(
                    credgate_authz::InvalidReason::UntrustedIssuer,
                );
                report.problems.retain(|p| *p != untrusted);
            }
            // The report is the command's output (stdout); a token with
            // problems is also an error, said on stderr with the exit code.
            println!("{report}");
            if policy.is_none() {
                println!(
                    "signature: not checked (give --policy FILE to check it against the policy's trusted issuers)"
                );
            }
            Ok(if report.problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "credgate authz inspect: the token has {} problem(s), listed above",
                    report.problems.len()
                );
                ExitCode::from(1)
            })
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
