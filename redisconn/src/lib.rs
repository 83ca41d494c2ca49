//! The Redis connection shared by credgate's rate limiter and its
//! authorization state: a single server (or whatever address follows the
//! primary: a VIP, a proxy) through the `redis` crate's reconnecting
//! [`ConnectionManager`]; a primary found through **Redis Sentinel**
//! ([`SentinelConn`]: asked again after a lost connection or a `READONLY`
//! answer, so a failover is followed); or a **Redis Cluster** through its
//! cluster client, which discovers the slot map from seed nodes and
//! follows `MOVED`/`ASK` redirections and failovers.
//!
//! Creating either waits for nothing (the cluster client starts discovering
//! its slot map in the background): the gateway starts while Redis is down
//! and fails closed (or falls back) until it is up, and both reconnect by
//! themselves afterwards (tested for a cluster that was wholly down at
//! start and rebuilt, `credgate-ratelimit`'s `cluster` tests). Every caller keys
//! one decision's data with one hash tag (`credgate:{rl:<client>}:…`,
//! `credgate:{authz}:…`), so each script touches a single slot.
//!
//! This crate exists only so that `credgate-ratelimit` and `credgate-authz`
//! name the same connection type; it holds no policy of its own.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster::{ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    AsyncConnectionConfig, Cmd, ErrorKind, IntoConnectionInfo, Pipeline, RedisError, RedisFuture,
    RedisResult, ServerErrorKind, TlsMode, Value,
};

/// Where Redis is and how to reach it.
#[derive(Clone, Default)]
pub struct Target {
    /// `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS.
    /// With [`Target::cluster`], one seed node of the cluster (database 0).
    pub url: String,
    /// The URL names a node of a Redis Cluster: the slot map is discovered
    /// from it (and from [`Target::cluster_seeds`]).
    pub cluster: bool,
    /// More seed nodes of the cluster, tried when `url` is down at start;
    /// same scheme and credentials as `url`.
    pub cluster_seeds: Vec<String>,
    /// Find the primary through Redis Sentinel: `url` then gives only the
    /// credentials, database and scheme of the primary (not its address);
    /// with `rediss://`, the primary and the Sentinels (which must then be
    /// `rediss://` too) are reached over TLS with [`Target::tls`].
    pub sentinel: Option<SentinelTarget>,
    /// For `rediss://`: the trust anchors and the client certificate.
    pub tls: Option<redis::TlsCertificates>,
}

impl std::fmt::Debug for Target {
    /// Without the URLs (they may hold a password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("url", &"[redacted]")
            .field("cluster", &self.cluster)
            .field("cluster_seeds", &self.cluster_seeds.len())
            .field(
                "sentinel",
                &self
                    .sentinel
                    .as_ref()
                    .map(|s| (&s.master, s.sentinels.len())),
            )
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// The Sentinel side of a [`Target`].
#[derive(Clone, Default)]
pub struct SentinelTarget {
    /// The name the Sentinels monitor the primary under (`sentinel monitor
    /// <name> …`).
    pub master: String,
    /// The Sentinels: `redis://[:password@]host:port`, or `rediss://` (the
    /// password of the first applies to all, unless `password` is given).
    pub sentinels: Vec<String>,
    /// The Sentinels' password (their `requirepass`), if they need one.
    pub password: Option<String>,
}

impl std::fmt::Debug for SentinelTarget {
    /// Without the Sentinels' URLs (they may hold a password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelTarget")
            .field("master", &self.master)
            .field("sentinels", &self.sentinels.len())
            .finish()
    }
}

/// Timeouts and reconnection pacing.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Bound on connecting and on each response.
    pub call_timeout: Duration,
    /// How often a failed connection attempt is retried inside one call.
    pub retries: usize,
    /// Shortest wait between reconnection attempts.
    pub min_delay: Duration,
    /// Longest wait between reconnection attempts.
    pub max_delay: Duration,
}

/// A lazily connected Redis: one server, a cluster, or the primary
/// Sentinel names. Cheap to clone: the clones share the connection, and
/// [`RedisConn::set_tls`] (new TLS files after a certificate rotation)
/// switches every clone to a new connection at once; calls in flight
/// finish on the old one.
#[derive(Clone)]
pub struct RedisConn {
    shared: Arc<Shared>,
}

struct Shared {
    current: arc_swap::ArcSwap<Kind>,
    /// What [`RedisConn::set_tls`] rebuilds from.
    target: Mutex<Target>,
    tuning: Tuning,
}

/// The connection proper.
#[derive(Clone)]
enum Kind {
    /// One server, reconnected on failure.
    Single(ConnectionManager),
    /// A Redis Cluster: one multiplexed connection per node, routed by slot.
    Cluster(ClusterConnection),
    /// The primary Redis Sentinel names.
    Sentinel(SentinelConn),
}

/// A connection to the primary that Redis Sentinel names, found when
/// first needed and found again after a lost connection or a `READONLY`
/// answer (the primary was demoted): a failover costs the calls in flight
/// on the old primary, which the callers' single resend then sends to the
/// new one.
#[derive(Clone)]
pub struct SentinelConn {
    inner: Arc<SentinelInner>,
}

struct SentinelInner {
    /// Asks the Sentinels (one question at a time).
    client: tokio::sync::Mutex<SentinelClient>,
    /// The current primary's connection, if one is known to work.
    current: Mutex<Option<MultiplexedConnection>>,
    config: AsyncConnectionConfig,
    db: i64,
}

impl SentinelConn {
    fn new(target: &Target, sentinel: &SentinelTarget, tuning: &Tuning) -> RedisResult<Self> {
        let data = target.url.as_str().into_connection_info()?;
        let settings = data.redis_settings();
        let mut addrs = Vec::with_capacity(sentinel.sentinels.len());
        let mut sentinel_password = sentinel.password.clone();
        for url in &sentinel.sentinels {
            let info = url.as_str().into_connection_info()?;
            if sentinel_password.is_none() {
                sentinel_password = info.redis_settings().password().map(str::to_owned);
            }
            addrs.push(info.addr().clone());
        }
        let mut builder =
            SentinelClientBuilder::new(addrs, &sentinel.master, SentinelServerType::Master)?
                .set_client_to_redis_db(settings.db());
        if let Some(user) = settings.username() {
            builder = builder.set_client_to_redis_username(user);
        }
        if let Some(password) = settings.password() {
            builder = builder.set_client_to_redis_password(password);
        }
        if let Some(password) = &sentinel_password {
            builder = builder.set_client_to_sentinel_password(password);
        }
        if target.url.starts_with("rediss://") {
            // TLS to the primary the Sentinels name (verified against the
            // same trust anchors, the client certificate presented) and,
            // with `rediss://` Sentinels, to the Sentinels: their
            // addresses parse as TLS addresses, the certificates apply.
            builder = builder.set_client_to_redis_tls_mode(TlsMode::Secure);
            if let Some(tls) = &target.tls {
                builder = builder
                    .set_client_to_redis_certificates(tls.clone())
                    .set_client_to_sentinel_certificates(tls.clone());
            }
        } else if target.tls.is_some() {
            return Err(RedisError::from((
                ErrorKind::InvalidClientConfig,
                "TLS certificates given for a redis:// (plain TCP) URL",
            )));
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(tuning.call_timeout))
            .set_response_timeout(Some(tuning.call_timeout));
        Ok(Self {
            inner: Arc::new(SentinelInner {
                client: tokio::sync::Mutex::new(builder.build()?),
                current: Mutex::new(None),
                config,
                db: settings.db(),
            }),
        })
    }

    /// The current primary's connection, asking the Sentinels if none.
    async fn connection(&self) -> RedisResult<MultiplexedConnection> {
        if let Some(conn) = self.current() {
            return Ok(conn);
        }
        let mut client = self.inner.client.lock().await;
        // Another call may have found it while this one waited.
        if let Some(conn) = self.current() {
            return Ok(conn);
        }
        let conn = client
            .get_async_connection_with_config(&self.inner.config)
            .await?;
        *self.slot() = Some(conn.clone());
        Ok(conn)
    }

    fn current(&self) -> Option<MultiplexedConnection> {
        self.slot().clone()
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<MultiplexedConnection>> {
        self.inner
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// After `e`: forget the primary if `e` says it is gone or demoted.
    fn after_error(&self, e: &RedisError) {
        let demoted = e.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly);
        if demoted
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || e.is_io_error()
            || e.is_timeout()
        {
            *self.slot() = None;
        }
    }
}

impl std::fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match **self.shared.current.load() {
            Kind::Single(_) => "RedisConn::Single",
            Kind::Cluster(_) => "RedisConn::Cluster",
            Kind::Sentinel(_) => "RedisConn::Sentinel",
        })
    }
}

/// Prepares a connection to `target` without connecting. Fails only on a
/// URL or TLS setting the client cannot use. Must be called within a Tokio
/// runtime.
pub fn connect_lazy(target: &Target, tuning: &Tuning) -> RedisResult<RedisConn> {
    let kind = connect_kind(target, tuning)?;
    Ok(RedisConn {
        shared: Arc::new(Shared {
            current: arc_swap::ArcSwap::from_pointee(kind),
            target: Mutex::new(target.clone()),
            tuning: *tuning,
        }),
    })
}

impl RedisConn {
    /// Replaces the TLS trust anchors and client certificate (read again
    /// after a rotation): later calls, on every clone, go over a new
    /// connection made with them; calls in flight finish on the old one.
    /// On an error (unusable material) the current connection stays.
    /// Must be called within a Tokio runtime.
    pub fn set_tls(&self, tls: Option<redis::TlsCertificates>) -> RedisResult<()> {
        let mut target = self
            .shared
            .target
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut next = target.clone();
        next.tls = tls;
        let kind = connect_kind(&next, &self.shared.tuning)?;
        self.shared.current.store(Arc::new(kind));
        *target = next;
        Ok(())
    }

    /// The current connection (a cheap clone).
    fn kind(&self) -> Kind {
        Kind::clone(&self.shared.current.load())
    }
}

fn connect_kind(target: &Target, tuning: &Tuning) -> RedisResult<Kind> {
    if let Some(sentinel) = &target.sentinel {
        return Ok(Kind::Sentinel(SentinelConn::new(target, sentinel, tuning)?));
    }
    if !target.cluster {
        let client = match &target.tls {
            None => redis::Client::open(target.url.as_str()),
            Some(tls) => redis::Client::build_with_tls(target.url.as_str(), tls.clone()),
        }?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(tuning.call_timeout))
            .set_response_timeout(Some(tuning.call_timeout))
            .set_number_of_retries(tuning.retries)
            .set_min_delay(tuning.min_delay)
            .set_max_delay(tuning.max_delay);
        return Ok(Kind::Single(ConnectionManager::new_lazy_with_config(
            client, config,
        )?));
    }
    let nodes = std::iter::once(target.url.as_str())
        .chain(target.cluster_seeds.iter().map(String::as_str))
        .collect::<Vec<_>>();
    let mut builder = ClusterClientBuilder::new(nodes)
        .retries(u32::try_from(tuning.retries).unwrap_or(u32::MAX))
        .min_retry_wait(millis(tuning.min_delay))
        .max_retry_wait(millis(tuning.max_delay))
        .connection_timeout(tuning.call_timeout)
        .response_timeout(tuning.call_timeout);
    if let Some(tls) = &target.tls {
        builder = builder.certs(tls.clone());
    }
    let client = builder.build()?;
    let config = ClusterConfig::new()
        .set_connection_timeout(tuning.call_timeout)
        .set_response_timeout(tuning.call_timeout);
    Ok(Kind::Cluster(
        client.get_pending_async_connection_with_config(config),
    ))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let kind = self.kind();
        Box::pin(async move {
            match kind {
                Kind::Single(mut c) => c.req_packed_command(cmd).await,
                Kind::Cluster(mut c) => c.req_packed_command(cmd).await,
                Kind::Sentinel(s) => {
                    let mut conn = s.connection().await?;
                    let reply = conn.req_packed_command(cmd).await;
                    if let Err(e) = &reply {
                        s.after_error(e);
                    }
                    reply
                }
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let kind = self.kind();
        Box::pin(async move {
            match kind {
                Kind::Single(mut c) => c.req_packed_commands(pipeline, offset, count).await,
                Kind::Cluster(mut c) => c.req_packed_commands(pipeline, offset, count).await,
                Kind::Sentinel(s) => {
                    let mut conn = s.connection().await?;
                    let reply = conn.req_packed_commands(pipeline, offset, count).await;
                    if let Err(e) = &reply {
                        s.after_error(e);
                    }
                    reply
                }
            }
        })
    }

    fn get_db(&self) -> i64 {
        match &**self.shared.current.load() {
            Kind::Single(c) => c.get_db(),
            Kind::Cluster(c) => c.get_db(),
            Kind::Sentinel(s) => s.inner.db,
        }
    }
}
