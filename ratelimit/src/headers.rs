//! Response headers: `RateLimit-Policy` and `RateLimit` as in the IETF HTTPAPI draft
//! *RateLimit header fields for HTTP* (draft-ietf-httpapi-ratelimit-headers-10, September
//! 2025; the field syntax is unchanged since -08), and `Retry-After` (RFC 9110 §10.2.3).
//!
//! Both fields are Structured Field Lists (RFC 9651). Each item is a quota policy named
//! by an sf-string:
//!
//! ```text
//! RateLimit-Policy: "burst";q=20;w=2, "daily";q=1000;w=86400
//! RateLimit: "burst";r=19;t=1, "daily";r=999;t=50400
//! Retry-After: 1
//! ```
//!
//! - `"burst"`: the GCRA. `q` = the burst, `w` = the seconds to refill it from empty
//!   (`⌈burst / per_second⌉`, at least 1), so `q / w` approximates the sustained rate; `r` =
//!   requests that would still pass now; `t` = seconds until the burst is full again.
//! - `"daily"` (only with a daily quota): `q` = the quota, `w` = 86400; `r` = requests left
//!   today; `t` = seconds until the next day starts in the limiter's time zone.
//! - `qu` (quota unit) is omitted: the default, `"requests"`, is what is counted.
//!
//! Every duration is rounded **up** to whole seconds (a client waiting the advertised time
//! is never early): `Retry-After` for a wait of 1.2 s is `2`.

use std::fmt::Write as _;
use std::time::Duration;

use http::{HeaderName, HeaderValue};

use crate::decision::Info;

/// The policy name of the rate / burst item.
pub const BURST_POLICY: &str = "burst";
/// The policy name of the daily-quota item.
pub const DAILY_POLICY: &str = "daily";

const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Whole seconds, rounded up (`1.2 s` → 2, `1 s` → 1, `0` → 0).
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

// === impl Info ===

impl Info {
    /// The `RateLimit-Policy` field value.
    pub fn policy_header(&self) -> String {
        self.policy_header_named("")
    }

    /// The `RateLimit-Policy` field value with each policy name prefixed
    /// (`"enterprise.report/burst"`), so that a second limit (client ×
    /// scope) can share the field with the client's own.
    fn policy_header_named(&self, prefix: &str) -> String {
        // A validated limit always converts; a hand-made `Info` with a nonsensical rate
        // gets the smallest window rather than a panic.
        let window =
            Duration::try_from_secs_f64(f64::from(self.limit.burst) / self.limit.per_second)
                .map_or(1, ceil_secs)
                .max(1);
        let mut out = format!(
            "\"{prefix}{BURST_POLICY}\";q={};w={window}",
            self.limit.burst
        );
        if let Some(quota) = &self.quota {
            let _ = write!(
                out,
                ", \"{prefix}{DAILY_POLICY}\";q={};w=86400",
                quota.limit
            );
        }
        out
    }

    /// The `RateLimit` field value.
    pub fn ratelimit_header(&self) -> String {
        self.ratelimit_header_named("")
    }

    fn ratelimit_header_named(&self, prefix: &str) -> String {
        let mut out = format!(
            "\"{prefix}{BURST_POLICY}\";r={};t={}",
            self.remaining,
            ceil_secs(self.reset_after)
        );
        if let Some(quota) = &self.quota {
            let _ = write!(
                out,
                ", \"{prefix}{DAILY_POLICY}\";r={};t={}",
                quota.remaining,
                ceil_secs(quota.resets_after)
            );
        }
        out
    }

    /// `Retry-After` in whole seconds, rounded up, when limited.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after.map(ceil_secs)
    }

    /// The headers for the response: `RateLimit-Policy` and `RateLimit` always,
    /// `Retry-After` when limited.
    pub fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        self.headers_named("")
    }

    /// [`Info::headers`] with the policy names prefixed by `prefix`, which
    /// must not hold `"` or `\` (they would end the name early); such a
    /// prefix is dropped.
    pub fn headers_named(&self, prefix: &str) -> Vec<(HeaderName, HeaderValue)> {
        let prefix = if prefix
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        {
            prefix
        } else {
            ""
        };
        let mut headers = Vec::with_capacity(3);
        // The values are built from ASCII digits, letters, quotes, `;`, `=`, `,` and
        // spaces only, which `HeaderValue::from_str` always accepts.
        if let Ok(v) = HeaderValue::from_str(&self.policy_header_named(prefix)) {
            headers.push((RATELIMIT_POLICY, v));
        }
        if let Ok(v) = HeaderValue::from_str(&self.ratelimit_header_named(prefix)) {
            headers.push((RATELIMIT, v));
        }
        if let Some(secs) = self.retry_after_secs() {
            headers.push((http::header::RETRY_AFTER, HeaderValue::from(secs)));
        }
        headers
    }
}

#[cfg(test)]
mod tests;
