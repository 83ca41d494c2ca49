//! The index's entries in fixed-size chunks.
//!
//! A single `Vec` of millions of entries is a poor fit for a log that only
//! grows at the back and is cut at the front: growth by doubling keeps up
//! to half of the allocation unused (a log reopened with 620,000 records
//! held capacity for 1,048,576), each doubling copies every entry while
//! both copies are live, and retention's cut at the front moved every
//! remaining entry. Chunks of [`CHUNK`] entries bound the unused part to
//! one chunk, never copy a full chunk, and a cut at the front frees whole
//! chunks (the first one's dropped head stays until the chunk goes).
//! `std`'s `VecDeque` would still reallocate and copy as it grows, and no
//! crate of the dependency tree does this; hence these few lines.

use std::collections::VecDeque;

/// Entries per chunk (≈ 2.5 MiB of 40-byte entries).
const CHUNK_BITS: u32 = 16;
const CHUNK: usize = 1 << CHUNK_BITS;
const MASK: usize = CHUNK - 1;

/// A sequence of `T` that grows at the back and is cut at the front.
#[derive(Debug)]
pub(crate) struct Chunked<T> {
    chunks: VecDeque<Vec<T>>,
    /// Entries of the first chunk already cut.
    head: usize,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Self {
            chunks: VecDeque::new(),
            head: 0,
            len: 0,
        }
    }
}

impl<T> Chunked<T> {
    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Entry `i` (0 = the first not cut).
    pub fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len {
            return None;
        }
        let at = i + self.head;
        self.chunks.get(at >> CHUNK_BITS)?.get(at & MASK)
    }

    /// The last entry.
    pub fn last(&self) -> Option<&T> {
        self.chunks.back()?.last()
    }

    /// Appends an entry. A chunk grows as a `Vec` does up to [`CHUNK`]
    /// entries (a small log stays small), then the next one starts.
    pub fn push(&mut self, value: T) {
        match self.chunks.back_mut() {
            Some(last) if last.len() < CHUNK => last.push(value),
            _ => self.chunks.push_back(vec![value]),
        }
        self.len += 1;
    }

    /// Cuts the first `n` entries (all of them if fewer are held).
    pub fn cut_front(&mut self, n: usize) {
        let n = n.min(self.len);
        self.len -= n;
        self.head += n;
        while self.head >= CHUNK {
            self.chunks.pop_front();
            self.head -= CHUNK;
        }
        if self.len == 0 {
            self.chunks.clear();
            self.head = 0;
        }
    }

    /// The number of leading entries for which `pred` holds, `pred` being
    /// true for a prefix and false after it (as `slice::partition_point`).
    pub fn partition_point(&self, mut pred: impl FnMut(&T) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid) {
                Some(v) if pred(v) => lo = mid + 1,
                _ => hi = mid,
            }
        }
        lo
    }

    /// Bytes allocated for entries (capacity, not length).
    pub fn allocated_bytes(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| c.capacity() * std::mem::size_of::<T>())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_a_vec_cut_at_the_front() {
        let mut c = Chunked::default();
        let mut v = std::collections::VecDeque::new();
        let total = 3 * CHUNK + 17;
        for i in 0..total {
            c.push(i);
            v.push_back(i);
            if i % 50_000 == 49_999 {
                // Cuts inside a chunk, across chunks, and of nothing.
                for n in [0, 7, CHUNK - 3, 1] {
                    c.cut_front(n);
                    v.drain(..n.min(v.len()));
                }
            }
        }
        assert_eq!(c.len(), v.len());
        for (i, want) in v.iter().enumerate() {
            assert_eq!(c.get(i), Some(want));
        }
        assert_eq!(c.get(v.len()), None);
        assert_eq!(c.last(), v.back());
        let cut = v[100];
        assert_eq!(c.partition_point(|x| *x < cut), 100);
        assert_eq!(c.partition_point(|_| true), v.len());
        assert_eq!(c.partition_point(|_| false), 0);
        // At most one chunk is partly unused (plus the cut head).
        assert!(c.allocated_bytes() <= (v.len() + 2 * CHUNK) * std::mem::size_of::<usize>());
        c.cut_front(usize::MAX);
        assert_eq!(
            (c.len(), c.get(0), c.last(), c.allocated_bytes()),
            (0, None, None, 0)
        );
        c.push(5);
        assert_eq!((c.len(), c.get(0)), (1, Some(&5)));
    }
}
