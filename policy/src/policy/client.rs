//! A validated client and the scopes granted to it.

use super::catalog::{Endpoint, RateLimit};
use crate::canonical::Section;
use crate::identity::CertMatch;
use crate::profile::FieldProfile;
use std::fmt;
use std::sync::Arc;

/// What kind of organisation a client is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientKind {
    /// A bank (信易贷 lending).
    Bank,
    /// A government department (联合奖惩).
    Department,
    /// A peer city's credit platform (信用分互认).
    PeerPlatform,
    /// An auditor of the access log.
    Auditor,
}

/// A client of the gateway, identified by its certificate.
#[derive(Clone, Debug)]
pub struct Client {
    pub(crate) id: String,
    pub(crate) display_name: String,
    pub(crate) kind: ClientKind,
    pub(crate) home_scheme: Option<String>,
    pub(crate) profile: Arc<FieldProfile>,
    pub(crate) cert_match: CertMatch,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) grants: Vec<ScopeGrant>,
}

/// A scope granted to a client, resolved against the scope's declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct ScopeGrant {
    /// The scope id.
    pub scope: String,
    /// The scope's endpoint.
    pub endpoint: Endpoint,
    /// Purposes the client may declare, as written.
    pub purposes: Vec<String>,
    /// Sections granted, in report order (empty for non-report endpoints).
    pub sections: Vec<Section>,
    /// Whether the subject's authorization token is required.
    pub authorization_required: bool,
    /// The scope's longest accepted token lifetime in days, if limited.
    pub max_authorization_lifetime_days: Option<u32>,
    /// Rate limit for this client and scope, if any.
    pub rate_limit: Option<RateLimit>,
}

// === impl ClientKind ===

impl ClientKind {
    /// Every kind.
    pub const ALL: [ClientKind; 4] = [
        ClientKind::Bank,
        ClientKind::Department,
        ClientKind::PeerPlatform,
        ClientKind::Auditor,
    ];

    /// The policy-file name (`bank`, `department`, `peer_platform`, `auditor`).
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::Bank => "bank",
            ClientKind::Department => "department",
            ClientKind::PeerPlatform => "peer_platform",
            ClientKind::Auditor => "auditor",
        }
    }

    /// Parses a policy-file name; `None` for anything else.
    pub fn parse(s: &str) -> Option<ClientKind> {
        ClientKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ClientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// === impl Client ===

impl Client {
    /// The client id (audit records, metrics labels, token `aud`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The name shown to subjects in their access log.
    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// The client's kind.
    pub fn kind(&self) -> ClientKind {
        self.kind
    }

    /// The client's home score scheme (always set for peer platforms).
    pub fn home_scheme(&self) -> Option<&str> {
        self.home_scheme.as_deref()
    }

    /// The field profile applied to everything the client receives.
    pub fn profile(&self) -> &Arc<FieldProfile> {
        &self.profile
    }

    /// How the client's certificate is recognised.
    pub fn cert_match(&self) -> &CertMatch {
        &self.cert_match
    }

    /// The client-wide rate limit, if any.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.rate_limit
    }

    /// The scopes granted, in file order.
    pub fn grants(&self) -> &[ScopeGrant] {
        &self.grants
    }
}

// === impl ScopeGrant ===

impl ScopeGrant {
    /// Whether `purpose` is one of this grant's purposes.
    pub fn allows_purpose(&self, purpose: &str) -> bool {
        self.purposes.iter().any(|p| p == purpose)
    }
}
