//! Mutual TLS: who gets a handshake, identity from the certificate only,
//! and reload of server material and CRLs without a restart.

use bytes::Bytes;
use credgate_certs::{issue_client_cert, issue_server_cert, make_crl, Validity};
use credgate_integration::{eventually, read_h1_status, Harness, Options};
use http::Method;
use tokio::io::AsyncWriteExt;

const PURPOSE: (&str, &str) = ("x-credit-purpose", "administrative_approval");

#[tokio::test]
async fn handshake_refused_without_a_trusted_valid_unrevoked_certificate() {
    let h = Harness::start().await;
    let nb = h.enterprise_of("xinyong-ningbo");
    let path = format!("/v1/enterprises/{nb}/report");
    let certs = h.certs();
    // No certificate at all.
    let anon = credgate_integration::TestClient::new(h.addr(), &certs.join("ca.crt"), None);
    assert!(
        anon.try_get(&path).await.is_err(),
        "no certificate must not get HTTP"
    );
    // A CA nobody trusts (impersonating bank-nb's URI SAN).
    let rogue = h.client_with(
        &certs.join("rogue/client.crt"),
        &certs.join("rogue/client.key"),
    );
    assert!(
        rogue.try_get(&path).await.is_err(),
        "rogue CA must not get HTTP"
    );
    // Expired and revoked certificates from the right CA.
    for name in ["expired", "revoked"] {
        let r = h.client(name).try_get(&path).await;
        assert!(
            r.is_err(),
            "{name} must not get HTTP, got {:?}",
            r.map(|r| r.status)
        );
    }
    // None of them reached a platform, and the gateway counted the refusals.
    assert_eq!(h.total_sim_requests().await, 0);
    let refused = h
        .gw()
        .stats
        .handshake_failed
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(refused >= 4, "handshake failures counted: {refused}");
    // Control: a good certificate gets an answer over the same path.
    let ok = h.client("dept-nb").get(&path, &[PURPOSE]).await;
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
}

#[tokio::test]
async fn a_valid_but_unmatched_certificate_gets_no_data_and_headers_cannot_claim_identity() {
    let h = Harness::start().await;
    let certs = h.certs();
    let ca = std::fs::read_to_string(certs.join("ca.crt")).unwrap();
    let ca_key = std::fs::read_to_string(certs.join("ca.key")).unwrap();
    let pair = issue_client_cert(&ca, &ca_key, "stranger", Validity::Normal).unwrap();
    std::fs::write(h.dir.path().join("stranger.crt"), &pair.cert_pem).unwrap();
    std::fs::write(h.dir.path().join("stranger.key"), &pair.key_pem).unwrap();
    let stranger = h.client_with(
        &h.dir.path().join("stranger.crt"),
        &h.dir.path().join("stranger.key"),
    );
    let nb = h.enterprise_of("xinyong-ningbo");
    let path = format!("/v1/enterprises/{nb}/report");
    let r = stranger
        .get(
            &path,
            &[
                PURPOSE,
                (
                    "x-forwarded-client-cert",
                    "URI=spiffe://credgate.dev/client/dept-nb",
                ),
                ("x-ssl-client-s-dn", "CN=dept-nb,O=credgate dev"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "scope_denied");
    assert!(r.headers.contains_key("x-request-id"));
    assert!(!String::from_utf8_lossy(&r.body).contains("sections"));
    assert_eq!(h.total_sim_requests().await, 0, "no platform contacted");
    // The refusal's record names what was tried.
    let seq: u64 = r.headers["x-audit-seq"].to_str().unwrap().parse().unwrap();
    let records = h.audit_records("decision=deny").await;
    let rec = records.iter().find(|r| r["seq"] == seq).unwrap();
    assert_eq!(rec["endpoint"], "/v1/enterprises/{uscc}/report", "{rec}");
    assert_eq!(rec["client_id"], "-", "{rec}");
}

/// Waits for the server to close `tls` (EOF or a reset), failing after 5 s.
async fn closed_by_server(tls: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>) {
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(tls, &mut buf),
    )
    .await
    .expect("the server closes the connection");
    assert!(
        matches!(n, Ok(0) | Err(_)),
        "closed, not more data: {:?}",
        n.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
    );
}

#[tokio::test]
async fn an_unmatched_certificate_gets_one_refusal_per_connection_and_few_connections() {
    let h = Harness::start_with(Options {
        server_extra: "unidentified_connections_per_minute = 3\n".into(),
        ..Options::default()
    })
    .await;
    let certs = h.certs();
    let ca = std::fs::read_to_string(certs.join("ca.crt")).unwrap();
    let ca_key = std::fs::read_to_string(certs.join("ca.key")).unwrap();
    let mut strangers = Vec::new();
    for name in ["stranger-1", "stranger-2"] {
        let pair = issue_client_cert(&ca, &ca_key, name, Validity::Normal).unwrap();
        let (cert, key) = (
            h.dir.path().join(format!("{name}.crt")),
            h.dir.path().join(format!("{name}.key")),
        );
        std::fs::write(&cert, &pair.cert_pem).unwrap();
        std::fs::write(&key, &pair.key_pem).unwrap();
        strangers.push(h.client_with(&cert, &key));
    }
    let nb = h.enterprise_of("xinyong-ningbo");
    let request = format!(
        "GET /v1/enterprises/{nb}/report HTTP/1.1\r\nHost: localhost\r\nX-Credit-Purpose: administrative_approval\r\n\r\n"
    );
    let denied_before = h.audit_records("decision=deny").await.len();
    // Within its allowance (3 a minute) each connection gets one refusal,
    // then is closed: a second request on it is never read.
    for _ in 0..3 {
        let mut tls = strangers[0].connect().await.unwrap();
        tls.write_all(request.as_bytes()).await.unwrap();
        assert_eq!(&read_h1_status(&mut tls).await, b"HTTP/1.1 403");
        let _ = tls.write_all(request.as_bytes()).await;
        closed_by_server(&mut tls).await;
    }
    // Over it, the connection is closed after the handshake, before HTTP.
    let mut tls = strangers[0].connect().await.unwrap();
    let _ = tls.write_all(request.as_bytes()).await;
    closed_by_server(&mut tls).await;
    let closed = h
        .gw()
        .stats
        .unidentified_closed
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(closed, 1);
    assert!(
        h.metrics_text()
            .await
            .contains("credgate_tls_handshake_failures_total{reason=\"unidentified\"} 1"),
        "counted in the metrics"
    );
    // HTTP/2: many streams at once on one connection reach the handler
    // once (one audit record); the others are refused at the connection;
    // then GOAWAY ends it.
    let tls = strangers[1].clone().http2().connect().await.unwrap();
    let (send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    let conn = tokio::spawn(conn);
    let mut streams = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let mut send = send.clone();
        let req = http::Request::get(format!("https://localhost/v1/enterprises/{nb}/report"))
            .header(PURPOSE.0, PURPOSE.1)
            .body(http_body_util::Empty::<Bytes>::new())
            .unwrap();
        streams.spawn(async move { send.send_request(req).await });
    }
    let answers = streams.join_all().await;
    let statuses: Vec<_> = answers
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|r| r.status().as_u16()))
        .collect();
    assert!(!statuses.is_empty(), "{answers:?}");
    assert!(statuses.iter().all(|s| *s == 403), "{statuses:?}");
    let audited = answers
        .iter()
        .filter(|r| {
            r.as_ref()
                .is_ok_and(|r| r.headers().contains_key("x-audit-seq"))
        })
        .count();
    assert_eq!(audited, 1, "one stream reached the handler");
    // The others too carry a request id (SPEC §4), no audit sequence.
    assert!(
        answers
            .iter()
            .flatten()
            .all(|r| r.headers().contains_key("x-request-id")),
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .flatten()
            .any(|r| !r.headers().contains_key("x-audit-seq")),
        "some streams were refused at the connection: {answers:?}"
    );
    drop(send);
    tokio::time::timeout(std::time::Duration::from_secs(5), conn)
        .await
        .expect("the server ends the HTTP/2 connection")
        .unwrap()
        .unwrap();
    assert!(
        h.gw()
            .stats
            .closing_refusals
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    // One audit record per connection, none for the closed connection.
    let denied = h.audit_records("decision=deny").await.len() - denied_before;
    assert_eq!(denied, 4, "three HTTP/1.1 refusals and one HTTP/2");
    // A client the policy knows is not affected.
    let ok = h
        .client("dept-nb")
        .get(&format!("/v1/enterprises/{nb}/report"), &[PURPOSE])
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(
        h.total_sim_requests().await,
        1,
        "only dept-nb reached a platform"
    );
}

#[tokio::test]
async fn http2_is_negotiated_by_alpn() {
    let h = Harness::start().await;
    let nb = h.enterprise_of("xinyong-ningbo");
    let r = h
        .client("dept-nb")
        .http2()
        .get(
            &format!("/v1/enterprises/{nb}/report?sections=basic"),
            &[PURPOSE],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.json()["sections"]["basic"]["data"].is_object());
}

#[tokio::test]
async fn a_wrong_method_gets_405_with_allow_and_head_gets_no_body() {
    let h = Harness::start().await;
    let nb = h.enterprise_of("xinyong-ningbo");
    let report = format!("/v1/enterprises/{nb}/report?sections=basic");
    for client in [h.client("dept-nb"), h.client("dept-nb").http2()] {
        let r = client
            .try_request(Method::POST, &report, &[PURPOSE], Bytes::new())
            .await
            .unwrap();
        assert_eq!(r.status, 405);
        assert_eq!(r.code(), "method_not_allowed");
        assert_eq!(r.headers["allow"], "GET");
        let problem_len = r.body.len();
        let r = client
            .try_request(Method::GET, "/v1/sanctions/check", &[PURPOSE], Bytes::new())
            .await
            .unwrap();
        assert_eq!(r.status, 405);
        assert_eq!(r.headers["allow"], "POST");
        // HEAD: the same head, no body, on HTTP/1.1 and on HTTP/2 (where a
        // body would be a protocol error for the client).
        let r = client
            .try_request(Method::HEAD, &report, &[PURPOSE], Bytes::new())
            .await
            .unwrap();
        assert_eq!(r.status, 405);
        assert_eq!(r.headers["allow"], "GET");
        assert!(r.body.is_empty(), "{:?}", r.body);
        assert_eq!(r.headers["content-type"], "application/problem+json");
        // "HEAD is not allowed here; use GET" is as long as "POST … GET".
        assert_eq!(r.headers["content-length"], problem_len.to_string());
    }
    assert_eq!(h.total_sim_requests().await, 0, "no platform contacted");
}

#[tokio::test]
async fn server_certificate_and_crl_reload_without_restart() {
    let h = Harness::start().await;
    let certs = h.certs();
    let ca = std::fs::read_to_string(certs.join("ca.crt")).unwrap();
    let ca_key = std::fs::read_to_string(certs.join("ca.key")).unwrap();
    let nb = h.enterprise_of("xinyong-ningbo");
    let path = format!("/v1/enterprises/{nb}/report?sections=basic");
    let before = h.gw().tls.generation();

    // A broken certificate file: the old material stays in force.
    std::fs::write(certs.join("server.crt"), "not a certificate").unwrap();
    let tls = h.gw().tls.clone();
    eventually("failed TLS reload is counted", async || {
        tls.reloads_failed() >= 1
    })
    .await;
    assert_eq!(h.gw().tls.generation(), before);
    let r = h.client("dept-nb").get(&path, &[PURPOSE]).await;
    assert_eq!(r.status, 200, "old material still serves");

    // A rotated server certificate is picked up.
    let new =
        issue_server_cert(&ca, &ca_key, &["localhost", "127.0.0.1"], Validity::Normal).unwrap();
    std::fs::write(certs.join("server.key"), &new.key_pem).unwrap();
    std::fs::write(certs.join("server.crt"), &new.cert_pem).unwrap();
    eventually("new server certificate in force", async || {
        tls.generation() > before
    })
    .await;
    let r = h.client("dept-nb").get(&path, &[PURPOSE]).await;
    assert_eq!(r.status, 200, "new material serves");

    // A new CRL revoking dept-nb takes effect for new handshakes, and on a
    // connection dept-nb opened before it.
    let mut held = h.client("dept-nb").connect().await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nX-Credit-Purpose: administrative_approval\r\n\r\n"
    );
    held.write_all(request.as_bytes()).await.unwrap();
    assert_eq!(&read_h1_status(&mut held).await, b"HTTP/1.1 200");
    let dept = std::fs::read_to_string(certs.join("clients/dept-nb.crt")).unwrap();
    let revoked = std::fs::read_to_string(certs.join("clients/revoked.crt")).unwrap();
    // (An older CRL of the same CA, for the last step.)
    let stale = make_crl(&ca, &ca_key, &[]).unwrap();
    let crl = make_crl(&ca, &ca_key, &[&dept, &revoked]).unwrap();
    let gen = tls.generation();
    std::fs::write(certs.join("crl.pem"), &crl).unwrap();
    eventually("new CRL in force", async || tls.generation() > gen).await;
    assert!(
        h.client("dept-nb").try_get(&path).await.is_err(),
        "revoked by new CRL"
    );
    held.write_all(request.as_bytes()).await.unwrap();
    assert_eq!(
        &read_h1_status(&mut held).await,
        b"HTTP/1.1 403",
        "the connection it already held no longer identifies it"
    );
    // ... and is closed after that answer.
    closed_by_server(&mut held).await;
    assert_eq!(
        h.client("auditor")
            .try_get("/v1/nope")
            .await
            .unwrap()
            .status,
        404
    );

    // A CRL signed by another CA — even one with the same name — is
    // refused: the CRL above stays in force (rustls would accept it and then
    // fail every handshake).
    let other = credgate_certs::new_ca(credgate_certs::CLIENT_CA_NAME).unwrap();
    let foreign = make_crl(&other.cert_pem, &other.key_pem, &[&revoked]).unwrap();
    let failed = tls.reloads_failed();
    let gen = tls.generation();
    std::fs::write(certs.join("crl.pem"), foreign).unwrap();
    eventually("foreign CRL refused", async || {
        tls.reloads_failed() > failed
    })
    .await;
    assert_eq!(tls.generation(), gen);
    let r = h.client("auditor").try_get("/v1/nope").await.unwrap();
    assert_eq!(r.status, 404, "clients are still served");
    assert!(
        h.client("dept-nb").try_get(&path).await.is_err(),
        "still revoked by the CRL in force"
    );

    // A second CA added to the bundle without a CRL of its own is refused:
    // with CRLs configured, rustls would refuse every client it issued
    // (revocation status unknown), a silent outage of a CA rotation.
    let second = credgate_certs::new_ca("credgate second client CA").unwrap();
    let bundle = format!("{ca}{}", second.cert_pem);
    let failed = tls.reloads_failed();
    let gen = tls.generation();
    std::fs::write(certs.join("ca.crt"), &bundle).unwrap();
    eventually("a CA without a CRL is refused", async || {
        tls.reloads_failed() > failed
    })
    .await;
    assert_eq!(tls.generation(), gen);
    // With its CRL beside the first one, the bundle loads and its clients
    // are served.
    let second_crl = make_crl(&second.cert_pem, &second.key_pem, &[]).unwrap();
    std::fs::write(certs.join("crl.pem"), format!("{crl}{second_crl}")).unwrap();
    eventually("the second CA in force", async || tls.generation() > gen).await;
    let auditor2 = issue_client_cert(
        &second.cert_pem,
        &second.key_pem,
        "auditor",
        Validity::Normal,
    )
    .unwrap();
    let (cert, key) = (certs.join("auditor2.crt"), certs.join("auditor2.key"));
    std::fs::write(&cert, &auditor2.cert_pem).unwrap();
    std::fs::write(&key, &auditor2.key_pem).unwrap();
    let r = h
        .client_with(&cert, &key)
        .try_get("/v1/nope")
        .await
        .unwrap();
    assert_eq!(r.status, 404, "a client of the second CA is served");
    assert!(
        h.client("dept-nb").try_get(&path).await.is_err(),
        "still revoked by the first CA's CRL"
    );

    // An older CRL of the same CA listed before the newer one (a careless
    // `cat`, or the previous file kept during a rotation) does not hide the
    // newer one's revocations: rustls would consult only the first.
    let gen = tls.generation();
    std::fs::write(certs.join("crl.pem"), format!("{stale}{crl}{second_crl}")).unwrap();
    eventually("CRLs with an older one in force", async || {
        tls.generation() > gen
    })
    .await;
    assert!(
        h.client("dept-nb").try_get(&path).await.is_err(),
        "still revoked by the newer CRL"
    );
    assert_eq!(
        h.client_with(&cert, &key)
            .try_get("/v1/nope")
            .await
            .unwrap()
            .status,
        404
    );

    // The second CA taken out of the bundle again (a compromised CA): its
    // clients' new handshakes fail, and so does the next request on a
    // connection one of them already holds.
    let mut held = h.client_with(&cert, &key).connect().await.unwrap();
    let nope = "GET /v1/nope HTTP/1.1\r\nHost: localhost\r\nX-Credit-Purpose: audit_review\r\n\r\n";
    held.write_all(nope.as_bytes()).await.unwrap();
    assert_eq!(&read_h1_status(&mut held).await, b"HTTP/1.1 404");
    let gen = tls.generation();
    std::fs::write(certs.join("crl.pem"), &crl).unwrap();
    std::fs::write(certs.join("ca.crt"), &ca).unwrap();
    eventually("the second CA out of force", async || {
        tls.generation() > gen
            && h.client_with(&cert, &key)
                .try_get("/v1/nope")
                .await
                .is_err()
    })
    .await;
    held.write_all(nope.as_bytes()).await.unwrap();
    assert_eq!(
        &read_h1_status(&mut held).await,
        b"HTTP/1.1 403",
        "the connection it held is no longer trusted"
    );
    closed_by_server(&mut held).await;
    let r = h.client("auditor").try_get("/v1/nope").await.unwrap();
    assert_eq!(r.status, 404, "the first CA's clients are still served");
}

/// A rotation renames the new key into place, then the new certificate
/// (deploy/README.md). In between the pair does not match; that reload is
/// not a failure yet: once the certificate lands the pair loads, and no
/// failed reload is logged or counted.
#[tokio::test]
async fn a_key_then_certificate_rotation_is_not_counted_as_a_failed_reload() {
    let h = Harness::start().await;
    let certs = h.certs();
    let ca = std::fs::read_to_string(certs.join("ca.crt")).unwrap();
    let ca_key = std::fs::read_to_string(certs.join("ca.key")).unwrap();
    let tls = h.gw().tls.clone();
    let (generation, failed) = (tls.generation(), tls.reloads_failed());
    let new =
        issue_server_cert(&ca, &ca_key, &["localhost", "127.0.0.1"], Validity::Normal).unwrap();
    let install = |name: &str, pem: &str| {
        let staged = certs.join(format!("{name}.new"));
        std::fs::write(&staged, pem).unwrap();
        std::fs::rename(&staged, certs.join(name)).unwrap();
    };
    let attempts = tls.reload_attempts();
    install("server.key", &new.key_pem);
    eventually("the half-rotated pair tried", async || {
        tls.reload_attempts() > attempts
    })
    .await;
    assert_eq!(
        tls.generation(),
        generation,
        "a mismatched pair never loads"
    );
    install("server.crt", &new.cert_pem);
    eventually("the new pair in force", async || {
        tls.generation() > generation
    })
    .await;
    let conn = h.client("auditor").connect().await.unwrap();
    let served = conn.get_ref().1.peer_certificates().unwrap()[0].clone();
    let expected = rustls_pemfile::certs(&mut new.cert_pem.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(served, expected, "new handshakes get the new certificate");
    assert_eq!(tls.reloads_failed(), failed, "no failed reload counted");
}

/// No TLS session resumption: a resumed session is not verified again, so a
/// client certificate that expired (or whose CA is no longer trusted) since
/// the first handshake would keep working. Every connection of a client
/// that holds the server's resumption data still makes a full handshake.
#[tokio::test]
async fn every_connection_makes_a_full_handshake() {
    let h = Harness::start().await;
    for client in [h.client("auditor"), h.client("auditor").http2()] {
        // A round trip: the client takes in whatever the server sends after
        // the handshake (TLS 1.3 session tickets among it).
        assert_eq!(client.try_get("/v1/nope").await.unwrap().status, 404);
        for _ in 0..2 {
            let conn = client.connect().await.unwrap();
            assert_eq!(
                conn.get_ref().1.handshake_kind(),
                Some(rustls::HandshakeKind::Full)
            );
        }
    }
}

/// A certificate no policy entry matched at its handshake, matched by a
/// policy reload since: its connection serves on (one request at a time),
/// it is not refused for what the handshake saw.
#[tokio::test]
async fn a_connection_whose_certificate_a_reload_has_matched_serves_on() {
    let h = Harness::start().await;
    let certs = h.certs();
    let ca = std::fs::read_to_string(certs.join("ca.crt")).unwrap();
    let ca_key = std::fs::read_to_string(certs.join("ca.key")).unwrap();
    let pair = issue_client_cert(&ca, &ca_key, "newcomer", Validity::Normal).unwrap();
    let (cert, key) = (h.dir.path().join("n.crt"), h.dir.path().join("n.key"));
    std::fs::write(&cert, &pair.cert_pem).unwrap();
    std::fs::write(&key, &pair.key_pem).unwrap();
    let mut held = h.client_with(&cert, &key).connect().await.unwrap();
    // The policy now gives dept-nb's entry to the newcomer's certificate.
    let path = h.dir.path().join("policy.toml");
    let policy = std::fs::read_to_string(&path).unwrap();
    let moved = policy.replace(
        "spiffe://credgate.dev/client/dept-nb\"",
        "spiffe://credgate.dev/client/newcomer\"",
    );
    assert_ne!(moved, policy);
    let store = h.gw().policy.clone();
    let ok_before = store.reloads_ok();
    std::fs::write(&path, moved).unwrap();
    eventually("reload applied", async || store.reloads_ok() > ok_before).await;
    let nb = h.enterprise_of("xinyong-ningbo");
    let request = format!(
        "GET /v1/enterprises/{nb}/report?sections=basic HTTP/1.1\r\nHost: localhost\r\nX-Credit-Purpose: administrative_approval\r\n\r\n"
    );
    for _ in 0..3 {
        held.write_all(request.as_bytes()).await.unwrap();
        assert_eq!(&read_h1_status(&mut held).await, b"HTTP/1.1 200");
    }
}
