//! One breaker outcome for several calls: a fan-out's calls to one
//! platform on behalf of one request.
//!
//! A sanctions batch of twenty subjects is twenty calls to a platform that
//! takes one subject per call (Hangzhou). Counted one by one, a single slow
//! batch was twenty consecutive failures and opened the breaker for every
//! client; and in half-open only one call of the batch got the probe slot,
//! so the batch that probed was answered `partial` even from a platform
//! that had recovered. The calls share one [`Ticket`] instead: one probe
//! in half-open, one outcome when the last of them ends.

use super::{Breaker, Ticket};
use std::sync::Mutex;

/// Shared permission for a group of calls; see the module's text.
///
/// The outcome is recorded when the ticket is dropped: a failure if any
/// call reported one, else a success if any reported at all; with no
/// report (every call cancelled or not held against the platform) a probe
/// slot is given back, as a dropped [`Ticket`] does.
#[derive(Debug)]
pub struct SharedTicket<'a> {
    state: Mutex<Shared<'a>>,
}

#[derive(Debug)]
struct Shared<'a> {
    /// `None` when the breaker refused the group.
    ticket: Option<Ticket<'a>>,
    /// `Some(all healthy so far)` once a call has reported.
    healthy: Option<bool>,
}

impl<'a> SharedTicket<'a> {
    pub(super) fn new(ticket: Option<Ticket<'a>>) -> Self {
        SharedTicket {
            state: Mutex::new(Shared {
                ticket,
                healthy: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared<'a>> {
        // Plain flags: a panic elsewhere leaves them meaningful.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the breaker let the group through.
    pub fn granted(&self) -> bool {
        self.lock().ticket.is_some()
    }

    /// One call's outcome.
    pub fn note(&self, healthy: bool) {
        let mut g = self.lock();
        g.healthy = Some(g.healthy.unwrap_or(true) && healthy);
    }
}

impl Drop for SharedTicket<'_> {
    fn drop(&mut self) {
        let shared = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        let (Some(ticket), Some(healthy)) = (shared.ticket.take(), shared.healthy) else {
            return;
        };
        let breaker: &Breaker = ticket.breaker;
        breaker.record(ticket, healthy);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{cfg, tripped};
    use super::super::{Breaker, BreakerState};

    #[test]
    fn a_group_of_failed_calls_is_one_failure() {
        let b = Breaker::new(cfg(60_000));
        for round in 1..=2 {
            let group = b.try_acquire_shared();
            assert!(group.granted());
            for _ in 0..5 {
                group.note(false);
            }
            drop(group);
            assert_eq!(b.state(), BreakerState::Closed, "round {round}");
        }
        // The third consecutive failure (threshold 3) opens it.
        let group = b.try_acquire_shared();
        group.note(false);
        drop(group);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.try_acquire_shared().granted(), "refused while open");
    }

    #[test]
    fn one_failed_call_makes_the_group_a_failure() {
        let b = Breaker::new(cfg(60_000));
        for _ in 0..3 {
            let group = b.try_acquire_shared();
            group.note(true);
            group.note(false);
            group.note(true);
        }
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn a_group_is_one_probe_and_closes_a_half_open_breaker() {
        let b = tripped();
        let group = b.try_acquire_shared();
        assert!(group.granted(), "the group is the probe");
        assert!(b.try_acquire().is_none(), "one probe at a time");
        for _ in 0..5 {
            group.note(true);
        }
        assert_eq!(b.state(), BreakerState::HalfOpen, "decided at the end");
        drop(group);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn a_group_without_an_outcome_gives_its_probe_slot_back() {
        let b = tripped();
        drop(b.try_acquire_shared());
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.try_acquire().expect("the slot was given back");
        b.record(probe, true);
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
