//! The validated policy: what [`Policy::parse`] returns when a file has no
//! errors, with lookups used on the request path.

use crate::error::{ErrorKind, Locator, PolicyError, PolicyErrors};
use crate::ids::LegacyCodes;
use crate::model::PolicyFile;
use crate::profile::FieldProfile;
use std::sync::Arc;

mod catalog;
mod client;

pub use catalog::{Endpoint, Issuer, IssuerKey, Purpose, RateLimit, Scope};
pub use client::{Client, ClientKind, ScopeGrant};

/// A whole, valid policy. Immutable; a reload builds a new one.
#[derive(Clone, Debug)]
pub struct Policy {
    pub(crate) version: u32,
    pub(crate) legacy_codes: LegacyCodes,
    pub(crate) purposes: Vec<Purpose>,
    pub(crate) scopes: Vec<Scope>,
    pub(crate) issuers: Vec<Issuer>,
    pub(crate) profiles: Vec<Arc<FieldProfile>>,
    pub(crate) clients: Vec<Client>,
    pub(crate) warnings: Vec<PolicyError>,
}

impl Policy {
    /// Parses and validates a policy file. `origin` names the source in
    /// errors (usually the file name). A TOML syntax or shape error yields
    /// one error with its location; otherwise every semantic error found in
    /// the whole file is returned, in document order.
    pub fn parse(source: &str, origin: &str) -> Result<Policy, PolicyErrors> {
        Policy::parse_checking_keys(source, origin, &mut |_, _| Ok(()))
    }

    /// Like [`Policy::parse`], also asking `check_key` about every
    /// issuer's key (the gateway reads key files and parses the keys): a
    /// key it refuses is one more error, located at the value that names
    /// the key, reported with all the others.
    pub fn parse_checking_keys(
        source: &str,
        origin: &str,
        check_key: &mut crate::validate::KeyCheck<'_>,
    ) -> Result<Policy, PolicyErrors> {
        let loc = Locator::new(origin, source);
        let file: PolicyFile = toml::from_str(source).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let msg = redact_strings(e.message().trim_end());
            PolicyErrors(vec![loc.error(span, "", ErrorKind::Syntax, msg)])
        })?;
        crate::validate::build(file, &loc, check_key).map_err(PolicyErrors)
    }

    /// The file format version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Accepted pre-standard USCCs (SPEC §3), for [`crate::ids::Uscc::parse`].
    pub fn legacy_codes(&self) -> &LegacyCodes {
        &self.legacy_codes
    }

    /// Declared purposes, in file order.
    pub fn purposes(&self) -> &[Purpose] {
        &self.purposes
    }

    /// The purpose with `code`.
    pub fn purpose(&self, code: &str) -> Option<&Purpose> {
        self.purposes.iter().find(|p| p.code == code)
    }

    /// Declared scopes, in file order.
    pub fn scopes(&self) -> &[Scope] {
        &self.scopes
    }

    /// The scope with `id`.
    pub fn scope(&self, id: &str) -> Option<&Scope> {
        self.scopes.iter().find(|s| s.id == id)
    }

    /// Trusted authorization issuers, in file order.
    pub fn issuers(&self) -> &[Issuer] {
        &self.issuers
    }

    /// The issuer with `id`.
    pub fn issuer(&self, id: &str) -> Option<&Issuer> {
        self.issuers.iter().find(|i| i.id == id)
    }

    /// Field profiles, in file order.
    pub fn profiles(&self) -> &[Arc<FieldProfile>] {
        &self.profiles
    }

    /// The profile with `id`.
    pub fn profile(&self, id: &str) -> Option<&Arc<FieldProfile>> {
        self.profiles.iter().find(|p| p.id() == id)
    }

    /// Clients, in file order.
    pub fn clients(&self) -> &[Client] {
        &self.clients
    }

    /// The client with `id`.
    pub fn client(&self, id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.id() == id)
    }

    /// Findings that do not stop the policy from loading (e.g. a profile
    /// that keeps a personal field unmasked).
    pub fn warnings(&self) -> &[PolicyError] {
        &self.warnings
    }

    /// A one-line count, e.g. `4 clients, 5 scopes, 3 profiles, 6 purposes, 1 issuer`.
    pub fn summary(&self) -> String {
        fn count(n: usize, one: &str, many: &str) -> String {
            format!("{n} {}", if n == 1 { one } else { many })
        }
        [
            count(self.clients.len(), "client", "clients"),
            count(self.scopes.len(), "scope", "scopes"),
            count(self.profiles.len(), "profile", "profiles"),
            count(self.purposes.len(), "purpose", "purposes"),
            count(self.issuers.len(), "issuer", "issuers"),
        ]
        .join(", ")
    }
}

/// Replaces the contents of double-quoted strings in a TOML error message
/// with `…`: values (which could be identifiers) are never echoed, while
/// key names (quoted with backticks by `toml`) stay.
fn redact_strings(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if inside {
                out.push('…');
            }
            inside = !inside;
            out.push(c);
        } else if !inside {
            out.push(c);
        }
    }
    out
}
