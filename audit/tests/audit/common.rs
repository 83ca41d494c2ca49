//! Helpers: keys, configs, sample records, raw frame access for tampering.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use credgate_audit::{
    generate_signing_key_pem, pseudonym, AuditConfig, AuditLog, AuditSigner, Decision, NewRecord,
    UpstreamOutcome,
};

/// One key pair for the whole test binary: `(private PEM, public PEM)`.
pub fn keys() -> &'static (String, String) {
    static KEYS: OnceLock<(String, String)> = OnceLock::new();
    KEYS.get_or_init(|| generate_signing_key_pem().unwrap())
}

/// The public key PEM.
pub fn public_pem() -> &'static str {
    &keys().1
}

/// A config for `dir` with the test key and replica `r1`.
pub fn config(dir: &Path) -> AuditConfig {
    AuditConfig::new(dir, "r1", AuditSigner::from_pkcs8_pem(&keys().0).unwrap())
}

/// A plausible record (about 600 bytes of JSON); varies with `i`.
pub fn record(i: u64) -> NewRecord {
    NewRecord {
        request_id: format!("req-{i:08}"),
        trace_id: Some(format!("{:032x}", i * 7919)),
        client_id: format!("client-{}", i % 4),
        cert_fingerprint: format!("{:064x}", i % 4),
        endpoint: "/v1/enterprises/{uscc}/report".to_owned(),
        purpose: Some("loan_underwriting".to_owned()),
        subject_pseudonym: Some(pseudonym(b"test-key", &format!("subject-{}", i % 10))),
        subject_tags: Vec::new(),
        subject_region: Some("330203".to_owned()),
        authz_jti: Some(format!("jti-{i}")),
        decision: if i % 5 == 0 {
            Decision::Deny
        } else {
            Decision::Allow
        },
        reason: if i % 5 == 0 {
            "scope_denied".to_owned()
        } else {
            "ok".to_owned()
        },
        profile_digest: Some(format!("{:064x}", 42)),
        sections: vec!["basic".to_owned(), "penalties".to_owned()],
        fields_returned: vec!["basic.name".to_owned(), "basic.uscc".to_owned()],
        fields_masked: vec!["basic.legal_rep.id_number".to_owned()],
        upstreams: vec![UpstreamOutcome {
            name: "ningbo".to_owned(),
            outcome: "ok".to_owned(),
            latency_ms: i % 50,
        }],
        status: if i % 5 == 0 { 403 } else { 200 },
    }
}

/// Appends `count` records one after another, starting the sample numbering at `from`.
pub async fn append_seq(log: &AuditLog, from: u64, count: u64) -> Vec<u64> {
    let mut seqs = Vec::new();
    for i in from..from + count {
        seqs.push(log.append(record(i)).await.unwrap().seq);
    }
    seqs
}

/// Appends `count` records from `count` concurrent tasks; returns the seqs, sorted.
pub async fn append_concurrent(log: &AuditLog, count: u64) -> Vec<u64> {
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move { log.append(record(i)).await })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap().unwrap().seq);
    }
    seqs.sort_unstable();
    seqs
}

/// Path of segment `n` in `dir`.
pub fn segment(dir: &Path, n: u32) -> PathBuf {
    dir.join(format!("segment-{n:06}.log"))
}

/// Segment numbers present in `dir`.
pub fn segments(dir: &Path) -> Vec<u32> {
    let mut out: Vec<u32> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_prefix("segment-")?
                .strip_suffix(".log")?
                .parse()
                .ok()
        })
        .collect();
    out.sort_unstable();
    out
}

/// One frame of a file, parsed independently of the crate.
#[derive(Debug, Clone)]
pub struct RawFrame {
    pub offset: usize,
    pub payload: Vec<u8>,
}

impl RawFrame {
    /// Total length including the 8-byte header.
    pub fn len(&self) -> usize {
        self.payload.len() + 8
    }

    /// The seq in a record payload (None for a header).
    pub fn seq(&self) -> Option<u64> {
        let v: serde_json::Value = serde_json::from_slice(&self.payload).ok()?;
        v.get("seq")?.as_u64()
    }
}

/// Parses every frame of `bytes` (panics on damage: for pristine files).
pub fn frames(bytes: &[u8]) -> Vec<RawFrame> {
    let mut out = Vec::new();
    let mut pos = 0;
    // An open log's active segment may end with preallocated zeros.
    while pos < bytes.len() && bytes[pos..].iter().any(|b| *b != 0) {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let crc = u32::from_be_bytes(bytes[pos + 4..pos + 8].try_into().unwrap());
        let payload = bytes[pos + 8..pos + 8 + len].to_vec();
        assert_eq!(crc32fast::hash(&payload), crc, "pristine frame at {pos}");
        out.push(RawFrame {
            offset: pos,
            payload,
        });
        pos += 8 + len;
    }
    out
}

/// Frames `payload` with a correct length and CRC.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&crc32fast::hash(payload).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Copies a log directory (files and `seals/`) to a fresh temp dir.
pub fn copy_dir(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    copy_into(from, to.path());
    to
}

fn copy_into(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_into(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The corruption report of a refused open.
pub fn corrupt_of(err: credgate_audit::AuditError) -> credgate_audit::Corruption {
    match err {
        credgate_audit::AuditError::Corrupt(c) => c,
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
