//! Stateful authorization checks: revocations and use counts (SPEC §6).
//!
//! Two backends implement [`AuthzState`]: [`MemoryState`] (use counts in-process,
//! revocations from a watched file) and [`RedisState`] (both shared through Redis).
//! [`StateBackend`] is the enum the gateway holds, so no trait object is needed.
//!
//! "A use is counted only for a query that is allowed and answered": the gateway
//! calls [`enforce`] after the stateless checks, which reserves one use atomically,
//! and calls [`AuthzState::release_use`] when the query is then refused or fails.
//! Two concurrent requests can therefore never both spend the last use.

use std::future::Future;

use crate::{Authorization, AuthzError};

pub mod file;
pub mod memory;
pub mod redis;

pub use self::file::{append_revocation, FileRevocations, RevocationFileError, RevocationRecord};
pub use self::memory::{MemoryOptions, MemoryState};
pub use self::redis::{RedisOptions, RedisState};

/// How long past a token's `exp` its revocation and use count are kept, in seconds:
/// longer than any sensible clock-skew allowance, during which the token still verifies.
pub const STATE_GRACE_SECS: i64 = 3600;

/// The revocation and use-count store could not answer; the gateway fails closed (503).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The call did not complete within the per-call timeout.
    #[error("authorization state store timed out")]
    Timeout,
    /// The store could not be reached or refused the command.
    #[error("authorization state store unavailable: {0}")]
    Unavailable(String),
    /// The in-process use-count table is full of live entries.
    #[error("in-process use-count table full ({0} live tokens)")]
    CapacityExceeded(usize),
    /// Writing the revocation file failed.
    #[error("revocation file: {0}")]
    File(String),
}

/// Result of [`AuthzState::reserve_use`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum UseOutcome {
    /// One use is reserved; release it if the query is not answered.
    Reserved(Reservation),
    /// All uses are spent (nothing was reserved).
    Exhausted,
}

/// One reserved use of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "release the use when the query is refused or fails"]
pub struct Reservation {
    /// The use counter's key: `<iss>/<jti>` ([`use_key`]).
    pub key: String,
    /// The use count including this reservation (1-based).
    pub used: u32,
    /// The token's `max_uses`.
    pub max_uses: u32,
}

/// A store of revocations and use counts. Implementations are cheap to share.
pub trait AuthzState: Send + Sync {
    /// Whether `jti` is revoked.
    fn is_revoked(&self, jti: &str) -> impl Future<Output = Result<bool, StateError>> + Send;

    /// Reserves one use atomically of the token counted under `key`
    /// ([`use_key`]): [`UseOutcome::Reserved`] if the count after
    /// reserving is at most `max_uses`, else [`UseOutcome::Exhausted`] (the count is
    /// left unchanged). The counter lives until `expires_at` (Unix seconds).
    fn reserve_use(
        &self,
        key: &str,
        max_uses: u32,
        expires_at: i64,
    ) -> impl Future<Output = Result<UseOutcome, StateError>> + Send;

    /// Gives a reserved use back (the query was refused or failed later). Never
    /// takes the count below zero. `key` as given to `reserve_use`.
    fn release_use(&self, key: &str) -> impl Future<Output = Result<(), StateError>> + Send;

    /// Revokes `jti`; the revocation is kept until `expires_at` (Unix seconds).
    fn revoke(
        &self,
        jti: &str,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StateError>> + Send;
}

/// The backend a gateway runs with.
#[derive(Debug, Clone)]
pub enum StateBackend {
    /// In-process use counts, revocations from a file (no Redis configured).
    Memory(MemoryState),
    /// Shared through Redis.
    Redis(RedisState),
}

/// Runs the stateful checks after [`crate::verify`] succeeded: not revoked
/// ([`AuthzError::Revoked`]), then one use reserved when the token has `max_uses`
/// ([`AuthzError::Exhausted`]). Store failures are [`AuthzError::Unavailable`].
///
/// Returns the reservation to release if the query is not answered.
pub async fn enforce<S: AuthzState>(
    auth: &Authorization,
    state: &S,
) -> Result<Option<Reservation>, AuthzError> {
    if state.is_revoked(&auth.jti).await.map_err(unavailable)? {
        return Err(AuthzError::Revoked);
    }
    let Some(max_uses) = auth.max_uses else {
        return Ok(None);
    };
    match state
        .reserve_use(&use_key(auth), max_uses, auth.expires_at)
        .await
        .map_err(unavailable)?
    {
        UseOutcome::Reserved(reservation) => Ok(Some(reservation)),
        UseOutcome::Exhausted => Err(AuthzError::Exhausted),
    }
}

/// The key a token's uses are counted under: its issuer and its `jti`.
/// A `jti` is unique only within its issuer (RFC 7519 §4.1.7): two issuers
/// numbering their tokens alike must not spend each other's uses. (A
/// revocation names a `jti` alone, SPEC §6, and so holds for every issuer.)
/// Issuer ids cannot hold `/`, so the key is unambiguous.
pub fn use_key(auth: &Authorization) -> String {
    format!("{}/{}", auth.issuer, auth.jti)
}

fn unavailable(err: StateError) -> AuthzError {
    // Per request at debug: the caller logs the switch to and from
    // "unavailable" once (a down store would otherwise log a warning for
    // every request it refuses).
    tracing::debug!(error = %err, "authorization state unavailable; refusing (fail closed)");
    AuthzError::Unavailable
}

// === impl StateBackend ===

impl AuthzState for StateBackend {
    async fn is_revoked(&self, jti: &str) -> Result<bool, StateError> {
        match self {
            Self::Memory(s) => s.is_revoked(jti).await,
            Self::Redis(s) => s.is_revoked(jti).await,
        }
    }

    async fn reserve_use(
        &self,
        jti: &str,
        max_uses: u32,
        expires_at: i64,
    ) -> Result<UseOutcome, StateError> {
        match self {
            Self::Memory(s) => s.reserve_use(jti, max_uses, expires_at).await,
            Self::Redis(s) => s.reserve_use(jti, max_uses, expires_at).await,
        }
    }

    async fn release_use(&self, jti: &str) -> Result<(), StateError> {
        match self {
            Self::Memory(s) => s.release_use(jti).await,
            Self::Redis(s) => s.release_use(jti).await,
        }
    }

    async fn revoke(&self, jti: &str, expires_at: i64) -> Result<(), StateError> {
        match self {
            Self::Memory(s) => s.revoke(jti, expires_at).await,
            Self::Redis(s) => s.revoke(jti, expires_at).await,
        }
    }
}

/// The current Unix time in seconds (0 if the clock is before 1970).
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
