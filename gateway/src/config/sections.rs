//! The smaller `[sections]` of the configuration.

use super::defaults;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

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
    /// Longest the writer waits to fill a batch, microseconds. 0 (the
    /// default): natural group commit, each write takes whatever queued up
    /// while the previous write + fsync ran.
    #[serde(default = "defaults::audit_max_delay_us")]
    pub max_delay_us: u64,
    /// Bytes of zeros kept written ahead of the data in the active segment,
    /// so that an fsync after an append writes no file-size metadata; 0 to
    /// let the file grow with every append (e.g. on copy-on-write file
    /// systems, where preallocation does not help).
    #[serde(default = "defaults::audit_preallocate_bytes")]
    pub preallocate_bytes: u64,
    /// Records that may wait for the writer; beyond, requests get
    /// `503 audit_unavailable` at once.
    #[serde(default = "defaults::audit_queue_bound")]
    pub queue_bound: usize,
    /// Longest a request waits for its record to be acknowledged (queue,
    /// write and fsync); beyond, it gets `503 audit_unavailable` and no
    /// data, and `/readyz` reports the replica not ready while a write has
    /// been in progress for longer (a hung disk). Milliseconds.
    #[serde(default = "defaults::audit_write_timeout_ms")]
    pub write_timeout_ms: u64,
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
    /// Largest accepted token; larger is `401 authorization_invalid`.
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
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]` (never logged). With
    /// `cluster`, one node of the cluster (database 0).
    pub url: String,
    /// `url` is a node of a Redis Cluster: the slot map is discovered from
    /// it and `cluster_seeds`, and every call goes to the node owning its
    /// key's slot (following `MOVED`/`ASK` and failovers).
    #[serde(default)]
    pub cluster: bool,
    /// More nodes of the cluster to discover it from, tried when `url` is
    /// down at start: `redis://host:port` (or `rediss://`, as `url`),
    /// without credentials (those of `url` / `password_file` apply).
    #[serde(default)]
    pub cluster_seeds: Vec<String>,
    /// Find the primary through Redis Sentinel: the name the Sentinels
    /// monitor it under (`sentinel monitor <name> …`). With it, `url`
    /// gives the primary's scheme, credentials and database; its host and
    /// port are not used.
    #[serde(default)]
    pub sentinel_master: Option<String>,
    /// The Sentinels (with `sentinel_master`): `redis://host:port`, or
    /// `rediss://` as `url` (TLS with the same `ca_file` and client
    /// certificate); a password they require: `sentinel_password_file`, or
    /// in the first URL, `redis://:password@host:port`.
    #[serde(default)]
    pub sentinels: Vec<String>,
    /// A file holding the Sentinels' password (their `requirepass`),
    /// instead of one in `sentinels`; read when the configuration is
    /// loaded.
    #[serde(default)]
    pub sentinel_password_file: Option<PathBuf>,
    /// A file holding the Redis password (e.g. a mounted Kubernetes Secret),
    /// instead of a password in `url`; a trailing newline is ignored. Read
    /// when the configuration is loaded.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Bound on every Redis call; beyond it the call counts as failed.
    #[serde(default = "defaults::redis_call_timeout_ms")]
    pub call_timeout_ms: u64,
    /// For `rediss://`: the CA certificates (PEM) Redis' server certificate
    /// must chain to. Without it, the system's trust store. Read when the
    /// configuration is loaded (not on each connect), and again when the
    /// file changes: the Redis connections then switch to the new material
    /// (the system's store is not watched).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// For `rediss://` to a Redis that asks for client certificates
    /// (`tls-auth-clients yes`): credgate's certificate chain (PEM), with
    /// `client_key_file`.
    #[serde(default)]
    pub client_cert_file: Option<PathBuf>,
    /// The private key (PEM) of `client_cert_file`.
    #[serde(default)]
    pub client_key_file: Option<PathBuf>,
    /// `url` with the password from `password_file` (set by the loader).
    #[serde(skip)]
    pub(crate) with_password: Option<String>,
    /// The TLS material read from the files above (set by the loader).
    #[serde(skip)]
    pub(crate) tls: Option<redis::TlsCertificates>,
    /// `cluster_seeds` with the credentials of `url` (set by the loader).
    #[serde(skip)]
    pub(crate) seeds_with_password: Vec<String>,
    /// The password read from `sentinel_password_file` (set by the loader).
    #[serde(skip)]
    pub(crate) sentinel_password: Option<String>,
}

impl RedisConfig {
    /// The URL to connect with: `url`, with the password from
    /// `password_file` when one is configured. Never log it.
    pub fn connection_url(&self) -> &str {
        self.with_password.as_deref().unwrap_or(&self.url)
    }

    /// How the authorization state reaches this Redis, each call bounded
    /// by `call_timeout`.
    pub fn authz_options(&self, call_timeout: std::time::Duration) -> credgate_authz::RedisOptions {
        let mut o = credgate_authz::RedisOptions::new(self.connection_url().to_owned());
        o.call_timeout = call_timeout;
        o.tls = self.tls.clone();
        o.cluster = self.cluster;
        o.cluster_seeds = self.cluster_seed_urls().to_vec();
        o.sentinel = self.sentinel_target();
        o
    }

    /// How Redis is reached: `sentinel`, `cluster` or `single`.
    pub fn topology(&self) -> &'static str {
        if self.sentinel_master.is_some() {
            "sentinel"
        } else if self.cluster {
            "cluster"
        } else {
            "single"
        }
    }

    /// The Sentinel set-up to find the primary through, if configured.
    /// Never log it (the URLs may hold a password).
    pub fn sentinel_target(&self) -> Option<credgate_redisconn::SentinelTarget> {
        self.sentinel_master
            .as_ref()
            .map(|master| credgate_redisconn::SentinelTarget {
                master: master.clone(),
                sentinels: self.sentinels.clone(),
                password: self.sentinel_password.clone(),
            })
    }

    /// The cluster's further seed nodes, with the credentials of `url`
    /// (and `password_file`). Never log them.
    pub fn cluster_seed_urls(&self) -> &[String] {
        &self.seeds_with_password
    }
}

impl std::fmt::Debug for RedisConfig {
    /// Without the password (of either source).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = url::Url::parse(&self.url)
            .map(|mut u| {
                let _ = u.set_password(None);
                u.to_string()
            })
            .unwrap_or_else(|_| "<unparsable>".to_owned());
        f.debug_struct("RedisConfig")
            .field("url", &shown)
            .field("password_file", &self.password_file)
            .field("call_timeout_ms", &self.call_timeout_ms)
            .field("cluster", &self.cluster)
            .field("cluster_seeds", &self.cluster_seeds)
            .field("sentinel_master", &self.sentinel_master)
            .field("sentinels", &self.sentinels.len())
            .field("sentinel_password_file", &self.sentinel_password_file)
            .field("ca_file", &self.ca_file)
            .field("client_cert_file", &self.client_cert_file)
            .finish_non_exhaustive()
    }
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
    /// Most calls one request has in flight to one platform at once. A
    /// platform that takes one subject per call (Hangzhou's format) would
    /// otherwise get up to `max_subjects` calls from a single request and
    /// fill its concurrency slots for every other client.
    #[serde(default = "defaults::sanctions_calls_per_platform")]
    pub calls_per_platform: usize,
}

impl Default for SanctionsConfig {
    fn default() -> Self {
        SanctionsConfig {
            deadline_ms: defaults::sanctions_deadline_ms(),
            max_subjects: defaults::sanctions_max_subjects(),
            calls_per_platform: defaults::sanctions_calls_per_platform(),
        }
    }
}

/// Rate limits and quotas (SPEC §9). The limits themselves are per client
/// (and optionally per client × scope) in the policy.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// UTC offset of the calendar day for daily quotas (`+08:00`, Asia/Shanghai).
    #[serde(default = "defaults::quota_utc_offset")]
    pub quota_utc_offset: String,
    /// With Redis: what happens while it is unreachable — `fail_open_local`
    /// (each replica applies its share of the limit) or `fail_closed` (503).
    #[serde(default)]
    pub redis_failure_mode: RedisFailureMode,
    /// Replicas sharing the limits (each one's share in `fail_open_local`)
    /// until the replicas have counted themselves alive in Redis: from then
    /// on the count, as of before Redis became unreachable, is the divisor.
    #[serde(default = "defaults::replicas")]
    pub replicas: u32,
    /// Bound on each Redis rate-limit decision, ms.
    #[serde(default = "defaults::ratelimit_call_timeout_ms")]
    pub call_timeout_ms: u64,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            quota_utc_offset: defaults::quota_utc_offset(),
            redis_failure_mode: RedisFailureMode::default(),
            replicas: defaults::replicas(),
            call_timeout_ms: defaults::ratelimit_call_timeout_ms(),
        }
    }
}

/// Behaviour of Redis-backed limits while Redis is unreachable.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RedisFailureMode {
    /// Each replica limits in process with its share of the rate.
    #[default]
    FailOpenLocal,
    /// Refuse with 503 until Redis is back.
    FailClosed,
}
