//! `GET /v1/persons/{id}/score`: the person's native score from the home
//! platform, recognised on the common scale and the caller's home scheme
//! (信用分互认). The ID number is never echoed back.

use super::problem::{ApiError, Code};
use super::{Gateway, JsonResult, RequestCtx};
use crate::federation::call_error;
use crate::policy_store::LoadedPolicy;
use crate::recognition::RecognitionError;
use credgate_policy::ids::IdNumber;
use credgate_policy::mask::{self, MaskContext};
use credgate_policy::{Client, Endpoint, RequestShape};
use serde_json::json;

pub(super) async fn handle(
    gw: &Gateway,
    policy: &LoadedPolicy,
    client: &Client,
    ctx: &RequestCtx,
    parts: &http::request::Parts,
    subject: &str,
) -> JsonResult {
    let id = IdNumber::parse(subject).map_err(|e| {
        ApiError::new(
            Code::InvalidSubjectId,
            format!("not a valid ID number: {e}"),
        )
    })?;
    let purpose = super::purpose(&parts.headers)?;
    let grant = policy
        .decide(
            client,
            &RequestShape {
                endpoint: Endpoint::PersonScore,
                sections: None,
                purpose: purpose.as_deref(),
            },
        )
        .map_err(super::deny_error)?;
    let authorized = gw
        .authorizer
        .check(
            policy,
            &grant,
            client.id(),
            id.as_str(),
            parts.headers.get("x-credit-authorization"),
        )
        .await?;
    let result = answer(gw, client, ctx, &id, &grant).await;
    gw.authorizer.settle(authorized, result.is_ok()).await;
    result
}

/// Routing, the upstream call, recognition and masking.
async fn answer(
    gw: &Gateway,
    client: &Client,
    ctx: &RequestCtx,
    id: &IdNumber,
    grant: &credgate_policy::Grant,
) -> JsonResult {
    let division = id.division();
    let upstream = gw.federation.route(division).ok_or_else(|| {
        ApiError::new(
            Code::SubjectRegionUnknown,
            format!("no platform serves division {division}"),
        )
    })?;
    let req = upstream.adapter.score_request(id.as_str());
    let (score, _info) = upstream
        .call(&req, ctx.traceparent.as_ref(), |status, body| {
            upstream.adapter.parse_score(id.as_str(), status, body)
        })
        .await;
    let score = score.map_err(|e| call_error(&upstream.name, &e))?;
    let recognized = gw
        .schemes
        .recognize(&score.scheme, score.value, client.home_scheme())
        .map_err(|e| {
            tracing::warn!(upstream = %upstream.name, error = %e, "unusable score from platform");
            let what = match e {
                RecognitionError::UnknownScheme => "a score of an unconfigured scheme",
                RecognitionError::OutOfRange => "a score outside its scheme's range",
            };
            ApiError::new(
                Code::UpstreamUnavailable,
                format!("platform {} reported {what}", upstream.name),
            )
        })?;
    let mut doc = json!({
        "score": {
            "scheme": score.scheme,
            "value": score.value,
            "native_tier": recognized.native_tier,
            "issued_at": score.issued_at,
            "issuer": upstream.name,
            "common_tier": recognized.common_tier,
            "home_tier": recognized.home_tier,
        }
    });
    mask::apply(
        &grant.profile,
        &mut doc,
        &MaskContext {
            pseudonym_key: &gw.pseudonym_key,
        },
    );
    Ok(json!({
        "subject": { "kind": "person", "division": division.to_string() },
        "purpose": grant.purpose,
        "score": doc["score"].take(),
    }))
}
