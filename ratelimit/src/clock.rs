//! Time sources: the wall clock in production, a clock that only moves when told to in
//! tests.
//!
//! A [`Clock`] gives two readings:
//!
//! - [`now`](Clock::now), the wall clock: the calendar day of the daily quota (days are cut
//!   at midnight in the limiter's zone), and the time sent to Redis with
//!   [`TimeSource::Gateway`](crate::TimeSource);
//! - [`monotonic`](Clock::monotonic), a clock that never goes backwards: the in-process
//!   GCRA (governor) runs on it, so a wall-clock step (NTP, an operator, a VM resumed)
//!   neither blocks clients for the length of a backward step nor refills their buckets
//!   on a forward one.
//!
//! The Redis backend's GCRA runs on Redis' own `TIME` by default (see
//! [`TimeSource`](crate::TimeSource)); the script treats a stored theoretical arrival
//! time that no GCRA could have written (later than `now + τ + T`, as after a backward
//! step of that clock) as `now + τ + T`: an empty bucket, one interval from its next token.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of wall-clock and monotonic time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;

    /// Time since a fixed, arbitrary origin, on a clock that never goes backwards and is
    /// not stepped when the wall clock is (the in-process GCRA's time).
    fn monotonic(&self) -> Duration;
}

/// The system's wall clock ([`SystemTime::now`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

/// A clock that stands still until [`set`](Self::set) or [`advance`](Self::advance)d.
/// Clones share one time. For tests, and for replaying a scenario deterministically.
///
/// Its monotonic reading starts equal to the wall reading (nanoseconds since the Unix
/// epoch) and moves forward with it; a [`set`](Self::set) to an earlier time is a
/// wall-clock step back, which leaves the monotonic reading where it was.
#[derive(Debug, Clone)]
pub struct ManualClock {
    state: Arc<Mutex<Readings>>,
}

/// A [`ManualClock`]'s two readings, in nanoseconds.
#[derive(Debug, Clone, Copy)]
struct Readings {
    /// Wall clock: since the Unix epoch.
    wall: u64,
    /// Monotonic: since the clock's own origin.
    mono: u64,
}

// === impl SystemClock ===

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn monotonic(&self) -> Duration {
        /// The process-wide origin of [`SystemClock::monotonic`].
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        ORIGIN.get_or_init(Instant::now).elapsed()
    }
}

// === impl ManualClock ===

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: SystemTime) -> Self {
        let nanos = unix_nanos(at);
        Self {
            state: Arc::new(Mutex::new(Readings {
                wall: nanos,
                mono: nanos,
            })),
        }
    }

    /// A clock showing `micros` microseconds after the Unix epoch.
    pub fn at_unix_micros(micros: u64) -> Self {
        Self::new(UNIX_EPOCH + Duration::from_micros(micros))
    }

    /// Moves the wall clock to `at`. Forwards, time passes: the monotonic reading moves
    /// by as much. Backwards, the wall clock is stepped back: the monotonic reading stays.
    pub fn set(&self, at: SystemTime) {
        let at = unix_nanos(at);
        let mut state = self.lock();
        state.mono = state.mono.saturating_add(at.saturating_sub(state.wall));
        state.wall = at;
    }

    /// Lets `by` pass: both readings move forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let mut state = self.lock();
        state.wall = state.wall.saturating_add(by);
        state.mono = state.mono.saturating_add(by);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Readings> {
        // Two integers, each update leaving them consistent whatever a panicking holder
        // did.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.lock().wall)
    }

    fn monotonic(&self) -> Duration {
        Duration::from_nanos(self.lock().mono)
    }
}

/// Nanoseconds since the Unix epoch, saturating (0 before it, `u64::MAX` after 2554).
pub(crate) fn unix_nanos(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A duration in nanoseconds, saturating at `u64::MAX` (584 years).
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
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
    fn a_backward_set_steps_the_wall_clock_only() {
        let clock = ManualClock::at_unix_micros(100_000_000);
        let mono = clock.monotonic();
        assert_eq!(mono, Duration::from_secs(100), "starts at the wall reading");
        clock.set(UNIX_EPOCH + Duration::from_secs(40));
        assert_eq!(unix_micros(clock.now()), 40_000_000);
        assert_eq!(clock.monotonic(), mono, "a step back is not time passing");
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.monotonic(), mono + Duration::from_secs(1));
        clock.set(UNIX_EPOCH + Duration::from_secs(43));
        assert_eq!(clock.monotonic(), mono + Duration::from_secs(3));
        assert_eq!(unix_micros(clock.now()), 43_000_000);
    }

    #[test]
    fn the_system_clock_is_monotonic() {
        let a = SystemClock.monotonic();
        let b = SystemClock.monotonic();
        assert!(b >= a);
    }

    #[test]
    fn conversions_saturate_before_the_epoch() {
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(unix_nanos(before), 0);
        assert_eq!(unix_micros(before), 0);
    }
}
