//! What the request path learned about one request, recorded in its audit
//! record (SPEC §8). Handlers fill it as they go; the subject appears only
//! as its keyed pseudonym.

use super::RequestCtx;
use crate::authorize::Authorized;
use crate::server::ConnInfo;
use credgate_audit::{batch_tag, Decision, NewRecord, UpstreamOutcome};
use credgate_policy::MaskReport;

/// Facts of one request, for its audit record.
#[derive(Debug, Default)]
pub struct Trail {
    /// The identified client's id (none: no client entry matched).
    pub client: Option<String>,
    /// Endpoint template.
    pub endpoint: Option<&'static str>,
    /// The declared purpose.
    pub purpose: Option<String>,
    /// Keyed pseudonym of the subject.
    pub subject_pseudonym: Option<String>,
    /// Keyed pseudonyms of the subjects of a batch (sanctions check); the
    /// record stores only their request-salted tags.
    pub subject_pseudonyms: Vec<String>,
    /// The subject's division code.
    pub subject_region: Option<String>,
    /// The verified authorization (its use is settled after the audit).
    pub authorized: Option<Authorized>,
    /// The `jti` of an authentic token that was refused (revoked, spent,
    /// expired, for another subject ...), so the refusal names it.
    pub refused_jti: Option<String>,
    /// Digest of the field profile applied.
    pub profile_digest: Option<String>,
    /// Sections (or other parts) returned.
    pub sections: Vec<String>,
    /// Field paths returned.
    pub fields_returned: Vec<String>,
    /// Field paths returned masked.
    pub fields_masked: Vec<String>,
    /// Upstream calls made, with outcome and latency.
    pub upstreams: Vec<UpstreamOutcome>,
    /// Upstream calls under way (name, start): what the record of a request
    /// abandoned mid-call names (see `inflight`).
    pub calling: Vec<(String, std::time::Instant)>,
    /// The outcome code (`ok` or the problem code), once known.
    pub code: Option<&'static str>,
    /// `RateLimit-Policy` / `RateLimit` headers for the response.
    pub ratelimit_headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl Trail {
    /// Notes the fields a masking pass returned and masked.
    pub fn note_mask(&mut self, report: MaskReport) {
        self.fields_returned.extend(report.returned);
        self.fields_masked.extend(report.masked);
    }

    /// Notes an upstream call about to start.
    pub fn note_calling(&mut self, name: &str) {
        self.calling
            .push((name.to_owned(), std::time::Instant::now()));
    }

    /// The calls still under way when the request was abandoned (by its
    /// client: `client_closed`; by `request_timeout_ms`: `timeout`), as
    /// upstream outcomes: the record names every platform queried.
    pub fn abandon_calls(&mut self, outcome: &str) {
        for (name, started) in self.calling.drain(..) {
            self.upstreams.push(UpstreamOutcome {
                name,
                outcome: outcome.to_owned(),
                latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            });
        }
    }

    /// Notes one upstream call (finished).
    pub fn note_upstream(&mut self, name: &str, info: &crate::federation::CallInfo) {
        if let Some(i) = self.calling.iter().position(|(n, _)| n == name) {
            self.calling.swap_remove(i);
        }
        self.upstreams.push(UpstreamOutcome {
            name: name.to_owned(),
            outcome: info.outcome.to_owned(),
            latency_ms: u64::try_from(info.elapsed.as_millis()).unwrap_or(u64::MAX),
        });
    }

    /// The audit record of this request. Moves the lists and the
    /// subject's facts out of the trail (the response path after the
    /// record needs only the client, endpoint, code and rate-limit headers).
    pub fn record(
        &mut self,
        ctx: &RequestCtx,
        conn: &ConnInfo,
        code: &str,
        status: u16,
    ) -> NewRecord {
        let mut fields_returned = std::mem::take(&mut self.fields_returned);
        fields_returned.sort_unstable();
        fields_returned.dedup();
        let mut fields_masked = std::mem::take(&mut self.fields_masked);
        fields_masked.sort_unstable();
        fields_masked.dedup();
        NewRecord {
            request_id: ctx.request_id.clone(),
            trace_id: Some(ctx.trace.trace_id.clone()),
            client_id: self.client.clone().unwrap_or_else(|| "-".to_owned()),
            cert_fingerprint: credgate_audit::hex_lower(&conn.peer.sha256),
            endpoint: self.endpoint.unwrap_or("-").to_owned(),
            purpose: self.purpose.take(),
            subject_pseudonym: self.subject_pseudonym.take(),
            subject_tags: batch_tags(&self.subject_pseudonyms, &ctx.request_id),
            subject_region: self.subject_region.take(),
            authz_jti: self
                .authorized
                .as_ref()
                .map(|a| a.jti.clone())
                .or_else(|| self.refused_jti.take()),
            decision: if code == "ok" {
                Decision::Allow
            } else {
                Decision::Deny
            },
            reason: code.to_owned(),
            profile_digest: self.profile_digest.take(),
            sections: std::mem::take(&mut self.sections),
            fields_returned,
            fields_masked,
            upstreams: std::mem::take(&mut self.upstreams),
            status,
        }
    }
}

/// The record's tags for a batch's subjects ([`batch_tag`]), sorted: each
/// subject (and an auditor) finds the record by its pseudonym, but a
/// subject shown the record cannot recognise the others in it, here or in
/// any other record.
fn batch_tags(pseudonyms: &[String], request_id: &str) -> Vec<String> {
    let mut tags: Vec<String> = pseudonyms
        .iter()
        .map(|p| batch_tag(p, request_id))
        .collect();
    tags.sort_unstable();
    tags
}
