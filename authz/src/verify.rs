//! Stateless verification of a subject authorization token (SPEC §6), pure: no I/O,
//! the clock is an argument.
//!
//! Checks run in the SPEC §4 order and the first failure decides the error:
//! 1. present ([`AuthzError::Required`]);
//! 2. at most [`VerifyOptions::max_token_bytes`] long ([`AuthzError::TooLarge`]);
//! 3. well-formed, `alg` EdDSA, no key-carrying header, signed by a trusted issuer,
//!    claims complete and within the scope's maximum lifetime ([`AuthzError::Invalid`]);
//! 4. inside `[max(nbf, iat) - skew, exp + skew)` ([`AuthzError::Expired`]);
//! 5. subject, audience, scope, purpose as expected, in that order ([`AuthzError::Mismatch`]).
//!
//! Revocation and use counts are stateful: see [`crate::enforce`].
//!
//! Key choice: the candidates are the trusted issuers whose `id` equals `iss`. When the
//! token carries a `kid`, candidates configured with that `key_id` are used, else those
//! configured without one; a `kid` matching neither is [`InvalidReason::UnknownKeyId`].
//! A token without `kid` is tried against every key of its issuer (rotation).

use std::time::Duration;

use crate::claims::{self, Authorization};
use crate::token::{self, JsonObject};
use crate::{AuthzError, InvalidReason, MismatchReason, TrustedIssuer, WindowReason};

/// What the request needs the token to grant.
#[derive(Debug, Clone, Copy)]
pub struct Expectation<'a> {
    /// The subject of the request path (compared case-insensitively for ASCII letters).
    pub subject: &'a str,
    /// The calling client's id (must equal `aud`).
    pub client_id: &'a str,
    /// The scope the request needs (must be among the granted scopes).
    pub scope: &'a str,
    /// The request's `X-Credit-Purpose` (must equal `purpose`).
    pub purpose: &'a str,
    /// The longest `exp - iat` accepted for this scope; `None` for no limit.
    pub max_lifetime: Option<Duration>,
}

/// Limits applied to every token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// The longest token accepted, in bytes (default 4096).
    pub max_token_bytes: usize,
    /// Clock-skew allowance on `nbf`, `iat` and `exp` (default 60 s).
    pub clock_skew: Duration,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            max_token_bytes: 4096,
            clock_skew: Duration::from_secs(60),
        }
    }
}

/// Verifies the `X-Credit-Authorization` header value, if any (see
/// [`verify_detailed`]).
pub fn verify_header(
    header: Option<&str>,
    issuers: &[TrustedIssuer],
    expect: &Expectation<'_>,
    opts: &VerifyOptions,
    now_unix: i64,
) -> Result<Authorization, Refusal> {
    verify_detailed(header.unwrap_or(""), issuers, expect, opts, now_unix)
}

/// Verifies `token` against the trusted `issuers` and what the request needs.
///
/// A blank token is [`AuthzError::Required`]; surrounding whitespace is ignored.
pub fn verify(
    token: &str,
    issuers: &[TrustedIssuer],
    expect: &Expectation<'_>,
    opts: &VerifyOptions,
    now_unix: i64,
) -> Result<Authorization, AuthzError> {
    verify_detailed(token, issuers, expect, opts, now_unix).map_err(|r| r.error)
}

/// A refused token, with its `jti` when the token itself was authentic
/// (well formed, signed by a trusted issuer) and refused for what it says:
/// its window, its grant, its lifetime. The audit record of the refusal
/// names that token; an unauthenticated token's claims are not trusted, so
/// they name nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Why the token was refused.
    pub error: AuthzError,
    /// The authentic token's `jti`.
    pub jti: Option<String>,
}

/// [`verify`], reporting the `jti` of an authentic token it refuses.
pub fn verify_detailed(
    token: &str,
    issuers: &[TrustedIssuer],
    expect: &Expectation<'_>,
    opts: &VerifyOptions,
    now_unix: i64,
) -> Result<Authorization, Refusal> {
    let anonymous = |error| Refusal { error, jti: None };
    let token = token.trim();
    if token.is_empty() {
        return Err(anonymous(AuthzError::Required));
    }
    if token.len() > opts.max_token_bytes {
        return Err(anonymous(AuthzError::TooLarge {
            max: opts.max_token_bytes,
        }));
    }
    let auth = authenticate(token, issuers).map_err(|r| anonymous(AuthzError::Invalid(r)))?;
    let named = |error| Refusal {
        error,
        jti: Some(auth.jti.clone()),
    };
    if let Some(max) = expect.max_lifetime {
        if i128::from(auth.lifetime_secs()) > i128::from(max.as_secs()) {
            return Err(named(AuthzError::Invalid(InvalidReason::LifetimeTooLong)));
        }
    }
    check_window(&auth, opts.clock_skew, now_unix).map_err(|r| named(AuthzError::Expired(r)))?;
    check_grant(&auth, expect).map_err(|r| named(AuthzError::Mismatch(r)))?;
    Ok(auth)
}

/// Structure, header, issuer, signature and claims: everything that makes a token
/// [`AuthzError::Invalid`] except the per-scope lifetime.
fn authenticate(token: &str, issuers: &[TrustedIssuer]) -> Result<Authorization, InvalidReason> {
    let segments = token::decode(token)?;
    if let Some(first) = token::header_problems(&segments.header).into_iter().next() {
        return Err(first);
    }
    let keys = candidate_keys(&segments.header, &segments.claims, issuers)?;
    if !keys
        .iter()
        .any(|issuer| token::check_signature(token, &issuer.public_key).is_ok())
    {
        return Err(InvalidReason::BadSignature);
    }
    claims::parse(&segments.claims).map_err(InvalidReason::BadClaims)
}

/// The keys that may have signed a token with this header and claims (never empty).
pub(crate) fn candidate_keys<'i>(
    header: &JsonObject,
    claims: &JsonObject,
    issuers: &'i [TrustedIssuer],
) -> Result<Vec<&'i TrustedIssuer>, InvalidReason> {
    let iss = claims::issuer(claims).map_err(InvalidReason::BadClaims)?;
    let of_issuer: Vec<&TrustedIssuer> = issuers.iter().filter(|i| i.id == iss).collect();
    if of_issuer.is_empty() {
        return Err(InvalidReason::UntrustedIssuer);
    }
    let Some(kid) = token::key_id(header) else {
        return Ok(of_issuer);
    };
    let named: Vec<&TrustedIssuer> = of_issuer
        .iter()
        .copied()
        .filter(|i| i.key_id.as_deref() == Some(kid))
        .collect();
    if !named.is_empty() {
        return Ok(named);
    }
    let unnamed: Vec<&TrustedIssuer> = of_issuer
        .into_iter()
        .filter(|i| i.key_id.is_none())
        .collect();
    if unnamed.is_empty() {
        Err(InvalidReason::UnknownKeyId)
    } else {
        Ok(unnamed)
    }
}

/// The validity window with `skew` on both ends.
pub(crate) fn window(
    issued_at: i64,
    not_before: i64,
    expires_at: i64,
    skew: Duration,
    now: i64,
) -> Result<(), WindowReason> {
    let skew = i64::try_from(skew.as_secs()).unwrap_or(i64::MAX);
    if now >= expires_at.saturating_add(skew) {
        return Err(WindowReason::Expired);
    }
    if now < not_before.max(issued_at).saturating_sub(skew) {
        return Err(WindowReason::NotYetValid);
    }
    Ok(())
}

fn check_window(auth: &Authorization, skew: Duration, now: i64) -> Result<(), WindowReason> {
    window(auth.issued_at, auth.not_before, auth.expires_at, skew, now)
}

fn check_grant(auth: &Authorization, expect: &Expectation<'_>) -> Result<(), MismatchReason> {
    if !auth.subject.matches(expect.subject) {
        return Err(MismatchReason::Subject);
    }
    if auth.audience != expect.client_id {
        return Err(MismatchReason::Audience);
    }
    if !auth.grants_scope(expect.scope) {
        return Err(MismatchReason::Scope);
    }
    if auth.purpose != expect.purpose {
        return Err(MismatchReason::Purpose);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
