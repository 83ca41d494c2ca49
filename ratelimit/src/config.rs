//! The limiter's settings: common ones, the Redis backend's, and the failure mode and
//! clock choices (SPEC §9).

use std::sync::Arc;
use std::time::Duration;

use time::macros::offset;
use time::UtcOffset;

use crate::clock::{Clock, SystemClock};

/// Settings common to both backends.
#[derive(Debug, Clone)]
pub struct LimiterConfig {
    /// The zone whose calendar days delimit daily quotas (a fixed offset; default
    /// `+08:00`, China Standard Time).
    pub time_zone: UtcOffset,
    /// The time source (default: [`SystemClock`]; tests use a
    /// [`ManualClock`](crate::ManualClock)).
    pub clock: Arc<dyn Clock>,
}

/// Settings of the Redis backend.
#[derive(Debug, Clone)]
pub struct RedisLimiterConfig {
    /// `redis://host:port/db` (or `rediss://`). With `cluster`, a seed node.
    pub url: String,
    /// `url` is a node of a Redis Cluster (see `credgate_redisconn`).
    pub cluster: bool,
    /// More seed nodes of the cluster (same scheme and credentials).
    pub cluster_seeds: Vec<String>,
    /// Find the primary through Redis Sentinel (`url` gives credentials
    /// and database only).
    pub sentinel: Option<credgate_redisconn::SentinelTarget>,
    /// For `rediss://`: the trust anchors for Redis' certificate (else the
    /// system's) and the client certificate when Redis asks for one.
    pub tls: Option<redis::TlsCertificates>,
    /// Bound on every Redis call, connection included (default 50 ms). No decision waits
    /// longer for Redis.
    pub call_timeout: Duration,
    /// What to do when Redis cannot be reached (default [`FailureMode::FailOpenLocal`]).
    pub failure_mode: FailureMode,
    /// The number of gateway replicas sharing the limit; in the `fail_open_local` fallback
    /// each replica enforces `1 / replicas` of it (default 1) — until it has counted the
    /// replicas alive itself (see [`heartbeat_interval`](Self::heartbeat_interval)).
    pub replicas: u32,
    /// This replica's name among the replicas (unique: e.g. the audit replica name and
    /// a random suffix). Default: empty, no heartbeat.
    pub replica_id: String,
    /// How often this replica tells Redis it is alive and counts the replicas that did
    /// within three intervals (default 5 s; zero: never). While Redis answers, the last
    /// count is the divisor of each share in the `fail_open_local` fallback, so a
    /// deployment scaled beyond `replicas` (an autoscaler) does not admit more than the
    /// limit when Redis goes away; before the first count, `replicas` is.
    pub heartbeat_interval: Duration,
    /// Whose clock the GCRA runs on (default [`TimeSource::RedisServer`]).
    pub time_source: TimeSource,
    /// After a failure, Redis is tried again after this long, doubling up to
    /// [`max_retry_interval`](Self::max_retry_interval) while it keeps failing (default
    /// 250 ms).
    pub min_retry_interval: Duration,
    /// The longest interval between two attempts while Redis is down (default 750 ms):
    /// Redis is used again at most this long (plus one call) after it is back.
    pub max_retry_interval: Duration,
}

/// What the Redis backend does when Redis does not answer (SPEC §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailureMode {
    /// `fail_open_local`: decide in process with this replica's share of each limit.
    #[default]
    FailOpenLocal,
    /// `fail_closed`: refuse to decide ([`LimiterError::Unavailable`], 503).
    FailClosed,
}

/// The clock the Redis script runs the GCRA on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeSource {
    /// Redis' `TIME`: one clock for all replicas, whatever their skew.
    #[default]
    RedisServer,
    /// The limiter's [`Clock`], sent with each call (tests with a manual clock).
    Gateway,
}

// === impl LimiterConfig ===

impl Default for LimiterConfig {
    fn default() -> Self {
        Self {
            time_zone: offset!(+8),
            clock: Arc::new(SystemClock),
        }
    }
}

impl LimiterConfig {
    /// The same settings reading `clock`.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self { clock, ..self }
    }

    /// The same settings counting days in `zone`.
    pub fn with_time_zone(self, zone: UtcOffset) -> Self {
        Self {
            time_zone: zone,
            ..self
        }
    }
}

// === impl RedisLimiterConfig ===

impl RedisLimiterConfig {
    /// Defaults for `url`: 50 ms calls, `fail_open_local`, one replica, Redis time, retry
    /// every 250 ms to 750 ms while down.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            cluster: false,
            cluster_seeds: Vec::new(),
            sentinel: None,
            tls: None,
            call_timeout: Duration::from_millis(50),
            failure_mode: FailureMode::FailOpenLocal,
            replicas: 1,
            replica_id: String::new(),
            heartbeat_interval: Duration::from_secs(5),
            time_source: TimeSource::RedisServer,
            min_retry_interval: Duration::from_millis(250),
            max_retry_interval: Duration::from_millis(750),
        }
    }
}
