//! Routing: the endpoint a request path names, and the decoding of its
//! path segments and query values.

use super::problem::{ApiError, Code};
use http::Method;

/// The endpoints this build serves.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Route {
    /// `GET /v1/enterprises/{uscc}/report`.
    EnterpriseReport { subject: String },
    /// `GET /v1/persons/{id}/score`.
    PersonScore { subject: String },
    /// `POST /v1/sanctions/check`.
    SanctionsCheck,
    /// `GET /v1/audit/…` (auditors).
    Audit(AuditRoute),
    /// `GET /v1/subjects/{id}/access-log`.
    AccessLog { subject: String },
}

/// The auditor endpoints.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum AuditRoute {
    /// `GET /v1/audit/records`.
    Records,
    /// `GET /v1/audit/checkpoint`.
    Checkpoint,
    /// `GET /v1/audit/proof/{seq}`.
    Proof(u64),
    /// `GET /v1/audit/consistency`.
    Consistency,
}

impl Route {
    pub(super) fn parse(method: &Method, path: &str) -> Result<Route, ApiError> {
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (route, want) = match segs.as_slice() {
            ["v1", "enterprises", subject, "report"] => (
                Route::EnterpriseReport {
                    subject: percent_decode(subject)?,
                },
                Method::GET,
            ),
            ["v1", "persons", subject, "score"] => (
                Route::PersonScore {
                    subject: percent_decode(subject)?,
                },
                Method::GET,
            ),
            ["v1", "sanctions", "check"] => (Route::SanctionsCheck, Method::POST),
            ["v1", "subjects", subject, "access-log"] => (
                Route::AccessLog {
                    subject: percent_decode(subject)?,
                },
                Method::GET,
            ),
            ["v1", "audit", "records"] => (Route::Audit(AuditRoute::Records), Method::GET),
            ["v1", "audit", "checkpoint"] => (Route::Audit(AuditRoute::Checkpoint), Method::GET),
            ["v1", "audit", "consistency"] => (Route::Audit(AuditRoute::Consistency), Method::GET),
            ["v1", "audit", "proof", seq] => {
                let seq = decimal(seq).ok_or_else(|| {
                    ApiError::new(
                        Code::InvalidRequest,
                        "proof sequence number must be a positive integer",
                    )
                })?;
                (Route::Audit(AuditRoute::Proof(seq)), Method::GET)
            }
            _ => return Err(ApiError::new(Code::NotFound, "no such endpoint")),
        };
        if method != want {
            return Err(ApiError::new(
                Code::MethodNotAllowed,
                format!("{method} is not allowed here; use {want}"),
            )
            .allow(want));
        }
        Ok(route)
    }

    /// The endpoint template a path has the shape of, whatever its
    /// parameter holds and whatever the method: the audit record of a
    /// request refused for a malformed parameter (`/v1/audit/proof/abc`, a
    /// bad percent-escape) or a wrong method still names its endpoint.
    pub(super) fn template_of(path: &str) -> Option<&'static str> {
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        Some(match segs.as_slice() {
            ["v1", "enterprises", _, "report"] => "/v1/enterprises/{uscc}/report",
            ["v1", "persons", _, "score"] => "/v1/persons/{id}/score",
            ["v1", "sanctions", "check"] => "/v1/sanctions/check",
            ["v1", "subjects", _, "access-log"] => "/v1/subjects/{id}/access-log",
            ["v1", "audit", "records"] => "/v1/audit/records",
            ["v1", "audit", "checkpoint"] => "/v1/audit/checkpoint",
            ["v1", "audit", "proof", _] => "/v1/audit/proof/{seq}",
            ["v1", "audit", "consistency"] => "/v1/audit/consistency",
            _ => return None,
        })
    }

    /// The policy endpoint the route is decided as.
    pub(super) fn endpoint(&self) -> credgate_policy::Endpoint {
        use credgate_policy::Endpoint;
        match self {
            Route::EnterpriseReport { .. } => Endpoint::EnterpriseReport,
            Route::PersonScore { .. } => Endpoint::PersonScore,
            Route::SanctionsCheck => Endpoint::SanctionsCheck,
            Route::AccessLog { .. } => Endpoint::SubjectAccessLog,
            Route::Audit(_) => Endpoint::AuditRead,
        }
    }

    /// The endpoint template (for logs, metrics and audit records; never
    /// the concrete path, which holds a subject identifier).
    pub fn template(&self) -> &'static str {
        match self {
            Route::EnterpriseReport { .. } => "/v1/enterprises/{uscc}/report",
            Route::PersonScore { .. } => "/v1/persons/{id}/score",
            Route::SanctionsCheck => "/v1/sanctions/check",
            Route::AccessLog { .. } => "/v1/subjects/{id}/access-log",
            Route::Audit(AuditRoute::Records) => "/v1/audit/records",
            Route::Audit(AuditRoute::Checkpoint) => "/v1/audit/checkpoint",
            Route::Audit(AuditRoute::Proof(_)) => "/v1/audit/proof/{seq}",
            Route::Audit(AuditRoute::Consistency) => "/v1/audit/consistency",
        }
    }
}

/// A number as the API writes them: ASCII digits only. (`u64::from_str`
/// also takes a leading `+`, so `/v1/audit/proof/+5` read as record 5.)
pub(super) fn decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Decodes `%XX` escapes of a path segment; identifiers are ASCII, so
/// anything that does not decode to UTF-8 is simply invalid.
pub(super) fn percent_decode(seg: &str) -> Result<String, ApiError> {
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    ApiError::new(Code::InvalidRequest, "bad percent-encoding in path")
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| ApiError::new(Code::InvalidSubjectId, "subject is not valid text"))
}

/// Decodes `%XX` escapes of a query value (`+` stays literal: time
/// offsets such as `+08:00` are common in audit queries).
pub(super) fn percent_decode_query(v: &str) -> Result<String, ApiError> {
    percent_decode(v)
        .map_err(|_| ApiError::new(Code::InvalidRequest, "bad percent-encoding in query"))
}
