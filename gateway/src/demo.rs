//! `credgate demo`: the dev PKI, the four simulated platforms, the demo
//! policy and a gateway, all on loopback, with ready-to-paste curl commands.

use anyhow::Context as _;
use clap::Args;
use serde_json::Value;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Seed of the simulated platforms' synthetic data (`samples.json` is the
/// ground truth for it).
pub const DEMO_SEED: u64 = 20_261_124;

/// Arguments of `credgate demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for certificates, configuration, audit log and samples.
    #[arg(long, default_value = "./credgate-demo")]
    pub dir: PathBuf,
    /// Client-facing (mTLS) address.
    #[arg(long, default_value = "127.0.0.1:8443", value_parser = crate::cli::parse_addr)]
    pub listen: SocketAddr,
    /// Admin address (health, readiness, metrics).
    #[arg(long, default_value = "127.0.0.1:9090", value_parser = crate::cli::parse_addr)]
    pub admin: SocketAddr,
}

/// Runs the demo until SIGINT/SIGTERM.
pub fn run(a: DemoArgs) -> anyhow::Result<ExitCode> {
    crate::logging::init("warn");
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    let dir = a
        .dir
        .canonicalize()
        .with_context(|| format!("resolving {}", a.dir.display()))?;
    // A demo already running on this directory: refuse before writing
    // anything (its platforms.json, gateway.toml and samples.json describe
    // the running one; the audit lock alone would refuse only after they
    // were overwritten).
    anyhow::ensure!(
        !crate::cli::audit::writer_running(&dir.join("audit")),
        "{}: a running credgate (another demo?) holds its audit log; stop it or pick another --dir",
        dir.display()
    );
    let certs = dir.join("certs");
    if !certs.join("ca.crt").exists() {
        credgate_certs::generate_dev_pki(&credgate_certs::DevPkiOptions {
            out: certs.clone(),
            force: false,
        })
        .context("writing the dev PKI")?;
    }
    std::fs::create_dir_all(dir.join("audit")).context("creating the audit directory")?;
    prepare_keys(&certs)?;
    let rt = crate::cli::runtime()?;
    rt.block_on(async move {
        let platforms = credgate_sim::start_all(&certs, DEMO_SEED)
            .await
            .context("starting the simulated platforms")?;
        let dataset = credgate_sim::Dataset::generate(DEMO_SEED);
        let samples = dataset.samples_json();
        write_json(
            &dir.join("platforms.json"),
            &credgate_sim::platforms_json(&platforms),
        )?;
        write_json(&dir.join("samples.json"), &samples)?;
        write_policy(&dir.join("policy.toml"))?;
        let gateway_toml = gateway_toml(&a.listen, &a.admin, &platforms);
        let cfg_path = dir.join("gateway.toml");
        std::fs::write(&cfg_path, &gateway_toml).context("writing gateway.toml")?;
        let cfg = crate::config::Config::load(&cfg_path)?;
        let running = crate::app::start(&cfg).await?;
        let key = std::fs::read_to_string(certs.join("authz/issuer.key"))
            .context("reading the demo issuer key")?;
        // Not `println!`: a closed stdout (`credgate demo | head`) must not
        // take the running demo down.
        let text = banner(&dir, running.addr, running.admin_addr, &samples, &key)?;
        {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}").and_then(|()| out.flush());
        }
        crate::cli::wait_for_signal().await;
        eprintln!("credgate demo: shutting down (draining in-flight requests)");
        running.shutdown().await;
        for p in platforms {
            p.shutdown().await;
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the demo policy, unless the file is there with other text: a
/// policy edited to try something (a profile, a limit) survives a restart
/// of the demo (black-box review: it was overwritten). `gateway.toml` and
/// the rest are rewritten each time: they name this run's ports.
fn write_policy(path: &Path) -> anyhow::Result<()> {
    match std::fs::read(path) {
        Ok(text) if text != credgate_policy::DEMO_POLICY.as_bytes() => {
            eprintln!(
                "credgate demo: keeping the edited {} (delete it to get the demo policy back)",
                path.display()
            );
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::write(path, credgate_policy::DEMO_POLICY)
                .with_context(|| format!("writing {}", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Makes the demo's audit signing key (`certs/audit/signing.key` + `.pub`)
/// and subject pseudonym key (`certs/pseudonym.key`) when missing.
pub fn prepare_keys(certs: &Path) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let write_secret = |path: &Path, data: &[u8]| -> anyhow::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        f.write_all(data)?;
        Ok(())
    };
    let audit = certs.join("audit");
    if !audit.join("signing.key").exists() {
        std::fs::create_dir_all(&audit)?;
        let (private, public) = credgate_audit::generate_signing_key_pem()?;
        write_secret(&audit.join("signing.key"), private.as_bytes())?;
        std::fs::write(audit.join("signing.pub"), public)?;
    }
    let pseudonym = certs.join("pseudonym.key");
    if !pseudonym.exists() {
        let mut key = [0u8; 32];
        rand::Rng::fill(&mut rand::thread_rng(), &mut key);
        write_secret(&pseudonym, hex::encode(key).as_bytes())?;
    }
    Ok(())
}

fn write_json(path: &Path, v: &Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(v)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// The demo's gateway configuration: relative paths resolve against the
/// demo directory.
pub fn gateway_toml(
    listen: &SocketAddr,
    admin: &SocketAddr,
    platforms: &[credgate_sim::RunningPlatform],
) -> String {
    let mut t = format!(
        r#"# credgate demo configuration (written by `credgate demo`).
[server]
listen = "{listen}"
cert = "certs/server.crt"
key = "certs/server.key"
client_ca = "certs/ca.crt"
crls = ["certs/crl.pem"]

[admin]
listen = "{admin}"

[policy]
file = "policy.toml"

[audit]
dir = "audit"
replica = "demo-1"
signing_key_file = "certs/audit/signing.key"
checkpoint_every_records = 100
checkpoint_every_secs = 10

[privacy]
pseudonym_key_file = "certs/pseudonym.key"

[authorization]
# `credgate authz revoke --jti ID --config gateway.toml` appends here; the
# running gateway sees it at once.
revocation_file = "revocations.jsonl"

[sanctions]
deadline_ms = 2000
max_subjects = 100
{schemes}"#,
        schemes = crate::recognition::DEMO_SCHEMES_TOML
    );
    for p in platforms {
        let regions: Vec<String> = p.spec.regions.iter().map(|r| format!("{r:?}")).collect();
        let _ = write!(
            t,
            r#"
[[upstreams]]
name = "{name}"
kind = "{kind}"
regions = [{regions}]
base_url = "{url}"
adapter = "{adapter}"
ca = "certs/upstream/ca.crt"
client_cert = "certs/upstream/gateway.crt"
client_key = "certs/upstream/gateway.key"
timeout_ms = 3000
sanctions = "{sanctions}"
"#,
            name = p.spec.name,
            kind = p.spec.kind,
            regions = regions.join(", "),
            url = p.base_url(),
            adapter = p.spec.adapter,
            // Peer cities publish joint-punishment lists covering anyone;
            // the city and the province answer for their own regions.
            sanctions = if p.spec.kind == "peer" {
                "all"
            } else {
                "regions"
            },
        );
    }
    t
}

fn first_subject(samples: &Value, platform: &str) -> Option<String> {
    samples["enterprises"].as_array()?.iter().find_map(|e| {
        (e["platform"] == platform)
            .then(|| e["uscc"].as_str().map(str::to_owned))
            .flatten()
    })
}

fn first_person(samples: &Value, platform: &str) -> Option<String> {
    samples["persons"].as_array()?.iter().find_map(|p| {
        (p["platform"] == platform)
            .then(|| p["id"].as_str().map(str::to_owned))
            .flatten()
    })
}

/// A fresh demo authorization token (30 days, signed by `demo-issuer`).
fn token(key: &str, sub: &str, aud: &str, scope: &str, purpose: &str) -> anyhow::Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0);
    Ok(credgate_authz::issue(
        key,
        &credgate_authz::IssueClaims {
            iss: "demo-issuer".into(),
            sub: sub.into(),
            aud: aud.into(),
            scope: vec![scope.into()],
            purpose: purpose.into(),
            ttl: std::time::Duration::from_secs(30 * 86_400),
            max_uses: None,
            kid: None,
            now_unix: now,
        },
    )?)
}

/// The first executable file called `name` on `PATH`.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// How the banner names this program: `credgate` when that is what `PATH`
/// finds, else this binary's own path (a newcomer who ran `cargo run` has
/// no `credgate` on `PATH`).
fn credgate_command() -> String {
    let me = std::env::current_exe().ok();
    let found = find_on_path("credgate").and_then(|p| p.canonicalize().ok());
    match me {
        Some(me) if found.as_ref() == me.canonicalize().ok().as_ref() => "credgate".to_owned(),
        Some(me) => me.display().to_string(),
        None => "credgate".to_owned(),
    }
}

fn banner(
    dir: &Path,
    addr: SocketAddr,
    admin: Option<SocketAddr>,
    samples: &Value,
    key: &str,
) -> anyhow::Result<String> {
    let d = dir.display();
    let base = format!("https://localhost:{}", addr.port());
    let curl = |client: &str| {
        format!(
            "curl -sS --cacert {d}/certs/ca.crt --cert {d}/certs/clients/{client}.crt --key {d}/certs/clients/{client}.key"
        )
    };
    let mut out = String::new();
    let _ = writeln!(out, "credgate demo is running.");
    let _ = writeln!(out, "  gateway (mTLS): {base}");
    if let Some(a) = admin {
        let _ = writeln!(
            out,
            "  admin:          http://{a}/healthz  /readyz  /metrics"
        );
    }
    let _ = writeln!(
        out,
        "  files:          {d}/{{gateway.toml,policy.toml,platforms.json,samples.json,certs/}}"
    );
    if find_on_path("curl").is_none() {
        let _ = writeln!(
            out,
            "  note:           the commands below use curl, which is not installed here (apt-get install -y curl)"
        );
    }
    let credgate = credgate_command();
    let _ = writeln!(out);
    let nb = first_subject(samples, "xinyong-ningbo").unwrap_or_default();
    let hz = first_subject(samples, "hangzhou").unwrap_or_default();
    let zj = first_subject(samples, "xinyong-zhejiang").unwrap_or_default();
    let xm = first_subject(samples, "xiamen").unwrap_or_default();
    let dept = curl("dept-nb");
    let _ = writeln!(out, "# 1. A department reads a Ningbo enterprise's full report (信用宁波), personal fields masked:");
    let _ = writeln!(
        out,
        "{dept} -H 'X-Credit-Purpose: administrative_approval' {base}/v1/enterprises/{nb}/report"
    );
    let _ = writeln!(out, "\n# 2. Selected sections of a Hangzhou enterprise (杭州), and of one in a Zhejiang city served by the province (信用浙江):");
    let _ = writeln!(out, "{dept} -H 'X-Credit-Purpose: administrative_approval' '{base}/v1/enterprises/{hz}/report?sections=basic,penalties'");
    let _ = writeln!(out, "{dept} -H 'X-Credit-Purpose: administrative_approval' '{base}/v1/enterprises/{zj}/report?sections=basic,blacklist,dishonest'");
    let _ = writeln!(out, "\n# 3. A Xiamen enterprise (厦门, XML upstream):");
    let _ = writeln!(out, "{dept} -H 'X-Credit-Purpose: administrative_approval' {base}/v1/enterprises/{xm}/report?sections=basic");
    let _ = writeln!(out, "\n# 4. Refusals: a bad USCC (400 invalid_subject_id), no purpose (400 purpose_required), a region no platform serves (404):");
    let _ = writeln!(out, "{dept} -H 'X-Credit-Purpose: administrative_approval' {base}/v1/enterprises/91310110666007217X/report");
    let _ = writeln!(out, "{dept} {base}/v1/enterprises/{nb}/report");
    let _ = writeln!(out, "{dept} -H 'X-Credit-Purpose: administrative_approval' {base}/v1/enterprises/91310110666007217T/report");
    let _ = writeln!(out, "\n# 5. A certificate from an untrusted CA never gets an HTTP response (TLS handshake fails):");
    let _ = writeln!(out, "curl -sS --cacert {d}/certs/ca.crt --cert {d}/certs/rogue/client.crt --key {d}/certs/rogue/client.key {base}/v1/enterprises/{nb}/report");

    let bank = curl("bank-nb");
    let tok = token(
        key,
        &nb,
        "bank-nb",
        "enterprise.report",
        "loan_underwriting",
    )?;
    let _ = writeln!(out, "\n# 6. A bank (信易贷) reads the sections in its scope under the enterprise's signed authorization (企业授权):");
    let _ = writeln!(out, "{bank} -H 'X-Credit-Purpose: loan_underwriting' -H 'X-Credit-Authorization: {tok}' {base}/v1/enterprises/{nb}/report");
    let _ = writeln!(
        out,
        "# … the same token for another enterprise is refused (403 authorization_mismatch):"
    );
    let _ = writeln!(out, "{bank} -H 'X-Credit-Purpose: loan_underwriting' -H 'X-Credit-Authorization: {tok}' {base}/v1/enterprises/{hz}/report");
    let _ = writeln!(out, "# … and without a token (401 authorization_required):");
    let _ = writeln!(
        out,
        "{bank} -H 'X-Credit-Purpose: loan_underwriting' {base}/v1/enterprises/{nb}/report"
    );

    let peer = curl("peer-hz");
    if let Some(person) = first_person(samples, "xinyong-ningbo") {
        let tok = token(key, &person, "peer-hz", "person.score", "score_recognition")?;
        let _ = writeln!(out, "\n# 7. Hangzhou's platform reads a Ningbo resident's 天一分 with the person's consent, recognised on the common scale and as 钱江分 tier (信用分互认):");
        let _ = writeln!(out, "{peer} -H 'X-Credit-Purpose: score_recognition' -H 'X-Credit-Authorization: {tok}' {base}/v1/persons/{person}/score");
    }

    let mut batch: Vec<String> = [&nb, &hz, &zj, &xm].iter().map(|s| s.to_string()).collect();
    if let Some(p) = first_person(samples, "hangzhou") {
        batch.push(p);
    }
    batch.push("not-an-id".into());
    let body = serde_json::json!({ "subjects": batch }).to_string();
    let _ = writeln!(out, "\n# 8. A department checks a batch against joint-punishment lists (联合奖惩) on every platform at once:");
    let _ = writeln!(out, "{dept} -H 'X-Credit-Purpose: administrative_approval' -H 'Content-Type: application/json' -d '{body}' {base}/v1/sanctions/check");

    let tok = token(key, &nb, "peer-hz", "self.access_log", "subject_request")?;
    let _ = writeln!(out, "\n# 9. The enterprise's own query record (查询记录: who read it, when, why), asked through a platform under the subject's authorization; each entry comes with its inclusion proof:");
    let _ = writeln!(out, "{peer} -H 'X-Credit-Purpose: subject_request' -H 'X-Credit-Authorization: {tok}' {base}/v1/subjects/{nb}/access-log");

    let auditor = curl("auditor");
    let review = "-H 'X-Credit-Purpose: audit_review'";
    let _ = writeln!(out, "\n# 10. An auditor searches the log (by client, subject, time, decision), reads the signed checkpoint, and asks for inclusion and consistency proofs:");
    let _ = writeln!(
        out,
        "{auditor} {review} '{base}/v1/audit/records?client=dept-nb&decision=allow&limit=5'"
    );
    let _ = writeln!(
        out,
        "{auditor} {review} '{base}/v1/audit/records?subject={nb}'"
    );
    let _ = writeln!(out, "{auditor} {review} {base}/v1/audit/checkpoint");
    let _ = writeln!(out, "{auditor} {review} {base}/v1/audit/proof/1");
    let _ = writeln!(
        out,
        "{auditor} {review} '{base}/v1/audit/consistency?from=1&to=2'"
    );
    let _ = writeln!(out, "#   offline, after stopping the demo (its final checkpoint covers every record): {credgate} audit verify --dir {d}/audit --pubkey {d}/certs/audit/signing.pub --max-uncovered 0   ·   {credgate} audit query --dir {d}/audit --client dept-nb");

    let _ = writeln!(out, "\n# Revoke a token while the gateway runs (its jti is shown by `{credgate} authz inspect TOKEN --policy {d}/policy.toml`):");
    let _ = writeln!(
        out,
        "#   {credgate} authz revoke --jti JTI --config {d}/gateway.toml"
    );
    let _ = writeln!(out, "\nStop with Ctrl-C (in-flight requests are drained).");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_looked_up_on_path() {
        assert!(find_on_path("sh").is_some_and(|p| p.is_absolute()));
        assert!(find_on_path("no-such-program-credgate-test").is_none());
        // The test binary is not `credgate` on PATH: named by its path.
        let me = std::env::current_exe().unwrap();
        assert_eq!(credgate_command(), me.display().to_string());
    }
}
