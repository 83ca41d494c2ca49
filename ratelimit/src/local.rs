//! The in-process backend: one [`governor`] limiter and one daily counter per key, in a
//! concurrent map.
//!
//! Keys are created lazily on first use and rebuilt when the limit configured for them
//! changes (a policy reload), carrying the GCRA state and the day's count over. The map is
//! a sharded [`DashMap`]: a lookup takes one shard's read lock for a hash probe, then the
//! decision runs on the key's own state — no global lock on the hot path. The number of
//! keys is bounded by the policy (clients × scopes).
//!
//! Order of checks: the daily quota is reserved first (without it no rate token is taken),
//! then the rate is checked; a rate refusal gives the reservation back. So a refused
//! request consumes neither the quota nor the rate.

mod governed;
mod key;
mod quota;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use dashmap::DashMap;
use time::UtcOffset;

use crate::clock::{nanos, Clock};
use crate::day::Day;
use crate::decision::{Decision, Info, QuotaInfo, Verdict, Why};
use crate::error::LimiterError;
use crate::gcra::Params;
use crate::limit::{Key, Limit, Prepared};

use self::governed::{GovernedRate, RateOutcome};
pub(crate) use self::key::{KeyParts, SlotKey};
use self::quota::DayCounter;

/// Where a key's state starts: what Redis last reported of it, for the fallback.
pub(crate) trait StartFrom {
    /// The day's count of `key` on day `day` (days since 1970-01-01) is at least this.
    fn counted(&self, key: &Key<'_>, day: i64) -> u64;
    /// The bucket of `key` is full again no earlier than this (an absolute reading of
    /// the monotonic clock, ns).
    fn full_at(&self, key: &Key<'_>) -> Option<u64>;
}

/// Nothing known: a key's state is its own.
pub(crate) struct Fresh;

impl StartFrom for Fresh {
    fn counted(&self, _: &Key<'_>, _: i64) -> u64 {
        0
    }

    fn full_at(&self, _: &Key<'_>) -> Option<u64> {
        None
    }
}

/// In-process limiters for every key seen.
#[derive(Debug)]
pub(crate) struct LocalBackend {
    slots: DashMap<SlotKey, Arc<Slot>>,
    clock: Arc<dyn Clock>,
    zone: UtcOffset,
}

/// One key's state under one limit.
#[derive(Debug)]
struct Slot {
    limit: Limit,
    rate: GovernedRate,
    quota: Arc<DayCounter>,
}

// === impl LocalBackend ===

impl LocalBackend {
    /// An empty backend reading `clock`, counting days in `zone`.
    pub fn new(clock: Arc<dyn Clock>, zone: UtcOffset) -> Self {
        Self {
            slots: DashMap::new(),
            clock,
            zone,
        }
    }

    /// Decides one request for `key` under `limit` (validated into `params`) (tests:
    /// the limiter decides through [`check_all_from`](Self::check_all_from)). `now` is a
    /// wall-clock reading of this backend's clock, for the quota's calendar day; the GCRA
    /// reads the clock's monotonic time.
    #[cfg(test)]
    pub fn check(
        &self,
        key: &Key<'_>,
        limit: &Limit,
        params: &Params,
        now: SystemTime,
    ) -> Result<Decision, LimiterError> {
        self.check_from(key, limit, params, now, &Fresh)
    }

    /// [`check`](Self::check), with the key's state first brought to at least where
    /// `start` says it is (the fallback's starting point: what Redis reported).
    fn check_from(
        &self,
        key: &Key<'_>,
        limit: &Limit,
        params: &Params,
        now: SystemTime,
        start: &impl StartFrom,
    ) -> Result<Decision, LimiterError> {
        let slot = self.slot(key, limit, params);
        if let Some(at) = start.full_at(key) {
            slot.rate.raise_to(at);
        }
        // The GCRA runs on the monotonic clock, the calendar day on the wall clock.
        let now_ns = nanos(self.clock.monotonic());
        let mut reserved = None;
        if let Some(quota) = limit.daily_quota {
            let day = Day::containing(now, self.zone)?;
            match slot
                .quota
                .reserve(day.number, quota, start.counted(key, day.number))
            {
                Ok(used) => reserved = Some((day, quota, used)),
                Err(used) => {
                    let (remaining, reset) = slot.rate.gcra().peek(slot.rate.tat_abs(), now_ns);
                    let until_tomorrow = day.until_next(now);
                    return Ok(Decision::Limited(Info {
                        limit: *limit,
                        remaining,
                        reset_after: Duration::from_nanos(reset),
                        retry_after: Some(until_tomorrow),
                        quota: Some(quota_info(&day, quota, used, until_tomorrow)),
                        why: Some(Why::DailyQuota),
                    }));
                }
            }
        }
        let quota_state = |used: u64| {
            reserved.map(|(day, quota, _)| quota_info(&day, quota, used, day.until_next(now)))
        };
        // `now_ns` was read before the check's own clock reading, so
        // `tat - now_ns` is a few µs over the true time until the bucket is
        // full again, which the header's whole seconds round up to one
        // second more (`t=6` for a window of 5 s, `t=2` after one request
        // under a burst of 2 at 1/s). That time is never more than what
        // the spent tokens take to come back, `(burst − remaining) · T`,
        // nor than the whole window `τ + T`.
        let (t, window) = {
            let gcra = slot.rate.gcra();
            (gcra.t, gcra.tau.saturating_add(gcra.t))
        };
        match slot.rate.check() {
            RateOutcome::Allowed { remaining, tat } => Ok(Decision::Allowed(Info {
                limit: *limit,
                remaining,
                reset_after: Duration::from_nanos(
                    tat.saturating_sub(now_ns)
                        .min(window.saturating_sub(remaining.saturating_mul(t))),
                ),
                retry_after: None,
                quota: quota_state(reserved.map_or(0, |(_, _, used)| used)),
                why: None,
            })),
            RateOutcome::Refused { earliest } => {
                if let Some((day, _, _)) = &reserved {
                    slot.quota.release(day.number);
                }
                let tau = slot.rate.gcra().tau;
                Ok(Decision::Limited(Info {
                    limit: *limit,
                    remaining: 0,
                    reset_after: Duration::from_nanos(
                        earliest
                            .saturating_add(tau)
                            .saturating_sub(now_ns)
                            .min(window),
                    ),
                    retry_after: Some(Duration::from_nanos(earliest.saturating_sub(now_ns))),
                    quota: quota_state(reserved.map_or(0, |(_, _, used)| used.saturating_sub(1))),
                    why: Some(Why::Rate),
                }))
            }
        }
    }

    /// Decides one request under every limit of `checks`, in order: either all allow it
    /// and each counts it, or the first that refuses it is reported and what the ones
    /// before it took is given back at once. (Unlike the Redis script this is two steps:
    /// meanwhile a concurrent request of the same key may find that limit stricter by
    /// one request, never looser.) Each key's state starts at least where `start` says.
    pub fn check_all_from(
        &self,
        checks: &[Prepared<'_>],
        now: SystemTime,
        start: &impl StartFrom,
    ) -> Result<Verdict, LimiterError> {
        let mut infos = Vec::with_capacity(checks.len());
        for (index, c) in checks.iter().enumerate() {
            let decision = self.check_from(&c.key, &c.limit, &c.params, now, start)?;
            match decision {
                Decision::Allowed(info) => infos.push(info),
                Decision::Limited(info) => {
                    for earlier in &checks[..index] {
                        self.refund(&earlier.key, &earlier.limit, &earlier.params, now)?;
                    }
                    return Ok(Verdict::Limited { index, info });
                }
            }
        }
        Ok(Verdict::Allowed(infos))
    }

    /// Gives back what an allowed request for `key` under `limit` took at `now` (a later
    /// limit of the same request refused it): one rate token and, with a daily quota, one
    /// unit of the day's count.
    fn refund(
        &self,
        key: &Key<'_>,
        limit: &Limit,
        params: &Params,
        now: SystemTime,
    ) -> Result<(), LimiterError> {
        let slot = self.slot(key, limit, params);
        if limit.daily_quota.is_some() {
            let day = Day::containing(now, self.zone)?;
            slot.quota.release(day.number);
        }
        slot.rate.give_back();
        Ok(())
    }

    /// The number of keys held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// The key's slot, created or rebuilt for `limit` when needed.
    fn slot(&self, key: &Key<'_>, limit: &Limit, params: &Params) -> Arc<Slot> {
        if let Some(slot) = self.slots.get(key as &dyn KeyParts) {
            if slot.limit == *limit {
                return Arc::clone(&slot);
            }
        }
        // Slow path (first use, or the limit changed): under the shard's write lock, so
        // concurrent first uses agree on one slot.
        let mut entry = self.slots.entry(SlotKey::new(key)).or_insert_with(|| {
            Arc::new(Slot {
                limit: *limit,
                rate: GovernedRate::new(params, Arc::clone(&self.clock), None),
                quota: Arc::default(),
            })
        });
        if entry.limit != *limit {
            let old = Arc::clone(&entry);
            *entry = Arc::new(Slot {
                limit: *limit,
                rate: GovernedRate::new(params, Arc::clone(&self.clock), old.rate.tat_abs()),
                quota: Arc::clone(&old.quota),
            });
        }
        Arc::clone(&entry)
    }
}

fn quota_info(day: &Day, quota: u64, used: u64, until_tomorrow: Duration) -> QuotaInfo {
    QuotaInfo {
        limit: quota,
        remaining: quota.saturating_sub(used),
        resets_at_unix: day.next_start_unix,
        resets_after: until_tomorrow,
    }
}

#[cfg(test)]
mod tests;
