//! The in-memory index (rebuilt at open) and auditor queries.
//!
//! One 40-byte entry per live record, addressed by seq: time (unix ms),
//! client id (interned), subject pseudonym (as a 64-bit SipHash, confirmed
//! against the record when it is read), decision, and the frame's segment,
//! offset and length. A batch record's subjects (a sanctions check) are
//! kept beside, as hashes by seq. Times are non-decreasing along seqs unless the wall
//! clock was stepped back by more than 2 s (see `writer::stamp`), so time
//! bounds are found by binary search — by scanning once they are not; the
//! other filters scan entries newest first.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash as _, Hasher as _};
use std::io::{self, Write};

use self::chunks::Chunked;
use crate::record::{parse_rfc3339_ms, AuditRecord, BatchTagger, Decision};
use crate::AuditError;

/// Largest page a query returns.
pub const MAX_QUERY_LIMIT: usize = 1000;
/// Page size when the query names none.
const DEFAULT_LIMIT: usize = 100;

/// An auditor query (SPEC §4 `GET /v1/audit/records`). All filters are
/// optional and combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Only records of this client id.
    pub client: Option<String>,
    /// Only records about this subject pseudonym (see [`crate::pseudonym`]).
    pub subject_pseudonym: Option<String>,
    /// Only records at or after this time (unix ms, inclusive); see [`Query::parse_time`].
    pub from: Option<i64>,
    /// Only records before this time (unix ms, exclusive).
    pub to: Option<i64>,
    /// Only allowed or only refused requests.
    pub decision: Option<Decision>,
    /// Page size: default 100, at most [`MAX_QUERY_LIMIT`] (larger values are capped); 0 is invalid.
    pub limit: Option<usize>,
    /// Continue below this seq: only records with `seq < cursor` (the
    /// previous page's `next_cursor`).
    pub cursor: Option<u64>,
}

/// One page of query results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// Matching records, newest (highest seq) first.
    pub records: Vec<AuditRecord>,
    /// Cursor for the next page; `None` when no further record matches.
    pub next_cursor: Option<u64>,
}

impl Query {
    /// Parses a time bound given as RFC 3339 (`2024-05-01T08:00:00Z`) or
    /// as unix milliseconds (`1714550400000`).
    pub fn parse_time(text: &str) -> Result<i64, AuditError> {
        let text = text.trim();
        let digits = text.strip_prefix('-').unwrap_or(text);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            let ms: i64 = text
                .parse()
                .map_err(|_| AuditError::Query("time out of range".to_owned()))?;
            // 9 or 10 digits are Unix *seconds* of 1973–2286; as
            // milliseconds they would be January–April 1970 and silently
            // match everything (or nothing). 0 and other small values stay
            // valid ("from the beginning").
            if (100_000_000..10_000_000_000).contains(&ms) {
                return Err(AuditError::Query(
                    "time looks like Unix seconds: give Unix milliseconds or RFC 3339".to_owned(),
                ));
            }
            return Ok(ms);
        }
        parse_rfc3339_ms(text).ok_or_else(|| {
            AuditError::Query("time must be RFC 3339 or unix milliseconds".to_owned())
        })
    }

    /// The effective page size.
    pub(crate) fn page_size(&self) -> Result<usize, AuditError> {
        match self.limit {
            Some(0) => Err(AuditError::Query("limit must be at least 1".to_owned())),
            Some(n) => Ok(n.min(MAX_QUERY_LIMIT)),
            None => Ok(DEFAULT_LIMIT),
        }
    }

    /// Whether a full record matches the filters (used to confirm index hits).
    pub(crate) fn matches(&self, rec: &AuditRecord) -> bool {
        self.client.as_ref().is_none_or(|c| *c == rec.client_id)
            && self
                .subject_pseudonym
                .as_deref()
                .is_none_or(|s| crate::record::names_subject(rec, s))
            && self.decision.is_none_or(|d| d == rec.decision)
    }
}

impl Page {
    /// Writes the records as JSON lines (one canonical record per line).
    pub fn write_json_lines(&self, out: &mut impl Write) -> io::Result<()> {
        for rec in &self.records {
            serde_json::to_writer(&mut *out, rec)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// Where a record's frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub seq: u64,
    pub segment: u32,
    pub offset: u64,
    pub len: u32,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    time_ms: i64,
    offset: u64,
    subject: u64,
    client: u32,
    segment: u32,
    len: u32,
    decision: Decision,
    /// The record names several subjects (see `Index::batches`).
    batch: bool,
}

/// What the index stores about one record, before interning.
pub(crate) struct IndexInput<'a> {
    pub seq: u64,
    pub time_ms: i64,
    pub client_id: &'a str,
    pub subject_pseudonym: Option<&'a str>,
    /// Hashes ([`subject_key`]) of a batch record's subject tags (or, in a
    /// legacy record, pseudonyms).
    pub batch_subjects: Vec<u64>,
    /// The request id that salts the tags; `None` for a legacy record's
    /// plain pseudonyms.
    pub batch_request_id: Option<&'a str>,
    pub decision: Decision,
    pub segment: u32,
    pub offset: u64,
    pub len: u32,
}

/// The index of live records (seqs `first_seq .. first_seq + entries.len()`).
#[derive(Debug, Default)]
pub(crate) struct Index {
    first_seq: u64,
    entries: Chunked<Entry>,
    clients: HashMap<Box<str>, u32>,
    /// Subjects of the batch records, by seq.
    batches: HashMap<u64, Batch>,
    time_sorted: bool,
}

/// What the index keeps of a batch record's subjects: the hashes of its
/// tags and the request id salting them, or, for a legacy record, the
/// hashes of its plain pseudonyms.
pub(crate) fn batch_input<'a, S: AsRef<str>>(
    legacy_pseudonyms: &[S],
    tags: &[S],
    request_id: &'a str,
) -> (Vec<u64>, Option<&'a str>) {
    if tags.is_empty() {
        let keys = legacy_pseudonyms
            .iter()
            .map(|s| subject_key(Some(s.as_ref())));
        (keys.collect(), None)
    } else {
        let keys = tags.iter().map(|s| tag_key(s.as_ref()));
        (keys.collect(), Some(request_id))
    }
}

/// The index key of a batch tag: its first 8 bytes (hits are confirmed
/// against the record). A tag that is not hex gets a key no search
/// computes from an HMAC but by chance.
fn tag_key(tag_hex: &str) -> u64 {
    tag_hex
        .get(..16)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or_else(|| subject_key(Some(tag_hex)))
}

/// The index key of a computed tag (see [`tag_key`]).
fn computed_tag_key(tag: &ring::hmac::Tag) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&tag.as_ref()[..8]);
    u64::from_be_bytes(first)
}

/// The subjects of one batch record.
#[derive(Debug)]
struct Batch {
    /// Salt of the tags ([`batch_tag`]); `None`: the hashes are of plain
    /// pseudonyms (legacy records).
    request_id: Option<Box<str>>,
    /// [`subject_key`] of each tag (or pseudonym).
    keys: Box<[u64]>,
}

impl Batch {
    /// Whether the batch (probably) names the subject searched for.
    fn names(&self, subject: &Subject) -> bool {
        match &self.request_id {
            None => self.keys.contains(&subject.key),
            Some(rid) => self
                .keys
                .contains(&computed_tag_key(&subject.tagger.tag(rid))),
        }
    }
}

/// The subject a search looks for, prepared once.
struct Subject {
    /// [`subject_key`] of its pseudonym.
    key: u64,
    tagger: BatchTagger,
}

/// How much of the index one call of [`Index::search_step`] examines
/// before it returns (a batch record costs an HMAC, ≈ 100 plain entries):
/// the caller holds the log's lock meanwhile, and the writer waits for it.
pub(crate) const SEARCH_STEP_BUDGET: usize = 50_000;

/// Where a search stands after [`Index::search_step`].
#[derive(Debug)]
pub(crate) enum Step {
    /// Finished: the page's hits and the cursor of the next page.
    Done(Vec<Position>, Option<u64>),
    /// Out of budget: continue below this seq with [`Resume`].
    Paused(Resume),
}

/// A paused search: hits so far, and the seq to continue below.
#[derive(Debug)]
pub(crate) struct Resume {
    hits: Vec<Position>,
    below: u64,
}

/// Hash of a subject pseudonym; 0 means "no subject".
pub(crate) fn subject_key(subject: Option<&str>) -> u64 {
    subject.map_or(0, |s| {
        let mut h = DefaultHasher::new();
        s.hash(&mut h);
        h.finish().max(1)
    })
}

impl Index {
    /// An empty index whose first record will be `first_seq`.
    pub(crate) fn new(first_seq: u64) -> Self {
        Self {
            first_seq,
            time_sorted: true,
            ..Self::default()
        }
    }

    /// Adds the next record; its seq must follow the last one.
    pub(crate) fn push(&mut self, input: &IndexInput<'_>) {
        debug_assert_eq!(input.seq, self.first_seq + self.entries.len() as u64);
        let next_id = u32::try_from(self.clients.len()).unwrap_or(u32::MAX);
        let client = match self.clients.get(input.client_id) {
            Some(id) => *id,
            None => {
                self.clients.insert(input.client_id.into(), next_id);
                next_id
            }
        };
        if self
            .entries
            .last()
            .is_some_and(|e| e.time_ms > input.time_ms)
        {
            self.time_sorted = false;
        }
        let batch = !input.batch_subjects.is_empty();
        if batch {
            self.batches.insert(
                input.seq,
                Batch {
                    request_id: input.batch_request_id.map(Box::from),
                    keys: input.batch_subjects.clone().into_boxed_slice(),
                },
            );
        }
        self.entries.push(Entry {
            time_ms: input.time_ms,
            offset: input.offset,
            subject: subject_key(input.subject_pseudonym),
            client,
            segment: input.segment,
            len: input.len,
            decision: input.decision,
            batch,
        });
    }

    /// Forgets records up to and including `last_seq` (deleted by retention).
    pub(crate) fn drop_through(&mut self, last_seq: u64) {
        let count = last_seq.saturating_add(1).saturating_sub(self.first_seq);
        let count = usize::try_from(count)
            .unwrap_or(usize::MAX)
            .min(self.entries.len());
        self.entries.cut_front(count);
        self.first_seq += count as u64;
        let first = self.first_seq;
        self.batches.retain(|seq, _| *seq >= first);
    }

    /// Bytes the index holds for its entries (allocated, not only used), as
    /// a gauge of what the records kept cost in memory.
    pub(crate) fn entry_bytes(&self) -> usize {
        self.entries.allocated_bytes()
    }

    /// Where record `seq` is, if it is live.
    pub(crate) fn position(&self, seq: u64) -> Option<Position> {
        let i = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        self.entries.get(i).map(|e| Position {
            seq,
            segment: e.segment,
            offset: e.offset,
            len: e.len,
        })
    }

    /// Positions of the records matching `q`, newest first, at most the
    /// page size; and the next cursor if one more record matches. In one
    /// go (offline readers and tests); the live log searches in steps.
    pub(crate) fn search(&self, q: &Query) -> Result<(Vec<Position>, Option<u64>), AuditError> {
        let mut resume = None;
        loop {
            match self.search_step(q, resume, usize::MAX)? {
                Step::Done(hits, next) => return Ok((hits, next)),
                Step::Paused(r) => resume = Some(r),
            }
        }
    }

    /// [`Index::search`] for at most `budget` units of work (an entry is
    /// one, a batch record tested by tag ≈ 100), continuing `resume`.
    /// Between steps the caller may release its lock: entries only ever
    /// come and go at the ends, and a step re-reads where they are.
    pub(crate) fn search_step(
        &self,
        q: &Query,
        resume: Option<Resume>,
        budget: usize,
    ) -> Result<Step, AuditError> {
        let limit = q.page_size()?;
        let client = match &q.client {
            Some(c) => match self.clients.get(c.as_str()) {
                Some(id) => Some(*id),
                None => return Ok(Step::Done(Vec::new(), None)),
            },
            None => None,
        };
        let subject = q.subject_pseudonym.as_deref().map(|s| Subject {
            key: subject_key(Some(s)),
            tagger: BatchTagger::new(s),
        });
        let mut hi = self.entries.len();
        if let Some(cursor) = q.cursor {
            let below = cursor.saturating_sub(self.first_seq);
            hi = hi.min(usize::try_from(below).unwrap_or(usize::MAX));
        }
        let mut hits = Vec::new();
        if let Some(r) = resume {
            let below = r.below.saturating_sub(self.first_seq);
            hi = hi.min(usize::try_from(below).unwrap_or(usize::MAX));
            hits = r.hits;
        }
        if let (Some(to), true) = (q.to, self.time_sorted) {
            hi = hi.min(self.entries.partition_point(|e| e.time_ms < to));
        }
        // Work done: entries examined, plus 100 per batch record tested.
        let mut batch_tests = 0usize;
        // Every step examines at least one entry: a search always ends.
        let budget = budget.max(1);
        for (examined, i) in (0..hi).rev().enumerate() {
            let Some(e) = self.entries.get(i) else {
                continue;
            };
            if let (Some(from), true) = (q.from, self.time_sorted) {
                if e.time_ms < from {
                    break;
                }
            }
            let seq = self.first_seq + i as u64;
            if examined.saturating_add(batch_tests.saturating_mul(100)) >= budget {
                return Ok(Step::Paused(Resume {
                    hits,
                    below: seq + 1,
                }));
            }
            let wanted = client.is_none_or(|c| c == e.client)
                && q.decision.is_none_or(|d| d == e.decision)
                && q.from.is_none_or(|f| e.time_ms >= f)
                && q.to.is_none_or(|t| e.time_ms < t)
                && subject.as_ref().is_none_or(|s| {
                    s.key == e.subject
                        || (e.batch
                            && self.batches.get(&seq).is_some_and(|b| {
                                batch_tests += 1;
                                b.names(s)
                            }))
                });
            if !wanted {
                continue;
            }
            if hits.len() == limit {
                let next = hits.last().map(|p: &Position| p.seq);
                return Ok(Step::Done(hits, next));
            }
            hits.push(Position {
                seq,
                segment: e.segment,
                offset: e.offset,
                len: e.len,
            });
        }
        Ok(Step::Done(hits, None))
    }
}

#[cfg(test)]
mod tests;

mod chunks;
