//! A request the client abandons: hyper drops the handler's future when
//! the connection closes while the answer is being prepared. The guard here
//! owns the request's [`Trail`] for the whole handler, so that whatever
//! point the request reached, the drop still
//!
//! - writes the request's audit record when none was being committed yet
//!   (decision deny, reason `client_closed`, status 499 — or, when the
//!   server closed the connection at its drain timeout, `server_shutdown`,
//!   status 503 — with whatever the
//!   request had reached: client, endpoint, purpose, subject pseudonym,
//!   authorization, upstreams called), so that every request yields exactly
//!   one record (SPEC §8) even when nobody is left to answer. Nothing waits
//!   on it: the record is queued for the writer's next group commit;
//! - writes the request's log line (decision `client_closed`), so the log
//!   keeps one line per request received, linked to the rest by request id;
//! - counts it in `credgate_requests_total` with that decision (a request
//!   dropped during its audit commit is counted with the code its answer
//!   had: the normal path counts after the commit, which it did not reach);
//! - gives back an authorization use reserved for it when no audit record
//!   says it was answered (the use is kept from the moment the record is
//!   being committed: the record then says the query was answered, and the
//!   two must agree).
//!
//! On the normal path it costs one enum test.

use super::{RequestCtx, Trail};
use crate::audit::Auditor;
use crate::authorize::Authorizer;
use crate::metrics::Metrics;
use crate::server::ConnInfo;
use std::time::Instant;

/// Status logged for a request dropped before its answer was decided (the
/// client closed the connection first; nginx's convention).
pub(crate) const CLIENT_CLOSED_STATUS: u16 = 499;

/// Status recorded for a request still in progress when the server closed
/// its connection at the drain timeout of a shutdown (nothing was sent).
pub(crate) const SERVER_SHUTDOWN_STATUS: u16 = 503;

/// How far the request got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Checks, upstream calls, masking: no answer and no record yet.
    Handling,
    /// The audit record (with this status) is being committed.
    Committing(u16),
    /// The normal path writes the line.
    Done,
}

/// Owns the request's [`Trail`]; logs (and gives back a reserved use) if
/// dropped before [`InFlight::done`].
pub(crate) struct InFlight<'a> {
    ctx: &'a RequestCtx,
    conn: &'a ConnInfo,
    auditor: &'a Auditor,
    authorizer: &'a Authorizer,
    metrics: &'a Metrics,
    started: Instant,
    stage: Stage,
    /// What the handlers learned so far.
    pub(crate) trail: Trail,
}

impl<'a> InFlight<'a> {
    /// A request whose handling starts now (armed).
    pub(crate) fn new(
        ctx: &'a RequestCtx,
        conn: &'a ConnInfo,
        auditor: &'a Auditor,
        authorizer: &'a Authorizer,
        metrics: &'a Metrics,
        started: Instant,
    ) -> Self {
        InFlight {
            ctx,
            conn,
            auditor,
            authorizer,
            metrics,
            started,
            stage: Stage::Handling,
            trail: Trail::default(),
        }
    }

    /// The record, with the response status `status`, is being committed:
    /// from here a drop keeps the authorization use (the record says the
    /// query was decided) and logs that status.
    pub(crate) fn committing(&mut self, status: u16) {
        self.stage = Stage::Committing(status);
    }

    /// The commit finished; the normal path settles and logs.
    pub(crate) fn done(&mut self) {
        self.stage = Stage::Done;
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        // Dropped by the server (its drain timed out) or by the client.
        let (decision, dropped_status) = if *self.conn.aborted.borrow() {
            ("server_shutdown", SERVER_SHUTDOWN_STATUS)
        } else {
            ("client_closed", CLIENT_CLOSED_STATUS)
        };
        let status = match self.stage {
            Stage::Done => return,
            Stage::Committing(status) => {
                // The record is committed (or being): counted as decided.
                let code = self.trail.code.unwrap_or(decision);
                self.metrics
                    .observe_request(&self.trail, code, self.started.elapsed());
                status
            }
            Stage::Handling => {
                self.trail.code = Some(decision);
                // Nothing was released: the record names no returned or
                // masked data (the upstreams called stay: the platforms
                // were queried).
                self.trail.sections.clear();
                self.trail.fields_returned.clear();
                self.trail.fields_masked.clear();
                self.trail.abandon_calls(decision);
                // Built before the use is given back: it names the
                // authorization's jti.
                let record = self
                    .trail
                    .record(self.ctx, self.conn, decision, dropped_status);
                if let Err(e) = self.auditor.append_detached(record) {
                    if let Some(suppressed) = crate::audit::FAILURE_LOG.allow() {
                        tracing::error!(request_id = %self.ctx.request_id, error = %e,
                            suppressed, "audit record of an abandoned request not written");
                    }
                }
                if let Some(a) = self.trail.authorized.take() {
                    self.authorizer.release_detached(a);
                }
                self.metrics
                    .observe_request(&self.trail, decision, self.started.elapsed());
                dropped_status
            }
        };
        super::log_outcome(self.ctx, &self.trail, status, decision, 0, self.started);
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

    fn ctx() -> RequestCtx {
        RequestCtx {
            request_id: "req-1".into(),
            trace: crate::telemetry::TraceContext {
                trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                flags: "01".into(),
            },
            span: tracing::Span::none(),
        }
    }

    fn authorizer() -> Authorizer {
        let cfg = crate::config::Config::from_toml(
            crate::config::tests::MIN,
            std::path::Path::new("g.toml"),
            std::path::Path::new("/etc/cg"),
        )
        .unwrap();
        Authorizer::from_config(&cfg).unwrap()
    }

    struct Env {
        conn: ConnInfo,
        auditor: Auditor,
    }

    fn env() -> Env {
        Env {
            conn: ConnInfo {
                remote: "127.0.0.1:4000".parse().unwrap(),
                peer: credgate_policy::CertIdentity::default(),
                h2: false,
                cert: crate::tls::recheck::CertStatus::for_tests(),
                unidentified: false,
                aborted: tokio::sync::watch::channel(false).1,
            },
            auditor: Auditor::disabled_for_tests(),
        }
    }

    fn with_trail<'a>(
        ctx: &'a RequestCtx,
        env: &'a Env,
        authz: &'a Authorizer,
        metrics: &'a Metrics,
    ) -> InFlight<'a> {
        let mut r = InFlight::new(ctx, &env.conn, &env.auditor, authz, metrics, Instant::now());
        r.trail.client = Some("dept-nb".into());
        r.trail.endpoint = Some("/v1/enterprises/{uscc}/report");
        r
    }

    #[test]
    fn a_request_dropped_while_handled_gets_a_client_closed_line_with_499() {
        let (ctx, env, authz, metrics) = (ctx(), env(), authorizer(), Metrics::new());
        let lines = lines_of(|| drop(with_trail(&ctx, &env, &authz, &metrics)));
        assert_eq!(lines.len(), 1, "{lines:?}");
        let f = &lines[0]["fields"];
        assert_eq!(f["message"], "request");
        assert_eq!(f["request_id"], "req-1");
        assert_eq!(f["client"], "dept-nb");
        assert_eq!(f["endpoint"], "/v1/enterprises/{uscc}/report");
        assert_eq!(f["decision"], "client_closed");
        assert_eq!(f["status"], 499);
        assert_eq!(f["audit_seq"], 0);
        assert_eq!(closed_count(&metrics), 1);
    }

    /// `credgate_requests_total{decision="client_closed"}` summed over labels.
    fn closed_count(metrics: &Metrics) -> u64 {
        metrics
            .render()
            .lines()
            .filter(|l| l.starts_with("credgate_requests_total{"))
            .filter(|l| l.contains("decision=\"client_closed\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    #[test]
    fn a_request_dropped_during_its_audit_commit_logs_the_decided_status() {
        let (ctx, env, authz, metrics) = (ctx(), env(), authorizer(), Metrics::new());
        let lines = lines_of(|| {
            let mut r = with_trail(&ctx, &env, &authz, &metrics);
            r.trail.code = Some("ok");
            r.committing(200);
            drop(r);
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["fields"]["decision"], "client_closed");
        assert_eq!(lines[0]["fields"]["status"], 200);
        // Counted once, with the decision its record holds (the normal
        // path counts after the commit, which it did not reach).
        assert_eq!(closed_count(&metrics), 0);
        let ok: u64 = metrics
            .render()
            .lines()
            .filter(|l| l.starts_with("credgate_requests_total{") && l.contains("decision=\"ok\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum();
        assert_eq!(ok, 1);
    }

    #[test]
    fn a_finished_request_gets_no_line_from_the_guard() {
        let (ctx, env, authz, metrics) = (ctx(), env(), authorizer(), Metrics::new());
        let lines = lines_of(|| {
            let mut r = with_trail(&ctx, &env, &authz, &metrics);
            r.committing(200);
            r.done();
            drop(r);
        });
        assert!(lines.is_empty(), "{lines:?}");
    }
}
