//! The answer to one check: [`Decision`] and what explains it ([`Info`]).

use std::time::Duration;

use crate::limit::Limit;

/// Whether the request may proceed, with the state that explains it.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The request conforms; it has been counted.
    Allowed(Info),
    /// The request is refused (429 `rate_limited`); nothing was counted.
    Limited(Info),
}

/// The answer to one request checked under several limits at once
/// ([`Limiter::check_all`](crate::Limiter::check_all)).
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every limit allowed the request and each counted it: their states, in the order
    /// the limits were given.
    Allowed(Vec<Info>),
    /// The limit at `index` (in the order given) refused the request, the first to do
    /// so; no limit counted it.
    Limited {
        /// Which limit refused it.
        index: usize,
        /// That limit's state.
        info: Info,
    },
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Why {
    /// The sustained rate / burst (GCRA).
    Rate,
    /// The daily quota is spent until the next calendar day.
    DailyQuota,
}

/// The limit state after a decision: what the `RateLimit*` and `Retry-After` headers say.
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    /// The limit applied. In the `fail_open_local` fallback this is the replica's share.
    pub limit: Limit,
    /// Requests that would still pass right now (burst capacity left after this one).
    pub remaining: u64,
    /// Time until the burst capacity is full again.
    pub reset_after: Duration,
    /// When limited: the time until the next request would pass (exact; the
    /// `Retry-After` header rounds it up to whole seconds).
    pub retry_after: Option<Duration>,
    /// The daily quota's state, when the limit has one.
    pub quota: Option<QuotaInfo>,
    /// When limited: which limit refused.
    pub why: Option<Why>,
}

/// The daily quota's state after a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaInfo {
    /// Requests allowed per calendar day.
    pub limit: u64,
    /// Requests left today (after this one, when allowed).
    pub remaining: u64,
    /// Unix time (seconds) the counter resets: the next day's start in the limiter's zone.
    pub resets_at_unix: i64,
    /// Time from the decision until then.
    pub resets_after: Duration,
}

// === impl Decision ===

impl Decision {
    /// Whether the request may proceed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed(_))
    }

    /// The state explaining the decision.
    pub fn info(&self) -> &Info {
        match self {
            Self::Allowed(info) | Self::Limited(info) => info,
        }
    }

    /// The state, by value.
    pub fn into_info(self) -> Info {
        match self {
            Self::Allowed(info) | Self::Limited(info) => info,
        }
    }
}
