//! What the HTTP codecs refused by themselves, before any request reached
//! the handler: on HTTP/1.1 a malformed request line or header field, a
//! head too large for the codec's buffer, or a head that did not arrive in
//! time; on HTTP/2 a connection the `h2` crate ended with `GOAWAY` for the
//! client's protocol error (a frame where none may be, a bad header
//! block, …) or for a flood (`ENHANCE_YOUR_CALM`: streams reset faster
//! than served, the "rapid reset" attack, or too many errors provoked).
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
    /// An HTTP/2 connection closed for the client's protocol error.
    H2Protocol,
    /// An HTTP/2 connection closed for a flood (`ENHANCE_YOUR_CALM`).
    H2Flood,
}

impl CodecRefusal {
    /// All reasons, in the order the metric lists them.
    pub const ALL: [CodecRefusal; 5] = [
        CodecRefusal::Malformed,
        CodecRefusal::TooLarge,
        CodecRefusal::HeaderTimeout,
        CodecRefusal::H2Protocol,
        CodecRefusal::H2Flood,
    ];

    /// The reason's metric label.
    pub fn label(self) -> &'static str {
        match self {
            CodecRefusal::Malformed => "malformed",
            CodecRefusal::TooLarge => "too_large",
            CodecRefusal::HeaderTimeout => "header_timeout",
            CodecRefusal::H2Protocol => "h2_protocol",
            CodecRefusal::H2Flood => "h2_flood",
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
            h2_error(e).and_then(CodecRefusal::of_h2)
        }
    }

    /// The refusal an HTTP/2 connection's error reports: a `GOAWAY` this
    /// side sent for what the client did. A `GOAWAY` the client sent, a
    /// closed socket or a stream reset are not refusals.
    pub fn of_h2(e: &h2::Error) -> Option<CodecRefusal> {
        if !(e.is_go_away() && e.is_library()) {
            return None;
        }
        match e.reason() {
            Some(h2::Reason::ENHANCE_YOUR_CALM) => Some(CodecRefusal::H2Flood),
            Some(h2::Reason::NO_ERROR) | None => None,
            Some(_) => Some(CodecRefusal::H2Protocol),
        }
    }

    /// Its place in [`CodecRefusal::ALL`] and in the counters.
    fn index(self) -> usize {
        self as usize
    }
}

/// The `h2` error beneath an HTTP/2 connection's `hyper` error.
fn h2_error(e: &hyper::Error) -> Option<&h2::Error> {
    std::error::Error::source(e).and_then(|s| s.downcast_ref::<h2::Error>())
}

/// Counts of codec refusals by reason (part of `ConnStats`).
#[derive(Debug, Default)]
pub struct CodecRefusals {
    counts: [AtomicU64; CodecRefusal::ALL.len()],
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
static LOG: [Throttle; CodecRefusal::ALL.len()] = [
    Throttle::new(Duration::from_secs(10)),
    Throttle::new(Duration::from_secs(10)),
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
                // hyper says only "http2 error" for HTTP/2; the h2 reason
                // (`PROTOCOL_ERROR`, …) is what tells. Both are fixed texts.
                let h2 = h2_error(&e).and_then(h2::Error::reason);
                tracing::warn!(
                    reason = reason.label(),
                    error = %e,
                    h2_reason = h2.map(tracing::field::debug),
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
        assert_eq!(
            labels,
            [
                "malformed",
                "too_large",
                "header_timeout",
                "h2_protocol",
                "h2_flood"
            ]
        );
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
