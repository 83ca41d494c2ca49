//! `POST /v1/sanctions/check`: a batch of subjects (USCCs and ID numbers)
//! checked against joint-punishment lists on every candidate platform in
//! parallel, under one deadline; what is missing is reported, not fatal.

use super::problem::{ApiError, Code};
use super::{Gateway, JsonResult, Req, RequestCtx, Trail};
use crate::config::SanctionsRole;
use crate::federation::breaker::SharedTicket;
use crate::federation::{Deadline, Upstream};
use credgate_policy::canonical::{ListingKind, SanctionAnswer};
use credgate_policy::ids::{division, DivisionCode, Subject};
use credgate_policy::mask::{self, MaskContext};
use credgate_policy::Endpoint;
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    subjects: Vec<String>,
}

/// What one platform said about the subjects it was asked about.
struct PlatformAnswer {
    /// Which of the request's batches (calls) this answers.
    call: usize,
    upstream: usize,
    result: Result<Vec<SanctionAnswer>, ()>,
    info: crate::federation::CallInfo,
}

pub(super) async fn handle(
    gw: &Gateway,
    req_: &Req<'_>,
    trail: &mut Trail,
    body: &[u8],
) -> JsonResult {
    let (policy, ctx) = (req_.policy, req_.ctx);
    // Request shape: no query, and the body must be the documented JSON.
    super::request::no_query(req_.parts)?;
    json_content_type(&req_.parts.headers)?;
    let req: Body = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            Code::InvalidRequest,
            format!(
                "body must be {{\"subjects\": [...]}}: {}",
                e.classify_name()
            ),
        )
    })?;
    let max = gw.sanctions.max_subjects;
    if req.subjects.is_empty() || req.subjects.len() > max {
        return Err(ApiError::new(
            Code::InvalidRequest,
            format!("subjects must hold 1 to {max} identifiers"),
        ));
    }
    // Parse every item; invalid ones are reported per item. Duplicates
    // (after normalisation) are asked once.
    let parsed: Vec<Option<Subject>> = req
        .subjects
        .iter()
        .map(|s| super::subject::parse_subject(s, policy.legacy_codes()).ok())
        .collect();
    let mut unique: Vec<&Subject> = Vec::new();
    let mut seen = BTreeSet::new();
    for s in parsed.iter().flatten() {
        if seen.insert(s.as_str()) {
            unique.push(s);
        }
    }
    // The record names every valid subject (by pseudonym, sorted): each
    // finds the check in its access log, an auditor by subject search.
    let mut pseudonyms: Vec<String> = unique
        .iter()
        .map(|s| gw.audit.pseudonym(s.as_str()))
        .collect();
    pseudonyms.sort_unstable();
    trail.subject_pseudonyms = pseudonyms;
    let grant = super::decision::decide(req_, trail, Endpoint::SanctionsCheck, None)?;
    if grant.authorization_required {
        // One subject's authorization cannot cover a batch of subjects.
        return Err(ApiError::new(
            Code::AuthorizationMismatch,
            "a batch check cannot be covered by a single subject's authorization",
        ));
    }

    // Candidates: which upstream is asked about which subject.
    let upstreams = gw.federation.upstreams();
    let mut asked: Vec<Vec<String>> = vec![Vec::new(); upstreams.len()];
    let mut candidates: HashMap<&str, Vec<usize>> = HashMap::new();
    for s in &unique {
        let code = division::current(s.division());
        for (i, u) in upstreams.iter().enumerate() {
            let ask = match u.sanctions {
                SanctionsRole::All => true,
                SanctionsRole::Regions => covers(u, code),
                SanctionsRole::None => false,
            };
            if ask {
                asked[i].push(s.as_str().to_owned());
                candidates.entry(s.as_str()).or_default().push(i);
            }
        }
    }

    // Fan out: every platform at once, one deadline; each platform gets at
    // most `calls_per_platform` of this request's batches at a time.
    // The breaker sees this request's calls to a platform as one call
    // (`SharedTicket`): a platform taking one subject per call is not cut
    // off by one slow batch, and is probed by a whole batch.
    let gates: Vec<Gate<'_>> = upstreams
        .iter()
        .zip(&asked)
        .map(|(u, subjects)| Gate {
            turns: Semaphore::new(gw.sanctions.calls_per_platform.max(1)),
            breaker: (!subjects.is_empty()).then(|| u.group_ticket()),
        })
        .collect();
    let window = Duration::from_millis(gw.sanctions.deadline_ms);
    let deadline = Deadline {
        at: std::time::Instant::now() + window,
        window,
    };
    // One call per batch of a platform's subjects (its adapter's limit).
    let mut batches: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, subjects) in asked.iter().enumerate() {
        let limit = upstreams[i].adapter.sanctions_batch_limit().max(1);
        batches.extend(subjects.chunks(limit).map(|c| (i, c.to_vec())));
    }
    let mut calls = FuturesUnordered::new();
    for (call, (i, subjects)) in batches.iter().enumerate() {
        let u = &upstreams[*i];
        trail.note_calling(&u.name);
        calls.push(ask_platform(
            call,
            *i,
            u.clone(),
            subjects,
            ctx,
            &gates[*i],
            deadline,
        ));
    }
    let mut failed_calls: Vec<usize> = Vec::new();
    let mut answered: Vec<(usize, SanctionAnswer)> = Vec::new();
    let mut pending: BTreeSet<usize> = (0..batches.len()).collect();
    // Each call ends by the deadline by itself (its attempts' timeouts are
    // cut to it, so the breaker and the metrics see a platform that stays
    // silent); the grace only covers the scheduling of those last answers.
    loop {
        let until = tokio::time::Instant::from_std(deadline.at) + DEADLINE_GRACE;
        match tokio::time::timeout_at(until, calls.next()).await {
            Ok(Some(PlatformAnswer {
                call,
                upstream,
                result,
                info,
            })) => {
                trail.note_upstream(&upstreams[upstream].name, &info);
                pending.remove(&call);
                match result {
                    Ok(list) => answered.extend(list.into_iter().map(|a| (upstream, a))),
                    Err(()) => failed_calls.push(call),
                }
            }
            Ok(None) => break,
            Err(_) => {
                // Deadline: whatever has not answered has failed, and is
                // in the record as a timeout.
                failed_calls.extend(pending.iter().copied());
                trail.abandon_calls("timeout");
                break;
            }
        }
    }
    drop(calls);
    // Each platform's calls have all ended: their outcome goes to its
    // breaker now.
    drop(gates);
    // A platform that did not answer for some of its batches is named in
    // `failed_platforms`; only the subjects of those batches lack its word
    // (a batch it answered in time stands).
    let failed: BTreeSet<usize> = failed_calls.iter().map(|&c| batches[c].0).collect();
    let failed_for: HashSet<(usize, &str)> = failed_calls
        .iter()
        .flat_map(|&c| {
            let (upstream, subjects) = &batches[c];
            subjects.iter().map(move |s| (*upstream, s.as_str()))
        })
        .collect();
    // Sources in the configured platform order, not in order of arrival:
    // the same question gets the same answer.
    answered.sort_by_key(|(upstream, _)| *upstream);

    // Aggregate per subject.
    let mut by_subject: HashMap<&str, Vec<(usize, &SanctionAnswer)>> = HashMap::new();
    for (i, a) in &answered {
        by_subject
            .entry(a.subject.as_str())
            .or_default()
            .push((*i, a));
    }
    let ctx_mask = MaskContext {
        pseudonym_key: &gw.pseudonym_key,
        client: req_.client.id(),
    };
    let mut results = Vec::with_capacity(req.subjects.len());
    for (index, (given, parsed)) in req.subjects.iter().zip(&parsed).enumerate() {
        let Some(subject) = parsed else {
            results.push(
                json!({ "index": index, "subject": given, "status": "invalid", "sources": [] }),
            );
            continue;
        };
        let answers = by_subject
            .get(subject.as_str())
            .cloned()
            .unwrap_or_default();
        let mut sources = Vec::new();
        for (i, a) in &answers {
            for l in &a.listings {
                sources.push(json!({
                    "platform": upstreams[*i].name,
                    "kind": kind_name(l.kind),
                    "list_name": l.list_name,
                    "basis": l.basis,
                    "authority": l.authority,
                    "listed_on": l.listed_on,
                    "as_of": a.as_of,
                }));
            }
        }
        let cands = candidates
            .get(subject.as_str())
            .cloned()
            .unwrap_or_default();
        let any_failed = cands
            .iter()
            .any(|&c| failed_for.contains(&(c, subject.as_str())));
        // `no_hit` is a statement that the subject was checked: some platform
        // asked must answer for it, either because the subject's region is
        // its own or because it knows the subject. A platform asked about
        // every subject (`sanctions = "all"`) that has never heard of a
        // Shanghai enterprise vouches for nothing.
        let code = division::current(subject.division());
        let vouched = cands.iter().any(|&c| covers(&upstreams[c], code))
            || answers.iter().any(|(_, a)| a.known);
        let status = if !sources.is_empty() {
            "hit"
        } else if any_failed || !vouched {
            "unknown"
        } else {
            "no_hit"
        };
        let mut doc = super::object([(
            "sanctions",
            super::object([("sources", Value::Array(sources))]),
        )]);
        let report = mask::apply(&grant.profile, &mut doc, &ctx_mask);
        trail.note_mask(report);
        let sources = doc["sanctions"]["sources"].take();
        let sources = if sources.is_array() {
            sources
        } else {
            json!([])
        };
        results.push(super::object([
            ("index", Value::from(index)),
            // As given (SPEC §4): the caller matches results to its list.
            // Only the caller sees it; no log or record holds it.
            ("subject", Value::from(given.as_str())),
            ("status", Value::from(status)),
            ("sources", sources),
        ]));
    }
    let failed_platforms: Vec<&str> = failed.iter().map(|i| upstreams[*i].name.as_str()).collect();
    // One record per request: a batch names no single subject; the count
    // and the platforms asked are recorded.
    trail
        .sections
        .push(format!("sanctions:{}", req.subjects.len()));
    for name in &failed_platforms {
        if !trail.upstreams.iter().any(|u| u.name == *name) {
            trail.upstreams.push(credgate_audit::UpstreamOutcome {
                name: (*name).to_owned(),
                outcome: "deadline".to_owned(),
                latency_ms: gw.sanctions.deadline_ms,
            });
        }
    }
    Ok(super::object([
        ("results", Value::Array(results)),
        ("partial", Value::from(!failed_platforms.is_empty())),
        ("failed_platforms", json!(failed_platforms)),
    ]))
}

/// The body is JSON: a `Content-Type` other than `application/json` (or a
/// `+json` type), with any parameters, is refused as `invalid_request`
/// (a form post by `curl -d` without `-H`, say). Absent is taken as JSON.
fn json_content_type(headers: &http::HeaderMap) -> Result<(), ApiError> {
    let mut values = headers.get_all(http::header::CONTENT_TYPE).iter();
    let (Some(v), None) = (values.next(), values.next()) else {
        return if headers.contains_key(http::header::CONTENT_TYPE) {
            Err(ApiError::new(
                Code::InvalidRequest,
                "Content-Type given more than once",
            ))
        } else {
            Ok(())
        };
    };
    let essence = v
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::InvalidRequest,
            "Content-Type must be application/json",
        ))
    }
}

/// How long after the fan-out's deadline its last calls, each ending at
/// the deadline by itself (no retry starts that would not), may take to
/// report back: scheduling only.
const DEADLINE_GRACE: Duration = Duration::from_millis(50);

/// One platform's share of a fan-out: its turns (at most
/// `calls_per_platform` of the request's calls at a time) and the breaker
/// ticket its calls share (`None` when it is asked about nobody).
struct Gate<'u> {
    turns: Semaphore,
    breaker: Option<SharedTicket<'u>>,
}

async fn ask_platform(
    call: usize,
    i: usize,
    u: Arc<Upstream>,
    subjects: &[String],
    ctx: &RequestCtx,
    gate: &Gate<'_>,
    deadline: Deadline,
) -> PlatformAnswer {
    // Never closed; the deadline bounds the wait. A batch still waiting
    // for its turn at the deadline never reached the platform.
    let at = tokio::time::Instant::from_std(deadline.at);
    let Ok(_turn) = tokio::time::timeout_at(at, gate.turns.acquire()).await else {
        return PlatformAnswer {
            call,
            upstream: i,
            result: Err(()),
            info: crate::federation::CallInfo {
                attempts: 0,
                outcome: "timeout",
                elapsed: Duration::ZERO,
            },
        };
    };
    let req = u.adapter.sanctions_request(subjects);
    let (result, info) = u
        .call_grouped(
            &req,
            ctx,
            Some(deadline),
            gate.breaker.as_ref(),
            |status, body| u.adapter.parse_sanctions(subjects, status, body),
        )
        .await;
    if let Err(e) = &result {
        tracing::warn!(upstream = %u.name, outcome = info.outcome, error = %e, "sanctions batch failed");
    }
    PlatformAnswer {
        call,
        upstream: i,
        result: result.map_err(|_| ()),
        info,
    }
}

/// Whether an upstream's regions cover a division code.
fn covers(u: &Upstream, code: DivisionCode) -> bool {
    let c = code.to_string();
    u.regions.iter().any(|r| c.starts_with(r.as_str()))
}

fn kind_name(k: ListingKind) -> &'static str {
    match k {
        ListingKind::Blacklist => "blacklist",
        ListingKind::Dishonest => "dishonest",
        ListingKind::Abnormal => "abnormal",
    }
}

/// The serde_json error category, never its text (which may quote input).
trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not valid JSON",
            serde_json::error::Category::Data => "wrong shape",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}
