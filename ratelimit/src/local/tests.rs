use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::clock::ManualClock;

/// 2025-03-01T12:00:00+08:00.
const NOON: u64 = 1_740_801_600;

fn backend() -> (LocalBackend, ManualClock) {
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(NOON));
    let zone = UtcOffset::from_hms(8, 0, 0).unwrap();
    (LocalBackend::new(Arc::new(clock.clone()), zone), clock)
}

fn check(b: &LocalBackend, clock: &ManualClock, key: Key<'_>, limit: Limit) -> Decision {
    b.check(&key, &limit, &Params::new(&limit).unwrap(), clock.now())
        .unwrap()
}

#[test]
fn keys_are_independent_and_created_once() {
    let (b, clock) = backend();
    let limit = Limit::new(1.0, 1);
    let scoped = Key::scoped("bank-nb", "enterprise.report");
    assert!(check(&b, &clock, Key::client("bank-nb"), limit).is_allowed());
    assert!(!check(&b, &clock, Key::client("bank-nb"), limit).is_allowed());
    assert!(check(&b, &clock, scoped, limit).is_allowed());
    assert!(check(&b, &clock, Key::client("dept-nb"), limit).is_allowed());
    assert_eq!(b.len(), 3);
}

#[test]
fn a_changed_limit_rebuilds_the_key_and_keeps_its_state() {
    let (b, clock) = backend();
    let key = Key::client("bank-nb");
    let two = Limit::new(1.0, 2);
    assert!(check(&b, &clock, key, two).is_allowed());
    assert!(check(&b, &clock, key, two).is_allowed());
    assert!(!check(&b, &clock, key, two).is_allowed());
    // Burst 3 at the same rate: the two requests taken still count, one more passes.
    let three = Limit::new(1.0, 3);
    let d = check(&b, &clock, key, three);
    assert!(d.is_allowed());
    assert_eq!(d.info().remaining, 0);
    assert_eq!(d.info().reset_after, Duration::from_secs(3));
    assert!(!check(&b, &clock, key, three).is_allowed());
    assert_eq!(b.len(), 1);
}

#[test]
fn a_quota_refusal_takes_no_rate_token() {
    let (b, clock) = backend();
    let key = Key::client("bank-nb");
    let limit = Limit::new(1.0, 2).with_daily_quota(1);
    let first = check(&b, &clock, key, limit);
    assert!(first.is_allowed());
    assert_eq!(first.info().quota.map(|q| q.remaining), Some(0));
    let refused = check(&b, &clock, key, limit);
    let info = refused.info();
    assert!(!refused.is_allowed());
    assert_eq!(info.why, Some(Why::DailyQuota));
    assert_eq!(info.remaining, 1, "the rate still has one request left");
    assert_eq!(info.reset_after, Duration::from_secs(1));
    // Noon to midnight in Shanghai.
    assert_eq!(info.retry_after, Some(Duration::from_secs(12 * 3600)));
    assert_eq!(
        info.quota.map(|q| q.resets_at_unix),
        Some(NOON as i64 + 12 * 3600)
    );
}

#[test]
fn a_rate_refusal_takes_no_quota() {
    let (b, clock) = backend();
    let key = Key::client("bank-nb");
    let limit = Limit::new(1.0, 1).with_daily_quota(2);
    assert!(check(&b, &clock, key, limit).is_allowed());
    let refused = check(&b, &clock, key, limit);
    assert_eq!(refused.info().why, Some(Why::Rate));
    assert_eq!(refused.info().quota.map(|q| q.remaining), Some(1));
    clock.advance(Duration::from_secs(1));
    let second = check(&b, &clock, key, limit);
    assert!(second.is_allowed());
    assert_eq!(second.info().quota.map(|q| q.remaining), Some(0));
}

#[test]
fn concurrent_first_uses_share_one_bucket() {
    let (b, clock) = backend();
    let b = Arc::new(b);
    let limit = Limit::new(1.0, 50);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (b, clock) = (Arc::clone(&b), clock.clone());
            std::thread::spawn(move || {
                (0..40)
                    .filter(|_| check(&b, &clock, Key::client("c"), limit).is_allowed())
                    .count()
            })
        })
        .collect();
    let allowed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(allowed, 50, "exactly the burst, clock standing still");
}

/// Limit 10/s, burst 20 (T = 100 ms, τ = 1.9 s).
fn ten_per_second() -> Limit {
    Limit::new(10.0, 20)
}

#[test]
fn a_backward_wall_clock_step_does_not_block_an_active_client() {
    let (b, clock) = backend();
    let key = Key::client("bank-nb");
    for _ in 0..5 {
        assert!(check(&b, &clock, key, ten_per_second()).is_allowed());
    }
    clock.set(clock.now() - Duration::from_secs(60));
    let d = check(&b, &clock, key, ten_per_second());
    assert!(d.is_allowed(), "{d:?}");
    assert_eq!(
        d.info().remaining,
        14,
        "the bucket as it was: 5 + this one taken"
    );
    assert_eq!(d.info().reset_after, Duration::from_millis(600));
}

#[test]
fn a_backward_step_leaves_an_empty_bucket_one_interval_away() {
    let (b, clock) = backend();
    let key = Key::client("bank-nb");
    for _ in 0..20 {
        assert!(check(&b, &clock, key, ten_per_second()).is_allowed());
    }
    clock.set(clock.now() - Duration::from_secs(60));
    let refused = check(&b, &clock, key, ten_per_second());
    assert_eq!(refused.info().why, Some(Why::Rate));
    assert_eq!(
        refused.info().retry_after,
        Some(Duration::from_millis(100)),
        "one emission interval, not the 60 s of the step"
    );
    clock.advance(Duration::from_millis(100));
    assert!(check(&b, &clock, key, ten_per_second()).is_allowed());
}

#[test]
fn a_lowered_limit_clamps_a_tat_it_could_never_hold() {
    let (b, clock) = backend();
    let key = Key::client("bank-nb");
    let wide = Limit::new(1.0, 100);
    for _ in 0..100 {
        assert!(check(&b, &clock, key, wide).is_allowed());
    }
    // TAT = now + 100 s; burst 3 at 1/s can hold at most now + 3 s: clamped to that, an
    // empty bucket one second from its next token, as in Redis (whose script sees only
    // the TAT, not the limit it was written under). Lowering a spent client's limit
    // never hands it a fresh burst.
    let narrow = Limit::new(1.0, 3);
    let d = check(&b, &clock, key, narrow);
    assert!(!d.is_allowed(), "{d:?}");
    assert_eq!(d.info().retry_after, Some(Duration::from_secs(1)));
    clock.advance(Duration::from_secs(1));
    let d = check(&b, &clock, key, narrow);
    assert!(d.is_allowed(), "{d:?}");
    assert_eq!(d.info().remaining, 0);
}

/// On the real clock too, the time until the bucket is full again never
/// passes its window: a window of 5 s is `t=5` in the header, not 6 (the
/// check reads the clock a little after the backend does).
#[test]
fn reset_never_passes_the_window_on_the_system_clock() {
    let b = LocalBackend::new(
        Arc::new(crate::clock::SystemClock),
        UtcOffset::from_hms(8, 0, 0).unwrap(),
    );
    let limit = Limit::new(0.2, 1);
    let params = Params::new(&limit).unwrap();
    let key = Key::client("auditor");
    let now = std::time::SystemTime::now();
    let Decision::Allowed(first) = b.check(&key, &limit, &params, now).unwrap() else {
        panic!("the first request is allowed");
    };
    assert!(first.reset_after <= Duration::from_secs(5), "{first:?}");
    assert_eq!(crate::headers::ceil_secs(first.reset_after), 5);
    let Decision::Limited(second) = b.check(&key, &limit, &params, now).unwrap() else {
        panic!("the second request is refused");
    };
    assert!(second.reset_after <= Duration::from_secs(5), "{second:?}");
    assert_eq!(crate::headers::ceil_secs(second.reset_after), 5);
    // A burst of 2 at 1/s: after one request the spent token is back in 1 s.
    let limit = Limit::new(1.0, 2);
    let params = Params::new(&limit).unwrap();
    let key = Key::client("dept-nb");
    let Decision::Allowed(one) = b.check(&key, &limit, &params, now).unwrap() else {
        panic!("the first request is allowed");
    };
    assert_eq!(
        (one.remaining, crate::headers::ceil_secs(one.reset_after)),
        (1, 1),
        "{one:?}"
    );
}
