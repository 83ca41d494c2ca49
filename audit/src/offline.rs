//! Offline tools for the CLI (`credgate audit query|checkpoint`): they read
//! a log directory without changing it (a torn tail is ignored, not cut)
//! and without a running writer.

use std::path::Path;

use crate::checkpoint::SignedCheckpoint;
use crate::fsutil::read_framed;
use crate::index::{Page, Query};
use crate::read::RecordReader;
use crate::recover::{self, Mode, CHECKPOINTS_FILE};
use crate::AuditError;

/// A page found by [`query_dir`], and what the directory lacks.
#[derive(Debug, Clone, PartialEq)]
pub struct DirPage {
    /// The records found.
    pub page: Page,
    /// `(records here, records the latest checkpoint covers)` when the
    /// latest checkpoint covers more records than the directory holds: a
    /// shipped copy whose newest segments were not shipped yet, or a log
    /// cut at its end (`audit verify` tells). The search saw only those
    /// here.
    pub missing: Option<(u64, u64)>,
}

/// Searches the log in `dir` (see [`Query`]); print the page with
/// [`Page::write_json_lines`]. Loads the whole index first (seconds for
/// millions of records). Reads a shipped copy too (see [`DirPage::missing`]).
pub fn query_dir(dir: &Path, q: &Query) -> Result<DirPage, AuditError> {
    let loaded = recover::load(dir, Mode::ReadOnly, None)?;
    let held = loaded.state.tree.len();
    let missing = loaded
        .state
        .last_checkpoint
        .as_ref()
        .map(|cp| cp.tree_size)
        .filter(|&covered| covered > held)
        .map(|covered| (held, covered));
    let (hits, next_cursor) = loaded.state.index.search(q)?;
    let mut reader = RecordReader::new(dir);
    let mut records = Vec::with_capacity(hits.len());
    for pos in hits {
        if let Some(rec) = reader.read(pos)? {
            if q.matches(&rec) {
                records.push(rec);
            }
        }
    }
    Ok(DirPage {
        page: Page {
            records,
            next_cursor,
        },
        missing,
    })
}

/// The last intact checkpoint in `dir/checkpoints.log`, without checking
/// it against the records (that is [`crate::verify`]'s job).
pub fn latest_checkpoint_dir(dir: &Path) -> Result<Option<SignedCheckpoint>, AuditError> {
    let path = dir.join(CHECKPOINTS_FILE);
    let file = read_framed(&path).map_err(|e| AuditError::io("read", &path, e))?;
    match file.entries.last() {
        Some((offset, payload)) => serde_json::from_slice(payload).map(Some).map_err(|_| {
            crate::Corruption::new(
                crate::Location::at(CHECKPOINTS_FILE, *offset),
                crate::ProblemKind::BadPayload,
                "not a checkpoint",
            )
            .into()
        }),
        None => Ok(None),
    }
}
