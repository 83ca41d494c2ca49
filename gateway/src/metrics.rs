//! Prometheus metrics (SPEC §10), served by the admin listener in the
//! Prometheus text format, or OpenMetrics to a scraper that asks for it
//! ([`text004`]). Label values come from bounded sets only — client
//! ids from the policy (or `-`), endpoint templates, decision codes,
//! upstream names, outcome labels — never a subject, a path or free text.

pub mod text004;

use crate::federation::breaker::BreakerState;
use crate::federation::Federation;
use crate::http::Trail;
use crate::policy_store::PolicyStore;
use crate::server::ConnStats;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    client: String,
    endpoint: &'static str,
    decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClientLabels {
    client: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: &'static str,
}

/// Latency buckets of every duration histogram, seconds.
pub(crate) fn latency_buckets() -> impl Iterator<Item = f64> {
    [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ]
    .into_iter()
}

/// A labelled family described (`# HELP`, `# TYPE`) from the first
/// scrape: `prometheus-client` leaves an empty family out altogether, so
/// an idle gateway's `/metrics` lacked e.g. `credgate_ratelimit_rejections_total`
/// until the first 429, and alerts or dashboards written against it found
/// no such metric.
#[derive(Debug)]
struct Described<M>(M);

impl<M: EncodeMetric> EncodeMetric for Described<M> {
    fn encode(
        &self,
        encoder: prometheus_client::encoding::MetricEncoder,
    ) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        self.0.metric_type()
    }

    fn is_empty(&self) -> bool {
        false
    }
}

/// Every metric credgate exports.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    ratelimit_rejections: Family<ClientLabels, Counter>,
    authz_refusals: Family<CodeLabels, Counter>,
    audit_write: Histogram,
    audit_batch: Histogram,
    state: Arc<OnceLock<StateSources>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "credgate_requests",
            "Requests by client, endpoint template and decision (ok or the problem code)",
            Described(requests.clone()),
        );
        let duration: Family<EndpointLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(latency_buckets()));
        registry.register(
            "credgate_request_duration_seconds",
            "Request latency from headers read to response ready (audit included)",
            Described(duration.clone()),
        );
        let ratelimit_rejections = Family::<ClientLabels, Counter>::default();
        registry.register(
            "credgate_ratelimit_rejections",
            "Requests refused by a rate limit or quota",
            Described(ratelimit_rejections.clone()),
        );
        let authz_refusals = Family::<CodeLabels, Counter>::default();
        registry.register(
            "credgate_authorization_refusals",
            "Subject-authorization refusals by code",
            Described(authz_refusals.clone()),
        );
        let audit_write = Histogram::new(latency_buckets());
        registry.register(
            "credgate_audit_write_seconds",
            "Audit batch write + fsync time",
            audit_write.clone(),
        );
        let audit_batch =
            Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0]);
        registry.register(
            "credgate_audit_batch_size",
            "Records per audit write + fsync (group commit)",
            audit_batch.clone(),
        );
        let state: Arc<OnceLock<StateSources>> = Arc::default();
        registry.register_collector(Box::new(LateCollector(state.clone())));
        Metrics {
            registry,
            requests,
            duration,
            ratelimit_rejections,
            authz_refusals,
            audit_write,
            audit_batch,
            state,
        }
    }

    /// Connects the gauges and counters read from component state at
    /// scrape time (upstreams, breakers, connections, reloads).
    pub fn attach(&self, sources: StateSources) {
        let _ = self.state.set(sources);
    }

    /// Counts one finished request.
    pub fn observe_request(&self, trail: &Trail, code: &'static str, elapsed: Duration) {
        let client = trail.client.as_deref().unwrap_or("-");
        let endpoint = trail.endpoint.unwrap_or("-");
        self.requests
            .get_or_create(&RequestLabels {
                client: client.to_owned(),
                endpoint,
                decision: code,
            })
            .inc();
        self.duration
            .get_or_create(&EndpointLabels { endpoint })
            .observe(elapsed.as_secs_f64());
        if code == "rate_limited" {
            self.ratelimit_rejections
                .get_or_create(&ClientLabels {
                    client: client.to_owned(),
                })
                .inc();
        }
        if code.starts_with("authorization_") {
            self.authz_refusals
                .get_or_create(&CodeLabels { code })
                .inc();
        }
    }

    /// Observes one audit batch.
    pub fn observe_audit_batch(&self, records: usize, write: Duration) {
        self.audit_write.observe(write.as_secs_f64());
        self.audit_batch.observe(records as f64);
    }

    /// The OpenMetrics text of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Defers to the state collector once attached.
#[derive(Debug)]
struct LateCollector(Arc<OnceLock<StateSources>>);

impl Collector for LateCollector {
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        match self.0.get() {
            Some(c) => c.encode(encoder),
            None => Ok(()),
        }
    }
}

/// The component state read at scrape time ([`Metrics::attach`]).
pub struct StateSources {
    pub federation: Arc<Federation>,
    pub stats: Arc<ConnStats>,
    pub policy: Arc<PolicyStore>,
    pub ratelimit: crate::ratelimit::RateLimiter,
    pub tls: Arc<crate::tls::TlsStore>,
    pub authz: Arc<crate::authorize::StoreHealth>,
    /// The audit log (none when auditing is disabled).
    pub audit: Option<credgate_audit::AuditLog>,
}

impl std::fmt::Debug for StateSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSources").finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamOutcomeLabels {
    upstream: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    upstream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

impl Collector for StateSources {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let ups = self.federation.upstreams();
        {
            let mut m = encoder.encode_descriptor(
                "credgate_upstream_requests",
                "Upstream calls by upstream and outcome",
                None,
                MetricType::Counter,
            )?;
            for u in ups {
                for (outcome, n) in u.stats.counts() {
                    let labels = UpstreamOutcomeLabels {
                        upstream: u.name.clone(),
                        outcome: outcome.to_owned(),
                    };
                    ConstCounter::new(n).encode(m.encode_family(&labels)?)?;
                }
            }
        }
        {
            let mut m = encoder.encode_descriptor(
                "credgate_upstream_request_duration_seconds",
                "Upstream call latency by upstream, to the call's outcome (its attempts and retries included; calls the breaker or the full queue refused are not timed)",
                None,
                MetricType::Histogram,
            )?;
            for u in ups {
                let labels = UpstreamLabels {
                    upstream: u.name.clone(),
                };
                u.stats.duration().encode(m.encode_family(&labels)?)?;
            }
        }
        {
            let mut m = encoder.encode_descriptor(
                "credgate_upstream_retries",
                "Upstream retries (within the retry budget)",
                None,
                MetricType::Counter,
            )?;
            for u in ups {
                let labels = UpstreamLabels {
                    upstream: u.name.clone(),
                };
                ConstCounter::new(u.stats.retries()).encode(m.encode_family(&labels)?)?;
            }
        }
        {
            let mut m = encoder.encode_descriptor(
                "credgate_upstream_breaker_open",
                "1 while the upstream's circuit breaker is not closed: open, or half-open \
                 until a probe succeeds",
                None,
                MetricType::Gauge,
            )?;
            for u in ups {
                let labels = UpstreamLabels {
                    upstream: u.name.clone(),
                };
                // Half-open is still tripped: only a successful probe
                // closes it, and with no traffic none comes.
                let open = i64::from(u.breaker_state() != BreakerState::Closed);
                ConstGauge::new(open).encode(m.encode_family(&labels)?)?;
            }
        }
        {
            let m = encoder.encode_descriptor(
                "credgate_open_connections",
                "Client connections open (after the handshake)",
                None,
                MetricType::Gauge,
            )?;
            let n = i64::try_from(self.stats.open.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
            ConstGauge::new(n).encode(m)?;
        }
        {
            let mut m = encoder.encode_descriptor(
                "credgate_tls_handshake_failures",
                "Client TLS handshakes that failed, by reason",
                None,
                MetricType::Counter,
            )?;
            for (reason, n) in [
                (
                    "refused",
                    self.stats.handshake_failed.load(Ordering::Relaxed),
                ),
                (
                    "timeout",
                    self.stats.handshake_timeout.load(Ordering::Relaxed),
                ),
                (
                    "evicted",
                    self.stats.handshake_evicted.load(Ordering::Relaxed),
                ),
                (
                    "unidentified",
                    self.stats.unidentified_closed.load(Ordering::Relaxed),
                ),
            ] {
                let labels = ReasonLabels {
                    reason: reason.to_owned(),
                };
                ConstCounter::new(n).encode(m.encode_family(&labels)?)?;
            }
        }
        {
            let m = encoder.encode_descriptor(
                "credgate_closing_connection_refusals",
                "Requests refused on a closing connection without reaching policy evaluation \
                 (no audit record): after the first on a connection whose certificate \
                 identifies no client",
                None,
                MetricType::Counter,
            )?;
            ConstCounter::new(self.stats.closing_refusals.load(Ordering::Relaxed)).encode(m)?;
        }
        {
            let mut m = encoder.encode_descriptor(
                "credgate_http_codec_refusals",
                "Requests the HTTP codecs refused before policy evaluation (no audit record), \
                 by reason: HTTP/1.1 malformed request line or field, head too large, head not \
                 complete within header_read_timeout; HTTP/2 connection closed for a protocol \
                 error or a flood (ENHANCE_YOUR_CALM)",
                None,
                MetricType::Counter,
            )?;
            for reason in crate::server::CodecRefusal::ALL {
                let labels = ReasonLabels {
                    reason: reason.label().to_owned(),
                };
                ConstCounter::new(self.stats.codec_refusals.get(reason))
                    .encode(m.encode_family(&labels)?)?;
            }
        }
        {
            let mut m = encoder.encode_descriptor(
                "credgate_policy_reloads",
                "Policy reloads by result",
                None,
                MetricType::Counter,
            )?;
            for (result, n) in [
                ("ok", self.policy.reloads_ok()),
                ("failed", self.policy.reloads_failed()),
            ] {
                let labels = ResultLabels {
                    result: result.to_owned(),
                };
                ConstCounter::new(n).encode(m.encode_family(&labels)?)?;
            }
        }
        {
            let mut m = encoder.encode_descriptor(
                "credgate_tls_reloads",
                "Reloads of the server TLS material by result",
                None,
                MetricType::Counter,
            )?;
            for (result, n) in [
                ("ok", self.tls.generation()),
                ("failed", self.tls.reloads_failed()),
            ] {
                let labels = ResultLabels {
                    result: result.to_owned(),
                };
                ConstCounter::new(n).encode(m.encode_family(&labels)?)?;
            }
        }
        {
            let rl = self.ratelimit.stats();
            let m = encoder.encode_descriptor(
                "credgate_redis_errors",
                "Redis rate-limit calls that failed or timed out",
                None,
                MetricType::Counter,
            )?;
            ConstCounter::new(rl.redis_errors).encode(m)?;
            let m = encoder.encode_descriptor(
                "credgate_ratelimit_mode_switches",
                "Switches between Redis and the configured failure mode (either way)",
                None,
                MetricType::Counter,
            )?;
            ConstCounter::new(rl.mode_switches).encode(m)?;
            let m = encoder.encode_descriptor(
                "credgate_ratelimit_replicas",
                "Replicas sharing the rate limits: counted alive in Redis, else configured; \
                 each one's share while Redis is unreachable (fail_open_local) is 1 / this",
                None,
                MetricType::Gauge,
            )?;
            ConstGauge::new(i64::from(self.ratelimit.replicas())).encode(m)?;
            let mut m = encoder.encode_descriptor(
                "credgate_ratelimit_mode",
                "1 for the mode rate limits are decided in now",
                None,
                MetricType::Gauge,
            )?;
            let now = crate::ratelimit::mode_name(self.ratelimit.mode());
            for mode in ["local", "redis", "fallback_local", "closed"] {
                let labels = ModeLabels {
                    mode: mode.to_owned(),
                };
                ConstGauge::new(i64::from(mode == now)).encode(m.encode_family(&labels)?)?;
            }
        }
        let m = encoder.encode_descriptor(
            "credgate_authz_store_failures",
            "Authorization checks refused (503) because the revocation / use-count store did not answer",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(self.authz.failures()).encode(m)?;
        let m = encoder.encode_descriptor(
            "credgate_authz_store_up",
            "0 while the revocation / use-count store fails authorization checks, else 1",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(i64::from(!self.authz.is_down())).encode(m)?;
        if let Some(log) = &self.audit {
            let m = encoder.encode_descriptor(
                "credgate_audit_index_bytes",
                "Memory the audit log's index holds for the records kept (about 40 B each): \
                 grows with the query rate times [audit] retention_days",
                None,
                MetricType::Gauge,
            )?;
            ConstGauge::new(i64::try_from(log.index_bytes()).unwrap_or(i64::MAX)).encode(m)?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModeLabels {
    mode: String,
}

#[cfg(test)]
mod tests;
