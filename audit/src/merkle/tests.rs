//! Unit tests of the tree against a naive recursive MTH.

use super::*;

/// MTH straight from the RFC definition, recomputing everything.
fn naive_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
        }
    }
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("{{\"seq\":{i}}}").as_bytes()))
        .collect()
}

#[test]
fn empty_root_is_sha256_of_nothing() {
    assert_eq!(EMPTY_ROOT, sha256(b""));
    assert_eq!(MerkleTree::new().root(0).ok(), Some(EMPTY_ROOT));
    assert!(MerkleTree::new().root(1).is_err());
}

#[test]
fn split_point_is_largest_power_of_two_below() {
    assert_eq!(split_point(2), 1);
    assert_eq!(split_point(3), 2);
    assert_eq!(split_point(4), 2);
    assert_eq!(split_point(5), 4);
    assert_eq!(split_point(1 << 20), 1 << 19);
    assert_eq!(split_point((1 << 20) + 1), 1 << 20);
}

#[test]
fn roots_match_naive_definition_for_every_size() {
    let all = leaves(300);
    let mut tree = MerkleTree::new();
    for (i, leaf) in all.iter().enumerate() {
        tree.push(*leaf).unwrap();
        let n = i + 1;
        assert_eq!(
            tree.root(n as u64).ok(),
            Some(naive_root(&all[..n])),
            "size {n}"
        );
    }
    for size in [1u64, 2, 15, 16, 17, 31, 32, 33, 255, 256, 257, 300] {
        assert_eq!(
            tree.root(size).ok(),
            Some(naive_root(&all[..size as usize]))
        );
    }
    for (start, end) in [(0u64, 16u64), (16, 32), (256, 272), (32, 300), (5, 9)] {
        assert_eq!(
            tree.subtree(start, end).unwrap(),
            naive_root(&all[start as usize..end as usize])
        );
    }
}

#[test]
fn rfc_example_proof_shapes() {
    // RFC 9162 §2.1.5: tree of 7 leaves d0..d6.
    let all = leaves(7);
    let mut tree = MerkleTree::new();
    all.iter().for_each(|l| tree.push(*l).unwrap());
    let (a, b, c, d, e, f, g) = (all[0], all[1], all[2], all[3], all[4], all[5], all[6]);
    let h = |x: &Hash, y: &Hash| node_hash(x, y);
    // Inclusion of b: [a, h(c,d), h(h(e,f),g)].
    assert_eq!(
        tree.inclusion_proof(1, 7).unwrap(),
        vec![a, h(&c, &d), h(&h(&e, &f), &g)]
    );
    // Inclusion of d: [c, h(a,b), h(h(e,f),g)].
    assert_eq!(
        tree.inclusion_proof(3, 7).unwrap(),
        vec![c, h(&a, &b), h(&h(&e, &f), &g)]
    );
    // Inclusion of e: [f, g, h(h(a,b),h(c,d))].
    assert_eq!(
        tree.inclusion_proof(4, 7).unwrap(),
        vec![f, g, h(&h(&a, &b), &h(&c, &d))]
    );
    // Consistency 3 → 7: [c, d, g, l] with g = h(a,b), l = h(h(e,f),g6).
    assert_eq!(
        tree.consistency_proof(3, 7).unwrap(),
        vec![c, d, h(&a, &b), h(&h(&e, &f), &g)]
    );
    // Consistency 4 → 7: [l]; 6 → 7: [i, j, k] with i = h(e,f), j = g6, k = h(h(a,b),h(c,d)).
    assert_eq!(
        tree.consistency_proof(4, 7).unwrap(),
        vec![h(&h(&e, &f), &g)]
    );
    assert_eq!(
        tree.consistency_proof(6, 7).unwrap(),
        vec![h(&e, &f), g, h(&h(&a, &b), &h(&c, &d))]
    );
    assert!(tree.consistency_proof(7, 7).unwrap().is_empty());
}

#[test]
fn proof_ranges_are_checked() {
    let mut tree = MerkleTree::new();
    leaves(5).into_iter().for_each(|l| tree.push(l).unwrap());
    assert!(tree.inclusion_proof(5, 5).is_err());
    assert!(tree.inclusion_proof(0, 6).is_err());
    assert!(tree.inclusion_proof(0, 1).unwrap().is_empty());
    assert!(tree.consistency_proof(0, 5).is_err());
    assert!(tree.consistency_proof(4, 3).is_err());
    assert!(tree.consistency_proof(3, 6).is_err());
}

/// A tree of `n` leaves spilling to a cache file in a fresh directory.
fn spilled(all: &[Hash]) -> (tempfile::TempDir, MerkleTree) {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = MerkleTree::spilling(&dir.path().join(LEAVES_CACHE_FILE)).unwrap();
    all.iter().for_each(|l| tree.push(*l).unwrap());
    (dir, tree)
}

#[test]
fn a_tree_spilling_its_leaves_answers_as_one_in_memory() {
    // Past height 12 (4,096 leaves), so two stored levels above the chunks.
    let all = leaves(4_700);
    let mut memory = MerkleTree::new();
    all.iter().for_each(|l| memory.push(*l).unwrap());
    let (_dir, tree) = spilled(&all);
    assert_eq!(tree.len(), 4_700);
    let sizes = [
        1u64, 7, 255, 256, 257, 511, 512, 1_000, 4_095, 4_096, 4_097, 4_700,
    ];
    for &size in &sizes {
        assert_eq!(
            tree.root(size).ok(),
            Some(naive_root(&all[..size as usize])),
            "size {size}"
        );
        for index in [0, size / 3, size / 2, size - 1] {
            assert_eq!(
                tree.inclusion_proof(index, size).unwrap(),
                memory.inclusion_proof(index, size).unwrap(),
                "leaf {index} of {size}"
            );
        }
        for &m in sizes.iter().filter(|&&m| m <= size) {
            assert_eq!(
                tree.consistency_proof(m, size).unwrap(),
                memory.consistency_proof(m, size).unwrap(),
                "{m} -> {size}"
            );
        }
    }
    for (start, end) in [(0u64, 4_700u64), (250, 1_030), (4_600, 4_700), (3, 3)] {
        assert_eq!(
            tree.leaves(start, end).unwrap(),
            all[start as usize..end as usize]
        );
    }
    for index in [0u64, 255, 256, 4_699] {
        assert_eq!(tree.leaf(index).unwrap(), all[index as usize]);
    }
    assert!(tree.leaf(4_700).is_err());
    // Only the last incomplete chunk and the chunks read back are in memory.
    assert!(
        tree.resident_leaves() <= 16 * 256 + 4_700 % 256,
        "{} leaves resident",
        tree.resident_leaves()
    );
    assert_eq!(memory.resident_leaves(), 4_700);
}

#[test]
fn a_damaged_leaf_cache_fails_proofs_and_never_gives_a_wrong_one() {
    use std::os::unix::fs::FileExt;
    let all = leaves(600);
    let (dir, tree) = spilled(&all);
    // One bit of leaf 3 (chunk 0) flipped on disk.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.path().join(LEAVES_CACHE_FILE))
        .unwrap();
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, 3 * 32 + 5).unwrap();
    file.write_all_at(&[byte[0] ^ 0x10], 3 * 32 + 5).unwrap();
    let err = tree.inclusion_proof(3, 600).unwrap_err();
    assert!(
        matches!(err, TreeError::Leaves(LeafError::Mismatch { chunk: 0, .. })),
        "{err:?}"
    );
    assert!(tree.leaf(3).is_err());
    assert!(tree.leaves(0, 300).is_err());
    assert!(tree.consistency_proof(100, 600).is_err());
    // What does not need chunk 0's leaves still answers, and rightly.
    assert_eq!(tree.root(600).ok(), Some(naive_root(&all)));
    assert_eq!(tree.root(256).ok(), Some(naive_root(&all[..256])));
    let mut memory = MerkleTree::new();
    all.iter().for_each(|l| memory.push(*l).unwrap());
    assert_eq!(
        tree.inclusion_proof(300, 600).unwrap(),
        memory.inclusion_proof(300, 600).unwrap()
    );
}
