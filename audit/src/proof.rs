//! Proof verifiers, RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2
//! (consistency). The gateway's own tests use an independent verifier.

use crate::merkle::{node_hash, Hash};

/// Whether `proof` shows that `leaf_hash` is leaf `index` of the tree of
/// `size` leaves whose root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            // Bounded: fnode reaches 0 within 64 shifts.
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// Whether `proof` shows that the tree of `first` leaves with root
/// `first_hash` is a prefix of the tree of `second` leaves with root
/// `second_hash` (RFC 9162 §2.1.4.2). For `first == second` the proof must
/// be empty and the roots equal; `first == 0` is rejected.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_hash: &Hash,
    second_hash: &Hash,
    proof: &[Hash],
) -> bool {
    if first == 0 || first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_hash == second_hash;
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_hash);
    }
    path.extend_from_slice(proof);
    let (mut fnode, mut snode) = (first - 1, second - 1);
    // Bounded: at most 64 shifts.
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    fr == *first_hash && sr == *second_hash && snode == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{leaf_hash, MerkleTree};

    fn tree(n: u64) -> MerkleTree {
        let mut t = MerkleTree::new();
        (0..n).for_each(|i| t.push(leaf_hash(&i.to_be_bytes())).unwrap());
        t
    }

    #[test]
    fn accepts_every_honest_proof_and_rejects_altered_ones() {
        let t = tree(70);
        for size in 1..=70u64 {
            let root = t.root(size).unwrap();
            for index in 0..size {
                let leaf = t.leaf(index).unwrap();
                let proof = t.inclusion_proof(index, size).unwrap();
                assert!(verify_inclusion(&leaf, index, size, &proof, &root));
                // (The tree size is bound by the signed root, not by the
                // proof: index 0 of size 3 also "verifies" as size 4.)
                assert!(!verify_inclusion(
                    &leaf,
                    index,
                    size,
                    &proof,
                    &leaf_hash(&root)
                ));
                if size > 1 {
                    let other = (index + 1) % size;
                    assert!(!verify_inclusion(&leaf, other, size, &proof, &root));
                }
                if let Some(first) = proof.first() {
                    let mut bad = proof.clone();
                    bad[0] = leaf_hash(first);
                    assert!(!verify_inclusion(&leaf, index, size, &bad, &root));
                }
            }
            for m in 1..=size {
                let proof = t.consistency_proof(m, size).unwrap();
                let first = t.root(m).unwrap();
                assert!(
                    verify_consistency(m, size, &first, &root, &proof),
                    "{m}->{size}"
                );
                assert!(!verify_consistency(m, size, &root, &first, &proof) || m == size);
            }
        }
        assert!(!verify_consistency(0, 3, &[0; 32], &[0; 32], &[]));
    }
}
