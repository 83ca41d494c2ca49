//! Wiring: builds every component from a [`Config`], binds the listeners,
//! and runs until shut down. Used by `credgate serve`, `credgate demo` and
//! the integration tests (which run gateways in-process on port 0).

use crate::config::Config;
use crate::federation::Federation;
use crate::http::Gateway;
use crate::policy_store::PolicyStore;
use crate::server::{self, ConnStats, Limits};
use crate::tls::{ServerTlsPaths, TlsStore};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// TLS material is unusable.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The policy is unusable.
    #[error(transparent)]
    Policy(#[from] crate::policy_store::PolicyLoadError),
    /// An upstream is unusable.
    #[error(transparent)]
    Upstream(#[from] crate::federation::UpstreamSetupError),
    /// A listener could not be bound or a key read.
    #[error("{what}: {source}")]
    Io {
        /// What failed.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration is inconsistent.
    #[error("configuration: {0}")]
    Config(String),
    /// The audit log could not be opened (its key, or the log itself:
    /// damage or tampering found at recovery).
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditSetupError),
    /// The file watcher could not be installed.
    #[error("file watcher: {0}")]
    Watch(#[from] notify::Error),
}

/// A running gateway.
#[derive(Debug)]
pub struct Running {
    /// The client-facing (mTLS) address actually bound.
    pub addr: SocketAddr,
    /// The admin address actually bound, if any.
    pub admin_addr: Option<SocketAddr>,
    /// The TLS material in force.
    pub tls: Arc<TlsStore>,
    /// The policy in force.
    pub policy: Arc<PolicyStore>,
    /// The upstream platforms (their TLS material reloads too).
    pub federation: Arc<Federation>,
    /// Connection counters.
    pub stats: Arc<ConnStats>,
    /// The audit log.
    pub audit: crate::audit::Auditor,
    /// The rate limiter (it leaves Redis' replica count at the stop).
    ratelimit: crate::ratelimit::RateLimiter,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, drains in-flight requests (bounded by the drain
    /// timeout) and waits for every task to end.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        // No request is decided any more: the other replicas may count
        // this one gone (their fallback shares grow a window later).
        self.ratelimit.leave().await;
        // Every in-flight request has been answered (and audited): seal
        // the log's state with a final signed checkpoint.
        self.audit.shutdown().await;
    }
}

/// Shortest pseudonym key accepted: a short key makes the pseudonyms of a
/// small identifier space (ID numbers) recoverable by brute force.
const MIN_PSEUDONYM_KEY_BYTES: usize = 32;

/// Whether the pseudonym key read from `path` is long enough (start-up and
/// `serve --check` alike).
pub(crate) fn check_pseudonym_key(path: &std::path::Path, key: &[u8]) -> Result<(), String> {
    if key.len() < MIN_PSEUDONYM_KEY_BYTES {
        return Err(format!(
            "pseudonym key {}: at least {MIN_PSEUDONYM_KEY_BYTES} bytes",
            path.display()
        ));
    }
    Ok(())
}

/// Builds and starts the gateway.
pub async fn start(cfg: &Config) -> Result<Running, StartError> {
    if let Some(fd) = crate::fdlimit::raise(cfg.server.max_connections) {
        match fd.warning() {
            Some(w) => tracing::warn!("{w}"),
            None if fd.now > fd.before => {
                tracing::debug!(from = fd.before, to = fd.now, "open-file limit raised")
            }
            None => {}
        }
    }
    let tls = Arc::new(TlsStore::load(ServerTlsPaths {
        cert: cfg.server.cert.clone(),
        key: cfg.server.key.clone(),
        client_ca: cfg.server.client_ca.clone(),
        crls: cfg.server.crls.clone(),
    })?);
    let policy = Arc::new(PolicyStore::load(&cfg.policy.file, cfg.score_scheme_ids())?);
    let federation = Arc::new(Federation::from_config(&cfg.upstreams)?);
    let pseudonym_key: Vec<u8> = match &cfg.privacy.pseudonym_key_file {
        Some(p) => {
            let key = std::fs::read(p).map_err(|source| StartError::Io {
                what: format!("pseudonym key {}", p.display()),
                source,
            })?;
            check_pseudonym_key(p, &key).map_err(StartError::Config)?;
            key
        }
        None => {
            tracing::warn!(
                "no privacy.pseudonym_key_file: subject pseudonyms use a random key made at \
                 this start, so audit searches by subject and access logs will not match \
                 records of earlier starts or of other replicas"
            );
            let mut k = vec![0u8; 32];
            rand::Rng::fill(&mut rand::thread_rng(), &mut k[..]);
            k
        }
    };
    let schemes = crate::recognition::Schemes::new(cfg.score_schemes.clone())
        .map_err(|errs| StartError::Config(errs.join("; ")))?;
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let observer: credgate_audit::BatchObserver = {
        let metrics = metrics.clone();
        Arc::new(move |b: &credgate_audit::BatchReport| {
            if b.ok {
                metrics.observe_audit_batch(b.records, b.write);
            }
        })
    };
    let audit =
        crate::audit::Auditor::open(&cfg.audit, Arc::new(pseudonym_key.clone()), Some(observer))
            .await?;
    let ratelimit = crate::ratelimit::RateLimiter::from_config(cfg)
        .map_err(|e| StartError::Config(e.to_string()))?;
    let gateway = Arc::new(Gateway {
        policy: policy.clone(),
        federation: federation.clone(),
        max_body_bytes: cfg.server.max_body_bytes,
        max_header_bytes: cfg.server.max_header_bytes,
        request_timeout: std::time::Duration::from_millis(cfg.server.request_timeout_ms.max(1)),
        pseudonym_key,
        schemes,
        sanctions: cfg.sanctions.clone(),
        authorizer: crate::authorize::Authorizer::from_config(cfg)
            .map_err(|e| StartError::Config(e.to_string()))?,
        audit: audit.clone(),
        metrics: metrics.clone(),
        ratelimit: ratelimit.clone(),
        tls: tls.clone(),
    });
    let listener = TcpListener::bind(cfg.server.listen)
        .await
        .map_err(|source| StartError::Io {
            what: format!("bind {}", cfg.server.listen),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Io {
        what: "local address".into(),
        source,
    })?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let stats = Arc::new(ConnStats::default());
    metrics.attach(crate::metrics::StateSources {
        federation: federation.clone(),
        stats: stats.clone(),
        policy: policy.clone(),
        ratelimit: ratelimit.clone(),
        tls: tls.clone(),
        authz: gateway.authorizer.store_health(),
        audit: gateway.audit.log().cloned(),
    });
    let mut tasks = Vec::new();
    let redis_tls = cfg.redis.as_ref().and_then(|r| {
        let conns = [
            gateway.ratelimit.redis_conn(),
            gateway.authorizer.redis_conn(),
        ];
        crate::reload::RedisTls::new(r, conns.into_iter().flatten().collect())
    });
    tasks.push(crate::reload::spawn(
        tls.clone(),
        policy.clone(),
        federation.clone(),
        redis_tls,
        shutdown_rx.clone(),
    )?);
    tasks.extend(gateway.authorizer.spawn_store_probe(shutdown_rx.clone()));
    let upstreams = federation.clone();
    let admin_addr = match cfg.admin.listen {
        Some(a) => {
            let l = TcpListener::bind(a)
                .await
                .map_err(|source| StartError::Io {
                    what: format!("bind admin {a}"),
                    source,
                })?;
            let bound = l.local_addr().map_err(|source| StartError::Io {
                what: "admin local address".into(),
                source,
            })?;
            tasks.push(tokio::spawn(crate::admin::serve(
                l,
                crate::admin::AdminState {
                    policy: policy.clone(),
                    federation,
                    stats: stats.clone(),
                    metrics: metrics.clone(),
                    ratelimit: ratelimit.clone(),
                    audit: audit.clone(),
                    authz_store: gateway.authorizer.store_health(),
                    redis_topology: cfg.redis.as_ref().map(|r| r.topology()),
                },
                shutdown_rx.clone(),
            )));
            Some(bound)
        }
        None => None,
    };
    tasks.push(tokio::spawn(server::serve(
        listener,
        tls.clone(),
        Limits::from_config(&cfg.server),
        gateway,
        stats.clone(),
        shutdown_rx,
    )));
    tracing::info!(%addr, admin = ?admin_addr, policy = %policy.current().summary(), policy_sha256 = %policy.current().sha256, "credgate listening");
    Ok(Running {
        addr,
        admin_addr,
        tls,
        policy,
        federation: upstreams,
        stats,
        audit,
        ratelimit,
        shutdown: shutdown_tx,
        tasks,
    })
}
