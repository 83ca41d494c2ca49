//! The auditor API (`/v1/audit/*`, scope `audit.read`) and the subject's
//! own query record (`/v1/subjects/{id}/access-log`, scope
//! `self.access_log` with the subject's authorization), SPEC §4.
//! Auditor queries are themselves audited like every request.

use super::problem::{ApiError, Code};
use super::route::AuditRoute;
use super::{Gateway, JsonResult, Req, Trail};
use credgate_audit::{AuditLog, Decision, Query, SignedCheckpoint};
use credgate_policy::Endpoint;
use serde_json::{json, Value};

fn log_of(gw: &Gateway) -> Result<&AuditLog, ApiError> {
    gw.audit.log().ok_or_else(|| {
        ApiError::new(
            Code::AuditUnavailable,
            "auditing is disabled on this gateway",
        )
    })
}

fn query_params(q: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = super::route::percent_decode_query(k)?;
        let v = super::route::percent_decode_query(v)?;
        if out.iter().any(|(key, _): &(String, String)| *key == k) {
            return Err(ApiError::new(
                Code::InvalidRequest,
                format!("{} given twice", super::problem::shown(&k)),
            ));
        }
        out.push((k, v));
    }
    Ok(out)
}

fn bad(what: &str) -> ApiError {
    ApiError::new(Code::InvalidRequest, what.to_owned())
}

/// An auditor request whose shape has been checked (before the policy
/// decision, as the SPEC's refusal order says).
enum AuditRequest {
    Records(Query),
    Checkpoint,
    Proof { seq: u64, size: Option<u64> },
    Consistency { from: u64, to: u64 },
}

/// Checks the query of an auditor request: known parameters, each well
/// formed. Bounds that depend on the log's size are checked later.
fn parse_request(
    gw: &Gateway,
    req: &Req<'_>,
    trail: &mut Trail,
    route: AuditRoute,
) -> Result<AuditRequest, ApiError> {
    let params = query_params(req.parts.uri.query())?;
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let known: &[&str] = match route {
        AuditRoute::Records => &[
            "client", "subject", "from", "to", "decision", "limit", "cursor",
        ],
        AuditRoute::Checkpoint => &[],
        AuditRoute::Proof(_) => &["size"],
        AuditRoute::Consistency => &["from", "to"],
    };
    if let Some((k, _)) = params.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        return Err(bad(&format!(
            "unknown query parameter {}",
            super::problem::shown(k)
        )));
    }
    // An empty value filters nothing sensible (`client=` would match no
    // record and read as "none found"): say so instead.
    if let Some((k, _)) = params.iter().find(|(_, v)| v.trim().is_empty()) {
        return Err(bad(&format!("{k}: empty")));
    }

    Ok(match route {
        AuditRoute::Records => {
            let mut q = Query {
                client: get("client").map(str::to_owned),
                ..Query::default()
            };
            if let Some(raw) = get("subject") {
                // The raw identifier is turned into the pseudonym the log
                // stores; an invalid one cannot match anything.
                let subject = super::subject::parse_subject(raw, req.policy.legacy_codes())
                    .map_err(|e| ApiError::new(Code::InvalidSubjectId, format!("subject: {e}")))?;
                let pseudonym = gw.audit.pseudonym(subject.as_str());
                // A search by subject reads that subject's query history:
                // its record names the subject (by pseudonym), so who
                // searched whom is itself on record, and shows in the
                // subject's own access log.
                trail.subject_pseudonym = Some(pseudonym.clone());
                trail.subject_region = Some(subject.division().to_string());
                q.subject_pseudonym = Some(pseudonym);
            }
            if let Some(t) = get("from") {
                q.from = Some(time_param("from", t)?);
            }
            if let Some(t) = get("to") {
                q.to = Some(time_param("to", t)?);
            }
            if let (Some(from), Some(to)) = (q.from, q.to) {
                if from > to {
                    return Err(bad("need from <= to"));
                }
            }
            q.decision = match get("decision") {
                None => None,
                Some("allow") => Some(Decision::Allow),
                Some("deny") => Some(Decision::Deny),
                Some(_) => return Err(bad("decision: allow or deny")),
            };
            if let Some(l) = get("limit") {
                let n = positive("limit", l)?;
                q.limit = Some(usize::try_from(n).unwrap_or(usize::MAX));
            }
            if let Some(c) = get("cursor") {
                q.cursor = Some(cursor(c)?);
            }
            AuditRequest::Records(q)
        }
        AuditRoute::Checkpoint => AuditRequest::Checkpoint,
        AuditRoute::Proof(seq) => {
            let size = get("size").map(|s| positive("size", s)).transpose()?;
            if seq == 0 || size.is_some_and(|size| seq > size) {
                return Err(bad("need 1 <= seq <= size"));
            }
            AuditRequest::Proof { seq, size }
        }
        AuditRoute::Consistency => {
            let required = |k: &str| -> Result<u64, ApiError> {
                positive(k, get(k).ok_or_else(|| bad(&format!("{k} is required")))?)
            };
            let (from, to) = (required("from")?, required("to")?);
            if from > to {
                return Err(bad("need from <= to"));
            }
            AuditRequest::Consistency { from, to }
        }
    })
}

/// The auditor endpoints.
pub(super) async fn handle(
    gw: &Gateway,
    req: &Req<'_>,
    trail: &mut Trail,
    route: AuditRoute,
) -> JsonResult {
    let request = parse_request(gw, req, trail, route)?;
    super::decision::decide(req, trail, Endpoint::AuditRead, None)?;
    let log = log_of(gw)?;
    match request {
        AuditRequest::Records(q) => {
            let page = log.query(q).await.map_err(|e| internal_audit(&e))?;
            trail.sections.push("audit.records".to_owned());
            Ok(json!({ "records": page.records, "next_cursor": page.next_cursor }))
        }
        AuditRequest::Checkpoint => {
            trail.sections.push("audit.checkpoint".to_owned());
            let cp = match log.latest_checkpoint() {
                Some(cp) => cp,
                None => log.checkpoint_now().await.map_err(|e| internal_audit(&e))?,
            };
            Ok(checkpoint_json(&cp, log))
        }
        AuditRequest::Proof { seq, size } => {
            // Without `size`: against a signed checkpoint covering `seq`
            // (the latest, or one made now), returned with the proof, so
            // the proof ends at a root the auditor can check the
            // signature of.
            let checkpoint = match size {
                Some(_) => None,
                None if seq == 0 || seq > log.tree_size() => None,
                None => Some(
                    log.checkpoint_covering(seq, ON_DEMAND_CHECKPOINT_INTERVAL)
                        .await
                        .map_err(|e| internal_audit(&e))?,
                ),
            };
            let size = size
                .or(checkpoint.as_ref().map(|c| c.tree_size))
                .unwrap_or_else(|| log.tree_size());
            if seq == 0 || size == 0 || seq > size || size > log.tree_size() {
                return Err(bad("need 1 <= seq <= size <= the log size"));
            }
            let proof = log
                .inclusion_proof(seq, size)
                .map_err(|e| proof_error(&e))?;
            let leaf = log.leaf_hash(seq).map_err(|e| proof_error(&e))?;
            let root = log.root(size).map_err(|e| proof_error(&e))?;
            trail.sections.push("audit.proof".to_owned());
            let mut answer = json!({
                "seq": seq,
                "leaf_index": seq - 1,
                "tree_size": size,
                "leaf_hash": hex::encode(leaf),
                "root_hash": hex::encode(root),
                "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
            });
            if let Some(cp) = &checkpoint {
                answer["checkpoint"] = checkpoint_json(cp, log);
            }
            Ok(answer)
        }
        AuditRequest::Consistency { from: m, to: n } => {
            if n > log.tree_size() {
                return Err(bad("need 1 <= from <= to <= the log size"));
            }
            let proof = log.consistency_proof(m, n).map_err(|e| proof_error(&e))?;
            trail.sections.push("audit.consistency".to_owned());
            Ok(json!({
                "from": m,
                "to": n,
                "from_root": hex::encode(log.root(m).map_err(|e| proof_error(&e))?),
                "to_root": hex::encode(log.root(n).map_err(|e| proof_error(&e))?),
                "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
            }))
        }
    }
}

/// At most one checkpoint per this interval is written for access logs
/// (see [`credgate_audit::AuditLog::checkpoint_covering`]): a subject
/// asking again at once waits up to this long.
const ON_DEMAND_CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// The subject's own query record: who (client display name), when, for
/// what purpose, which sections — each with its inclusion proof against a
/// signed checkpoint so the subject's platform can verify it independently.
pub(super) async fn access_log(
    gw: &Gateway,
    req: &Req<'_>,
    trail: &mut Trail,
    subject: &str,
) -> JsonResult {
    let subject =
        super::subject::parse_subject(subject, req.policy.legacy_codes()).map_err(|e| {
            ApiError::new(
                Code::InvalidSubjectId,
                format!("not a valid subject identifier: {e}"),
            )
        })?;
    let pseudonym = gw.audit.pseudonym(subject.as_str());
    trail.subject_pseudonym = Some(pseudonym.clone());
    trail.subject_region = Some(subject.division().to_string());
    let params = query_params(req.parts.uri.query())?;
    let grant = super::decision::decide(req, trail, Endpoint::SubjectAccessLog, None)?;
    super::decision::authorize(gw, req, trail, &grant, subject.as_str()).await?;
    let log = log_of(gw)?;
    let mut q = Query {
        subject_pseudonym: Some(pseudonym),
        // Only queries that returned data count as "who saw my record".
        decision: Some(Decision::Allow),
        limit: Some(100),
        ..Query::default()
    };
    for (k, v) in &params {
        match k.as_str() {
            "cursor" => q.cursor = Some(cursor(v)?),
            // As for /v1/audit/records: 0 is refused, more than a page is
            // one page (the rest follows with next_cursor).
            "limit" => {
                let n = positive("limit", v)?;
                q.limit = Some(usize::try_from(n).unwrap_or(usize::MAX).min(100));
            }
            other => {
                return Err(bad(&format!(
                    "unknown query parameter {}",
                    super::problem::shown(other)
                )))
            }
        }
    }
    let page = log.query(q).await.map_err(|e| internal_audit(&e))?;
    // Every entry must be provable against a signed checkpoint: write one
    // now if the latest does not cover the newest entry yet.
    let newest = page.records.iter().map(|r| r.seq).max().unwrap_or(0);
    let cp = log
        .checkpoint_covering(newest, ON_DEMAND_CHECKPOINT_INTERVAL)
        .await
        .map_err(|e| internal_audit(&e))?;
    let mut entries = Vec::with_capacity(page.records.len());
    for r in &page.records {
        let display = req
            .policy
            .client(&r.client_id)
            .map(|c| c.display_name().to_owned())
            .unwrap_or_else(|| r.client_id.clone());
        let proof = log
            .inclusion_proof(r.seq, cp.tree_size)
            .map_err(|e| internal_audit(&e))?;
        let record_json =
            serde_json::to_string(r).map_err(|_| ApiError::new(Code::Internal, "encoding"))?;
        entries.push(json!({
            "seq": r.seq,
            "time": r.time,
            "client": display,
            "purpose": r.purpose,
            "endpoint": r.endpoint,
            "sections": r.sections,
            // The exact leaf bytes, so the proof can be checked from them.
            "record": record_json,
            "leaf_hash": hex::encode(log.leaf_hash(r.seq).map_err(|e| internal_audit(&e))?),
            "inclusion_proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
        }));
    }
    trail.sections.push("access_log".to_owned());
    Ok(json!({
        // Each replica keeps its own log (SPEC §8) and answers from it
        // alone: with several replicas the subject's platform asks each.
        "replica": cp.replica,
        "entries": entries,
        "checkpoint": checkpoint_json(&cp, log),
        "next_cursor": page.next_cursor,
    }))
}

fn checkpoint_json(cp: &SignedCheckpoint, log: &AuditLog) -> Value {
    json!({
        "replica": cp.replica,
        "tree_size": cp.tree_size,
        "root_hash": cp.root_hash,
        "time": cp.time,
        "key_id": cp.key_id,
        "signature": cp.signature,
        // "start", "periodic" or "final" (a run's first or last); signed:
        // the body's last line for start and final.
        "kind": cp.kind,
        "signed_body": cp.signed_body(),
        "public_key": log.public_key().to_spki_pem(),
    })
}

/// A proof or root the log could not give: the request's fault when it
/// names sizes or seqs outside the log, else the log's (its leaf cache
/// could not be read back).
fn proof_error(e: &credgate_audit::AuditError) -> ApiError {
    match e {
        credgate_audit::AuditError::Proof(_) => bad(&e.to_string()),
        other => internal_audit(other),
    }
}

fn internal_audit(e: &credgate_audit::AuditError) -> ApiError {
    tracing::error!(error = %e, "audit log read failed");
    ApiError::new(Code::AuditUnavailable, "the audit log could not be read")
}

/// A `from`/`to` bound: RFC 3339 or Unix milliseconds; the detail says
/// what was wrong (Unix seconds are refused by name).
/// A count or seq parameter: digits only, above 0.
fn positive(key: &str, text: &str) -> Result<u64, ApiError> {
    match super::route::decimal(text) {
        Some(n) if n > 0 => Ok(n),
        _ => Err(bad(&format!("{key}: a positive integer"))),
    }
}

/// A `cursor`: the `next_cursor` of the page before, a seq (never 0: a
/// page ending at seq 1 has no next page).
fn cursor(text: &str) -> Result<u64, ApiError> {
    positive("cursor", text).map_err(|_| bad("cursor: the next_cursor of the page before"))
}

fn time_param(key: &str, text: &str) -> Result<i64, ApiError> {
    Query::parse_time(text).map_err(|e| match e {
        credgate_audit::AuditError::Query(why) => bad(&format!("{key}: {why}")),
        _ => bad(&format!("{key}: RFC 3339 or Unix milliseconds")),
    })
}
