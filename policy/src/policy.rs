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
    /// the whole file is returned, in document order, with every unknown
    /// `key = value` line (a typo) among them.
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
        let (file, unknown) = parse_past_unknown_keys(source).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let msg = redact_strings(e.message().trim_end());
            PolicyErrors(vec![loc.error(span, "", ErrorKind::Syntax, msg)])
        })?;
        let unknown: Vec<PolicyError> = unknown
            .into_iter()
            .map(|(span, msg)| loc.error(span, "", ErrorKind::Syntax, msg))
            .collect();
        match crate::validate::build(file, &loc, check_key) {
            Ok(policy) if unknown.is_empty() => Ok(policy),
            Ok(_) => Err(PolicyErrors(unknown)),
            Err(mut errors) => {
                errors.extend(unknown);
                errors.sort_by_key(|e| (e.line, e.column));
                Err(PolicyErrors(errors))
            }
        }
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

/// An unknown key: where, and the (redacted) message.
type UnknownKey = (std::ops::Range<usize>, String);

/// Most unknown keys reported in one go; past them, the rest are found on
/// the next run.
const MAX_UNKNOWN_KEYS: usize = 32;

/// Deserializes `source`; an unknown key (a typo, say) does not hide the
/// file's other problems: its line is blanked (offsets unchanged, so every
/// location stays true) and parsing goes on, collecting each such key as
/// `(span, message)`. Any other error is returned as it is; so is an unknown
/// key whose blanked line leaves something that does not parse (a value
/// over several lines), with the unknown keys found before it dropped:
/// the first error then stands alone, as it always did.
///
/// Hand-written: the model denies unknown fields (serde stops at the
/// first), and `serde_ignored` cannot see through `toml::Spanned`.
fn parse_past_unknown_keys(source: &str) -> Result<(PolicyFile, Vec<UnknownKey>), toml::de::Error> {
    let mut text = source.to_owned();
    let mut unknown = Vec::new();
    let first = match toml::from_str::<PolicyFile>(&text) {
        Ok(file) => return Ok((file, unknown)),
        Err(e) => e,
    };
    let mut e = first.clone();
    loop {
        let span = match e.span() {
            Some(span) if e.message().starts_with("unknown field") => span,
            _ => return Err(first),
        };
        if unknown.len() >= MAX_UNKNOWN_KEYS {
            return Err(first);
        }
        // Only a key that begins its line (`key = value`) is blanked: in
        // an inline table the line holds known keys too.
        if !blank_line_of_key(&mut text, span.start) {
            return Err(first);
        }
        unknown.push((span, redact_strings(e.message().trim_end())));
        match toml::from_str::<PolicyFile>(&text) {
            Ok(file) => return Ok((file, unknown)),
            Err(next) => e = next,
        }
    }
}

/// Replaces with spaces the line on which a key begins at byte `at` (same
/// length, so every other offset stays); `false`, changing nothing, when
/// something other than blanks precedes the key on its line.
fn blank_line_of_key(text: &mut String, at: usize) -> bool {
    if at >= text.len() || !text.is_char_boundary(at) {
        return false;
    }
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    if !text[start..at].trim().is_empty() {
        return false;
    }
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let blank = " ".repeat(end - start);
    text.replace_range(start..end, &blank);
    true
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
