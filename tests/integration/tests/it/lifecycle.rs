//! Connection and process lifecycle: graceful drain on shutdown, the
//! handshake and idle timeouts, and reload on SIGHUP.

use credgate::server::CodecRefusal;
use credgate_integration::{eventually, read_h1_status, Harness, Options};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const APPROVAL: (&str, &str) = ("x-credit-purpose", "administrative_approval");

/// A report query the Ningbo platform answers after `latency_ms`, sent
/// and waited for until the platform has received it (the readiness
/// signal).
async fn slow_report_in_flight(
    h: &Harness,
    latency_ms: u64,
) -> tokio::task::JoinHandle<credgate_integration::Reply> {
    let nb = h.enterprise_of("xinyong-ningbo");
    h.fault(
        "xinyong-ningbo",
        json!({ "mode": "latency", "latency_ms": latency_ms }),
    )
    .await;
    let client = h.client("dept-nb");
    let path = format!("/v1/enterprises/{nb}/report?sections=basic");
    let in_flight = tokio::spawn(async move { client.get(&path, &[APPROVAL]).await });
    eventually("request reached the platform", async || {
        !h.sim_requests("xinyong-ningbo").await.is_empty()
    })
    .await;
    in_flight
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests_and_stops_accepting() {
    let mut h = Harness::start().await;
    let in_flight = slow_report_in_flight(&h, 1500).await;
    let addr = h.addr();
    let gw = h.gateway.take().unwrap();
    let shutdown = tokio::spawn(gw.shutdown());
    // The listener closes at once: new connections are refused during the
    // drain (a TCP load balancer moves on) rather than queued, then reset.
    eventually("refusing connections while draining", async || {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;
    assert!(!in_flight.is_finished(), "still draining");
    let r = in_flight.await.unwrap();
    assert_eq!(
        r.status, 200,
        "the in-flight request completed during the drain"
    );
    shutdown.await.unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

/// A request still in progress when the drain times out is closed with its
/// connection, and still leaves its one audit record (refused,
/// `server_shutdown`, 503), written before the log's final checkpoint.
#[tokio::test]
async fn a_request_cut_at_the_drain_timeout_is_audited() {
    let mut h = Harness::start_with(Options {
        server_extra: "drain_timeout_ms = 300".into(),
        ..Options::default()
    })
    .await;
    let in_flight = slow_report_in_flight(&h, 5000).await;
    let started = Instant::now();
    h.gateway.take().unwrap().shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "shutdown waited for the platform: {:?}",
        started.elapsed()
    );
    // The client got no answer (the connection was closed).
    let _ = in_flight.await;
    let dir = h.dir.path().join("audit");
    let page = credgate_audit::query_dir(&dir, &credgate_audit::Query::default())
        .unwrap()
        .page;
    let cut = page
        .records
        .iter()
        .find(|r| r.reason == "server_shutdown")
        .unwrap_or_else(|| panic!("no server_shutdown record in {:?}", page.records));
    assert_eq!(cut.decision, credgate_audit::Decision::Deny);
    assert_eq!(cut.status, 503);
    assert_eq!(cut.client_id, "dept-nb");
    assert!(cut.fields_returned.is_empty(), "{cut:?}");
    // Covered by the final checkpoint: nothing after it.
    let checkpoint = credgate_audit::latest_checkpoint_dir(&dir)
        .unwrap()
        .unwrap();
    assert!(checkpoint.tree_size >= cut.seq, "{checkpoint:?}");
}

#[tokio::test]
async fn a_silent_client_is_dropped_after_the_handshake_timeout() {
    let h = Harness::start_with(Options {
        server_extra: "handshake_timeout_ms = 300".into(),
        ..Options::default()
    })
    .await;
    let started = Instant::now();
    let mut tcp = tokio::net::TcpStream::connect(h.addr()).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .expect("the server closed the connection")
        .unwrap_or(0);
    assert_eq!(n, 0, "closed without a TLS answer");
    assert!(started.elapsed() >= Duration::from_millis(250));
    let stats = &h.gw().stats;
    eventually("timeout counted", async || {
        stats
            .handshake_timeout
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    })
    .await;
}

/// Silent connections cannot keep clients out: with every connection slot
/// held by connections that never start their handshake, a client with a
/// certificate is still served (the oldest stalled handshake, pending for
/// over a second, gives up its slot), long before the handshake timeout
/// would have freed one. Established connections are never evicted.
#[tokio::test]
async fn silent_connections_cannot_hold_every_slot() {
    let h = Harness::start_with(Options {
        server_extra: "handshake_timeout_ms = 30000\nmax_connections = 3".into(),
        ..Options::default()
    })
    .await;
    // One established connection, then two silent ones: every slot taken.
    let mut established = h.client("dept-nb").connect().await.unwrap();
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(tokio::net::TcpStream::connect(h.addr()).await.unwrap());
    }
    let started = Instant::now();
    let nb = h.enterprise_of("xinyong-ningbo");
    let r = tokio::time::timeout(
        Duration::from_secs(15),
        h.client("dept-nb").try_request(
            http::Method::GET,
            &format!("/v1/enterprises/{nb}/report?sections=basic"),
            &[APPROVAL],
            Default::default(),
        ),
    )
    .await
    .expect("served before the 30 s handshake timeout")
    .expect("served");
    assert_eq!(r.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "a handshake is evicted only after pending for a second: {:?}",
        started.elapsed()
    );
    // The oldest silent connection was closed; the established one lives.
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), silent[0].read(&mut buf))
        .await
        .expect("the oldest silent connection was closed")
        .unwrap_or(0);
    assert_eq!(n, 0);
    let evicted = h
        .gw()
        .stats
        .handshake_evicted
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(evicted >= 1, "{evicted}");
    let text = h.metrics_text().await;
    assert!(
        text.lines().any(|l| l
            .starts_with("credgate_tls_handshake_failures_total{reason=\"evicted\"}")
            && !l.ends_with(" 0")),
        "{text}"
    );
    established
        .write_all(
            format!(
                "GET /v1/enterprises/{nb}/report?sections=basic HTTP/1.1\r\nhost: localhost\r\nx-credit-purpose: administrative_approval\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut head = [0u8; 12];
    established.read_exact(&mut head).await.unwrap();
    assert_eq!(
        &head, b"HTTP/1.1 200",
        "the established connection still works"
    );
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let h = Harness::start_with(Options {
        server_extra: "idle_timeout_ms = 400".into(),
        ..Options::default()
    })
    .await;
    // A connection that completes the handshake and then stays silent,
    // kept open by this side: only the server can end it.
    let mut tls = h.client("dept-nb").connect().await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf))
        .await
        .expect("the server closed the idle connection");
    assert!(matches!(read, Ok(0) | Err(_)), "no data, just the close");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(350),
        "closed after the idle timeout, not before: {took:?}"
    );
}

type H2Send = hyper::client::conn::http2::SendRequest<http_body_util::Full<bytes::Bytes>>;
type H2Conn = tokio::task::JoinHandle<Result<(), hyper::Error>>;

/// An HTTP/2 connection as `dept-nb` with the client settings `configure`
/// makes, and its driver.
async fn h2_connection(
    h: &Harness,
    configure: impl FnOnce(&mut hyper::client::conn::http2::Builder<hyper_util::rt::TokioExecutor>),
) -> (H2Send, H2Conn) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let tls = h.client("dept-nb").http2().connect().await.unwrap();
    let mut b = hyper::client::conn::http2::Builder::new(TokioExecutor::new());
    b.timer(TokioTimer::new());
    configure(&mut b);
    let (send, conn) = b.handshake(TokioIo::new(tls)).await.unwrap();
    (send, tokio::spawn(conn))
}

/// An HTTP/2 connection whose client pings every 50 ms, and its driver.
async fn pinging_h2(h: &Harness) -> (H2Send, H2Conn) {
    h2_connection(h, |b| {
        b.keep_alive_interval(Duration::from_millis(50))
            .keep_alive_while_idle(true);
    })
    .await
}

/// The basic section of `nb`'s report, as an HTTP/2 request.
fn basic_report(nb: &str) -> http::Request<http_body_util::Full<bytes::Bytes>> {
    http::Request::get(format!(
        "https://localhost/v1/enterprises/{nb}/report?sections=basic"
    ))
    .header(APPROVAL.0, APPROVAL.1)
    .body(http_body_util::Full::default())
    .unwrap()
}

/// Waits for the server to end `conn`; returns how long that took.
async fn closed_after(conn: H2Conn) -> Duration {
    let from = Instant::now();
    let _ = tokio::time::timeout(Duration::from_secs(5), conn)
        .await
        .expect("the server closed the idle connection");
    from.elapsed()
}

/// HTTP/2 PING frames (the client's here, the server's own keep-alive
/// pings in production) are not requests: they do not keep a connection
/// open past the idle timeout; nor does a request the client reset.
#[tokio::test]
async fn pings_and_reset_streams_do_not_keep_an_idle_http2_connection_open() {
    let h = Harness::start_with(Options {
        server_extra: "idle_timeout_ms = 400".into(),
        ..Options::default()
    })
    .await;
    let nb = h.enterprise_of("xinyong-ningbo");
    let request = || basic_report(&nb);

    let (mut send, conn) = pinging_h2(&h).await;
    let resp = send.send_request(request()).await.unwrap();
    assert_eq!(resp.status(), 200);
    drop(resp);
    let took = closed_after(conn).await;
    assert!(
        took >= Duration::from_millis(350),
        "closed after the idle timeout, not before: {took:?}"
    );

    // A request given up by its client (RST_STREAM) while the platform is
    // slow: the stream's end counts as the last activity.
    h.fault(
        "xinyong-ningbo",
        json!({ "mode": "latency", "latency_ms": 3000 }),
    )
    .await;
    let (mut send, conn) = pinging_h2(&h).await;
    let gave_up = tokio::time::timeout(Duration::from_millis(100), send.send_request(request()));
    assert!(gave_up.await.is_err(), "the platform is slow");
    let took = closed_after(conn).await;
    h.fault("xinyong-ningbo", json!({ "mode": "none" })).await;
    assert!(
        took >= Duration::from_millis(350),
        "closed after the idle timeout, not before: {took:?}"
    );
}

/// A client that never reads its answer (here: an HTTP/2 stream window of
/// 16 bytes that it never opens further) cannot hold its connection: once
/// idle, the connection gets the idle timeout again to finish writing,
/// then it is closed.
#[tokio::test]
async fn a_client_that_never_reads_its_answer_does_not_hold_the_connection() {
    let h = Harness::start_with(Options {
        server_extra: "idle_timeout_ms = 400".into(),
        ..Options::default()
    })
    .await;
    let (mut send, conn) = h2_connection(&h, |b| {
        b.initial_stream_window_size(16);
    })
    .await;
    let req = basic_report(&h.enterprise_of("xinyong-ningbo"));
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    // The head arrived; the body (far over 16 bytes) is never read.
    let took = closed_after(conn).await;
    drop(resp);
    assert!(
        took >= Duration::from_millis(700),
        "idle, then the grace to finish writing: {took:?}"
    );
}

#[tokio::test]
async fn sighup_reloads_tls_material_and_policy() {
    let h = Harness::start().await;
    let tls_before = h.gw().tls.generation();
    let policy_before = h.gw().policy.reloads_ok();
    let upstream_before = h.gw().federation.tls_generation();
    // The shell's own `kill`: a bare Debian has no /bin/kill (procps).
    let status = std::process::Command::new("sh")
        .args(["-c", "kill -HUP \"$0\"", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let gw = h.gw();
    eventually("SIGHUP reload", async || {
        gw.tls.generation() > tls_before
            && gw.policy.reloads_ok() > policy_before
            && gw.federation.tls_generation() > upstream_before
    })
    .await;
}

#[tokio::test]
async fn a_kubernetes_style_symlink_swap_reloads_the_policy() {
    // kubelet mounts a ConfigMap as `policy.toml -> ..data/policy.toml` with
    // `..data -> ..<version>`, and updates it by swapping `..data` alone.
    let h = Harness::start().await;
    let dir = h.dir.path();
    let store = h.gw().policy.clone();
    let original = std::fs::read_to_string(dir.join("policy.toml")).unwrap();
    let v1 = dir.join("..v1");
    let v2 = dir.join("..v2");
    std::fs::create_dir(&v1).unwrap();
    std::fs::create_dir(&v2).unwrap();
    std::fs::write(v1.join("policy.toml"), &original).unwrap();
    let without_dept = original.replace(
        "spiffe://credgate.dev/client/dept-nb",
        "spiffe://credgate.dev/client/nobody",
    );
    assert_ne!(without_dept, original);
    std::fs::write(v2.join("policy.toml"), &without_dept).unwrap();
    std::os::unix::fs::symlink("..v1", dir.join("..data")).unwrap();
    let ok = store.reloads_ok();
    std::fs::remove_file(dir.join("policy.toml")).unwrap();
    std::os::unix::fs::symlink("..data/policy.toml", dir.join("policy.toml")).unwrap();
    eventually("the symlinked policy is loaded", async || {
        store.reloads_ok() > ok
    })
    .await;
    let nb = h.enterprise_of("xinyong-ningbo");
    let path = format!("/v1/enterprises/{nb}/report?sections=basic");
    assert_eq!(
        h.client("dept-nb").get(&path, &[APPROVAL]).await.status,
        200
    );
    // The swap: a new `..data` link renamed over the old one.
    let ok = store.reloads_ok();
    std::os::unix::fs::symlink("..v2", dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    eventually("the swapped policy is loaded", async || {
        store.reloads_ok() > ok
    })
    .await;
    let r = h.client("dept-nb").get(&path, &[APPROVAL]).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (403, "scope_denied")
    );
}

/// Rotating credgate's client certificate towards the platforms needs no
/// restart: a new certificate and key written over the configured files
/// are used for new upstream connections. Shown both ways — a certificate
/// the platforms do not trust makes the calls fail; putting the right one
/// back makes them work — so the calls really use the reloaded material.
#[tokio::test]
async fn upstream_client_certificate_reloads_without_a_restart() {
    let h = Harness::start_with(Options {
        // One attempt per request and no breaker, so that each request
        // shows the material in force.
        upstream_extra: "max_retries = 0\nbreaker = { failure_threshold = 1000, open_ms = 1000 }"
            .into(),
        ..Options::default()
    })
    .await;
    let path = h.basic_report_path("xinyong-ningbo");
    let dept = h.client("dept-nb");
    assert_eq!(dept.get(&path, &[APPROVAL]).await.status, 200);
    let certs = h.certs();
    let (crt, key) = (
        certs.join("upstream/gateway.crt"),
        certs.join("upstream/gateway.key"),
    );
    let good = (std::fs::read(&crt).unwrap(), std::fs::read(&key).unwrap());
    // Written beside and renamed into place, as an operator (or kubelet) does.
    let install = |crt_pem: &[u8], key_pem: &[u8]| {
        for (to, bytes) in [(&key, key_pem), (&crt, crt_pem)] {
            let tmp = to.with_extension("new");
            std::fs::write(&tmp, bytes).unwrap();
            std::fs::rename(&tmp, to).unwrap();
        }
    };
    let federation = h.gw().federation.clone();
    let before = federation.tls_generation();
    install(
        &std::fs::read(certs.join("rogue/client.crt")).unwrap(),
        &std::fs::read(certs.join("rogue/client.key")).unwrap(),
    );
    eventually("the untrusted identity is loaded", async || {
        federation.tls_generation() > before
    })
    .await;
    let r = dept.get(&path, &[APPROVAL]).await;
    assert_eq!(r.status, 502, "{}", String::from_utf8_lossy(&r.body));
    let before = federation.tls_generation();
    install(&good.0, &good.1);
    eventually("the right identity is back", async || {
        federation.tls_generation() > before
    })
    .await;
    assert_eq!(dept.get(&path, &[APPROVAL]).await.status, 200);
}

/// Reads from `tcp` until the end of an answer's head (and whatever came
/// with it in the same reads).
async fn read_head(tcp: &mut tokio::net::TcpStream) -> String {
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0, "admin closed the connection");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Sends one raw HTTP/1.1 request on `tcp` and reads the answer's head.
async fn admin_exchange(tcp: &mut tokio::net::TcpStream, request: &str) -> String {
    tcp.write_all(request.as_bytes()).await.unwrap();
    read_head(tcp).await
}

#[tokio::test]
async fn the_admin_listener_is_bounded_and_speaks_get_and_head() {
    let h = Harness::start().await;
    let admin = h.gw().admin_addr.unwrap();
    let connect = || tokio::net::TcpStream::connect(admin);

    // GET and HEAD; anything else is 405 with Allow.
    let mut c = connect().await.unwrap();
    let head = admin_exchange(
        &mut c,
        "HEAD /readyz HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).await.unwrap();
    assert!(
        head.ends_with("\r\n\r\n") && rest.is_empty(),
        "no body: {head:?} {rest:?}"
    );
    let mut c = connect().await.unwrap();
    let head = admin_exchange(
        &mut c,
        "POST /healthz HTTP/1.1\r\nhost: a\r\ncontent-length: 0\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 405"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("allow: get, head"),
        "{head}"
    );
    drop(c);

    // Every slot held by a silent connection: the next request waits in
    // the accept queue until one of them goes away.
    let mut silent = Vec::new();
    for _ in 0..credgate::admin::MAX_ADMIN_CONNECTIONS {
        silent.push(connect().await.unwrap());
    }
    // Each silent connection is accepted (a request on the last one would
    // be answered); wait until the listener has taken them all.
    let mut probe = silent.pop().unwrap();
    let head = admin_exchange(&mut probe, "GET /healthz HTTP/1.1\r\nhost: a\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    silent.push(probe);
    let mut waiting = connect().await.unwrap();
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), waiting.read(&mut byte))
            .await
            .is_err(),
        "served beyond the connection bound"
    );
    drop(silent.pop());
    let served = tokio::time::timeout(Duration::from_secs(5), read_head(&mut waiting))
        .await
        .expect("a freed slot serves the waiting client");
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    // The silent ones do not hold their slots for long: each is closed
    // once it has sent nothing for the first-byte timeout.
    let started = Instant::now();
    let mut first = silent.remove(0);
    let n = tokio::time::timeout(Duration::from_secs(10), first.read(&mut byte))
        .await
        .expect("a silent admin connection is closed")
        .unwrap_or(0);
    assert_eq!(n, 0, "closed without an answer");
    assert!(
        started.elapsed() <= credgate::admin::ADMIN_FIRST_BYTE_TIMEOUT + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

/// HTTP/1.1 keep-alive: an idle connection lasts `idle_timeout_ms`, not
/// `header_read_timeout_ms` (which bounds a head once its first byte came):
/// a client pool that keeps connections for less than the idle timeout never
/// sends on a connection the server is closing; a slow head is still cut at
/// the header timeout.
#[tokio::test]
async fn http1_keep_alive_lasts_the_idle_timeout_and_slow_heads_the_header_timeout() {
    let h = Harness::start_with(Options {
        server_extra: "header_read_timeout_ms = 300\nidle_timeout_ms = 3000".into(),
        ..Options::default()
    })
    .await;
    let mut tls = h.client("auditor").connect().await.unwrap();
    let request = b"GET /v1/nope HTTP/1.1\r\nHost: localhost\r\n\r\n";
    for _ in 0..2 {
        tls.write_all(request).await.unwrap();
        assert_eq!(&read_h1_status(&mut tls).await, b"HTTP/1.1 404");
        // Idle for three header timeouts: still open.
        tokio::time::sleep(Duration::from_millis(900)).await;
    }
    // A head that stops half-way is cut at the header timeout.
    tls.write_all(b"GET /v1/nope HTTP/1.1\r\nHo").await.unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut rest))
        .await
        .expect("the server closed the connection");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(2500),
        "cut at the header timeout, not the idle timeout: {took:?}"
    );
    // Counted as the codec's refusal (no audit record, no request reached
    // the handler); the idle closes before it were not.
    let stats = &h.gw().stats.codec_refusals;
    eventually("the slow head counted", async || {
        stats.get(CodecRefusal::HeaderTimeout) == 1
    })
    .await;
    assert_eq!(stats.get(CodecRefusal::Malformed), 0);
    assert_eq!(stats.get(CodecRefusal::TooLarge), 0);
    assert!(
        h.metrics_text()
            .await
            .contains("credgate_http_codec_refusals_total{reason=\"header_timeout\"} 1"),
        "exported"
    );
}
