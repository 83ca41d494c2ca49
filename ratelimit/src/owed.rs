//! What the fallback admitted under a daily quota while Redis was down, per quota key:
//! added to Redis' count of the day once Redis answers again, so that the fleet's count
//! of the day includes it (another outage later that day then starts from the right
//! count, and the quota is not spent twice over).
//!
//! One entry per quota key the fallback counted (the keys are the policy's clients and
//! scopes: bounded), for the current day only: an entry of an earlier day is dropped, as
//! its Redis key is gone or going.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Owed {
    inner: Mutex<HashMap<String, Entry>>,
}

/// What one quota key is owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The day (day number) the count belongs to.
    pub day: i64,
    /// Requests admitted by the fallback.
    pub count: u64,
    /// The quota key's lifetime to set when the add creates it (seconds).
    pub lifetime_secs: u64,
}

impl Owed {
    /// Counts `n` more requests admitted on `day` under the Redis quota key `key`.
    pub fn add(&self, key: &str, day: i64, n: u64, lifetime_secs: u64) {
        let mut map = self.lock();
        let entry = map.entry(key.to_owned()).or_insert(Entry {
            day,
            count: 0,
            lifetime_secs,
        });
        if entry.day != day {
            // A new day: the old day's count is of no use any more.
            *entry = Entry {
                day,
                count: 0,
                lifetime_secs,
            };
        }
        entry.count = entry.count.saturating_add(n);
        entry.lifetime_secs = lifetime_secs;
    }

    /// Takes every count of `today` (dropping those of other days).
    pub fn take(&self, today: i64) -> Vec<(String, Entry)> {
        let mut map = self.lock();
        std::mem::take(&mut *map)
            .into_iter()
            .filter(|(_, e)| e.day == today && e.count > 0)
            .collect()
    }

    /// Puts back what could not be added (tried again at the next recovery).
    pub fn give_back(&self, key: String, entry: Entry) {
        self.add(&key, entry.day, entry.count, entry.lifetime_secs);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key_and_day_and_takes_only_today() {
        let o = Owed::default();
        o.add("q:a", 10, 1, 100);
        o.add("q:a", 10, 2, 90);
        o.add("q:b", 9, 5, 100);
        let mut taken = o.take(10);
        taken.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            taken,
            vec![(
                "q:a".to_owned(),
                Entry {
                    day: 10,
                    count: 3,
                    lifetime_secs: 90
                }
            )]
        );
        assert!(o.take(10).is_empty(), "taken once; yesterday's dropped");
    }

    #[test]
    fn a_new_day_restarts_the_count_and_given_back_counts_add_up() {
        let o = Owed::default();
        o.add("q:a", 10, 4, 100);
        o.add("q:a", 11, 1, 100);
        let taken = o.take(11);
        assert_eq!(taken[0].1.count, 1);
        o.give_back(taken[0].0.clone(), taken[0].1);
        o.add("q:a", 11, 2, 100);
        assert_eq!(o.take(11)[0].1.count, 3);
    }
}
