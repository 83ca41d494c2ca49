//! The policy steps every endpoint takes after the request shape: purpose,
//! decision (scope, sections, purpose) and the subject's authorization; and
//! the grant whose client × scope rate limit is checked before the shape.

use super::problem::{ApiError, Code};
use super::request::purpose;
use super::{Gateway, Req, Trail};

/// The steps every endpoint takes after the request shape, in the SPEC's
/// order: the purpose, the policy decision (scope, sections, purpose) and
/// the profile digest for the audit record. (The client × scope limit of
/// the grant this returns was checked before the request shape, with the
/// client's own: see [`scope_grant`].)
pub(super) fn decide(
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

/// The grant whose client × scope limit a request counts against, known
/// from the route and the declared purpose alone: the client's grant for
/// the endpoint that allows the purpose (the choice `Policy::decide`
/// makes), or, when no purpose picks one, the client's only grant for the
/// endpoint. `None` when the client has several and the purpose picks
/// none (the decision refuses such a request) or has none (likewise).
pub(super) fn scope_grant<'c>(
    client: &'c credgate_policy::Client,
    endpoint: credgate_policy::Endpoint,
    headers: &http::HeaderMap,
) -> Option<&'c credgate_policy::ScopeGrant> {
    let mut for_endpoint = client.grants().iter().filter(|g| g.endpoint == endpoint);
    let first = for_endpoint.next()?;
    if for_endpoint.next().is_none() {
        // The only grant: whatever the purpose (the usual case; the purpose
        // header is not read twice).
        return Some(first);
    }
    let purpose = purpose(headers).ok().flatten()?;
    client
        .grants()
        .iter()
        .find(|g| g.endpoint == endpoint && g.allows_purpose(&purpose))
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
