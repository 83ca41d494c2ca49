//! A failing disk fails every batch and every checkpoint attempt: the
//! writer warns once per window, not once per failure (its own test binary:
//! the writer logs from its thread, so this installs a global subscriber).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use credgate_audit::{
    generate_signing_key_pem, AuditConfig, AuditLog, AuditSigner, Decision, NewRecord,
};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines_with(&self, needle: &str) -> usize {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines().filter(|l| l.contains(needle)).count()
    }
}

fn record(i: u64) -> NewRecord {
    NewRecord {
        request_id: format!("req-{i}"),
        trace_id: None,
        client_id: "c".to_owned(),
        cert_fingerprint: "00".repeat(32),
        endpoint: "/v1/enterprises/{uscc}/report".to_owned(),
        purpose: None,
        subject_pseudonym: None,
        subject_tags: Vec::new(),
        subject_region: None,
        authz_jti: None,
        decision: Decision::Deny,
        reason: "scope_denied".to_owned(),
        profile_digest: None,
        sections: Vec::new(),
        fields_returned: Vec::new(),
        fields_masked: Vec::new(),
        upstreams: Vec::new(),
        status: 403,
    }
}

fn config(dir: &Path, key: &str) -> AuditConfig {
    let mut cfg = AuditConfig::new(dir, "r1", AuditSigner::from_pkcs8_pem(key).unwrap());
    cfg.checkpoint_every_records = 1;
    cfg
}

#[tokio::test(flavor = "current_thread")]
async fn repeated_batch_and_checkpoint_failures_warn_once_per_window() {
    let out = Captured::default();
    let writer = out.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    let (key, _) = generate_signing_key_pem().unwrap();

    // Every batch fails (injected fsync failure): 30 batches, one warning.
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &key);
    let fail = cfg.danger_fail_writes_for_tests.clone();
    let log = AuditLog::open(cfg).await.unwrap();
    fail.store(true, Ordering::SeqCst);
    for i in 0..30 {
        assert!(log.append(record(i)).await.is_err());
    }
    assert_eq!(log.stats().failed_batches, 30);
    assert_eq!(out.lines_with("audit batch failed"), 1);
    fail.store(false, Ordering::SeqCst);
    log.shutdown().await.unwrap();

    // Checkpoints fail (checkpoints.log immutable) while records are
    // written: due after every record, warned once.
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(config(dir.path(), &key)).await.unwrap();
    log.append(record(0)).await.unwrap();
    let checkpoints = dir.path().join("checkpoints.log");
    assert!(checkpoints.exists());
    let immutable = Command::new("chattr")
        .arg("+i")
        .arg(&checkpoints)
        .status()
        .is_ok_and(|s| s.success());
    if !immutable {
        eprintln!("chattr +i does not work here: checkpoint half skipped");
        return;
    }
    for i in 1..=30 {
        log.append(record(i)).await.unwrap();
    }
    let _ = Command::new("chattr").arg("-i").arg(&checkpoints).status();
    assert_eq!(out.lines_with("audit checkpoint failed"), 1);
    log.shutdown().await.unwrap();
}
