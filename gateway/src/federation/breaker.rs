//! A circuit breaker per upstream: after `failure_threshold` consecutive
//! failures (or a failure ratio over a sliding count window) it opens and
//! calls fail fast without touching the platform; after `open_for` it lets
//! a few half-open probes through, and closes on their success.
//!
//! Hand-written because no well-kept crate fits: the available ones are
//! tower middleware or tied to other runtimes, and this one must export its
//! state to `/readyz` and metrics; it is a small state machine under a mutex
//! that is held for a few instructions, never across an await.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod shared;
pub use shared::SharedTicket;

/// Breaker thresholds.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    #[serde(default = "d::failure_threshold")]
    pub failure_threshold: u32,
    /// Failure ratio (0–1) over the last `window` calls that opens it.
    #[serde(default = "d::failure_ratio")]
    pub failure_ratio: f64,
    /// Number of recent calls the ratio is computed over (ratio applies
    /// once the window is full).
    #[serde(default = "d::window")]
    pub window: u32,
    /// How long the breaker stays open before probing.
    #[serde(default = "d::open_ms")]
    pub open_ms: u64,
    /// Probes allowed at once while half-open.
    #[serde(default = "d::half_open_probes")]
    pub half_open_probes: u32,
}

mod d {
    pub fn failure_threshold() -> u32 {
        5
    }
    pub fn failure_ratio() -> f64 {
        0.5
    }
    pub fn window() -> u32 {
        20
    }
    pub fn open_ms() -> u64 {
        5_000
    }
    pub fn half_open_probes() -> u32 {
        1
    }
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: d::failure_threshold(),
            failure_ratio: d::failure_ratio(),
            window: d::window(),
            open_ms: d::open_ms(),
            half_open_probes: d::half_open_probes(),
        }
    }
}

/// The breaker's externally visible state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// Calls fail fast.
    Open,
    /// A limited number of probes flow.
    HalfOpen,
}

impl BreakerState {
    /// Lower-case name for `/readyz` and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug)]
enum Inner {
    Closed {
        consecutive: u32,
        recent: u64, // bit history of the last `window` calls, 1 = failure
        seen: u32,
    },
    Open {
        until: Instant,
    },
    HalfOpen {
        in_flight: u32,
        /// Which half-open period this is (probe tickets name theirs).
        period: u64,
    },
}

/// A circuit breaker.
#[derive(Debug)]
pub struct Breaker {
    cfg: BreakerConfig,
    inner: Mutex<Inner>,
    /// Half-open periods begun so far (changed under `inner`'s lock).
    periods: AtomicU64,
}

/// Permission to make one call; report its outcome with [`Breaker::record`].
/// A probe's ticket dropped without an outcome (the call was cancelled: a
/// deadline around it, the client went away, the wait queue was full)
/// gives its half-open slot back, so a later call can probe; otherwise the
/// breaker would stay half-open, refusing every call, until a restart.
#[derive(Debug)]
#[must_use]
pub struct Ticket<'a> {
    breaker: &'a Breaker,
    /// The half-open period a probe was let through in.
    probe: Option<u64>,
    reported: bool,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let Some(mine) = self.probe.filter(|_| !self.reported) else {
            return;
        };
        // Only into the period it was taken from: a later period counts
        // its own probes.
        if let Inner::HalfOpen { in_flight, period } = &mut *self.breaker.lock() {
            if *period == mine {
                *in_flight = in_flight.saturating_sub(1);
            }
        }
    }
}

impl Breaker {
    /// A closed breaker.
    pub fn new(mut cfg: BreakerConfig) -> Breaker {
        cfg.window = cfg.window.clamp(1, 64);
        cfg.failure_threshold = cfg.failure_threshold.max(1);
        cfg.half_open_probes = cfg.half_open_probes.max(1);
        Breaker {
            cfg,
            inner: Mutex::new(Inner::Closed {
                consecutive: 0,
                recent: 0,
                seen: 0,
            }),
            periods: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means a panic elsewhere mid-update of plain
        // counters; the state is still meaningful.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks to make a call; `None` when the breaker is open (fail fast).
    pub fn try_acquire(&self) -> Option<Ticket<'_>> {
        let ticket = |probe| Ticket {
            breaker: self,
            probe,
            reported: false,
        };
        let mut g = self.lock();
        match &mut *g {
            Inner::Closed { .. } => Some(ticket(None)),
            Inner::Open { until } => {
                if Instant::now() >= *until {
                    let period = self.periods.fetch_add(1, Ordering::Relaxed) + 1;
                    *g = Inner::HalfOpen {
                        in_flight: 1,
                        period,
                    };
                    Some(ticket(Some(period)))
                } else {
                    None
                }
            }
            Inner::HalfOpen { in_flight, period } => {
                if *in_flight < self.cfg.half_open_probes {
                    *in_flight += 1;
                    Some(ticket(Some(*period)))
                } else {
                    None
                }
            }
        }
    }

    /// One ticket for a group of calls ([`SharedTicket`]): refused
    /// (`granted()` false) when [`Breaker::try_acquire`] would be.
    pub fn try_acquire_shared(&self) -> SharedTicket<'_> {
        SharedTicket::new(self.try_acquire())
    }

    /// While open: how long until the next call is let through as a
    /// probe (at least 1 s, in whole seconds: a `Retry-After`). Half-open
    /// with its probes out, or closed: 1.
    pub fn retry_after_secs(&self) -> u64 {
        match &*self.lock() {
            Inner::Open { until } => until
                .saturating_duration_since(Instant::now())
                .as_millis()
                .div_ceil(1000)
                .max(1)
                .try_into()
                .unwrap_or(u64::MAX),
            _ => 1,
        }
    }

    /// Records a call's outcome.
    pub fn record(&self, mut ticket: Ticket<'_>, success: bool) {
        ticket.reported = true;
        let probe_period = ticket.probe;
        let probe = probe_period.is_some();
        drop(ticket);
        let mut g = self.lock();
        let open = Inner::Open {
            until: Instant::now() + Duration::from_millis(self.cfg.open_ms),
        };
        if let Inner::HalfOpen { period, .. } = *g {
            // Only this period's probes decide. A late result of a call
            // taken while the breaker was closed (calls with retries outlast
            // the open period) or of an earlier period's probe says nothing
            // about the platform now: a success must not close the breaker
            // while the real probe is still out.
            if probe_period != Some(period) {
                return;
            }
            *g = if success {
                Inner::Closed {
                    consecutive: 0,
                    recent: 0,
                    seen: 0,
                }
            } else {
                open
            };
            return;
        }
        match &mut *g {
            Inner::Closed {
                consecutive,
                recent,
                seen,
            } if !probe => {
                let w = self.cfg.window;
                let mask = if w >= 64 { u64::MAX } else { (1u64 << w) - 1 };
                *recent = ((*recent << 1) | u64::from(!success)) & mask;
                *seen = (*seen + 1).min(w);
                if success {
                    *consecutive = 0;
                } else {
                    *consecutive += 1;
                }
                let failures = recent.count_ones();
                let ratio_trips =
                    *seen >= w && f64::from(failures) / f64::from(w) >= self.cfg.failure_ratio;
                if *consecutive >= self.cfg.failure_threshold || ratio_trips {
                    *g = open;
                }
            }
            // A late result from before the breaker opened: ignore.
            _ => {}
        }
    }

    /// The current state (an expired open period reads as half-open).
    pub fn state(&self) -> BreakerState {
        match &*self.lock() {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { until } if Instant::now() >= *until => BreakerState::HalfOpen,
            Inner::Open { .. } => BreakerState::Open,
            Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn cfg(open_ms: u64) -> BreakerConfig {
        BreakerConfig {
            failure_threshold: 3,
            failure_ratio: 0.5,
            window: 10,
            open_ms,
            half_open_probes: 1,
        }
    }

    /// `Retry-After` on a refusal says when the next probe goes out, not
    /// always 1 s (black-box review: clients honouring it retried into
    /// more refusals for the rest of `open_ms`).
    #[test]
    fn an_open_breaker_says_when_it_probes_again() {
        let b = Breaker::new(cfg(5_000));
        assert_eq!(b.retry_after_secs(), 1, "closed");
        for _ in 0..3 {
            let t = b.try_acquire().unwrap();
            b.record(t, false);
        }
        assert!(b.try_acquire().is_none());
        let secs = b.retry_after_secs();
        assert!((4..=5).contains(&secs), "{secs}");
        let b = tripped();
        assert_eq!(b.retry_after_secs(), 1, "due to probe now");
    }

    /// A breaker opened by three failures, ready to probe at once.
    pub(super) fn tripped() -> Breaker {
        let b = Breaker::new(cfg(0));
        for _ in 0..3 {
            let t = b.try_acquire().unwrap();
            b.record(t, false);
        }
        b
    }

    #[test]
    fn opens_after_consecutive_failures_and_fails_fast() {
        let b = Breaker::new(cfg(60_000));
        for _ in 0..2 {
            let t = b.try_acquire().unwrap();
            b.record(t, false);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        let t = b.try_acquire().unwrap();
        b.record(t, false);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.try_acquire().is_none());
    }

    #[test]
    fn a_success_resets_the_consecutive_count() {
        let b = Breaker::new(cfg(60_000));
        for ok in [false, false, true, false, false] {
            let t = b.try_acquire().unwrap();
            b.record(t, ok);
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn opens_on_failure_ratio_over_the_window() {
        let b = Breaker::new(cfg(60_000));
        // Alternate: never 3 in a row, but 50% of the last 10.
        for i in 0..10 {
            let t = b.try_acquire().unwrap();
            b.record(t, i % 2 == 0);
        }
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn only_the_probe_decides_a_half_open_breaker() {
        let b = Breaker::new(cfg(0));
        // Taken while closed; it outlasts the trip and the open period.
        let late_ok = b.try_acquire().unwrap();
        let late_fail = b.try_acquire().unwrap();
        for _ in 0..3 {
            let t = b.try_acquire().unwrap();
            b.record(t, false);
        }
        let probe = b.try_acquire().expect("half-open: one probe");
        b.record(late_ok, true);
        assert_eq!(
            b.state(),
            BreakerState::HalfOpen,
            "a late success closed it"
        );
        b.record(late_fail, false);
        assert_eq!(
            b.state(),
            BreakerState::HalfOpen,
            "a late failure reopened it"
        );
        assert!(b.try_acquire().is_none(), "still one probe at a time");
        b.record(probe, true);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn a_probe_dropped_without_an_outcome_lets_another_probe() {
        let b = tripped();
        let probe = b.try_acquire().unwrap();
        assert!(b.try_acquire().is_none(), "one probe at a time");
        drop(probe);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.try_acquire().expect("the slot was given back");
        b.record(probe, true);
        assert_eq!(b.state(), BreakerState::Closed);
        // A dropped ticket of a closed breaker changes nothing.
        drop(b.try_acquire().unwrap());
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn a_stale_probe_ticket_does_not_free_a_later_periods_slot() {
        let b = tripped();
        let stale = b.try_acquire().unwrap();
        let failing = b.try_acquire();
        assert!(failing.is_none());
        // Another probe path reopens the breaker: a new half-open period.
        *b.lock() = Inner::Open {
            until: Instant::now(),
        };
        let current = b.try_acquire().unwrap();
        drop(stale);
        assert!(
            b.try_acquire().is_none(),
            "the current probe still holds the slot"
        );
        drop(current);
        assert!(b.try_acquire().is_some());
    }

    #[test]
    fn half_open_probe_closes_on_success_and_reopens_on_failure() {
        let b = tripped();
        // open_ms = 0: the next acquire is a probe; only one at a time.
        let probe = b.try_acquire().unwrap();
        assert!(b.try_acquire().is_none(), "one probe at a time");
        b.record(probe, false);
        let probe = b.try_acquire().unwrap();
        b.record(probe, true);
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.try_acquire().is_some());
    }
}
