use std::io::Write as _;
use std::time::Duration;

use super::*;

/// Waits (bounded) until `cond` holds, re-checking after every reload.
async fn wait_for(revs: &FileRevocations, cond: impl Fn(&FileRevocations) -> bool) {
    let mut rx = revs.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond(revs) {
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            _ => panic!("no reload satisfied the condition within 10 s: {revs:?}"),
        }
    }
}

/// An `exp` far in the future (2100-01-01): such revocations stay loaded.
const LIVE: i64 = 4_102_444_800;

fn line(jti: &str) -> String {
    format!("{{\"jti\":\"{jti}\",\"exp\":{LIVE},\"revoked_at\":1750000000}}\n")
}

#[test]
fn revocations_of_long_expired_tokens_are_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("revoked.jsonl");
    let now = crate::state::unix_now();
    let grace = crate::state::STATE_GRACE_SECS;
    append_revocation(&path, "expired-long-ago", now - grace - 10).unwrap();
    // Within the grace a token may still verify (clock skew): kept.
    append_revocation(&path, "expired-just-now", now - 10).unwrap();
    append_revocation(&path, "live", now + 3600).unwrap();
    // A later line of the same jti with a later exp wins.
    append_revocation(&path, "renewed", now - grace - 10).unwrap();
    append_revocation(&path, "renewed", now + 3600).unwrap();
    let revs = FileRevocations::open(&path).unwrap();
    assert!(!revs.is_revoked("expired-long-ago"));
    assert!(revs.is_revoked("expired-just-now"));
    assert!(revs.is_revoked("live"));
    assert!(revs.is_revoked("renewed"));
    assert_eq!(revs.len(), 3);
}

#[test]
fn a_missing_file_is_an_empty_list() {
    let dir = tempfile::tempdir().unwrap();
    let revs = FileRevocations::open(dir.path().join("none.jsonl")).unwrap();
    assert!(revs.is_empty());
    assert_eq!(revs.generation(), 1);
    assert!(!revs.is_revoked("x"));
}

#[test]
fn a_missing_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = FileRevocations::open(dir.path().join("nope/revoked.jsonl")).unwrap_err();
    assert!(matches!(err, RevocationFileError::Watch { .. }), "{err}");
}

#[test]
fn malformed_lines_are_skipped_never_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("revoked.jsonl");
    let content = [
        line("good-1"),
        "not json\n".to_owned(),
        "{\"jti\":\"no-exp\"}\n".to_owned(),
        "\n".to_owned(),
        "{\"jti\":\"bad jti\",\"exp\":1,\"revoked_at\":1}\n".to_owned(),
        "[1,2,3]\n".to_owned(),
        line("good-2"),
        "{\"jti\":\"partial\",\"ex".to_owned(),
    ]
    .concat();
    std::fs::write(&path, content).unwrap();
    let revs = FileRevocations::open(&path).unwrap();
    assert!(revs.is_revoked("good-1"));
    assert!(revs.is_revoked("good-2"));
    assert!(!revs.is_revoked("no-exp"));
    assert!(!revs.is_revoked("bad jti"));
    assert_eq!(revs.len(), 2);
}

#[test]
fn an_unterminated_but_complete_last_line_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("revoked.jsonl");
    std::fs::write(&path, line("a").trim_end()).unwrap();
    let revs = FileRevocations::open(&path).unwrap();
    assert!(revs.is_revoked("a"));
    // Appending never glues onto it.
    append_revocation(&path, "b", LIVE).unwrap();
    revs.reload().unwrap();
    assert!(revs.is_revoked("a") && revs.is_revoked("b"));
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
}

#[tokio::test]
async fn the_watcher_picks_up_another_writers_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("revoked.jsonl");
    let revs = FileRevocations::open(&path).unwrap();
    let before = revs.generation();
    // "Another process": a plain function call on the path, no shared state.
    let writer_path = path.clone();
    let record =
        tokio::task::spawn_blocking(move || append_revocation(&writer_path, "jti-from-cli", LIVE))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(record.jti, "jti-from-cli");
    wait_for(&revs, |r| r.is_revoked("jti-from-cli")).await;
    assert!(revs.generation() > before);
    // A second append to the existing file.
    append_revocation(&path, "second", LIVE).unwrap();
    wait_for(&revs, |r| r.is_revoked("second")).await;
    assert!(revs.is_revoked("jti-from-cli"));
}

#[tokio::test]
async fn the_watcher_follows_atomic_replacement_and_survives_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("revoked.jsonl");
    std::fs::write(&path, line("old")).unwrap();
    let revs = FileRevocations::open(&path).unwrap();
    assert!(revs.is_revoked("old"));
    // Replace by rename: the new file's revocations join those in force.
    let tmp = dir.path().join("revoked.jsonl.tmp");
    std::fs::write(&tmp, line("new")).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    wait_for(&revs, |r| r.is_revoked("new")).await;
    assert!(revs.is_revoked("old"), "a shorter file lifts nothing");
    // Deleting the file keeps the last list in force.
    std::fs::remove_file(&path).unwrap();
    std::fs::write(dir.path().join("other.jsonl"), line("unrelated")).unwrap();
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(line("again").as_bytes()).unwrap();
    drop(f);
    wait_for(&revs, |r| r.is_revoked("again")).await;
    assert!(!revs.is_revoked("unrelated"));
}

/// Static review: truncating the file (`: > file`, logrotate's
/// `copytruncate`) or mangling a line lifted every revocation it held.
/// While the gateway runs, nothing the file loses is lifted; a restart
/// reads the file alone.
#[test]
fn a_truncated_or_mangled_file_lifts_no_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("revoked.jsonl");
    std::fs::write(&path, [line("one"), line("two")].concat()).unwrap();
    let revs = FileRevocations::open(&path).unwrap();
    std::fs::write(&path, "").unwrap();
    revs.reload().unwrap();
    assert!(revs.is_revoked("one") && revs.is_revoked("two"));
    // A hand edit that breaks a line, and a new revocation after it.
    std::fs::write(
        &path,
        [line("one").replace('}', ",}"), line("three")].concat(),
    )
    .unwrap();
    revs.reload().unwrap();
    assert!(revs.is_revoked("one") && revs.is_revoked("two") && revs.is_revoked("three"));
    assert_eq!(revs.len(), 3);
    // A restart reads the file alone: removing a line and restarting is how
    // a revocation is lifted on purpose.
    drop(revs);
    let revs = FileRevocations::open(&path).unwrap();
    assert!(!revs.is_revoked("one") && !revs.is_revoked("two") && revs.is_revoked("three"));
}

#[test]
fn deletion_keeps_the_previous_list() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("revoked.jsonl");
    std::fs::write(&path, line("kept")).unwrap();
    let revs = FileRevocations::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(revs.reload().is_err());
    assert!(revs.is_revoked("kept"));
}

#[test]
fn append_creates_the_file_and_refuses_bad_jtis() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("revoked.jsonl");
    let record = append_revocation(&path, "abc", 42).unwrap();
    assert_eq!((record.jti.as_str(), record.exp), ("abc", 42));
    let text = std::fs::read_to_string(&path).unwrap();
    let parsed: RevocationRecord = serde_json::from_str(text.trim_end()).unwrap();
    assert_eq!(parsed, record);
    assert!(text.ends_with('\n'));
    for bad in ["", "a b", "line\nbreak", "\"quoted\u{7f}"] {
        assert!(matches!(
            append_revocation(&path, bad, 42),
            Err(RevocationFileError::InvalidJti)
        ));
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn concurrent_appenders_never_interleave() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("revoked.jsonl");
    std::thread::scope(|scope| {
        for t in 0..8 {
            let path = &path;
            scope.spawn(move || {
                for i in 0..25 {
                    append_revocation(path, &format!("t{t}-{i}"), LIVE).unwrap();
                }
            });
        }
    });
    let text = std::fs::read_to_string(&path).unwrap();
    // Racing appenders may add a harmless blank line (one of them can see the other's
    // extension before its bytes); records themselves are never torn.
    let records: Vec<RevocationRecord> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 200);
    let revs = FileRevocations::open(&path).unwrap();
    assert_eq!(revs.len(), 200);
}
