//! Reading a request: identity headers stripped at the door, the body
//! within its bound, the head's size, and the headers and query that must
//! be unambiguous (`X-Credit-Purpose`, `X-Credit-Authorization`).

use super::problem::{ApiError, Code};
use bytes::Bytes;
use http::{header, HeaderMap};
use http_body_util::BodyExt;
use hyper::body::Incoming;

/// Headers a client might send to claim an identity; credgate never reads
/// them and strips them at the door so no later step can be fooled.
const IDENTITY_HEADERS: &[&str] = &[
    "x-forwarded-client-cert",
    "x-client-cert",
    "x-client-dn",
    "x-client-verify",
    "x-ssl-client-cert",
    "x-ssl-client-dn",
    "x-ssl-client-s-dn",
    "x-ssl-client-verify",
    "x-credgate-client",
    // RFC 9440, what a TLS-terminating proxy would pass on.
    "client-cert",
    "client-cert-chain",
    "forwarded",
    "x-forwarded-for",
];

pub(super) fn strip_identity_headers(h: &mut HeaderMap) {
    // One pass over the request's few names first: removing each of the 13
    // names hashes it every time (about 5,000 instructions per request, in
    // a callgrind profile), and a request almost never has any of them.
    if !h.keys().any(|k| IDENTITY_HEADERS.contains(&k.as_str())) {
        return;
    }
    for name in IDENTITY_HEADERS {
        h.remove(*name);
    }
}

/// How much of a body over the bound is still read (and thrown away)
/// before the refusal is sent. A client still uploading when the answer
/// comes sees its request stream reset (HTTP/2 `RST_STREAM(NO_ERROR)`,
/// RFC 9113 §8.1; on HTTP/1.1 the connection is closed), and some clients
/// (curl 7.x, over HTTP/2) then report a stream error instead of the 413.
/// Reading up to this much first lets them finish and read it; a larger
/// body is cut short. Bounded by the client's rate limit (checked before)
/// and the request's deadline.
const DRAIN_MAX_BYTES: u64 = 4 * 1024 * 1024;

/// Reads the whole body within the bound: `Content-Length` over the bound
/// is refused before reading; a body that grows past it while streaming too.
/// Either way the rest of a body of up to [`DRAIN_MAX_BYTES`] is read and
/// dropped before the refusal goes out.
pub(super) async fn read_body(
    mut body: Incoming,
    headers: &HeaderMap,
    max: usize,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            Code::PayloadTooLarge,
            format!("request body exceeds {max} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        // A client that asked to be told before it sends (`Expect:
        // 100-continue`) is told now: the body is left unread, so no
        // `100 Continue` goes out (hyper sends it when the body is first
        // read) and the client sends nothing; hyper then closes an
        // HTTP/1.1 connection instead of reading what it never got.
        if !expects_continue(headers) {
            drain(&mut body, declared).await;
        }
        return Err(too_large());
    }
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|_| ApiError::new(Code::InvalidRequest, "request body could not be read"))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > max {
                drain(&mut body, declared).await;
                return Err(too_large());
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

/// Whether the client waits for `100 Continue` before sending its body
/// (RFC 9110 §10.1.1).
fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Reads and drops the rest of `body` while it stays within
/// [`DRAIN_MAX_BYTES`] (not at all when it declared more).
async fn drain(body: &mut Incoming, declared: Option<u64>) {
    if declared.is_some_and(|len| len > DRAIN_MAX_BYTES) {
        return;
    }
    let mut read = 0u64;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            read = read.saturating_add(data.len() as u64);
            if read > DRAIN_MAX_BYTES {
                return;
            }
        }
    }
}

/// A request head's size as counted against `max_header_bytes`: its
/// HTTP/1.1 wire size (request line, `name: value` lines with their
/// separators), whichever protocol carried it.
pub(super) fn head_bytes(parts: &http::request::Parts) -> usize {
    /// `" HTTP/1.1\r\n"` after the method and target, `"\r\n"` at the end.
    const LINE_AND_END: usize = 13;
    let target = parts.uri.path_and_query().map_or(1, |p| p.as_str().len());
    parts
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum::<usize>()
        + parts.method.as_str().len()
        + 1
        + target
        + LINE_AND_END
}

/// The purpose an audit record names: the declared `X-Credit-Purpose` when
/// it is one of the policy's purpose codes, else `(unknown)` — a header is
/// free text, and a record must not carry whatever a client typed there
/// (an identifier, a name). `None` when none was declared.
pub(super) fn recorded_purpose(
    policy: &crate::policy_store::LoadedPolicy,
    h: &HeaderMap,
) -> Option<String> {
    match purpose(h) {
        Ok(None) => None,
        Ok(Some(p)) if policy.policy.purpose(&p).is_some() => Some(p),
        Ok(Some(_)) | Err(_) => Some("(unknown)".to_owned()),
    }
}

/// For endpoints that take no query parameters: any is refused, as the
/// other endpoints refuse the ones they do not know.
pub(super) fn no_query(parts: &http::request::Parts) -> Result<(), ApiError> {
    match parts
        .uri
        .query()
        .and_then(|q| q.split('&').find(|p| !p.is_empty()))
    {
        None => Ok(()),
        Some(pair) => {
            let k = pair.split_once('=').map_or(pair, |(k, _)| k);
            Err(ApiError::new(
                Code::InvalidRequest,
                format!("unknown query parameter {}", super::problem::shown(k)),
            ))
        }
    }
}

/// Headers that decide what a request may see must be unambiguous: a
/// second `X-Credit-Purpose` or `X-Credit-Authorization` (say, one added by
/// something between the client and credgate) is a malformed request, not
/// a choice of the first.
const SINGLE_VALUED: [&str; 2] = ["x-credit-purpose", "x-credit-authorization"];

pub(super) fn single_valued(h: &HeaderMap) -> Result<(), ApiError> {
    for name in SINGLE_VALUED {
        if h.get_all(name).iter().nth(1).is_some() {
            return Err(ApiError::new(
                Code::InvalidRequest,
                format!("{name} is given more than once"),
            ));
        }
    }
    Ok(())
}

/// The head's target host and body framing must be what HTTP says they
/// may be; hyper passes on heads that break these rules, and a request
/// that two readers could take differently is answered with a refusal,
/// not a guess:
/// - `Host` (RFC 9112 §3.2): exactly one on an HTTP/1.1 request, at most
///   one on any other, a valid `host[:port]` (no user info); over HTTP/2 it
///   must name the same authority as `:authority` (RFC 9113 §8.3.1);
/// - `Transfer-Encoding` (RFC 9112 §6.1): `chunked` once and nothing else.
///   hyper decodes the chunks and passes any other coding (`gzip,
///   chunked`) on as body bytes, which would then be read as JSON. RFC 9112
///   suggests 501 for a coding the server does not know; credgate keeps to
///   the SPEC's codes and answers `invalid_request`.
pub(super) fn host_and_framing(parts: &http::request::Parts) -> Result<(), ApiError> {
    let refuse = |detail: &str| Err(ApiError::new(Code::InvalidRequest, detail.to_owned()));
    let mut hosts = parts.headers.get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return refuse("Host is given more than once");
    }
    match host {
        None if parts.version == http::Version::HTTP_11 => {
            return refuse("an HTTP/1.1 request needs a Host header");
        }
        None => {}
        Some(value) => {
            let authority = value
                .to_str()
                .ok()
                .filter(|v| !v.is_empty() && !v.contains('@'))
                .and_then(|v| v.parse::<http::uri::Authority>().ok());
            let Some(authority) = authority else {
                return refuse("the Host header is not a valid host[:port]");
            };
            if parts.version == http::Version::HTTP_2 {
                if let Some(target) = parts.uri.authority() {
                    if !target.as_str().eq_ignore_ascii_case(authority.as_str()) {
                        return refuse("the Host header and :authority name different hosts");
                    }
                }
            }
        }
    }
    let mut codings = parts
        .headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|c| !c.is_empty());
    match (codings.next(), codings.next()) {
        (None, _) => Ok(()),
        (Some(c), None) if c.eq_ignore_ascii_case(b"chunked") => Ok(()),
        _ => refuse("Transfer-Encoding may only be chunked"),
    }
}

/// `X-Credit-Purpose`, trimmed; `None` when absent or empty (the policy
/// answers `purpose_required`). A value that is not visible ASCII is a
/// malformed request.
pub(super) fn purpose(h: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = h.get_all("x-credit-purpose").iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::new(
            Code::InvalidRequest,
            "x-credit-purpose is given more than once",
        ));
    }
    match first {
        None => Ok(None),
        Some(v) => {
            let s = v
                .to_str()
                .map_err(|_| ApiError::new(Code::InvalidRequest, "X-Credit-Purpose is not ASCII"))?
                .trim();
            Ok((!s.is_empty()).then(|| s.to_owned()))
        }
    }
}
