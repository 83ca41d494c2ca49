//! `[[upstreams]]`: one table per credit platform.

use super::defaults;
use serde::Deserialize;
use std::path::PathBuf;

/// What kind of platform an upstream is (SPEC §7).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamKind {
    /// A city platform (e.g. 信用宁波).
    City,
    /// The province platform (信用浙江); fallback for its cities without a platform.
    Province,
    /// A peer city's platform (e.g. 杭州, 厦门).
    Peer,
}

/// One upstream credit platform.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Unique name; appears in provenance, metrics and audit records.
    pub name: String,
    /// Platform kind.
    pub kind: UpstreamKind,
    /// Division-code prefixes (2–6 digits) this platform owns.
    pub regions: Vec<String>,
    /// Base URL, `https://host:port` (plain HTTP is refused).
    pub base_url: String,
    /// Wire format adapter (`ningbo-v1`, `zhejiang-v2`, `hangzhou-v1`, `xiamen-v1`).
    pub adapter: String,
    /// CA bundle that this platform's server certificate must chain to.
    pub ca: PathBuf,
    /// credgate's client certificate for this platform.
    pub client_cert: PathBuf,
    /// credgate's client key for this platform.
    pub client_key: PathBuf,
    /// Per-request timeout (connect + TLS + answer).
    #[serde(default = "defaults::upstream_timeout_ms")]
    pub timeout_ms: u64,
    /// Connect timeout.
    #[serde(default = "defaults::upstream_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Most requests in flight to this platform at once.
    #[serde(default = "defaults::upstream_max_concurrency")]
    pub max_concurrency: usize,
    /// Most requests waiting for a free slot; beyond it calls fail fast
    /// (`503`) instead of queueing without bound.
    #[serde(default = "defaults::upstream_max_queue")]
    pub max_queue: usize,
    /// Retries of a failed read (idempotent) request, within the budget.
    #[serde(default = "defaults::upstream_max_retries")]
    pub max_retries: u32,
    /// Retry budget: retries may add at most this fraction of extra load.
    #[serde(default = "defaults::upstream_retry_budget")]
    pub retry_budget_ratio: f64,
    /// Offer HTTP/2 in the TLS handshake (ALPN `h2`, then `http/1.1`): a
    /// platform that accepts it gets every request multiplexed over one
    /// connection (about 10 % less gateway CPU per request in the
    /// benchmark); one that does not gets HTTP/1.1 as before. `false`
    /// offers HTTP/1.1 only. Either way `max_concurrency` bounds the
    /// requests in flight.
    #[serde(default = "defaults::upstream_http2")]
    pub http2: bool,
    /// Circuit breaker thresholds.
    #[serde(default)]
    pub breaker: crate::federation::breaker::BreakerConfig,
    /// Which sanctions checks this platform answers: `regions` (subjects of
    /// its own regions), `all` (every subject: it publishes joint-punishment
    /// lists covering anyone), or `none`.
    #[serde(default)]
    pub sanctions: SanctionsRole,
}

/// Which subjects an upstream is asked about in a sanctions fan-out.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SanctionsRole {
    /// Subjects whose division code falls in the upstream's regions.
    #[default]
    Regions,
    /// Every subject.
    All,
    /// Never.
    None,
}
