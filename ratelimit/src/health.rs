//! Whether Redis is usable, and when to try it again after a failure.
//!
//! While Redis is up every decision goes to it. After a failed call it is *down*: decisions
//! are made without it at once (fallback or refusal), and only one request at a time, at
//! most once per backoff interval, is sent to Redis as a probe (bounded by the call
//! timeout like any call). The interval starts at the minimum and doubles up to the maximum
//! while probes keep failing; a success (probe or not) brings Redis back at once.
//!
//! The transitions are returned to the caller, which logs and counts each one once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Redis availability and the probe schedule.
#[derive(Debug)]
pub(crate) struct Health {
    down: AtomicBool,
    probing: AtomicBool,
    /// Milliseconds since `origin` from which the next probe may go.
    next_probe_ms: AtomicU64,
    /// The current backoff (ms).
    backoff_ms: AtomicU64,
    min_backoff_ms: u64,
    max_backoff_ms: u64,
    origin: Instant,
}

/// Where one decision goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Redis is up: ask it.
    Redis,
    /// Redis is down and this request is the probe: ask it.
    Probe,
    /// Redis is down: do not ask it.
    Without,
}

/// A change of availability, to be logged and counted once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    /// Redis just became unusable.
    WentDown,
    /// Redis answered again.
    CameBack,
}

/// See [`Health::guard`]; [`ProbeGuard::reported`] once the call has an outcome.
#[derive(Debug)]
pub(crate) struct ProbeGuard<'a> {
    health: &'a Health,
    armed: bool,
}

impl ProbeGuard<'_> {
    /// The call finished; its outcome goes to [`Health::succeeded`] or [`Health::failed`].
    pub fn reported(mut self) {
        self.armed = false;
    }
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.health.probing.store(false, Ordering::Release);
        }
    }
}

// === impl Health ===

impl Health {
    /// Up, probing after failures every `min_backoff` doubling to `max_backoff`.
    pub fn new(min_backoff: Duration, max_backoff: Duration) -> Self {
        let min = u64::try_from(min_backoff.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let max = u64::try_from(max_backoff.as_millis())
            .unwrap_or(u64::MAX)
            .max(min);
        Self {
            down: AtomicBool::new(false),
            probing: AtomicBool::new(false),
            next_probe_ms: AtomicU64::new(0),
            backoff_ms: AtomicU64::new(min),
            min_backoff_ms: min,
            max_backoff_ms: max,
            origin: Instant::now(),
        }
    }

    /// Whether Redis is considered down.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// Where the next decision goes.
    pub fn route(&self) -> Route {
        if !self.is_down() {
            return Route::Redis;
        }
        if self.elapsed_ms() >= self.next_probe_ms.load(Ordering::Acquire)
            && self
                .probing
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            return Route::Probe;
        }
        Route::Without
    }

    /// A call routed `route` succeeded.
    pub fn succeeded(&self, route: Route) -> Option<Transition> {
        let came_back = self.down.swap(false, Ordering::AcqRel);
        if came_back {
            self.backoff_ms
                .store(self.min_backoff_ms, Ordering::Release);
        }
        if route == Route::Probe {
            self.probing.store(false, Ordering::Release);
        }
        came_back.then_some(Transition::CameBack)
    }

    /// A call routed `route` failed.
    pub fn failed(&self, route: Route) -> Option<Transition> {
        let went_down = !self.down.swap(true, Ordering::AcqRel);
        let now = self.elapsed_ms();
        if went_down {
            self.backoff_ms
                .store(self.min_backoff_ms, Ordering::Release);
            self.next_probe_ms
                .store(now.saturating_add(self.min_backoff_ms), Ordering::Release);
        } else if route == Route::Probe {
            let backoff = self
                .backoff_ms
                .load(Ordering::Acquire)
                .saturating_mul(2)
                .min(self.max_backoff_ms);
            self.backoff_ms.store(backoff, Ordering::Release);
            self.next_probe_ms
                .store(now.saturating_add(backoff), Ordering::Release);
        }
        if route == Route::Probe {
            self.probing.store(false, Ordering::Release);
        }
        went_down.then_some(Transition::WentDown)
    }

    /// A guard for the call routed `route`: if that call is dropped before it reports
    /// (its request was cancelled: a client reset, a timeout around it), a probe's flag is
    /// cleared so that a later request can probe. Without it a cancelled probe would leave
    /// Redis "down" for good.
    pub fn guard(&self, route: Route) -> ProbeGuard<'_> {
        ProbeGuard {
            health: self,
            armed: route == Route::Probe,
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_goes_down_once_and_only_one_probe_goes_after_the_backoff() {
        let h = Health::new(Duration::from_millis(5), Duration::from_millis(20));
        assert_eq!(h.route(), Route::Redis);
        let before = h.elapsed_ms();
        assert_eq!(h.failed(Route::Redis), Some(Transition::WentDown));
        assert_eq!(h.failed(Route::Redis), None, "logged once");
        assert!(h.is_down());
        assert!(h.next_probe_ms.load(Ordering::Acquire) >= before + 5);
        let deadline = Instant::now() + Duration::from_secs(5);
        let probe = loop {
            match h.route() {
                Route::Probe => break true,
                Route::Redis => break false,
                Route::Without if Instant::now() > deadline => break false,
                Route::Without => std::thread::yield_now(),
            }
        };
        assert!(probe, "a probe is sent after the backoff");
        assert_eq!(h.route(), Route::Without, "one probe at a time");
        let before = h.elapsed_ms();
        assert_eq!(h.failed(Route::Probe), None);
        assert_eq!(h.backoff_ms.load(Ordering::Acquire), 10);
        assert!(h.next_probe_ms.load(Ordering::Acquire) >= before + 10);
        assert!(!h.probing.load(Ordering::Acquire));
        assert_eq!(h.succeeded(Route::Without), Some(Transition::CameBack));
        assert_eq!(h.succeeded(Route::Redis), None);
        assert_eq!(h.route(), Route::Redis);
        assert_eq!(h.backoff_ms.load(Ordering::Acquire), 5);
    }

    #[test]
    fn a_cancelled_probe_lets_a_later_request_probe() {
        let h = Health::new(Duration::from_millis(1), Duration::from_millis(1));
        h.failed(Route::Redis);
        let deadline = Instant::now() + Duration::from_secs(5);
        while h.route() != Route::Probe {
            assert!(Instant::now() < deadline, "no probe after the backoff");
            std::thread::yield_now();
        }
        drop(h.guard(Route::Probe));
        assert_eq!(h.route(), Route::Probe, "the flag was released");
        h.guard(Route::Probe).reported();
        assert_eq!(h.route(), Route::Without, "a reported probe keeps its flag");
        drop(h.guard(Route::Without));
        assert_eq!(h.route(), Route::Without, "only a probe's guard clears it");
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let h = Health::new(Duration::from_millis(250), Duration::from_millis(750));
        h.failed(Route::Redis);
        for expected in [500, 750, 750] {
            h.probing.store(true, Ordering::Release);
            let before = h.elapsed_ms();
            h.failed(Route::Probe);
            assert_eq!(h.backoff_ms.load(Ordering::Acquire), expected);
            assert!(h.next_probe_ms.load(Ordering::Acquire) >= before + expected);
        }
    }
}
