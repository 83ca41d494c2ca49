//! The in-memory index (rebuilt at open) and auditor queries.
//!
//! One 40-byte entry per live record, addressed by seq: time (unix ms),
//! client id (interned), subject pseudonym (as a 64-bit SipHash, confirmed
//! against the record when it is read), decision, and the frame's segment,
//! offset and length. A batch record's subjects (a sanctions check) are
//! kept beside, as hashes by seq. Times are non-decreasing along seqs (the writer never
//! lets them go back), so time bounds are found by binary search; the other
//! filters scan entries newest first.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash as _, Hasher as _};
use std::io::{self, Write};

use crate::record::{batch_tag, parse_rfc3339_ms, AuditRecord, Decision};
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
            return text
                .parse()
                .map_err(|_| AuditError::Query("time out of range".to_owned()));
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
    entries: Vec<Entry>,
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
        let keys = tags.iter().map(|s| subject_key(Some(s.as_ref())));
        (keys.collect(), Some(request_id))
    }
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
    /// Whether the batch names the subject with this pseudonym (and its
    /// [`subject_key`]).
    fn names(&self, pseudonym: &str, key: u64) -> bool {
        match &self.request_id {
            None => self.keys.contains(&key),
            Some(rid) => self
                .keys
                .contains(&subject_key(Some(&batch_tag(pseudonym, rid)))),
        }
    }
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
        self.entries.drain(..count);
        self.first_seq += count as u64;
        let first = self.first_seq;
        self.batches.retain(|seq, _| *seq >= first);
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
    /// page size; and the next cursor if one more record matches.
    pub(crate) fn search(&self, q: &Query) -> Result<(Vec<Position>, Option<u64>), AuditError> {
        let limit = q.page_size()?;
        let client = match &q.client {
            Some(c) => match self.clients.get(c.as_str()) {
                Some(id) => Some(*id),
                None => return Ok((Vec::new(), None)),
            },
            None => None,
        };
        let subject = q
            .subject_pseudonym
            .as_deref()
            .map(|s| (s, subject_key(Some(s))));
        let mut hi = self.entries.len();
        if let Some(cursor) = q.cursor {
            let below = cursor.saturating_sub(self.first_seq);
            hi = hi.min(usize::try_from(below).unwrap_or(usize::MAX));
        }
        if let (Some(to), true) = (q.to, self.time_sorted) {
            hi = hi.min(self.entries.partition_point(|e| e.time_ms < to));
        }
        let mut hits = Vec::new();
        for i in (0..hi).rev() {
            let e = &self.entries[i];
            if let (Some(from), true) = (q.from, self.time_sorted) {
                if e.time_ms < from {
                    break;
                }
            }
            let seq = self.first_seq + i as u64;
            let wanted = client.is_none_or(|c| c == e.client)
                && subject.is_none_or(|(p, key)| {
                    key == e.subject
                        || (e.batch && self.batches.get(&seq).is_some_and(|b| b.names(p, key)))
                })
                && q.decision.is_none_or(|d| d == e.decision)
                && q.from.is_none_or(|f| e.time_ms >= f)
                && q.to.is_none_or(|t| e.time_ms < t);
            if !wanted {
                continue;
            }
            if hits.len() == limit {
                let next = hits.last().map(|p: &Position| p.seq);
                return Ok((hits, next));
            }
            hits.push(Position {
                seq,
                segment: e.segment,
                offset: e.offset,
                len: e.len,
            });
        }
        Ok((hits, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Index {
        let mut idx = Index::new(1);
        for seq in 1..=10u64 {
            let client = if seq % 2 == 0 { "bank" } else { "dept" };
            let subject = format!("s{}", seq % 3);
            idx.push(&IndexInput {
                seq,
                time_ms: 1000 * seq as i64,
                client_id: client,
                subject_pseudonym: Some(&subject),
                batch_subjects: Vec::new(),
                batch_request_id: None,
                decision: if seq % 5 == 0 {
                    Decision::Deny
                } else {
                    Decision::Allow
                },
                segment: 1,
                offset: seq * 100,
                len: 90,
            });
        }
        idx
    }

    fn seqs(r: (Vec<Position>, Option<u64>)) -> (Vec<u64>, Option<u64>) {
        (r.0.iter().map(|p| p.seq).collect(), r.1)
    }

    #[test]
    fn filters_combine_and_pages_follow_cursors() {
        let idx = index();
        let q = Query {
            client: Some("bank".into()),
            limit: Some(2),
            ..Query::default()
        };
        assert_eq!(seqs(idx.search(&q).unwrap()), (vec![10, 8], Some(8)));
        let q2 = Query {
            cursor: Some(8),
            ..q.clone()
        };
        assert_eq!(seqs(idx.search(&q2).unwrap()), (vec![6, 4], Some(4)));
        let q3 = Query {
            cursor: Some(4),
            ..q
        };
        assert_eq!(seqs(idx.search(&q3).unwrap()), (vec![2], None));
        let q = Query {
            decision: Some(Decision::Deny),
            ..Query::default()
        };
        assert_eq!(seqs(idx.search(&q).unwrap()), (vec![10, 5], None));
        let q = Query {
            subject_pseudonym: Some("s1".into()),
            ..Query::default()
        };
        assert_eq!(seqs(idx.search(&q).unwrap()), (vec![10, 7, 4, 1], None));
        let q = Query {
            from: Some(3000),
            to: Some(6000),
            ..Query::default()
        };
        assert_eq!(seqs(idx.search(&q).unwrap()), (vec![5, 4, 3], None));
        let q = Query {
            client: Some("nobody".into()),
            ..Query::default()
        };
        assert_eq!(seqs(idx.search(&q).unwrap()), (vec![], None));
        assert!(idx
            .search(&Query {
                limit: Some(0),
                ..Query::default()
            })
            .is_err());
    }

    #[test]
    fn batches_are_found_by_tag_and_legacy_batches_by_pseudonym() {
        let mut idx = Index::new(1);
        let tags = [batch_tag("p-a", "rid-1"), batch_tag("p-b", "rid-1")];
        let legacy = ["p-a".to_owned(), "p-c".to_owned()];
        let inputs: [(&[String], &[String], &str); 2] =
            [(&[], &tags, "rid-1"), (&legacy, &[], "rid-2")];
        for (i, (legacy, tags, rid)) in inputs.into_iter().enumerate() {
            let (batch_subjects, batch_request_id) = batch_input(legacy, tags, rid);
            idx.push(&IndexInput {
                seq: i as u64 + 1,
                time_ms: 1000,
                client_id: "dept",
                subject_pseudonym: None,
                batch_subjects,
                batch_request_id,
                decision: Decision::Allow,
                segment: 1,
                offset: 100 * i as u64,
                len: 90,
            });
        }
        let find = |p: &str| {
            seqs(
                idx.search(&Query {
                    subject_pseudonym: Some(p.into()),
                    ..Query::default()
                })
                .unwrap(),
            )
            .0
        };
        assert_eq!(find("p-a"), vec![2, 1]);
        assert_eq!(find("p-b"), vec![1]);
        assert_eq!(find("p-c"), vec![2]);
        assert_eq!(find("p-d"), Vec::<u64>::new());
        // A tag is not the pseudonym, nor searchable as one.
        assert_eq!(find(&tags[0]), Vec::<u64>::new());
    }

    #[test]
    fn a_tag_is_salted_by_the_request_and_keyed_by_the_pseudonym() {
        let a1 = batch_tag("p-a", "rid-1");
        // The documented construction (audit/README.md), computed with
        // Python's hmac: HMAC-SHA256(key = pseudonym, label || request id).
        assert_eq!(
            a1,
            "8838318d6545535a0ca089cad16bbe00e125615b09774c1eb438993c22d6c925"
        );
        assert_ne!(a1, batch_tag("p-a", "rid-2"));
        assert_ne!(a1, batch_tag("p-b", "rid-1"));
        assert_ne!(a1, "p-a");
        // `Query::matches` (offline confirmation) agrees with the index.
        let rec: AuditRecord = serde_json::from_value(serde_json::json!({
            "seq": 1, "time": "2024-05-01T08:30:00.123Z", "replica": "r",
            "request_id": "rid-1", "trace_id": null, "client_id": "dept",
            "cert_fingerprint": "00", "endpoint": "/v1/sanctions/check",
            "purpose": null, "subject_pseudonym": null,
            "subject_pseudonyms": ["p-c"], "subject_tags": [a1],
            "subject_region": null, "authz_jti": null, "decision": "allow",
            "reason": "ok", "profile_digest": null, "sections": [],
            "fields_returned": [], "fields_masked": [], "upstreams": [],
            "status": 200
        }))
        .unwrap();
        let q = |p: &str| Query {
            subject_pseudonym: Some(p.into()),
            ..Query::default()
        };
        assert!(q("p-a").matches(&rec));
        assert!(q("p-c").matches(&rec));
        assert!(!q("p-b").matches(&rec));
    }

    #[test]
    fn exact_page_has_no_cursor_and_retention_drops_the_front() {
        let mut idx = index();
        let q = Query {
            client: Some("dept".into()),
            limit: Some(5),
            ..Query::default()
        };
        assert_eq!(seqs(idx.search(&q).unwrap()), (vec![9, 7, 5, 3, 1], None));
        idx.drop_through(4);
        assert_eq!(idx.position(4), None);
        assert_eq!(idx.position(5).map(|p| p.offset), Some(500));
        assert_eq!(seqs(idx.search(&q).unwrap()), (vec![9, 7, 5], None));
    }

    #[test]
    fn time_bounds_parse_both_forms() {
        assert_eq!(
            Query::parse_time("1714550400000").unwrap(),
            1_714_550_400_000
        );
        assert_eq!(
            Query::parse_time("2024-05-01T08:00:00Z").unwrap(),
            1_714_550_400_000
        );
        assert!(Query::parse_time("May 1st").is_err());
        assert!(Query::parse_time("").is_err());
    }
}
