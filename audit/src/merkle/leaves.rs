//! Where the tree's leaf hashes live: in memory for offline readers and
//! `verify`, or — for the live log — in a cache file beside the segments,
//! with only the last incomplete chunk of [`CHUNK`] leaves in memory.
//!
//! The cache file (`leaves.cache`) is derived data: rebuilt from the
//! segments and `deletions.log` at every open, never fsynced, never part
//! of what an auditor checks. Every chunk read back from it is checked
//! against the chunk's root, which the tree keeps in memory, so a damaged
//! or edited cache makes a proof fail; it cannot make a wrong one.
//!
//! Hand-written: a flat file of 32-byte hashes read with `pread`; a
//! memory map would need `unsafe`, and an embedded key-value store would
//! be a large dependency for an append-only array.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::{fold_slice, hashes, Hash};

/// Leaves per chunk: the lowest level of subtree roots the tree keeps.
pub(crate) const CHUNK: u64 = 256;
/// Chunks read back from the file kept for later proofs (8 KiB each): an
/// access-log page proves up to 100 records, most in the same few chunks.
const CACHED_CHUNKS: usize = 16;
/// File name of the cache in a log directory.
pub(crate) const LEAVES_CACHE_FILE: &str = "leaves.cache";

/// Why leaves could not be produced.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LeafError {
    /// Reading the cache file failed.
    #[error("reading {path}: {source}", path = .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A chunk read back does not hash to the root the tree holds.
    #[error("{path}: chunk {chunk} does not match the tree (the cache is rebuilt at the next start)", path = .path.display())]
    Mismatch { path: PathBuf, chunk: u64 },
}

impl LeafError {
    /// The cache file concerned.
    pub(crate) fn path(&self) -> &Path {
        match self {
            Self::Io { path, .. } | Self::Mismatch { path, .. } => path,
        }
    }
}

/// The cache file and what has been written to it.
#[derive(Debug)]
struct Spill {
    file: File,
    path: PathBuf,
    /// Chunks read back (and checked), most recent last.
    recent: Mutex<Vec<(u64, Arc<[Hash]>)>>,
}

/// Leaf hashes `[0, len)`: `[0, spilled)` in the file (whole chunks),
/// `[spilled, len)` in `tail`.
#[derive(Debug, Default)]
pub(crate) struct LeafStore {
    spill: Option<Spill>,
    spilled: u64,
    tail: Vec<Hash>,
}

impl LeafStore {
    /// A store spilling whole chunks to a new (truncated) cache file at `path`.
    pub(crate) fn spilling(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(path)?;
        Ok(Self {
            spill: Some(Spill {
                file,
                path: path.to_path_buf(),
                recent: Mutex::new(Vec::new()),
            }),
            spilled: 0,
            tail: Vec::new(),
        })
    }

    /// Number of leaves.
    pub(crate) fn len(&self) -> u64 {
        self.spilled + self.tail.len() as u64
    }

    /// Leaves held in memory (the unspilled tail and the read-back chunks).
    #[cfg(test)]
    pub(crate) fn resident(&self) -> usize {
        let cached = self.spill.as_ref().map_or(0, |s| {
            lock(&s.recent).iter().map(|(_, c)| c.len()).sum::<usize>()
        });
        self.tail.len() + cached
    }

    /// Appends a leaf (in memory; see [`LeafStore::spill`]); when it
    /// completes a chunk, returns the chunk's root.
    pub(crate) fn push(&mut self, leaf: Hash) -> Option<Hash> {
        self.tail.push(leaf);
        // `spilled` is a multiple of CHUNK, so a complete chunk ends the tail.
        self.len()
            .is_multiple_of(CHUNK)
            .then(|| self.tail.len().checked_sub(CHUNK as usize))
            .flatten()
            .map(|from| fold_slice(&self.tail[from..]))
    }

    /// Leaves `[start, end)` if they are all still in memory.
    pub(crate) fn in_tail(&self, start: u64, end: u64) -> Option<&[Hash]> {
        let from = usize::try_from(start.checked_sub(self.spilled)?).ok()?;
        let to = usize::try_from(end.checked_sub(self.spilled)?).ok()?;
        self.tail.get(from..to)
    }

    /// Writes the tail's complete chunks to the file and drops them from
    /// memory. On a write error they stay in memory (and are tried again
    /// at the next call); the error is returned for the caller to report.
    pub(crate) fn spill(&mut self) -> io::Result<()> {
        let Some(spill) = &self.spill else {
            return Ok(());
        };
        let whole = self.tail.len() / CHUNK as usize * CHUNK as usize;
        if whole == 0 {
            return Ok(());
        }
        let bytes = self.tail[..whole].concat();
        spill.file.write_all_at(&bytes, self.spilled * 32)?;
        self.tail.drain(..whole);
        self.spilled += whole as u64;
        Ok(())
    }

    /// The leaves of chunk `c` (whole, [`CHUNK`] of them), written to the
    /// file (a chunk still in memory is [`LeafStore::in_tail`]'s): read
    /// back, or taken from the chunks read last, and checked with `check`
    /// (which is given the chunk and says whether it hashes to the root the
    /// tree holds).
    pub(crate) fn chunk(
        &self,
        c: u64,
        check: impl FnOnce(&[Hash]) -> bool,
    ) -> Result<Arc<[Hash]>, LeafError> {
        let (start, end) = (c * CHUNK, (c + 1) * CHUNK);
        let Some(spill) = self.spill.as_ref().filter(|_| end <= self.spilled) else {
            // Unreachable for a chunk the tree holds a root of.
            return Err(LeafError::Mismatch {
                path: PathBuf::new(),
                chunk: c,
            });
        };
        if let Some((_, hit)) = lock(&spill.recent).iter().find(|(n, _)| *n == c) {
            return Ok(Arc::clone(hit));
        }
        let mut bytes = vec![0u8; CHUNK as usize * 32];
        spill
            .file
            .read_exact_at(&mut bytes, start * 32)
            .map_err(|source| LeafError::Io {
                path: spill.path.clone(),
                source,
            })?;
        let leaves: Arc<[Hash]> = hashes(&bytes).collect();
        if !check(&leaves) {
            return Err(LeafError::Mismatch {
                path: spill.path.clone(),
                chunk: c,
            });
        }
        let mut recent = lock(&spill.recent);
        if recent.len() >= CACHED_CHUNKS {
            recent.remove(0);
        }
        recent.push((c, Arc::clone(&leaves)));
        Ok(leaves)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
