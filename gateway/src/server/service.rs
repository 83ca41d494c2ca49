//! A connection's requests: the service hyper calls for each (answered by
//! [`Gateway::handle`]), the connection's activity (requests in flight,
//! when the last one ended) and the idle watch that closes it.

use super::{CloseConnection, ConnInfo, ConnStats};
use crate::http::Gateway;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Answers one connection's requests with [`Gateway::handle`], keeping its
/// in-flight count and last activity.
#[derive(Clone)]
pub(super) struct RequestService {
    pub(super) gateway: Arc<Gateway>,
    pub(super) conn: Arc<ConnInfo>,
    pub(super) activity: Arc<Activity>,
    pub(super) stats: Arc<ConnStats>,
}

impl hyper::service::Service<Request<Incoming>> for RequestService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    // Boxed: hyper keeps a slot for the service future for the whole life
    // of the connection, sized for the future; boxing the (several KiB)
    // request future makes an idle connection hold a pointer instead
    // (SPEC §13 memory at 10k idle connections).
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        // A connection that is closing, or whose certificate no policy
        // entry matched at the handshake and which has had its one request,
        // answers at once: its requests never reach the handler, so one
        // such certificate writes one audit record per connection, however
        // many HTTP/2 streams it opens at once (see `server::unidentified`).
        let refused = self.activity.closing.load(Ordering::Acquire)
            || (self.conn.unidentified && self.activity.admitted.swap(true, Ordering::AcqRel));
        if refused {
            self.stats.closing_refusals.fetch_add(1, Ordering::Relaxed);
            // Closing in any case: a certificate a policy reload has matched
            // since the handshake gets a new connection (and handshake)
            // rather than refusals on this one.
            self.activity.closing.store(true, Ordering::Release);
            self.activity.close.notify_one();
            return Box::pin(std::future::ready(Ok(closing_refusal(self.conn.h2))));
        }
        let gateway = self.gateway.clone();
        let conn = self.conn.clone();
        let activity = self.activity.clone();
        Box::pin(async move {
            // Counted out on completion and when hyper drops the future
            // (an HTTP/2 stream reset by the client).
            let _request = activity.begin_request();
            let mut resp = gateway.handle(&conn, req).await;
            if resp.extensions_mut().remove::<CloseConnection>().is_some() {
                activity.closing.store(true, Ordering::Release);
                // HTTP/1.1 closes after this answer; HTTP/2 (where
                // `Connection` is not allowed) is shut down gracefully by
                // the connection's task: GOAWAY, then the streams in
                // flight finish.
                if !conn.h2 {
                    resp.headers_mut().insert(
                        hyper::header::CONNECTION,
                        hyper::header::HeaderValue::from_static("close"),
                    );
                }
                activity.close.notify_one();
            } else if conn.unidentified {
                // A policy reload has matched the certificate since the
                // handshake: the connection serves on, one request at a
                // time while unmatched at the handshake.
                activity.admitted.store(false, Ordering::Release);
            }
            Ok(resp)
        })
    }
}

/// The answer to a request on a closing connection: the same refusal as the
/// request that closed it, without an audit record (it never reached
/// policy evaluation).
fn closing_refusal(h2: bool) -> Response<Full<Bytes>> {
    let mut resp = crate::http::problem::ApiError::new(
        crate::http::problem::Code::ScopeDenied,
        "the connection's client certificate identifies no client; the connection is closing",
    )
    .into_response();
    crate::http::problem::stamp_unrecorded(resp.headers_mut());
    if !h2 {
        resp.headers_mut().insert(
            hyper::header::CONNECTION,
            hyper::header::HeaderValue::from_static("close"),
        );
    }
    resp
}

/// Last-activity clock and in-flight count of one connection. Activity is
/// requests, not bytes: HTTP/2 PING frames (the server's own keep-alive
/// pings included) and a trickle of partial frames do not keep an idle
/// connection open.
pub(super) struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
    inflight: AtomicUsize,
    /// Notified when an answer asks for the connection to be closed.
    close: tokio::sync::Notify,
    /// Set when an answer asked for the connection to be closed: later
    /// requests are refused without the handler.
    closing: AtomicBool,
    /// Set once a request was let through (connections whose certificate
    /// identifies no client get one).
    admitted: AtomicBool,
}

impl Activity {
    pub(super) fn new() -> Activity {
        Activity {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
            inflight: AtomicUsize::new(0),
            close: tokio::sync::Notify::new(),
            closing: AtomicBool::new(false),
            admitted: AtomicBool::new(false),
        }
    }
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
    fn begin_request(self: &Arc<Self>) -> RequestActivity {
        self.inflight.fetch_add(1, Ordering::Relaxed);
        RequestActivity(self.clone())
    }
}

/// One request in flight on a connection; its end is the connection's
/// last activity.
struct RequestActivity(Arc<Activity>);

impl Drop for RequestActivity {
    fn drop(&mut self) {
        let a = &self.0;
        a.last_ms.store(a.now_ms(), Ordering::Relaxed);
        a.inflight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Resolves once the connection has been idle for `limit`, or an answer
/// asked for it to be closed.
pub(super) async fn idle_watch(activity: Arc<Activity>, limit: Duration) {
    let limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
    let mut wait = limit;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = activity.close.notified() => return,
        }
        let idle_for = activity
            .now_ms()
            .saturating_sub(activity.last_ms.load(Ordering::Relaxed));
        if activity.inflight.load(Ordering::Relaxed) == 0 && idle_for >= limit_ms {
            return;
        }
        wait = Duration::from_millis(limit_ms.saturating_sub(idle_for).max(10));
    }
}
