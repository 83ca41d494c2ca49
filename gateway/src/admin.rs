//! The admin listener: `/healthz`, `/readyz` and `/metrics` on a separate
//! plain-HTTP address. It serves no client data.

use crate::federation::Federation;
use crate::policy_store::PolicyStore;
use crate::server::ConnStats;
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// What the admin endpoints report on.
#[derive(Clone, Debug)]
pub struct AdminState {
    /// The policy in force.
    pub policy: Arc<PolicyStore>,
    /// The upstreams.
    pub federation: Arc<Federation>,
    /// Listener counters.
    pub stats: Arc<ConnStats>,
    /// Prometheus metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Rate limiter (its mode shows Redis health).
    pub ratelimit: crate::ratelimit::RateLimiter,
    /// The audit log (its writer health).
    pub audit: crate::audit::Auditor,
    /// Whether the revocation / use-count store answers.
    pub authz_store: Arc<crate::authorize::StoreHealth>,
    /// How Redis is reached (`single`, `cluster`, `sentinel`); `None`
    /// without Redis.
    pub redis_topology: Option<&'static str>,
}

/// Connections the admin listener serves at once: probes and scrapers
/// need a handful; more wait in the kernel's accept queue.
pub const MAX_ADMIN_CONNECTIONS: usize = 64;

/// How long an admin connection may take to send a request head, and to
/// finish writing once it is being closed.
const ADMIN_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an admin connection is served before it is closed gracefully
/// (probes connect per check; scrapers every 15–60 s).
const ADMIN_CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a new admin connection may stay silent before it is closed.
/// hyper's head timeout starts only with the first byte, so without this
/// `MAX_ADMIN_CONNECTIONS` silent connections held every slot (and the
/// liveness probe out) for the whole connection timeout.
pub const ADMIN_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(3);

/// Serves the admin endpoints until shutdown.
pub async fn serve(listener: TcpListener, state: AdminState, mut shutdown: watch::Receiver<bool>) {
    let state = Arc::new(state);
    let slots = Arc::new(Semaphore::new(MAX_ADMIN_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = shutdown.changed() => return,
        };
        let (tcp, _) = tokio::select! {
            r = crate::server::accept_backing_off(&listener, "admin") => match r {
                Some(x) => x,
                None => continue,
            },
            _ = shutdown.changed() => return,
        };
        let state = state.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut first = [0u8; 1];
            if !matches!(
                tokio::time::timeout(ADMIN_FIRST_BYTE_TIMEOUT, tcp.peek(&mut first)).await,
                Ok(Ok(1))
            ) {
                return;
            }
            let svc = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(route(&state, &req)) }
            });
            let mut b = hyper::server::conn::http1::Builder::new();
            b.timer(TokioTimer::new())
                .header_read_timeout(ADMIN_HEADER_TIMEOUT);
            let conn = b.serve_connection(TokioIo::new(tcp), svc);
            tokio::pin!(conn);
            // After ADMIN_CONNECTION_TIMEOUT the request in progress is
            // finished and the connection closed, as an idle API connection
            // is; one that does not read its answer is dropped after
            // ADMIN_HEADER_TIMEOUT more.
            let lifetime = tokio::time::sleep(ADMIN_CONNECTION_TIMEOUT);
            tokio::pin!(lifetime);
            if let Some(Err(e)) =
                crate::server::drive(conn, &mut lifetime, &mut shutdown, ADMIN_HEADER_TIMEOUT).await
            {
                tracing::debug!(error = %e, "admin connection ended with error");
            }
        });
    }
}

fn route(state: &AdminState, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    // HEAD as GET: hyper sends the head without the body.
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "text/plain", "ok\n".into()),
        "/readyz" => readyz(state),
        "/metrics" => metrics(state, req),
        _ => text(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    }
}

/// The metrics in the Prometheus text format (SPEC §4), or in OpenMetrics
/// when the scraper asks for it (Prometheus does, first, in its `Accept`).
fn metrics(state: &AdminState, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let openmetrics = req
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|media| {
            let mut params = media.split(';').map(str::trim);
            let wanted = params
                .next()
                .is_some_and(|t| t.eq_ignore_ascii_case("application/openmetrics-text"));
            // `q=0` declines it.
            let declined = params.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            wanted && !declined
        });
    let rendered = state.metrics.render();
    if openmetrics {
        text(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            rendered,
        )
    } else {
        text(
            StatusCode::OK,
            crate::metrics::text004::CONTENT_TYPE,
            crate::metrics::text004::from_openmetrics(&rendered),
        )
    }
}

/// Ready when this replica can answer correctly: the audit writer is not
/// failing and rate limits can be decided (not `fail_closed` with Redis
/// down). Upstream breakers are listed but do not make it unready: with
/// every platform down the gateway still answers (502 problem documents,
/// the audit API), and a load balancer that dropped every replica would
/// turn those answers into connection resets.
fn readyz(state: &AdminState) -> Response<Full<Bytes>> {
    use crate::federation::breaker::BreakerState;
    let ups = state.federation.upstreams();
    let upstreams: Vec<_> = ups
        .iter()
        .map(|u| {
            let last = u.stats.last().map(|(outcome, at)| {
                let at = time::OffsetDateTime::from(at)
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default();
                serde_json::json!({ "outcome": outcome, "at": at })
            });
            serde_json::json!({
                "name": u.name,
                "regions": u.regions,
                "breaker": u.breaker_state().as_str(),
                "last": last,
            })
        })
        .collect();
    let all_open = !ups.is_empty() && ups.iter().all(|u| u.breaker_state() == BreakerState::Open);
    // A failed batch, or a write hung for longer than the write timeout.
    let audit_failing = state.audit.unavailable();
    let mode = state.ratelimit.mode();
    let rl = state.ratelimit.stats();
    // fail_closed with Redis down refuses every limited request: not ready.
    let ready = !audit_failing && mode != credgate_ratelimit::Mode::Closed;
    let policy = state.policy.current();
    let body = serde_json::json!({
        "ready": ready,
        "policy": policy.summary(),
        // Which file this replica runs: compare with `sha256sum policy.toml`
        // (or across replicas) during a rollout.
        "policy_sha256": policy.sha256,
        "audit": { "failing": audit_failing },
        "all_upstreams_open": all_open,
        "upstreams": upstreams,
        "ratelimit": {
            "mode": crate::ratelimit::mode_name(mode),
            "redis_errors": rl.redis_errors,
            "mode_switches": rl.mode_switches,
        },
        // Reachable as the rate limiter last found it (every limited
        // request asks Redis; authorization checks fail closed on their own).
        "redis": state.redis_topology.map(|topology| serde_json::json!({
            "topology": topology,
            "reachable": mode == credgate_ratelimit::Mode::Redis,
        })),
        // The revocation / use-count store (Redis, probed every few
        // seconds; else this process). Not part of `ready`: authorized
        // queries fail closed with 503 while it is down, the rest is served.
        "authorization_store": { "up": !state.authz_store.is_down() },
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    text(status, "application/json", body.to_string())
}

fn text(status: StatusCode, ct: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    r
}
