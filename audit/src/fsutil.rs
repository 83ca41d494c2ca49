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
const RESYNC_LIMIT: u64 = 256 << 20;

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
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(FramedFile::default()),
        Err(e) => return Err(e),
    };
    let mut reader = FrameReader::new(BufReader::with_capacity(1 << 16, file));
    let mut out = FramedFile::default();
    // Bounded by the file length: each step consumes a frame or stops.
    loop {
        match reader.next_frame()? {
            Step::Frame(offset) => out.entries.push((offset, reader.payload().to_vec())),
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
#[derive(Debug)]
pub(crate) struct TrackedFile {
    path: PathBuf,
    file: File,
    len: u64,
    id: (u64, u64),
    dirty: bool,
}

impl TrackedFile {
    /// Opens an existing file whose first `len` bytes are good; anything
    /// beyond is cut.
    pub(crate) fn open(path: &Path, len: u64) -> Result<Self, AuditError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| AuditError::io("open", path, e))?;
        let meta = file
            .metadata()
            .map_err(|e| AuditError::io("stat", path, e))?;
        let mut tracked = Self {
            path: path.to_path_buf(),
            file,
            len,
            id: (meta.dev(), meta.ino()),
            dirty: meta.len() != len,
        };
        tracked.rewind()?;
        Ok(tracked)
    }

    /// Creates (or empties) `path`, writes `initial`, and makes both durable.
    pub(crate) fn create(path: &Path, initial: &[u8]) -> Result<Self, AuditError> {
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
        let result = self
            .file
            .write_all_at(bytes, self.len)
            .map_err(|e| AuditError::io("write", &self.path, e))
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
                self.len += bytes.len() as u64;
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

    /// Cuts the file back to its durable length.
    fn rewind(&mut self) -> Result<(), AuditError> {
        self.file
            .set_len(self.len)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| AuditError::io("truncate", &self.path, e))?;
        self.dirty = false;
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
        let restored = Self::open(&self.path, self.len)?;
        *self = restored;
        Ok(())
    }
}
