//! The audit record (SPEC §8), what the gateway hands in ([`NewRecord`]),
//! the subject [`pseudonym`], and the log's time format.

use ring::hmac;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Whether the request was allowed or refused.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The request was answered with data.
    Allow,
    /// The request was refused (the reason code says why).
    #[default]
    Deny,
}

/// One upstream platform call made for the request.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct UpstreamOutcome {
    /// Upstream name from the gateway config.
    pub name: String,
    /// Outcome label (`ok`, `timeout`, `error`, `breaker_open`, …).
    pub outcome: String,
    /// Latency of the call in milliseconds.
    pub latency_ms: u64,
}

/// One audit record, as stored: its canonical form is the compact
/// `serde_json` serialization in this field order, and the Merkle leaf is
/// computed over exactly the bytes stored on disk.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// Sequence number, assigned by the log; starts at 1, contiguous.
    pub seq: u64,
    /// Time of append, assigned by the log: RFC 3339 UTC with milliseconds
    /// (`2024-05-01T08:30:00.123Z`), non-decreasing along seqs unless the
    /// wall clock steps back by more than 2 s.
    pub time: String,
    /// The replica whose log this is, assigned by the log.
    pub replica: String,
    /// The gateway's request id (`X-Request-Id`).
    pub request_id: String,
    /// W3C trace id, when tracing.
    pub trace_id: Option<String>,
    /// Policy client id.
    pub client_id: String,
    /// Hex SHA-256 of the client certificate.
    pub cert_fingerprint: String,
    /// Endpoint template, e.g. `/v1/enterprises/{uscc}/report`.
    pub endpoint: String,
    /// Declared purpose (`X-Credit-Purpose`).
    pub purpose: Option<String>,
    /// Hex HMAC pseudonym of the subject (see [`pseudonym`]); never the raw identifier.
    pub subject_pseudonym: Option<String>,
    /// Legacy form of [`AuditRecord::subject_tags`], written before it:
    /// the plain pseudonym of each subject of a batch. Still read (and
    /// searched), never written: shown in one subject's access log, it
    /// named the other subjects of the batch by pseudonyms that link
    /// across records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_pseudonyms: Vec<String>,
    /// A request about several subjects (a sanctions batch): one
    /// [`batch_tag`] per valid subject it asked about, sorted, each once —
    /// so each subject finds the request in its access log and an
    /// auditor's subject search finds it, while a subject shown the record
    /// learns nothing about the others (a tag is salted by the request id,
    /// so the same subject's tags differ from batch to batch and never
    /// equal its pseudonym). Empty (and absent from the stored form, which
    /// keeps records written before the field canonical) otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_tags: Vec<String>,
    /// Division-code region of the subject.
    pub subject_region: Option<String>,
    /// `jti` of the subject authorization used.
    pub authz_jti: Option<String>,
    /// Allowed or refused.
    pub decision: Decision,
    /// `ok` or the SPEC error code (`scope_denied`, `rate_limited`, …).
    pub reason: String,
    /// Digest of the field profile applied.
    pub profile_digest: Option<String>,
    /// Sections returned.
    pub sections: Vec<String>,
    /// Canonical field paths returned.
    pub fields_returned: Vec<String>,
    /// Canonical field paths returned masked.
    pub fields_masked: Vec<String>,
    /// Upstream calls made.
    pub upstreams: Vec<UpstreamOutcome>,
    /// HTTP status sent.
    pub status: u16,
}

/// What the gateway hands to [`crate::AuditLog::append`]: an
/// [`AuditRecord`] without `seq`, `time` and `replica`, which the log assigns.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct NewRecord {
    /// See [`AuditRecord::request_id`].
    pub request_id: String,
    /// See [`AuditRecord::trace_id`].
    pub trace_id: Option<String>,
    /// See [`AuditRecord::client_id`].
    pub client_id: String,
    /// See [`AuditRecord::cert_fingerprint`].
    pub cert_fingerprint: String,
    /// See [`AuditRecord::endpoint`].
    pub endpoint: String,
    /// See [`AuditRecord::purpose`].
    pub purpose: Option<String>,
    /// See [`AuditRecord::subject_pseudonym`].
    pub subject_pseudonym: Option<String>,
    /// See [`AuditRecord::subject_tags`] (made with [`batch_tag`]).
    pub subject_tags: Vec<String>,
    /// See [`AuditRecord::subject_region`].
    pub subject_region: Option<String>,
    /// See [`AuditRecord::authz_jti`].
    pub authz_jti: Option<String>,
    /// See [`AuditRecord::decision`].
    pub decision: Decision,
    /// See [`AuditRecord::reason`].
    pub reason: String,
    /// See [`AuditRecord::profile_digest`].
    pub profile_digest: Option<String>,
    /// See [`AuditRecord::sections`].
    pub sections: Vec<String>,
    /// See [`AuditRecord::fields_returned`].
    pub fields_returned: Vec<String>,
    /// See [`AuditRecord::fields_masked`].
    pub fields_masked: Vec<String>,
    /// See [`AuditRecord::upstreams`].
    pub upstreams: Vec<UpstreamOutcome>,
    /// See [`AuditRecord::status`].
    pub status: u16,
}

impl AuditRecord {
    /// Completes a [`NewRecord`] with the fields the log assigns.
    pub fn from_new(seq: u64, time: String, replica: String, rec: NewRecord) -> Self {
        Self {
            seq,
            time,
            replica,
            request_id: rec.request_id,
            trace_id: rec.trace_id,
            client_id: rec.client_id,
            cert_fingerprint: rec.cert_fingerprint,
            endpoint: rec.endpoint,
            purpose: rec.purpose,
            subject_pseudonym: rec.subject_pseudonym,
            subject_pseudonyms: Vec::new(),
            subject_tags: rec.subject_tags,
            subject_region: rec.subject_region,
            authz_jti: rec.authz_jti,
            decision: rec.decision,
            reason: rec.reason,
            profile_digest: rec.profile_digest,
            sections: rec.sections,
            fields_returned: rec.fields_returned,
            fields_masked: rec.fields_masked,
            upstreams: rec.upstreams,
            status: rec.status,
        }
    }

    /// The [`NewRecord`] this record was completed from.
    pub(crate) fn into_new(self) -> NewRecord {
        NewRecord {
            request_id: self.request_id,
            trace_id: self.trace_id,
            client_id: self.client_id,
            cert_fingerprint: self.cert_fingerprint,
            endpoint: self.endpoint,
            purpose: self.purpose,
            subject_pseudonym: self.subject_pseudonym,
            subject_tags: self.subject_tags,
            subject_region: self.subject_region,
            authz_jti: self.authz_jti,
            decision: self.decision,
            reason: self.reason,
            profile_digest: self.profile_digest,
            sections: self.sections,
            fields_returned: self.fields_returned,
            fields_masked: self.fields_masked,
            upstreams: self.upstreams,
            status: self.status,
        }
    }
}

/// The subject pseudonym stored in the log: lower-case hex of
/// HMAC-SHA256(`key`, `subject`). The gateway calls it with the normalised
/// identifier (upper-case USCC, ID number with upper-case `X`); the auditor
/// query path calls it with the same key to search by raw identifier.
pub fn pseudonym(key: &[u8], subject: &str) -> String {
    Pseudonymizer::new(key).pseudonym(subject)
}

/// [`pseudonym`] with the HMAC key prepared once: the gateway
/// pseudonymises every request's subject, and preparing the key (two
/// SHA-256 blocks) was half the cost of each call.
#[derive(Clone)]
pub struct Pseudonymizer {
    key: hmac::Key,
}

impl Pseudonymizer {
    /// Prepares `key` (the replica's `privacy.pseudonym_key_file` bytes).
    pub fn new(key: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// The pseudonym of a (normalised) subject identifier; the same as
    /// [`pseudonym`] with this key.
    pub fn pseudonym(&self, subject: &str) -> String {
        hex_lower(hmac::sign(&self.key, subject.as_bytes()).as_ref())
    }
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer(..)")
    }
}

/// Lower-case hex of `bytes`, the same as `hex::encode`, without its
/// character-by-character `String` building (about 1,700 instructions for
/// 32 bytes, against about 200; a request makes several: its pseudonym,
/// its batch tags, its certificate fingerprint).
pub fn hex_lower(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    // Cannot fail: `out` is exactly twice as long as `bytes`, and hex
    // digits are ASCII.
    let _ = hex::encode_to_slice(bytes, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Domain label of [`batch_tag`]'s HMAC input.
const BATCH_TAG_LABEL: &[u8] = b"credgate batch tag v1\0";

/// The tag naming one subject of a batch record: lower-case hex of
/// HMAC-SHA256(key = the subject's [`pseudonym`], label ‖ `request_id`).
/// Whoever knows the pseudonym (the gateway, an auditor searching by
/// subject, the subject reading its own access log) can recompute it;
/// anyone else sees 32 random-looking bytes, different for every request
/// (the request id is random and gateway-made).
pub fn batch_tag(pseudonym: &str, request_id: &str) -> String {
    hex_lower(BatchTagger::new(pseudonym).tag(request_id).as_ref())
}

/// [`batch_tag`] for one pseudonym and many requests: the HMAC key is
/// prepared once (a subject search tests every batch record it passes).
pub(crate) struct BatchTagger {
    key: hmac::Key,
}

impl BatchTagger {
    pub(crate) fn new(pseudonym: &str) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, pseudonym.as_bytes()),
        }
    }

    /// The tag's bytes for `request_id`.
    pub(crate) fn tag(&self, request_id: &str) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(BATCH_TAG_LABEL);
        ctx.update(request_id.as_bytes());
        ctx.sign()
    }
}

/// Whether `rec` names the subject with pseudonym `p`: as its subject, in
/// a legacy batch list, or by a batch tag.
pub(crate) fn names_subject(rec: &AuditRecord, p: &str) -> bool {
    rec.subject_pseudonym.as_deref() == Some(p)
        || rec.subject_pseudonyms.iter().any(|s| s == p)
        || (!rec.subject_tags.is_empty()
            && rec.subject_tags.contains(&batch_tag(p, &rec.request_id)))
}

/// Current time as unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX)
}

/// Formats unix milliseconds as RFC 3339 UTC with exactly three fraction
/// digits and a `Z` (`2024-05-01T08:30:00.123Z`).
pub(crate) fn format_ms(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses an RFC 3339 time into unix milliseconds.
pub(crate) fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).ok()
}

/// Parses a time as the log writes it (`YYYY-MM-DDTHH:MM:SS.mmmZ`) into
/// unix milliseconds without a general parser; other RFC 3339 forms fall
/// back to [`parse_rfc3339_ms`].
pub(crate) fn parse_log_time_ms(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let shape_ok = b.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[23] == b'Z';
    if !shape_ok {
        return parse_rfc3339_ms(text);
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        b[range].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second, milli) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return parse_rfc3339_ms(text);
    }
    let days = days_from_civil(year, month, day);
    Some((((days * 24 + hour) * 60 + minute) * 60 + second) * 1000 + milli)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonym_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        let got = pseudonym(b"Jefe", "what do ya want for nothing?");
        assert_eq!(
            got,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_ne!(pseudonym(b"k1", "s"), pseudonym(b"k2", "s"));
        for bytes in [&[][..], &[0, 0xff, 0x0a][..], &[0x5b; 32][..]] {
            assert_eq!(hex_lower(bytes), hex::encode(bytes));
        }
        let prepared = Pseudonymizer::new(b"Jefe");
        assert_eq!(prepared.pseudonym("what do ya want for nothing?"), got);
        assert_eq!(prepared.pseudonym("s"), pseudonym(b"Jefe", "s"));
    }

    #[test]
    fn time_format_round_trips_with_millis() {
        let ms = 1_714_552_200_123;
        let text = format_ms(ms);
        assert_eq!(text, "2024-05-01T08:30:00.123Z");
        assert_eq!(parse_rfc3339_ms(&text), Some(ms));
        assert_eq!(parse_rfc3339_ms("2024-05-01T16:30:00.123+08:00"), Some(ms));
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
    }

    #[test]
    fn fast_time_parser_agrees_with_rfc3339() {
        for ms in [
            0i64,
            951_782_400_000,
            1_714_552_200_123,
            4_102_444_799_999,
            1_709_164_800_500,
        ] {
            let text = format_ms(ms);
            assert_eq!(parse_log_time_ms(&text), Some(ms), "{text}");
            assert_eq!(parse_rfc3339_ms(&text), Some(ms));
        }
        assert_eq!(
            parse_log_time_ms("2024-05-01T16:30:00.123+08:00"),
            Some(1_714_552_200_123)
        );
        assert_eq!(parse_log_time_ms("2024-13-01T00:00:00.000Z"), None);
    }

    #[test]
    fn decision_serializes_lowercase() {
        assert_eq!(
            serde_json::to_string(&Decision::Allow).unwrap(),
            "\"allow\""
        );
        assert_eq!(serde_json::to_string(&Decision::Deny).unwrap(), "\"deny\"");
    }
}
