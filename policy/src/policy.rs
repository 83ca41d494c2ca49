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
    /// errors (usually the file name). A TOML syntax error yields one
    /// error with its location; otherwise every error found in the whole
    /// file is returned, in document order: unknown keys, values of the
    /// wrong type and errors of meaning together (see `parse_collecting`
    /// for where the list can stop short), each with its key path.
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
        let parsed = parse_collecting(source).map_err(|found| {
            PolicyErrors(
                found
                    .into_iter()
                    .map(|(span, path, msg)| loc.error(span, path, ErrorKind::Syntax, msg))
                    .collect(),
            )
        })?;
        let unknown: Vec<PolicyError> = parsed
            .shape
            .into_iter()
            .map(|(span, path, msg)| loc.error(span, path, ErrorKind::Syntax, msg))
            .collect();
        // What validation says of a placeholder is about the placeholder,
        // not the file: the shape error at that place says what is wrong.
        let stand_ins: Vec<(usize, usize)> = parsed
            .placeholders
            .iter()
            .map(|at| loc.line_col(*at))
            .collect();
        match crate::validate::build(parsed.file, &loc, check_key, schemes) {
            Ok(policy) if unknown.is_empty() => Ok(policy),
            Ok(_) => Err(PolicyErrors(unknown)),
            Err(mut errors) => {
                errors.retain(|e| !stand_ins.contains(&(e.line, e.column)));
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

/// A TOML error: where, the key path (empty when unknown), and the
/// (redacted) message.
type Located = (std::ops::Range<usize>, String, String);

/// Most shape errors reported in one go; past them, the rest are found on
/// the next run.
const MAX_SHAPE_ERRORS: usize = 32;

/// What [`parse_collecting`] read: the file (with its shape errors
/// blanked or stood in for), the shape errors, and where it put
/// placeholders.
struct Parsed {
    file: PolicyFile,
    shape: Vec<Located>,
    placeholders: Vec<usize>,
}

/// Deserializes `source`; a shape error (an unknown key, a value of the
/// wrong type, an unknown variant) does not hide the file's other
/// problems. An unknown key is blanked (with its value, and in an inline
/// table a comma); a wrong value is replaced by a placeholder of the type
/// expected and of the same length (`"  "`, `0`, `[]`, `{}`, padded with
/// blanks), or blanked with its key when none fits. Offsets never change,
/// so every location stays true. Parsing goes on, collecting each error as
/// `(span, key path, message)`; once the file reads, the caller validates
/// its meaning too and drops what validation says at a placeholder.
///
/// `Err` holds what to report when the file cannot be read whole: a
/// syntax error alone (TOML stops there); else every shape error found.
/// Collection stops where going on would report what the blanking made
/// rather than what the file says: a blanked value over several lines
/// (its rest no longer parses), or a required key that had to be blanked
/// (`missing field`).
///
/// Hand-written: the model denies unknown fields and serde stops at the
/// first error; `serde_ignored` cannot see through `toml::Spanned`.
/// `serde_path_to_error` gives each error's key path.
fn parse_collecting(source: &str) -> Result<Parsed, Vec<Located>> {
    let syntax_ok = |text: &str| toml::from_str::<toml::Table>(text).is_ok();
    let mut text = source.to_owned();
    let mut found: Vec<Located> = Vec::new();
    let mut blanked: Vec<String> = Vec::new();
    let mut placeholders = Vec::new();
    loop {
        let (e, path) = match deserialize(&text) {
            Ok(file) => {
                return Ok(Parsed {
                    file,
                    shape: found,
                    placeholders,
                })
            }
            Err(failed) => failed,
        };
        let message = e.message().trim_end();
        let span = e.span();
        if found.is_empty() && !syntax_ok(&text) {
            return Err(vec![(
                span.unwrap_or(0..0),
                String::new(),
                redact_strings(message),
            )]);
        }
        let artefact = message.starts_with("missing field")
            && blanked.iter().any(|k| message.contains(&format!("`{k}`")));
        if artefact {
            return Err(found);
        }
        let unknown = message.starts_with("unknown field");
        let path = if unknown {
            // The path leads to the table, or to the key itself.
            let key = message.split('`').nth(1).unwrap_or_default();
            if path == key || path.ends_with(&format!(".{key}")) {
                path
            } else {
                join_path(&path, key)
            }
        } else {
            path
        };
        found.push((span.clone().unwrap_or(0..0), path, redact_strings(message)));
        let Some(span) = span else {
            return Err(found);
        };
        if found.len() >= MAX_SHAPE_ERRORS {
            return Err(found);
        }
        if !unknown {
            if let Some(stand_in) = text.get(span.clone()).and_then(|v| placeholder(message, v)) {
                let mut tried = text.clone();
                tried.replace_range(span.clone(), &stand_in);
                if syntax_ok(&tried) {
                    text = tried;
                    placeholders.push(span.start);
                    continue;
                }
            }
        }
        // An unknown key's span is the key; a wrong value's is the value.
        let key_at = if unknown {
            Some(span.start)
        } else {
            key_before_value(&text, span.start)
        };
        let Some(at) = key_at else {
            return Err(found);
        };
        let key = text[at..]
            .split(|c: char| c == '=' || c.is_whitespace())
            .next()
            .unwrap_or_default()
            .trim_matches(['"', '\''])
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        if !blank_key(&mut text, at) || !syntax_ok(&text) {
            return Err(found);
        }
        blanked.push(key);
    }
}

/// A value of the type `message` (a `toml` error) says was expected, as
/// long as `value` (what stood there; newlines kept), or `None` when none
/// fits.
fn placeholder(message: &str, value: &str) -> Option<String> {
    let expected = message.rsplit_once("expected ")?.1;
    let head = if expected.starts_with("a string") || expected.starts_with("one of") {
        "\"\""
    } else if expected.starts_with("a boolean") {
        "false"
    } else if expected.starts_with("a sequence") {
        "[]"
    } else if expected.starts_with("struct") || expected.starts_with("a map") {
        "{}"
    } else if [
        "i64",
        "u64",
        "u32",
        "u16",
        "u8",
        "i32",
        "f64",
        "f32",
        "an integer",
        "a float",
    ]
    .iter()
    .any(|t| expected.starts_with(t))
    {
        "0"
    } else {
        return None;
    };
    // `get`: `None` past the end or inside a character (`"abcé"` where a
    // boolean belongs).
    let (first, rest) = (value.get(..head.len())?, value.get(head.len()..)?);
    if first.contains('\n') {
        return None;
    }
    let rest: String = rest
        .chars()
        .flat_map(|c| {
            let fill = if c == '\n' { '\n' } else { ' ' };
            std::iter::repeat_n(fill, c.len_utf8())
        })
        .collect();
    Some(format!("{head}{rest}"))
}

/// `toml::from_str`, with the key path of the error.
fn deserialize(text: &str) -> Result<PolicyFile, (toml::de::Error, String)> {
    serde_path_to_error::deserialize(toml::Deserializer::new(text)).map_err(|e| {
        let path = key_path(e.path());
        (e.into_inner(), path)
    })
}

/// A serde path as the policy's errors write key paths
/// (`clients[3].grants[0].purposes`), without `toml::Spanned`'s own keys.
fn key_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } if key.starts_with("$__") => {}
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out = join_path(&out, key);
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// `path.key` (or `key` when `path` is empty).
fn join_path(path: &str, key: &str) -> String {
    match (path.is_empty(), key.is_empty()) {
        (_, true) => path.to_owned(),
        (true, false) => key.to_owned(),
        (false, false) => format!("{path}.{key}"),
    }
}

/// The start of the key whose value begins at byte `value_at`: back over
/// blanks, an `=`, blanks, then a bare (or dotted) key or a quoted one.
/// `None` when `value_at` is not a value right after `key =` (an element
/// inside an array, say).
fn key_before_value(text: &str, value_at: usize) -> Option<usize> {
    let before = text.get(..value_at)?.trim_end_matches([' ', '\t']);
    let before = before.strip_suffix('=')?.trim_end_matches([' ', '\t']);
    let bare = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    let start = match before.chars().last()? {
        q @ ('"' | '\'') => {
            let inner = &before[..before.len() - 1];
            inner.rfind(q)?
        }
        c if bare(c) => before.trim_end_matches(bare).len(),
        _ => return None,
    };
    (start < before.len()).then_some(start)
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
