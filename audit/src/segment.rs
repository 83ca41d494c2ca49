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
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use ring::digest;
use serde::{Deserialize, Serialize};

use crate::error::{Corruption, Location, ProblemKind};
use crate::frame::{self, find_valid_frame, FrameReader, Step};
use crate::fsutil::{BadFrame, RESYNC_LIMIT};
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
    pub request_id: Cow<'a, str>,
    #[serde(borrow)]
    pub client_id: Cow<'a, str>,
    #[serde(borrow)]
    pub subject_pseudonym: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub subject_pseudonyms: Vec<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub subject_tags: Vec<Cow<'a, str>>,
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

/// Most bytes one write of the writer puts in a segment when it holds more
/// than one frame (a larger record is written alone). Bounds how far a
/// crash-torn write can reach past its first damaged frame (see [`scan`]).
pub(crate) const MAX_BATCH_BYTES: usize = 256 << 10;

/// Alignment and size of the sectors a disk writes whole (the smallest in use).
const SECTOR: usize = 512;

/// What scanning a segment found.
pub(crate) struct SegmentScan {
    /// The header, if the first frame is intact.
    pub header: Option<SegmentHeader>,
    /// End of the last intact frame.
    pub valid_len: u64,
    /// End of the file when everything after `valid_len` is zeros (the
    /// writer's preallocation, only accepted with `zero_tail`); else `valid_len`.
    pub zeros_end: u64,
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
///
/// `active` (the newest segment, not sealed) accepts the two states the
/// writer's preallocation adds after the last intact frame:
///
/// - **only zeros to the end of the file**: preallocated space, the clean
///   end of the data ([`SegmentScan::zeros_end`]), not a bad frame;
/// - **a write torn with holes**: a crash during the last write (never
///   acknowledged: its `fdatasync` did not return) may leave some of its
///   sectors on disk and others still zero, so an intact frame can follow
///   the damage. This is reported as a bad frame without `intact_after`
///   (a torn tail) only when every non-zero byte from the damage on lies
///   within [`MAX_BATCH_BYTES`] of it and an aligned all-zero sector lies
///   among them; anything else stays damage followed by intact frames.
///   A flipped bit, or a record changed anywhere, still is.
///
/// A sealed segment accepts neither: its seal fixed its length.
pub(crate) fn scan(
    dir: &Path,
    number: u32,
    active: bool,
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
    let mut zeros_end = None;
    // Bounded by the file length: each step consumes a frame or stops.
    loop {
        match reader.next_frame().map_err(io_err)? {
            Step::End => break,
            Step::Bad(offset, problem) => {
                match tail_after(&path, offset, active).map_err(io_err)? {
                    Tail::Zeros(end) => zeros_end = Some(end),
                    Tail::Bad { intact_after } => {
                        bad = Some(BadFrame {
                            offset,
                            problem,
                            intact_after,
                        });
                    }
                }
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
    let valid_len = reader.offset();
    Ok(SegmentScan {
        header,
        valid_len,
        zeros_end: zeros_end.unwrap_or(valid_len),
        sha256: sha,
        bad,
    })
}

/// What follows the last intact frame of a segment.
#[derive(Debug, PartialEq, Eq)]
enum Tail {
    /// Only zeros, up to this end of file (preallocated space).
    Zeros(u64),
    /// A bad frame; `intact_after`: not a torn tail (see [`scan`]).
    Bad { intact_after: bool },
}

/// Classifies the bytes of `path` from `offset` (where the frame reading
/// stopped) to the end of the file; `active` as in [`scan`].
fn tail_after(path: &Path, offset: u64, active: bool) -> io::Result<Tail> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if len.saturating_sub(offset) > RESYNC_LIMIT {
        // Too much to search: a torn tail is never this long, so refuse to cut.
        return Ok(Tail::Bad { intact_after: true });
    }
    file.seek(SeekFrom::Start(offset))?;
    let mut rest = Vec::new();
    file.read_to_end(&mut rest)?;
    Ok(classify_tail(&rest, offset, active, len))
}

/// [`tail_after`] on the bytes `rest` read from `offset` of a file of length `len`.
fn classify_tail(rest: &[u8], offset: u64, active: bool, len: u64) -> Tail {
    // Past the last non-zero byte everything is zero.
    let nonzero_end = rest.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    if active && nonzero_end == 0 && !rest.is_empty() {
        return Tail::Zeros(len);
    }
    let intact_after = rest
        .get(1..)
        .is_some_and(|after| find_valid_frame(after).is_some());
    let torn_with_holes = active
        && intact_after
        && nonzero_end <= MAX_BATCH_BYTES
        && has_zero_sector(&rest[..nonzero_end], offset);
    Tail::Bad {
        intact_after: intact_after && !torn_with_holes,
    }
}

/// Whether `bytes` (read from file offset `offset`) holds a whole
/// [`SECTOR`]-aligned sector of zeros: what a write leaves where the disk
/// had not written it yet, over preallocated zeros.
fn has_zero_sector(bytes: &[u8], offset: u64) -> bool {
    let misalign = (offset % SECTOR as u64) as usize;
    let first = if misalign == 0 { 0 } else { SECTOR - misalign };
    bytes
        .get(first..)
        .is_some_and(|b| b.chunks_exact(SECTOR).any(|s| s.iter().all(|x| *x == 0)))
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
    // A name no gateway can be configured with: no gateway wrote it, and
    // none could open the log under it.
    if crate::config::validate_replica(&header.replica).is_err() {
        return Err(bad("header names an invalid replica"));
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            frame::encode(p, &mut out);
        }
        out
    }

    #[test]
    fn zeros_after_the_last_frame_end_the_data_only_in_the_active_segment() {
        let zeros = vec![0u8; 4096];
        assert_eq!(classify_tail(&zeros, 100, true, 4196), Tail::Zeros(4196));
        // A sealed segment: a bad frame (length 0) with nothing after it.
        assert_eq!(
            classify_tail(&zeros, 100, false, 4196),
            Tail::Bad {
                intact_after: false
            }
        );
    }

    #[test]
    fn a_write_torn_with_holes_is_a_torn_tail_only_within_one_batch() {
        // One write of three 700-byte frames at file offset 324, over
        // preallocated zeros; the second frame starts at file offset 1024.
        // The disk kept the sectors of the first and third frames, not
        // sector [1024, 1536) (bytes [700, 1212) of the write).
        let recs: Vec<Vec<u8>> = (0..3).map(|i| vec![b'a' + i; 692]).collect();
        let batch = framed(&[&recs[0], &recs[1], &recs[2]]);
        let mut torn = batch.clone();
        let offset = 324u64;
        for b in &mut torn[700..1212] {
            *b = 0;
        }
        torn.extend_from_slice(&[0u8; 2048]);
        let len = offset + torn.len() as u64;
        // The reader stops at frame 2 (file offset 1024): what follows.
        let rest = &torn[700..];
        assert_eq!(
            classify_tail(rest, 1024, true, len),
            Tail::Bad {
                intact_after: false
            }
        );
        // The same damage in a sealed segment is corruption.
        assert_eq!(
            classify_tail(rest, 1024, false, len),
            Tail::Bad { intact_after: true }
        );
        // The hole not sector-aligned (a flipped run, not an unwritten
        // sector): corruption.
        assert_eq!(
            classify_tail(rest, 1000, true, len),
            Tail::Bad { intact_after: true }
        );
        // A flipped byte followed by intact frames: corruption.
        let mut flipped = batch.clone();
        flipped[710] ^= 1;
        assert_eq!(
            classify_tail(&flipped[700..], 1024, true, len),
            Tail::Bad { intact_after: true }
        );
        // Intact frames further than one batch from the damage: corruption.
        let mut far = torn[700..].to_vec();
        far.extend(vec![0u8; MAX_BATCH_BYTES]);
        far.extend(framed(&[b"{}"]));
        assert_eq!(
            classify_tail(&far, 1024, true, len),
            Tail::Bad { intact_after: true }
        );
    }

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
