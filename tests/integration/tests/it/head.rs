//! Request heads hyper passes on but HTTP forbids: a missing or doubled
//! `Host`, a `Host` unlike HTTP/2's `:authority`, a transfer coding other
//! than `chunked`; and `Expect: 100-continue` on a body over the bound.
//! Each is refused (400 `invalid_request`, 413) with its audit record, and
//! never reaches a platform.

use credgate_integration::{read_h1_answer, Harness};
use tokio::io::AsyncWriteExt as _;

const PURPOSE: &str = "X-Credit-Purpose: administrative_approval\r\n";

/// Sends `head` (and `body`) as one raw HTTP/1.x request from `dept-nb`
/// on a fresh connection; returns the first answer's status code, its
/// problem `code` (empty when it is not one) and its `X-Audit-Seq`.
async fn raw(h: &Harness, head: &str, body: &[u8]) -> (String, String, Option<u64>) {
    let mut tls = h.client("dept-nb").connect().await.unwrap();
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(body).await.unwrap();
    let (head, body) = read_h1_answer(&mut tls).await;
    // The status code alone: an HTTP/1.0 request gets an HTTP/1.0 answer.
    let status = head.split(' ').nth(1).unwrap_or_default().to_owned();
    let code = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let seq = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("x-audit-seq")
            .then(|| v.trim().parse().ok())?
    });
    (status, code, seq)
}

/// The audit record with sequence number `seq`, from the auditor's view.
async fn record(h: &Harness, seq: u64) -> serde_json::Value {
    let records = h.audit_records("client=dept-nb&limit=100").await;
    records
        .into_iter()
        .find(|r| r["seq"] == seq)
        .unwrap_or_else(|| panic!("no record {seq}"))
}

#[tokio::test]
async fn host_must_be_there_once_and_valid_on_http_1_1() {
    let h = Harness::start().await;
    let path = h.basic_report_path("xinyong-ningbo");
    let refused = [
        ("no Host", format!("GET {path} HTTP/1.1\r\n{PURPOSE}\r\n")),
        (
            "two Host",
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nHost: example.org\r\n{PURPOSE}\r\n"),
        ),
        (
            "user info",
            format!("GET {path} HTTP/1.1\r\nHost: user@localhost\r\n{PURPOSE}\r\n"),
        ),
        (
            "empty",
            format!("GET {path} HTTP/1.1\r\nHost:\r\n{PURPOSE}\r\n"),
        ),
        (
            "not a host",
            format!("GET {path} HTTP/1.1\r\nHost: local host\r\n{PURPOSE}\r\n"),
        ),
        (
            "two Host on HTTP/1.0",
            format!("GET {path} HTTP/1.0\r\nHost: localhost\r\nHost: localhost\r\n{PURPOSE}\r\n"),
        ),
    ];
    for (what, head) in &refused {
        let (status, code, seq) = raw(&h, head, b"").await;
        assert_eq!(
            (status.as_str(), code.as_str()),
            ("400", "invalid_request"),
            "{what}"
        );
        let rec = record(&h, seq.expect("an audit sequence number")).await;
        assert_eq!(rec["reason"], "invalid_request", "{what}: {rec:#}");
    }
    assert_eq!(h.total_sim_requests().await, 0);
    // The same request with one Host is served; so is HTTP/1.0 without.
    for head in [
        format!("GET {path} HTTP/1.1\r\nHost: localhost:1234\r\n{PURPOSE}\r\n"),
        format!("GET {path} HTTP/1.0\r\n{PURPOSE}\r\n"),
    ] {
        let (status, code, _) = raw(&h, &head, b"").await;
        assert_eq!(status, "200", "{head:?}: {code}");
    }
}

#[tokio::test]
async fn a_transfer_coding_other_than_chunked_is_refused() {
    let h = Harness::start().await;
    let nb = h.enterprise_of("xinyong-ningbo");
    let json = format!(r#"{{"subjects":["{nb}"]}}"#);
    let chunked = format!("{:x}\r\n{json}\r\n0\r\n\r\n", json.len());
    let head = |coding: &str| {
        format!(
            "POST /v1/sanctions/check HTTP/1.1\r\nHost: localhost\r\n{PURPOSE}\
             Content-Type: application/json\r\nTransfer-Encoding: {coding}\r\n\r\n"
        )
    };
    for coding in ["gzip, chunked", "chunked, chunked", "identity, chunked"] {
        let (status, code, seq) = raw(&h, &head(coding), chunked.as_bytes()).await;
        assert_eq!(
            (status.as_str(), code.as_str()),
            ("400", "invalid_request"),
            "{coding}"
        );
        let rec = record(&h, seq.expect("an audit sequence number")).await;
        assert_eq!(rec["reason"], "invalid_request", "{coding}: {rec:#}");
    }
    assert_eq!(h.total_sim_requests().await, 0);
    let (status, code, _) = raw(&h, &head("Chunked"), chunked.as_bytes()).await;
    assert_eq!(status, "200", "{code}");
}

/// A client that waits for `100 Continue` before sending a body the
/// gateway will refuse gets the 413 straight away, and sends nothing.
#[tokio::test]
async fn expect_continue_over_the_bound_gets_413_without_100() {
    let h = Harness::start().await;
    let head = |len: usize| {
        format!(
            "POST /v1/sanctions/check HTTP/1.1\r\nHost: localhost\r\n{PURPOSE}\
             Content-Type: application/json\r\nExpect: 100-continue\r\n\
             Content-Length: {len}\r\n\r\n"
        )
    };
    // Over the bound (64 KiB) and within what would be drained (4 MiB):
    // the first answer is the 413; no body was sent.
    let (status, code, seq) = raw(&h, &head(200 * 1024), b"").await;
    assert_eq!(
        (status.as_str(), code.as_str()),
        ("413", "payload_too_large")
    );
    let rec = record(&h, seq.expect("an audit sequence number")).await;
    assert_eq!(rec["reason"], "payload_too_large", "{rec:#}");
    // Within the bound: 100 Continue, then the body is read and answered.
    let nb = h.enterprise_of("xinyong-ningbo");
    let json = format!(r#"{{"subjects":["{nb}"]}}"#);
    let mut tls = h.client("dept-nb").connect().await.unwrap();
    tls.write_all(head(json.len()).as_bytes()).await.unwrap();
    let (first, _) = read_h1_answer(&mut tls).await;
    assert!(first.starts_with("HTTP/1.1 100 Continue"), "{first}");
    tls.write_all(json.as_bytes()).await.unwrap();
    let (second, _) = read_h1_answer(&mut tls).await;
    assert!(second.starts_with("HTTP/1.1 200 OK"), "{second}");
}

/// Over HTTP/2 the host is `:authority`; a `Host` header naming another
/// is refused, one naming the same is served.
#[tokio::test]
async fn http2_host_must_match_the_authority() {
    let h = Harness::start().await;
    let dept = h.client("dept-nb").http2();
    let path = h.basic_report_path("xinyong-ningbo");
    let purpose = ("x-credit-purpose", "administrative_approval");
    let r = dept
        .try_request(
            http::Method::GET,
            &path,
            &[purpose, ("host", "example.org")],
            bytes::Bytes::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "invalid_request")
    );
    assert_eq!(h.total_sim_requests().await, 0);
    let same = format!("LOCALHOST:{}", h.addr().port());
    let r = dept
        .try_request(
            http::Method::GET,
            &path,
            &[purpose, ("host", &same)],
            bytes::Bytes::new(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// An HTTP/2 connection the `h2` crate closes for the client's protocol
/// error (here a DATA frame on stream 0, RFC 9113 §6.1) is counted by
/// reason, like the HTTP/1.1 codec's refusals, and so is one closed for a
/// flood of reset streams; a client that merely closes its connection is
/// not.
#[tokio::test]
async fn an_http2_protocol_error_is_counted() {
    use credgate::server::CodecRefusal;
    let h = Harness::start().await;
    let stats = &h.gw().stats.codec_refusals;
    // A client that says hello and leaves.
    let mut tls = h.client("dept-nb").http2().connect().await.unwrap();
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    drop(tls);
    // One that breaks the protocol: the gateway answers GOAWAY and closes.
    let broken = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0\0\0\x01\0\0\0\0\0\0x";
    // Among the frames sent back: GOAWAY with PROTOCOL_ERROR (1).
    assert_goaway(&h, broken, 1).await;
    credgate_integration::eventually("the refusal counted", async || {
        stats.get(CodecRefusal::H2Protocol) == 1
    })
    .await;
    assert_eq!(stats.get(CodecRefusal::H2Flood), 0);
    // A "rapid reset" flood: 40 streams opened and reset at once, more
    // than h2 lets wait for acceptance (20): GOAWAY ENHANCE_YOUR_CALM.
    let mut flood = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0".to_vec();
    for id in (1u32..80).step_by(2) {
        // HEADERS (END_STREAM | END_HEADERS): GET, https, "/" from the
        // static table; then RST_STREAM(CANCEL).
        flood.extend_from_slice(&[0, 0, 3, 1, 5]);
        flood.extend_from_slice(&id.to_be_bytes());
        flood.extend_from_slice(&[0x82, 0x87, 0x84]);
        flood.extend_from_slice(&[0, 0, 4, 3, 0]);
        flood.extend_from_slice(&id.to_be_bytes());
        flood.extend_from_slice(&8u32.to_be_bytes());
    }
    assert_goaway(&h, &flood, 0xb).await;
    credgate_integration::eventually("the flood counted", async || {
        stats.get(CodecRefusal::H2Flood) == 1
    })
    .await;
    let text = h.metrics_text().await;
    for line in [
        "credgate_http_codec_refusals_total{reason=\"h2_protocol\"} 1",
        "credgate_http_codec_refusals_total{reason=\"h2_flood\"} 1",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
}

/// Sends `bytes` on a fresh HTTP/2 connection from `dept-nb`, reads until
/// the gateway closes it, and asserts that a GOAWAY (frame type 7) with
/// error `code` came back.
async fn assert_goaway(h: &Harness, bytes: &[u8], code: u32) {
    use tokio::io::AsyncReadExt as _;
    let mut tls = h.client("dept-nb").http2().connect().await.unwrap();
    tls.write_all(bytes).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(5), tls.read_to_end(&mut got))
        .await
        .expect("the connection closes")
        .ok();
    let code = code.to_be_bytes();
    assert!(
        frames_of(&got)
            .iter()
            .any(|(kind, p)| *kind == 7 && p.get(4..8) == Some(&code[..])),
        "{got:?}"
    );
}

/// The HTTP/2 frames in `bytes` (as type and payload), up to the first
/// incomplete one.
fn frames_of(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 9 {
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        let Some(payload) = rest.get(9..9 + len) else {
            break;
        };
        frames.push((rest[3], payload.to_vec()));
        rest = &rest[9 + len..];
    }
    frames
}
