//! An upstream's concurrency limit with a bounded wait queue: a call takes
//! a free slot, or waits for one if fewer than `max_queue` calls already
//! wait, or fails fast.
//!
//! A waiter counts itself in the queue through a guard, so a wait that is
//! cancelled (the call's timeout, a fan-out deadline, the client going
//! away) leaves the queue as it found it: with a bare counter, each
//! cancelled waiter would hold a queue place for good, and once they were
//! all gone the platform would be refused ("overloaded") until a restart.

use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{Semaphore, SemaphorePermit};

/// The call could not get a slot: the queue is full (or closed).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Full;

/// Concurrency slots and their bounded wait queue.
#[derive(Debug)]
pub(crate) struct Slots {
    slots: Semaphore,
    waiting: AtomicUsize,
    max_queue: usize,
}

/// One place in the queue, given back when dropped.
struct Waiter<'a>(&'a AtomicUsize);

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Slots {
    /// `max_concurrency` slots, at most `max_queue` callers waiting.
    pub(crate) fn new(max_concurrency: usize, max_queue: usize) -> Self {
        Self {
            slots: Semaphore::new(max_concurrency),
            waiting: AtomicUsize::new(0),
            max_queue,
        }
    }

    /// A slot, waiting for one if the queue has room.
    pub(crate) async fn acquire(&self) -> Result<SemaphorePermit<'_>, Full> {
        if let Ok(permit) = self.slots.try_acquire() {
            return Ok(permit);
        }
        let waiter = Waiter(&self.waiting);
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_queue {
            return Err(Full); // `waiter` gives the place back
        }
        let permit = self.slots.acquire().await.map_err(|_| Full);
        drop(waiter);
        permit
    }

    /// Callers waiting now.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_cancelled_wait_gives_its_queue_place_back() {
        let slots = Slots::new(1, 1);
        let held = slots.acquire().await.unwrap();
        // Cancelled while waiting (a timeout around the call).
        for _ in 0..3 {
            let cut = tokio::time::timeout(Duration::from_millis(5), slots.acquire()).await;
            assert!(cut.is_err(), "it waited");
            assert_eq!(slots.waiting(), 0, "the place was given back");
        }
        // The queue still has its one place: a waiter gets the slot once
        // it is free, and a second waiter meanwhile is refused.
        let (first, second) = tokio::join!(slots.acquire(), async {
            tokio::task::yield_now().await;
            let refused = slots.acquire().await.err();
            drop(held);
            refused
        });
        assert!(first.is_ok(), "the queued call got the slot");
        assert_eq!(second, Some(Full), "one place only");
        assert_eq!(slots.waiting(), 0);
    }
}
