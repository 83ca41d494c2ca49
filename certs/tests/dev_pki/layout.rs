//! The files on disk: names, modes, refusal and `force`.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;

use credgate_certs::{
    generate_dev_pki, CertsError, DevPki, DevPkiOptions, CLIENT_NAMES, UPSTREAM_PLATFORMS,
};

use crate::fresh;

/// The layout SPEC §11 and the black-box tests rely on, spelled out literally.
const EXPECTED: &[&str] = &[
    "ca.crt",
    "ca.key",
    "server.crt",
    "server.key",
    "crl.pem",
    "clients/bank-nb.crt",
    "clients/bank-nb.key",
    "clients/dept-nb.crt",
    "clients/dept-nb.key",
    "clients/peer-hz.crt",
    "clients/peer-hz.key",
    "clients/auditor.crt",
    "clients/auditor.key",
    "clients/revoked.crt",
    "clients/revoked.key",
    "clients/expired.crt",
    "clients/expired.key",
    "rogue/ca.crt",
    "rogue/ca.key",
    "rogue/client.crt",
    "rogue/client.key",
    "upstream/ca.crt",
    "upstream/ca.key",
    "upstream/xinyong-ningbo.crt",
    "upstream/xinyong-ningbo.key",
    "upstream/xinyong-zhejiang.crt",
    "upstream/xinyong-zhejiang.key",
    "upstream/hangzhou.crt",
    "upstream/hangzhou.key",
    "upstream/xiamen.crt",
    "upstream/xiamen.key",
    "upstream/gateway.crt",
    "upstream/gateway.key",
    "authz/issuer.key",
    "authz/issuer.pub",
    "README.txt",
];

#[test]
fn full_layout_exists_and_matches_the_returned_paths() {
    let (_tmp, pki) = fresh();
    for rel in EXPECTED {
        let path = pki.dir.join(rel);
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(!text.is_empty(), "{rel} is empty");
    }
    let mut returned: Vec<String> = pki
        .all_files()
        .iter()
        .map(|p| p.strip_prefix(&pki.dir).unwrap().display().to_string())
        .collect();
    returned.sort();
    let mut expected: Vec<String> = EXPECTED.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(returned, expected);
    assert_eq!(pki, DevPki::at(&pki.dir));
    for name in CLIENT_NAMES {
        assert!(pki.client(name).unwrap().cert.exists());
    }
    for name in UPSTREAM_PLATFORMS {
        assert!(pki.upstream_platform(name).unwrap().key.exists());
    }
}

#[test]
fn pem_labels_are_what_each_file_claims() {
    let (_tmp, pki) = fresh();
    let first_line = |rel: &str| {
        let text = fs::read_to_string(pki.dir.join(rel)).unwrap();
        text.lines().next().unwrap().to_owned()
    };
    for rel in EXPECTED.iter().filter(|r| r.ends_with(".crt")) {
        assert_eq!(first_line(rel), "-----BEGIN CERTIFICATE-----", "{rel}");
    }
    for rel in EXPECTED.iter().filter(|r| r.ends_with(".key")) {
        assert_eq!(first_line(rel), "-----BEGIN PRIVATE KEY-----", "{rel}");
    }
    assert_eq!(first_line("crl.pem"), "-----BEGIN X509 CRL-----");
    assert_eq!(first_line("authz/issuer.pub"), "-----BEGIN PUBLIC KEY-----");
}

#[test]
fn private_keys_are_0600_and_certificates_are_readable() {
    let (_tmp, pki) = fresh();
    let mode = |rel: &str| {
        let meta = fs::metadata(pki.dir.join(rel)).unwrap();
        meta.permissions().mode() & 0o777
    };
    for rel in EXPECTED {
        if rel.ends_with(".key") {
            assert_eq!(mode(rel), 0o600, "{rel}");
        } else {
            assert_eq!(
                mode(rel) & 0o077 & !0o044,
                0,
                "{rel} is group/other writable"
            );
            assert_ne!(mode(rel) & 0o400, 0, "{rel} is not readable by its owner");
        }
    }
    assert_eq!(
        pki.private_keys().len(),
        EXPECTED.iter().filter(|r| r.ends_with(".key")).count()
    );
}

#[test]
fn rerun_refuses_without_force_and_overwrites_with_it() {
    let (_tmp, pki) = fresh();
    let before = fs::read_to_string(&pki.ca.cert).unwrap();
    let opts = DevPkiOptions {
        out: pki.dir.clone(),
        force: false,
    };
    let err = generate_dev_pki(&opts).unwrap_err();
    match &err {
        CertsError::AlreadyExists { dir, existing } => {
            assert_eq!(dir, &pki.dir);
            assert_eq!(existing.len(), EXPECTED.len());
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(
        fs::read_to_string(&pki.ca.cert).unwrap(),
        before,
        "refusal changed ca.crt"
    );

    let again = generate_dev_pki(&DevPkiOptions {
        force: true,
        ..opts
    })
    .unwrap();
    let after = fs::read_to_string(&again.ca.cert).unwrap();
    assert_ne!(after, before, "force did not regenerate ca.crt");
    for key in again.private_keys() {
        assert_eq!(
            fs::metadata(key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[test]
fn a_single_leftover_file_is_enough_to_refuse() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("authz")).unwrap();
    fs::write(tmp.path().join("authz/issuer.pub"), "mine").unwrap();
    fs::write(tmp.path().join("unrelated.txt"), "mine").unwrap();
    let err = generate_dev_pki(&DevPkiOptions {
        out: tmp.path().to_path_buf(),
        force: false,
    })
    .unwrap_err();
    assert!(matches!(&err, CertsError::AlreadyExists { existing, .. } if existing.len() == 1));
    assert_eq!(
        fs::read_to_string(tmp.path().join("authz/issuer.pub")).unwrap(),
        "mine"
    );
    assert!(!tmp.path().join("ca.crt").exists(), "refusal wrote files");
}

#[test]
fn unrelated_files_do_not_block_and_missing_parents_are_created() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("notes.txt"), "keep me").unwrap();
    generate_dev_pki(&DevPkiOptions {
        out: tmp.path().to_path_buf(),
        force: false,
    })
    .unwrap();
    assert_eq!(
        fs::read_to_string(tmp.path().join("notes.txt")).unwrap(),
        "keep me"
    );

    let deep = tmp.path().join("a/b/c");
    let pki = generate_dev_pki(&DevPkiOptions {
        out: deep.clone(),
        force: false,
    })
    .unwrap();
    assert_eq!(pki.dir, deep);
    assert!(deep.join("clients/bank-nb.crt").exists());
}

#[test]
fn out_that_is_a_file_is_an_io_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plain");
    fs::write(&file, "x").unwrap();
    let err = generate_dev_pki(&DevPkiOptions {
        out: file,
        force: true,
    })
    .unwrap_err();
    assert!(matches!(err, CertsError::Io { .. }), "{err:?}");
}
