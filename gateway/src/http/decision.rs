//! The policy steps every endpoint takes after the request shape: purpose,
//! decision (scope, sections, purpose), the client × scope rate limit, and
//! the subject's authorization.

use super::problem::{ApiError, Code};
use super::request::purpose;
use super::{Gateway, Req, Trail};

/// The steps every endpoint takes after the request shape, in the SPEC's
/// order: the purpose, the policy decision (scope, sections, purpose), the
/// profile digest for the audit record, and the client × scope limit.
pub(super) async fn decide(
    gw: &Gateway,
    req: &Req<'_>,
    trail: &mut Trail,
    endpoint: credgate_policy::Endpoint,
    sections: Option<&[credgate_policy::canonical::Section]>,
) -> Result<credgate_policy::Grant, ApiError> {
    let purpose = purpose(&req.parts.headers)?;
    let grant = req
        .policy
        .decide(
            req.client,
            &credgate_policy::RequestShape {
                endpoint,
                sections,
                purpose: purpose.as_deref(),
            },
        )
        .map_err(deny_error)?;
    trail.profile_digest = Some(grant.profile.digest_hex());
    scope_limit(gw, req, &grant, trail).await?;
    Ok(grant)
}

/// The subject's authorization when the grant requires it; the reserved
/// use is settled after the audit record is written.
pub(super) async fn authorize(
    gw: &Gateway,
    req: &Req<'_>,
    trail: &mut Trail,
    grant: &credgate_policy::Grant,
    subject: &str,
) -> Result<(), ApiError> {
    let checked = gw
        .authorizer
        .check(
            req.policy,
            grant,
            req.client.id(),
            subject,
            req.parts.headers.get("x-credit-authorization"),
        )
        .await;
    match checked {
        Ok(authorized) => {
            trail.authorized = authorized;
            Ok(())
        }
        Err(refused) => {
            trail.refused_jti = refused.jti;
            Err(refused.error)
        }
    }
}

/// The client × scope rate limit, when the grant sets one; checked once
/// the scope is known and before any upstream call.
async fn scope_limit(
    gw: &Gateway,
    req: &Req<'_>,
    grant: &credgate_policy::Grant,
    trail: &mut Trail,
) -> Result<(), ApiError> {
    match gw
        .ratelimit
        .check(
            req.client.id(),
            Some(&grant.scope),
            grant.rate_limit.as_ref(),
        )
        .await
    {
        Ok(headers) => {
            if !headers.is_empty() {
                trail.ratelimit_headers = headers;
            }
            Ok(())
        }
        Err((e, headers)) => {
            trail.ratelimit_headers = headers;
            Err(e)
        }
    }
}

/// A policy refusal as a problem document.
fn deny_error(d: credgate_policy::Deny) -> ApiError {
    use credgate_policy::Deny;
    match d {
        Deny::PurposeRequired => {
            ApiError::new(Code::PurposeRequired, "X-Credit-Purpose is required")
        }
        Deny::ScopeDenied => ApiError::new(
            Code::ScopeDenied,
            "the client's policy does not grant this endpoint or section",
        ),
        Deny::PurposeNotAllowed => ApiError::new(
            Code::PurposeNotAllowed,
            "the purpose is not allowed for this client and scope",
        ),
    }
}
