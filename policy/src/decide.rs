//! Per-request decisions (SPEC §4): may this client ask this endpoint, for
//! these sections, for this purpose?
//!
//! Refusals are checked in the contract's order: `purpose_required`, then
//! `scope_denied`, then `purpose_not_allowed`.
//!
//! - A missing or blank purpose is `purpose_required`.
//! - No grant for the endpoint is `scope_denied`.
//! - Requested sections outside the grant are `scope_denied` (refused, not
//!   silently dropped). `sections: None` and `Some(&[])` both mean "every
//!   section of the grant". Sections given for an endpoint without sections
//!   are `scope_denied` (fail closed).
//! - A purpose that no grant for the endpoint allows is
//!   `purpose_not_allowed`.
//!
//! When a client holds several grants for the same endpoint (validation
//! guarantees their purposes do not overlap), the grant allowing the
//! request's purpose decides. If none allows it, the refusal is
//! `scope_denied` unless some grant for the endpoint covers the requested
//! sections, in which case it is `purpose_not_allowed`; with a single grant
//! this is exactly the contract's order.

use crate::canonical::Section;
use crate::policy::{Client, Endpoint, Policy, RateLimit, ScopeGrant};
use crate::profile::FieldProfile;
use std::sync::Arc;

/// What a request asks, as far as the policy is concerned.
#[derive(Clone, Copy, Debug)]
pub struct RequestShape<'a> {
    /// The endpoint called.
    pub endpoint: Endpoint,
    /// Requested report sections; `None` or empty = all granted sections.
    pub sections: Option<&'a [Section]>,
    /// The `X-Credit-Purpose` header, if any.
    pub purpose: Option<&'a str>,
}

/// An allowed request: what the gateway may fetch and return.
#[derive(Clone, Debug)]
pub struct Grant {
    /// The scope that allowed it.
    pub scope: String,
    /// The declared purpose.
    pub purpose: String,
    /// Effective sections, in report order (empty for non-report endpoints).
    pub sections: Vec<Section>,
    /// The client's field profile.
    pub profile: Arc<FieldProfile>,
    /// Whether the subject's authorization token is required.
    pub authorization_required: bool,
    /// Longest accepted token lifetime in days, if limited.
    pub max_authorization_lifetime_days: Option<u32>,
    /// The client × scope rate limit, if any.
    pub rate_limit: Option<RateLimit>,
}

/// Why a request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Deny {
    /// No purpose declared.
    #[error("a purpose is required")]
    PurposeRequired,
    /// The endpoint or a requested section is not granted.
    #[error("outside the client's scope")]
    ScopeDenied,
    /// The purpose is not allowed for the granted scope.
    #[error("purpose not allowed for this scope")]
    PurposeNotAllowed,
}

// === impl Deny ===

impl Deny {
    /// The problem `code` (`purpose_required`, `scope_denied`,
    /// `purpose_not_allowed`).
    pub fn code(&self) -> &'static str {
        match self {
            Deny::PurposeRequired => "purpose_required",
            Deny::ScopeDenied => "scope_denied",
            Deny::PurposeNotAllowed => "purpose_not_allowed",
        }
    }
}

// === impl Policy ===

impl Policy {
    /// Decides a request of `client` (see the module docs for the rules).
    pub fn decide(&self, client: &Client, req: &RequestShape<'_>) -> Result<Grant, Deny> {
        let purpose = req
            .purpose
            .filter(|p| !p.trim().is_empty())
            .ok_or(Deny::PurposeRequired)?;
        let candidates: Vec<&ScopeGrant> = client
            .grants()
            .iter()
            .filter(|g| g.endpoint == req.endpoint)
            .collect();
        if candidates.is_empty() {
            return Err(Deny::ScopeDenied);
        }
        let requested = req.sections.filter(|s| !s.is_empty());
        if requested.is_some() && !req.endpoint.has_sections() {
            return Err(Deny::ScopeDenied);
        }
        let covers =
            |g: &ScopeGrant| requested.is_none_or(|r| r.iter().all(|s| g.sections.contains(s)));
        let Some(grant) = candidates.iter().find(|g| g.allows_purpose(purpose)) else {
            return Err(if candidates.iter().any(|g| covers(g)) {
                Deny::PurposeNotAllowed
            } else {
                Deny::ScopeDenied
            });
        };
        if !covers(grant) {
            return Err(Deny::ScopeDenied);
        }
        let mut sections = match requested {
            Some(r) => r.to_vec(),
            None => grant.sections.clone(),
        };
        sections.sort();
        sections.dedup();
        Ok(Grant {
            scope: grant.scope.clone(),
            purpose: purpose.to_owned(),
            sections,
            profile: Arc::clone(client.profile()),
            authorization_required: grant.authorization_required,
            max_authorization_lifetime_days: grant.max_authorization_lifetime_days,
            rate_limit: grant.rate_limit,
        })
    }
}

#[cfg(test)]
mod tests;
