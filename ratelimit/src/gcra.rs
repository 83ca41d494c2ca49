//! The GCRA arithmetic shared by both backends (pure: no clock, no I/O).
//!
//! The generic cell rate algorithm keeps one number per key, the *theoretical arrival
//! time* (TAT): the time at which the bucket would be empty again if no further request
//! came. With the emission interval `T = 1 / per_second` and the tolerance
//! `τ = T · (burst − 1)`:
//!
//! - a request at `now` is **allowed** iff `now ≥ max(TAT, now) − τ`; the new TAT is then
//!   `max(TAT, now) + T`;
//! - **remaining** (requests that would still pass at `now`, after this one) is
//!   `⌊(now + τ − max(TAT, now)) / T⌋`, i.e. `burst − 1` from a full bucket;
//! - **reset after** (time until the bucket is full again) is `TAT − now` (new TAT when
//!   allowed);
//! - **retry after** (refused: when the next request would pass, exactly) is
//!   `TAT − τ − now`.
//!
//! **Impossible state.** An allowed request stores `max(TAT, now) + T` with
//! `max(TAT, now) ≤ now + τ`, so a TAT written at time `w` is at most `w + τ + T`: a stored
//! TAT later than `now + τ + T` cannot have been written by this GCRA at or before `now`.
//! It appears when the clock the TAT was measured on has been stepped back (or when the
//! limit has been lowered since). Such a TAT is clamped to `now + τ + T` (an empty
//! bucket, one interval from its next token), in [`Gcra::decide`], [`Gcra::peek`], the
//! in-process backend and the Redis script alike: neither a refusal for the length of
//! the step nor a fresh burst.
//!
//! Burst convention: `burst` is the number of requests allowed at once from a full bucket
//! (governor's `Quota::allow_burst`), hence `τ = T · (burst − 1)`.
//!
//! `T` is a whole number of microseconds (`1e6 / per_second`, rounded to the nearest, at
//! least 1): the Redis script computes in microseconds, which a Lua double holds exactly
//! for any Unix time this century, and governor computes in nanoseconds on the same `T`, so
//! all three agree exactly on microsecond-aligned times. [`Gcra`] works in whatever unit
//! it is built for ([`Params::micros`] or [`Params::nanos`]).

use std::time::Duration;

use crate::error::LimitError;
use crate::limit::Limit;

/// Longest accepted refill window (`T · burst`): 100 years in microseconds, far below
/// 2⁵³ (exact in a Lua double) even added to a Unix time in microseconds.
///
/// The policy validator (`credgate-policy`, `validate/checks.rs`) applies the same bound
/// with the same arithmetic, so `credgate policy check` refuses what this crate refuses;
/// `tests/ratelimit/policy_bound.rs` checks that they agree.
pub(crate) const MAX_WINDOW_MICROS: u64 = 100 * 365 * 24 * 3600 * 1_000_000;

/// The validated, discretised parameters of a [`Limit`]'s rate part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    emission_micros: u64,
    burst: u32,
}

/// GCRA in one time unit (microseconds or nanoseconds): `t` = emission interval,
/// `tau` = tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    /// Emission interval `T`.
    pub t: u64,
    /// Tolerance `τ = T · (burst − 1)`.
    pub tau: u64,
}

/// The result of one [`Gcra::decide`], in the [`Gcra`]'s unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the request conforms.
    pub allowed: bool,
    /// The TAT to store: the new one when allowed, the (unchanged) current one otherwise.
    pub tat: u64,
    /// Requests that would still pass at the same instant.
    pub remaining: u64,
    /// Time until the bucket is full.
    pub reset_after: u64,
    /// When refused: time until the next request would pass.
    pub retry_after: Option<u64>,
}

// === impl Params ===

impl Params {
    /// Validates and discretises `limit` (its `daily_quota` is not looked at).
    pub fn new(limit: &Limit) -> Result<Self, LimitError> {
        let rate = limit.per_second;
        if !rate.is_finite() || rate <= 0.0 {
            return Err(LimitError::Rate(rate));
        }
        if limit.burst == 0 {
            return Err(LimitError::ZeroBurst);
        }
        let exact = 1e6 / rate;
        // `as` saturates; anything that large fails the window check below.
        let emission_micros = (exact.round() as u64).max(1);
        let window = emission_micros
            .checked_mul(u64::from(limit.burst))
            .filter(|w| *w <= MAX_WINDOW_MICROS);
        if !exact.is_finite() || window.is_none() {
            return Err(LimitError::WindowTooLong);
        }
        Ok(Self {
            emission_micros,
            burst: limit.burst,
        })
    }

    /// The emission interval `T`.
    pub fn emission(&self) -> Duration {
        Duration::from_micros(self.emission_micros)
    }

    /// `T` in microseconds.
    pub fn emission_micros(&self) -> u64 {
        self.emission_micros
    }

    /// The burst (requests at once).
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// The time to refill a whole burst from empty, `T · burst`.
    pub fn window(&self) -> Duration {
        Duration::from_micros(self.emission_micros.saturating_mul(u64::from(self.burst)))
    }

    /// The algorithm in microseconds (the Redis script's unit).
    pub fn micros(&self) -> Gcra {
        Gcra::new(self.emission_micros, self.burst)
    }

    /// The algorithm in nanoseconds (governor's unit).
    pub fn nanos(&self) -> Gcra {
        Gcra::new(self.emission_micros.saturating_mul(1000), self.burst)
    }
}

// === impl Gcra ===

impl Gcra {
    /// From `T` and the burst, in one unit.
    pub fn new(t: u64, burst: u32) -> Self {
        let t = t.max(1);
        Self {
            t,
            tau: t.saturating_mul(u64::from(burst.max(1)) - 1),
        }
    }

    /// The burst these parameters allow.
    pub fn burst(&self) -> u64 {
        self.tau / self.t + 1
    }

    /// The latest TAT this GCRA can hold at `now`: `now + τ + T` (see the module docs).
    pub fn latest_possible_tat(&self, now: u64) -> u64 {
        now.saturating_add(self.tau).saturating_add(self.t)
    }

    /// The TAT in force at `now` given the stored one: `now` for no state or an old
    /// TAT (a full bucket); an impossible one (later than
    /// [`latest_possible_tat`](Self::latest_possible_tat): a clock stepped back, a
    /// lowered limit) is clamped to it, an empty bucket one interval from its next
    /// token, never a fresh burst; the stored TAT otherwise.
    pub fn current_tat(&self, tat: Option<u64>, now: u64) -> u64 {
        match tat {
            Some(tat) => tat.max(now).min(self.latest_possible_tat(now)),
            None => now,
        }
    }

    /// Decides one request at `now` given the stored TAT (`None`: no state, a full
    /// bucket; an impossible TAT is clamped, see [`current_tat`](Self::current_tat)).
    /// When the stored TAT was clamped, the caller stores [`Outcome::tat`] even for a
    /// refusal, or the next decision clamps the same far value again.
    pub fn decide(&self, tat: Option<u64>, now: u64) -> Outcome {
        let tat = self.current_tat(tat, now);
        let earliest = tat.saturating_sub(self.tau);
        if now < earliest {
            return Outcome {
                allowed: false,
                tat,
                remaining: 0,
                reset_after: tat - now,
                retry_after: Some(earliest - now),
            };
        }
        let next = tat.saturating_add(self.t);
        Outcome {
            allowed: true,
            tat: next,
            // now + τ − tat ≥ 0 because the request conforms.
            remaining: (now.saturating_add(self.tau) - tat) / self.t,
            reset_after: next - now,
            retry_after: None,
        }
    }

    /// Remaining capacity and time to full at `now` without taking a request (used when
    /// the daily quota refuses before the rate is consulted): `(remaining, reset_after)`.
    pub fn peek(&self, tat: Option<u64>, now: u64) -> (u64, u64) {
        let tat = self.current_tat(tat, now);
        let room = self.latest_possible_tat(now);
        (
            (room.saturating_sub(tat) / self.t).min(self.burst()),
            tat - now,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emission_interval_is_rounded_microseconds() {
        let p = Params::new(&Limit::new(3.0, 4)).unwrap();
        assert_eq!(p.emission_micros(), 333_333);
        assert_eq!(
            p.micros(),
            Gcra {
                t: 333_333,
                tau: 999_999
            }
        );
        assert_eq!(
            p.nanos(),
            Gcra {
                t: 333_333_000,
                tau: 999_999_000
            }
        );
        assert_eq!(p.window(), Duration::from_micros(1_333_332));
        let fast = Params::new(&Limit::new(5e6, 1)).unwrap();
        assert_eq!(fast.emission_micros(), 1, "at least one microsecond");
    }

    #[test]
    fn a_full_bucket_allows_burst_then_spaces_by_t() {
        let g = Gcra::new(100, 3);
        let mut tat = None;
        let mut remaining = Vec::new();
        for _ in 0..3 {
            let o = g.decide(tat, 1000);
            assert!(o.allowed);
            remaining.push(o.remaining);
            tat = Some(o.tat);
        }
        assert_eq!(remaining, [2, 1, 0]);
        let refused = g.decide(tat, 1000);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, Some(100));
        assert_eq!(refused.reset_after, 300);
        assert_eq!(refused.tat, 1300, "a refusal does not move the TAT");
        assert!(g.decide(tat, 1099).retry_after == Some(1));
        assert!(g.decide(tat, 1100).allowed);
    }

    #[test]
    fn peek_reports_a_full_bucket_without_state_and_takes_nothing() {
        let g = Gcra::new(100, 3);
        assert_eq!(g.peek(None, 5), (3, 0));
        assert_eq!(g.peek(Some(1300), 1000), (0, 300));
        assert_eq!(g.peek(Some(1300), 1150), (1, 150));
        assert_eq!(
            g.peek(Some(10), 1000),
            (3, 0),
            "an old TAT is a full bucket"
        );
        assert_eq!(
            g.peek(Some(1301), 1000),
            (0, 300),
            "an impossible TAT is clamped: an empty bucket, never a fresh burst"
        );
    }

    #[test]
    fn a_tat_beyond_now_plus_tau_plus_t_is_clamped_to_it() {
        // 10/s, burst 20: T = 100 ms, τ = 1.9 s, in µs. A clock stepped back 60 s after
        // the bucket was in use leaves a TAT ~60 s in the future.
        let g = Params::new(&Limit::new(10.0, 20)).unwrap().micros();
        let now = 1_000_000_000;
        assert_eq!(g.latest_possible_tat(now), now + 2_000_000);
        let stepped = g.decide(Some(now + 61_400_000), now);
        assert!(!stepped.allowed, "{stepped:?}");
        assert_eq!(stepped.remaining, 0, "an empty bucket, not a fresh burst");
        assert_eq!(
            stepped.retry_after,
            Some(100_000),
            "one T, not the 60 s step"
        );
        assert_eq!(stepped.tat, now + 2_000_000, "clamped");
        // The caller stores the clamped TAT: one T later the next token is there.
        assert!(g.decide(Some(stepped.tat), now + 100_000).allowed);
        // The most a GCRA can legitimately hold (an empty bucket right after a request)
        // is kept: refused, exactly one T to wait.
        let full = g.decide(Some(now + 2_000_000), now);
        assert!(!full.allowed);
        assert_eq!(full.retry_after, Some(100_000));
        assert_eq!(full.tat, now + 2_000_000);
        // One microsecond beyond is impossible: the same as the most it can hold.
        assert_eq!(g.decide(Some(now + 2_000_001), now), full);
        // Near the top of the range nothing overflows.
        let top = g.decide(Some(u64::MAX), u64::MAX - 1);
        assert!(top.allowed && top.tat == u64::MAX, "{top:?}");
    }
}
