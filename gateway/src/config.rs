//! The gateway configuration file (`gateway.toml`): one serde tree, every
//! field documented, unknown keys rejected, relative paths resolved against
//! the file's directory, and a `validate()` step that reports every problem.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        source: Box<toml::de::Error>,
    },
    /// The file parsed but its values are inconsistent.
    #[error("{path}: invalid configuration:\n{}", .problems.join("\n"))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found, one per line.
        problems: Vec<String>,
    },
}

/// The whole gateway configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The client-facing mTLS listener.
    pub server: ServerConfig,
    /// The admin listener (health, readiness, metrics; no client data).
    #[serde(default)]
    pub admin: AdminConfig,
    /// Where the policy file lives.
    pub policy: PolicyFileConfig,
    /// Keys used to pseudonymise subjects.
    #[serde(default)]
    pub privacy: PrivacyConfig,
    /// The upstream credit platforms.
    #[serde(default)]
    pub upstreams: Vec<UpstreamConfig>,
    /// Native score schemes and their tiers (信用分互认).
    #[serde(default)]
    pub score_schemes: Vec<crate::recognition::SchemeConfig>,
    /// The sanctions fan-out.
    #[serde(default)]
    pub sanctions: SanctionsConfig,
    /// Subject authorization tokens: verification bounds and where
    /// revocations and use counts live.
    #[serde(default)]
    pub authorization: AuthorizationConfig,
    /// Shared Redis (revocations, use counts, rate limits across replicas).
    #[serde(default)]
    pub redis: Option<RedisConfig>,
    /// The tamper-evident audit log (required: every request is recorded
    /// before it is answered).
    pub audit: AuditSettings,
    /// Traces (OTLP/HTTP when an endpoint is set).
    #[serde(default)]
    pub telemetry: crate::telemetry::TelemetryConfig,
    /// Directory the file was read from (relative paths resolve against it).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// The client-facing listener: address, TLS material and bounds.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on, e.g. `127.0.0.1:8443`.
    pub listen: SocketAddr,
    /// Server certificate chain (PEM).
    pub cert: PathBuf,
    /// Server private key (PEM, PKCS#8 / SEC1 / PKCS#1).
    pub key: PathBuf,
    /// CA bundle that client certificates must chain to (PEM).
    pub client_ca: PathBuf,
    /// Certificate revocation lists (PEM or DER), checked for every client certificate.
    #[serde(default)]
    pub crls: Vec<PathBuf>,
    /// Longest a TLS handshake may take.
    #[serde(default = "defaults::handshake_timeout_ms")]
    pub handshake_timeout_ms: u64,
    /// Longest a client may take to send a request's headers (HTTP/1.1).
    #[serde(default = "defaults::header_read_timeout_ms")]
    pub header_read_timeout_ms: u64,
    /// A connection with no traffic and no request in flight for this long is closed.
    #[serde(default = "defaults::idle_timeout_ms")]
    pub idle_timeout_ms: u64,
    /// Longest a request may take from headers read to response sent.
    #[serde(default = "defaults::request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Largest request head (HTTP/1.1 buffer; HTTP/2 header list), bytes.
    #[serde(default = "defaults::max_header_bytes")]
    pub max_header_bytes: usize,
    /// Largest request body, bytes; larger gets `413 payload_too_large`.
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: usize,
    /// Most client connections open at once; further ones wait in the
    /// kernel's accept queue until one closes.
    #[serde(default = "defaults::max_connections")]
    pub max_connections: usize,
    /// Most concurrent HTTP/2 streams per connection.
    #[serde(default = "defaults::max_concurrent_streams")]
    pub max_concurrent_streams: u32,
    /// On shutdown, how long in-flight requests may take to finish.
    #[serde(default = "defaults::drain_timeout_ms")]
    pub drain_timeout_ms: u64,
}

/// The admin listener.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address of `/healthz`, `/readyz` and `/metrics`; `None` disables it.
    #[serde(default = "defaults::admin_listen")]
    pub listen: Option<SocketAddr>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: defaults::admin_listen(),
        }
    }
}

/// The policy file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFileConfig {
    /// Path of the policy TOML (reloaded on change and on SIGHUP).
    pub file: PathBuf,
}

/// Pseudonymisation keys.
#[derive(Clone, Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PrivacyConfig {
    /// File holding the secret key (≥ 32 bytes, any content) for the `hash`
    /// field transform and subject pseudonyms. Without it a random key is
    /// made at start-up (pseudonyms then differ across restarts).
    #[serde(default)]
    pub pseudonym_key_file: Option<PathBuf>,
}

/// The audit log (SPEC §8).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// This replica's log directory (each replica keeps its own log).
    pub dir: PathBuf,
    /// Replica id written into records and checkpoints.
    #[serde(default = "defaults::replica")]
    pub replica: String,
    /// Ed25519 key (PKCS#8 PEM) signing checkpoints and seals.
    pub signing_key_file: PathBuf,
    /// A signed checkpoint after this many records …
    #[serde(default = "defaults::checkpoint_every_records")]
    pub checkpoint_every_records: u64,
    /// … and at least this often while records arrive (and at shutdown).
    #[serde(default = "defaults::checkpoint_every_secs")]
    pub checkpoint_every_secs: u64,
    /// Segment size at which it is sealed and a new one started.
    #[serde(default = "defaults::segment_max_bytes")]
    pub segment_max_bytes: u64,
    /// Sealed segments older than this many days are deleted with a signed
    /// deletion record; absent: keep forever.
    #[serde(default)]
    pub retention_days: Option<u64>,
    /// Most records per write + fsync (group commit).
    #[serde(default = "defaults::audit_max_batch")]
    pub max_batch: usize,
    /// Longest the writer waits to fill a batch, microseconds.
    #[serde(default = "defaults::audit_max_delay_us")]
    pub max_delay_us: u64,
    /// Records that may wait for the writer; beyond, requests get
    /// `503 audit_unavailable` at once.
    #[serde(default = "defaults::audit_queue_bound")]
    pub queue_bound: usize,
    /// **Benchmarks only**: no audit record is written and responses carry
    /// no `X-Audit-Seq`. Never set this in a deployment.
    #[serde(default)]
    pub danger_disabled: bool,
}

/// Subject authorization settings (SPEC §6).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationConfig {
    /// Clock-skew allowance for `nbf`, `iat` and `exp`.
    #[serde(default = "defaults::clock_skew_secs")]
    pub clock_skew_secs: u64,
    /// Largest accepted token; larger is `413 payload_too_large`.
    #[serde(default = "defaults::max_token_bytes")]
    pub max_token_bytes: usize,
    /// Revocation file (one JSON line per revoked `jti`), watched while the
    /// gateway runs; `credgate authz revoke` appends to it. Used when no
    /// Redis is configured.
    #[serde(default)]
    pub revocation_file: Option<PathBuf>,
}

impl Default for AuthorizationConfig {
    fn default() -> Self {
        AuthorizationConfig {
            clock_skew_secs: defaults::clock_skew_secs(),
            max_token_bytes: defaults::max_token_bytes(),
            revocation_file: None,
        }
    }
}

/// A Redis server shared by the replicas.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]` (never logged).
    pub url: String,
    /// Bound on every Redis call; beyond it the call counts as failed.
    #[serde(default = "defaults::redis_call_timeout_ms")]
    pub call_timeout_ms: u64,
}

/// The sanctions fan-out (`POST /v1/sanctions/check`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SanctionsConfig {
    /// One overall deadline for the fan-out; platforms that have not
    /// answered by then are reported in `failed_platforms`.
    #[serde(default = "defaults::sanctions_deadline_ms")]
    pub deadline_ms: u64,
    /// Most subjects in one request.
    #[serde(default = "defaults::sanctions_max_subjects")]
    pub max_subjects: usize,
}

impl Default for SanctionsConfig {
    fn default() -> Self {
        SanctionsConfig {
            deadline_ms: defaults::sanctions_deadline_ms(),
            max_subjects: defaults::sanctions_max_subjects(),
        }
    }
}

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

mod defaults {
    use std::net::SocketAddr;
    pub fn handshake_timeout_ms() -> u64 {
        5_000
    }
    pub fn header_read_timeout_ms() -> u64 {
        10_000
    }
    pub fn idle_timeout_ms() -> u64 {
        60_000
    }
    pub fn request_timeout_ms() -> u64 {
        15_000
    }
    pub fn max_header_bytes() -> usize {
        16 * 1024
    }
    pub fn max_body_bytes() -> usize {
        64 * 1024
    }
    pub fn max_connections() -> usize {
        20_000
    }
    pub fn max_concurrent_streams() -> u32 {
        128
    }
    pub fn drain_timeout_ms() -> u64 {
        15_000
    }
    pub fn admin_listen() -> Option<SocketAddr> {
        None
    }
    pub fn upstream_timeout_ms() -> u64 {
        3_000
    }
    pub fn upstream_connect_timeout_ms() -> u64 {
        1_000
    }
    pub fn upstream_max_concurrency() -> usize {
        256
    }
    pub fn replica() -> String {
        "credgate-1".to_owned()
    }
    pub fn checkpoint_every_records() -> u64 {
        1000
    }
    pub fn checkpoint_every_secs() -> u64 {
        60
    }
    pub fn segment_max_bytes() -> u64 {
        64 << 20
    }
    pub fn audit_max_batch() -> usize {
        512
    }
    pub fn audit_max_delay_us() -> u64 {
        1000
    }
    pub fn audit_queue_bound() -> usize {
        10_000
    }
    pub fn clock_skew_secs() -> u64 {
        60
    }
    pub fn max_token_bytes() -> usize {
        4096
    }
    pub fn redis_call_timeout_ms() -> u64 {
        200
    }
    pub fn sanctions_deadline_ms() -> u64 {
        2_000
    }
    pub fn sanctions_max_subjects() -> usize {
        100
    }
    pub fn upstream_max_queue() -> usize {
        1024
    }
    pub fn upstream_max_retries() -> u32 {
        1
    }
    pub fn upstream_retry_budget() -> f64 {
        0.2
    }
}

impl Config {
    /// Reads, parses and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path
            .parent()
            .map(Path::to_owned)
            .unwrap_or_else(|| PathBuf::from("."));
        Config::from_toml(&text, path, &base)
    }

    /// Parses and validates configuration text; `base` resolves relative paths.
    pub fn from_toml(text: &str, path: &Path, base: &Path) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(e),
        })?;
        cfg.base_dir = base.to_owned();
        cfg.resolve_paths();
        let problems = cfg.validate();
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigError::Invalid {
                path: path.to_owned(),
                problems,
            })
        }
    }

    fn resolve_paths(&mut self) {
        let base = self.base_dir.clone();
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.server.cert);
        fix(&mut self.server.key);
        fix(&mut self.server.client_ca);
        self.server.crls.iter_mut().for_each(fix);
        fix(&mut self.policy.file);
        if let Some(p) = self.privacy.pseudonym_key_file.as_mut() {
            fix(p);
        }
        if let Some(p) = self.authorization.revocation_file.as_mut() {
            fix(p);
        }
        fix(&mut self.audit.dir);
        fix(&mut self.audit.signing_key_file);
        for u in &mut self.upstreams {
            fix(&mut u.ca);
            fix(&mut u.client_cert);
            fix(&mut u.client_key);
        }
    }

    /// Every inconsistency, one message each (empty when the config is usable).
    pub fn validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        let s = &self.server;
        if s.max_body_bytes == 0 {
            out.push("server.max_body_bytes: must be > 0".into());
        }
        if s.max_header_bytes < 1024 {
            out.push("server.max_header_bytes: must be ≥ 1024".into());
        }
        if s.max_connections == 0 {
            out.push("server.max_connections: must be > 0".into());
        }
        for (name, v) in [
            ("handshake_timeout_ms", s.handshake_timeout_ms),
            ("header_read_timeout_ms", s.header_read_timeout_ms),
            ("idle_timeout_ms", s.idle_timeout_ms),
            ("request_timeout_ms", s.request_timeout_ms),
        ] {
            if v == 0 {
                out.push(format!("server.{name}: must be > 0"));
            }
        }
        if let Some(admin) = self.admin.listen {
            // Port 0 means "any free port": two such listeners never clash.
            if admin == s.listen && admin.port() != 0 {
                out.push("admin.listen: must differ from server.listen".into());
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, u) in self.upstreams.iter().enumerate() {
            let at = format!("upstreams[{i}]");
            if u.name.is_empty() {
                out.push(format!("{at}.name: must not be empty"));
            } else if !names.insert(u.name.as_str()) {
                out.push(format!("{at}.name: duplicate upstream name {:?}", u.name));
            }
            if u.regions.is_empty() {
                out.push(format!("{at}.regions: must list at least one prefix"));
            }
            for r in &u.regions {
                if !(2..=6).contains(&r.len()) || !r.bytes().all(|b| b.is_ascii_digit()) {
                    out.push(format!(
                        "{at}.regions: {r:?} is not a 2–6 digit division-code prefix"
                    ));
                }
            }
            if !u.base_url.starts_with("https://") {
                out.push(format!("{at}.base_url: must be an https:// URL"));
            } else if u.base_url.parse::<http::Uri>().is_err() {
                out.push(format!("{at}.base_url: not a valid URL"));
            }
            if crate::federation::adapters::by_name(&u.adapter).is_none() {
                out.push(format!("{at}.adapter: unknown adapter {:?}", u.adapter));
            }
            if u.timeout_ms == 0 || u.connect_timeout_ms == 0 {
                out.push(format!("{at}: timeouts must be > 0"));
            }
            if u.max_concurrency == 0 {
                out.push(format!("{at}.max_concurrency: must be > 0"));
            }
            if !(0.0..=1.0).contains(&u.retry_budget_ratio) {
                out.push(format!("{at}.retry_budget_ratio: must be within 0..=1"));
            }
            if !(0.0..=1.0).contains(&u.breaker.failure_ratio) || u.breaker.failure_ratio == 0.0 {
                out.push(format!("{at}.breaker.failure_ratio: must be within (0, 1]"));
            }
        }
        if let Err(errs) = crate::recognition::Schemes::new(self.score_schemes.clone()) {
            out.extend(errs);
        }
        if self.sanctions.max_subjects == 0 || self.sanctions.max_subjects > 1000 {
            out.push("sanctions.max_subjects: must be within 1..=1000".into());
        }
        if let Some(r) = &self.redis {
            if !(r.url.starts_with("redis://") || r.url.starts_with("rediss://")) {
                out.push("redis.url: must start with redis:// or rediss://".into());
            }
            if r.call_timeout_ms == 0 {
                out.push("redis.call_timeout_ms: must be > 0".into());
            }
        }
        if let Some(ep) = &self.telemetry.otlp_endpoint {
            if !(ep.starts_with("http://") || ep.starts_with("https://"))
                || ep.parse::<http::Uri>().is_err()
            {
                out.push("telemetry.otlp_endpoint: must be an http(s) URL".into());
            }
        }
        if self.authorization.max_token_bytes < 256 {
            out.push("authorization.max_token_bytes: must be ≥ 256".into());
        }
        if self.sanctions.deadline_ms == 0 {
            out.push("sanctions.deadline_ms: must be > 0".into());
        }
        out
    }

    /// Handshake timeout as a duration.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.server.handshake_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"
[server]
listen = "127.0.0.1:0"
cert = "server.crt"
key = "server.key"
client_ca = "ca.crt"
[policy]
file = "policy.toml"
[audit]
dir = "audit"
signing_key_file = "audit.key"
"#;

    #[test]
    fn minimal_config_gets_defaults_and_resolved_paths() {
        let cfg = Config::from_toml(MIN, Path::new("g.toml"), Path::new("/etc/cg")).unwrap();
        assert_eq!(cfg.server.max_body_bytes, 64 * 1024);
        assert_eq!(cfg.server.cert, PathBuf::from("/etc/cg/server.crt"));
        assert_eq!(cfg.policy.file, PathBuf::from("/etc/cg/policy.toml"));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let text = format!("{MIN}\nsurprise = 1\n");
        let err = Config::from_toml(&text, Path::new("g.toml"), Path::new(".")).unwrap_err();
        assert!(err.to_string().contains("surprise"), "{err}");
    }

    #[test]
    fn every_problem_is_reported() {
        let text = format!(
            "{MIN}\n[[upstreams]]\nname = \"a\"\nkind = \"city\"\nregions = [\"3x\"]\nbase_url = \"http://x\"\nadapter = \"nope\"\nca = \"c\"\nclient_cert = \"c\"\nclient_key = \"k\"\nmax_concurrency = 0\n"
        );
        let err = Config::from_toml(&text, Path::new("g.toml"), Path::new(".")).unwrap_err();
        let ConfigError::Invalid { problems, .. } = err else {
            panic!("expected Invalid")
        };
        assert!(
            problems.iter().any(|p| p.contains("regions")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("base_url")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("adapter")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("max_concurrency")),
            "{problems:?}"
        );
    }
}
