//! Segment files `segment-NNNNNN.log` (six digits, more past 999999): the
//! header frame, the light record view used to index, and the scan that
//! reads a segment frame by frame.
//!
//! The first frame of every segment is a header (not a Merkle leaf):
//!
//! ```json
//! {"magic":"credgate-audit-segment","version":1,"segment":2,"replica":"gw-1",
//!  "first_seq":1001,"prev_seal":"<hex seal hash of segment 1, or null>",
//!  "created":"2024-05-01T08:30:00.123Z"}
//! ```
//!
//! Every following frame is one [`crate::AuditRecord`] in canonical JSON.

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use ring::digest;
use serde::{Deserialize, Serialize};

use crate::error::{Corruption, Location, ProblemKind};
use crate::frame::{self, FrameReader, Step};
use crate::fsutil::{intact_frame_after, BadFrame};
use crate::record::Decision;

/// `magic` of every segment header.
pub(crate) const SEGMENT_MAGIC: &str = "credgate-audit-segment";
/// On-disk format version.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// The header frame of a segment.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct SegmentHeader {
    pub magic: String,
    pub version: u32,
    pub segment: u32,
    pub replica: String,
    pub first_seq: u64,
    pub prev_seal: Option<String>,
    pub created: String,
}

impl SegmentHeader {
    /// The header of a new segment.
    pub(crate) fn new(
        segment: u32,
        replica: &str,
        first_seq: u64,
        prev_seal: Option<String>,
        created: String,
    ) -> Self {
        Self {
            magic: SEGMENT_MAGIC.to_owned(),
            version: FORMAT_VERSION,
            segment,
            replica: replica.to_owned(),
            first_seq,
            prev_seal,
            created,
        }
    }

    /// The header as a frame.
    pub(crate) fn to_frame(&self) -> Vec<u8> {
        let payload = serde_json::to_vec(self).unwrap_or_default();
        let mut out = Vec::with_capacity(payload.len() + frame::HEADER_LEN);
        frame::encode(&payload, &mut out);
        out
    }
}

/// The fields of a record the index needs, borrowed from its payload.
#[derive(Deserialize)]
pub(crate) struct RecordView<'a> {
    pub seq: u64,
    #[serde(borrow)]
    pub time: Cow<'a, str>,
    #[serde(borrow)]
    pub client_id: Cow<'a, str>,
    #[serde(borrow)]
    pub subject_pseudonym: Option<Cow<'a, str>>,
    pub decision: Decision,
}

/// File name of segment `number`.
pub(crate) fn file_name(number: u32) -> String {
    format!("segment-{number:06}.log")
}

/// Path of segment `number`.
pub(crate) fn path(dir: &Path, number: u32) -> PathBuf {
    dir.join(file_name(number))
}

/// The segment number in a segment file name.
fn parse_file_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("segment-")?.strip_suffix(".log")?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Segment numbers present in `dir`, ascending.
pub(crate) fn list(dir: &Path) -> io::Result<Vec<u32>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(n) = entry.file_name().to_str().and_then(parse_file_name) {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// What scanning a segment found.
pub(crate) struct SegmentScan {
    /// The header, if the first frame is intact.
    pub header: Option<SegmentHeader>,
    /// End of the last intact frame.
    pub valid_len: u64,
    /// SHA-256 context over bytes `[0, valid_len)`.
    pub sha256: digest::Context,
    /// The first bad frame, if any.
    pub bad: Option<BadFrame>,
}

/// One intact frame of a segment, in file order.
pub(crate) enum Item<'a> {
    /// The header (first frame), parsed.
    Header(&'a SegmentHeader),
    /// A record frame: its offset and payload.
    Record(u64, &'a [u8]),
}

/// Reads segment `number` of `dir`, calling `on_item` for the header and
/// then every intact record frame, in file order. A first frame that is
/// intact but not a header is an error; one that is bad is reported in
/// [`SegmentScan::bad`] with no header.
pub(crate) fn scan(
    dir: &Path,
    number: u32,
    mut on_item: impl FnMut(Item<'_>) -> Result<(), Corruption>,
) -> Result<SegmentScan, Corruption> {
    let name = file_name(number);
    let path = path(dir, number);
    let io_err = |e: io::Error| Corruption::io(name.clone(), &e);
    let file = File::open(&path).map_err(io_err)?;
    let mut reader = FrameReader::new(BufReader::with_capacity(1 << 20, file));
    let mut sha = digest::Context::new(&digest::SHA256);
    let mut header = None;
    let mut bad = None;
    // Bounded by the file length: each step consumes a frame or stops.
    loop {
        match reader.next_frame().map_err(io_err)? {
            Step::End => break,
            Step::Bad(offset, problem) => {
                let intact_after = intact_frame_after(&path, offset).map_err(io_err)?;
                bad = Some(BadFrame {
                    offset,
                    problem,
                    intact_after,
                });
                break;
            }
            Step::Frame(offset) => {
                sha.update(reader.header());
                sha.update(reader.payload());
                if header.is_none() {
                    let parsed = parse_header(&name, reader.payload())?;
                    on_item(Item::Header(&parsed))?;
                    header = Some(parsed);
                } else {
                    on_item(Item::Record(offset, reader.payload()))?;
                }
            }
        }
    }
    Ok(SegmentScan {
        header,
        valid_len: reader.offset(),
        sha256: sha,
        bad,
    })
}

/// Checks a segment header against its place in the log: its number, the
/// first seq expected, the previous seal, and the replica (the first one
/// seen sets `replica`).
pub(crate) fn check_header(
    h: &SegmentHeader,
    number: u32,
    first_seq: u64,
    prev_seal: Option<&str>,
    replica: &mut Option<String>,
) -> Result<(), Corruption> {
    let name = file_name(number);
    let bad = |kind, detail: String| {
        Corruption::new(
            Location::at(name.clone(), 0).with_seq(first_seq),
            kind,
            detail,
        )
    };
    if h.segment != number {
        return Err(bad(
            ProblemKind::BadHeader,
            format!("header names segment {}", h.segment),
        ));
    }
    if h.first_seq != first_seq {
        return Err(bad(
            ProblemKind::BadHeader,
            format!(
                "header says first seq {}, expected {first_seq}",
                h.first_seq
            ),
        ));
    }
    if h.prev_seal.as_deref() != prev_seal {
        return Err(bad(
            ProblemKind::BadHeader,
            "header does not name the previous segment's seal".to_owned(),
        ));
    }
    match replica {
        Some(r) if *r != h.replica => Err(bad(
            ProblemKind::ReplicaMismatch,
            "segments name different replicas".to_owned(),
        )),
        Some(_) => Ok(()),
        None => {
            *replica = Some(h.replica.clone());
            Ok(())
        }
    }
}

/// Parses and checks a header frame's payload.
fn parse_header(name: &str, payload: &[u8]) -> Result<SegmentHeader, Corruption> {
    let bad = |detail: &str| Corruption::new(Location::at(name, 0), ProblemKind::BadHeader, detail);
    let header: SegmentHeader =
        serde_json::from_slice(payload).map_err(|_| bad("first frame is not a segment header"))?;
    if header.magic != SEGMENT_MAGIC {
        return Err(bad("wrong magic"));
    }
    if header.version != FORMAT_VERSION {
        return Err(bad(&format!(
            "unsupported format version {}",
            header.version
        )));
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip_and_sort() {
        assert_eq!(file_name(1), "segment-000001.log");
        assert_eq!(file_name(1_234_567), "segment-1234567.log");
        assert_eq!(parse_file_name("segment-000042.log"), Some(42));
        assert_eq!(parse_file_name("segment-1234567.log"), Some(1_234_567));
        assert_eq!(parse_file_name("segment-42.log"), None);
        assert_eq!(parse_file_name("segment-000042.log.tmp"), None);
        assert_eq!(parse_file_name("segment-00004x.log"), None);
    }
}
