//! Unit test of the patched hyper's HTTP/1 keep-alive over in-memory streams.
use super::*;
use bytes::Bytes;
use http_body_util::BodyExt as _;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream, ReadHalf, WriteHalf};

/// Reads until `n` complete responses (with `content-length` bodies)
/// have arrived; returns their status lines and bodies.
async fn responses(
    io: &mut ReadHalf<DuplexStream>,
    buf: &mut Vec<u8>,
    n: usize,
) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    while out.len() < n {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(buf[..end].to_vec()).unwrap();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .unwrap()
                .parse()
                .unwrap();
            if buf.len() >= end + 4 + len {
                let body = buf[end + 4..end + 4 + len].to_vec();
                buf.drain(..end + 4 + len);
                out.push((head.lines().next().unwrap().to_owned(), body));
                continue;
            }
        }
        let mut chunk = [0u8; 1024];
        let got = io.read(&mut chunk).await.unwrap();
        assert!(got > 0, "closed after {} of {n} responses", out.len());
        buf.extend_from_slice(&chunk[..got]);
    }
    out
}

/// Writes `pieces` with a pause before each but the first while
/// reading `n` responses.
async fn exchange(
    rd: &mut ReadHalf<DuplexStream>,
    wr: &mut WriteHalf<DuplexStream>,
    buf: &mut Vec<u8>,
    pieces: &[&[u8]],
    n: usize,
) -> Vec<(String, Vec<u8>)> {
    let write = async {
        for (i, p) in pieces.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            wr.write_all(p).await.unwrap();
        }
    };
    tokio::join!(write, responses(rd, buf, n)).1
}

/// The vendored hyper (vendor/hyper/CREDGATE-PATCH.md) releases an
/// empty HTTP/1 read buffer whenever a read would block and grows its
/// write buffer from empty. A keep-alive connection must still serve
/// requests after idle pauses, bodies arriving in pieces, pipelined
/// requests, a head larger than the initial read buffer, and responses
/// far larger than the write buffer through a transport that takes 64
/// bytes at a time (no vectored writes: the flattening path).
#[tokio::test]
async fn patched_hyper_http1_keep_alive_still_serves_everything() {
    let (client, server) = tokio::io::duplex(64);
    let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
        let size: usize = req
            .uri()
            .query()
            .and_then(|q| q.strip_prefix("size="))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let pad = req.headers().get("x-pad").map_or(0, |v| v.len());
        let body = req.into_body().collect().await?.to_bytes();
        let mut text = format!("body {} pad {pad};", body.len()).into_bytes();
        text.extend((0..size).map(|i| b'a' + (i % 26) as u8));
        Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from(text))))
    });
    let conn = tokio::spawn(
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(server), service),
    );
    let (mut rd, mut wr) = tokio::io::split(client);
    let mut buf = Vec::new();
    let script = async {
        // Two sequential requests with an idle pause between them.
        for _ in 0..2 {
            let get: &[u8] = b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n";
            let r = exchange(&mut rd, &mut wr, &mut buf, &[get], 1).await;
            assert_eq!(r[0].0, "HTTP/1.1 200 OK");
            assert_eq!(r[0].1, b"body 0 pad 0;");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // A body in three pieces with pauses (the buffer empties).
        let head: &[u8] = b"POST /b HTTP/1.1\r\nhost: x\r\ncontent-length: 11\r\n\r\nhel";
        let pieces = [head, b"lo ", b"world"];
        let r = exchange(&mut rd, &mut wr, &mut buf, &pieces, 1).await;
        assert_eq!(r[0].1, b"body 11 pad 0;");

        // Three pipelined requests in one write.
        let three = "POST /c HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc".repeat(3);
        let r = exchange(&mut rd, &mut wr, &mut buf, &[three.as_bytes()], 3).await;
        assert_eq!(r.len(), 3);
        assert!(r
            .iter()
            .all(|(s, b)| s == "HTTP/1.1 200 OK" && b == b"body 3 pad 0;"));

        // A 20 KiB head and a 200 KiB response, then a small one again.
        let pad = "p".repeat(20 * 1024);
        let big = format!("GET /d?size=204800 HTTP/1.1\r\nhost: x\r\nx-pad: {pad}\r\n\r\n");
        let r = exchange(&mut rd, &mut wr, &mut buf, &[big.as_bytes()], 1).await;
        let prefix = format!("body 0 pad {};", pad.len());
        assert!(r[0].1.starts_with(prefix.as_bytes()));
        assert_eq!(r[0].1.len(), prefix.len() + 204_800);
        let tail = &r[0].1[prefix.len()..];
        assert!(tail
            .iter()
            .enumerate()
            .all(|(i, c)| *c == b'a' + (i % 26) as u8));
        let get: &[u8] = b"GET /e HTTP/1.1\r\nhost: x\r\n\r\n";
        let r = exchange(&mut rd, &mut wr, &mut buf, &[get], 1).await;
        assert_eq!(r[0].1, b"body 0 pad 0;");
    };
    tokio::time::timeout(Duration::from_secs(30), script)
        .await
        .expect("the exchanges finish");
    assert!(buf.is_empty());

    // The client closes; the idle connection ends cleanly.
    drop((rd, wr));
    let ended = tokio::time::timeout(Duration::from_secs(10), conn)
        .await
        .expect("the connection ends");
    ended.unwrap().unwrap();
}
