//! Reading record bodies from segment files by index position.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Corruption, Location, ProblemKind};
use crate::frame::{self, HEADER_LEN};
use crate::index::Position;
use crate::record::AuditRecord;
use crate::segment;
use crate::AuditError;

/// Reads records, keeping the segment files it opened.
pub(crate) struct RecordReader {
    dir: PathBuf,
    open: Vec<(u32, File)>,
}

impl RecordReader {
    /// A reader over the segments of `dir`.
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            open: Vec::new(),
        }
    }

    /// The record at `pos`; `None` if its segment was deleted meanwhile.
    pub(crate) fn read(&mut self, pos: Position) -> Result<Option<AuditRecord>, AuditError> {
        let Some(file) = self.file(pos.segment)? else {
            return Ok(None);
        };
        let name = segment::file_name(pos.segment);
        let mut buf = vec![0u8; HEADER_LEN + pos.len as usize];
        file.read_exact_at(&mut buf, pos.offset)
            .map_err(|e| AuditError::io("read", &segment::path(&self.dir, pos.segment), e))?;
        let at = || Location::at(name.clone(), pos.offset).with_seq(pos.seq);
        let payload =
            frame::decode(&buf).map_err(|p| Corruption::new(at(), p.kind(), p.describe()))?;
        let rec: AuditRecord = serde_json::from_slice(payload)
            .map_err(|_| Corruption::new(at(), ProblemKind::BadPayload, "not an audit record"))?;
        if rec.seq != pos.seq {
            return Err(Corruption::new(
                at(),
                ProblemKind::SeqMismatch,
                format!("found seq {} where the index has {}", rec.seq, pos.seq),
            )
            .into());
        }
        Ok(Some(rec))
    }

    /// The open file of segment `number`, opening it if needed.
    fn file(&mut self, number: u32) -> Result<Option<&File>, AuditError> {
        let i = match self.open.iter().position(|(n, _)| *n == number) {
            Some(i) => i,
            None => {
                let path = segment::path(&self.dir, number);
                match File::open(&path) {
                    Ok(f) => self.open.push((number, f)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(AuditError::io("open", &path, e)),
                }
                self.open.len() - 1
            }
        };
        Ok(self.open.get(i).map(|(_, f)| f))
    }
}
