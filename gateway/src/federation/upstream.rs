//! One upstream platform: its mTLS client (per-upstream CA and client
//! identity), connection pool, timeouts, concurrency limit and a bounded
//! response body.

use super::adapters::{Adapter, AdapterError, UpstreamRequest};
use super::bounds::{containers, MAX_UPSTREAM_BODY, MAX_UPSTREAM_CONTAINERS};
use super::breaker::{Breaker, BreakerState, SharedTicket, Ticket};
use super::client::UpstreamClient;
use super::slots::Slots;
use crate::config::{SanctionsRole, UpstreamConfig, UpstreamKind};
use crate::tls;
use bytes::Bytes;
use http::{header, HeaderValue, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tracing::Instrument as _;

/// How an upstream call failed. Never carries the upstream's body.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No answer within the upstream's timeout.
    #[error("timed out after {0} ms")]
    Timeout(u64),
    /// The concurrency limit and its wait queue are full.
    #[error("too many requests in flight")]
    Overloaded,
    /// The circuit breaker is open: the platform is failing; not contacted.
    #[error("circuit breaker open")]
    CircuitOpen {
        /// Seconds until the breaker lets a probe through (`Retry-After`).
        retry_after_secs: u64,
    },
    /// Connecting, the TLS handshake or the exchange failed.
    #[error("transport error: {0}")]
    Transport(String),
    /// The answer was larger than credgate accepts.
    #[error("response body over {MAX_UPSTREAM_BODY} bytes")]
    BodyTooLarge,
    /// The answer held more objects, arrays or elements than credgate
    /// parses (counted as `body_too_large`).
    #[error("response body with over {MAX_UPSTREAM_CONTAINERS} objects, arrays or elements")]
    TooManyContainers,
}

impl UpstreamError {
    /// Whether the failure is a timeout (→ 504 rather than 502).
    pub fn is_timeout(&self) -> bool {
        matches!(self, UpstreamError::Timeout(_))
    }

    /// A short label for metrics and audit records.
    pub fn kind(&self) -> &'static str {
        match self {
            UpstreamError::Timeout(_) => "timeout",
            UpstreamError::Overloaded => "overloaded",
            UpstreamError::CircuitOpen { .. } => "circuit_open",
            UpstreamError::Transport(_) => "transport",
            UpstreamError::BodyTooLarge | UpstreamError::TooManyContainers => "body_too_large",
        }
    }
}

/// Why an upstream could not be set up from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamSetupError {
    /// TLS material for the upstream is unusable.
    #[error("upstream {name}: {source}")]
    Tls {
        /// Upstream name.
        name: String,
        /// Cause.
        source: tls::TlsError,
    },
    /// The base URL or adapter is unusable.
    #[error("upstream {name}: {reason}")]
    Config {
        /// Upstream name.
        name: String,
        /// Cause.
        reason: String,
    },
}

/// A configured upstream platform, ready to be called.
pub struct Upstream {
    /// Configured name.
    pub name: String,
    /// Platform kind.
    pub kind: UpstreamKind,
    /// Division-code prefixes it owns.
    pub regions: Vec<String>,
    /// Its wire-format adapter.
    pub adapter: &'static dyn Adapter,
    /// Which sanctions checks it answers.
    pub sanctions: SanctionsRole,
    /// `scheme://authority`, no trailing slash.
    base: String,
    client: UpstreamClient,
    timeout: Duration,
    slots: Slots,
    max_retries: u32,
    budget: RetryBudget,
    breaker: Breaker,
    /// Outcome counters and the last outcome (for `/readyz` and metrics).
    pub stats: UpstreamStats,
}

/// Outcome labels of upstream calls (bounded set, used as metric labels).
pub const OUTCOMES: [&str; 9] = [
    "ok",
    "not_found",
    "timeout",
    "transport",
    "error_status",
    "malformed",
    "circuit_open",
    "overloaded",
    "body_too_large",
];

/// Per-upstream counters.
#[derive(Debug)]
pub struct UpstreamStats {
    counts: [AtomicU64; OUTCOMES.len()],
    retries: AtomicU64,
    last: Mutex<Option<(&'static str, std::time::SystemTime)>>,
    /// How long each call took to its outcome (every attempt and pause).
    duration: prometheus_client::metrics::histogram::Histogram,
}

impl Default for UpstreamStats {
    fn default() -> Self {
        Self {
            counts: Default::default(),
            retries: AtomicU64::default(),
            last: Mutex::default(),
            duration: prometheus_client::metrics::histogram::Histogram::new(
                crate::metrics::latency_buckets(),
            ),
        }
    }
}

impl UpstreamStats {
    fn count(&self, outcome: &'static str, elapsed: Duration) {
        // The latency of calls made: one the breaker or the full queue
        // refused never left the gateway, and its ≈ 0 s would pull the
        // figures down just while the platform fails.
        if !matches!(outcome, "circuit_open" | "overloaded") {
            self.duration.observe(elapsed.as_secs_f64());
        }
        if let Some(i) = OUTCOMES.iter().position(|o| *o == outcome) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut g) = self.last.lock() {
            *g = Some((outcome, std::time::SystemTime::now()));
        }
    }
    /// Calls so far with each outcome, in [`OUTCOMES`] order.
    pub fn counts(&self) -> Vec<(&'static str, u64)> {
        OUTCOMES
            .iter()
            .zip(&self.counts)
            .map(|(o, c)| (*o, c.load(Ordering::Relaxed)))
            .collect()
    }
    /// The calls' durations (`credgate_upstream_request_duration_seconds`).
    pub fn duration(&self) -> &prometheus_client::metrics::histogram::Histogram {
        &self.duration
    }
    /// Retries made so far.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
    /// The last call's outcome and when it happened.
    pub fn last(&self) -> Option<(&'static str, std::time::SystemTime)> {
        self.last.lock().ok().and_then(|g| *g)
    }
}

/// A retry budget: every first attempt deposits `ratio` of a token, every
/// retry withdraws one, so retries add at most `ratio` extra load (plus a
/// small reserve so that a quiet upstream can still retry).
#[derive(Debug)]
struct RetryBudget {
    ratio: f64,
    tokens: Mutex<f64>,
}

impl RetryBudget {
    const CAP: f64 = 10.0;
    fn new(ratio: f64) -> RetryBudget {
        RetryBudget {
            ratio,
            tokens: Mutex::new(1.0),
        }
    }
    fn deposit(&self) {
        if let Ok(mut t) = self.tokens.lock() {
            *t = (*t + self.ratio).min(Self::CAP);
        }
    }
    fn withdraw(&self) -> bool {
        match self.tokens.lock() {
            Ok(mut t) if *t >= 1.0 => {
                *t -= 1.0;
                true
            }
            _ => false,
        }
    }
}

/// The shortest attempt worth sending: with less time left before a
/// deadline, the call ends as a timeout without a request.
const MIN_ATTEMPT: Duration = Duration::from_millis(5);

/// A fan-out's deadline for the calls it makes: when it ends, and how long
/// the whole fan-out was given.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    /// When every call must have ended.
    pub at: Instant,
    /// The fan-out's whole window (its configured deadline).
    pub window: Duration,
}

/// What one logical call (with its retries) cost.
#[derive(Clone, Debug)]
pub struct CallInfo {
    /// Attempts made (0 when the breaker or queue refused).
    pub attempts: u32,
    /// Outcome label (one of [`OUTCOMES`]).
    pub outcome: &'static str,
    /// Wall time of the whole call.
    pub elapsed: Duration,
}

/// Why a logical call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Transport, timeout, breaker or queue.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The answer could not be used.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.name)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// The answer of an upstream: status and body.
#[derive(Debug)]
pub struct UpstreamResponse {
    /// HTTP status.
    pub status: u16,
    /// Body (bounded).
    pub body: Bytes,
    /// How long the call took.
    pub elapsed: Duration,
}

impl Upstream {
    /// Builds the upstream from its configuration (reads its TLS files).
    pub fn from_config(cfg: &UpstreamConfig) -> Result<Upstream, UpstreamSetupError> {
        let tls_err = |source| UpstreamSetupError::Tls {
            name: cfg.name.clone(),
            source,
        };
        let cfg_err = |reason: String| UpstreamSetupError::Config {
            name: cfg.name.clone(),
            reason,
        };
        let adapter = super::adapters::by_name(&cfg.adapter)
            .ok_or_else(|| cfg_err(format!("unknown adapter {:?}", cfg.adapter)))?;
        let base: Uri = cfg
            .base_url
            .trim_end_matches('/')
            .parse()
            .map_err(|_| cfg_err("invalid base_url".into()))?;
        if base.scheme_str() != Some("https") {
            return Err(cfg_err("base_url must be https".into()));
        }
        let base = cfg.base_url.trim_end_matches('/').to_owned();
        let client = UpstreamClient::new(cfg).map_err(tls_err)?;
        Ok(Upstream {
            name: cfg.name.clone(),
            kind: cfg.kind,
            regions: cfg.regions.clone(),
            adapter,
            sanctions: cfg.sanctions,
            base,
            client,
            timeout: Duration::from_millis(cfg.timeout_ms),
            slots: Slots::new(cfg.max_concurrency, cfg.max_queue),
            max_retries: cfg.max_retries,
            budget: RetryBudget::new(cfg.retry_budget_ratio),
            breaker: Breaker::new(cfg.breaker.clone()),
            stats: UpstreamStats::default(),
        })
    }

    /// Re-reads this upstream's CA, client certificate and key: new
    /// connections use them; on failure the material in force stays.
    pub fn reload_tls(&self) -> Result<(), UpstreamSetupError> {
        self.client
            .reload()
            .map_err(|source| UpstreamSetupError::Tls {
                name: self.name.clone(),
                source,
            })
    }

    /// Successful TLS reloads of this upstream so far.
    pub fn tls_generation(&self) -> u64 {
        self.client.generation()
    }

    /// The files of this upstream's TLS material.
    pub fn tls_files(&self) -> [std::path::PathBuf; 3] {
        self.client.files()
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The circuit breaker's state.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// One logical read: breaker check, the request, the adapter's parse,
    /// and retries of retryable failures within the retry budget with
    /// jittered backoff. A subject the platform does not hold counts as a
    /// healthy answer; timeouts are not retried (the deadline is spent).
    pub async fn call<T>(
        &self,
        req: &UpstreamRequest,
        ctx: &crate::http::RequestCtx,
        parse: impl Fn(u16, &[u8]) -> Result<T, AdapterError>,
    ) -> (Result<T, CallError>, CallInfo) {
        self.call_grouped(req, ctx, None, None, parse).await
    }

    /// One ticket for a fan-out's calls to this platform on behalf of one
    /// request (see [`SharedTicket`]); pass it to [`Upstream::call_grouped`].
    pub fn group_ticket(&self) -> SharedTicket<'_> {
        self.breaker.try_acquire_shared()
    }

    /// [`Upstream::call`] as a fan-out makes it:
    /// - ending by `deadline` as well: each attempt's timeout is cut to
    ///   what is left, so a platform still silent at the deadline is a
    ///   `timeout` the breaker and the metrics see, not a call dropped
    ///   unrecorded; no retry starts after it;
    /// - as one of a group of calls sharing a breaker ticket (`group`, from
    ///   this upstream's [`Upstream::group_ticket`]): the breaker sees the
    ///   group as one call.
    pub async fn call_grouped<T>(
        &self,
        req: &UpstreamRequest,
        ctx: &crate::http::RequestCtx,
        deadline: Option<Deadline>,
        group: Option<&SharedTicket<'_>>,
        parse: impl Fn(u16, &[u8]) -> Result<T, AdapterError>,
    ) -> (Result<T, CallError>, CallInfo) {
        let span = tracing::info_span!(
            parent: &ctx.span,
            "upstream",
            otel.kind = "client",
            upstream = %self.name,
            outcome = tracing::field::Empty,
            retries = tracing::field::Empty,
        );
        let traceparent = ctx.trace.child(&span);
        let (result, info) = self
            .call_inner(req, Some(&traceparent), deadline, group, parse)
            .instrument(span.clone())
            .await;
        span.record("outcome", info.outcome);
        span.record("retries", info.attempts.saturating_sub(1));
        (result, info)
    }

    async fn call_inner<T>(
        &self,
        req: &UpstreamRequest,
        traceparent: Option<&HeaderValue>,
        deadline: Option<Deadline>,
        group: Option<&SharedTicket<'_>>,
        parse: impl Fn(u16, &[u8]) -> Result<T, AdapterError>,
    ) -> (Result<T, CallError>, CallInfo) {
        let started = Instant::now();
        let info = |attempts, outcome| CallInfo {
            attempts,
            outcome,
            elapsed: started.elapsed(),
        };
        let permit = match group {
            None => self.breaker.try_acquire().map(Permit::Own),
            Some(g) => g.granted().then_some(Permit::Shared(g)),
        };
        let Some(permit) = permit else {
            self.stats.count("circuit_open", started.elapsed());
            let retry_after_secs = self.breaker.retry_after_secs();
            return (
                Err(UpstreamError::CircuitOpen { retry_after_secs }.into()),
                info(0, "circuit_open"),
            );
        };
        self.budget.deposit();
        let mut attempts = 0;
        let left = || match deadline {
            Some(d) => {
                d.at.saturating_duration_since(Instant::now())
                    .min(self.timeout)
            }
            None => self.timeout,
        };
        loop {
            attempts += 1;
            let budget = left();
            // A batch that got its turn (a slot, the fan-out's per-platform
            // gate) too late to be answered is not sent at all.
            let sent = if budget < MIN_ATTEMPT {
                Err(UpstreamError::Timeout(
                    u64::try_from(budget.as_millis()).unwrap_or(u64::MAX),
                ))
            } else {
                self.send_within(req, traceparent, budget).await
            };
            // Whether a 4xx came in the platform's own envelope: then it is
            // the platform refusing this request, not a failure in front of
            // it (a proxy's HTML 403 or 404 still counts against it).
            let mut enveloped = true;
            let result = match sent {
                // A 4xx or 5xx whose body is not the platform's error
                // envelope is still the platform's error status, not a
                // malformed answer.
                Ok(resp) => match parse(resp.status, &resp.body) {
                    Err(AdapterError::Malformed(_)) if resp.status >= 400 => {
                        enveloped = false;
                        Err(AdapterError::Upstream {
                            status: resp.status,
                        }
                        .into())
                    }
                    other => other.map_err(CallError::from),
                },
                Err(e) => Err(e.into()),
            };
            let outcome = outcome_of(&result);
            // Every adapter request is a read (some platforms take their
            // queries as POST), so any may be retried (SPEC §7), but only
            // for what another try can mend: a transport failure, a
            // malformed answer, a 5xx. No 4xx is retried; one in the
            // platform's envelope other than 429 is the request's fault
            // and does not count against the platform's breaker.
            let status_4xx = match &result {
                Err(CallError::Adapter(AdapterError::Upstream { status })) => {
                    (400..500).contains(status).then_some(*status)
                }
                _ => None,
            };
            let healthy = matches!(outcome, "ok" | "not_found")
                || status_4xx.is_some_and(|s| s != 429 && enveloped);
            let retryable = status_4xx.is_none()
                && matches!(outcome, "transport" | "error_status" | "malformed");
            // A timeout of an attempt the fan-out's deadline cut to less
            // than half its window says little about the platform (the
            // batch waited for its turn): counted, but not held against
            // the breaker. One with half the window or more is: a hung
            // platform still opens its breaker.
            let cut_short = outcome == "timeout"
                && deadline.is_some_and(|d| budget < self.timeout && budget < d.window / 2);
            let done = healthy || !retryable || attempts > self.max_retries;
            // The jittered backoff, drawn only when a retry is in question.
            let pause = if done {
                Duration::ZERO
            } else {
                Duration::from_millis(
                    rand::Rng::gen_range(&mut rand::thread_rng(), 10..50u64) * u64::from(attempts),
                )
            };
            if done || left() < pause + MIN_ATTEMPT || !self.budget.withdraw() {
                self.stats.count(outcome, started.elapsed());
                if outcome != "overloaded" && !cut_short {
                    match permit {
                        Permit::Own(ticket) => self.breaker.record(ticket, healthy),
                        Permit::Shared(group) => group.note(healthy),
                    }
                }
                return (result, info(attempts, outcome));
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(pause).await;
        }
    }

    /// Sends one request and reads the (bounded) answer within the timeout.
    /// `traceparent` is propagated when given.
    pub async fn send(
        &self,
        req: &UpstreamRequest,
        traceparent: Option<&HeaderValue>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        self.send_within(req, traceparent, self.timeout).await
    }

    /// [`Upstream::send`] within `timeout` instead of the upstream's own.
    async fn send_within(
        &self,
        req: &UpstreamRequest,
        traceparent: Option<&HeaderValue>,
        timeout: Duration,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let started = Instant::now();
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let fut = async {
            // Waiting for a slot counts against the same deadline, and the
            // number of waiters is bounded: beyond it, fail fast.
            let _permit = self
                .slots
                .acquire()
                .await
                .map_err(|_| UpstreamError::Overloaded)?;
            let uri = format!("{}{}", self.base, req.path_and_query);
            let mut builder = Request::builder()
                .method(req.method.clone())
                .uri(uri)
                .header(header::ACCEPT, "application/json, application/xml");
            if let Some(ct) = req.content_type {
                builder = builder.header(header::CONTENT_TYPE, ct);
            }
            if let Some(tp) = traceparent {
                builder = builder.header("traceparent", tp.clone());
            }
            let request = builder
                .body(Full::new(Bytes::from(req.body.clone())))
                .map_err(|e| UpstreamError::Transport(super::errtext::describe(&e)))?;
            let resp = self
                .client
                .request(request)
                .await
                .map_err(|e| UpstreamError::Transport(super::errtext::describe(&e)))?;
            let status = resp.status().as_u16();
            let body = Limited::new(resp.into_body(), MAX_UPSTREAM_BODY)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        UpstreamError::BodyTooLarge
                    } else {
                        UpstreamError::Transport(super::errtext::describe(&*e))
                    }
                })?
                .to_bytes();
            if containers(&body) > MAX_UPSTREAM_CONTAINERS {
                return Err(UpstreamError::TooManyContainers);
            }
            Ok((status, body))
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(Ok((status, body))) => Ok(UpstreamResponse {
                status,
                body,
                elapsed: started.elapsed(),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(UpstreamError::Timeout(timeout_ms)),
        }
    }
}

fn outcome_of<T>(r: &Result<T, CallError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(CallError::Adapter(AdapterError::NotFound | AdapterError::NoScores)) => "not_found",
        Err(CallError::Adapter(AdapterError::Upstream { .. })) => "error_status",
        Err(CallError::Adapter(AdapterError::Malformed(_))) => "malformed",
        Err(CallError::Upstream(e)) => e.kind(),
    }
}

/// The breaker's leave for one call: its own ticket, or a share of its
/// group's.
enum Permit<'t, 'b, 'g> {
    Own(Ticket<'b>),
    Shared(&'t SharedTicket<'g>),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calls the breaker or the full queue refused never left the gateway:
    /// counted by outcome, but not in the latency histogram, which they
    /// would pull towards 0 s just while the platform fails.
    #[test]
    fn refused_calls_are_counted_but_not_timed() {
        let stats = UpstreamStats::default();
        stats.count("ok", Duration::from_millis(20));
        stats.count("circuit_open", Duration::ZERO);
        stats.count("overloaded", Duration::ZERO);
        stats.count("timeout", Duration::from_secs(3));
        let counted: u64 = stats.counts().iter().map(|(_, n)| n).sum();
        assert_eq!(counted, 4);
        let mut text = String::new();
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register("d", "d", stats.duration().clone());
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains("d_count 2"), "{text}");
    }
}
