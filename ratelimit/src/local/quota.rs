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
    /// or `Err(used)` when the quota is spent. A new day starts from zero.
    pub fn reserve(&self, day: i64, quota: u64) -> Result<u64, u64> {
        let mut count = self.lock();
        if count.day != day {
            *count = Count { day, used: 0 };
        }
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
        assert_eq!(c.reserve(10, 2), Ok(1));
        assert_eq!(c.reserve(10, 2), Ok(2));
        assert_eq!(c.reserve(10, 2), Err(2));
        c.release(10);
        assert_eq!(c.reserve(10, 2), Ok(2));
        c.release(9); // a stale release does not touch today's count
        assert_eq!(c.reserve(10, 2), Err(2));
        assert_eq!(c.reserve(11, 2), Ok(1));
        assert_eq!(c.reserve(11, 0), Err(1));
    }
}
