//! Small value checks shared by the validators: ids, non-empty strings,
//! positive numbers, rate limits, section lists, fingerprints.

use super::Ctx;
use crate::canonical::Section;
use crate::error::ErrorKind;
use crate::model::{RateLimitDef, SpannedList};
use crate::policy::RateLimit;
use toml::Spanned;

/// Longest accepted id.
const MAX_ID_LEN: usize = 128;

/// Longest accepted refill window of a rate limit (`T · burst`, `T = 1 / per_second`
/// rounded to whole microseconds, at least 1): 100 years in microseconds. The same bound
/// as the limiter's (`credgate_ratelimit::gcra`, `MAX_WINDOW_MICROS`), which refuses
/// such a limit on every request (500); this crate does not depend on the limiter, so
/// the bound and its arithmetic are repeated here, and a test in `credgate-ratelimit`
/// (`policy_check_refuses_exactly_what_the_limiter_refuses`) checks that both refuse the
/// same limits.
pub(crate) const MAX_RATE_WINDOW_MICROS: u64 = 100 * 365 * 24 * 3600 * 1_000_000;

/// The refill window of `burst` requests at `per_second` (positive and finite) in
/// microseconds, exactly as the limiter discretises it; `None` beyond
/// [`MAX_RATE_WINDOW_MICROS`].
pub(crate) fn rate_window_micros(per_second: f64, burst: u32) -> Option<u64> {
    let exact = 1e6 / per_second;
    // `as` saturates; anything that large fails the bound below.
    let emission = (exact.round() as u64).max(1);
    emission
        .checked_mul(u64::from(burst))
        .filter(|w| exact.is_finite() && *w <= MAX_RATE_WINDOW_MICROS)
}

/// Checks that an id is 1–128 characters of `A-Z a-z 0-9 . _ -` (ids end
/// up in headers, metric labels and audit records).
pub(crate) fn id(cx: &mut Ctx<'_>, id: &Spanned<String>, path: &str, what: &str) -> bool {
    let s = id.get_ref();
    let ok = !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !ok {
        let msg = format!("{what} id must be 1-{MAX_ID_LEN} characters of A-Z a-z 0-9 . _ -");
        cx.err(id.span(), path, ErrorKind::InvalidId, msg);
    }
    ok
}

/// The string if it is not blank; an `InvalidValue` error otherwise.
pub(crate) fn non_empty(
    cx: &mut Ctx<'_>,
    value: &Spanned<String>,
    path: &str,
    what: &str,
) -> Option<String> {
    if value.get_ref().trim().is_empty() {
        cx.err(
            value.span(),
            path,
            ErrorKind::InvalidValue,
            format!("{what} must not be empty"),
        );
        None
    } else {
        Some(value.get_ref().clone())
    }
}

/// A positive number that fits `u32`; an `InvalidValue` error otherwise.
pub(crate) fn positive_u32(
    cx: &mut Ctx<'_>,
    value: &Spanned<i64>,
    path: &str,
    what: &str,
) -> Option<u32> {
    match u32::try_from(*value.get_ref()) {
        Ok(n) if n > 0 => Some(n),
        _ => {
            let msg = format!("{what} must be between 1 and {}", u32::MAX);
            cx.err(value.span(), path, ErrorKind::InvalidValue, msg);
            None
        }
    }
}

/// Validates a rate limit: `per_second` finite and > 0, `burst` in
/// 1..=u32::MAX, `daily_quota` ≥ 1, and the time to refill the burst
/// (`burst / per_second`) at most 100 years, as the limiter requires
/// ([`rate_window_micros`]). Every bad number is reported; the window, which
/// depends on two of them, at the rate limit itself.
pub(crate) fn rate_limit(
    cx: &mut Ctx<'_>,
    def: &Spanned<RateLimitDef>,
    path: &str,
) -> Option<RateLimit> {
    let def_span = def.span();
    let def = def.get_ref();
    let per_second = *def.per_second.get_ref();
    let mut ok = true;
    if !(per_second.is_finite() && per_second > 0.0) {
        let msg = "per_second must be a positive number";
        cx.err(
            def.per_second.span(),
            format!("{path}.per_second"),
            ErrorKind::InvalidRateLimit,
            msg,
        );
        ok = false;
    }
    let burst = match u32::try_from(*def.burst.get_ref()) {
        Ok(b) if b > 0 => b,
        _ => {
            let msg = format!("burst must be between 1 and {}", u32::MAX);
            cx.err(
                def.burst.span(),
                format!("{path}.burst"),
                ErrorKind::InvalidRateLimit,
                msg,
            );
            ok = false;
            0
        }
    };
    let daily_quota = match &def.daily_quota {
        None => None,
        Some(q) => match u64::try_from(*q.get_ref()) {
            Ok(n) if n > 0 => Some(n),
            _ => {
                let msg = "daily_quota must be a positive number";
                cx.err(
                    q.span(),
                    format!("{path}.daily_quota"),
                    ErrorKind::InvalidRateLimit,
                    msg,
                );
                ok = false;
                None
            }
        },
    };
    let per_second_ok = per_second.is_finite() && per_second > 0.0;
    if per_second_ok && burst > 0 && rate_window_micros(per_second, burst).is_none() {
        let msg = format!(
            "burst / per_second is too long a window ({burst} requests at {per_second} per \
             second take more than 100 years to refill); the rate limiter refuses it"
        );
        cx.err(def_span, path, ErrorKind::InvalidRateLimit, msg);
        ok = false;
    }
    ok.then_some(RateLimit {
        per_second,
        burst,
        daily_quota,
    })
}

/// Parses a list of section names, reporting unknown and repeated ones;
/// returns the valid ones in report order.
pub(crate) fn sections(cx: &mut Ctx<'_>, list: &SpannedList, path: &str) -> Vec<Section> {
    let mut out = Vec::new();
    for (k, name) in list.get_ref().iter().enumerate() {
        let item = format!("{path}[{k}]");
        match Section::parse(name.get_ref()) {
            None => {
                let msg = format!(
                    "unknown section \"{}\" (expected one of {})",
                    name.get_ref(),
                    Section::ALL.map(Section::as_str).join(", ")
                );
                cx.err(name.span(), item, ErrorKind::UnknownSection, msg);
            }
            Some(s) if out.contains(&s) => {
                let msg = format!("section \"{s}\" listed twice");
                cx.err(name.span(), item, ErrorKind::DuplicateEntry, msg);
            }
            Some(s) => out.push(s),
        }
    }
    out.sort();
    out
}

/// Parses a SHA-256 fingerprint: 64 hex digits, any case, colons ignored.
pub(crate) fn fingerprint(s: &str) -> Option<[u8; 32]> {
    let compact: String = s.chars().filter(|c| *c != ':').collect();
    let bytes = hex::decode(compact).ok()?;
    <[u8; 32]>::try_from(bytes.as_slice()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_windows_are_bounded_at_100_years() {
        const YEAR_US: u64 = 365 * 24 * 3600 * 1_000_000;
        assert_eq!(MAX_RATE_WINDOW_MICROS, 100 * YEAR_US);
        assert_eq!(rate_window_micros(10.0, 20), Some(2_000_000));
        assert_eq!(
            rate_window_micros(3.0, 4),
            Some(1_333_332),
            "T rounded to µs"
        );
        assert_eq!(rate_window_micros(5e6, 3), Some(3), "T at least 1 µs");
        assert_eq!(rate_window_micros(1e-7, 4000), None, "4000 × 10⁷ s");
        assert_eq!(rate_window_micros(1e-9, 10), None);
        assert_eq!(
            rate_window_micros(f64::MIN_POSITIVE, 1),
            None,
            "1e6 / rate overflows"
        );
        // Exactly 100 years is accepted, one microsecond more is not.
        let at = |t_us: u64| 1e6 / t_us as f64;
        assert_eq!(
            rate_window_micros(at(MAX_RATE_WINDOW_MICROS), 1),
            Some(MAX_RATE_WINDOW_MICROS)
        );
        assert_eq!(rate_window_micros(at(MAX_RATE_WINDOW_MICROS + 1), 1), None);
        assert_eq!(
            rate_window_micros(at(MAX_RATE_WINDOW_MICROS / 4), 4),
            Some(MAX_RATE_WINDOW_MICROS)
        );
        assert_eq!(
            rate_window_micros(at(MAX_RATE_WINDOW_MICROS / 4 + 1), 4),
            None
        );
    }

    #[test]
    fn fingerprints() {
        let hexs = "AB".repeat(32);
        assert_eq!(fingerprint(&hexs), Some([0xab; 32]));
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(fingerprint(&colons), Some([0xab; 32]));
        assert_eq!(fingerprint(&"ab".repeat(31)), None);
        assert_eq!(fingerprint(&"zz".repeat(32)), None);
        assert_eq!(fingerprint(""), None);
    }
}
