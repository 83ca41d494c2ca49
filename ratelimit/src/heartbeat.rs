//! The replicas sharing the limits count themselves in Redis, so that each one's share
//! while Redis is down (`fail_open_local`) divides by the fleet as it was, not by a
//! configured number an autoscaler has since outgrown (see the README, "How many
//! replicas share").

use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::Duration;

use crate::limiter::{Backend, Inner};

/// Every `interval`, while the limiter exists: tells Redis this replica is alive and
/// keeps Redis' count of the replicas alive within three intervals. A failed call keeps
/// the last count (Redis is probably down: the count from before is the one to divide
/// by).
pub(crate) async fn run(inner: Weak<Inner>, id: String, interval: Duration) {
    let window = interval.saturating_mul(3);
    let mut lower = Lower::default();
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let Backend::Redis(shared) = &strong.backend else {
            return;
        };
        if shared.left.load(Ordering::SeqCst) {
            return;
        }
        match shared.redis.heartbeat(&id, window).await {
            Ok(n) => {
                let n = u32::try_from(n).unwrap_or(u32::MAX).max(1);
                let current = shared.live.load(Ordering::Relaxed);
                let n = lower.next(current, n, std::time::Instant::now(), window);
                let before = shared.live.swap(n, Ordering::Relaxed);
                if before != n {
                    tracing::info!(
                        replicas = n,
                        configured = shared.replicas,
                        "rate limiter: replicas sharing the limits counted in Redis \
                         (each one's share if Redis becomes unreachable)"
                    );
                }
            }
            Err(e) => tracing::debug!(error = %e, "rate limiter: heartbeat to Redis failed"),
        }
        drop(strong);
        tokio::time::sleep(interval).await;
    }
}

/// When a lower count than the one in force was first seen. A higher count
/// (a replica more: each one's share smaller) applies at once; a lower one
/// only once it has held for a whole window. Right after Redis restarts
/// (an empty set), each replica's first heartbeat counts itself alone, and
/// its share would be the whole limit if Redis went away again before the
/// others were counted; a replica that left counts down a window later.
#[derive(Debug, Default)]
pub(crate) struct Lower {
    since: Option<std::time::Instant>,
}

impl Lower {
    /// The count to keep in force, from the one in force (`0`: none yet)
    /// and Redis' new count `n`, seen at `now`.
    pub(crate) fn next(
        &mut self,
        current: u32,
        n: u32,
        now: std::time::Instant,
        window: Duration,
    ) -> u32 {
        if current == 0 || n >= current {
            self.since = None;
            return n;
        }
        let since = *self.since.get_or_insert(now);
        if now.duration_since(since) >= window {
            self.since = None;
            n
        } else {
            current
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_higher_count_applies_at_once_a_lower_one_after_a_window() {
        let window = Duration::from_secs(15);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut lower = Lower::default();
        assert_eq!(lower.next(0, 1, at(0), window), 1, "the first count");
        assert_eq!(lower.next(1, 3, at(5), window), 3, "more replicas: at once");
        // Redis restarted: this replica alone in the set, then the others back.
        assert_eq!(lower.next(3, 1, at(10), window), 3);
        assert_eq!(lower.next(3, 3, at(15), window), 3);
        // A replica left: the lower count holds a window, then applies.
        assert_eq!(lower.next(3, 2, at(20), window), 3);
        assert_eq!(lower.next(3, 2, at(30), window), 3);
        assert_eq!(lower.next(3, 2, at(35), window), 2);
        // A count back up in between starts the wait again.
        assert_eq!(lower.next(2, 1, at(40), window), 2);
        assert_eq!(lower.next(2, 2, at(45), window), 2);
        assert_eq!(lower.next(2, 1, at(50), window), 2);
        assert_eq!(lower.next(2, 1, at(64), window), 2);
        assert_eq!(lower.next(2, 1, at(65), window), 1);
    }
}
