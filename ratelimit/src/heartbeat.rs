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
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let Backend::Redis(shared) = &strong.backend else {
            return;
        };
        match shared.redis.heartbeat(&id, window).await {
            Ok(n) => {
                let n = u32::try_from(n).unwrap_or(u32::MAX).max(1);
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
