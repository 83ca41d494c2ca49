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
    assert_eq!(MerkleTree::new().root(0), Some(EMPTY_ROOT));
    assert_eq!(MerkleTree::new().root(1), None);
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
        tree.push(*leaf);
        let n = i + 1;
        assert_eq!(tree.root(n as u64), Some(naive_root(&all[..n])), "size {n}");
    }
    for size in [1u64, 2, 15, 16, 17, 31, 32, 33, 255, 256, 257, 300] {
        assert_eq!(tree.root(size), Some(naive_root(&all[..size as usize])));
    }
    for (start, end) in [(0u64, 16u64), (16, 32), (256, 272), (32, 300), (5, 9)] {
        assert_eq!(
            tree.subtree(start, end),
            naive_root(&all[start as usize..end as usize])
        );
    }
}

#[test]
fn rfc_example_proof_shapes() {
    // RFC 9162 §2.1.5: tree of 7 leaves d0..d6.
    let all = leaves(7);
    let mut tree = MerkleTree::new();
    all.iter().for_each(|l| tree.push(*l));
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
    leaves(5).into_iter().for_each(|l| tree.push(l));
    assert!(tree.inclusion_proof(5, 5).is_err());
    assert!(tree.inclusion_proof(0, 6).is_err());
    assert!(tree.inclusion_proof(0, 1).unwrap().is_empty());
    assert!(tree.consistency_proof(0, 5).is_err());
    assert!(tree.consistency_proof(4, 3).is_err());
    assert!(tree.consistency_proof(3, 6).is_err());
}
