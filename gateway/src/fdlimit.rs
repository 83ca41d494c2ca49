//! The open-file limit. Every client connection, upstream connection,
//! audit segment and watched file is a descriptor, and the common default
//! soft limit (1,024) is far below `server.max_connections` (20,000 by
//! default). At start-up the soft limit is raised to the hard limit, as
//! Go's runtime and nginx's `worker_rlimit_nofile` do; if even that is
//! below what the configuration needs, start-up says so once, naming the
//! setting to change, instead of the gateway failing `accept` with
//! `EMFILE` under load. The `rlimit` crate wraps `getrlimit`/`setrlimit`
//! (this workspace forbids `unsafe`).

/// Descriptors wanted besides client connections: upstream connections,
/// audit segments, the listeners, watched files, Redis, the log.
pub const RESERVE: u64 = 1024;

/// What start-up did to the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The soft limit before.
    pub before: u64,
    /// The soft limit now.
    pub now: u64,
    /// What `max_connections` plus [`RESERVE`] needs.
    pub needed: u64,
}

impl Outcome {
    /// The warning to log, if the limit is still too low.
    pub fn warning(&self) -> Option<String> {
        (self.now < self.needed).then(|| {
            format!(
                "the open-file limit is {} but server.max_connections needs about {} \
                 (connections plus {RESERVE}): raise LimitNOFILE (systemd), `ulimits: nofile` \
                 (compose), `ulimit -n`, or lower server.max_connections",
                self.now, self.needed
            )
        })
    }
}

/// What `max_connections` needs.
pub fn needed(max_connections: usize) -> u64 {
    u64::try_from(max_connections)
        .unwrap_or(u64::MAX)
        .saturating_add(RESERVE)
}

/// Raises the soft open-file limit to the hard limit. `None` where the
/// limit cannot be read (not a Unix system).
pub fn raise(max_connections: usize) -> Option<Outcome> {
    let (before, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).ok()?;
    let now = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(before);
    Some(Outcome {
        before,
        now,
        needed: needed(max_connections),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_only_below_what_the_connections_need() {
        let low = Outcome {
            before: 1024,
            now: 20_000,
            needed: needed(20_000),
        };
        let w = low.warning().unwrap();
        assert!(
            w.contains("20000") && w.contains("21024") && w.contains("LimitNOFILE"),
            "{w}"
        );
        let enough = Outcome { now: 65_536, ..low };
        assert_eq!(enough.warning(), None);
        assert_eq!(needed(usize::MAX), u64::MAX);
    }

    #[test]
    fn raising_never_lowers_the_limit_and_reaches_the_hard_limit() {
        let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        let o = raise(10).unwrap();
        assert!(o.now >= soft && o.now >= o.before);
        assert_eq!(o.now, hard, "soft limit raised to the hard limit");
        let (soft_after, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        assert_eq!(soft_after, hard);
    }
}
