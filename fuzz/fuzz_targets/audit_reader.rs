//! `audit_reader`: the offline readers of `credgate-audit` (SPEC §8) on a
//! log directory built from the input: `verify` (with and without the
//! public key), `query_dir`, `latest_checkpoint_dir`, and the recovery done
//! by `AuditLog::open_blocking` when the log verifies.
//!
//! Input: sections, each starting with a line `@@ NAME` or `@@ NAME raw`:
//! - NAME is one of `segment-00000N.log` (N = 1–9), `checkpoints.log`,
//!   `deletions.log`, `seals/segment-00000N.seal`; other sections are
//!   skipped;
//! - a `raw` section's bytes are the file; otherwise every line of the
//!   section is one frame payload, framed by the harness (length + CRC-32),
//!   except lines starting with `!`, written unframed (torn tails, garbage).
//!   Files hold one JSON document per frame, so the fuzzer mutates the JSON
//!   behind valid frames.
//!
//! Bytes before the first `@@ ` line are a raw `segment-000001.log`.
//!
//! Properties: nothing panics; a log that verifies with the key verifies
//! without it, with the same tree; the report is self-consistent; it
//! verifies against its own latest checkpoint held outside, and not against
//! one claiming a record more; then
//! it verifies as a shipped copy with the same tree, nothing beyond it;
//! `query_dir` and `latest_checkpoint_dir` agree with it, `open_blocking`
//! recovers the log (cutting a torn tail) and it still verifies, with the
//! same tree; no error message quotes a record's contents.

#![no_main]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use credgate_audit::{
    batch_tag, latest_checkpoint_dir, query_dir, verify, verify_anchored, verify_shipped,
    AuditConfig, AuditLog, AuditRecord, AuditSigner, Query, VerifyReport,
};
use libfuzzer_sys::fuzz_target;

/// The log's signing key (Ed25519 seed `0x44` × 32; the checked-in seeds
/// were written with it, see README.md) and its public half.
const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIERERERERERERERERERERERERERERERERERERERERERE
-----END PRIVATE KEY-----
";
const PUB_PEM: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA11l5O7wTooGagnx2rbb7qKSa7gB/SfLQmS2ZuCWtLEg=
-----END PUBLIC KEY-----
";

/// Record members that hold contents an error must never quote.
const PRIVATE_MEMBERS: [&str; 7] = [
    "request_id",
    "client_id",
    "subject_pseudonym",
    "subject_pseudonyms",
    "subject_tags",
    "purpose",
    "authz_jti",
];

struct Env {
    root: PathBuf,
    signer: AuditSigner,
    runtime: tokio::runtime::Runtime,
}

fn env() -> &'static Env {
    static E: OnceLock<Env> = OnceLock::new();
    E.get_or_init(|| {
        // tmpfs when there is one: the writer fsyncs on open.
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let root = base.join(format!("credgate-fuzz-audit-{}", std::process::id()));
        Env {
            root,
            signer: AuditSigner::from_pkcs8_pem(KEY_PEM).expect("the fuzz key loads"),
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a runtime"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let e = env();
    let dir = e.root.join("log");
    let _ = fs::remove_dir_all(&e.root);
    fs::create_dir_all(dir.join("seals")).expect("create the log directory");
    let private = write_files(&dir, data);

    let signed = verify(&dir, Some(PUB_PEM));
    let unsigned = verify(&dir, None);
    for failure in [signed.as_ref().err(), unsigned.as_ref().err()]
        .into_iter()
        .flatten()
    {
        assert_quotes_nothing(&failure.to_string(), &private);
    }
    let query = query_dir(&dir, &Query::default());
    if let Err(err) = &query {
        assert_quotes_nothing(&err.to_string(), &private);
    }
    let latest = latest_checkpoint_dir(&dir);
    if let Err(err) = &latest {
        assert_quotes_nothing(&err.to_string(), &private);
    }
    let Ok(report) = signed else {
        return;
    };

    // The key only adds checks.
    let unsigned = unsigned.expect("a log that verifies with the key verifies without it");
    assert!(report.signatures_checked && !unsigned.signatures_checked);
    assert_eq!(
        (
            &report.root_hash,
            report.tree_size,
            report.records_present,
            report.segments
        ),
        (
            &unsigned.root_hash,
            unsigned.tree_size,
            unsigned.records_present,
            unsigned.segments
        )
    );
    check_report(&report);
    // As a shipped copy it verifies too, the same tree, nothing beyond it.
    let shipped = verify_shipped(&dir, Some(PUB_PEM), &[])
        .expect("a log that verifies verifies as a shipped copy");
    assert_eq!(
        (&shipped.root_hash, shipped.tree_size, shipped.beyond_copy),
        (&report.root_hash, report.tree_size, None)
    );
    assert!(shipped.records_after_checkpoint <= report.records_after_checkpoint);

    // Its own checkpoints, held outside, anchor it; one claiming a record
    // more than the log holds does not.
    if let Some(cp) = &report.latest_checkpoint {
        let anchored = verify_anchored(&dir, Some(PUB_PEM), std::slice::from_ref(cp))
            .expect("a log verifies against its own latest checkpoint");
        assert_eq!(anchored.anchors_checked, 1);
        let mut beyond = cp.clone();
        beyond.tree_size = report.tree_size + 1;
        assert!(verify_anchored(&dir, None, &[beyond]).is_err());
    }

    // The offline readers agree with the report.
    let found = query.expect("query_dir reads a log that verifies");
    assert_eq!(found.missing, None, "a log that verifies holds what its checkpoints cover");
    let page = found.page;
    let expected = report.records_present.min(100) as usize;
    assert_eq!(
        page.records.len(),
        expected,
        "a default query returns the newest 100 records"
    );
    assert!(
        page.records.windows(2).all(|w| w[0].seq > w[1].seq),
        "newest first"
    );
    assert!(page
        .records
        .iter()
        .all(|r| r.seq >= 1 && r.seq <= report.tree_size));
    // A subject search returns only records naming the subject (as the
    // subject, in a legacy batch list, or by a batch tag), and every one of
    // the newest 100 that names it.
    for subject in SUBJECTS {
        let q = Query {
            subject_pseudonym: Some(subject.to_owned()),
            ..Query::default()
        };
        let hits = query_dir(&dir, &q)
            .expect("a subject search reads a log that verifies")
            .page;
        assert!(
            hits.records.iter().all(|r| names(r, subject)),
            "a subject search returned a record that does not name the subject"
        );
        for r in page.records.iter().filter(|r| names(r, subject)) {
            assert!(
                hits.records.iter().any(|h| h.seq == r.seq),
                "a subject search missed a record naming the subject"
            );
        }
    }
    let latest = latest.expect("latest_checkpoint_dir reads a log that verifies");
    assert_eq!(latest, report.latest_checkpoint);

    // Recovery opens a log that verifies, and leaves it verifying.
    let mut cfg = AuditConfig::new(
        &dir,
        report
            .replica
            .clone()
            .unwrap_or_else(|| "fuzz-replica".into()),
        e.signer.clone(),
    );
    cfg.checkpoint_every_records = u64::MAX;
    let threads = thread_count();
    let log = AuditLog::open_blocking(cfg).expect("a log that verifies opens");
    assert_eq!(
        log.tree_size(),
        report.tree_size,
        "opening keeps every record"
    );
    e.runtime
        .block_on(log.shutdown())
        .expect("a clean shutdown");
    drop(log);
    wait_for_writer_exit(threads);
    let after = verify(&dir, Some(PUB_PEM)).expect("a recovered log verifies");
    assert_eq!(
        (after.tree_size, &after.root_hash),
        (report.tree_size, &report.root_hash)
    );
    assert!(after.torn_tail.is_none(), "recovery cuts the torn tail");
});

/// Subject pseudonyms searched for (the seeds' records use them).
const SUBJECTS: [&str; 2] = [
    "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
    "efefefefefefefefefefefefefefefef",
];

/// Whether `r` names the subject with pseudonym `p`, computed here from
/// the record's fields (independently of the crate's index).
fn names(r: &AuditRecord, p: &str) -> bool {
    r.subject_pseudonym.as_deref() == Some(p)
        || r.subject_pseudonyms.iter().any(|s| s == p)
        || r.subject_tags.contains(&batch_tag(p, &r.request_id))
}

/// Threads of this process (Linux); `None` elsewhere.
fn thread_count() -> Option<usize> {
    fs::read_dir("/proc/self/task").ok().map(Iterator::count)
}

/// The writer thread is detached: wait until it has exited after
/// `shutdown`, so LeakSanitizer's check after each input does not see its
/// thread-local storage as a leak.
fn wait_for_writer_exit(before: Option<usize>) {
    let Some(before) = before else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while thread_count().is_some_and(|n| n > before) {
        assert!(
            Instant::now() < deadline,
            "the writer thread outlives shutdown"
        );
        std::thread::sleep(Duration::from_micros(50));
    }
}

fn check_report(r: &VerifyReport) {
    assert_eq!(r.root_hash.len(), 64);
    assert_eq!(
        r.records_present + r.deleted_records,
        r.tree_size,
        "every record present or deleted"
    );
    let covered = r.latest_checkpoint.as_ref().map_or(0, |c| c.tree_size);
    assert!(covered <= r.tree_size);
    assert_eq!(r.records_after_checkpoint, r.tree_size - covered);
    assert!(r.seals <= r.segments + r.deleted_segments);
    if r.tree_size == 0 {
        assert_eq!(r.root_hash, hex_empty_root());
    }
}

fn hex_empty_root() -> String {
    credgate_audit::EMPTY_ROOT
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes the files described by `data` into `dir`; returns the values of
/// private record members found in framed JSON lines.
fn write_files(dir: &Path, data: &[u8]) -> Vec<String> {
    let mut private = Vec::new();
    let mut public = Vec::new();
    let mut sections: Vec<&[u8]> = split(data, b"\n@@ ");
    let first = sections.remove(0);
    let (prelude, first_section) = match first.strip_prefix(b"@@ ") {
        Some(rest) => (None, Some(rest)),
        None => (Some(first), None),
    };
    if let Some(raw) = prelude {
        if !raw.is_empty() {
            append(dir, "segment-000001.log", raw);
        }
    }
    for section in first_section.into_iter().chain(sections) {
        let (head, body) = match section.iter().position(|&b| b == b'\n') {
            Some(i) => (&section[..i], &section[i + 1..]),
            None => (section, &[][..]),
        };
        let head = String::from_utf8_lossy(head);
        let mut words = head.split(' ');
        let Some(name) = words.next().filter(|n| allowed(n)) else {
            continue;
        };
        if words.next() == Some("raw") {
            append(dir, name, body);
            continue;
        }
        let mut bytes = Vec::new();
        for line in body.split(|&b| b == b'\n') {
            if let Some(raw) = line.strip_prefix(b"!") {
                bytes.extend_from_slice(raw);
            } else if !line.is_empty() {
                bytes.extend_from_slice(&(line.len() as u32).to_be_bytes());
                bytes.extend_from_slice(&crc32(line).to_be_bytes());
                bytes.extend_from_slice(line);
                collect_private(line, &mut private, &mut public);
            }
        }
        append(dir, name, &bytes);
    }
    // A replica name is the log's public metadata, which errors name
    // ("names replica X, the log is Y's"); a record member that happens
    // to be part of one is not quoted from the record.
    private.retain(|p| !public.iter().any(|r| r.contains(p.as_str())));
    private
}

fn allowed(name: &str) -> bool {
    let n =
        |s: &str| s.len() == 6 && s.starts_with("00000") && matches!(s.as_bytes()[5], b'1'..=b'9');
    matches!(name, "checkpoints.log" | "deletions.log")
        || name
            .strip_prefix("segment-")
            .and_then(|s| s.strip_suffix(".log"))
            .is_some_and(n)
        || name
            .strip_prefix("seals/segment-")
            .and_then(|s| s.strip_suffix(".seal"))
            .is_some_and(n)
}

fn append(dir: &Path, name: &str, bytes: &[u8]) {
    use std::io::Write as _;
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))
        .expect("write a log file");
    f.write_all(bytes).expect("write a log file");
}

fn split<'a>(data: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(i) = rest.windows(sep.len()).position(|w| w == sep) {
        out.push(&rest[..i]);
        rest = &rest[i + sep.len()..];
    }
    out.push(rest);
    out
}

fn collect_private(line: &[u8], out: &mut Vec<String>, public: &mut Vec<String>) {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(line)
    else {
        return;
    };
    if let Some(serde_json::Value::String(replica)) = map.get("replica") {
        public.push(replica.clone());
    }
    // Short values could occur in any message by chance.
    let mut keep = |s: &String| {
        if s.chars().count() >= 8 {
            out.push(s.clone());
        }
    };
    for member in PRIVATE_MEMBERS {
        match map.get(member) {
            Some(serde_json::Value::String(s)) => keep(s),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .filter_map(serde_json::Value::as_str)
                .for_each(|s| keep(&s.to_owned())),
            _ => {}
        }
    }
}

fn assert_quotes_nothing(message: &str, private: &[String]) {
    for value in private {
        assert!(
            !message.contains(value.as_str()),
            "an error quotes a record's contents: {message}"
        );
    }
}

/// CRC-32 (IEEE), as the log frames use.
fn crc32(bytes: &[u8]) -> u32 {
    static TABLE: OnceLock<[u32; 256]> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        t
    });
    !bytes.iter().fold(!0u32, |c, &b| {
        table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
    })
}
