//! Errors: a limit that cannot be enforced ([`LimitError`]) and a decision that cannot be
//! made ([`LimiterError`]).

/// Why a [`Limit`](crate::Limit) is not enforceable. The policy crate validates limits at
/// load; this is the limiter's own guard.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// `per_second` is zero, negative, NaN or infinite.
    #[error("per_second must be a positive finite number, got {0}")]
    Rate(f64),
    /// `burst` is zero: no request could ever pass.
    #[error("burst must be at least 1")]
    ZeroBurst,
    /// The time to refill the whole burst exceeds 100 years (the Redis script computes
    /// in microseconds held exactly in a Lua double).
    #[error("burst / per_second is too long a window (more than 100 years)")]
    WindowTooLong,
}

/// Why [`Limiter::check`](crate::Limiter::check) (or construction) gave no decision.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LimiterError {
    /// The limit passed in is not enforceable (a configuration error: 500).
    #[error("invalid rate limit: {0}")]
    InvalidLimit(#[from] LimitError),
    /// Redis could not be reached within the call timeout and the failure mode is
    /// `fail_closed`: the gateway answers 503 without deciding.
    #[error("rate limiter unavailable: Redis unreachable and the failure mode is fail_closed")]
    Unavailable,
    /// The Redis configuration is unusable (bad URL, zero replicas or timeout).
    #[error("invalid rate-limiter configuration: {0}")]
    Config(String),
    /// The limits given to one [`Limiter::check_all`](crate::Limiter::check_all) cannot be
    /// decided together (none, too many, of several clients, or a key twice): a caller's
    /// error (500).
    #[error("rate limits not checkable together: {0}")]
    Checks(&'static str),
    /// The clock reads a time outside the calendar (years beyond ±9999).
    #[error("clock reading outside the supported calendar range")]
    ClockOutOfRange,
}

// === impl LimiterError ===

impl LimiterError {
    /// Whether the gateway should answer 503 (the limiter is unavailable, not the request
    /// or the configuration at fault) — and may retry later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable)
    }
}
