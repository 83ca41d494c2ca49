//! Client identification from verified certificate facts (SPEC §5).
//!
//! The gateway extracts a [`CertIdentity`] from the already verified client
//! certificate; [`crate::Policy::identify`] finds the one client whose match
//! rules fit it. Default deny: no match, or more than one, is `None`.

use crate::policy::{Client, Policy};

/// Facts of a verified client certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertIdentity {
    /// URI subject alternative names.
    pub uri_sans: Vec<String>,
    /// DNS subject alternative names.
    pub dns_sans: Vec<String>,
    /// Subject common names.
    pub common_names: Vec<String>,
    /// Subject organizations.
    pub organizations: Vec<String>,
    /// SHA-256 of the DER certificate.
    pub sha256: [u8; 32],
}

/// A client's certificate match rules; a certificate matches when any rule
/// does. Validation guarantees at least one rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertMatch {
    pub(crate) uri_san: Option<String>,
    pub(crate) dns_san: Option<String>,
    pub(crate) cn: Option<String>,
    pub(crate) o: Option<String>,
    pub(crate) sha256: Option<[u8; 32]>,
}

// === impl CertMatch ===

impl CertMatch {
    /// The URI SAN rule (exact match).
    pub fn uri_san(&self) -> Option<&str> {
        self.uri_san.as_deref()
    }

    /// The DNS SAN rule (ASCII case-insensitive match; stored lower case).
    pub fn dns_san(&self) -> Option<&str> {
        self.dns_san.as_deref()
    }

    /// The common-name rule (exact match).
    pub fn cn(&self) -> Option<&str> {
        self.cn.as_deref()
    }

    /// The organization that must accompany the common name (exact match).
    pub fn o(&self) -> Option<&str> {
        self.o.as_deref()
    }

    /// The pinned certificate fingerprint.
    pub fn sha256(&self) -> Option<&[u8; 32]> {
        self.sha256.as_ref()
    }

    /// Whether any rule matches `cert`. The `cn` rule matches when the
    /// certificate has that common name and, if `o` is set, that
    /// organization as well.
    pub fn matches(&self, cert: &CertIdentity) -> bool {
        let uri = self
            .uri_san
            .as_ref()
            .is_some_and(|u| cert.uri_sans.iter().any(|c| c == u));
        let dns = self
            .dns_san
            .as_ref()
            .is_some_and(|d| cert.dns_sans.iter().any(|c| c.eq_ignore_ascii_case(d)));
        let cn = self.cn.as_ref().is_some_and(|cn| {
            cert.common_names.iter().any(|c| c == cn)
                && self
                    .o
                    .as_ref()
                    .is_none_or(|o| cert.organizations.iter().any(|c| c == o))
        });
        let fp = self.sha256.as_ref().is_some_and(|f| *f == cert.sha256);
        uri || dns || cn || fp
    }

    /// Whether a certificate could match both `self` and `other` through the
    /// same kind of rule (validation refuses such pairs). Cross-kind overlaps
    /// (one client by URI, another by CN) cannot be seen statically; they
    /// make [`crate::Policy::identify`] fail closed at run time.
    pub(crate) fn overlap(&self, other: &CertMatch) -> Option<&'static str> {
        fn same<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
            matches!((a, b), (Some(a), Some(b)) if a == b)
        }
        if same(&self.uri_san, &other.uri_san) {
            return Some("uri_san");
        }
        if same(&self.dns_san, &other.dns_san) {
            return Some("dns_san");
        }
        if same(&self.cn, &other.cn) && (self.o.is_none() || other.o.is_none() || self.o == other.o)
        {
            return Some("cn");
        }
        if same(&self.sha256, &other.sha256) {
            return Some("sha256");
        }
        None
    }
}

// === impl Policy ===

impl Policy {
    /// The client whose match rules fit `cert`, if exactly one does.
    /// Nothing matching, or several clients matching (which validation
    /// prevents for rules of the same kind), yields `None`: deny by default.
    pub fn identify(&self, cert: &CertIdentity) -> Option<&Client> {
        let mut found = None;
        for client in self.clients() {
            if client.cert_match().matches(cert) {
                if found.is_some() {
                    return None;
                }
                found = Some(client);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests;
