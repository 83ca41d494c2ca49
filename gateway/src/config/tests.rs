//! Tests of the configuration model.
use super::*;

pub(crate) const MIN: &str = r#"
[server]
listen = "127.0.0.1:0"
cert = "server.crt"
key = "server.key"
client_ca = "ca.crt"
[policy]
file = "policy.toml"
[audit]
dir = "audit"
signing_key_file = "audit.key"
"#;

#[test]
fn minimal_config_gets_defaults_and_resolved_paths() {
    let cfg = Config::from_toml(MIN, Path::new("g.toml"), Path::new("/etc/cg")).unwrap();
    assert_eq!(cfg.server.max_body_bytes, 64 * 1024);
    assert_eq!(cfg.server.cert, PathBuf::from("/etc/cg/server.crt"));
    assert_eq!(cfg.policy.file, PathBuf::from("/etc/cg/policy.toml"));
}

#[test]
fn unknown_keys_are_rejected() {
    let text = format!("{MIN}\nsurprise = 1\n");
    let err = Config::from_toml(&text, Path::new("g.toml"), Path::new(".")).unwrap_err();
    assert!(err.to_string().contains("surprise"), "{err}");
}

#[test]
fn every_problem_is_reported() {
    let text = format!(
        "{MIN}\n[[upstreams]]\nname = \"a\"\nkind = \"city\"\nregions = [\"3x\"]\nbase_url = \"http://x\"\nadapter = \"nope\"\nca = \"c\"\nclient_cert = \"c\"\nclient_key = \"k\"\nmax_concurrency = 0\n"
    );
    let err = Config::from_toml(&text, Path::new("g.toml"), Path::new(".")).unwrap_err();
    let ConfigError::Invalid { problems, .. } = err else {
        panic!("expected Invalid")
    };
    assert!(
        problems.iter().any(|p| p.contains("regions")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("base_url")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("adapter")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("max_concurrency")),
        "{problems:?}"
    );
}

#[test]
fn an_audit_replica_that_cannot_name_files_is_a_problem() {
    for bad in ["@POD_NAME@", "a/b", "", "x y"] {
        let text = MIN.replace(
            "dir = \"audit\"\n",
            &format!("dir = \"audit\"\nreplica = {bad:?}\n"),
        );
        let err = Config::from_toml(&text, Path::new("g.toml"), Path::new(".")).unwrap_err();
        let ConfigError::Invalid { problems, .. } = err else {
            panic!("expected Invalid for {bad:?}")
        };
        assert!(
            problems.iter().any(|p| p.starts_with("audit.replica")),
            "{bad:?}: {problems:?}"
        );
    }
    let ok = MIN.replace(
        "dir = \"audit\"\n",
        "dir = \"audit\"\nreplica = \"credgate-0\"\n",
    );
    assert!(Config::from_toml(&ok, Path::new("g.toml"), Path::new(".")).is_ok());
}

#[test]
fn redis_password_file_is_read_encoded_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let with = |redis: &str| format!("{MIN}\n[redis]\n{redis}\n");
    let load = |text: &str| Config::from_toml(text, Path::new("g.toml"), base);
    std::fs::write(base.join("pw"), "p@ss:w/rd\n").unwrap();
    let cfg = load(&with("url = \"redis://h:6379/2\"\npassword_file = \"pw\"")).unwrap();
    let r = cfg.redis.as_ref().unwrap();
    assert_eq!(r.connection_url(), "redis://:p%40ss%3Aw%2Frd@h:6379/2");
    let shown = format!("{cfg:?}");
    assert!(
        !shown.contains("p%40ss") && !shown.contains("p@ss"),
        "{shown}"
    );
    // Without a file, the URL as written (its password hidden in Debug).
    let cfg = load(&with("url = \"redis://:hunter2@h:6379\"")).unwrap();
    assert_eq!(
        cfg.redis.as_ref().unwrap().connection_url(),
        "redis://:hunter2@h:6379"
    );
    assert!(!format!("{cfg:?}").contains("hunter2"));
    // Both sources, an empty file, a missing file: refused, by name.
    let err = load(&with("url = \"redis://:x@h:6379\"\npassword_file = \"pw\"")).unwrap_err();
    assert!(err.to_string().contains("give one of them"), "{err}");
    std::fs::write(base.join("empty"), "\n").unwrap();
    let err = load(&with("url = \"redis://h\"\npassword_file = \"empty\"")).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    let err = load(&with("url = \"redis://h\"\npassword_file = \"nope\"")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err}");
}
