//! Rotation into sealed segments, retention with signed deletion records,
//! and what verify says when a segment disappears without one.

use std::time::{Duration, SystemTime};

use credgate_audit::{verify, AuditError, AuditLog, ProblemKind, Query};

use crate::common::{
    append_seq, config, copy_dir, frame, frames, public_pem, record, segment, segments,
};

fn small_segments(dir: &std::path::Path) -> credgate_audit::AuditConfig {
    let mut cfg = config(dir);
    cfg.segment_max_bytes = 4096;
    cfg.checkpoint_every_records = 10;
    cfg.retention = Some(Duration::from_secs(3600));
    cfg
}

#[tokio::test(flavor = "current_thread")]
async fn rotation_seals_and_retention_keep_the_log_verifiable() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(small_segments(dir.path())).await.unwrap();
    append_seq(&log, 0, 60).await;
    let nsegs = segments(dir.path()).len();
    assert!(nsegs >= 4);
    let before = verify(dir.path(), Some(public_pem())).unwrap();
    assert_eq!((before.segments, before.seals), (nsegs, nsegs - 1));
    let root = log.root(60).unwrap();
    let pristine = copy_dir(dir.path());

    // Nothing is old enough yet.
    let none = log.apply_retention(SystemTime::now()).await.unwrap();
    assert!(none.deleted_segments.is_empty());

    let later = SystemTime::now() + Duration::from_secs(2 * 3600);
    let report = log.apply_retention(later).await.unwrap();
    let expected: Vec<u32> = (1..nsegs as u32).collect();
    assert_eq!(report.deleted_segments, expected);
    assert_eq!(segments(dir.path()), vec![nsegs as u32]);
    let deleted = report.deleted_records;
    assert!(deleted > 0 && deleted < 60);

    // Deleted records are gone from queries, but still in the tree.
    assert_eq!(log.record(1).unwrap(), None);
    assert!(log.record(deleted + 1).unwrap().is_some());
    let page = log
        .query_blocking(&Query {
            limit: Some(1000),
            ..Query::default()
        })
        .unwrap();
    assert_eq!(page.records.len() as u64, 60 - deleted);
    assert_eq!(log.root(60).unwrap(), root);
    let proof = log.inclusion_proof(1, 60).unwrap();
    assert!(credgate_audit::verify_inclusion(
        &log.leaf_hash(1).unwrap(),
        0,
        60,
        &proof,
        &root
    ));
    log.shutdown().await.unwrap();

    let after = verify(dir.path(), Some(public_pem())).unwrap();
    assert_eq!(after.tree_size, 60);
    assert_eq!(after.deleted_segments, nsegs - 1);
    assert_eq!(after.deleted_records, deleted);
    assert_eq!(after.records_present, 60 - deleted);
    assert_eq!(after.root_hash, before.root_hash);

    // Reopening rebuilds the tree from the deletion records.
    let log = AuditLog::open(small_segments(dir.path())).await.unwrap();
    assert_eq!(log.root(60).unwrap(), root);
    assert_eq!(log.append(record(60)).await.unwrap().seq, 61);
    log.shutdown().await.unwrap();
    verify(dir.path(), Some(public_pem())).unwrap();

    // An interrupted deletion (record written, file still there) verifies,
    // and the next open finishes it.
    let d = copy_dir(dir.path());
    std::fs::copy(segment(pristine.path(), 1), segment(d.path(), 1)).unwrap();
    verify(d.path(), Some(public_pem())).unwrap();
    let log = AuditLog::open(small_segments(d.path())).await.unwrap();
    assert!(!segment(d.path(), 1).exists());
    log.shutdown().await.unwrap();

    // Without deletions.log, the missing segments are reported.
    let d = copy_dir(dir.path());
    std::fs::remove_file(d.path().join("deletions.log")).unwrap();
    let c = verify(d.path(), None).unwrap_err();
    assert_eq!(c.kind, ProblemKind::MissingSegment, "{c}");
    assert_eq!(c.location.file, "segment-000001.log");
    assert_eq!(c.location.seq, Some(1));

    // A deletion record with altered leaf hashes: bad signature, and
    // without the key the seal's tree root no longer matches.
    let d = copy_dir(dir.path());
    let bytes = std::fs::read(d.path().join("deletions.log")).unwrap();
    let f = frames(&bytes);
    let mut rec: serde_json::Value = serde_json::from_slice(&f[0].payload).unwrap();
    let mut leaves = base64_decode(rec["leaf_hashes"].as_str().unwrap());
    leaves[0] ^= 1;
    rec["leaf_hashes"] = serde_json::Value::from(base64_encode(&leaves));
    let mut forged = frame(&serde_json::to_vec(&rec).unwrap());
    forged.extend_from_slice(&bytes[f[0].len()..]);
    std::fs::write(d.path().join("deletions.log"), &forged).unwrap();
    let c = verify(d.path(), Some(public_pem())).unwrap_err();
    assert_eq!(
        (c.kind, c.location.file.as_str()),
        (ProblemKind::BadSignature, "deletions.log")
    );
    let c = verify(d.path(), None).unwrap_err();
    assert_eq!(c.kind, ProblemKind::SealMismatch, "{c}");
    assert_eq!(c.location.file, "seals/segment-000001.seal");
}

#[tokio::test(flavor = "current_thread")]
async fn a_segment_deleted_without_a_deletion_record_fails_verify_and_open() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(small_segments(dir.path())).await.unwrap();
    append_seq(&log, 0, 40).await;
    log.shutdown().await.unwrap();
    let second = std::fs::read(segment(dir.path(), 2)).unwrap();
    let first_seq = frames(&second)[1].seq();
    std::fs::remove_file(segment(dir.path(), 2)).unwrap();

    let c = verify(dir.path(), Some(public_pem())).unwrap_err();
    assert_eq!(c.kind, ProblemKind::MissingSegment, "{c}");
    assert_eq!(c.location.file, "segment-000002.log");
    assert_eq!(c.location.seq, first_seq);
    match AuditLog::open(small_segments(dir.path())).await {
        Err(AuditError::Corrupt(c)) => assert_eq!(c.kind, ProblemKind::MissingSegment),
        other => panic!("open must refuse: {:?}", other.map(|_| ())),
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test(flavor = "current_thread")]
async fn aged_segments_are_deleted_by_themselves_one_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(small_segments(dir.path())).await.unwrap();
    append_seq(&log, 0, 60).await;
    let nsegs = segments(dir.path()).len();
    assert!(nsegs >= 4);
    let root = log.root(60).unwrap();
    log.shutdown().await.unwrap();

    // Reopened with a retention every sealed segment is past: no rotation
    // and no call is needed, and appends go on meanwhile.
    let mut cfg = small_segments(dir.path());
    cfg.retention = Some(Duration::from_millis(1));
    let log = AuditLog::open(cfg).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while segments(dir.path()).len() > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "aged segments not deleted: {:?}",
            segments(dir.path())
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(log.append(record(60)).await.unwrap().seq, 61);
    assert_eq!(log.root(60).unwrap(), root);
    log.shutdown().await.unwrap();
    let report = verify(dir.path(), Some(public_pem())).unwrap();
    assert_eq!(report.tree_size, 61);
    assert_eq!(report.deleted_segments, nsegs - 1);
    // One signed deletion record per segment (never a batch of them).
    let deletions = std::fs::read(dir.path().join("deletions.log")).unwrap();
    assert_eq!(frames(&deletions).len(), nsegs - 1);
}

/// Leaf hashes live in `leaves.cache` past each complete chunk of 256:
/// proofs and retention read them back, checked against the tree, so a
/// damaged cache fails them and never signs a wrong leaf into a deletion
/// record; the next open rebuilds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_and_proofs_read_leaf_hashes_back_from_the_cache_and_trust_none_damaged() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_segments(dir.path());
    cfg.segment_max_bytes = 64 << 10;
    let log = AuditLog::open(cfg.clone()).await.unwrap();
    append_seq(&log, 0, 700).await;
    let cache = dir.path().join("leaves.cache");
    // Two complete chunks written out; the rest in memory.
    assert_eq!(std::fs::metadata(&cache).unwrap().len(), 512 * 32);
    let root = log.root(700).unwrap();
    let leaf_10 = log.leaf_hash(10).unwrap();
    let proof = log.inclusion_proof(10, 700).unwrap();
    assert!(credgate_audit::verify_inclusion(
        &leaf_10, 9, 700, &proof, &root
    ));

    // One bit of leaf 10 flipped in the cache.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&cache)
        .unwrap();
    let mut b = [0u8; 1];
    file.read_exact_at(&mut b, 9 * 32).unwrap();
    file.write_all_at(&[b[0] ^ 1], 9 * 32).unwrap();
    let mut other = [0u8; 1];
    // A fresh chunk read: leaf 300's chunk was not read yet, so damage there
    // is found at the first read.
    file.read_exact_at(&mut other, 300 * 32).unwrap();
    file.write_all_at(&[other[0] ^ 1], 300 * 32).unwrap();
    let err = log.inclusion_proof(301, 700).unwrap_err();
    assert!(matches!(err, AuditError::Io { .. }), "{err}");
    assert!(err.to_string().contains("leaves.cache"), "{err}");
    assert!(log.leaf_hash(301).is_err());
    // The root needs no leaf of a complete chunk: still answered, rightly.
    assert_eq!(log.root(700).unwrap(), root);

    // Retention must not sign leaves it cannot trust: refused, nothing deleted.
    let before = segments(dir.path());
    let later = SystemTime::now() + Duration::from_secs(2 * 3600);
    let refused = log.apply_retention(later).await;
    // The first segment's chunk (0) was read and cached before the damage,
    // so the first deletions go through; the one reaching chunk 1 stops.
    let deleted = match &refused {
        Ok(r) => panic!("retention went through a damaged cache: {r:?}"),
        Err(e) => {
            assert!(e.to_string().contains("leaves.cache"), "{e}");
            before.len() - segments(dir.path()).len()
        }
    };
    assert!(segments(dir.path()).len() > 1, "{deleted} deleted");
    log.shutdown().await.unwrap();
    let report = verify(dir.path(), Some(public_pem())).unwrap();
    assert_eq!(report.tree_size, 700);
    assert_eq!(report.root_hash, hex::encode(root));

    // Reopened: the cache is rebuilt from the log, and retention completes.
    let log = AuditLog::open(cfg).await.unwrap();
    assert_eq!(std::fs::metadata(&cache).unwrap().len(), 512 * 32);
    let proof = log.inclusion_proof(301, 700).unwrap();
    assert!(credgate_audit::verify_inclusion(
        &log.leaf_hash(301).unwrap(),
        300,
        700,
        &proof,
        &root
    ));
    let report = log.apply_retention(later).await.unwrap();
    assert!(!report.deleted_segments.is_empty());
    assert_eq!(segments(dir.path()).len(), 1);
    assert_eq!(log.root(700).unwrap(), root);
    log.shutdown().await.unwrap();
    let report = verify(dir.path(), Some(public_pem())).unwrap();
    assert_eq!(report.tree_size, 700);
    assert_eq!(report.deleted_records + report.records_present, 700);
    assert!(report.records_present < 100, "{report:?}");
    assert_eq!(report.root_hash, hex::encode(root));
}
