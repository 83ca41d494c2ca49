//! The HTTP request path: request id, identity-header stripping, client
//! identification, routing to the endpoint handlers, and the common
//! response headers. Errors become responses only in [`problem`].

use crate::federation::Federation;
use crate::policy_store::PolicyStore;
use crate::server::ConnInfo;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use problem::{ApiError, Code};
use std::sync::Arc;
use tracing::Instrument as _;

mod audit_api;
mod inflight;
pub mod problem;
mod report;
mod sanctions;
mod score;
mod subject;
mod trail;

pub use trail::Trail;

/// Headers a client might send to claim an identity; credgate never reads
/// them and strips them at the door so no later step can be fooled.
const IDENTITY_HEADERS: &[&str] = &[
    "x-forwarded-client-cert",
    "x-client-cert",
    "x-client-dn",
    "x-client-verify",
    "x-ssl-client-cert",
    "x-ssl-client-dn",
    "x-ssl-client-s-dn",
    "x-ssl-client-verify",
    "x-credgate-client",
    "forwarded",
    "x-forwarded-for",
];

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
        let resp = self
            .handle_traced(conn, req, ctx, started)
            .instrument(span)
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
            Err(_) => Err(timed_out(&inflight.trail, self.request_timeout)),
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
        self.metrics.observe_request(trail, code, started.elapsed());
        let authorized = trail.authorized.take();
        // From here the record exists even if the client goes away and this
        // future is dropped: the guard then only writes the log line.
        inflight.committing(status);
        let appended = self.audit.append(record).await;
        let answered = code == "ok" && appended.is_ok();
        self.authorizer.settle(authorized, answered).await;
        inflight.done();
        let trail = &mut inflight.trail;
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
        // Identity comes only from the verified certificate. A valid
        // certificate that no client entry matches gets no data.
        let client = policy.identify(&conn.peer).ok_or_else(|| {
            ApiError::new(
                Code::ScopeDenied,
                "client certificate is not granted by policy",
            )
        })?;
        trail.client = Some(client.id().to_owned());
        // What the record of any refusal from here on names: the endpoint
        // and the declared purpose (refused or not, checked below).
        let route = Route::parse(&parts.method, parts.uri.path());
        if let Ok(r) = &route {
            trail.endpoint = Some(r.template());
        }
        trail.purpose = recorded_purpose(&policy, &parts.headers);
        // Rate limit first, once the certificate has identified the client.
        let limit = client.rate_limit();
        match self
            .ratelimit
            .check(client.id(), None, limit.as_ref())
            .await
        {
            Ok(headers) => trail.ratelimit_headers = headers,
            Err((e, headers)) => {
                trail.ratelimit_headers = headers;
                return Err(e);
            }
        }
        // Request shape: head bound, route, then body bound. The
        // connection's codec admits heads up to twice the bound, so that
        // one over it still gets a problem document (and a record), not
        // the codec's bare 431.
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
    if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
        h.insert("x-request-id", v);
    }
    if let Some(seq) = seq {
        h.insert("x-audit-seq", HeaderValue::from(seq));
    }
    for (name, value) in &trail.ratelimit_headers {
        h.insert(name.clone(), value.clone());
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
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

/// The endpoints this build serves.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// `GET /v1/enterprises/{uscc}/report`.
    EnterpriseReport { subject: String },
    /// `GET /v1/persons/{id}/score`.
    PersonScore { subject: String },
    /// `POST /v1/sanctions/check`.
    SanctionsCheck,
    /// `GET /v1/audit/…` (auditors).
    Audit(AuditRoute),
    /// `GET /v1/subjects/{id}/access-log`.
    AccessLog { subject: String },
}

/// The auditor endpoints.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum AuditRoute {
    /// `GET /v1/audit/records`.
    Records,
    /// `GET /v1/audit/checkpoint`.
    Checkpoint,
    /// `GET /v1/audit/proof/{seq}`.
    Proof(u64),
    /// `GET /v1/audit/consistency`.
    Consistency,
}

impl Route {
    fn parse(method: &Method, path: &str) -> Result<Route, ApiError> {
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (route, want) = match segs.as_slice() {
            ["v1", "enterprises", subject, "report"] => (
                Route::EnterpriseReport {
                    subject: percent_decode(subject)?,
                },
                Method::GET,
            ),
            ["v1", "persons", subject, "score"] => (
                Route::PersonScore {
                    subject: percent_decode(subject)?,
                },
                Method::GET,
            ),
            ["v1", "sanctions", "check"] => (Route::SanctionsCheck, Method::POST),
            ["v1", "subjects", subject, "access-log"] => (
                Route::AccessLog {
                    subject: percent_decode(subject)?,
                },
                Method::GET,
            ),
            ["v1", "audit", "records"] => (Route::Audit(AuditRoute::Records), Method::GET),
            ["v1", "audit", "checkpoint"] => (Route::Audit(AuditRoute::Checkpoint), Method::GET),
            ["v1", "audit", "consistency"] => (Route::Audit(AuditRoute::Consistency), Method::GET),
            ["v1", "audit", "proof", seq] => {
                let seq = seq.parse::<u64>().map_err(|_| {
                    ApiError::new(
                        Code::InvalidRequest,
                        "proof sequence number must be a positive integer",
                    )
                })?;
                (Route::Audit(AuditRoute::Proof(seq)), Method::GET)
            }
            _ => return Err(ApiError::new(Code::NotFound, "no such endpoint")),
        };
        if method != want {
            return Err(ApiError::new(
                Code::MethodNotAllowed,
                format!("{method} is not allowed here; use {want}"),
            )
            .allow(want));
        }
        Ok(route)
    }

    /// The endpoint template (for logs, metrics and audit records; never
    /// the concrete path, which holds a subject identifier).
    pub fn template(&self) -> &'static str {
        match self {
            Route::EnterpriseReport { .. } => "/v1/enterprises/{uscc}/report",
            Route::PersonScore { .. } => "/v1/persons/{id}/score",
            Route::SanctionsCheck => "/v1/sanctions/check",
            Route::AccessLog { .. } => "/v1/subjects/{id}/access-log",
            Route::Audit(AuditRoute::Records) => "/v1/audit/records",
            Route::Audit(AuditRoute::Checkpoint) => "/v1/audit/checkpoint",
            Route::Audit(AuditRoute::Proof(_)) => "/v1/audit/proof/{seq}",
            Route::Audit(AuditRoute::Consistency) => "/v1/audit/consistency",
        }
    }
}

/// Decodes `%XX` escapes of a path segment; identifiers are ASCII, so
/// anything that does not decode to UTF-8 is simply invalid.
fn percent_decode(seg: &str) -> Result<String, ApiError> {
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    ApiError::new(Code::InvalidRequest, "bad percent-encoding in path")
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| ApiError::new(Code::InvalidSubjectId, "subject is not valid text"))
}

/// Decodes `%XX` escapes of a query value (`+` stays literal: time
/// offsets such as `+08:00` are common in audit queries).
fn percent_decode_query(v: &str) -> Result<String, ApiError> {
    percent_decode(v)
        .map_err(|_| ApiError::new(Code::InvalidRequest, "bad percent-encoding in query"))
}

fn strip_identity_headers(h: &mut HeaderMap) {
    for name in IDENTITY_HEADERS {
        h.remove(*name);
    }
}

/// Reads the whole body within the bound: `Content-Length` over the bound
/// is refused before reading; a body that grows past it while streaming too.
async fn read_body(body: Incoming, headers: &HeaderMap, max: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            Code::PayloadTooLarge,
            format!("request body exceeds {max} bytes"),
        )
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > max as u64 {
            return Err(too_large());
        }
    }
    match Limited::new(body, max).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(_) => Err(ApiError::new(
            Code::InvalidRequest,
            "request body could not be read",
        )),
    }
}

/// A request head's size as counted against `max_header_bytes`: its
/// HTTP/1.1 wire size (request line, `name: value` lines with their
/// separators), whichever protocol carried it.
fn head_bytes(parts: &http::request::Parts) -> usize {
    /// `" HTTP/1.1\r\n"` after the method and target, `"\r\n"` at the end.
    const LINE_AND_END: usize = 13;
    let target = parts.uri.path_and_query().map_or(1, |p| p.as_str().len());
    parts
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum::<usize>()
        + parts.method.as_str().len()
        + 1
        + target
        + LINE_AND_END
}

fn new_request_id() -> String {
    let mut b = [0u8; 16];
    rand::Rng::fill(&mut rand::thread_rng(), &mut b);
    hex::encode(b)
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

/// The purpose an audit record names: the declared `X-Credit-Purpose` when
/// it is one of the policy's purpose codes, else `(unknown)` — a header is
/// free text, and a record must not carry whatever a client typed there
/// (an identifier, a name). `None` when none was declared.
fn recorded_purpose(policy: &crate::policy_store::LoadedPolicy, h: &HeaderMap) -> Option<String> {
    match purpose(h) {
        Ok(None) => None,
        Ok(Some(p)) if policy.policy.purpose(&p).is_some() => Some(p),
        Ok(Some(_)) | Err(_) => Some("(unknown)".to_owned()),
    }
}

/// For endpoints that take no query parameters: any is refused, as the
/// other endpoints refuse the ones they do not know.
fn no_query(parts: &http::request::Parts) -> Result<(), ApiError> {
    match parts
        .uri
        .query()
        .and_then(|q| q.split('&').find(|p| !p.is_empty()))
    {
        None => Ok(()),
        Some(pair) => {
            let k = pair.split_once('=').map_or(pair, |(k, _)| k);
            Err(ApiError::new(
                Code::InvalidRequest,
                format!("unknown query parameter {k:?}"),
            ))
        }
    }
}

/// Headers that decide what a request may see must be unambiguous: a
/// second `X-Credit-Purpose` or `X-Credit-Authorization` (say, one added by
/// something between the client and credgate) is a malformed request, not
/// a choice of the first.
const SINGLE_VALUED: [&str; 2] = ["x-credit-purpose", "x-credit-authorization"];

fn single_valued(h: &HeaderMap) -> Result<(), ApiError> {
    for name in SINGLE_VALUED {
        if h.get_all(name).iter().nth(1).is_some() {
            return Err(ApiError::new(
                Code::InvalidRequest,
                format!("{name} is given more than once"),
            ));
        }
    }
    Ok(())
}

/// `X-Credit-Purpose`, trimmed; `None` when absent or empty (the policy
/// answers `purpose_required`). A value that is not visible ASCII is a
/// malformed request.
fn purpose(h: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = h.get_all("x-credit-purpose").iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::new(
            Code::InvalidRequest,
            "x-credit-purpose is given more than once",
        ));
    }
    match first {
        None => Ok(None),
        Some(v) => {
            let s = v
                .to_str()
                .map_err(|_| ApiError::new(Code::InvalidRequest, "X-Credit-Purpose is not ASCII"))?
                .trim();
            Ok((!s.is_empty()).then(|| s.to_owned()))
        }
    }
}

/// The steps every endpoint takes after the request shape, in the SPEC's
/// order: the purpose, the policy decision (scope, sections, purpose), the
/// profile digest for the audit record, and the client × scope limit.
async fn decide(
    gw: &Gateway,
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
    scope_limit(gw, req, &grant, trail).await?;
    Ok(grant)
}

/// The subject's authorization when the grant requires it; the reserved
/// use is settled after the audit record is written.
async fn authorize(
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

/// The client × scope rate limit, when the grant sets one; checked once
/// the scope is known and before any upstream call.
async fn scope_limit(
    gw: &Gateway,
    req: &Req<'_>,
    grant: &credgate_policy::Grant,
    trail: &mut Trail,
) -> Result<(), ApiError> {
    match gw
        .ratelimit
        .check(
            req.client.id(),
            Some(&grant.scope),
            grant.rate_limit.as_ref(),
        )
        .await
    {
        Ok(headers) => {
            if !headers.is_empty() {
                trail.ratelimit_headers = headers;
            }
            Ok(())
        }
        Err((e, headers)) => {
            trail.ratelimit_headers = headers;
            Err(e)
        }
    }
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

#[cfg(test)]
mod tests;
