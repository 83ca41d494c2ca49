use std::collections::HashSet;

use super::*;
use crate::state::file::FileRevocations;
use crate::state::STATE_GRACE_SECS;

const NOW: i64 = 1_750_000_000;
const EXP: i64 = NOW + 3600;

fn state(max_entries: usize) -> MemoryState {
    MemoryState::new(MemoryOptions { max_entries })
}

fn reserved(outcome: Result<UseOutcome, StateError>) -> Option<u32> {
    match outcome.unwrap() {
        UseOutcome::Reserved(r) => Some(r.used),
        UseOutcome::Exhausted => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_reservations_with_ten_uses_reserve_exactly_ten() {
    let s = state(1000);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.reserve_use("jti-1", 10, unix_now() + 3600).await })
        })
        .collect();
    let mut used = HashSet::new();
    let mut exhausted = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            UseOutcome::Reserved(r) => assert!(used.insert(r.used)),
            UseOutcome::Exhausted => exhausted += 1,
        }
    }
    assert_eq!(used, (1..=10).collect());
    assert_eq!(exhausted, 40);
    assert_eq!(s.uses("jti-1"), 10);
}

#[tokio::test]
async fn release_gives_a_use_back_and_never_goes_below_zero() {
    let s = state(1000);
    let exp = unix_now() + 3600;
    assert_eq!(reserved(s.reserve_use("j", 1, exp).await), Some(1));
    assert_eq!(reserved(s.reserve_use("j", 1, exp).await), None);
    s.release_use("j").await.unwrap();
    assert_eq!(s.uses("j"), 0);
    assert_eq!(reserved(s.reserve_use("j", 1, exp).await), Some(1));
    for _ in 0..3 {
        s.release_use("j").await.unwrap();
    }
    assert_eq!(s.uses("j"), 0);
    s.release_use("never-seen").await.unwrap();
    assert_eq!(s.uses("never-seen"), 0);
}

#[test]
fn counts_are_forgotten_only_after_expiry_plus_grace() {
    let s = state(1000);
    assert_eq!(reserved(s.reserve_use_at("j", 1, EXP, NOW)), Some(1));
    assert_eq!(reserved(s.reserve_use_at("j", 1, EXP, EXP + 60)), None);
    let forget = EXP + STATE_GRACE_SECS;
    assert_eq!(reserved(s.reserve_use_at("j", 1, EXP, forget)), Some(1));
}

#[test]
fn a_full_table_evicts_expired_entries_then_fails_closed() {
    let s = state(2);
    assert!(reserved(s.reserve_use_at("a", 5, NOW + 10, NOW)).is_some());
    assert!(reserved(s.reserve_use_at("b", 5, EXP, NOW)).is_some());
    // Full of live entries: refuse rather than forget a count.
    assert_eq!(
        s.reserve_use_at("c", 5, EXP, NOW),
        Err(StateError::CapacityExceeded(2))
    );
    // Known tokens still count.
    assert_eq!(reserved(s.reserve_use_at("b", 5, EXP, NOW)), Some(2));
    // Once "a" is past expiry and grace, it makes room.
    let later = NOW + 10 + STATE_GRACE_SECS;
    assert_eq!(reserved(s.reserve_use_at("c", 5, EXP, later)), Some(1));
    assert_eq!(s.uses("a"), 0);
    assert_eq!(s.uses("b"), 2);
}

#[tokio::test]
async fn in_memory_revocations() {
    let s = state(10);
    assert!(!s.is_revoked("j").await.unwrap());
    s.revoke("j", unix_now() + 60).await.unwrap();
    assert!(s.is_revoked("j").await.unwrap());
    assert!(!s.is_revoked("k").await.unwrap());
}

#[tokio::test]
async fn revoking_with_a_file_appends_to_it_and_applies_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("revoked.jsonl");
    let file = FileRevocations::open(&path).unwrap();
    let s = MemoryState::with_revocation_file(MemoryOptions::default(), file.clone());
    s.revoke("jti-9", unix_now() + 60).await.unwrap();
    assert!(s.is_revoked("jti-9").await.unwrap());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(r#""jti":"jti-9""#), "{text}");
    // The file itself lists it for any other gateway.
    file.reload().unwrap();
    assert!(file.is_revoked("jti-9"));
    // A jti the file format refuses is an error, and nothing is revoked.
    assert!(matches!(
        s.revoke("bad jti", unix_now() + 60).await,
        Err(StateError::File(_))
    ));
    assert!(!s.is_revoked("bad jti").await.unwrap());
}
