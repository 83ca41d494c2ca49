//! Per-client rate limits and daily quotas for credgate (SPEC §9).
//!
//! This crate owns the decision "may this client (optionally: for this scope) make one
//! more request now?" and the response headers that explain it. A [`Limiter`] is built
//! once per gateway and answers [`Limiter::check`] for a [`Key`] (client, scope) under a
//! [`Limit`] (sustained rate with burst, plus an optional daily quota) taken from the
//! policy. It has two backends:
//!
//! - [`Limiter::local`]: in process, a [`governor`] GCRA limiter per key (the embedded
//!   default, one replica);
//! - [`Limiter::redis`]: GCRA and quota computed inside Redis by one Lua script per
//!   decision (one round trip), so the limit holds across all replicas. When Redis cannot
//!   be reached the configured [`FailureMode`] applies: each replica falls back to its
//!   share of the limit in process, or refuses with [`LimiterError::Unavailable`].
//!
//! Both backends share the arithmetic in [`gcra`] (emission interval, tolerance,
//! theoretical arrival time, remaining capacity, reset and retry times), checked against
//! one table of cases in the tests. Semantics, the burst convention, headers and the
//! Redis key layout are described in `ratelimit/README.md`.

mod clock;
mod config;
mod day;
mod decision;
mod error;
pub mod gcra;
mod headers;
mod health;
mod heartbeat;
mod limit;
mod limiter;
mod local;
mod owed;
mod redis;
mod seen;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{FailureMode, LimiterConfig, RedisLimiterConfig, TimeSource};
pub use decision::{Decision, Info, QuotaInfo, Verdict, Why};
pub use error::{LimitError, LimiterError};
pub use headers::{ceil_secs, BURST_POLICY, DAILY_POLICY};
pub use limit::{Key, Limit};
pub use limiter::{Limiter, LimiterStats, Mode, MAX_LIMITS_PER_CHECK};
pub use redis::keys::{gcra_key, quota_key};
