//! One key's GCRA state in a [`governor`] direct rate limiter.
//!
//! governor makes the decision (`check()`: `Ok(StateSnapshot)` with
//! `remaining_burst_capacity()`, or `Err(NotUntil)` with the exact earliest conforming
//! time). Two things are plugged in:
//!
//! - [`GovClock`], reading the limiter's [`Clock`]'s *monotonic* time in nanoseconds, so a
//!   wall-clock step does not move any bucket, and tests drive governor with a manual
//!   clock;
//! - [`TatStore`], a governor [`StateStore`] that keeps the theoretical arrival time where
//!   this crate can read it. governor's snapshot does not expose the TAT, and the "reset
//!   after" of an allowed request (time until the bucket is full, for the `RateLimit`
//!   header's `t`) and the remaining capacity when the *quota* refuses (governor is then
//!   not asked, so nothing is taken) are computed from it with [`crate::gcra`]. The store
//!   is a mutex over one integer rather than governor's CAS loop: no unbounded retry loop.
//!
//! Before governor decides, a stored TAT later than `now + τ + T` (impossible for this
//! GCRA, see [`crate::gcra`]; on the monotonic clock it arises only when the key was
//! rebuilt for a lower limit) is clamped to `now + τ + T`, as the Redis script does.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use governor::clock::Clock as GovernorClock;
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::{NotKeyed, StateStore};
use governor::{Quota, RateLimiter};

use crate::clock::{nanos, Clock};
use crate::gcra::{Gcra, Params};

/// A governor direct limiter over a [`TatStore`] and a [`GovClock`].
type Governed = RateLimiter<NotKeyed, TatStore, GovClock, StateInformationMiddleware>;

/// The rate part of one key's decision, in nanoseconds of the monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateOutcome {
    /// Allowed: capacity left after this request, and the (absolute) TAT now stored.
    Allowed { remaining: u64, tat: u64 },
    /// Refused: the absolute time from which a request conforms.
    Refused { earliest: u64 },
}

/// governor's view of the limiter's clock: its monotonic reading, in nanoseconds.
#[derive(Debug)]
pub(crate) struct GovClock {
    source: Arc<dyn Clock>,
    /// The first reading. governor takes it as its `start` (`RateLimiter::new` reads the
    /// clock once) and stores times relative to it; keeping it lets [`TatStore`]'s values
    /// be turned back into absolute times. The table tests check this exactly.
    start: OnceLock<u64>,
}

/// A governor state store for one key: the TAT relative to governor's start, 0 = none.
#[derive(Debug, Clone, Default)]
pub(crate) struct TatStore(Arc<Mutex<u64>>);

/// One key's rate limiter.
#[derive(Debug)]
pub(crate) struct GovernedRate {
    limiter: Governed,
    tat: TatStore,
    gcra: Gcra,
}

// === impl GovernedRate ===

impl GovernedRate {
    /// A limiter for `params`, continuing from the absolute TAT `carry` (a rebuilt key
    /// keeps its state), reading `clock`.
    pub fn new(params: &Params, clock: Arc<dyn Clock>, carry: Option<u64>) -> Self {
        // `Params` guarantees an emission interval of at least 1 µs and a burst of at least
        // 1, so neither fallback is ever taken.
        let quota = Quota::with_period(params.emission())
            .unwrap_or(Quota::per_second(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(params.burst()).unwrap_or(NonZeroU32::MIN));
        let tat = TatStore::default();
        let limiter = RateLimiter::new(
            quota,
            tat.clone(),
            GovClock {
                source: clock,
                start: OnceLock::new(),
            },
        );
        let this = Self {
            limiter,
            tat,
            gcra: params.nanos(),
        };
        if let Some(abs) = carry {
            this.tat.set(abs.saturating_sub(this.start()));
        }
        this
    }

    /// Takes one request at governor's reading of the clock.
    pub fn check(&self) -> RateOutcome {
        let now = self.limiter.clock().now().as_u64();
        let latest = self.gcra.latest_possible_tat(now);
        self.tat.clamp_to(latest.saturating_sub(self.start()));
        match self.limiter.check() {
            Ok(snapshot) => RateOutcome::Allowed {
                remaining: u64::from(snapshot.remaining_burst_capacity()),
                tat: self.tat_abs().unwrap_or(0),
            },
            Err(not_until) => RateOutcome::Refused {
                earliest: not_until.earliest_possible().as_u64(),
            },
        }
    }

    /// The stored TAT as an absolute time (`None`: no request yet).
    pub fn tat_abs(&self) -> Option<u64> {
        match self.tat.get() {
            0 => None,
            rel => Some(self.start().saturating_add(rel)),
        }
    }

    /// Gives back the token an allowed request took: the TAT moves back one emission
    /// interval. Requests allowed since keep theirs (the subtraction commutes with their
    /// additions); a TAT already in the past stays equivalent to a full bucket.
    pub fn give_back(&self) {
        self.tat.sub(self.gcra.t);
    }

    /// Raises the stored TAT to at least the absolute time `at` (the bucket is full
    /// again no earlier than then). An `at` not after now changes nothing: a TAT in the
    /// past is a full bucket anyway.
    pub fn raise_to(&self, at: u64) {
        let now = self.limiter.clock().now().as_u64();
        if at > now {
            self.tat.raise_to(at.saturating_sub(self.start()));
        }
    }

    /// The algorithm's parameters in nanoseconds.
    pub fn gcra(&self) -> &Gcra {
        &self.gcra
    }

    fn start(&self) -> u64 {
        // Set by `RateLimiter::new`; `now()` would set it too, so this is never 0 in use.
        self.limiter.clock().start.get().copied().unwrap_or(0)
    }
}

// === impl GovClock ===

impl GovernorClock for GovClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        let now = nanos(self.source.monotonic());
        let _ = self.start.get_or_init(|| now);
        Nanos::from(now)
    }
}

// === impl TatStore ===

impl TatStore {
    fn get(&self) -> u64 {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, value: u64) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = value;
    }

    /// Moves a stored TAT back by `t` (0 stays "no request yet").
    fn sub(&self, t: u64) {
        let mut tat = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if *tat != 0 {
            // Never down to 0, which means "no state": 1 ns after governor's start is an
            // equally full bucket.
            *tat = tat.saturating_sub(t).max(1);
        }
    }

    /// Raises a TAT earlier than `at` (relative) to it, under the lock.
    fn raise_to(&self, at: u64) {
        let mut tat = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *tat = (*tat).max(at);
    }

    /// Clamps a TAT later than `latest` (relative) to it: an empty bucket one interval
    /// from its next token, never a fresh burst. Checked and set under the lock, so a
    /// TAT another request just stored is kept.
    fn clamp_to(&self, latest: u64) {
        let mut tat = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if *tat > latest {
            *tat = latest;
        }
    }
}

impl StateStore for TatStore {
    type Key = NotKeyed;

    fn measure_and_replace<T, F, E>(&self, _key: &NotKeyed, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        // The value is one integer: consistent whatever a panicking holder did.
        let mut tat = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = (*tat != 0).then(|| Nanos::from(*tat));
        let (outcome, next) = f(previous)?;
        *tat = next.as_u64();
        Ok(outcome)
    }
}
