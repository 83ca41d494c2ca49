//! The Merkle tree over all records, hashed as RFC 9162 §2.1: leaf =
//! SHA-256(0x00 ‖ record payload), node = SHA-256(0x01 ‖ left ‖ right), a
//! tree of n leaves splits at the largest power of two below n, and the
//! empty tree's hash is SHA-256 of nothing.
//!
//! Memory: the roots of the complete aligned subtrees of height 8, 12, 16,
//! … (about 0.13 B per record); the leaf hashes themselves are in a
//! [`LeafStore`] — in memory for offline readers, in a cache file for the
//! live log with only the last incomplete chunk of 256 in memory. A
//! subtree of height 8 or more then costs at most 15 hashes, a lower one
//! one chunk read back (checked against its root) and at most 255 hashes;
//! a root or a proof O(log n) such subtrees.

use std::io;
use std::path::Path;

use ring::digest;

mod leaves;

pub(crate) use leaves::LEAVES_CACHE_FILE;
use leaves::{LeafError, LeafStore, CHUNK};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Root hash of the empty tree: SHA-256 of the empty string.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Heights between stored levels.
const STRIDE: u32 = 4;
/// Height of the lowest stored level: one root per [`CHUNK`] leaves.
const LOW: u32 = CHUNK.trailing_zeros();

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

/// The hashes in `bytes`, 32 bytes each (a trailing part shorter than
/// that is ignored).
pub(crate) fn hashes(bytes: &[u8]) -> impl Iterator<Item = Hash> + '_ {
    bytes.chunks_exact(32).map(|b| {
        let mut h = [0u8; 32];
        h.copy_from_slice(b);
        h
    })
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> Hash {
    to_hash(digest::digest(&digest::SHA256, data))
}

/// The largest power of two strictly below `n` (`n >= 2`).
pub(crate) fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Why a root or a proof cannot be produced.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TreeError {
    /// Sizes or indexes outside the tree.
    #[error("{0}")]
    Range(String),
    /// The leaves needed could not be read back.
    #[error(transparent)]
    Leaves(#[from] LeafError),
}

/// The root of a complete subtree over `leaves` (a power of two of them).
fn fold_slice(leaves: &[Hash]) -> Hash {
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
    }
    level.first().copied().unwrap_or(EMPTY_ROOT)
}

/// An append-only Merkle tree; leaf `i` is the record with seq `i + 1`.
#[derive(Debug, Default)]
pub(crate) struct MerkleTree {
    leaves: LeafStore,
    /// `stored[j][i]`: root of the complete subtree of height
    /// `LOW + j * STRIDE` covering leaves `[i << h, (i+1) << h)`.
    stored: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// An empty tree keeping its leaves in memory.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// An empty tree keeping its leaves in a new cache file at `path`
    /// (see [`leaves`]).
    pub(crate) fn spilling(path: &Path) -> io::Result<Self> {
        Ok(Self {
            leaves: LeafStore::spilling(path)?,
            stored: Vec::new(),
        })
    }

    /// Number of leaves.
    pub(crate) fn len(&self) -> u64 {
        self.leaves.len()
    }

    /// Leaf hashes held in memory (for tests and sizing).
    #[cfg(test)]
    pub(crate) fn resident_leaves(&self) -> usize {
        self.leaves.resident()
    }

    /// Leaf hash at `index`.
    pub(crate) fn leaf(&self, index: u64) -> Result<Hash, TreeError> {
        if index >= self.len() {
            return Err(TreeError::Range(format!(
                "no leaf {index} in a tree of size {}",
                self.len()
            )));
        }
        self.with_leaves(index, index + 1, |l| {
            l.first().copied().unwrap_or(EMPTY_ROOT)
        })
    }

    /// Leaf hashes `[start, end)`.
    pub(crate) fn leaves(&self, start: u64, end: u64) -> Result<Vec<Hash>, TreeError> {
        if start > end || end > self.len() {
            return Err(TreeError::Range(format!(
                "no leaves [{start}, {end}) in a tree of size {}",
                self.len()
            )));
        }
        let mut out = Vec::with_capacity(usize::try_from(end - start).unwrap_or(0));
        let mut at = start;
        while at < end {
            let stop = end.min((at / CHUNK + 1) * CHUNK);
            self.with_leaves(at, stop, |l| out.extend_from_slice(l))?;
            at = stop;
        }
        Ok(out)
    }

    /// Calls `f` with leaves `[start, end)`, a range inside one chunk.
    fn with_leaves<R>(
        &self,
        start: u64,
        end: u64,
        f: impl FnOnce(&[Hash]) -> R,
    ) -> Result<R, TreeError> {
        if let Some(leaves) = self.leaves.in_tail(start, end) {
            return Ok(f(leaves));
        }
        let c = start / CHUNK;
        let expected = self.stored.first().and_then(|l| l.get(c as usize));
        let chunk = self.leaves.chunk(c, |l| expected == Some(&fold_slice(l)))?;
        let (from, to) = ((start - c * CHUNK) as usize, (end - c * CHUNK) as usize);
        let slice = chunk
            .get(from..to)
            .ok_or_else(|| TreeError::Range(format!("leaves [{start}, {end}) span two chunks")))?;
        Ok(f(slice))
    }

    /// Appends a leaf; O(1) amortized, at most `255 + 15 × log16 n`
    /// hashes. The leaf is in the tree whatever the result: an error says
    /// the leaf cache could not be written, and its chunks stay in memory
    /// until a later push writes them.
    pub(crate) fn push(&mut self, leaf: Hash) -> io::Result<()> {
        let Some(chunk_root) = self.leaves.push(leaf) else {
            return Ok(());
        };
        let n = self.len();
        if self.stored.is_empty() {
            self.stored.push(Vec::new());
        }
        self.stored[0].push(chunk_root);
        for j in 1..((64 - LOW) / STRIDE) as usize {
            let height = LOW + j as u32 * STRIDE;
            if height >= 64 || n & ((1u64 << height) - 1) != 0 {
                break;
            }
            let index = (n >> height) - 1;
            let below = &self.stored[j - 1];
            let first = (index << STRIDE) as usize;
            let hash = fold_slice(&below[first..first + (1 << STRIDE)]);
            if self.stored.len() <= j {
                self.stored.push(Vec::new());
            }
            self.stored[j].push(hash);
        }
        self.leaves.spill()
    }

    /// Root of the tree made of the first `size` leaves.
    pub(crate) fn root(&self, size: u64) -> Result<Hash, TreeError> {
        match size {
            0 => Ok(EMPTY_ROOT),
            s if s <= self.len() => self.subtree(0, s),
            _ => Err(TreeError::Range(format!(
                "size {size} exceeds the log size {}",
                self.len()
            ))),
        }
    }

    /// MTH(D[start:end]) for `start < end <= len`.
    pub(crate) fn subtree(&self, start: u64, end: u64) -> Result<Hash, TreeError> {
        let n = end - start;
        if n.is_power_of_two() && start & (n - 1) == 0 {
            return self.perfect(n.trailing_zeros(), start >> n.trailing_zeros());
        }
        let k = split_point(n);
        Ok(node_hash(
            &self.subtree(start, start + k)?,
            &self.subtree(start + k, end)?,
        ))
    }

    /// Root of the complete subtree of height `height` at position `index`.
    fn perfect(&self, height: u32, index: u64) -> Result<Hash, TreeError> {
        if height < LOW {
            let start = index << height;
            return self.with_leaves(start, start + (1 << height), fold_slice);
        }
        let base = height - (height - LOW) % STRIDE;
        let level = &self.stored[((base - LOW) / STRIDE) as usize];
        let span = height - base;
        let first = (index << span) as usize;
        Ok(fold_slice(&level[first..first + (1 << span)]))
    }

    /// Inclusion proof (RFC 9162 §2.1.3.1) of leaf `index` in the tree of `size` leaves.
    pub(crate) fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, TreeError> {
        if size > self.len() || index >= size {
            return Err(TreeError::Range(format!(
                "leaf {index} is not in a tree of size {size} (log size {})",
                self.len()
            )));
        }
        let (mut m, mut start, mut n) = (index, 0u64, size);
        let mut path = Vec::new();
        while n > 1 {
            let k = split_point(n);
            if m < k {
                path.push(self.subtree(start + k, start + n)?);
                n = k;
            } else {
                path.push(self.subtree(start, start + k)?);
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
    pub(crate) fn consistency_proof(&self, m: u64, n: u64) -> Result<Vec<Hash>, TreeError> {
        if m == 0 || m > n || n > self.len() {
            return Err(TreeError::Range(format!(
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
                    proof.push(self.subtree(start, start + n)?);
                }
                break;
            }
            let k = split_point(n);
            if m <= k {
                proof.push(self.subtree(start + k, start + n)?);
                n = k;
            } else {
                proof.push(self.subtree(start, start + k)?);
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
