//! File-system helpers: directory fsync, atomic file replacement, reading a
//! whole framed file, and [`TrackedFile`], an append-only file written at
//! known offsets that rewinds after a failed write and restores itself from
//! its open handle if the path is deleted or replaced underneath it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::frame::{find_valid_frame, FrameProblem, FrameReader, Step};
use crate::AuditError;

/// Largest tail read when looking for intact frames after damage.
pub(crate) const RESYNC_LIMIT: u64 = 256 << 20;

/// fsyncs a directory so that entries created, renamed or removed in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| AuditError::io("fsync directory", dir, e))
}

/// Replaces `path` with `bytes` atomically and durably (temp file, fsync,
/// rename, directory fsync).
pub(crate) fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), AuditError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let file = File::create(&tmp).map_err(|e| AuditError::io("create", &tmp, e))?;
    file.write_all_at(bytes, 0)
        .map_err(|e| AuditError::io("write", &tmp, e))?;
    file.sync_data()
        .map_err(|e| AuditError::io("fsync", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| AuditError::io("rename", path, e))?;
    sync_dir(dir)
}

/// The intact frames of a file, and what stopped the reading.
#[derive(Debug, Default)]
pub(crate) struct FramedFile {
    /// `(offset, payload)` of each intact frame, in order.
    pub entries: Vec<(u64, Vec<u8>)>,
    /// End of the last intact frame.
    pub valid_len: u64,
    /// The first bad frame, if any.
    pub bad: Option<BadFrame>,
}

/// A bad frame found while reading a file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BadFrame {
    /// Where the bad frame starts.
    pub offset: u64,
    /// What is wrong with it.
    pub problem: FrameProblem,
    /// Whether an intact frame exists anywhere after it (then it is not a torn tail).
    pub intact_after: bool,
}

/// Reads every intact frame of `path` (a missing file reads as empty).
pub(crate) fn read_framed(path: &Path) -> io::Result<FramedFile> {
    let mut entries = Vec::new();
    let mut out = scan_framed(path, |offset, payload| {
        entries.push((offset, payload.to_vec()));
        Ok::<(), io::Error>(())
    })?;
    out.entries = entries;
    Ok(out)
}

/// Calls `f` with `(offset, payload)` of every intact frame of `path` in
/// order, one at a time (a file of any length is read in bounded memory),
/// and stops at the first error `f` returns. The result's `entries` are
/// empty; `valid_len` and `bad` say where the intact frames end.
pub(crate) fn scan_framed<E: From<io::Error>>(
    path: &Path,
    mut f: impl FnMut(u64, &[u8]) -> Result<(), E>,
) -> Result<FramedFile, E> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(FramedFile::default()),
        Err(e) => return Err(e.into()),
    };
    let mut reader = FrameReader::new(BufReader::with_capacity(1 << 16, file));
    let mut out = FramedFile::default();
    // Bounded by the file length: each step consumes a frame or stops.
    loop {
        match reader.next_frame()? {
            Step::Frame(offset) => f(offset, reader.payload())?,
            Step::End => break,
            Step::Bad(offset, problem) => {
                let intact_after = intact_frame_after(path, offset)?;
                out.bad = Some(BadFrame {
                    offset,
                    problem,
                    intact_after,
                });
                break;
            }
        }
    }
    out.valid_len = reader.offset();
    Ok(out)
}

/// Whether an intact frame starts anywhere after `offset` in `path`.
pub(crate) fn intact_frame_after(path: &Path, offset: u64) -> io::Result<bool> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if len.saturating_sub(offset) > RESYNC_LIMIT {
        // Too much to search: a torn tail is never this long, so refuse to cut.
        return Ok(true);
    }
    file.seek(SeekFrom::Start(offset + 1))?;
    let mut rest = Vec::new();
    file.read_to_end(&mut rest)?;
    Ok(find_valid_frame(&rest).is_some())
}

/// An append-only file written with positional writes at a tracked length.
///
/// With preallocation (`prealloc > 0`, segment files), the file is kept
/// longer than its data: the bytes from the durable length to the end of
/// the file are zeros that were written and made durable by an earlier
/// `fdatasync`. An append that fits there overwrites blocks that already
/// exist, so its `fdatasync` flushes data only (no inode size change, no
/// journal commit); an append that does not fit also writes the next
/// `prealloc` bytes of zeros, in the same `fdatasync`. Readers treat a zero
/// tail as the end of the data (see `segment::scan`); [`TrackedFile::trim`]
/// cuts it (at rotation and shutdown).
#[derive(Debug)]
pub(crate) struct TrackedFile {
    path: PathBuf,
    file: File,
    /// Durable length of the data.
    len: u64,
    /// Length of the file: `[len, end)` holds durable zeros.
    end: u64,
    /// Bytes of zeros written ahead of the data (0: none, the file grows
    /// with every append).
    prealloc: u64,
    id: (u64, u64),
    dirty: bool,
}

/// Zeros written at a time when extending a preallocated file.
static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

impl TrackedFile {
    /// Opens an existing file whose first `len` bytes are good; anything
    /// beyond is cut.
    pub(crate) fn open(path: &Path, len: u64) -> Result<Self, AuditError> {
        Self::open_with_zero_tail(path, len, len, 0)
    }

    /// Opens an existing file whose first `len` bytes are good and whose
    /// bytes `[len, zeros_end)` are known to be zeros (a preallocated tail
    /// found by recovery); anything beyond `zeros_end` is cut. Later
    /// appends preallocate `prealloc` bytes ahead.
    pub(crate) fn open_with_zero_tail(
        path: &Path,
        len: u64,
        zeros_end: u64,
        prealloc: u64,
    ) -> Result<Self, AuditError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| AuditError::io("open", path, e))?;
        let meta = file
            .metadata()
            .map_err(|e| AuditError::io("stat", path, e))?;
        let end = zeros_end.max(len);
        let mut tracked = Self {
            path: path.to_path_buf(),
            file,
            len,
            end,
            prealloc,
            id: (meta.dev(), meta.ino()),
            dirty: false,
        };
        // Also makes what recovery read (perhaps from the page cache only) durable.
        tracked.cut_to(end)?;
        Ok(tracked)
    }

    /// Creates (or empties) `path`, writes `initial`, and makes both durable.
    pub(crate) fn create(path: &Path, initial: &[u8]) -> Result<Self, AuditError> {
        Self::create_preallocated(path, initial, 0)
    }

    /// [`TrackedFile::create`], preallocating `prealloc` bytes ahead of the data.
    pub(crate) fn create_preallocated(
        path: &Path,
        initial: &[u8],
        prealloc: u64,
    ) -> Result<Self, AuditError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| AuditError::io("create", path, e))?;
        let meta = file
            .metadata()
            .map_err(|e| AuditError::io("stat", path, e))?;
        let mut tracked = Self {
            path: path.to_path_buf(),
            file,
            len: 0,
            end: 0,
            prealloc,
            id: (meta.dev(), meta.ino()),
            dirty: false,
        };
        if !initial.is_empty() {
            tracked.append(initial, false)?;
        }
        sync_dir(path.parent().unwrap_or(Path::new(".")))?;
        Ok(tracked)
    }

    /// The durable length.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `bytes` at the durable length and fsyncs (`sync_data`). On
    /// failure the file is rewound to its durable length (now or, if that
    /// fails too, before the next append). `inject` simulates an fsync
    /// failure after the bytes were written (tests only).
    pub(crate) fn append(&mut self, bytes: &[u8], inject: bool) -> Result<(), AuditError> {
        self.ensure_present()?;
        if self.dirty {
            self.rewind()?;
        }
        let data_end = self.len + bytes.len() as u64;
        let new_end = if self.prealloc > 0 && data_end > self.end {
            data_end + self.prealloc
        } else {
            self.end
        };
        let result = self
            .write_zeros(self.end.max(data_end), new_end)
            .and_then(|()| {
                self.file
                    .write_all_at(bytes, self.len)
                    .map_err(|e| AuditError::io("write", &self.path, e))
            })
            .and_then(|()| {
                if inject {
                    let e = io::Error::other("injected failure (danger_fail_writes_for_tests)");
                    return Err(AuditError::io("fsync", &self.path, e));
                }
                self.file
                    .sync_data()
                    .map_err(|e| AuditError::io("fsync", &self.path, e))
            });
        match result {
            Ok(()) => {
                self.len = data_end;
                self.end = new_end.max(data_end);
                Ok(())
            }
            Err(e) => {
                self.dirty = true;
                // Best effort now; retried before the next append.
                let _ = self.rewind();
                Err(e)
            }
        }
    }

    /// Writes zeros over `[from, to)` (not synced).
    fn write_zeros(&self, from: u64, to: u64) -> Result<(), AuditError> {
        let mut at = from;
        // Bounded: every iteration writes at least one byte or returns.
        while at < to {
            let n = usize::try_from(to - at)
                .unwrap_or(usize::MAX)
                .min(ZEROS.len());
            self.file
                .write_all_at(&ZEROS[..n], at)
                .map_err(|e| AuditError::io("write", &self.path, e))?;
            at += n as u64;
        }
        Ok(())
    }

    /// Cuts the preallocated zeros, leaving the file exactly as long as its
    /// data (before sealing a segment, and at shutdown).
    pub(crate) fn trim(&mut self) -> Result<(), AuditError> {
        if self.end != self.len || self.dirty {
            self.cut_to(self.len)?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Puts the file back as it was before a failed append: durable data,
    /// then zeros up to the preallocated end (the bytes a failed append may
    /// have written there become zeros again; whatever it wrote past the
    /// end is cut).
    fn rewind(&mut self) -> Result<(), AuditError> {
        let end = self.end;
        self.write_zeros(self.len, end)?;
        self.cut_to(end)?;
        self.dirty = false;
        Ok(())
    }

    /// Sets the file's length to `end` (≥ the durable length) durably.
    fn cut_to(&mut self, end: u64) -> Result<(), AuditError> {
        self.file
            .set_len(end)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| AuditError::io("truncate", &self.path, e))?;
        self.end = end;
        Ok(())
    }

    /// If the path no longer names our file (deleted or replaced), puts the
    /// durable bytes back from the open handle.
    fn ensure_present(&mut self) -> Result<(), AuditError> {
        match fs::metadata(&self.path) {
            Ok(meta) if (meta.dev(), meta.ino()) == self.id => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(AuditError::io("stat", &self.path, e)),
        }
        tracing::warn!(
            file = %self.path.display(),
            len = self.len,
            "audit file was removed or replaced; restoring it from the open handle"
        );
        let mut bytes = vec![0u8; usize::try_from(self.len).unwrap_or(usize::MAX)];
        self.file
            .read_exact_at(&mut bytes, 0)
            .map_err(|e| AuditError::io("read", &self.path, e))?;
        write_file_atomic(&self.path, &bytes)?;
        let restored = Self::open_with_zero_tail(&self.path, self.len, self.len, self.prealloc)?;
        *self = restored;
        Ok(())
    }
}
