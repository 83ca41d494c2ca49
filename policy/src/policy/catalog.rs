//! The validated policy's catalog entries: endpoints, purposes, scopes,
//! issuers and rate limits.

use crate::canonical::Section;
use std::fmt;

/// A client-facing endpoint family (SPEC §4) that a scope grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// `GET /v1/enterprises/{uscc}/report`.
    EnterpriseReport,
    /// `GET /v1/persons/{id}/score`.
    PersonScore,
    /// `POST /v1/sanctions/check`.
    SanctionsCheck,
    /// `GET /v1/subjects/{id}/access-log`.
    SubjectAccessLog,
    /// `GET /v1/audit/*`.
    AuditRead,
}

/// A declared purpose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purpose {
    /// The code clients send in `X-Credit-Purpose`.
    pub code: String,
    /// What it means, for reviewers.
    pub description: Option<String>,
}

/// A declared scope: one endpoint, and for reports the sections it can grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// Scope id (`enterprise.report`, …).
    pub id: String,
    /// The endpoint it grants.
    pub endpoint: Endpoint,
    /// Sections it can grant, in report order (empty for other endpoints).
    pub sections: Vec<Section>,
    /// Longest accepted authorization-token lifetime in days, if limited.
    pub max_authorization_lifetime_days: Option<u32>,
    /// What it is for, for reviewers.
    pub description: Option<String>,
}

/// Where an issuer's public key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssuerKey {
    /// A PEM file, path relative to the policy file (read by the gateway).
    File(String),
    /// The PEM text inline.
    Pem(String),
}

/// A trusted subject-authorization issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer {
    /// Issuer id (token `iss`).
    pub id: String,
    /// Its Ed25519 public key.
    pub key: IssuerKey,
    /// The JWS `kid` it signs with, if pinned.
    pub key_id: Option<String>,
}

/// A GCRA rate limit with an optional daily quota (all numbers positive).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second (> 0, finite).
    pub per_second: f64,
    /// Burst size (≥ 1).
    pub burst: u32,
    /// Requests per day (≥ 1), unlimited when `None`.
    pub daily_quota: Option<u64>,
}

// === impl Endpoint ===

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 5] = [
        Endpoint::EnterpriseReport,
        Endpoint::PersonScore,
        Endpoint::SanctionsCheck,
        Endpoint::SubjectAccessLog,
        Endpoint::AuditRead,
    ];

    /// The name used in policy files and audit records (`enterprise_report`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::EnterpriseReport => "enterprise_report",
            Endpoint::PersonScore => "person_score",
            Endpoint::SanctionsCheck => "sanctions_check",
            Endpoint::SubjectAccessLog => "subject_access_log",
            Endpoint::AuditRead => "audit_read",
        }
    }

    /// Parses a policy-file name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// Whether requests to this endpoint name report sections.
    pub fn has_sections(self) -> bool {
        self == Endpoint::EnterpriseReport
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
