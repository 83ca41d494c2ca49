//! Connections still in their TLS handshake, oldest first, so that a full
//! listener can reclaim a slot from one of them.
//!
//! A TCP connection holds one of `max_connections` slots from accept on,
//! before the handshake has said who the client is. Without a way to take
//! slots back, anyone could open `max_connections` silent connections and,
//! renewing them every handshake timeout, keep every other client out.
//! When every slot is taken and a new connection waits, the listener
//! closes the oldest connection whose handshake has been pending for at
//! least [`EVICT_AFTER`] (a client that has not finished a handshake in that
//! long is slow or silent; a real handshake takes milliseconds) and gives
//! its slot to the newcomer. Established connections are never evicted:
//! they are bounded by the idle and header timeouts. Evictions are counted
//! (`credgate_tls_handshake_failures{reason="evicted"}`), not logged one by
//! one (a flood would flood the log).
//!
//! Address-based caps were tried and dropped: behind NAT or a TCP load
//! balancer every client shares one address, and even a benchmark's
//! client outran a per-address cap of 256 handshakes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Shortest time a handshake must have been pending before a full
/// listener may close it for a newcomer.
pub(super) const EVICT_AFTER: Duration = Duration::from_secs(1);

/// Handshakes in progress, by arrival.
#[derive(Debug, Default)]
pub(super) struct Handshakes {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    /// Arrival order = id order: the first entry is the oldest.
    pending: BTreeMap<u64, (Instant, oneshot::Sender<()>)>,
}

/// A handshake in progress: registered until dropped.
#[derive(Debug)]
pub(super) struct Pending {
    table: Arc<Handshakes>,
    id: u64,
    /// Fires if the listener evicts this handshake.
    pub(super) evicted: oneshot::Receiver<()>,
}

impl Handshakes {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Plain bookkeeping: a panic elsewhere cannot leave it inconsistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a handshake starting now.
    pub(super) fn enter(self: &Arc<Self>) -> Pending {
        let (tx, rx) = oneshot::channel();
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.pending.insert(id, (Instant::now(), tx));
        Pending {
            table: self.clone(),
            id,
            evicted: rx,
        }
    }

    /// Evicts the oldest handshake if it has been pending for at least
    /// `min_age`: `Ok(())` when one was; otherwise `Err` with how long until
    /// the oldest becomes evictable (`None`: no handshake is pending).
    pub(super) fn evict_oldest(&self, min_age: Duration) -> Result<(), Option<Duration>> {
        let mut inner = self.lock();
        let Some(entry) = inner.pending.first_entry() else {
            return Err(None);
        };
        let age = entry.get().0.elapsed();
        if age < min_age {
            return Err(Some(min_age - age));
        }
        let (_, tx) = entry.remove();
        // The handshake may have finished meanwhile (its receiver gone):
        // it leaves the table on its own, and its slot with it.
        let _ = tx.send(());
        Ok(())
    }

    /// Handshakes pending (tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().pending.len()
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.table.lock().pending.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_oldest_once_old_enough_and_forgets_finished_ones() {
        let t = Arc::new(Handshakes::default());
        assert_eq!(t.evict_oldest(Duration::ZERO), Err(None));
        let mut a = t.enter();
        let mut b = t.enter();
        let wait = t.evict_oldest(Duration::from_secs(60)).unwrap_err();
        assert!(
            wait.is_some_and(|w| w > Duration::from_secs(59)),
            "{wait:?}"
        );
        assert!(a.evicted.try_recv().is_err(), "not evicted while young");
        assert_eq!(t.evict_oldest(Duration::ZERO), Ok(()));
        assert_eq!(a.evicted.try_recv(), Ok(()), "the oldest is told");
        assert!(b.evicted.try_recv().is_err(), "the younger is kept");
        drop(a);
        drop(b);
        assert_eq!(t.len(), 0, "nothing outlives its handshake");
        assert_eq!(t.evict_oldest(Duration::ZERO), Err(None));
    }
}
