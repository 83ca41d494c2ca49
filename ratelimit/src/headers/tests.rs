use std::time::Duration;

use super::*;
use crate::decision::{QuotaInfo, Why};
use crate::limit::Limit;

fn info(limit: Limit) -> Info {
    Info {
        limit,
        remaining: 5,
        reset_after: Duration::from_millis(1500),
        retry_after: None,
        quota: None,
        why: None,
    }
}

fn value<'a>(headers: &'a [(HeaderName, HeaderValue)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.to_str().ok())
}

#[test]
fn allowed_without_quota_has_burst_policy_and_no_retry_after() {
    let headers = info(Limit::new(10.0, 20)).headers();
    assert_eq!(headers.len(), 2);
    assert_eq!(
        value(&headers, "RateLimit-Policy"),
        Some("\"burst\";q=20;w=2")
    );
    assert_eq!(value(&headers, "RateLimit"), Some("\"burst\";r=5;t=2"));
    assert_eq!(value(&headers, "Retry-After"), None);
}

/// 50/s, burst 100, a daily quota of 10,000 with 9,000 left and an hour to go.
fn with_quota() -> Info {
    let mut i = info(Limit::new(50.0, 100).with_daily_quota(10_000));
    i.quota = Some(QuotaInfo {
        limit: 10_000,
        remaining: 9_000,
        resets_at_unix: 1_740_844_800,
        resets_after: Duration::from_millis(3_600_001),
    });
    i
}

#[test]
fn daily_quota_is_a_second_policy_item() {
    let headers = with_quota().headers();
    assert_eq!(
        value(&headers, "ratelimit-policy"),
        Some("\"burst\";q=100;w=2, \"daily\";q=10000;w=86400")
    );
    assert_eq!(
        value(&headers, "ratelimit"),
        Some("\"burst\";r=5;t=2, \"daily\";r=9000;t=3601")
    );
}

#[test]
fn named_policies_carry_the_prefix_and_a_bad_prefix_is_dropped() {
    let i = with_quota();
    let headers = i.headers_named("sanctions.check/");
    assert_eq!(
        value(&headers, "ratelimit-policy"),
        Some("\"sanctions.check/burst\";q=100;w=2, \"sanctions.check/daily\";q=10000;w=86400")
    );
    assert_eq!(
        value(&headers, "ratelimit"),
        Some("\"sanctions.check/burst\";r=5;t=2, \"sanctions.check/daily\";r=9000;t=3601")
    );
    assert_eq!(i.headers_named("a\"b"), i.headers());
}

#[test]
fn retry_after_rounds_up_to_whole_seconds() {
    let mut i = info(Limit::new(5.0, 10));
    i.remaining = 0;
    i.why = Some(Why::Rate);
    for (wait, secs) in [
        (1200, "2"),
        (1000, "1"),
        (1, "1"),
        (200, "1"),
        (59_001, "60"),
    ] {
        i.retry_after = Some(Duration::from_millis(wait));
        assert_eq!(value(&i.headers(), "Retry-After"), Some(secs), "{wait} ms");
    }
}

#[test]
fn window_is_at_least_one_second_and_rounded_up() {
    assert_eq!(
        info(Limit::new(3.0, 1)).policy_header(),
        "\"burst\";q=1;w=1"
    );
    assert_eq!(
        info(Limit::new(3.0, 4)).policy_header(),
        "\"burst\";q=4;w=2"
    );
    assert_eq!(
        info(Limit::new(0.5, 2)).policy_header(),
        "\"burst\";q=2;w=4"
    );
    assert_eq!(
        info(Limit::new(-1.0, 2)).policy_header(),
        "\"burst\";q=2;w=1"
    );
}

#[test]
fn ceil_secs_rounds_up() {
    assert_eq!(ceil_secs(Duration::ZERO), 0);
    assert_eq!(ceil_secs(Duration::from_nanos(1)), 1);
    assert_eq!(ceil_secs(Duration::from_millis(1200)), 2);
    assert_eq!(ceil_secs(Duration::from_secs(3)), 3);
}
