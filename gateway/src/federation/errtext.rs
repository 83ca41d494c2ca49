//! How a failed upstream call is told in logs and traces: the cause chain
//! of a transport error, without any text that came from the platform.
//!
//! The errors' own `Display` is not safe for that. An HTTP/2 GOAWAY frame
//! carries free-form "debug data" chosen by the peer, and `h2::Error`
//! prints it verbatim: a platform (or anything in front of it) that wrote
//! "rejected query for <ID number> <name>" there put personal data into
//! the gateway's WARN log and its exported spans (privacy review). Each
//! link of the chain is therefore described by its type: h2 by reason and
//! origin, I/O by kind (or the OS's own message), TLS and hyper by their
//! fixed texts; anything else has its text cut before any quote or escape
//! and its digits and non-ASCII letters masked. Written by hand: no crate
//! describes an error chain with such a filter.

use std::error::Error;

/// Links of a cause chain described at most (chains are short; a cycle
/// through a misbehaving `source` must not loop).
const MAX_LINKS: usize = 8;

/// The cause chain of `e`, told safely (see the module's text).
pub(crate) fn describe(e: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(e) = next.take() {
        if parts.len() == MAX_LINKS {
            break;
        }
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            parts.push(h2_text(h2));
            next = h2.get_io().map(|io| io as &(dyn Error + 'static));
        } else if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.get_ref() {
                // A wrapped error (a TLS alert, an h2 error): its kind, then
                // the wrapped error told by its own type.
                Some(inner) => {
                    parts.push(io.kind().to_string());
                    next = Some(inner as &(dyn Error + 'static));
                }
                // The OS's message with its code, or a kind's fixed text.
                None => parts.push(io.to_string()),
            }
        } else if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            // Enumerated causes (alerts, certificate errors naming DNS
            // names), never application data.
            parts.push(tls.to_string());
        } else if e.is::<hyper::Error>() || e.is::<hyper_util::client::legacy::Error>() {
            // Fixed descriptions ("http2 error", "client error (Connect)").
            parts.push(e.to_string());
            next = e.source();
        } else {
            parts.push(scrub(&e.to_string()));
            next = e.source();
        }
    }
    parts.join(": ")
}

fn h2_text(e: &h2::Error) -> String {
    let origin = if e.is_remote() {
        "from the platform"
    } else {
        "local"
    };
    let what = if e.is_go_away() {
        "GOAWAY"
    } else if e.is_reset() {
        "stream reset"
    } else if e.is_io() {
        "I/O"
    } else {
        "error"
    };
    match e.reason() {
        Some(reason) => format!("http2 {what} {origin}: {reason:?}"),
        None => format!("http2 {what} {origin}"),
    }
}

/// Text of an error of unknown type: cut before the first quote or escape
/// (where quoted input begins), with digits and non-ASCII letters masked.
fn scrub(text: &str) -> String {
    let cut = text
        .find(['"', '\'', '`', '\\'])
        .map_or(text, |at| &text[..at]);
    let mut out = String::with_capacity(cut.len());
    let mut masked = false;
    for c in cut.chars() {
        if c.is_ascii_digit() || !c.is_ascii() {
            if !masked {
                out.push('…');
            }
            masked = true;
        } else {
            out.push(c);
            masked = false;
        }
    }
    if cut.len() < text.len() {
        out.push_str(" […]");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    const SECRET: &str = "rejected query for 33020319641231502X 程怡杰 17638657901";

    /// A peer speaking just enough HTTP/2 to end the connection with a
    /// GOAWAY whose debug data is `SECRET`: its SETTINGS, then the GOAWAY.
    async fn goaway_peer(mut io: tokio::io::DuplexStream) {
        let mut preface = [0u8; 24];
        let _ = io.read_exact(&mut preface).await;
        let mut frames = vec![0, 0, 0, 4, 0, 0, 0, 0, 0]; // SETTINGS, empty
        let debug = SECRET.as_bytes();
        let len = u32::try_from(8 + debug.len()).unwrap().to_be_bytes();
        frames.extend_from_slice(&len[1..]);
        frames.extend_from_slice(&[7, 0, 0, 0, 0, 0]); // GOAWAY, stream 0
        frames.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]); // last 0, PROTOCOL_ERROR
        frames.extend_from_slice(debug);
        let _ = io.write_all(&frames).await;
        // Keep the connection open while the client reads.
        let mut sink = [0u8; 1024];
        while matches!(io.read(&mut sink).await, Ok(n) if n > 0) {}
    }

    /// The error a request through hyper's HTTP/2 client gets from a
    /// platform that sends GOAWAY with personal data in its debug data.
    async fn goaway_error() -> hyper::Error {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        tokio::spawn(goaway_peer(theirs));
        let (mut send, conn) =
            hyper::client::conn::http2::handshake::<_, _, http_body_util::Empty<bytes::Bytes>>(
                hyper_util::rt::TokioExecutor::new(),
                hyper_util::rt::TokioIo::new(ours),
            )
            .await
            .unwrap();
        let req = http::Request::get("http://platform/v1/x")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let request = tokio::spawn(send.send_request(req));
        // The connection ends with the GOAWAY's error (the request, with
        // it or as cancelled).
        let e = conn.await.unwrap_err();
        let _ = request.await;
        e
    }

    /// Privacy review: the GOAWAY's debug data reached the WARN log and the
    /// exported spans through the error's text.
    #[tokio::test]
    async fn a_goaways_debug_data_is_never_told() {
        let e = goaway_error().await;
        // The error's own text carries it (what was logged before).
        let raw = {
            let mut out = e.to_string();
            let mut src = e.source();
            while let Some(s) = src {
                out.push_str(&s.to_string());
                src = s.source();
            }
            out
        };
        assert!(raw.contains("33020319641231502X"), "{raw}");
        let told = describe(&e);
        for secret in ["33020319641231502X", "17638657901", "rejected", "\\x", "程"] {
            assert!(!told.contains(secret), "{told}");
        }
        assert!(
            told.contains("GOAWAY") && told.contains("PROTOCOL_ERROR"),
            "{told}"
        );
    }

    #[test]
    fn io_and_tls_causes_keep_what_an_operator_needs() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(describe(&refused), "connection refused");
        let tls = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let told = describe(&tls);
        assert!(told.contains("UnknownIssuer"), "{told}");
    }

    #[test]
    fn text_of_an_unknown_error_is_cut_at_quotes_and_masked() {
        assert_eq!(
            scrub("bad value \"33020319641231502X\" here"),
            "bad value  […]"
        );
        assert_eq!(scrub("id 33020319641231502X of 程怡杰"), "id …X of …");
        assert_eq!(scrub("tcp connect error"), "tcp connect error");
    }
}
