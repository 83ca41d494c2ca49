//! What Redis last reported, per key, kept by each replica for its `fail_open_local`
//! fallback: the day's quota count ([`QuotaSeen`]) and when the bucket is full again
//! ([`RateSeen`]).
//!
//! Every Redis decision under a daily quota returns the day's count (`used`) for the key.
//! Each replica remembers the latest one for every key it has seen, for the current
//! calendar day only. When Redis becomes unreachable, the fallback starts the key's local
//! count from there, so it admits at most this replica's share of what is *left* of the
//! quota, not a fresh share of the whole quota (which let a fleet spend the quota once in
//! Redis and once more in the fallback).
//!
//! Memory: one entry (two integers) per key this replica has decided in Redis with a
//! quota, for the current day: entries of earlier days are dropped when the day changes.
//! The keys are bounded by the policy (clients × scopes).

use std::sync::atomic::{AtomicI64, Ordering};

use dashmap::DashMap;

use crate::limit::Key;
use crate::local::{KeyParts, SlotKey};

/// The last count Redis reported for each key today.
#[derive(Debug)]
pub(crate) struct QuotaSeen {
    entries: DashMap<SlotKey, Seen>,
    /// The latest day recorded (days since 1970-01-01 in the limiter's zone).
    today: AtomicI64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    day: i64,
    used: u64,
}

// === impl QuotaSeen ===

impl QuotaSeen {
    /// Nothing seen yet.
    pub fn new() -> Self {
        Self {
            entries: DashMap::new(),
            today: AtomicI64::new(i64::MIN),
        }
    }

    /// Records that Redis counted `used` requests of `key` on `day`. Counts only grow
    /// within a day: a reply overtaken by a later one does not lower it. A reply for a
    /// day before the latest one recorded is ignored.
    pub fn record(&self, key: &Key<'_>, day: i64, used: u64) {
        let today = self.today.fetch_max(day, Ordering::Relaxed);
        if day < today {
            return;
        }
        if day > today {
            // A new day: yesterday's counts are of no use any more.
            self.entries.retain(|_, seen| seen.day >= day);
        }
        let update = |seen: &mut Seen| {
            if seen.day < day {
                *seen = Seen { day, used };
            } else if seen.day == day {
                seen.used = seen.used.max(used);
            }
        };
        // A key seen before needs no owned copy of its name.
        if let Some(mut seen) = self.entries.get_mut(key as &dyn KeyParts) {
            update(&mut seen);
            return;
        }
        self.entries
            .entry(SlotKey::new(key))
            .and_modify(update)
            .or_insert(Seen { day, used });
    }

    /// The count Redis last reported for `key` on `day`, if any.
    pub fn used(&self, key: &Key<'_>, day: i64) -> Option<u64> {
        self.entries
            .get(key as &dyn KeyParts)
            .filter(|seen| seen.day == day)
            .map(|seen| seen.used)
    }

    /// The number of entries held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// When each key's bucket would be full again as Redis last reported it (an absolute
/// reading of the limiter's monotonic clock, ns), kept by each replica for its
/// `fail_open_local` fallback: the fallback's share starts as spent as the shared bucket
/// was, not full (which let a fleet spend a burst in Redis and, the moment Redis went
/// away, each replica its share of another one).
///
/// The share divides the rate and the burst by the same number, so it refills in the
/// same time as the whole bucket: the same "full at" instant gives the share the same
/// fraction of its burst. Memory: one integer per key decided in Redis, bounded by the
/// policy (clients × scopes).
#[derive(Debug, Default)]
pub(crate) struct RateSeen {
    full_at: DashMap<SlotKey, u64>,
}

// === impl RateSeen ===

impl RateSeen {
    /// Records that `key`'s bucket is full again at `full_at` (the latest report wins:
    /// a report may lower it only if it comes later, which a reply overtaken by another
    /// cannot tell apart; keeping the later instant errs on the strict side).
    pub fn record(&self, key: &Key<'_>, full_at: u64) {
        if let Some(mut at) = self.full_at.get_mut(key as &dyn KeyParts) {
            *at = (*at).max(full_at);
            return;
        }
        self.full_at
            .entry(SlotKey::new(key))
            .and_modify(|at| *at = (*at).max(full_at))
            .or_insert(full_at);
    }

    /// When `key`'s bucket is full again as last reported, if it was.
    pub fn full_at(&self, key: &Key<'_>) -> Option<u64> {
        self.full_at.get(key as &dyn KeyParts).map(|at| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_full_instant_per_key() {
        let seen = RateSeen::default();
        let (a, b) = (Key::client("a"), Key::scoped("a", "report"));
        assert_eq!(seen.full_at(&a), None);
        seen.record(&a, 50);
        seen.record(&a, 70);
        seen.record(&a, 60); // overtaken by the reply of 70
        seen.record(&b, 5);
        assert_eq!((seen.full_at(&a), seen.full_at(&b)), (Some(70), Some(5)));
    }

    #[test]
    fn keeps_the_highest_count_of_the_day_per_key() {
        let seen = QuotaSeen::new();
        let (a, b) = (Key::client("a"), Key::scoped("a", "report"));
        assert_eq!(seen.used(&a, 10), None);
        seen.record(&a, 10, 3);
        seen.record(&a, 10, 5);
        seen.record(&a, 10, 4); // overtaken by the reply of 5
        seen.record(&b, 10, 1);
        assert_eq!(seen.used(&a, 10), Some(5));
        assert_eq!(seen.used(&b, 10), Some(1));
        assert_eq!(seen.used(&Key::client("b"), 10), None);
        assert_eq!(seen.used(&a, 11), None, "another day");
    }

    #[test]
    fn a_new_day_drops_the_counts_of_earlier_days() {
        let seen = QuotaSeen::new();
        let keys = [Key::client("a"), Key::client("b"), Key::client("c")];
        for key in &keys {
            seen.record(key, 10, 7);
        }
        assert_eq!(seen.len(), 3);
        seen.record(&keys[0], 11, 1);
        assert_eq!(seen.len(), 1, "only today's entries are kept");
        assert_eq!(seen.used(&keys[0], 11), Some(1));
        assert_eq!(seen.used(&keys[1], 10), None);
        seen.record(&keys[1], 10, 9); // a late reply of yesterday
        assert_eq!(seen.len(), 1);
        assert_eq!(seen.used(&keys[1], 10), None);
    }
}
