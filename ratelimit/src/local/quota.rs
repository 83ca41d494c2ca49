//! The in-process daily counter of one key.

use std::sync::{Mutex, PoisonError};

/// Requests counted on one calendar day. Behind a per-key mutex (never a global one); the
/// critical sections are a few instructions.
#[derive(Debug, Default)]
pub(crate) struct DayCounter {
    state: Mutex<Count>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Count {
    day: i64,
    used: u64,
}

// === impl DayCounter ===

impl DayCounter {
    /// Counts one request on `day` if fewer than `quota` were counted: `Ok(used after)`,
    /// or `Err(used)` when the quota is spent. A new day starts from zero. The count is
    /// first raised to `at_least` if lower (never lowered).
    pub fn reserve(&self, day: i64, quota: u64, at_least: u64) -> Result<u64, u64> {
        let mut count = self.lock();
        if count.day != day {
            *count = Count { day, used: 0 };
        }
        count.used = count.used.max(at_least);
        if count.used >= quota {
            return Err(count.used);
        }
        count.used += 1;
        Ok(count.used)
    }

    /// Gives back a reservation made on `day` (the rate limit refused the request).
    pub fn release(&self, day: i64) {
        let mut count = self.lock();
        if count.day == day {
            count.used = count.used.saturating_sub(1);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Count> {
        // The count is two integers, consistent whatever a panicking holder did.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_up_to_the_quota_and_restarts_on_a_new_day() {
        let c = DayCounter::default();
        assert_eq!(c.reserve(10, 2, 0), Ok(1));
        assert_eq!(c.reserve(10, 2, 0), Ok(2));
        assert_eq!(c.reserve(10, 2, 0), Err(2));
        c.release(10);
        assert_eq!(c.reserve(10, 2, 0), Ok(2));
        c.release(9); // a stale release does not touch today's count
        assert_eq!(c.reserve(10, 2, 0), Err(2));
        assert_eq!(c.reserve(11, 2, 0), Ok(1));
        assert_eq!(c.reserve(11, 0, 0), Err(1));
    }

    #[test]
    fn a_count_can_start_above_zero_and_is_never_lowered() {
        let c = DayCounter::default();
        assert_eq!(c.reserve(10, 5, 3), Ok(4));
        assert_eq!(c.reserve(10, 5, 2), Ok(5), "not lowered to 2");
        assert_eq!(c.reserve(10, 5, 0), Err(5));
        assert_eq!(c.reserve(11, 5, 4), Ok(5), "a new day from its own floor");
        assert_eq!(c.reserve(12, 5, 9), Err(9));
    }
}
