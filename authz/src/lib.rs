//! Subject authorization for credgate (SPEC §6): the subject's signed consent that a
//! named client may query its record for a purpose.
//!
//! A token is a compact JWS, `alg` EdDSA (Ed25519) only, signed by an issuer the
//! policy trusts, with claims `iss`, `sub`, `aud`, `scope`, `purpose`, `iat`, `nbf`,
//! `exp`, `jti` and optional `max_uses`. This crate owns:
//!
//! - [`verify`] / [`verify_header`]: the stateless checks, pure (the clock is an
//!   argument), in the SPEC §4 order, each refusal an [`AuthzError`] with its stable
//!   [`AuthzError::code`];
//! - [`enforce`] with an [`AuthzState`] backend: revocation and atomic use counting,
//!   in-process ([`MemoryState`], revocations from a watched [`FileRevocations`] file)
//!   or shared through Redis ([`RedisState`]); store failures fail closed;
//! - the operator functions behind `credgate authz keygen|issue|revoke`: [`keygen`],
//!   [`issue`], [`parse_ttl`], [`append_revocation`], and [`inspect`] to explain why a
//!   token is refused.
//!
//! Privacy: no error, `Display` or `Debug` output of this crate contains a raw token
//! or a subject identifier ([`SubjectId`] redacts itself); `jti` is not personal.
//!
//! The `testing` feature adds [`testing::RedisServer`], a throw-away `redis-server`
//! for integration tests.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod claims;
mod error;
mod inspect;
mod issue;
mod key;
pub mod state;
mod subject;
#[cfg(test)]
mod test_support;
#[cfg(feature = "testing")]
pub mod testing;
mod token;
mod verify;

pub use claims::{is_valid_jti, jti_names_a_subject, Authorization, MAX_JTI_LEN, MAX_NUMERIC_DATE};
pub use error::{AuthzError, ClaimError, InvalidReason, KeyError, MismatchReason, WindowReason};
pub use inspect::{inspect, Inspection, Problem};
pub use issue::{
    issue, keygen, parse_ttl, IssueClaims, IssueError, TtlError, ISSUER_KEY_FILE, ISSUER_PUB_FILE,
};
pub use key::{public_key_of, Ed25519PublicKey, TrustedIssuer};
pub use state::{
    append_revocation, enforce, AuthzState, FileRevocations, MemoryOptions, MemoryState,
    RedisOptions, RedisState, Reservation, RevocationFileError, RevocationRecord, StateBackend,
    StateError, UseOutcome, STATE_GRACE_SECS,
};
pub use subject::{normalize_subject, SubjectId};
pub use verify::{verify, verify_detailed, verify_header, Expectation, Refusal, VerifyOptions};
