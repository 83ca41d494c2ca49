//! The gateway configuration file (`gateway.toml`): one serde tree, every
//! field documented, unknown keys rejected, relative paths resolved against
//! the file's directory, and a `validate()` step that reports every problem.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Largest `authorization.clock_skew_secs` accepted: 5 minutes, well inside
/// the hour revocations and use counts outlive a token's `exp`.
pub const MAX_CLOCK_SKEW_SECS: u64 = 300;
const _: () = assert!((MAX_CLOCK_SKEW_SECS as i64) < credgate_authz::STATE_GRACE_SECS);

mod defaults;
mod sections;
mod upstream;

pub use sections::*;
pub use upstream::*;

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
    /// Rate limits: quota day, Redis failure mode.
    #[serde(default)]
    pub ratelimit: RateLimitSettings,
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
    /// Longest a client may take to send a request's headers (HTTP/1.1),
    /// counted from the head's first byte; a keep-alive connection waiting
    /// for its next request is bounded by `idle_timeout_ms` instead.
    #[serde(default = "defaults::header_read_timeout_ms")]
    pub header_read_timeout_ms: u64,
    /// A connection with no request in flight for this long since its last
    /// request ended (or since it was opened) is closed. HTTP/2 PINGs and
    /// partial frames do not count: this also bounds an HTTP/2 client that
    /// never completes its request headers. A closing idle connection gets
    /// this long again to finish writing its answers, then it is dropped
    /// (a client that never reads cannot hold a connection).
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
    /// kernel's accept queue until one closes (or, while every slot is
    /// taken, until a handshake pending for over a second is evicted).
    #[serde(default = "defaults::max_connections")]
    pub max_connections: usize,
    /// Most concurrent HTTP/2 streams per connection.
    #[serde(default = "defaults::max_concurrent_streams")]
    pub max_concurrent_streams: u32,
    /// On shutdown, how long in-flight requests may take to finish.
    #[serde(default = "defaults::drain_timeout_ms")]
    pub drain_timeout_ms: u64,
    /// Connections a certificate the CA issued but no policy entry matches
    /// may open per minute (and at once). Each gets one request, refused
    /// with `403 scope_denied` and audited, then is closed; beyond the
    /// allowance its connections are closed before any HTTP. 0: closed at
    /// once, without a refusal the certificate's holder could read.
    #[serde(default = "defaults::unidentified_connections_per_minute")]
    pub unidentified_connections_per_minute: u32,
}

impl Config {
    /// The ids of the configured `[[score_schemes]]`.
    pub fn score_scheme_ids(&self) -> Vec<String> {
        self.score_schemes.iter().map(|s| s.id.clone()).collect()
    }

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
            cfg.read_secrets()?;
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
        if let Some(r) = self.redis.as_mut() {
            [
                &mut r.password_file,
                &mut r.sentinel_password_file,
                &mut r.ca_file,
                &mut r.client_cert_file,
                &mut r.client_key_file,
            ]
            .into_iter()
            .flatten()
            .for_each(fix);
        }
    }

    /// Reads the secrets and certificates the configuration names by file
    /// and that are part of a connection setting (the Redis password and
    /// TLS material), once it is valid.
    fn read_secrets(&mut self) -> Result<(), ConfigError> {
        let Some(r) = self.redis.as_mut() else {
            return Ok(());
        };
        r.tls = redis_tls(r)?;
        if let Some(file) = &r.sentinel_password_file {
            r.sentinel_password = Some(read_password(file, "redis.sentinel_password_file")?);
        }
        if let Some(file) = &r.password_file {
            r.with_password = Some(url_with_password(&r.url, file)?);
        }
        r.seeds_with_password = seeds_with_credentials(r)?;
        Ok(())
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
        // SPEC §4: a batch holds at most 100 subjects.
        if self.sanctions.max_subjects == 0 || self.sanctions.max_subjects > 100 {
            out.push("sanctions.max_subjects: must be within 1..=100".into());
        }
        if !(1..=100).contains(&self.sanctions.calls_per_platform) {
            out.push("sanctions.calls_per_platform: must be within 1..=100".into());
        }
        // Revocations and use counts are kept until an hour after a token's
        // `exp` (credgate-authz STATE_GRACE_SECS); a skew reaching that
        // would accept a token after its state was forgotten.
        if self.authorization.clock_skew_secs > MAX_CLOCK_SKEW_SECS {
            out.push(format!(
                "authorization.clock_skew_secs: at most {MAX_CLOCK_SKEW_SECS}"
            ));
        }
        if let Some(r) = &self.redis {
            if !(r.url.starts_with("redis://") || r.url.starts_with("rediss://")) {
                out.push("redis.url: must start with redis:// or rediss://".into());
            }
            match url::Url::parse(&r.url) {
                Err(_) => out.push("redis.url: not a URL".into()),
                Ok(u) if u.password().is_some() && r.password_file.is_some() => out
                    .push("redis: a password in url and a password_file: give one of them".into()),
                Ok(_) => {}
            }
            if r.call_timeout_ms == 0 {
                out.push("redis.call_timeout_ms: must be > 0".into());
            }
            let tls = r.url.starts_with("rediss://");
            for (key, set) in [
                ("ca_file", r.ca_file.is_some()),
                ("client_cert_file", r.client_cert_file.is_some()),
                ("client_key_file", r.client_key_file.is_some()),
            ] {
                if set && !tls {
                    out.push(format!(
                        "redis.{key}: only for TLS; the url must start with rediss://"
                    ));
                }
            }
            if r.client_cert_file.is_some() != r.client_key_file.is_some() {
                out.push(
                    "redis: client_cert_file and client_key_file go together: give both or neither"
                        .into(),
                );
            }
            validate_cluster(r, &mut out);
            validate_sentinel(r, &mut out);
            if url::Url::parse(&r.url).is_ok_and(|u| u.fragment().is_some()) {
                // The Redis client reads `#insecure` as "skip certificate
                // verification"; this build never does that.
                out.push(
                    "redis.url: no #fragment (certificate verification cannot be turned off)"
                        .into(),
                );
            }
        }
        if let Some(ep) = &self.telemetry.otlp_endpoint {
            if let Some(problem) = otlp_endpoint_problem(ep) {
                out.push(format!("telemetry.otlp_endpoint: {problem}"));
            }
        }
        if crate::ratelimit::parse_offset(&self.ratelimit.quota_utc_offset).is_none() {
            out.push("ratelimit.quota_utc_offset: an offset like +08:00".into());
        }
        if self.ratelimit.replicas == 0 || self.ratelimit.call_timeout_ms == 0 {
            out.push("ratelimit: replicas and call_timeout_ms must be > 0".into());
        }
        if self.authorization.max_token_bytes < 256 {
            out.push("authorization.max_token_bytes: must be ≥ 256".into());
        }
        if self.sanctions.deadline_ms == 0 {
            out.push("sanctions.deadline_ms: must be > 0".into());
        }
        if credgate_audit::validate_replica(&self.audit.replica).is_err() {
            out.push("audit.replica: 1-64 characters from A-Z a-z 0-9 . _ -".into());
        }
        if !(1..=600_000).contains(&self.audit.write_timeout_ms) {
            out.push("audit.write_timeout_ms: must be within 1..=600000".into());
        }
        // A segment's deletion record must fit in one frame.
        let segment_bytes = credgate_audit::MIN_SEGMENT_BYTES..=credgate_audit::MAX_SEGMENT_BYTES;
        if !segment_bytes.contains(&self.audit.segment_max_bytes) {
            out.push(format!(
                "audit.segment_max_bytes: must be within {}..={} (256 MiB)",
                segment_bytes.start(),
                segment_bytes.end()
            ));
        }
        // A day count whose seconds overflow would wrap to a short
        // retention and delete sealed segments early.
        if self
            .audit
            .retention_days
            .is_some_and(|d| !(1..=36_500).contains(&d))
        {
            out.push(
                "audit.retention_days: must be within 1..=36500 (absent: keep forever)".into(),
            );
        }
        out
    }

    /// Handshake timeout as a duration.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.server.handshake_timeout_ms)
    }
}

/// `[redis] cluster` and `cluster_seeds`: seeds only for a cluster, of
/// the url's scheme, without credentials, database 0 throughout.
fn validate_cluster(r: &RedisConfig, out: &mut Vec<String>) {
    if !r.cluster {
        if !r.cluster_seeds.is_empty() {
            out.push("redis.cluster_seeds: only with redis.cluster = true".into());
        }
        return;
    }
    let db0 = |u: &url::Url| matches!(u.path(), "" | "/" | "/0");
    if url::Url::parse(&r.url).is_ok_and(|u| !db0(&u)) {
        out.push("redis.url: a Redis Cluster has database 0 only".into());
    }
    check_node_urls(
        "redis.cluster_seeds",
        &r.cluster_seeds,
        &r.url,
        Node::Seed,
        out,
    );
}

/// `[redis] sentinel_master` and `sentinels`: together, not with a
/// cluster, each Sentinel a `redis://` (or `rediss://`, as `url`) host and
/// port.
fn validate_sentinel(r: &RedisConfig, out: &mut Vec<String>) {
    if r.sentinel_password_file.is_some() {
        if r.sentinel_master.is_none() {
            out.push("redis.sentinel_password_file: only with redis.sentinel_master".into());
        }
        if r.sentinels
            .iter()
            .any(|s| url::Url::parse(s).is_ok_and(|u| u.password().is_some()))
        {
            out.push(
                "redis: a password in sentinels and a sentinel_password_file: give one of them"
                    .into(),
            );
        }
    }
    match (&r.sentinel_master, r.sentinels.is_empty()) {
        (None, true) => return,
        (None, false) => out.push("redis.sentinels: only with redis.sentinel_master".into()),
        (Some(_), true) => {
            out.push("redis.sentinel_master: name at least one of redis.sentinels".into())
        }
        (Some(m), false) if m.trim().is_empty() => {
            out.push("redis.sentinel_master: must not be empty".into())
        }
        (Some(_), false) => {}
    }
    if r.cluster {
        out.push(
            "redis: a cluster (cluster = true) or Sentinel (sentinel_master), not both".into(),
        );
    }
    check_node_urls("redis.sentinels", &r.sentinels, &r.url, Node::Sentinel, out);
}

/// What a further Redis address in the config names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Node {
    /// A cluster seed: host and port (database 0 allowed), no credentials.
    Seed,
    /// A Sentinel: host and port, a password allowed.
    Sentinel,
}

/// Checks each of `urls` (config key `key`): a URL of `url`'s scheme
/// naming a host, with only what a `kind` node may carry.
fn check_node_urls(key: &str, urls: &[String], url: &str, kind: Node, out: &mut Vec<String>) {
    let scheme = url.split("://").next().unwrap_or_default();
    for (i, node) in urls.iter().enumerate() {
        let at = format!("{key}[{i}]");
        let Ok(u) = url::Url::parse(node) else {
            out.push(format!("{at}: not a URL"));
            continue;
        };
        if u.scheme() != scheme {
            out.push(format!("{at}: must use the url's scheme ({scheme}://)"));
        }
        let has_credentials = !u.username().is_empty() || u.password().is_some();
        if kind == Node::Seed && has_credentials {
            out.push(format!(
                "{at}: no credentials (those of redis.url or password_file apply)"
            ));
        }
        let path_ok = match kind {
            Node::Seed => matches!(u.path(), "" | "/" | "/0"),
            Node::Sentinel => matches!(u.path(), "" | "/"),
        };
        if !path_ok || u.fragment().is_some() || u.query().is_some() {
            out.push(match kind {
                Node::Seed => format!("{at}: host and port only"),
                Node::Sentinel => format!("{at}: host and port (and a password) only"),
            });
        }
        if u.host_str().is_none_or(str::is_empty) {
            out.push(format!("{at}: no host"));
        }
    }
}

/// The cluster seeds with the user and password of the URL connected
/// with (`url`, with `password_file`'s password when there is one): each
/// seed is another node of the same cluster, so the same credentials apply.
fn seeds_with_credentials(r: &RedisConfig) -> Result<Vec<String>, ConfigError> {
    let invalid = |problem: String| ConfigError::Invalid {
        path: PathBuf::from("redis.cluster_seeds"),
        problems: vec![problem],
    };
    let base = url::Url::parse(r.connection_url())
        .map_err(|_| invalid("redis.url does not parse".into()))?;
    r.cluster_seeds
        .iter()
        .map(|seed| {
            let mut u =
                url::Url::parse(seed).map_err(|_| invalid(format!("{seed:?} does not parse")))?;
            u.set_username(base.username())
                .and_then(|()| u.set_password(base.password()))
                .map_err(|()| invalid("a seed cannot carry credentials".into()))?;
            Ok(u.into())
        })
        .collect()
}

/// The TLS material of a `rediss://` connection, read once and checked now
/// so that a missing or unusable file fails the load (and `serve --check`),
/// not the first Redis call; the bytes checked are the bytes used.
pub(crate) fn redis_tls(r: &RedisConfig) -> Result<Option<redis::TlsCertificates>, ConfigError> {
    if !r.url.starts_with("rediss://") {
        return Ok(None);
    }
    let invalid = |path: &Path, problem: String| ConfigError::Invalid {
        path: path.to_owned(),
        problems: vec![problem],
    };
    let root_cert = match &r.ca_file {
        // The system's store, read now: the redis crate would otherwise
        // re-read it on every connect (and fail every connect if one file
        // of it is unreadable).
        None => Some(
            system_roots_pem(rustls_native_certs::load_native_certs()).map_err(|problem| {
                ConfigError::Invalid {
                    path: PathBuf::from("redis.ca_file"),
                    problems: vec![problem],
                }
            })?,
        ),
        Some(path) => {
            let pem = read_file(path)?;
            crate::tls::parse_certs("Redis CA", path, &pem)
                .map_err(|e| invalid(path, format!("redis.ca_file: {e}")))?;
            Some(pem)
        }
    };
    let client_tls = match (&r.client_cert_file, &r.client_key_file) {
        (Some(cert), Some(key)) => {
            let (cert_pem, key_pem) = (read_file(cert)?, read_file(key)?);
            let chain = crate::tls::parse_certs("Redis client certificate", cert, &cert_pem)
                .map_err(|e| invalid(cert, format!("redis.client_cert_file: {e}")))?;
            let private = crate::tls::parse_key("Redis client key", key, &key_pem)
                .map_err(|e| invalid(key, format!("redis.client_key_file: {e}")))?;
            // A key of another certificate would only fail each handshake.
            rustls::sign::CertifiedKey::from_der(chain, private, &crate::tls::provider()).map_err(
                |e| {
                    invalid(
                        key,
                        format!("redis.client_key_file does not fit client_cert_file: {e}"),
                    )
                },
            )?;
            Some(redis::ClientTlsConfig {
                client_cert: cert_pem,
                client_key: key_pem,
            })
        }
        // validate() refused a lone half of the pair.
        _ => None,
    };
    Ok(Some(redis::TlsCertificates {
        client_tls,
        root_cert,
    }))
}

/// The certificates of the system's trust store as PEM (what
/// `redis::TlsCertificates` takes). Files that could not be read are
/// skipped with a warning (their CAs are then not trusted, nothing more);
/// a store without any certificate is an error naming the fix.
fn system_roots_pem(found: rustls_native_certs::CertificateResult) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    for e in &found.errors {
        tracing::warn!(error = %e, "part of the system trust store could not be read");
    }
    if found.certs.is_empty() {
        return Err(format!(
            "redis.url is rediss:// without redis.ca_file, and the system trust store \
             has no certificates{}: set redis.ca_file to the CA of Redis' certificate \
             (or install ca-certificates)",
            found
                .errors
                .first()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ));
    }
    let mut pem = Vec::new();
    for cert in &found.certs {
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    Ok(pem)
}

/// `url` with the password read from `file` (`[redis] password_file`).
fn url_with_password(url: &str, file: &Path) -> Result<String, ConfigError> {
    let password = read_password(file, "redis.password_file")?;
    let invalid = |problem: &str| ConfigError::Invalid {
        path: file.to_owned(),
        problems: vec![format!("redis.password_file: {problem}")],
    };
    // `url` validated this already; the password is percent-encoded by the
    // URL type (and decoded again by the Redis client).
    let mut url = url::Url::parse(url).map_err(|_| invalid("redis.url does not parse"))?;
    url.set_password(Some(&password))
        .map_err(|()| invalid("redis.url cannot carry a password"))?;
    Ok(url.into())
}

/// A password from a file (a mounted Secret): a trailing newline is
/// ignored, an empty file refused, naming `key`.
fn read_password(file: &Path, key: &str) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
        path: file.to_owned(),
        source,
    })?;
    let password = text.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(ConfigError::Invalid {
            path: file.to_owned(),
            problems: vec![format!("{key}: the file is empty")],
        });
    }
    Ok(password.to_owned())
}

fn read_file(path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// What is wrong with an OTLP traces endpoint, if anything. The exporter
/// posts spans to the URL as given, over plain HTTP: an `https` URL would
/// never connect (nothing would say so), and a URL without a path would
/// post to `/`, which a collector answers with 404 — both refused here
/// instead of losing every span in silence.
fn otlp_endpoint_problem(ep: &str) -> Option<&'static str> {
    let Ok(uri) = ep.parse::<http::Uri>() else {
        return Some("must be an http:// URL");
    };
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Some(
                "https is not supported: this build exports OTLP over plain HTTP. Send \
                 spans to a collector on the host or in the pod (http://127.0.0.1:4318/v1/traces) \
                 and let it forward them over TLS",
            )
        }
        _ => return Some("must be an http:// URL"),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Some("must name a host");
    }
    if matches!(uri.path(), "" | "/") {
        return Some(
            "must name the traces path (the exporter posts to the URL as given), e.g. \
             http://collector:4318/v1/traces",
        );
    }
    None
}

#[cfg(test)]
pub(crate) mod tests;
