//! What the request path learned about one request, recorded in its audit
//! record (SPEC §8). Handlers fill it as they go; the subject appears only
//! as its keyed pseudonym.

use super::RequestCtx;
use crate::authorize::Authorized;
use crate::server::ConnInfo;
use credgate_audit::{Decision, NewRecord, UpstreamOutcome};
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
    /// The subject's division code.
    pub subject_region: Option<String>,
    /// The verified authorization (its use is settled after the audit).
    pub authorized: Option<Authorized>,
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

    /// Notes one upstream call.
    pub fn note_upstream(&mut self, name: &str, info: &crate::federation::CallInfo) {
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
            cert_fingerprint: hex::encode(conn.peer.sha256),
            endpoint: self.endpoint.unwrap_or("-").to_owned(),
            purpose: self.purpose.take(),
            subject_pseudonym: self.subject_pseudonym.take(),
            subject_region: self.subject_region.take(),
            authz_jti: self.authorized.as_ref().map(|a| a.jti.clone()),
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

/// Writes the request's log line if the request is dropped while its audit
/// record is being committed (hyper drops the handler when the client goes
/// away): the record is still written, so the log keeps one line per
/// audited request, with the decision `client_closed` (the record's
/// sequence number is then unknown: `audit_seq` 0; the request id links
/// the two). Costs nothing on the normal path.
pub(crate) struct CommitGuard<'a> {
    ctx: &'a RequestCtx,
    trail: &'a Trail,
    status: u16,
    started: std::time::Instant,
    armed: bool,
}

impl<'a> CommitGuard<'a> {
    /// Armed until [`CommitGuard::disarm`].
    pub(crate) fn new(
        ctx: &'a RequestCtx,
        trail: &'a Trail,
        status: u16,
        started: std::time::Instant,
    ) -> Self {
        CommitGuard {
            ctx,
            trail,
            status,
            started,
            armed: true,
        }
    }

    /// The commit finished: the normal path writes the line.
    pub(crate) fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for CommitGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let decision = "client_closed";
        self.ctx.span.record("decision", decision);
        crate::telemetry::RequestLine {
            request_id: &self.ctx.request_id,
            trace_id: &self.ctx.trace.trace_id,
            client: self.trail.client.as_deref().unwrap_or("-"),
            endpoint: self.trail.endpoint.unwrap_or("-"),
            status: self.status,
            decision,
            audit_seq: 0,
            elapsed_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
        .log();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::tests::Lines;

    fn lines_of(f: impl FnOnce()) -> Vec<serde_json::Value> {
        let out = Lines::default();
        let d = crate::telemetry::dispatch(
            tracing_subscriber::EnvFilter::new("info"),
            out.clone(),
            None,
        );
        tracing::dispatcher::with_default(&d, f);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn a_request_dropped_during_its_audit_commit_still_gets_its_log_line() {
        let ctx = RequestCtx {
            request_id: "req-1".into(),
            trace: crate::telemetry::TraceContext {
                trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                flags: "01".into(),
            },
            span: tracing::Span::none(),
        };
        let trail = Trail {
            client: Some("dept-nb".into()),
            endpoint: Some("/v1/enterprises/{uscc}/report"),
            ..Default::default()
        };
        let started = std::time::Instant::now();
        // Dropped armed (the future was cancelled): one line.
        let dropped = lines_of(|| drop(CommitGuard::new(&ctx, &trail, 200, started)));
        assert_eq!(dropped.len(), 1, "{dropped:?}");
        let f = &dropped[0]["fields"];
        assert_eq!(f["message"], "request");
        assert_eq!(f["request_id"], "req-1");
        assert_eq!(f["client"], "dept-nb");
        assert_eq!(f["endpoint"], "/v1/enterprises/{uscc}/report");
        assert_eq!(f["decision"], "client_closed");
        assert_eq!(f["status"], 200);
        assert_eq!(f["audit_seq"], 0);
        // Disarmed (the commit finished; the normal path logs): none.
        let finished = lines_of(|| CommitGuard::new(&ctx, &trail, 200, started).disarm());
        assert!(finished.is_empty(), "{finished:?}");
    }
}
