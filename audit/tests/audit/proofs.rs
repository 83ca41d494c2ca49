//! Inclusion and consistency proofs checked by an independent verifier
//! written here from RFC 9162 §2.1.3.2 and §2.1.4.2, against roots computed
//! here from the raw record payloads read from disk (not the crate's tree).

use std::path::Path;

use credgate_audit::{verify_consistency, verify_inclusion, AuditLog};
use ring::digest::{digest, SHA256};

use crate::common::{append_seq, config, frames, segment, segments};

type H = [u8; 32];

fn sha(parts: &[&[u8]]) -> H {
    let mut all = Vec::new();
    parts.iter().for_each(|p| all.extend_from_slice(p));
    digest(&SHA256, &all).as_ref().try_into().unwrap()
}

fn leaf(payload: &[u8]) -> H {
    sha(&[&[0u8], payload])
}

fn node(l: &H, r: &H) -> H {
    sha(&[&[1u8], l, r])
}

/// MTH from the RFC 9162 §2.1.1 definition.
fn mth(leaves: &[H]) -> H {
    match leaves.len() {
        0 => sha(&[]),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            node(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// RFC 9162 §2.1.3.2, step by step.
fn rfc_inclusion(leaf_index: u64, tree_size: u64, path: &[H], leaf_hash: &H, root: &H) -> bool {
    if leaf_index >= tree_size {
        return false;
    }
    let mut f = leaf_index;
    let mut s = tree_size - 1;
    let mut r = *leaf_hash;
    for p in path {
        if s == 0 {
            return false;
        }
        if f % 2 == 1 || f == s {
            r = node(p, &r);
            if f % 2 == 0 {
                while f % 2 == 0 && f != 0 {
                    f /= 2;
                    s /= 2;
                }
            }
        } else {
            r = node(&r, p);
        }
        f /= 2;
        s /= 2;
    }
    s == 0 && r == *root
}

/// RFC 9162 §2.1.4.2, step by step (with m == n handled as equal roots).
fn rfc_consistency(first: u64, second: u64, first_hash: &H, second_hash: &H, proof: &[H]) -> bool {
    if first == second {
        return proof.is_empty() && first_hash == second_hash;
    }
    if proof.is_empty() || first == 0 || first > second {
        return false;
    }
    let mut path = proof.to_vec();
    if first.count_ones() == 1 {
        path.insert(0, *first_hash);
    }
    let mut f = first - 1;
    let mut s = second - 1;
    while f % 2 == 1 {
        f /= 2;
        s /= 2;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if s == 0 {
            return false;
        }
        if f % 2 == 1 || f == s {
            fr = node(c, &fr);
            sr = node(c, &sr);
            if f % 2 == 0 {
                while f % 2 == 0 && f != 0 {
                    f /= 2;
                    s /= 2;
                }
            }
        } else {
            sr = node(&sr, c);
        }
        f /= 2;
        s /= 2;
    }
    fr == *first_hash && sr == *second_hash && s == 0
}

/// Leaf hashes of every record on disk, in seq order (headers skipped).
fn leaves_on_disk(dir: &Path) -> Vec<H> {
    let mut out = Vec::new();
    for n in segments(dir) {
        let bytes = std::fs::read(segment(dir, n)).unwrap();
        for f in frames(&bytes).iter().skip(1) {
            assert_eq!(f.seq(), Some(out.len() as u64 + 1));
            out.push(leaf(&f.payload));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_verify_independently_for_many_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.segment_max_bytes = 16 << 10; // several segments: the tree spans them
    let log = AuditLog::open(cfg).await.unwrap();
    append_seq(&log, 0, 300).await;
    let leaves = leaves_on_disk(dir.path());
    assert_eq!(leaves.len(), 300);
    assert!(segments(dir.path()).len() >= 2);

    let sizes: Vec<u64> = vec![
        1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 255,
        256, 257, 299, 300,
    ];
    let mut checked = 0;
    for &n in &sizes {
        let root = mth(&leaves[..n as usize]);
        assert_eq!(log.root(n).unwrap(), root, "root at size {n}");
        let indices: Vec<u64> = if n <= 33 {
            (0..n).collect()
        } else {
            vec![0, 1, n / 3, n / 2, n - 2, n - 1]
        };
        for i in indices {
            let seq = i + 1;
            let proof = log.inclusion_proof(seq, n).unwrap();
            assert_eq!(log.leaf_hash(seq).unwrap(), leaves[i as usize]);
            assert!(
                rfc_inclusion(i, n, &proof, &leaves[i as usize], &root),
                "seq {seq} in {n}"
            );
            assert!(verify_inclusion(&leaves[i as usize], i, n, &proof, &root));
            // Altered proofs or a wrong leaf must fail.
            if let Some(first) = proof.first() {
                let mut bad = proof.clone();
                bad[0] = node(first, first);
                assert!(!rfc_inclusion(i, n, &bad, &leaves[i as usize], &root));
            }
            let other = leaves[((i + 1) % n) as usize];
            if n > 1 {
                assert!(!rfc_inclusion(i, n, &proof, &other, &root));
            }
            checked += 1;
        }
        for &m in sizes.iter().filter(|&&m| m <= n) {
            let first = mth(&leaves[..m as usize]);
            let proof = log.consistency_proof(m, n).unwrap();
            assert!(rfc_consistency(m, n, &first, &root, &proof), "{m} -> {n}");
            assert!(verify_consistency(m, n, &first, &root, &proof));
            if m < n {
                assert!(
                    !rfc_consistency(m, n, &root, &first, &proof),
                    "{m} -> {n} swapped"
                );
                let mut bad = proof.clone();
                let last = bad.len() - 1;
                bad[last] = node(&bad[last], &bad[last]);
                assert!(!rfc_consistency(m, n, &first, &root, &bad));
            }
            checked += 1;
        }
    }
    assert!(checked > 500);

    // Out-of-range requests are refused, not answered wrongly.
    assert!(log.inclusion_proof(0, 10).is_err());
    assert!(log.inclusion_proof(11, 10).is_err());
    assert!(log.inclusion_proof(1, 301).is_err());
    assert!(log.consistency_proof(0, 10).is_err());
    assert!(log.consistency_proof(11, 10).is_err());
    assert!(log.consistency_proof(1, 301).is_err());

    // The signed checkpoint's root is the independently computed root.
    let cp = log.checkpoint_now().await.unwrap();
    assert_eq!(cp.tree_size, 300);
    assert_eq!(cp.root_hash, hex::encode(mth(&leaves)));
    assert!(cp.verify_signature(&log.public_key()));
}
