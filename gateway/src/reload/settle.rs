//! A reload that fails right after a file change is given a moment before
//! it counts as failed. Rotations write several files one after the other
//! — the key, then the certificate; a new issuer key, then the policy
//! naming it — and the set is inconsistent until the last one lands, which
//! may come more than the watcher's settling pause later. Within
//! [`GRACE`] of the first failure, a failure is only noted (at INFO); if no
//! reload succeeds by then, the last error is reported and counted. A
//! reload asked for by SIGHUP reports at once: the operator says the
//! change is complete.

use std::time::{Duration, Instant};

/// How long a change may stay half-done before its failure is reported.
pub(super) const GRACE: Duration = Duration::from_secs(3);

/// One kind of material's failures not reported yet.
#[derive(Debug, Default)]
pub(super) struct Settle {
    /// Since when reloads have failed, and the latest error.
    pending: Option<(Instant, String)>,
}

/// What to do with a reload's result.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The new material is in force.
    Loaded,
    /// Failed within the grace: say so quietly and wait.
    Waiting(String),
    /// Failed for good: report and count.
    Failed(String),
}

impl Settle {
    /// Takes a reload's result at `now`; `forced` reloads (SIGHUP) never wait.
    pub(super) fn record(
        &mut self,
        result: Result<(), String>,
        forced: bool,
        now: Instant,
    ) -> Outcome {
        let error = match result {
            Ok(()) => {
                self.pending = None;
                return Outcome::Loaded;
            }
            Err(e) => e,
        };
        let since = self.pending.as_ref().map_or(now, |(since, _)| *since);
        if forced || now.saturating_duration_since(since) >= GRACE {
            self.pending = None;
            return Outcome::Failed(error);
        }
        self.pending = Some((since, error.clone()));
        Outcome::Waiting(error)
    }

    /// When the failure waiting now is due to be reported.
    pub(super) fn due(&self) -> Option<Instant> {
        self.pending.as_ref().map(|(since, _)| *since + GRACE)
    }

    /// The waiting failure's error once its grace has passed at `now`.
    pub(super) fn expire(&mut self, now: Instant) -> Option<String> {
        if self.due().is_some_and(|due| due <= now) {
            self.pending.take().map(|(_, e)| e)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_fixed_within_the_grace_is_never_reported() {
        let t0 = Instant::now();
        let mut s = Settle::default();
        assert_eq!(
            s.record(Err("key and cert differ".into()), false, t0),
            Outcome::Waiting("key and cert differ".into())
        );
        assert_eq!(s.due(), Some(t0 + GRACE));
        assert_eq!(s.expire(t0 + GRACE / 2), None);
        assert_eq!(s.record(Ok(()), false, t0 + GRACE / 2), Outcome::Loaded);
        assert_eq!(s.due(), None);
        assert_eq!(s.expire(t0 + GRACE * 2), None);
    }

    #[test]
    fn a_failure_still_there_after_the_grace_is_reported_once_with_the_last_error() {
        let t0 = Instant::now();
        let mut s = Settle::default();
        s.record(Err("first".into()), false, t0);
        // A later failure keeps the first one's deadline (no endless wait).
        assert_eq!(
            s.record(Err("second".into()), false, t0 + GRACE / 2),
            Outcome::Waiting("second".into())
        );
        assert_eq!(s.due(), Some(t0 + GRACE));
        assert_eq!(s.expire(t0 + GRACE), Some("second".into()));
        assert_eq!(s.expire(t0 + GRACE * 2), None, "reported once");
        // A failure at or past the deadline is reported at once.
        s.record(Err("a".into()), false, t0);
        assert_eq!(
            s.record(Err("b".into()), false, t0 + GRACE),
            Outcome::Failed("b".into())
        );
        assert_eq!(s.due(), None);
    }

    #[test]
    fn a_forced_reload_reports_at_once() {
        let t0 = Instant::now();
        let mut s = Settle::default();
        assert_eq!(
            s.record(Err("bad".into()), true, t0),
            Outcome::Failed("bad".into())
        );
        assert_eq!(s.due(), None);
    }
}
