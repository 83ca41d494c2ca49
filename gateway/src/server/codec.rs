//! What the HTTP/1.1 codec refused by itself, before any request reached
//! the handler: a malformed request line or header field, a head too large
//! for the codec's buffer, or a head that did not arrive in time.
//!
//! Such a request gets a problem document (or, for a timed-out head, the
//! connection closes) but no audit record: it never reached policy
//! evaluation (SPEC §8 audits those that do). So that an operator can still
//! see them, each is counted by reason in
//! `credgate_http_codec_refusals_total{reason}` and logged, at most one
//! line per window per reason, with the connection's certificate
//! fingerprint and address. hyper's messages for these errors are fixed
//! texts that never quote the request, so nothing a client sent reaches
//! the log.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use credgate_audit::Throttle;

/// Why the codec refused a connection's request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodecRefusal {
    /// A request line or header field that does not parse.
    Malformed,
    /// A head over the codec's buffer, over 100 fields, or a target too long.
    TooLarge,
    /// A head that began but was not complete within `header_read_timeout`.
    HeaderTimeout,
}

impl CodecRefusal {
    /// All reasons, in the order the metric lists them.
    pub const ALL: [CodecRefusal; 3] = [
        CodecRefusal::Malformed,
        CodecRefusal::TooLarge,
        CodecRefusal::HeaderTimeout,
    ];

    /// The reason's metric label.
    pub fn label(self) -> &'static str {
        match self {
            CodecRefusal::Malformed => "malformed",
            CodecRefusal::TooLarge => "too_large",
            CodecRefusal::HeaderTimeout => "header_timeout",
        }
    }

    /// The refusal a connection's end reports, if it was one.
    pub fn of(e: &hyper::Error) -> Option<CodecRefusal> {
        if e.is_parse_too_large() {
            Some(CodecRefusal::TooLarge)
        } else if e.is_parse() {
            Some(CodecRefusal::Malformed)
        } else if e.is_timeout() {
            Some(CodecRefusal::HeaderTimeout)
        } else {
            None
        }
    }

    /// Its place in [`CodecRefusal::ALL`] and in the counters.
    fn index(self) -> usize {
        self as usize
    }
}

/// Counts of codec refusals by reason (part of `ConnStats`).
#[derive(Debug, Default)]
pub struct CodecRefusals {
    counts: [AtomicU64; 3],
}

impl CodecRefusals {
    /// How many of `reason` so far.
    pub fn get(&self, reason: CodecRefusal) -> u64 {
        self.counts[reason.index()].load(Relaxed)
    }

    fn add(&self, reason: CodecRefusal) {
        self.counts[reason.index()].fetch_add(1, Relaxed);
    }
}

/// One log line per reason per window: a client (or a broken one) sending
/// garbage on connection after connection must not flood the log.
static LOG: [Throttle; 3] = [
    Throttle::new(Duration::from_secs(10)),
    Throttle::new(Duration::from_secs(10)),
    Throttle::new(Duration::from_secs(10)),
];

/// Records how an API connection ended: a codec refusal is counted and
/// logged (throttled); any other error is a debug line, as before.
pub(crate) fn connection_ended(
    r: Result<(), hyper::Error>,
    conn: &super::ConnInfo,
    counts: &CodecRefusals,
) {
    let Err(e) = r else { return };
    match CodecRefusal::of(&e) {
        Some(reason) => {
            counts.add(reason);
            if let Some(suppressed) = LOG[reason.index()].allow() {
                tracing::warn!(
                    reason = reason.label(),
                    error = %e,
                    remote = %conn.remote,
                    fingerprint = %hex::encode(conn.peer.sha256),
                    suppressed,
                    "request refused by the HTTP codec before policy evaluation (no audit record)"
                );
            }
        }
        None => tracing::debug!(error = %e, "connection ended with error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_distinct_and_indexed_in_order() {
        let labels: Vec<_> = CodecRefusal::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels, ["malformed", "too_large", "header_timeout"]);
        for (i, r) in CodecRefusal::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        let c = CodecRefusals::default();
        c.add(CodecRefusal::TooLarge);
        c.add(CodecRefusal::TooLarge);
        c.add(CodecRefusal::HeaderTimeout);
        assert_eq!(c.get(CodecRefusal::Malformed), 0);
        assert_eq!(c.get(CodecRefusal::TooLarge), 2);
        assert_eq!(c.get(CodecRefusal::HeaderTimeout), 1);
    }
}
