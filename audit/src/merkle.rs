//! The Merkle tree over all records, hashed as RFC 9162 §2.1: leaf =
//! SHA-256(0x00 ‖ record payload), node = SHA-256(0x01 ‖ left ‖ right), a
//! tree of n leaves splits at the largest power of two below n, and the
//! empty tree's hash is SHA-256 of nothing.
//!
//! Memory: every leaf hash (32 B per record) plus the roots of the complete
//! aligned subtrees of height 4, 8, 12, … (about 2 B per record more). Any
//! complete subtree's hash then costs at most 15 hashes, a root or a proof
//! O(log n) such subtrees: microseconds, whatever the size.

use ring::digest;

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Root hash of the empty tree: SHA-256 of the empty string.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Heights between stored levels.
const STRIDE: u32 = 4;

/// RFC 9162 leaf hash of a record payload: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&[0x00]);
    ctx.update(data);
    to_hash(ctx.finish())
}

/// RFC 9162 interior node hash: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&[0x01]);
    ctx.update(left);
    ctx.update(right);
    to_hash(ctx.finish())
}

/// Converts a SHA-256 digest into a [`Hash`].
pub(crate) fn to_hash(d: digest::Digest) -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> Hash {
    to_hash(digest::digest(&digest::SHA256, data))
}

/// The largest power of two strictly below `n` (`n >= 2`).
pub(crate) fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Why a proof cannot be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct RangeError(String);

/// An append-only Merkle tree; leaf `i` is the record with seq `i + 1`.
#[derive(Debug, Default, Clone)]
pub(crate) struct MerkleTree {
    leaves: Vec<Hash>,
    /// `stored[j][i]`: root of the complete subtree of height `(j+1)*STRIDE`
    /// covering leaves `[i << h, (i+1) << h)`.
    stored: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// An empty tree.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub(crate) fn len(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// Leaf hash at `index`, if present.
    pub(crate) fn leaf(&self, index: u64) -> Option<Hash> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.leaves.get(i))
            .copied()
    }

    /// Leaf hashes `[start, end)`.
    pub(crate) fn leaves(&self, start: u64, end: u64) -> Option<&[Hash]> {
        let start = usize::try_from(start).ok()?;
        let end = usize::try_from(end).ok()?;
        self.leaves.get(start..end)
    }

    /// Appends a leaf; O(1) amortized, at most `15 × log16 n` hashes.
    pub(crate) fn push(&mut self, leaf: Hash) {
        self.leaves.push(leaf);
        let n = self.leaves.len() as u64;
        for j in 0..(64 / STRIDE) as usize {
            let height = (j as u32 + 1) * STRIDE;
            if height >= 64 || n & ((1u64 << height) - 1) != 0 {
                break;
            }
            let index = (n >> height) - 1;
            let hash = self.fold(height - STRIDE, index << STRIDE, 1 << STRIDE);
            if self.stored.len() <= j {
                self.stored.push(Vec::new());
            }
            self.stored[j].push(hash);
        }
    }

    /// Root of the tree made of the first `size` leaves, if `size <= len`.
    pub(crate) fn root(&self, size: u64) -> Option<Hash> {
        match size {
            0 => Some(EMPTY_ROOT),
            s if s <= self.len() => Some(self.subtree(0, s)),
            _ => None,
        }
    }

    /// MTH(D[start:end]) for `start < end <= len`.
    pub(crate) fn subtree(&self, start: u64, end: u64) -> Hash {
        let n = end - start;
        if n.is_power_of_two() && start & (n - 1) == 0 {
            return self.perfect(n.trailing_zeros(), start >> n.trailing_zeros());
        }
        let k = split_point(n);
        node_hash(
            &self.subtree(start, start + k),
            &self.subtree(start + k, end),
        )
    }

    /// Root of the complete subtree of height `height` at position `index`.
    fn perfect(&self, height: u32, index: u64) -> Hash {
        if height == 0 {
            return self.leaves[index as usize];
        }
        let base = height - height % STRIDE;
        if base == height {
            return self.stored[(height / STRIDE - 1) as usize][index as usize];
        }
        let span = height - base;
        self.fold(base, index << span, 1 << span)
    }

    /// Root over `count` (a power of two, ≤ 16) consecutive complete
    /// subtrees of height `base` (a multiple of STRIDE) from `first`.
    fn fold(&self, base: u32, first: u64, count: usize) -> Hash {
        let mut level = [[0u8; 32]; 1 << STRIDE];
        for (i, slot) in level.iter_mut().take(count).enumerate() {
            *slot = self.perfect(base, first + i as u64);
        }
        let mut width = count;
        while width > 1 {
            for i in 0..width / 2 {
                level[i] = node_hash(&level[2 * i], &level[2 * i + 1]);
            }
            width /= 2;
        }
        level[0]
    }

    /// Inclusion proof (RFC 9162 §2.1.3.1) of leaf `index` in the tree of `size` leaves.
    pub(crate) fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, RangeError> {
        if size > self.len() || index >= size {
            return Err(RangeError(format!(
                "leaf {index} is not in a tree of size {size} (log size {})",
                self.len()
            )));
        }
        let (mut m, mut start, mut n) = (index, 0u64, size);
        let mut path = Vec::new();
        while n > 1 {
            let k = split_point(n);
            if m < k {
                path.push(self.subtree(start + k, start + n));
                n = k;
            } else {
                path.push(self.subtree(start, start + k));
                m -= k;
                start += k;
                n -= k;
            }
        }
        path.reverse();
        Ok(path)
    }

    /// Consistency proof (RFC 9162 §2.1.4.1) between sizes `m` and `n`,
    /// `0 < m <= n <= len`; empty when `m == n`.
    pub(crate) fn consistency_proof(&self, m: u64, n: u64) -> Result<Vec<Hash>, RangeError> {
        if m == 0 || m > n || n > self.len() {
            return Err(RangeError(format!(
                "no consistency proof from size {m} to size {n} (log size {})",
                self.len()
            )));
        }
        let (mut m, mut start, mut n, mut whole) = (m, 0u64, n, true);
        let mut proof = Vec::new();
        // Bounded: n halves or shrinks every iteration.
        loop {
            if m == n {
                if !whole {
                    proof.push(self.subtree(start, start + n));
                }
                break;
            }
            let k = split_point(n);
            if m <= k {
                proof.push(self.subtree(start + k, start + n));
                n = k;
            } else {
                proof.push(self.subtree(start, start + k));
                m -= k;
                start += k;
                n -= k;
                whole = false;
            }
        }
        proof.reverse();
        Ok(proof)
    }
}

#[cfg(test)]
mod tests;
