//! `GET /v1/enterprises/{uscc}/report`: validate the USCC, decide scope,
//! purpose and sections, route by division code, call the owning platform,
//! translate, mask, and answer with provenance per section.

use super::problem::{ApiError, Code};
use super::{Gateway, JsonResult, Req, Trail};
use crate::federation::call_error;
use credgate_policy::canonical::Section;
use credgate_policy::ids::Uscc;
use credgate_policy::mask::{self, MaskContext};
use credgate_policy::Endpoint;
use serde_json::{json, Map, Value};

pub(super) async fn handle(
    gw: &Gateway,
    req: &Req<'_>,
    trail: &mut Trail,
    subject: &str,
) -> JsonResult {
    // Request shape: the identifier first, then the query.
    let uscc = Uscc::parse(subject, req.policy.legacy_codes())
        .map_err(|e| ApiError::new(Code::InvalidSubjectId, format!("not a valid USCC: {e}")))?;
    trail.subject_pseudonym = Some(gw.audit.pseudonym(uscc.as_str()));
    trail.subject_region = Some(uscc.division().to_string());
    let sections = parse_sections(req.parts.uri.query())?;
    let grant =
        super::decision::decide(req, trail, Endpoint::EnterpriseReport, sections.as_deref())?;
    super::decision::authorize(gw, req, trail, &grant, uscc.as_str()).await?;
    answer(gw, req, trail, &uscc, &grant).await
}

/// Routing, the upstream call, translation and masking.
async fn answer(
    gw: &Gateway,
    req: &Req<'_>,
    trail: &mut Trail,
    uscc: &Uscc,
    grant: &credgate_policy::Grant,
) -> JsonResult {
    let division = uscc.division();
    let upstream = gw.federation.route(division).ok_or_else(|| {
        ApiError::new(
            Code::SubjectRegionUnknown,
            format!("no platform serves division {division}"),
        )
    })?;
    let call = upstream
        .adapter
        .report_request(uscc.as_str(), &grant.sections);
    trail.note_calling(&upstream.name);
    let (record, info) = upstream
        .call(&call, req.ctx, |status, body| {
            upstream
                .adapter
                .parse_report(uscc.as_str(), &grant.sections, status, body)
        })
        .await;
    trail.note_upstream(&upstream.name, &info);
    let record = record.map_err(|e| call_error(&upstream.name, &e))?;
    let unreadable: Vec<&'static str> = record
        .unreadable
        .iter()
        .filter(|(s, _)| grant.sections.contains(s))
        .map(|(s, _)| s.as_str())
        .collect();
    for (section, reason) in &record.unreadable {
        tracing::warn!(
            upstream = %upstream.name,
            section = section.as_str(),
            reason = %reason,
            "a report section could not be read; answered as unavailable"
        );
    }

    // Canonical → JSON, only the granted sections, then the profile.
    let mut doc = Map::new();
    let mut sources = Map::new();
    for (section, as_of, data) in record.sections {
        if !grant.sections.contains(&section) {
            continue;
        }
        let value = serde_json::to_value(&data)
            .map_err(|_| ApiError::new(Code::Internal, "could not encode a section"))?;
        doc.insert(section.as_str().to_owned(), value);
        sources.insert(
            section.as_str().to_owned(),
            json!({ "platform": upstream.name, "as_of": as_of }),
        );
    }
    let mut doc = Value::Object(doc);
    let report = mask::apply(
        &grant.profile,
        &mut doc,
        &MaskContext {
            pseudonym_key: &gw.pseudonym_key,
            client: req.client.id(),
        },
    );
    trail.note_mask(report);
    let mut out = Map::new();
    let mut missing = Vec::new();
    for section in &grant.sections {
        let name = section.as_str();
        match sources.remove(name) {
            Some(source) => {
                let data = doc.get_mut(name).map(Value::take).unwrap_or(Value::Null);
                out.insert(
                    name.to_owned(),
                    super::object([("source", source), ("data", data)]),
                );
                trail.sections.push(name.to_owned());
            }
            None => missing.push(name),
        }
    }
    Ok(super::object([
        (
            "subject",
            json!({
                "uscc": uscc.as_str(),
                "division": division.to_string(),
                "legacy_code": uscc.is_legacy(),
            }),
        ),
        ("purpose", Value::from(grant.purpose.as_str())),
        ("sections", Value::Object(out)),
        ("unavailable_sections", json!(missing)),
        // The subset of those the platform sent but this build could not
        // read: "not held" and "could not read" are different answers for
        // a blacklist.
        ("unreadable_sections", json!(unreadable)),
    ]))
}

/// `sections=a,b,…`: every name must be a known section; duplicates fold.
/// Absent means "all sections in scope". Present but naming none
/// (`sections=`, `sections=,,`) is refused rather than read as "all": a
/// client that built the list from empty input must not get more data
/// than it asked for.
fn parse_sections(query: Option<&str>) -> Result<Option<Vec<Section>>, ApiError> {
    let Some(q) = query else { return Ok(None) };
    let mut found: Option<Vec<Section>> = None;
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        // `%XX` escapes decoded in names and values alike, as for the
        // auditor's queries (a bad escape is a bad request, not an
        // unknown section).
        let k = super::route::percent_decode_query(k)?;
        let v = super::route::percent_decode_query(v)?;
        if k != "sections" {
            return Err(ApiError::new(
                Code::InvalidRequest,
                format!("unknown query parameter {}", super::problem::shown(&k)),
            ));
        }
        if found.is_some() {
            return Err(ApiError::new(Code::InvalidRequest, "sections given twice"));
        }
        let mut list = Vec::new();
        for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let s = Section::parse(name).ok_or_else(|| {
                ApiError::new(
                    Code::InvalidRequest,
                    format!("unknown section {}", super::problem::shown(name)),
                )
            })?;
            if !list.contains(&s) {
                list.push(s);
            }
        }
        if list.is_empty() {
            return Err(ApiError::new(
                Code::InvalidRequest,
                "sections names no section (omit it for every section in scope)",
            ));
        }
        found = Some(list);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_query() {
        assert_eq!(parse_sections(None).unwrap(), None);
        for empty in ["sections=", "sections=,,", "sections=%2C", "sections"] {
            let e = parse_sections(Some(empty)).unwrap_err();
            assert_eq!(e.code, Code::InvalidRequest, "{empty}");
        }
        assert_eq!(parse_sections(Some("")).unwrap(), None);
        assert_eq!(
            parse_sections(Some("sections=basic,penalties,basic")).unwrap(),
            Some(vec![Section::Basic, Section::Penalties])
        );
        assert_eq!(
            parse_sections(Some("sections=basic%2Credlist")).unwrap(),
            Some(vec![Section::Basic, Section::Redlist])
        );
        assert_eq!(
            parse_sections(Some("%73ections=%6Cicenses,%20basic")).unwrap(),
            Some(vec![Section::Licenses, Section::Basic]),
            "escapes decoded in the name and the value"
        );
        let bad = parse_sections(Some("sections=basic%ZZ")).unwrap_err();
        assert!(bad.to_string().contains("percent-encoding"), "{bad}");
        assert_eq!(
            parse_sections(Some("sections=gossip")).unwrap_err().code,
            Code::InvalidRequest
        );
        assert_eq!(
            parse_sections(Some("x=1")).unwrap_err().code,
            Code::InvalidRequest
        );
    }
}
