//! Time sources: the wall clock in production, a clock that only moves when told to in
//! tests.
//!
//! The limiter reads its [`Clock`] once per decision. The in-process backend uses that
//! reading for everything (GCRA and the calendar day of the quota); the Redis backend uses
//! it for the calendar day and, by default, Redis' own `TIME` for the GCRA (see
//! [`TimeSource`](crate::TimeSource)).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock ([`SystemTime::now`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

/// A clock that stands still until [`set`](Self::set) or [`advance`](Self::advance)d.
/// Clones share one time. For tests, and for replaying a scenario deterministically.
#[derive(Debug, Clone)]
pub struct ManualClock {
    /// Nanoseconds since the Unix epoch.
    nanos: Arc<Mutex<u64>>,
}

// === impl SystemClock ===

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

// === impl ManualClock ===

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: SystemTime) -> Self {
        Self {
            nanos: Arc::new(Mutex::new(unix_nanos(at))),
        }
    }

    /// A clock showing `micros` microseconds after the Unix epoch.
    pub fn at_unix_micros(micros: u64) -> Self {
        Self::new(UNIX_EPOCH + Duration::from_micros(micros))
    }

    /// Moves the clock to `at` (backwards too).
    pub fn set(&self, at: SystemTime) {
        *self.lock() = unix_nanos(at);
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let mut nanos = self.lock();
        *nanos = nanos.saturating_add(by);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, u64> {
        // One integer: consistent whatever a panicking holder did.
        self.nanos.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(*self.lock())
    }
}

/// Nanoseconds since the Unix epoch, saturating (0 before it, `u64::MAX` after 2554).
pub(crate) fn unix_nanos(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Microseconds since the Unix epoch, saturating like [`unix_nanos`].
pub(crate) fn unix_micros(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_it() {
        let clock = ManualClock::at_unix_micros(1_000_000);
        let other = clock.clone();
        assert_eq!(unix_micros(clock.now()), 1_000_000);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(unix_micros(other.now()), 2_500_000);
        other.set(UNIX_EPOCH + Duration::from_secs(7));
        assert_eq!(unix_nanos(clock.now()), 7_000_000_000);
    }

    #[test]
    fn conversions_saturate_before_the_epoch() {
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(unix_nanos(before), 0);
        assert_eq!(unix_micros(before), 0);
    }
}
