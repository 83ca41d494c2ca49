//! The data address: TLS accept loop, per-connection HTTP (auto h1/h2),
//! request logging and fault injection.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rand::Rng;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::state::{FaultMode, RequestRecord, State};
use super::tls::identity;
use crate::render::{self, Rendered, SimRequest};

/// Longest a `hang` fault holds a request.
const HANG_LIMIT: Duration = Duration::from_secs(120);
/// Largest request body read.
const BODY_LIMIT: usize = 1 << 20;
/// Longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TCP stream that, once asked to reset, fails all I/O and closes with
/// `SO_LINGER` 0 (an RST instead of a FIN).
struct ResetStream {
    inner: TcpStream,
    reset: Arc<AtomicBool>,
}

fn reset_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "simulated reset")
}

impl AsyncRead for ResetStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.reset.load(Ordering::Relaxed) {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResetStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.reset.load(Ordering::Relaxed) {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.reset.load(Ordering::Relaxed) {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.reset.load(Ordering::Relaxed) {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.reset.load(Ordering::Relaxed) {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl Drop for ResetStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            let _ = self.inner.set_zero_linger();
        }
    }
}

/// Accepts connections until `stop` fires.
pub(super) async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    stop: watch::Receiver<bool>,
) {
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, state, mut stop) = (acceptor.clone(), state.clone(), stop.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = connection(tcp, acceptor, state) => {}
                _ = stop.changed() => {}
            }
        });
    }
}

async fn connection(tcp: TcpStream, acceptor: TlsAcceptor, state: Arc<State>) {
    let reset = Arc::new(AtomicBool::new(false));
    let stream = ResetStream {
        inner: tcp,
        reset: reset.clone(),
    };
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    let who: Arc<str> =
        identity(tls.get_ref().1.peer_certificates().and_then(|c| c.first())).into();
    let service = hyper::service::service_fn(move |req| {
        handle(state.clone(), who.clone(), reset.clone(), req)
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    if let Err(e) = builder.serve_connection(TokioIo::new(tls), service).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

fn respond(r: Rendered) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(r.body));
    *resp.status_mut() =
        http::StatusCode::from_u16(r.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(r.content_type),
    );
    resp
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// One request counted in [`State::in_flight`] while it lives.
struct InFlight {
    state: Arc<State>,
    /// The count when it entered, itself included.
    seen: usize,
}

impl InFlight {
    fn enter(state: &Arc<State>) -> Self {
        let seen = state.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        Self {
            state: state.clone(),
            seen,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.state.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn handle(
    state: Arc<State>,
    who: Arc<str>,
    reset: Arc<AtomicBool>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, io::Error> {
    // Counted until the answer is made (or the request is dropped).
    let in_flight = InFlight::enter(&state);
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, BODY_LIMIT).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let path = parts.uri.path();
    let routed = render::route(
        state.platform(),
        &parts.method,
        path,
        parts.uri.query(),
        &body,
    );
    state.record(RequestRecord {
        method: parts.method.to_string(),
        version: format!("{:?}", parts.version),
        path: parts
            .uri
            .path_and_query()
            .map_or_else(|| path.to_owned(), |p| p.as_str().to_owned()),
        traceparent: parts
            .headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        client_identity: who.to_string(),
        at: now_rfc3339(),
        subjects: routed.subjects(),
        in_flight: in_flight.seen,
    });
    let fault = state.fault();
    match fault.mode {
        FaultMode::None => {}
        FaultMode::Latency => tokio::time::sleep(Duration::from_millis(fault.latency_ms)).await,
        FaultMode::Error => {
            let mut rng = rand::thread_rng();
            if rng.gen_bool(fault.error_rate.clamp(0.0, 1.0)) {
                // A chosen status comes in the platform's own envelope (a
                // refusal it makes); the default 500/503 as bare text (a
                // failure in front of it).
                if let (Some(status), false) = (fault.status, fault.bare) {
                    return Ok(respond(render::error_answer(state.platform(), status)));
                }
                let status = fault
                    .status
                    .unwrap_or(if rng.gen_bool(0.5) { 500 } else { 503 });
                let body = Bytes::from_static(b"simulated platform failure");
                return Ok(respond(Rendered {
                    status,
                    content_type: "text/plain; charset=utf-8",
                    body,
                }));
            }
        }
        FaultMode::Reset => {
            reset.store(true, Ordering::Relaxed);
            return Err(reset_error());
        }
        FaultMode::Hang => {
            tokio::time::sleep(HANG_LIMIT).await;
            return Err(io::Error::new(io::ErrorKind::TimedOut, "simulated hang"));
        }
        FaultMode::Malformed => {
            let normal = state.answer(&routed);
            let spoiled = match (fault.section, &routed) {
                (Some(section), SimRequest::Report { .. }) => {
                    render::spoil_section(state.platform(), &normal, section)
                }
                (Some(_), _) => normal,
                (None, _) => render::malformed(&normal),
            };
            return Ok(respond(spoiled));
        }
    }
    Ok(respond(state.answer(&routed)))
}
