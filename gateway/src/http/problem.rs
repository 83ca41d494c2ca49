//! The one place where errors become responses: RFC 9457 problem documents
//! (`application/problem+json`) with the stable `code`s of SPEC §4.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;

/// Every refusal or failure a client can see, with its stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// 400: the subject identifier is not a valid USCC or ID number.
    InvalidSubjectId,
    /// 400: the request is malformed (bad query, body, header).
    InvalidRequest,
    /// 413: the body is larger than allowed.
    PayloadTooLarge,
    /// 400: `X-Credit-Purpose` is missing.
    PurposeRequired,
    /// 403: the purpose is not allowed for this client and scope.
    PurposeNotAllowed,
    /// 403: the client has no scope for this endpoint or section.
    ScopeDenied,
    /// 401: the scope needs a subject authorization and none was given.
    AuthorizationRequired,
    /// 401: the authorization token is malformed or not signed by a trusted issuer.
    AuthorizationInvalid,
    /// 401: the authorization is outside its validity window.
    AuthorizationExpired,
    /// 401: the authorization was revoked.
    AuthorizationRevoked,
    /// 403: the authorization is for another subject, grantee, scope or purpose.
    AuthorizationMismatch,
    /// 403: the authorization's use count is spent.
    AuthorizationExhausted,
    /// 404: no configured platform serves the subject's region.
    SubjectRegionUnknown,
    /// 404: the platform does not hold the subject.
    SubjectNotFound,
    /// 429: rate limit or quota exceeded.
    RateLimited,
    /// 502: an upstream failed or answered in a way credgate cannot use.
    UpstreamUnavailable,
    /// 504: an upstream did not answer in time.
    UpstreamTimeout,
    /// 502 with `Retry-After`: the upstream was not contacted because its queue is full or its
    /// circuit breaker is open; retry later.
    UpstreamOverloaded,
    /// 503: the audit record could not be written.
    AuditUnavailable,
    /// 503: a dependency needed to decide safely (e.g. Redis) is unavailable.
    ServiceUnavailable,
    /// 404: no such endpoint.
    NotFound,
    /// 405: the endpoint exists but not with this method.
    MethodNotAllowed,
    /// 500: a bug or an unexpected state.
    Internal,
}

impl Code {
    /// The stable machine-readable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidSubjectId => "invalid_subject_id",
            Code::InvalidRequest => "invalid_request",
            Code::PayloadTooLarge => "payload_too_large",
            Code::PurposeRequired => "purpose_required",
            Code::PurposeNotAllowed => "purpose_not_allowed",
            Code::ScopeDenied => "scope_denied",
            Code::AuthorizationRequired => "authorization_required",
            Code::AuthorizationInvalid => "authorization_invalid",
            Code::AuthorizationExpired => "authorization_expired",
            Code::AuthorizationRevoked => "authorization_revoked",
            Code::AuthorizationMismatch => "authorization_mismatch",
            Code::AuthorizationExhausted => "authorization_exhausted",
            Code::SubjectRegionUnknown => "subject_region_unknown",
            Code::SubjectNotFound => "subject_not_found",
            Code::RateLimited => "rate_limited",
            Code::UpstreamUnavailable | Code::UpstreamTimeout | Code::UpstreamOverloaded => {
                "upstream_unavailable"
            }
            Code::AuditUnavailable => "audit_unavailable",
            Code::ServiceUnavailable => "service_unavailable",
            Code::NotFound => "not_found",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::Internal => "internal",
        }
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Code::InvalidSubjectId | Code::InvalidRequest | Code::PurposeRequired => {
                StatusCode::BAD_REQUEST
            }
            Code::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::PurposeNotAllowed
            | Code::ScopeDenied
            | Code::AuthorizationMismatch
            | Code::AuthorizationExhausted => StatusCode::FORBIDDEN,
            Code::AuthorizationRequired
            | Code::AuthorizationInvalid
            | Code::AuthorizationExpired
            | Code::AuthorizationRevoked => StatusCode::UNAUTHORIZED,
            Code::SubjectRegionUnknown | Code::SubjectNotFound | Code::NotFound => {
                StatusCode::NOT_FOUND
            }
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            // SPEC §4: `upstream_unavailable` is 502 or 504. A platform not
            // being called (breaker open, its queue full) is a 502 with a
            // `Retry-After`.
            Code::UpstreamUnavailable | Code::UpstreamOverloaded => StatusCode::BAD_GATEWAY,
            Code::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Code::AuditUnavailable | Code::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short human title.
    pub fn title(self) -> &'static str {
        match self {
            Code::InvalidSubjectId => "Invalid subject identifier",
            Code::InvalidRequest => "Invalid request",
            Code::PayloadTooLarge => "Payload too large",
            Code::PurposeRequired => "Purpose required",
            Code::PurposeNotAllowed => "Purpose not allowed",
            Code::ScopeDenied => "Scope denied",
            Code::AuthorizationRequired => "Subject authorization required",
            Code::AuthorizationInvalid => "Subject authorization invalid",
            Code::AuthorizationExpired => "Subject authorization expired",
            Code::AuthorizationRevoked => "Subject authorization revoked",
            Code::AuthorizationMismatch => "Subject authorization does not cover this request",
            Code::AuthorizationExhausted => "Subject authorization used up",
            Code::SubjectRegionUnknown => "No platform serves the subject's region",
            Code::SubjectNotFound => "Subject not found",
            Code::RateLimited => "Rate limit exceeded",
            Code::UpstreamUnavailable => "Upstream platform unavailable",
            Code::UpstreamTimeout => "Upstream platform timed out",
            Code::UpstreamOverloaded => "Upstream platform temporarily refused",
            Code::AuditUnavailable => "Audit log unavailable",
            Code::ServiceUnavailable => "Service unavailable",
            Code::NotFound => "Not found",
            Code::MethodNotAllowed => "Method not allowed",
            Code::Internal => "Internal error",
        }
    }
}

/// The answer to an HTTP/1.1 request the connection's codec cannot parse
/// (hyper calls it with the status it would send bare: `400` for a
/// malformed request line or header field, `431` for a head over twice
/// `max_header_bytes` or with over 100 fields, `414` for a target too long;
/// see `vendor/hyper/CREDGATE-PATCH.md`). It is a problem document like
/// every other error, `400 invalid_request` as for a head over the bound
/// the handler refuses itself; the connection closes after it. No audit
/// record: the request never reached policy evaluation (SPEC §8).
pub fn parse_error_response(status: StatusCode) -> Response<Bytes> {
    let detail = match status {
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            "the request head is too large or has too many header fields"
        }
        StatusCode::URI_TOO_LONG => "the request target is too long",
        _ => "the request line or a header field is malformed",
    };
    let mut resp = ApiError::new(Code::InvalidRequest, detail).into_bytes_response();
    stamp_unrecorded(resp.headers_mut());
    resp
}

/// The headers every answer carries (SPEC §4: `X-Request-Id`; no caching),
/// for the answers given without reaching the handler (no audit record, so
/// no `X-Audit-Seq`).
pub(crate) fn stamp_unrecorded(h: &mut http::HeaderMap) {
    stamp(h, &super::new_request_id());
}

/// `X-Request-Id` and `Cache-Control: no-store`, on every answer.
pub(crate) fn stamp(h: &mut http::HeaderMap, request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-request-id", v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The authentication scheme a `401` challenge names: a subject's signed
/// authorization (SPEC §6), sent in `X-Credit-Authorization`.
pub const CHALLENGE_SCHEME: &str = "CreditAuthorization";

/// A refusal or failure to report to the client. `detail` must never hold
/// personal data or raw upstream bodies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The stable code.
    pub code: Code,
    /// Human-readable explanation specific to this occurrence.
    pub detail: String,
    /// Seconds for `Retry-After` (429 and some 503s).
    pub retry_after: Option<u64>,
    /// For `405 method_not_allowed`: the method the resource takes, sent
    /// as `Allow` (RFC 9110 §15.5.6: a 405 MUST carry it).
    pub allow: Option<http::Method>,
}

impl ApiError {
    /// An error with a detail message.
    pub fn new(code: Code, detail: impl Into<String>) -> ApiError {
        ApiError {
            code,
            detail: detail.into(),
            retry_after: None,
            allow: None,
        }
    }

    /// Adds an `Allow` header (for `405 method_not_allowed`).
    pub fn allow(mut self, method: http::Method) -> ApiError {
        self.allow = Some(method);
        self
    }

    /// Adds a `Retry-After` in seconds.
    pub fn retry_after(mut self, secs: u64) -> ApiError {
        self.retry_after = Some(secs);
        self
    }

    /// The problem document as a response.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        self.into_bytes_response().map(Full::new)
    }

    /// The problem document as a response with its body in one buffer.
    fn into_bytes_response(self) -> Response<Bytes> {
        #[derive(Serialize)]
        struct Problem<'a> {
            #[serde(rename = "type")]
            kind: String,
            title: &'a str,
            status: u16,
            detail: &'a str,
            code: &'a str,
        }
        let status = self.code.status();
        let doc = Problem {
            kind: format!("urn:credgate:problem:{}", self.code.as_str()),
            title: self.code.title(),
            status: status.as_u16(),
            detail: &self.detail,
            code: self.code.as_str(),
        };
        // Serialising a struct of strings and an integer cannot fail.
        let body = serde_json::to_vec(&doc).unwrap_or_default();
        let mut resp = Response::new(Bytes::from(body));
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(Ok(method)) = self.allow.map(|m| HeaderValue::from_str(m.as_str())) {
            resp.headers_mut().insert(header::ALLOW, method);
        }
        if status == StatusCode::UNAUTHORIZED {
            // RFC 9110 §15.5.2: a 401 MUST carry a challenge. The subject's
            // authorization travels in its own header (SPEC §4), so the
            // challenge names that header, and `error` repeats the code the
            // way RFC 6750 §3 does for bearer tokens.
            let challenge = format!(
                "{CHALLENGE_SCHEME} realm=\"credgate\", header=\"x-credit-authorization\", error=\"{}\"",
                self.code.as_str()
            );
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, value);
            }
        }
        resp
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

/// A name from the request (a query parameter, a section) as a problem's
/// detail may repeat it: quoted when it looks like a name (at most 32
/// ASCII letters, digits, `_`, `.`, `-`, with at most 4 digits), else not
/// repeated at all. A "parameter" that is an ID number, a name or 5 KB of
/// query string is not echoed back (privacy review).
pub(crate) fn shown(name: &str) -> String {
    let looks_like_a_name = (1..=32).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && name.chars().filter(char::is_ascii_digit).count() <= 4;
    if looks_like_a_name {
        format!("{name:?}")
    } else {
        "(not shown: not a name)".to_owned()
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn what_the_codec_refuses_is_a_problem_document() {
        for (status, detail) in [
            (StatusCode::BAD_REQUEST, "malformed"),
            (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "too large"),
            (StatusCode::URI_TOO_LONG, "too long"),
        ] {
            let resp = parse_error_response(status);
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
            assert_eq!(resp.headers()["content-type"], "application/problem+json");
            let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
            assert_eq!(v["code"], "invalid_request");
            assert_eq!(v["status"], 400);
            assert!(v["detail"].as_str().unwrap().contains(detail), "{v}");
        }
    }

    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn problem_document_shape() {
        let resp = ApiError::new(Code::RateLimited, "slow down")
            .retry_after(3)
            .into_response();
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        assert_eq!(resp.headers()["retry-after"], "3");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["code"], "rate_limited");
        assert_eq!(v["status"], 429);
        assert_eq!(v["type"], "urn:credgate:problem:rate_limited");
        assert_eq!(v["detail"], "slow down");
        assert!(v["title"].is_string());
    }

    #[test]
    fn every_401_carries_a_challenge_and_nothing_else_does() {
        for code in [
            Code::AuthorizationRequired,
            Code::AuthorizationInvalid,
            Code::AuthorizationExpired,
            Code::AuthorizationRevoked,
        ] {
            let resp = ApiError::new(code, "x").into_response();
            assert_eq!(resp.status(), 401);
            assert_eq!(
                resp.headers()["www-authenticate"],
                format!(
                    "CreditAuthorization realm=\"credgate\", header=\"x-credit-authorization\", error=\"{}\"",
                    code.as_str()
                )
            );
        }
        for code in [
            Code::AuthorizationMismatch,
            Code::ScopeDenied,
            Code::RateLimited,
        ] {
            let resp = ApiError::new(code, "x").into_response();
            assert!(resp.headers().get("www-authenticate").is_none());
        }
    }

    #[test]
    fn statuses_follow_the_spec() {
        let cases = [
            (Code::InvalidSubjectId, 400),
            (Code::InvalidRequest, 400),
            (Code::PayloadTooLarge, 413),
            (Code::PurposeRequired, 400),
            (Code::PurposeNotAllowed, 403),
            (Code::ScopeDenied, 403),
            (Code::AuthorizationRequired, 401),
            (Code::AuthorizationInvalid, 401),
            (Code::AuthorizationExpired, 401),
            (Code::AuthorizationRevoked, 401),
            (Code::AuthorizationMismatch, 403),
            (Code::AuthorizationExhausted, 403),
            (Code::SubjectRegionUnknown, 404),
            (Code::SubjectNotFound, 404),
            (Code::RateLimited, 429),
            (Code::UpstreamUnavailable, 502),
            (Code::UpstreamTimeout, 504),
            (Code::AuditUnavailable, 503),
            (Code::Internal, 500),
        ];
        for (code, status) in cases {
            assert_eq!(code.status().as_u16(), status, "{}", code.as_str());
        }
        assert_eq!(Code::UpstreamTimeout.as_str(), "upstream_unavailable");
    }
}
