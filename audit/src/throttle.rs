//! At most one log line per window for a failure that repeats.
//!
//! A full or failing disk fails every batch and every checkpoint attempt:
//! one warning each would bury the log (and fill whatever disk the log is
//! on). A [`Throttle`] lets the first occurrence through, then one per
//! window, each saying how many were suppressed since the last.
//! Hand-written: twenty lines on two atomics; the rate-limiting layers on
//! crates.io throttle by callsite for a whole subscriber, not one message
//! with a count.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lets one occurrence per window through.
#[derive(Debug)]
pub struct Throttle {
    window: Duration,
    last: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

impl Throttle {
    /// One occurrence per `window`.
    pub const fn new(window: Duration) -> Throttle {
        Throttle {
            window,
            last: Mutex::new(None),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(n)` when this occurrence should be logged, `n` being how many
    /// were suppressed since the last one logged; `None` to stay quiet.
    pub fn allow(&self) -> Option<u64> {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        match *last {
            Some(t) if now.saturating_duration_since(t) < self.window => {
                self.suppressed.fetch_add(1, Relaxed);
                None
            }
            _ => {
                *last = Some(now);
                Some(self.suppressed.swap(0, Relaxed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_then_one_per_window_with_the_count_suppressed() {
        let t = Throttle::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(t.allow_at(t0), Some(0));
        for s in 1..10 {
            assert_eq!(t.allow_at(t0 + Duration::from_secs(s)), None);
        }
        assert_eq!(t.allow_at(t0 + Duration::from_secs(10)), Some(9));
        assert_eq!(t.allow_at(t0 + Duration::from_secs(11)), None);
        assert_eq!(t.allow_at(t0 + Duration::from_secs(25)), Some(1));
    }
}
