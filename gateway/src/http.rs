//! The HTTP request path: request id, client identification, the request
//! deadline, dispatch to the endpoint handlers, audit before answer, and
//! the common response headers. Routing is in `route`, reading the request
//! in `request`, the policy steps in `decision`; errors become responses
//! only in [`problem`].

use crate::federation::Federation;
use crate::policy_store::PolicyStore;
use crate::server::ConnInfo;
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use problem::{ApiError, Code};
use std::sync::Arc;
use tracing::Instrument as _;

mod audit_api;
mod decision;
mod inflight;
pub mod problem;
mod report;
mod request;
mod route;
mod sanctions;
mod score;
pub(crate) mod subject;
mod trail;

pub use trail::Trail;

use request::{
    head_bytes, host_and_framing, read_body, recorded_purpose, single_valued,
    strip_identity_headers,
};
use route::Route;

/// Everything a request needs: policy, federation, keys and bounds.
pub struct Gateway {
    /// The current policy (hot-reloaded).
    pub policy: Arc<PolicyStore>,
    /// Upstream platforms and routing.
    pub federation: Arc<Federation>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Largest accepted request head (request line and headers), bytes.
    pub max_header_bytes: usize,
    /// Longest a request may take before its audit record (`request_timeout_ms`).
    pub request_timeout: std::time::Duration,
    /// Key for the `hash` transform and subject pseudonyms.
    pub pseudonym_key: Vec<u8>,
    /// Score schemes for recognition.
    pub schemes: crate::recognition::Schemes,
    /// Sanctions fan-out settings.
    pub sanctions: crate::config::SanctionsConfig,
    /// Subject authorization verification and state.
    pub authorizer: crate::authorize::Authorizer,
    /// The audit log.
    pub audit: crate::audit::Auditor,
    /// Prometheus metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Rate limits and quotas.
    pub ratelimit: crate::ratelimit::RateLimiter,
    /// The client-facing TLS material (for rechecking established
    /// connections' certificates).
    pub tls: Arc<crate::tls::TlsStore>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").finish_non_exhaustive()
    }
}

/// Per-request facts shared by the handlers.
#[derive(Debug)]
pub struct RequestCtx {
    /// Unique id of this request (`X-Request-Id`).
    pub request_id: String,
    /// W3C trace context (the client's when it sent a valid one).
    pub trace: crate::telemetry::TraceContext,
    /// The request's span (parent of the upstream-call spans).
    pub span: tracing::Span,
}

/// A successful handler answer: JSON body.
pub type JsonResult = Result<serde_json::Value, ApiError>;

/// A JSON object from owned members, moved in. `serde_json::json!`
/// serialises every interpolated expression into a new tree, so a `Value`
/// given to it (a masked section, a list of results) is deep-copied: that
/// copy was 5 % of the gateway's CPU per report request.
fn object<const N: usize>(members: [(&str, serde_json::Value); N]) -> serde_json::Value {
    serde_json::Value::Object(
        members
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

impl Gateway {
    /// Handles one request; never fails (errors become problem documents).
    /// The audit record is written before the response is released; if it
    /// cannot be, the client gets `503 audit_unavailable` and no data.
    pub async fn handle(&self, conn: &ConnInfo, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let started = std::time::Instant::now();
        let span = tracing::info_span!(
            "request",
            otel.kind = "server",
            request_id = tracing::field::Empty,
            client = tracing::field::Empty,
            endpoint = tracing::field::Empty,
            decision = tracing::field::Empty,
            status = tracing::field::Empty,
        );
        let trace = crate::telemetry::TraceContext::start(&span, req.headers());
        let ctx = RequestCtx {
            request_id: new_request_id(),
            trace,
            span: span.clone(),
        };
        span.record("request_id", ctx.request_id.as_str());
        let head_request = req.method() == Method::HEAD;
        let id = ctx.request_id.clone();
        let resp = crate::telemetry::REQUEST_ID
            .scope(
                id,
                self.handle_traced(conn, req, ctx, started).instrument(span),
            )
            .await;
        if head_request {
            without_body(resp)
        } else {
            resp
        }
    }

    async fn handle_traced(
        &self,
        conn: &ConnInfo,
        req: Request<Incoming>,
        ctx: RequestCtx,
        started: std::time::Instant,
    ) -> Response<Full<Bytes>> {
        // Owns the trail: if the client goes away and hyper drops this
        // future, the guard still records and logs the request and gives
        // back an authorization use reserved for it (see `inflight`).
        let mut inflight = inflight::InFlight::new(
            &ctx,
            conn,
            &self.audit,
            &self.authorizer,
            &self.metrics,
            started,
        );
        // `request_timeout_ms` bounds the request up to its audit record: a
        // body that never arrives, or anything else that stalls, becomes a
        // refusal that is recorded and answered (the record and the answer
        // have their own bounds: the audit queue and the write timeout).
        let result = match tokio::time::timeout(
            self.request_timeout,
            self.handle_inner(conn, req, &ctx, &mut inflight.trail),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => {
                // Calls cut off with the request are in its record too.
                inflight.trail.abandon_calls("timeout");
                Err(timed_out(&inflight.trail, self.request_timeout))
            }
        };
        let (mut resp, code) = match result {
            Ok(v) => (json_response(&v), "ok"),
            Err(e) => {
                let code = e.code.as_str();
                (e.into_response(), code)
            }
        };
        let trail = &mut inflight.trail;
        trail.code = Some(code);
        let status = resp.status().as_u16();
        let record = trail.record(&ctx, conn, code, status);
        let authorized = trail.authorized.take();
        // From here the record exists even if the client goes away and this
        // future is dropped: the guard then only writes the log line.
        inflight.committing(status);
        let appended = self.audit.append(record).await;
        // Counted with the answer the client gets, the audit write included
        // (set before the settle's await: a drop there counts this code).
        let answered_code = if appended.is_ok() {
            code
        } else {
            Code::AuditUnavailable.as_str()
        };
        inflight.trail.code = Some(answered_code);
        // The use is kept when the record says "answered" or still may: a
        // timed-out write can land later (over-counting a use is safe).
        let recorded = matches!(
            appended,
            Ok(_) | Err(credgate_audit::AuditError::TimedOut { .. })
        );
        self.authorizer
            .settle(authorized, code == "ok" && recorded)
            .await;
        inflight.done();
        let trail = &mut inflight.trail;
        self.metrics
            .observe_request(trail, answered_code, started.elapsed());
        match appended {
            Ok(seq) => finish(resp, &ctx, seq, trail, started),
            Err(e) => {
                // Each refusal has its own request line (status 503,
                // audit_unavailable); the cause is logged once per window.
                if let Some(suppressed) = crate::audit::FAILURE_LOG.allow() {
                    tracing::error!(request_id = %ctx.request_id, error = %e, suppressed,
                        "audit record not written: refusing to answer");
                }
                resp = ApiError::new(
                    Code::AuditUnavailable,
                    "the audit record could not be written; no data is released",
                )
                .retry_after(1)
                .into_response();
                trail.code = Some(Code::AuditUnavailable.as_str());
                finish(resp, &ctx, None, trail, started)
            }
        }
    }

    async fn handle_inner(
        &self,
        conn: &ConnInfo,
        req: Request<Incoming>,
        ctx: &RequestCtx,
        trail: &mut Trail,
    ) -> JsonResult {
        let (mut parts, body) = req.into_parts();
        let head = head_bytes(&parts);
        strip_identity_headers(&mut parts.headers);
        let policy = self.policy.current();
        // What the record of any refusal from here on names: the endpoint
        // (for an unmatched certificate too: the auditor sees what it tried)
        // and, once the client is known, the declared purpose.
        let route = Route::parse(&parts.method, parts.uri.path());
        trail.endpoint = match &route {
            Ok(r) => Some(r.template()),
            Err(_) => Route::template_of(parts.uri.path()),
        };
        // A certificate revoked by a CRL loaded since this connection's
        // handshake, whose CA has left the bundle since, or expired since,
        // no longer identifies anyone.
        conn.cert
            .check(crate::authorize::unix_now(), self.tls.generation(), || {
                self.tls.in_force()
            })
            .map_err(|why| ApiError::new(Code::ScopeDenied, why))?;
        // Identity comes only from the verified certificate. A valid
        // certificate that no client entry matches gets no data.
        let client = policy.identify(&conn.peer).ok_or_else(|| {
            ApiError::new(
                Code::ScopeDenied,
                "client certificate is not granted by policy",
            )
        })?;
        trail.client = Some(client.id().to_owned());
        trail.purpose = recorded_purpose(&policy, &parts.headers);
        // Rate limits first, once the certificate has identified the client
        // (SPEC §4): the client × scope limit and the client's own, decided
        // together (`RateLimiter::check`: a request one refuses counts in
        // neither). The scope is the one the policy decision will take, the
        // client's grant for this endpoint that allows the declared purpose;
        // without one the decision refuses the request anyway (purpose or
        // scope), and only the client's own limit applies.
        let grant = route
            .as_ref()
            .ok()
            .and_then(|r| decision::scope_grant(client, r.endpoint(), &parts.headers));
        let scope = grant.map(|g| (g.scope.as_str(), g.rate_limit.as_ref()));
        let own = client.rate_limit();
        match self.ratelimit.check(client.id(), scope, own.as_ref()).await {
            Ok(headers) => trail.ratelimit_headers = headers,
            Err((e, headers)) => {
                trail.ratelimit_headers = headers;
                return Err(e);
            }
        }
        // Request shape: head bound, route, then body bound. The
        // connection's codec admits heads up to twice the bound, so that
        // one over it gets a record too, not only the codec's problem
        // document.
        if head > self.max_header_bytes {
            return Err(ApiError::new(
                Code::InvalidRequest,
                format!(
                    "request line and headers exceed {} bytes",
                    self.max_header_bytes
                ),
            ));
        }
        single_valued(&parts.headers)?;
        host_and_framing(&parts)?;
        let route = route?;
        let body = read_body(body, &parts.headers, self.max_body_bytes).await?;
        let req = Req {
            policy: &policy,
            client,
            ctx,
            parts: &parts,
        };
        match route {
            Route::EnterpriseReport { subject } => {
                report::handle(self, &req, trail, &subject).await
            }
            Route::PersonScore { subject } => score::handle(self, &req, trail, &subject).await,
            Route::SanctionsCheck => sanctions::handle(self, &req, trail, &body).await,
            Route::Audit(a) => audit_api::handle(self, &req, trail, a).await,
            Route::AccessLog { subject } => {
                audit_api::access_log(self, &req, trail, &subject).await
            }
        }
    }
}

/// The refusal of a request that ran out of `request_timeout_ms`: before
/// the endpoint's handler got the body, the client did not send its
/// request in time (`invalid_request`); after, something upstream of the
/// answer stalled (`upstream_unavailable`, 504).
fn timed_out(trail: &Trail, limit: std::time::Duration) -> ApiError {
    let ms = limit.as_millis();
    if trail.profile_digest.is_none() && trail.upstreams.is_empty() {
        ApiError::new(
            Code::InvalidRequest,
            format!("the request was not received within {ms} ms"),
        )
    } else {
        ApiError::new(
            Code::UpstreamTimeout,
            format!("the request could not be answered within {ms} ms"),
        )
    }
}

/// The answer to a `HEAD` request: the same head, no body (RFC 9110
/// §9.3.2). hyper drops the body of a HEAD answer on HTTP/1.1 but sends it
/// on HTTP/2, where a client must treat it as a protocol error; so the body
/// goes here, for both, and `Content-Length` keeps its length.
fn without_body(resp: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    let (mut parts, body) = resp.into_parts();
    let len = hyper::body::Body::size_hint(&body).exact().unwrap_or(0);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    Response::from_parts(parts, Full::new(Bytes::new()))
}

/// Adds the common headers and writes the request log line: client id,
/// endpoint template and outcome, never the concrete path (it holds a
/// subject identifier).
fn finish(
    mut resp: Response<Full<Bytes>>,
    ctx: &RequestCtx,
    seq: Option<u64>,
    trail: &Trail,
    started: std::time::Instant,
) -> Response<Full<Bytes>> {
    let h = resp.headers_mut();
    problem::stamp(h, &ctx.request_id);
    if let Some(seq) = seq {
        h.insert("x-audit-seq", HeaderValue::from(seq));
    }
    for (name, value) in &trail.ratelimit_headers {
        h.insert(name.clone(), value.clone());
    }
    if trail.client.is_none() {
        // The connection's certificate identifies no client (no policy
        // entry matches it, or it was revoked or expired since the
        // handshake): nothing more is answered on this connection (see
        // `server::unidentified`).
        resp.extensions_mut().insert(crate::server::CloseConnection);
    }
    let code = if resp.status().is_success() {
        "ok"
    } else {
        trail.code.unwrap_or("error")
    };
    log_outcome(
        ctx,
        trail,
        resp.status().as_u16(),
        code,
        seq.unwrap_or(0),
        started,
    );
    resp
}

/// Records the outcome on the request span and writes the request's log
/// line (the normal path, and a request its client abandoned).
fn log_outcome(
    ctx: &RequestCtx,
    trail: &Trail,
    status: u16,
    decision: &str,
    audit_seq: u64,
    started: std::time::Instant,
) {
    let client = trail.client.as_deref().unwrap_or("-");
    let endpoint = trail.endpoint.unwrap_or("-");
    let span = &ctx.span;
    span.record("client", client);
    span.record("endpoint", endpoint);
    span.record("decision", decision);
    span.record("status", status);
    crate::telemetry::RequestLine {
        request_id: &ctx.request_id,
        trace_id: &ctx.trace.trace_id,
        client,
        endpoint,
        status,
        decision,
        audit_seq,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
    .log();
}

/// What a handler needs about the request.
pub(crate) struct Req<'a> {
    /// The policy snapshot this request is decided under.
    pub policy: &'a crate::policy_store::LoadedPolicy,
    /// The identified client (from the same snapshot).
    pub client: &'a credgate_policy::Client,
    /// Request id and trace context.
    pub ctx: &'a RequestCtx,
    /// Method, URI and headers.
    pub parts: &'a http::request::Parts,
}

pub(crate) fn new_request_id() -> String {
    let mut b = [0u8; 16];
    rand::Rng::fill(&mut rand::thread_rng(), &mut b);
    credgate_audit::hex_lower(&b)
}

fn json_response(v: &serde_json::Value) -> Response<Full<Bytes>> {
    // Serialising a `Value` cannot fail.
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests;
