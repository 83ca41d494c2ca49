//! The client-facing listener: accepts TCP connections up to a bound,
//! completes the mutual-TLS handshake within a timeout, picks HTTP/1.1 or
//! HTTP/2 by ALPN, closes idle connections, and drains gracefully.

mod codec;
mod handshakes;
mod service;
mod unidentified;

use service::{idle_watch, Activity, RequestService};

pub use codec::{CodecRefusal, CodecRefusals};
pub use unidentified::CloseConnection;

use crate::http::Gateway;
use crate::tls::identity::{peer_identity, CertIdentity};
use crate::tls::TlsStore;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// Bounds applied to every client connection.
#[derive(Clone, Debug)]
pub struct Limits {
    /// TLS handshake deadline.
    pub handshake_timeout: Duration,
    /// HTTP/1.1 request-head deadline (also bounds keep-alive idle time).
    pub header_read_timeout: Duration,
    /// Idle deadline (no bytes and no request in flight).
    pub idle_timeout: Duration,
    /// Largest request head in bytes.
    pub max_header_bytes: usize,
    /// Most open connections.
    pub max_connections: usize,
    /// Most concurrent HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout: Duration,
    /// Connections per minute for a certificate no policy entry matches
    /// (see `server::unidentified`).
    pub unidentified_per_minute: u32,
}

impl Limits {
    /// Limits from the `[server]` configuration.
    pub fn from_config(s: &crate::config::ServerConfig) -> Limits {
        Limits {
            handshake_timeout: Duration::from_millis(s.handshake_timeout_ms),
            header_read_timeout: Duration::from_millis(s.header_read_timeout_ms),
            idle_timeout: Duration::from_millis(s.idle_timeout_ms),
            max_header_bytes: s.max_header_bytes,
            max_connections: s.max_connections,
            max_concurrent_streams: s.max_concurrent_streams,
            drain_timeout: Duration::from_millis(s.drain_timeout_ms),
            unidentified_per_minute: s.unidentified_connections_per_minute,
        }
    }
}

/// What is known about a client connection once its handshake completed.
#[derive(Debug)]
pub struct ConnInfo {
    /// The client's address.
    pub remote: SocketAddr,
    /// Identity facts of its verified certificate.
    pub peer: CertIdentity,
    /// Whether HTTP/2 was negotiated.
    pub h2: bool,
    /// Its certificate chain, checked again by the first request after a
    /// TLS reload (CRLs, CA bundle) and for expiry by every request.
    pub cert: crate::tls::recheck::CertStatus,
    /// No policy entry matched its certificate at the handshake: one
    /// request reaches the handler, then the connection closes.
    pub unidentified: bool,
    /// Turns true when the server gives up draining and closes every
    /// connection still open: a request dropped then was not abandoned by
    /// its client (see `http::inflight`).
    pub aborted: watch::Receiver<bool>,
}

/// Counters the listener keeps (exported by the admin listener).
#[derive(Debug, Default)]
pub struct ConnStats {
    /// Connections currently open (after handshake).
    pub open: AtomicUsize,
    /// Handshakes that failed (bad/missing certificate, protocol error).
    pub handshake_failed: AtomicU64,
    /// Handshakes that timed out.
    pub handshake_timeout: AtomicU64,
    /// Handshakes closed to give their slot to a newcomer while every
    /// connection slot was taken (see `server::handshakes`).
    pub handshake_evicted: AtomicU64,
    /// Connections of certificates no policy entry matches, closed after
    /// the handshake because the certificate spent its allowance (see
    /// `server::unidentified`).
    pub unidentified_closed: AtomicU64,
    /// Requests refused on a closing connection without reaching the
    /// handler (no audit record): those after the first on a connection
    /// whose certificate identifies no client.
    pub closing_refusals: AtomicU64,
    /// Requests the HTTP/1.1 codec refused by itself, by reason (no audit
    /// record: they never reached policy evaluation).
    pub codec_refusals: codec::CodecRefusals,
}

/// Runs the accept loop until `shutdown` turns true, then stops accepting,
/// asks every connection to finish its in-flight requests, and waits for
/// them up to the drain timeout.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<TlsStore>,
    limits: Limits,
    gateway: Arc<Gateway>,
    stats: Arc<ConnStats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let handshakes = Arc::new(handshakes::Handshakes::default());
    let unidentified = Arc::new(unidentified::Unidentified::new(
        limits.unidentified_per_minute,
    ));
    let limits = Arc::new(limits);
    let (abort, aborted) = watch::channel(false);
    loop {
        let (tcp, remote) = tokio::select! {
            r = accept_backing_off(&listener, "api") => match r {
                Some(x) => x,
                None => continue,
            },
            _ = shutdown.changed() => break,
        };
        // A connection slot for it. While every slot is taken the next
        // clients wait in the kernel's accept queue; this one takes the
        // slot of the oldest stalled handshake, or the next slot freed.
        let Some(permit) = slot_for_newcomer(&slots, &handshakes, &stats, &mut shutdown).await
        else {
            break;
        };
        let pending = handshakes.enter();
        // The generation first: material newer than it only makes the
        // first request recheck the certificate.
        let generation = tls.generation();
        let tls = tls.current();
        let conn = NewConn {
            limits: limits.clone(),
            gateway: gateway.clone(),
            stats: stats.clone(),
            unidentified: unidentified.clone(),
            shutdown: shutdown.clone(),
            aborted: aborted.clone(),
            permit,
        };
        tokio::spawn(handshake(tcp, remote, tls, generation, conn, pending));
    }
    // Stop listening at once: a new connection is refused (and a TCP load
    // balancer tries another replica) instead of waiting in the accept
    // queue for the whole drain, then being reset.
    drop(listener);
    // Drain: every connection task holds one permit until it ends.
    let max = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let drained = tokio::time::timeout(limits.drain_timeout, slots.acquire_many(max)).await;
    if drained.is_err() {
        let open = stats.open.load(Ordering::Relaxed);
        tracing::warn!(
            connections = open,
            "drain timeout reached with connections still open: closing them; their requests \
             still in progress are audited as refused (server_shutdown)"
        );
        // Every connection task drops its connection now, and with it the
        // requests still in progress, each of which queues its audit record
        // on the way (`http::inflight`) before the log's final checkpoint.
        let _ = abort.send(true);
        let closed = tokio::time::timeout(ABORT_GRACE, slots.acquire_many(max)).await;
        if closed.is_err() {
            tracing::error!("connections still open after being closed at the drain timeout");
        }
    }
}

/// How long the connections closed at the drain timeout get to end.
const ABORT_GRACE: Duration = Duration::from_secs(2);

/// A connection slot for a connection just accepted: a free one, else the
/// slot of the oldest handshake pending for [`handshakes::EVICT_AFTER`]
/// (evicted as soon as one is that old), else the next slot freed. `None`
/// on shutdown.
async fn slot_for_newcomer(
    slots: &Arc<Semaphore>,
    handshakes: &handshakes::Handshakes,
    stats: &ConnStats,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<OwnedSemaphorePermit> {
    loop {
        match slots.clone().try_acquire_owned() {
            Ok(p) => return Some(p),
            Err(tokio::sync::TryAcquireError::Closed) => return None,
            Err(tokio::sync::TryAcquireError::NoPermits) => {}
        }
        let retry_in = match handshakes.evict_oldest(handshakes::EVICT_AFTER) {
            Ok(()) => {
                stats.handshake_evicted.fetch_add(1, Ordering::Relaxed);
                // Its task ends at once and frees the slot.
                None
            }
            Err(until) => until,
        };
        let retry = async {
            match retry_in {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            p = slots.clone().acquire_owned() => return p.ok(),
            _ = retry => {}
            _ = shutdown.changed() => return None,
        }
    }
}

/// Connections closed for a certificate over its allowance: one log line
/// per window (each is counted in `credgate_tls_handshake_failures`).
static UNIDENTIFIED_LOG: credgate_audit::Throttle =
    credgate_audit::Throttle::new(Duration::from_secs(10));

/// Verified certificates that could not be read: one log line per window.
static UNREADABLE_LOG: credgate_audit::Throttle =
    credgate_audit::Throttle::new(Duration::from_secs(10));

/// A client connection once its handshake completed.
type ClientStream = tokio_rustls::server::TlsStream<TcpStream>;

/// What a connection task needs besides its stream.
struct ConnCtx {
    conn: Arc<ConnInfo>,
    limits: Arc<Limits>,
    gateway: Arc<Gateway>,
    stats: Arc<ConnStats>,
    shutdown: watch::Receiver<bool>,
    /// The connection slot, held until the connection ends.
    _permit: OwnedSemaphorePermit,
}

/// What a connection being handshaken needs from the listener.
struct NewConn {
    limits: Arc<Limits>,
    gateway: Arc<Gateway>,
    stats: Arc<ConnStats>,
    unidentified: Arc<unidentified::Unidentified>,
    shutdown: watch::Receiver<bool>,
    aborted: watch::Receiver<bool>,
    /// The connection slot, held until the connection ends.
    permit: OwnedSemaphorePermit,
}

/// Completes the TLS handshake, then hands the connection to a task of
/// its own for HTTP/1.1 or HTTP/2. Separate tasks keep an established
/// connection's task (which lives as long as the connection) sized for
/// its own protocol, without the handshake's or the other protocol's
/// state (SPEC §13 memory at 10k idle connections).
async fn handshake(
    tcp: TcpStream,
    remote: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    generation: u64,
    new: NewConn,
    mut pending: handshakes::Pending,
) {
    let NewConn {
        limits,
        gateway,
        stats,
        unidentified,
        shutdown,
        aborted,
        permit,
    } = new;
    let _ = tcp.set_nodelay(true);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let accepted = tokio::select! {
        r = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)) => r,
        // Closed (the slot goes with it) for a newcomer while the listener
        // is full; counted by the listener.
        Ok(()) = &mut pending.evicted => return,
    };
    let stream = match accepted {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            stats.handshake_failed.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%remote, reason = %e, "TLS handshake refused");
            return;
        }
        Err(_) => {
            stats.handshake_timeout.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%remote, "TLS handshake timed out");
            return;
        }
    };
    drop(pending);
    let (_, session) = stream.get_ref();
    let h2 = session.alpn_protocol() == Some(b"h2");
    let chain = session.peer_certificates().unwrap_or_default();
    let (peer, cert) = match chain.first().map(|der| peer_identity(der.as_ref())) {
        Some(Ok((peer, not_after))) => {
            let chain = gateway.tls.chain(chain);
            (
                peer,
                crate::tls::recheck::CertStatus::of(chain, not_after, generation),
            )
        }
        Some(Err(_)) => {
            // A certificate webpki accepted that x509-parser cannot read:
            // counted as a refused handshake, logged once per window (a
            // client can repeat it at will).
            stats.handshake_failed.fetch_add(1, Ordering::Relaxed);
            if let Some(suppressed) = UNREADABLE_LOG.allow() {
                tracing::warn!(%remote, suppressed, "verified certificate unreadable: connection closed");
            }
            return;
        }
        // The verifier requires a certificate; without one the handshake
        // has already failed. Fail closed regardless.
        None => return,
    };
    // A certificate the CA issued that no policy entry matches: within its
    // allowance the connection may send one request (refused, audited,
    // then closed; others on it are refused without the handler); beyond
    // it, it is closed here.
    let unmatched = gateway.policy.current().identify(&peer).is_none();
    if unmatched && !unidentified.admit(&peer.sha256) {
        stats.unidentified_closed.fetch_add(1, Ordering::Relaxed);
        if let Some(suppressed) = UNIDENTIFIED_LOG.allow() {
            tracing::warn!(%remote, fingerprint = %hex::encode(peer.sha256), suppressed,
                "connection closed after the handshake: a certificate no policy entry matches, over its allowance");
        }
        return;
    }
    stats.open.fetch_add(1, Ordering::Relaxed);
    let ctx = ConnCtx {
        conn: Arc::new(ConnInfo {
            remote,
            peer,
            h2,
            cert,
            unidentified: unmatched,
            aborted,
        }),
        limits,
        gateway,
        stats,
        shutdown,
        _permit: permit,
    };
    if h2 {
        tokio::spawn(serve_h2(stream, ctx));
    } else {
        tokio::spawn(serve_h1(stream, ctx));
    }
}

/// Serves an HTTP/1.1 connection until it ends.
///
/// The hyper connection is built here, outside the task's future, and
/// boxed: an `async fn` taking the stream would keep a slot for the
/// stream beside the connection that owns it (≈ 1.8 KiB per connection).
fn serve_h1(stream: ClientStream, ctx: ConnCtx) -> impl std::future::Future<Output = ()> + Send {
    let (io, service, idle) = prepare(stream, &ctx);
    let mut b = hyper::server::conn::http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(ctx.limits.header_read_timeout)
        // Twice the bound: the handler refuses a head over the bound with
        // a problem document and an audit record; a head over twice the
        // bound is refused by the codec (hyper's minimum buffer is 8 KiB),
        // with a problem document but no record.
        .max_buf_size(ctx.limits.max_header_bytes.saturating_mul(2).max(8192))
        // What the codec answers by itself is a problem document too.
        .parse_error_response(crate::http::problem::parse_error_response)
        .keep_alive(true);
    run(Box::pin(b.serve_connection(io, service)), idle, ctx)
}

/// Serves an HTTP/2 connection until it ends (built like [`serve_h1`]).
fn serve_h2(stream: ClientStream, ctx: ConnCtx) -> impl std::future::Future<Output = ()> + Send {
    let (io, service, idle) = prepare(stream, &ctx);
    let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    b.timer(TokioTimer::new())
        .max_concurrent_streams(ctx.limits.max_concurrent_streams)
        // Twice the bound, as for HTTP/1.1 (the handler enforces the bound).
        .max_header_list_size(
            u32::try_from(ctx.limits.max_header_bytes.saturating_mul(2)).unwrap_or(u32::MAX),
        )
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(10));
    run(Box::pin(b.serve_connection(io, service)), idle, ctx)
}

/// Drives a connection to its end, then counts it closed.
async fn run<C: Graceful>(
    mut conn: Pin<Box<C>>,
    idle: impl std::future::Future<Output = ()>,
    mut ctx: ConnCtx,
) {
    tokio::pin!(idle);
    let grace = ctx.limits.idle_timeout;
    let mut aborted = ctx.conn.aborted.clone();
    let ended = tokio::select! {
        r = drive(conn.as_mut(), &mut idle, &mut ctx.shutdown, grace) => r,
        // The drain timed out: the connection is dropped with whatever it
        // still carries. (The sender goes only once no connection is left.)
        _ = async {
            if aborted.wait_for(|a| *a).await.is_err() {
                std::future::pending::<()>().await;
            }
        } => None,
    };
    if let Some(r) = ended {
        codec::connection_ended(r, &ctx.conn, &ctx.stats.codec_refusals);
    }
    drop(conn);
    ctx.stats.open.fetch_sub(1, Ordering::Relaxed);
}

/// The stream, the request service and the idle watch of a connection.
fn prepare(
    stream: ClientStream,
    ctx: &ConnCtx,
) -> (
    TokioIo<ClientStream>,
    RequestService,
    impl std::future::Future<Output = ()>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(stream);
    let service = RequestService {
        gateway: ctx.gateway.clone(),
        conn: ctx.conn.clone(),
        activity: activity.clone(),
        stats: ctx.stats.clone(),
    };
    (io, service, idle_watch(activity, ctx.limits.idle_timeout))
}

/// A hyper connection that can be asked to finish gracefully.
pub(crate) trait Graceful: std::future::Future<Output = Result<(), hyper::Error>> {
    fn begin_shutdown(self: Pin<&mut Self>);
}

impl<I, S> Graceful for hyper::server::conn::http1::Connection<I, S>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::ResBody: hyper::body::Body + 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn begin_shutdown(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, E> Graceful for hyper::server::conn::http2::Connection<I, S, E>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::ResBody: hyper::body::Body + 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, S::ResBody>,
{
    fn begin_shutdown(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Serves `conn` until it ends, it has been idle (then it closes
/// gracefully), or the server shuts down (then it drains, bounded by the
/// server's drain timeout). An idle connection gets `grace` to finish the
/// answers it is still writing, then it is dropped: a client that never
/// reads its answer (a full socket buffer, an HTTP/2 window it never opens)
/// cannot hold a connection slot. Gives how the connection ended, or `None`
/// when it was dropped that way.
pub(crate) async fn drive<C: Graceful>(
    mut conn: Pin<&mut C>,
    idle: &mut Pin<&mut impl std::future::Future<Output = ()>>,
    shutdown: &mut watch::Receiver<bool>,
    grace: Duration,
) -> Option<Result<(), hyper::Error>> {
    if *shutdown.borrow() {
        conn.as_mut().begin_shutdown();
    } else {
        tokio::select! {
            r = conn.as_mut() => return Some(r),
            _ = idle.as_mut() => {
                conn.as_mut().begin_shutdown();
                let r = tokio::time::timeout(grace, conn).await.ok();
                if r.is_none() {
                    tracing::debug!("idle connection still writing after the grace: closed");
                }
                return r;
            }
            _ = shutdown.changed() => conn.as_mut().begin_shutdown(),
        }
    }
    Some(conn.await)
}

/// Accepts one connection. On an error (out of file descriptors, say) it
/// logs it and waits 50 ms before giving `None`, so that an accept loop
/// does not spin while the cause lasts.
pub(crate) async fn accept_backing_off(
    listener: &TcpListener,
    which: &'static str,
) -> Option<(TcpStream, std::net::SocketAddr)> {
    match listener.accept().await {
        Ok(x) => Some(x),
        Err(e) => {
            tracing::warn!(error = %e, listener = which, "accept failed");
            tokio::time::sleep(Duration::from_millis(50)).await;
            None
        }
    }
}

#[cfg(test)]
mod tests;
