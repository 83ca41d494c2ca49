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
        Policy::parse_for(source, origin, check_key, None)
    }

    /// Like [`Policy::parse_checking_keys`], also checking the policy
    /// against the configuration it runs under when `schemes` (its score
    /// schemes) is given: a client's `home_scheme` outside them is one more
    /// located error.
    pub fn parse_for(
        source: &str,
        origin: &str,
        check_key: &mut crate::validate::KeyCheck<'_>,
        schemes: Option<&[String]>,
    ) -> Result<Policy, PolicyErrors> {
        let loc = Locator::new(origin, source);
        let (file, unknown) = parse_past_unknown_keys(source).map_err(|found| {
            PolicyErrors(
                found
                    .into_iter()
                    .map(|(span, msg)| loc.error(span, "", ErrorKind::Syntax, msg))
                    .collect(),
            )
        })?;
        let unknown: Vec<PolicyError> = unknown
            .into_iter()
            .map(|(span, msg)| loc.error(span, "", ErrorKind::Syntax, msg))
            .collect();
        match crate::validate::build(file, &loc, check_key, schemes) {
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

    /// Trusted authorization issuer keys, in file order: one entry per
    /// `[[issuers]]` table, so an issuer rotating its key appears once per
    /// key (distinct `key_id`s).
    pub fn issuers(&self) -> &[Issuer] {
        &self.issuers
    }

    /// The keys trusted for issuer `id`, in file order.
    pub fn issuer_keys<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Issuer> + 'a {
        self.issuers.iter().filter(move |i| i.id == id)
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
            self.issuer_count(),
        ]
        .join(", ")
    }

    /// `1 issuer`, or `2 issuers (3 keys)` when an issuer lists several keys.
    fn issuer_count(&self) -> String {
        let mut ids: Vec<&str> = self.issuers.iter().map(|i| i.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let n = ids.len();
        let mut s = format!("{n} {}", if n == 1 { "issuer" } else { "issuers" });
        if self.issuers.len() > n {
            s.push_str(&format!(" ({} keys)", self.issuers.len()));
        }
        s
    }
}

/// A TOML error: where, and the (redacted) message.
type Located = (std::ops::Range<usize>, String);

/// Most unknown keys reported in one go; past them, the rest are found on
/// the next run.
const MAX_UNKNOWN_KEYS: usize = 32;

/// Deserializes `source`; an unknown key (a typo, say) does not hide the
/// file's other problems: it is blanked (with its value, and in an inline
/// table a comma; offsets unchanged, so every location stays true) and
/// parsing goes on, collecting each such key as `(span, message)`.
///
/// `Err` holds what to report when the file cannot be read whole: the
/// first error alone when it is not an unknown key (a syntax error, a
/// wrong type); else every unknown key found — with the one that could
/// not be blanked, if that is where it stopped. An error that follows a
/// blanked key but is not an unknown key is left out: it may be an
/// artefact of the blanking (a value over several lines).
///
/// Hand-written: the model denies unknown fields (serde stops at the
/// first), and `serde_ignored` cannot see through `toml::Spanned`.
fn parse_past_unknown_keys(source: &str) -> Result<(PolicyFile, Vec<Located>), Vec<Located>> {
    let located = |e: &toml::de::Error| {
        (
            e.span().unwrap_or(0..0),
            redact_strings(e.message().trim_end()),
        )
    };
    let mut text = source.to_owned();
    let mut unknown = Vec::new();
    let mut e = match toml::from_str::<PolicyFile>(&text) {
        Ok(file) => return Ok((file, unknown)),
        Err(e) => e,
    };
    loop {
        let span = match e.span() {
            Some(span) if e.message().starts_with("unknown field") => span,
            _ if unknown.is_empty() => return Err(vec![located(&e)]),
            _ => return Err(unknown),
        };
        unknown.push(located(&e));
        if unknown.len() >= MAX_UNKNOWN_KEYS || !blank_key(&mut text, span.start) {
            return Err(unknown);
        }
        match toml::from_str::<PolicyFile>(&text) {
            Ok(file) => return Ok((file, unknown)),
            Err(next) => e = next,
        }
    }
}

/// Replaces with spaces the key beginning at byte `at` and its value (same
/// length, newlines kept, so every other offset and line stays): its whole
/// line when the key begins it (`key = value`), else, in an inline table,
/// `key = value` with the comma that separates it from a neighbour.
/// `false`, changing nothing, when the value's end cannot be found.
fn blank_key(text: &mut String, at: usize) -> bool {
    if at >= text.len() || !text.is_char_boundary(at) {
        return false;
    }
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let range = if text[line_start..at].trim().is_empty() {
        let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        line_start..end
    } else {
        // Inside an inline table on this line (not a dotted key's last part).
        if !text[line_start..at].contains('{') {
            return false;
        }
        let Some(end) = inline_value_end(&text[at..]).map(|n| at + n) else {
            return false;
        };
        if text[at..end].contains('\n') {
            return false;
        }
        if text[end..].starts_with(',') {
            at..end + 1
        } else {
            let before = text[..at].trim_end();
            match before.strip_suffix(',') {
                Some(kept) => kept.len()..end,
                None => at..end,
            }
        }
    };
    // One space per byte (a multi-byte character becomes several), so no
    // offset moves.
    let blank: String = text[range.clone()]
        .chars()
        .flat_map(|c| {
            let fill = if c == '\n' { '\n' } else { ' ' };
            std::iter::repeat_n(fill, c.len_utf8())
        })
        .collect();
    text.replace_range(range, &blank);
    true
}

/// In `rest` (starting at a key inside an inline table), the offset of the
/// `,` or `}` that ends the key's value: the first one outside strings and
/// nested brackets.
fn inline_value_end(rest: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '[' | '{' => depth += 1,
                ']' => depth = depth.checked_sub(1)?,
                '}' if depth == 0 => return Some(i),
                '}' => depth -= 1,
                ',' if depth == 0 => return Some(i),
                _ => {}
            },
        }
    }
    None
}

/// Replaces the contents of double-quoted strings in a TOML error message
/// with `…`: values (which could be identifiers) are never echoed, while
/// key names (quoted with backticks by `toml`) stay. A backticked value
/// with a digit or a non-ASCII letter in it is a value, not a key name
/// (`invalid type: integer `913502032908059063``: an all-digit legacy code
/// written without quotes, privacy review) and is replaced too.
fn redact_strings(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(['"', '`']) {
        let quote = rest[at..].chars().next().unwrap_or('"');
        out.push_str(&rest[..=at]);
        let after = &rest[at + 1..];
        let Some(len) = after.find(quote) else {
            // Unclosed: the rest is quoted text.
            if quote == '"' || after.chars().any(|c| c.is_ascii_digit() || !c.is_ascii()) {
                out.push('…');
            } else {
                out.push_str(after);
            }
            return out;
        };
        let inner = &after[..len];
        let value = quote == '"' || inner.chars().any(|c| c.is_ascii_digit() || !c.is_ascii());
        out.push_str(if value { "…" } else { inner });
        out.push(quote);
        rest = &after[len + 1..];
    }
    out.push_str(rest);
    out
}
