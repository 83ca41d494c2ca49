//! `GET /v1/persons/{id}/score`: the person's native score from the home
//! platform, recognised on the common scale and the caller's home scheme
//! (信用分互认). The ID number is never echoed back.

use super::problem::{ApiError, Code};
use super::{Gateway, JsonResult, Req, Trail};
use crate::federation::call_error;
use crate::recognition::RecognitionError;
use credgate_policy::mask::{self, MaskContext};
use credgate_policy::Endpoint;
use serde_json::{json, Value};

pub(super) async fn handle(
    gw: &Gateway,
    req: &Req<'_>,
    trail: &mut Trail,
    subject: &str,
) -> JsonResult {
    let id = super::subject::parse_id_number(subject).map_err(|e| {
        // An enterprise's code here is a mix-up worth naming as such, not
        // a malformed ID number (the check below never reaches a platform).
        let uscc = credgate_policy::ids::Uscc::parse(subject, &Default::default()).is_ok();
        ApiError::new(
            Code::InvalidSubjectId,
            if uscc {
                "a USCC (an enterprise's code), not an ID number: a score is a person's".to_owned()
            } else {
                format!("not a valid ID number: {e}")
            },
        )
    })?;
    super::request::no_query(req.parts)?;
    trail.subject_pseudonym = Some(gw.audit.pseudonym(id.as_str()));
    trail.subject_region = Some(id.division().to_string());
    let grant = super::decision::decide(req, trail, Endpoint::PersonScore, None)?;
    super::decision::authorize(gw, req, trail, &grant, id.as_str()).await?;
    let division = id.division();
    let upstream = gw.federation.route(division).ok_or_else(|| {
        ApiError::new(
            Code::SubjectRegionUnknown,
            format!("no platform serves division {division}"),
        )
    })?;
    let call = upstream.adapter.score_request(id.as_str());
    trail.note_calling(&upstream.name);
    let (score, info) = upstream
        .call(&call, req.ctx, |status, body| {
            upstream.adapter.parse_score(id.as_str(), status, body)
        })
        .await;
    trail.note_upstream(&upstream.name, &info);
    let score = score.map_err(|e| call_error(&upstream.name, &e))?;
    let recognized = gw
        .schemes
        .recognize(&score.scheme, score.value, req.client.home_scheme())
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
            // The issuer is the configured upstream that answered.
            "issuer": upstream.name,
            "common_tier": recognized.common_tier,
            "home_tier": recognized.home_tier,
        }
    });
    let report = mask::apply(
        &grant.profile,
        &mut doc,
        &MaskContext {
            pseudonym_key: &gw.pseudonym_key,
            client: req.client.id(),
        },
    );
    trail.note_mask(report);
    trail.sections.push("score".to_owned());
    Ok(super::object([
        (
            "subject",
            json!({ "kind": "person", "division": division.to_string() }),
        ),
        ("purpose", Value::from(grant.purpose.as_str())),
        ("score", doc["score"].take()),
    ]))
}
