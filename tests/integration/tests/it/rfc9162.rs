//! An independent verifier for RFC 9162 proofs, written from the RFC
//! (§2.1.1 hashing, §2.1.3.2 inclusion, §2.1.4.2 consistency) for the
//! tests — deliberately not the production `credgate-audit` code.

use ring::digest::{digest, SHA256};

pub type H = [u8; 32];

pub fn leaf(data: &[u8]) -> H {
    let mut v = vec![0u8];
    v.extend_from_slice(data);
    to32(digest(&SHA256, &v).as_ref())
}

fn node(l: &H, r: &H) -> H {
    let mut v = vec![1u8];
    v.extend_from_slice(l);
    v.extend_from_slice(r);
    to32(digest(&SHA256, &v).as_ref())
}

fn to32(b: &[u8]) -> H {
    let mut h = [0u8; 32];
    h.copy_from_slice(b);
    h
}

pub fn unhex(s: &str) -> H {
    to32(&hex::decode(s).unwrap())
}

/// RFC 9162 §2.1.3.2.
pub fn verify_inclusion(
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: &H,
    proof: &[H],
    root: &H,
) -> bool {
    if leaf_index >= tree_size {
        return false;
    }
    let (mut fnum, mut snum) = (leaf_index, tree_size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if snum == 0 {
            return false;
        }
        if fnum & 1 == 1 || fnum == snum {
            r = node(p, &r);
            if fnum & 1 == 0 {
                while fnum & 1 == 0 && fnum != 0 {
                    fnum >>= 1;
                    snum >>= 1;
                }
            }
        } else {
            r = node(&r, p);
        }
        fnum >>= 1;
        snum >>= 1;
    }
    snum == 0 && &r == root
}

/// RFC 9162 §2.1.4.2.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &H,
    second_root: &H,
    proof: &[H],
) -> bool {
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 || first > second {
        return false;
    }
    let mut path: Vec<H> = proof.to_vec();
    if first.is_power_of_two() {
        path.insert(0, *first_root);
    }
    let (mut fnum, mut snum) = (first - 1, second - 1);
    while fnum & 1 == 1 {
        fnum >>= 1;
        snum >>= 1;
    }
    let Some((c, rest)) = path.split_first() else {
        return false;
    };
    let (mut fr, mut sr) = (*c, *c);
    for p in rest {
        if snum == 0 {
            return false;
        }
        if fnum & 1 == 1 || fnum == snum {
            fr = node(p, &fr);
            sr = node(p, &sr);
            if fnum & 1 == 0 {
                while fnum & 1 == 0 && fnum != 0 {
                    fnum >>= 1;
                    snum >>= 1;
                }
            }
        } else {
            sr = node(&sr, p);
        }
        fnum >>= 1;
        snum >>= 1;
    }
    &fr == first_root && &sr == second_root && snum == 0
}
