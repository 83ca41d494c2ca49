//! The `credgate` command line as an operator uses it: exit codes, stderr,
//! and the files it writes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn credgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_credgate"))
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["demo", "--help"],
        vec!["certs", "dev", "--help"],
        vec!["policy", "check", "--help"],
        vec!["authz", "issue", "--help"],
        vec!["authz", "revoke", "--help"],
        vec!["audit", "verify", "--help"],
        vec!["audit", "query", "--help"],
        vec!["audit", "keygen", "--help"],
        vec!["health", "--help"],
    ] {
        let out = credgate().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}

#[test]
fn certs_dev_writes_the_layout_and_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pki");
    let run = |force: bool| {
        let mut c = credgate();
        c.args(["certs", "dev", "--out"]).arg(&out);
        if force {
            c.arg("--force");
        }
        c.output().unwrap()
    };
    let first = run(false);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    for f in [
        "ca.crt",
        "ca.key",
        "server.crt",
        "server.key",
        "crl.pem",
        "clients/bank-nb.crt",
        "clients/dept-nb.key",
        "clients/peer-hz.crt",
        "clients/auditor.crt",
        "clients/revoked.crt",
        "clients/expired.crt",
        "rogue/ca.crt",
        "rogue/client.crt",
        "rogue/client.key",
        "upstream/ca.crt",
        "upstream/gateway.crt",
        "authz/issuer.key",
        "authz/issuer.pub",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let again = run(false);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert!(run(true).status.success());
}

/// Asserts that a command exited 0, showing its stderr if not.
fn succeeded(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `credgate authz revoke --jti JTI --config FILE`, which must succeed.
fn revoke(jti: &str, config: &std::path::Path) {
    let out = credgate()
        .args(["authz", "revoke", "--jti", jti, "--config"])
        .arg(config)
        .output()
        .unwrap();
    succeeded(&out);
}

/// `credgate policy check FILE`.
fn policy_check(file: &std::path::Path) -> std::process::Output {
    credgate()
        .args(["policy", "check"])
        .arg(file)
        .output()
        .unwrap()
}

/// Writes `text` to `file`, runs `policy check` on it, expects it to fail
/// and returns what it printed on stderr.
fn failed_check(file: &std::path::Path, text: &str) -> String {
    std::fs::write(file, text).unwrap();
    let out = policy_check(file);
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The 1-based number of the first line of `text` holding `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn policy_check_reports_every_error_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    // The demo policy names its issuer's key file relative to itself.
    let (_, public) = credgate_certs::ed25519_keypair_pem().unwrap();
    std::fs::create_dir_all(dir.path().join("certs/authz")).unwrap();
    std::fs::write(dir.path().join("certs/authz/issuer.pub"), public).unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, credgate_policy::DEMO_POLICY).unwrap();
    let out = policy_check(&good);
    succeeded(&out);
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("4 clients"), "{summary}");
    // Home schemes live in the gateway's configuration: checked with
    // --config, and said to be unchecked without it.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("home schemes"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let minimal = "[server]\nlisten = \"127.0.0.1:0\"\ncert = \"s.crt\"\nkey = \"s.key\"\n\
                   client_ca = \"ca.crt\"\n[policy]\nfile = \"good.toml\"\n[audit]\n\
                   dir = \"audit\"\nsigning_key_file = \"audit.key\"\n";
    let with_schemes = dir.path().join("with.toml");
    std::fs::write(
        &with_schemes,
        format!("{minimal}{}", credgate::recognition::DEMO_SCHEMES_TOML),
    )
    .unwrap();
    let without = dir.path().join("without.toml");
    std::fs::write(&without, minimal).unwrap();
    let check_with = |policy: &std::path::Path, cfg: &std::path::Path| {
        credgate()
            .args(["policy", "check"])
            .arg(policy)
            .arg("--config")
            .arg(cfg)
            .output()
            .unwrap()
    };
    let out = check_with(&good, &with_schemes);
    succeeded(&out);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A home scheme the configuration lacks is one more located error,
    // reported with the file's others (black-box review: it was reported
    // alone, unlocated, and only once the rest of the file was clean).
    let scheme_line = line_of(credgate_policy::DEMO_POLICY, "home_scheme");
    let out = check_with(&good, &without);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("good.toml:{scheme_line}:")) && err.contains("[[score_schemes]]"),
        "{err}"
    );
    let two = dir.path().join("two.toml");
    std::fs::write(
        &two,
        credgate_policy::DEMO_POLICY.replace(
            "profile = \"bank-standard\"",
            "profile = \"no-such-profile\"",
        ),
    )
    .unwrap();
    let out = check_with(&two, &without);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no-such-profile") && err.contains(&format!("two.toml:{scheme_line}:")),
        "{err}"
    );

    let bad = dir.path().join("bad.toml");
    let text = credgate_policy::DEMO_POLICY
        .replace(
            "profile = \"bank-standard\"",
            "profile = \"no-such-profile\"",
        )
        .replace(
            "purposes = [\"administrative_approval\"]",
            "purposes = [\"no_such_purpose\"]",
        )
        .replace("kind = \"bank\"", "kind = \"bank\"\nunknown_key = 1");
    let err = failed_check(&bad, &text);
    assert!(err.contains("no-such-profile"), "{err}");
    assert!(err.contains("no_such_purpose"), "{err}");
    // An unknown key is one more located error, not the only one.
    assert!(
        err.contains(&format!("bad.toml:{}:1", line_of(&text, "unknown_key"))),
        "{err}"
    );
    assert!(
        err.contains(&format!("bad.toml:{}:", line_of(&text, "no-such-profile"))),
        "location of the profile error: {err}"
    );
    assert!(
        err.contains(&format!("bad.toml:{}:", line_of(&text, "no_such_purpose"))),
        "location of the purpose error: {err}"
    );
}

/// A missing or unusable issuer key is one more located error, reported
/// with the file's other errors (not alone once those are fixed).
#[test]
fn policy_check_fails_when_an_issuer_key_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("policy.toml");
    let text = credgate_policy::DEMO_POLICY.replace(
        "profile = \"bank-standard\"",
        "profile = \"no-such-profile\"",
    );
    let err = failed_check(&p, &text);
    assert!(err.contains("has 2 error(s)"), "{err}");
    assert!(
        err.contains(&format!(
            "policy.toml:{}:19: issuers[0].public_key_file: cannot read",
            line_of(&text, "public_key_file")
        )) && err.contains("issuer.pub"),
        "{err}"
    );
    assert!(err.contains("no-such-profile"), "{err}");
    // A file that is not a key: located the same way.
    std::fs::create_dir_all(dir.path().join("certs/authz")).unwrap();
    std::fs::write(dir.path().join("certs/authz/issuer.pub"), "not a key\n").unwrap();
    let err = failed_check(&p, credgate_policy::DEMO_POLICY);
    assert!(
        err.contains("issuers[0].public_key_file: issuer demo-issuer: not a PEM"),
        "{err}"
    );
}

#[test]
fn serve_check_validates_and_fails_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gateway.toml");
    std::fs::write(&cfg, "[server]\nlisten = \"127.0.0.1:0\"\n").unwrap();
    let out = credgate()
        .args(["serve", "--check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing field"));
}

#[tokio::test]
async fn authz_keygen_issue_inspect_and_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("certs/authz");
    let out = credgate()
        .args(["authz", "keygen", "--out"])
        .arg(&keys)
        .output()
        .unwrap();
    succeeded(&out);
    assert!(keys.join("issuer.key").is_file() && keys.join("issuer.pub").is_file());
    let out = credgate()
        .args(["authz", "issue", "--key"])
        .arg(keys.join("issuer.key"))
        .args([
            "--iss",
            "demo-issuer",
            "--sub",
            "91310110666007217T",
            "--aud",
            "bank-nb",
            "--scope",
            "enterprise.report",
            "--purpose",
            "loan_underwriting",
            "--ttl",
            "30d",
            "--max-uses",
            "3",
        ])
        .output()
        .unwrap();
    succeeded(&out);
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(token.split('.').count(), 3);
    // A subject the gateway would reject gets no token (and the error does
    // not repeat it): the last is born on 2099-01-01, check digit right.
    for bad in [
        "91310110666007218T",
        "3302031981060958",
        "hello",
        "330203209901011238",
    ] {
        let out = credgate()
            .args(["authz", "issue", "--key"])
            .arg(keys.join("issuer.key"))
            .args(["--iss", "demo-issuer", "--sub", bad, "--aud", "bank-nb"])
            .args([
                "--scope",
                "enterprise.report",
                "--purpose",
                "loan_underwriting",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && out.stdout.is_empty(),
            "{bad}: {err}"
        );
        assert!(
            err.contains("--sub: not a valid USCC or ID number"),
            "{err}"
        );
        assert!(!err.contains(bad), "{err}");
    }
    // Only the check character off, the embedded organisation code valid:
    // possibly a legacy pilot code, issued with a note.
    // All digits too (it has the ID-number shape and fails as one first).
    for legacy in ["91310110666007217a", "913502032908059063"] {
        let out = credgate()
            .args(["authz", "issue", "--key"])
            .arg(keys.join("issuer.key"))
            .args(["--iss", "demo-issuer", "--sub", legacy])
            .args(["--aud", "bank-nb", "--scope", "enterprise.report"])
            .args(["--purpose", "loan_underwriting"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{legacy}: {err}");
        assert!(err.contains("legacy_codes"), "{legacy}: {err}");
    }

    // Inspect against the policy that trusts this key: nothing to refuse.
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, credgate_policy::DEMO_POLICY).unwrap();
    let out = credgate()
        .args(["authz", "inspect", &token, "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        !text.contains("91310110666007217T"),
        "inspect must not print the subject"
    );
    // Without a policy the signature is not checked, and the valid token
    // is not called untrusted.
    let out = credgate()
        .args(["authz", "inspect", &token])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("untrusted"), "{text}");
    assert!(text.contains("signature: not checked"), "{text}");
    // A tampered token is reported, with a non-zero exit.
    let bad = format!("{}x", &token[..token.len() - 1]);
    let out = credgate()
        .args(["authz", "inspect", &bad, "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("problem"),
        "the failure is said on stderr too"
    );

    // Revoke through the config's revocation file.
    let cfg = dir.path().join("gateway.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"127.0.0.1:0\"\ncert = \"s.crt\"\nkey = \"s.key\"\nclient_ca = \"ca.crt\"\n\
         [policy]\nfile = \"policy.toml\"\n[audit]\ndir = \"audit\"\nsigning_key_file = \"audit.key\"\n\
         [authorization]\nrevocation_file = \"revocations.jsonl\"\n",
    )
    .unwrap();
    // As an operator with `umask 077` (sudo) would: the file it creates is
    // still readable by the gateway's own user.
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 077; exec \"$0\" authz revoke --jti abc123 --config \"$1\"")
        .arg(env!("CARGO_BIN_EXE_credgate"))
        .arg(&cfg)
        .output()
        .unwrap();
    succeeded(&out);
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = std::fs::metadata(dir.path().join("revocations.jsonl")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o644);
    }
    let file = std::fs::read_to_string(dir.path().join("revocations.jsonl")).unwrap();
    assert!(file.contains("\"abc123\""), "{file}");
    // Without --until a revocation is kept for good: one that lapsed before
    // its token expired would make the token valid again.
    assert!(
        file.contains(&format!("\"exp\":{}", credgate_authz::MAX_NUMERIC_DATE)),
        "{file}"
    );
    let out = credgate()
        .args([
            "authz", "revoke", "--jti", "old1", "--until", "1000", "--config",
        ])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success(), "an --until in the past is refused");
    // A jti holding a USCC is never accepted (it would reach the audit
    // log): revoking it is refused, and the file never holds the code.
    let out = credgate()
        .args([
            "authz",
            "revoke",
            "--jti",
            "91330203354933879K-1",
            "--config",
        ])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ID number or USCC"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = std::fs::read_to_string(dir.path().join("revocations.jsonl")).unwrap();
    assert!(!file.contains("354933879K"), "{file}");

    // Revoke through the config's Redis (SPEC §6: every replica at once).
    let redis = credgate_authz::testing::RedisServer::start()
        .unwrap_or_else(|e| panic!("{e} (scripts/test installs redis-server)"));
    let with_redis = dir.path().join("gateway-redis.toml");
    std::fs::write(
        &with_redis,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ncert = \"s.crt\"\nkey = \"s.key\"\nclient_ca = \"ca.crt\"\n\
             [policy]\nfile = \"policy.toml\"\n[audit]\ndir = \"audit\"\nsigning_key_file = \"audit.key\"\n\
             [redis]\nurl = \"{}\"\n",
            redis.url()
        ),
    )
    .unwrap();
    revoke("def456", &with_redis);
    use credgate_authz::AuthzState as _;
    let state =
        credgate_authz::RedisState::new(&credgate_authz::RedisOptions::new(redis.url())).unwrap();
    assert!(state.is_revoked("def456").await.unwrap());
    assert!(!state.is_revoked("abc123").await.unwrap());
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(credgate_authz::state::redis::revoked_key("def456"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        ttl > 7_000 * 365 * 86_400,
        "kept until 9999, not for 400 days: TTL {ttl}"
    );
}

/// Appends `n` allowed report queries of dept-nb (request ids `{prefix}{i}`).
async fn append_allowed(log: &credgate_audit::AuditLog, prefix: &str, n: u32) {
    for i in 0..n {
        log.append(credgate_audit::NewRecord {
            request_id: format!("{prefix}{i}"),
            client_id: "dept-nb".into(),
            endpoint: "/v1/enterprises/{uscc}/report".into(),
            decision: credgate_audit::Decision::Allow,
            reason: "ok".into(),
            status: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn audit_verify_query_and_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit");
    let (private, public) = credgate_audit::generate_signing_key_pem().unwrap();
    std::fs::write(dir.path().join("signing.pub"), &public).unwrap();
    let key = b"0123456789abcdef0123456789abcdef";
    std::fs::write(dir.path().join("pseudonym.key"), key).unwrap();
    {
        let signer = credgate_audit::AuditSigner::from_pkcs8_pem(&private).unwrap();
        let log = credgate_audit::AuditLog::open(credgate_audit::AuditConfig::new(
            &audit, "cli-test", signer,
        ))
        .await
        .unwrap();
        for (i, client) in ["bank-nb", "dept-nb", "dept-nb"].iter().enumerate() {
            log.append(credgate_audit::NewRecord {
                request_id: format!("r{i}"),
                client_id: (*client).into(),
                endpoint: "/v1/enterprises/{uscc}/report".into(),
                subject_pseudonym: Some(credgate_audit::pseudonym(key, "91310110666007217T")),
                decision: credgate_audit::Decision::Allow,
                reason: "ok".into(),
                status: 200,
                ..Default::default()
            })
            .await
            .unwrap();
        }
        log.shutdown().await.unwrap();
    }
    let run = |args: &[&str]| credgate().args(args).output().unwrap();
    let a = audit.to_str().unwrap();
    let pubkey = dir.path().join("signing.pub");
    let out = run(&[
        "audit",
        "verify",
        "--dir",
        a,
        "--pubkey",
        pubkey.to_str().unwrap(),
    ]);
    succeeded(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 records"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("signatures checked"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("WARNING"),
        "no warning for a closed, checked log: {stderr}"
    );
    // Without the key: still ok, but it says that nothing was signed-checked,
    // and --strict turns that into a failure.
    let out = run(&["audit", "verify", "--dir", a]);
    succeeded(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("WARNING: no --pubkey"));
    let out = run(&["audit", "verify", "--dir", a, "--strict"]);
    assert!(!out.status.success());
    let out = run(&["audit", "checkpoint", "--dir", a]);
    let cp: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cp["tree_size"], 3);
    // A checkpoint held outside the log: the log matches it; a log cut
    // back (here: a copy that never got its last record or checkpoint)
    // does not.
    let held = dir.path().join("held.json");
    std::fs::write(&held, &out.stdout).unwrap();
    let pk = pubkey.to_str().unwrap();
    let h = held.to_str().unwrap();
    let out = run(&[
        "audit",
        "verify",
        "--dir",
        a,
        "--pubkey",
        pk,
        "--checkpoint",
        h,
    ]);
    succeeded(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 checkpoints held outside the log matched")
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("not anchored"),
        "anchored by --checkpoint"
    );
    // Without one, "ok" says what it cannot vouch for: the log's end.
    let out = run(&["audit", "verify", "--dir", a, "--pubkey", pk]);
    succeeded(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("note: the end of the log is not anchored"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut bigger: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&held).unwrap()).unwrap();
    bigger["tree_size"] = 4.into();
    std::fs::write(&held, bigger.to_string()).unwrap();
    let out = run(&["audit", "verify", "--dir", a, "--checkpoint", h]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("removed from its end"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Its checkpoints removed: nothing proves the records any more. The
    // default fails (a stopped log must have a checkpoint); a crash before
    // the first checkpoint is accepted with --max-uncovered, which still
    // says the records are not verified.
    let bare = dir.path().join("bare");
    std::fs::create_dir(&bare).unwrap();
    for e in std::fs::read_dir(&audit).unwrap() {
        let e = e.unwrap();
        // Files only: no subdirectory holds records or checkpoints.
        if e.file_type().unwrap().is_file() && e.file_name() != "checkpoints.log" {
            std::fs::copy(e.path(), bare.join(e.file_name())).unwrap();
        }
    }
    let b = bare.to_str().unwrap();
    let verify_bare = |extra: &[&str]| {
        run(&[&["audit", "verify", "--dir", b, "--pubkey", pk][..], extra].concat())
    };
    let fails_without_checkpoints = || {
        let out = verify_bare(&[]);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("FAILED: no signed checkpoint covers any of its 3 records"),
            "{stderr}"
        );
    };
    fails_without_checkpoints();
    let out = verify_bare(&["--max-uncovered", "3"]);
    succeeded(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "the last 3 records are covered by no signed checkpoint and are NOT verified"
        ),
        "{stderr}"
    );
    let out = verify_bare(&["--max-uncovered", "2"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("FAILED (--max-uncovered 2): 3 records"));
    succeeded(&verify_bare(&["--max-uncovered", "3"]));
    // Holding the directory's writer lock, as a running gateway does,
    // excuses nothing: the bound and the need for a checkpoint stay.
    let lock = std::fs::File::create(bare.join(credgate_audit::LOCK_FILE)).unwrap();
    lock.lock().unwrap();
    fails_without_checkpoints();
    drop(lock);
    // The held checkpoint is the clean shutdown's final one: it still
    // matches the records, and shows that checkpoints were removed.
    std::fs::write(&held, run(&["audit", "checkpoint", "--dir", a]).stdout).unwrap();
    let held_cp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&held).unwrap()).unwrap();
    assert_eq!(held_cp["kind"], "final", "{held_cp}");
    let out = verify_bare(&["--checkpoint", h, "--max-uncovered", "0"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the final checkpoint given (size 3, "),
        "{stderr}"
    );
    // A log a gateway is writing: its newest records await their checkpoint.
    let live = dir.path().join("live");
    let signer = credgate_audit::AuditSigner::from_pkcs8_pem(&private).unwrap();
    let mut cfg = credgate_audit::AuditConfig::new(&live, "cli-live", signer);
    cfg.checkpoint_every_records = 1000;
    cfg.checkpoint_every = std::time::Duration::from_secs(3600);
    let log = credgate_audit::AuditLog::open(cfg).await.unwrap();
    append_allowed(&log, "l", 2).await;
    let out = run(&[
        "audit",
        "verify",
        "--dir",
        live.to_str().unwrap(),
        "--pubkey",
        pk,
    ]);
    succeeded(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("covered by no checkpoint yet and are NOT verified: writer.lock is held"),
        "{stderr}"
    );
    log.shutdown().await.unwrap();
    // Not an audit log: a failure, not "ok, 0 records".
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = run(&["audit", "verify", "--dir", empty.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no audit log"));
    let out = run(&["audit", "query", "--dir", a, "--client", "dept-nb"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    // Paging: one record a page, the next page from the cursor the last
    // one printed, until none is printed; every record once, newest first.
    let seqs = |out: &std::process::Output| -> Vec<u64> {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    };
    let all = seqs(&run(&["audit", "query", "--dir", a]));
    assert!(all.len() >= 3, "{all:?}");
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut args = vec!["audit", "query", "--dir", a, "--limit", "1"];
        if let Some(c) = &cursor {
            args.extend(["--cursor", c.as_str()]);
        }
        let out = run(&args);
        succeeded(&out);
        paged.extend(seqs(&out));
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        cursor = err
            .split("--cursor ")
            .nth(1)
            .map(|c| c.trim_end_matches([')', '\n']).to_owned());
        if cursor.is_none() {
            break;
        }
        assert!(paged.len() <= all.len(), "paging does not end: {paged:?}");
    }
    assert_eq!(paged, all);
    let keyf = dir.path().join("pseudonym.key");
    // `audit query --subject S --key K` on the log.
    let query_subject = |subject: &str, key: &std::path::Path| {
        run(&[
            "audit",
            "query",
            "--dir",
            a,
            "--subject",
            subject,
            "--key",
            key.to_str().unwrap(),
        ])
    };
    let out = query_subject("91310110666007217t", &keyf);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        3,
        "lower-case subject normalised"
    );
    // Input the gateway would refuse is refused here too, not searched in vain.
    let k = keyf.to_str().unwrap();
    for bad in [
        vec!["--subject", "not-an-id", "--key", k],
        vec![
            "--from",
            "2026-11-25T03:40:00Z",
            "--to",
            "2026-11-25T03:39:00Z",
        ],
    ] {
        let out = run(&[&["audit", "query", "--dir", a][..], &bad[..]].concat());
        assert!(!out.status.success(), "{bad:?}");
        assert!(!out.stderr.is_empty(), "{bad:?}");
    }
    // A key the gateway would refuse (under 32 bytes) is refused here too.
    let short = dir.path().join("short.key");
    std::fs::write(&short, "hello").unwrap();
    let out = query_subject("91310110666007217T", &short);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32 bytes"));
    // A legacy-shaped code is searched (offline there is no allow-list),
    // and stderr says so; finding nothing for a subject says to check the
    // key (a wrong key and an unqueried subject look alike).
    let out = query_subject("91350100m0001tgqxm", &keyf);
    succeeded(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("legacy code"), "{err}");
    assert!(err.contains("check that --key"), "{err}");
    let wrong = dir.path().join("wrong.key");
    std::fs::write(&wrong, [7u8; 32]).unwrap();
    let out = query_subject("91310110666007217T", &wrong);
    succeeded(&out);
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("check that --key"));
    // Tampering is detected and located.
    let seg = audit.join("segment-000001.log");
    let mut data = std::fs::read(&seg).unwrap();
    // A byte inside the first record (after the segment header frame).
    let at = data.len() / 3;
    data[at] ^= 1;
    std::fs::write(&seg, data).unwrap();
    let out = run(&["audit", "verify", "--dir", a]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("segment-000001"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A copy shipped as deploy/README says (sealed segments, seals, side
/// files) while the replica runs: its checkpoints cover records it lacks.
/// Plain `verify` fails it as cut; `--shipped` checks it and warns what is
/// missing (`--strict` fails on that); `query` reads it and notes the rest.
#[tokio::test]
async fn audit_verify_shipped_accepts_a_copy_of_sealed_segments() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit");
    let (private, public) = credgate_audit::generate_signing_key_pem().unwrap();
    let pubkey = dir.path().join("signing.pub");
    std::fs::write(&pubkey, &public).unwrap();
    let signer = credgate_audit::AuditSigner::from_pkcs8_pem(&private).unwrap();
    let mut cfg = credgate_audit::AuditConfig::new(&audit, "ship-test", signer);
    cfg.segment_max_bytes = 2048;
    let log = credgate_audit::AuditLog::open(cfg).await.unwrap();
    append_allowed(&log, "r", 40).await;
    let covered = log.checkpoint_now().await.unwrap().tree_size;
    assert_eq!(covered, 40);
    let ship = dir.path().join("ship");
    std::fs::create_dir_all(ship.join("seals")).unwrap();
    let mut shipped = 0;
    for e in std::fs::read_dir(audit.join("seals")).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        let segment = name.replace(".seal", ".log");
        std::fs::copy(
            audit.join("seals").join(&name),
            ship.join("seals").join(&name),
        )
        .unwrap();
        std::fs::copy(audit.join(&segment), ship.join(&segment)).unwrap();
        shipped += 1;
    }
    assert!(shipped >= 2, "{shipped} sealed segments");
    std::fs::copy(audit.join("checkpoints.log"), ship.join("checkpoints.log")).unwrap();
    let run = |args: &[&str]| credgate().args(args).output().unwrap();
    let (s, pk) = (ship.to_str().unwrap(), pubkey.to_str().unwrap());
    let stderr = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();

    let out = run(&["audit", "verify", "--dir", s, "--pubkey", pk]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("checkpoint beyond end of log"),
        "{}",
        stderr(&out)
    );

    let out = run(&["audit", "verify", "--dir", s, "--pubkey", pk, "--shipped"]);
    succeeded(&out);
    let held: u64 = String::from_utf8_lossy(&out.stdout)
        .split(" records (")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(held > 0 && held < covered, "the copy holds {held}");
    let warning = format!(
        "seqs {}–{covered}, covered by signed checkpoints, are not in this copy",
        held + 1
    );
    assert!(stderr(&out).contains(&warning), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("NOT verified"),
        "sealed records are covered by their seals: {}",
        stderr(&out)
    );
    let strict = run(&[
        "audit",
        "verify",
        "--dir",
        s,
        "--pubkey",
        pk,
        "--shipped",
        "--strict",
    ]);
    assert!(!strict.status.success());
    assert!(
        stderr(&strict).contains("FAILED (--strict)"),
        "{}",
        stderr(&strict)
    );

    let out = run(&["audit", "query", "--dir", s, "--limit", "1000"]);
    succeeded(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count() as u64,
        held
    );
    assert!(
        stderr(&out).contains(&format!("seqs {}–{covered} are not here", held + 1)),
        "{}",
        stderr(&out)
    );
    log.shutdown().await.unwrap();
}

fn sans_of(pem_path: &std::path::Path) -> Vec<String> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let pem = std::fs::read(pem_path).unwrap();
    let (_, block) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let (_, cert) = X509Certificate::from_der(&block.contents).unwrap();
    let san = cert.subject_alternative_name().unwrap().unwrap();
    san.value
        .general_names
        .iter()
        .map(|n| n.to_string())
        .collect()
}

#[test]
fn certs_dev_adds_extra_names_and_sim_serves_on_fixed_ports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pki");
    // A name that cannot be a SAN is refused before anything is written
    // (black-box review: the PKI was written, then the command failed).
    let refused = credgate()
        .args(["certs", "dev", "--san", "sim", "--san", "bad name", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("--san") && err.contains("bad name"), "{err}");
    assert!(!out.exists(), "written before the SAN was refused");
    let status = credgate()
        .args([
            "certs",
            "dev",
            "--san",
            "sim",
            "--san",
            "gateway.example",
            "--out",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    for cert in ["server.crt", "upstream/xiamen.crt"] {
        let sans = sans_of(&out.join(cert));
        assert!(sans.iter().any(|s| s.contains("sim")), "{cert}: {sans:?}");
        assert!(
            sans.iter().any(|s| s.contains("localhost")),
            "{cert}: {sans:?}"
        );
    }
    // `credgate sim` on fixed ports: data base+i, control base+100+i. A
    // base below the ephemeral range whose eight ports are free now (other
    // tests may run concurrently on this machine).
    let base = (0..200)
        .map(|i| 20_000 + ((u32::from(std::process::id() as u16) * 7 + i * 211) % 9_000) as u16)
        .find(|b| {
            (0..4).all(|i| {
                std::net::TcpListener::bind(("127.0.0.1", b + i)).is_ok()
                    && std::net::TcpListener::bind(("127.0.0.1", b + 100 + i)).is_ok()
            })
        })
        .expect("a free block of ports in 20000-29103");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_credgate"))
        .args(["sim", "--certs"])
        .arg(&out)
        .args(["--base-port", &base.to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut text = String::new();
    use std::io::BufRead as _;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        text.push_str(&line);
        text.push('\n');
        if line == "]" {
            break;
        }
    }
    let platforms: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(platforms.as_array().unwrap().len(), 4);
    assert_eq!(platforms[0]["address"], format!("https://127.0.0.1:{base}"));
    assert_eq!(
        platforms[3]["control"],
        format!("http://127.0.0.1:{}", base + 103)
    );
    let mut s = std::net::TcpStream::connect(("127.0.0.1", base + 100)).unwrap();
    use std::io::{Read as _, Write as _};
    s.write_all(b"GET /_sim/faults HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs the binary off the runtime's workers (the in-process gateway keeps
/// serving meanwhile).
async fn run_blocking(mut c: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_asks_the_admin_listener_and_exits_by_its_answer() {
    let h = credgate_integration::Harness::start().await;
    let admin = h.gw().admin_addr.unwrap().to_string();
    let health = |args: &[&str]| {
        let mut c = credgate();
        c.arg("health").args(args);
        c
    };
    let out = run_blocking(health(&["--addr", &admin])).await;
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("/healthz: 200"));
    let out = run_blocking(health(&["--addr", &admin, "--path", "/readyz"])).await;
    assert!(out.status.success(), "{out:?}");
    // The address can come from the environment (a container's HEALTHCHECK).
    let mut c = health(&[]);
    c.env("CREDGATE_HEALTH_ADDR", &admin);
    assert!(run_blocking(c).await.status.success());
    // Another status is a failure, with the status on stderr.
    let out = run_blocking(health(&["--addr", &admin, "--path", "/nope"])).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("404"));
    // Nobody listening: a failure that says so.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let out = run_blocking(health(&["--addr", &closed])).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("connecting"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_takes_the_audit_replica_from_the_flag_or_the_environment() {
    let h = credgate_integration::Harness::start().await;
    let cfg = h.config_path.to_str().unwrap().to_owned();
    let check = |extra: &[&str], env: Option<&str>| {
        let mut c = credgate();
        c.args(["serve", "--check", "--config", &cfg]).args(extra);
        c.env_remove("CREDGATE_AUDIT_REPLICA");
        if let Some(v) = env {
            c.env("CREDGATE_AUDIT_REPLICA", v);
        }
        c
    };
    let out = run_blocking(check(&[], None)).await;
    assert!(out.status.success(), "{out:?}");
    // A bare file name, run from the config's directory, checks the same.
    let mut bare = credgate();
    bare.args(["serve", "--check", "--config"])
        .arg(h.config_path.file_name().unwrap())
        .current_dir(h.config_path.parent().unwrap())
        .env_remove("CREDGATE_AUDIT_REPLICA");
    let out = run_blocking(bare).await;
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!text.contains("credgate-7"), "{text}");
    let out = run_blocking(check(&[], Some("credgate-7"))).await;
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("audit replica credgate-7"));
    // The flag wins over the environment.
    let out = run_blocking(check(&["--replica", "credgate-8"], Some("credgate-7"))).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("audit replica credgate-8"));
    // An id that cannot name files or records is refused, naming the source.
    let out = run_blocking(check(&["--replica", "../x"], None)).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CREDGATE_AUDIT_REPLICA"));
}

#[test]
fn audit_keygen_writes_a_usable_pair_once() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("keys");
    let run = || {
        credgate()
            .args(["audit", "keygen", "--out"])
            .arg(&out)
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{first:?}");
    let key = out.join("signing.key");
    let public = out.join("signing.pub");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&key), 0o600);
    // The pair matches: the public key is the signer's.
    let signer =
        credgate_audit::AuditSigner::from_pkcs8_pem(&std::fs::read_to_string(&key).unwrap())
            .unwrap();
    let verifier =
        credgate_audit::AuditPublicKey::from_spki_pem(&std::fs::read_to_string(&public).unwrap())
            .unwrap();
    assert_eq!(signer.key_id(), verifier.key_id());
    assert!(String::from_utf8_lossy(&first.stdout).contains(signer.key_id()));
    // Never overwrites a key.
    let before = std::fs::read(&key).unwrap();
    let second = run();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("not overwriting"));
    assert_eq!(std::fs::read(&key).unwrap(), before);
}

#[test]
fn a_missing_file_is_named_once_on_stderr_with_a_non_zero_exit() {
    let missing = "/nonexistent-credgate-test/x";
    for args in [
        vec!["serve", "--config", missing],
        vec!["audit", "query", "--dir", missing],
        vec!["audit", "checkpoint", "--dir", missing],
        vec!["audit", "verify", "--dir", missing],
        vec!["authz", "revoke", "--jti", "abc", "--config", missing],
    ] {
        let out = credgate().args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(missing), "{args:?}: {err}");
        // The cause once, not repeated by the error chain.
        assert!(err.matches("os error 2").count() <= 1, "{args:?}: {err}");
        assert!(!err.contains("no checkpoint yet"), "{args:?}: {err}");
    }
}

/// `serve --check` finds an audit directory `serve` could not create
/// (black-box review: the check passed, the start failed), without
/// creating one itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_check_refuses_an_audit_dir_serve_could_not_create() {
    let h = credgate_integration::Harness::start().await;
    let text = std::fs::read_to_string(&h.config_path).unwrap();
    let dir = h.config_path.parent().unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("dir = ") && l.contains("audit"))
        .unwrap_or_else(|| panic!("no audit dir in {text}"));
    let file = dir.join("a-file");
    std::fs::write(&file, "").unwrap();
    let fresh = dir.join("new/audit");
    for (audit_dir, refusal) in [
        (fresh.clone(), None),
        (file.join("audit"), Some("is not a folder")),
    ] {
        let cfg = dir.join("gateway-audit-check.toml");
        let with = text.replace(line, &format!("dir = {:?}", audit_dir.to_str().unwrap()));
        std::fs::write(&cfg, with).unwrap();
        let mut c = credgate();
        c.args(["serve", "--check", "--config"]).arg(&cfg);
        let out = run_blocking(c).await;
        assert_eq!(
            out.status.success(),
            refusal.is_none(),
            "{audit_dir:?}: {out:?}"
        );
        if let Some(refusal) = refusal {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(refusal) && err.contains("audit dir"), "{err}");
        }
    }
    assert!(!fresh.exists(), "the check created the directory");
    assert!(!dir.join("new").exists(), "the check created the directory");
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".credgate-check")
        })
        .collect();
    assert!(left.is_empty(), "probe files left: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_check_refuses_a_redis_url_serve_could_not_use() {
    let h = credgate_integration::Harness::start().await;
    let text = std::fs::read_to_string(&h.config_path).unwrap();
    let dir = h.config_path.parent().unwrap();
    for (url, refusal) in [
        ("redis://127.0.0.1:6390/0", None),
        ("redis://127.0.0.1:6390/notadb", Some("[redis] url")),
        // TLS, with the system's trust store.
        ("rediss://127.0.0.1:6390/0", None),
        (
            "rediss://127.0.0.1:6390/0#insecure",
            Some("redis.url: no #fragment"),
        ),
    ] {
        let cfg = dir.join("gateway-redis-check.toml");
        std::fs::write(&cfg, format!("{text}\n[redis]\nurl = \"{url}\"\n")).unwrap();
        let mut c = credgate();
        c.args(["serve", "--check", "--config"]).arg(&cfg);
        let out = run_blocking(c).await;
        assert_eq!(out.status.success(), refusal.is_none(), "{url}: {out:?}");
        if let Some(refusal) = refusal {
            assert!(
                String::from_utf8_lossy(&out.stderr).contains(refusal),
                "{out:?}"
            );
        }
    }
}
