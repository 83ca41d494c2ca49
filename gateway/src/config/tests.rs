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
fn sanctions_batches_and_clock_skew_are_bounded() {
    let load = |extra: &str| {
        Config::from_toml(
            &format!("{MIN}\n{extra}\n"),
            Path::new("g.toml"),
            Path::new("."),
        )
    };
    load("[sanctions]\nmax_subjects = 100\n[authorization]\nclock_skew_secs = 300").unwrap();
    for (extra, problem) in [
        (
            "[sanctions]\nmax_subjects = 101",
            "sanctions.max_subjects: must be within 1..=100",
        ),
        ("[sanctions]\nmax_subjects = 0", "sanctions.max_subjects"),
        (
            "[sanctions]\ncalls_per_platform = 0",
            "sanctions.calls_per_platform: must be within 1..=100",
        ),
        (
            "[authorization]\nclock_skew_secs = 301",
            "authorization.clock_skew_secs: at most 300",
        ),
    ] {
        let err = load(extra).unwrap_err().to_string();
        assert!(err.contains(problem), "{extra}: {err}");
    }
}

#[test]
fn audit_write_timeout_and_retention_are_bounded() {
    let cfg = Config::from_toml(MIN, Path::new("g.toml"), Path::new(".")).unwrap();
    assert_eq!(cfg.audit.write_timeout_ms, 5_000);
    for (line, key) in [
        ("write_timeout_ms = 0", "audit.write_timeout_ms"),
        ("write_timeout_ms = 600001", "audit.write_timeout_ms"),
        ("retention_days = 0", "audit.retention_days"),
        // Its seconds would overflow u64 and wrap to ≈ 17 hours.
        ("retention_days = 213503982334602", "audit.retention_days"),
        // Its deletion record could outgrow a frame.
        ("segment_max_bytes = 268435457", "audit.segment_max_bytes"),
        ("segment_max_bytes = 1023", "audit.segment_max_bytes"),
    ] {
        let text = MIN.replace("dir = \"audit\"\n", &format!("dir = \"audit\"\n{line}\n"));
        let err = Config::from_toml(&text, Path::new("g.toml"), Path::new(".")).unwrap_err();
        let ConfigError::Invalid { problems, .. } = err else {
            panic!("expected Invalid for {line}")
        };
        assert!(
            problems.iter().any(|p| p.starts_with(key)),
            "{line}: {problems:?}"
        );
    }
    let ok = MIN.replace(
        "dir = \"audit\"\n",
        "dir = \"audit\"\nwrite_timeout_ms = 250\nretention_days = 36500\nsegment_max_bytes = 268435456\n",
    );
    assert!(Config::from_toml(&ok, Path::new("g.toml"), Path::new(".")).is_ok());
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

#[test]
fn redis_tls_files_are_read_at_load_and_only_with_rediss() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    credgate_certs::generate_dev_pki(&credgate_certs::DevPkiOptions {
        out: base.join("pki"),
        force: false,
    })
    .unwrap();
    let with = |redis: &str| format!("{MIN}\n[redis]\n{redis}\n");
    let load = |text: &str| Config::from_toml(text, Path::new("g.toml"), base);
    let files = "ca_file = \"pki/ca.crt\"\nclient_cert_file = \"pki/upstream/gateway.crt\"\n\
                 client_key_file = \"pki/upstream/gateway.key\"";
    let cfg = load(&with(&format!("url = \"rediss://h:6380/0\"\n{files}"))).unwrap();
    let tls = cfg.redis.as_ref().unwrap().tls.as_ref().unwrap();
    assert_eq!(
        tls.root_cert.as_deref(),
        Some(std::fs::read(base.join("pki/ca.crt")).unwrap().as_slice())
    );
    assert!(tls.client_tls.is_some());
    assert!(!format!("{cfg:?}").contains("PRIVATE KEY"));
    // rediss:// alone: TLS with the system's trust store, no client
    // certificate. The store is read at load and handed over whole, so
    // the connection never reads it (see `system_roots_are_read_once...`).
    match load(&with("url = \"rediss://h:6380\"")) {
        Ok(cfg) => {
            let tls = cfg.redis.as_ref().unwrap().tls.as_ref().unwrap();
            let pem = tls.root_cert.as_deref().expect("the system's roots");
            let system = rustls_native_certs::load_native_certs().certs;
            let parsed = crate::tls::parse_certs("roots", Path::new("-"), pem).unwrap();
            assert_eq!(parsed, system);
            assert!(tls.client_tls.is_none());
        }
        // A machine without ca-certificates: refused with the fix named.
        Err(e) => {
            assert!(rustls_native_certs::load_native_certs().certs.is_empty());
            assert!(e.to_string().contains("redis.ca_file"), "{e}");
        }
    }
    // Plain redis:// has no TLS material, and refuses TLS keys by name.
    let cfg = load(&with("url = \"redis://h\"")).unwrap();
    assert!(cfg.redis.as_ref().unwrap().tls.is_none());
    let err = load(&with(&format!("url = \"redis://h\"\n{files}"))).unwrap_err();
    for key in ["ca_file", "client_cert_file", "client_key_file"] {
        assert!(
            err.to_string()
                .contains(&format!("redis.{key}: only for TLS")),
            "{err}"
        );
    }
    // Half a client identity, an #insecure URL, unusable files: refused.
    let err = load(&with(
        "url = \"rediss://h\"\nclient_cert_file = \"pki/upstream/gateway.crt\"",
    ))
    .unwrap_err();
    assert!(err.to_string().contains("go together"), "{err}");
    let err = load(&with("url = \"rediss://h/#insecure\"")).unwrap_err();
    assert!(err.to_string().contains("cannot be turned off"), "{err}");
    let err = load(&with("url = \"rediss://h\"\nca_file = \"pki/ca.key\"")).unwrap_err();
    assert!(err.to_string().contains("redis.ca_file"), "{err}");
    let err = load(&with(
        &files
            .replace("upstream/gateway.key", "ca.crt")
            .replace("ca_file = \"pki/ca.crt\"\n", "url = \"rediss://h\"\n"),
    ))
    .unwrap_err();
    assert!(err.to_string().contains("redis.client_key_file"), "{err}");
    let err = load(&with(
        "url = \"rediss://h\"\nclient_cert_file = \"pki/upstream/gateway.crt\"\n\
         client_key_file = \"pki/server.key\"",
    ))
    .unwrap_err();
    assert!(err.to_string().contains("does not fit"), "{err}");
    let err = load(&with("url = \"rediss://h\"\nca_file = \"missing.pem\"")).unwrap_err();
    assert!(err.to_string().contains("missing.pem"), "{err}");
}

#[test]
fn system_roots_are_handed_over_as_pem_and_an_empty_store_names_the_fix() {
    let pki = tempfile::tempdir().unwrap();
    credgate_certs::generate_dev_pki(&credgate_certs::DevPkiOptions {
        out: pki.path().join("pki"),
        force: false,
    })
    .unwrap();
    let ca_pem = std::fs::read(pki.path().join("pki/ca.crt")).unwrap();
    let ca = crate::tls::parse_certs("ca", Path::new("-"), &ca_pem).unwrap();
    let mut found = rustls_native_certs::CertificateResult::default();
    found.certs = vec![ca[0].clone(), ca[0].clone()];
    // An unreadable file of the store does not drop the readable ones.
    found.errors.push(rustls_native_certs::Error {
        context: "failed to read PEM from file",
        kind: rustls_native_certs::ErrorKind::Io {
            inner: std::io::Error::other("permission denied"),
            path: PathBuf::from("/etc/ssl/certs/x.pem"),
        },
    });
    let pem = super::system_roots_pem(found).unwrap();
    let back = crate::tls::parse_certs("roots", Path::new("-"), &pem).unwrap();
    assert_eq!(back, vec![ca[0].clone(), ca[0].clone()]);
    assert!(pem.split(|b| *b == b'\n').all(|line| line.len() <= 64));
    // The bytes go to the redis client, which must accept them.
    redis::Client::build_with_tls(
        "rediss://127.0.0.1:1",
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(pem),
        },
    )
    .unwrap();
    let err =
        super::system_roots_pem(rustls_native_certs::CertificateResult::default()).unwrap_err();
    assert!(
        err.contains("redis.ca_file") && err.contains("ca-certificates"),
        "{err}"
    );
}

#[test]
fn redis_cluster_seeds_take_the_urls_credentials_and_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let with = |redis: &str| format!("{MIN}\n[redis]\n{redis}\n");
    let load = |text: &str| Config::from_toml(text, Path::new("g.toml"), base);
    let seeds = "cluster_seeds = [\"redis://n2:6379\", \"redis://n3:6379/\"]";
    // The url's user and password apply to every seed.
    let cfg = load(&with(&format!(
        "url = \"redis://app:s3cret@n1:6379\"\ncluster = true\n{seeds}"
    )))
    .unwrap();
    let r = cfg.redis.as_ref().unwrap();
    assert!(r.cluster);
    assert_eq!(
        r.cluster_seed_urls(),
        ["redis://app:s3cret@n2:6379", "redis://app:s3cret@n3:6379/"]
    );
    let o = r.authz_options(std::time::Duration::from_millis(100));
    assert!(o.cluster);
    assert_eq!(o.cluster_seeds, r.cluster_seed_urls());
    assert!(!format!("{cfg:?}").contains("s3cret"));
    // So does password_file's.
    std::fs::write(base.join("pw"), "from-file\n").unwrap();
    let cfg = load(&with(&format!(
        "url = \"redis://n1:6379\"\npassword_file = \"pw\"\ncluster = true\n{seeds}"
    )))
    .unwrap();
    let r = cfg.redis.as_ref().unwrap();
    assert!(r.connection_url().contains(":from-file@n1"));
    assert!(r
        .cluster_seed_urls()
        .iter()
        .all(|s| s.contains(":from-file@n")));
    // Refused, each by name.
    // Over TLS: the Sentinels and the primary both `rediss://`, with the
    // same trust anchors (read at load).
    let tls = load(&with(
        "url = \"rediss://primary/0\"\nsentinel_master = \"credgate\"\n\
         sentinels = [\"rediss://s1:26380\"]",
    ))
    .unwrap();
    let o = tls
        .redis
        .as_ref()
        .unwrap()
        .authz_options(std::time::Duration::from_millis(100));
    assert!(o.tls.is_some(), "the TLS material reaches the client");
    assert_eq!(o.sentinel.unwrap().sentinels, ["rediss://s1:26380"]);
    for (redis, problem) in [
        (
            format!("url = \"redis://n1\"\n{seeds}"),
            "redis.cluster_seeds: only with redis.cluster = true",
        ),
        (
            "url = \"redis://n1/3\"\ncluster = true".to_owned(),
            "database 0 only",
        ),
        (
            "url = \"redis://n1\"\ncluster = true\ncluster_seeds = [\"rediss://n2\"]".to_owned(),
            "cluster_seeds[0]: must use the url's scheme",
        ),
        (
            "url = \"redis://n1\"\ncluster = true\ncluster_seeds = [\"redis://u:p@n2\"]".to_owned(),
            "cluster_seeds[0]: no credentials",
        ),
        (
            "url = \"redis://n1\"\ncluster = true\ncluster_seeds = [\"redis://n2/1\"]".to_owned(),
            "cluster_seeds[0]: host and port only",
        ),
        (
            "url = \"redis://n1\"\ncluster = true\ncluster_seeds = [\"n2:6379\"]".to_owned(),
            "cluster_seeds[0]:",
        ),
    ] {
        let err = load(&with(&redis)).unwrap_err().to_string();
        assert!(err.contains(problem), "{redis}: {err}");
    }
}

#[test]
fn redis_sentinel_settings_are_checked_and_handed_to_both_clients() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let with = |redis: &str| format!("{MIN}\n[redis]\n{redis}\n");
    let load = |text: &str| Config::from_toml(text, Path::new("g.toml"), base);
    let cfg = load(&with(
        "url = \"redis://app:s3cret@primary/2\"\nsentinel_master = \"credgate\"\n\
         sentinels = [\"redis://s1:26379\", \"redis://:sentinel-pw@s2:26379\"]",
    ))
    .unwrap();
    let r = cfg.redis.as_ref().unwrap();
    let t = r.sentinel_target().unwrap();
    assert_eq!(t.master, "credgate");
    assert_eq!(t.sentinels.len(), 2);
    let o = r.authz_options(std::time::Duration::from_millis(100));
    assert_eq!(o.sentinel.unwrap().sentinels, t.sentinels);
    let shown = format!("{cfg:?}");
    assert!(
        !shown.contains("sentinel-pw") && !shown.contains("s3cret"),
        "{shown}"
    );
    for (redis, problem) in [
        (
            "url = \"redis://p\"\nsentinels = [\"redis://s1:26379\"]",
            "redis.sentinels: only with redis.sentinel_master",
        ),
        (
            "url = \"redis://p\"\nsentinel_master = \"m\"",
            "name at least one of redis.sentinels",
        ),
        (
            "url = \"redis://p\"\nsentinel_master = \"m\"\nsentinels = [\"redis://s\"]\ncluster = true",
            "not both",
        ),
        (
            "url = \"redis://p\"\nsentinel_master = \"m\"\nsentinels = [\"rediss://s\"]",
            "redis.sentinels[0]: must use the url's scheme",
        ),
        (
            "url = \"rediss://p\"\nsentinel_master = \"m\"\nsentinels = [\"redis://s\"]",
            "redis.sentinels[0]: must use the url's scheme (rediss://)",
        ),
        (
            "url = \"redis://p\"\nsentinel_master = \"m\"\nsentinels = [\"redis://s/1\"]",
            "redis.sentinels[0]: host and port",
        ),
    ] {
        let err = load(&with(redis)).unwrap_err().to_string();
        assert!(err.contains(problem), "{redis}: {err}");
    }
}

#[test]
fn the_sentinel_password_comes_from_a_file_and_is_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let with = |redis: &str| format!("{MIN}\n[redis]\n{redis}\n");
    let load = |text: &str| Config::from_toml(text, Path::new("g.toml"), base);
    std::fs::write(base.join("spw"), "sentinel-secret\n").unwrap();
    let sentinel = "sentinel_master = \"m\"\nsentinels = [\"redis://s1:26379\"]";
    let cfg = load(&with(&format!(
        "url = \"redis://p\"\n{sentinel}\nsentinel_password_file = \"spw\""
    )))
    .unwrap();
    let r = cfg.redis.as_ref().unwrap();
    assert_eq!(
        r.sentinel_target().unwrap().password.as_deref(),
        Some("sentinel-secret")
    );
    assert!(!format!("{cfg:?}").contains("sentinel-secret"));
    for (redis, problem) in [
        (
            "url = \"redis://p\"\nsentinel_password_file = \"spw\"".to_owned(),
            "redis.sentinel_password_file: only with redis.sentinel_master",
        ),
        (
            "url = \"redis://p\"\nsentinel_master = \"m\"\nsentinels = [\"redis://:x@s1\"]\n\
             sentinel_password_file = \"spw\""
                .to_owned(),
            "give one of them",
        ),
        (
            format!("url = \"redis://p\"\n{sentinel}\nsentinel_password_file = \"missing\""),
            "missing",
        ),
    ] {
        let err = load(&with(&redis)).unwrap_err().to_string();
        assert!(err.contains(problem), "{redis}: {err}");
    }
    std::fs::write(base.join("empty"), "\n").unwrap();
    let err = load(&with(&format!(
        "url = \"redis://p\"\n{sentinel}\nsentinel_password_file = \"empty\""
    )))
    .unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
}

#[test]
fn otlp_endpoints_that_would_lose_every_span_are_refused() {
    let problems = |ep: &str| -> Vec<String> {
        let text = format!("{MIN}\n[telemetry]\notlp_endpoint = \"{ep}\"\n");
        match Config::from_toml(&text, Path::new("g.toml"), Path::new(".")) {
            Ok(_) => Vec::new(),
            Err(ConfigError::Invalid { problems, .. }) => problems,
            Err(e) => panic!("{e}"),
        }
    };
    assert!(problems("http://127.0.0.1:4318/v1/traces").is_empty());
    assert!(problems("http://collector.observability:4318/v1/traces").is_empty());
    for (ep, says) in [
        ("https://collector:4318/v1/traces", "https is not supported"),
        ("http://collector:4318", "must name the traces path"),
        ("http://collector:4318/", "must name the traces path"),
        ("grpc://collector:4317/v1/traces", "http:// URL"),
        ("collector:4318/v1/traces", "http:// URL"),
        ("not a url", "http:// URL"),
    ] {
        let found = problems(ep);
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("telemetry.otlp_endpoint: ") && p.contains(says)),
            "{ep}: {found:?}"
        );
    }
}
