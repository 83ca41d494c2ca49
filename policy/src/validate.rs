//! Whole-file validation: turns a [`PolicyFile`] into a [`Policy`] or into
//! every problem found, each located by line, column and key path.
//!
//! Validation never stops at the first problem. An entry whose own
//! declaration is faulty still counts as declared, so one typo does not
//! cascade into "unknown reference" errors elsewhere; the checks that need
//! the faulty part are skipped instead.

use crate::error::{ErrorKind, Locator, PolicyError};
use crate::ids::{IdError, LegacyCodes};
use crate::model::{IssuerDef, PolicyFile, PurposeDef, ScopeDef, SettingsDef};
use crate::policy::{Endpoint, Issuer, IssuerKey, Policy, Purpose, Scope};
use std::collections::HashMap;
use std::ops::Range;
use toml::Spanned;

mod checks;
mod clients;
mod profiles;

/// The only policy format version so far.
const VERSION: u32 = 1;

/// Collects problems while validating.
pub(crate) struct Ctx<'a> {
    loc: &'a Locator<'a>,
    errors: Vec<PolicyError>,
    warnings: Vec<PolicyError>,
}

/// What scope declarations resolve to, for grants.
pub(crate) struct DeclaredScopes {
    /// Every declared id → the scope, when its declaration is valid.
    by_id: HashMap<String, Option<Scope>>,
}

/// Builds the policy, or returns every error in document order.
/// Checks an issuer's key beyond its shape (the caller reads and parses key
/// files: this crate does no I/O): `Err` with the reason, for people.
pub type KeyCheck<'a> = dyn FnMut(&str, &IssuerKey) -> Result<(), String> + 'a;

pub(crate) fn build(
    file: PolicyFile,
    loc: &Locator<'_>,
    check_key: &mut KeyCheck<'_>,
    schemes: Option<&[String]>,
) -> Result<Policy, Vec<PolicyError>> {
    let mut cx = Ctx {
        loc,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let version = check_version(&mut cx, &file.version);
    let legacy_codes = settings(&mut cx, file.settings.as_ref());
    let purposes = purposes(&mut cx, &file.purposes);
    let (scopes, declared) = scopes(&mut cx, &file.scopes);
    let issuers = issuers(&mut cx, &file.issuers, check_key);
    let profiles = profiles::build(&mut cx, &file.profiles);
    let refs = clients::Refs {
        purposes: purposes.iter().map(|p| p.code.as_str()).collect(),
        scopes: &declared,
        profiles: &profiles,
        has_issuer: !file.issuers.is_empty(),
        schemes,
    };
    let clients = clients::build(&mut cx, &file.clients, &refs);

    let Ctx {
        mut errors,
        mut warnings,
        ..
    } = cx;
    if !errors.is_empty() {
        errors.sort_by_key(|e| (e.line, e.column));
        return Err(errors);
    }
    warnings.sort_by_key(|e| (e.line, e.column));
    Ok(Policy {
        version,
        legacy_codes,
        purposes,
        scopes,
        issuers,
        profiles: profiles.valid,
        clients,
        warnings,
    })
}

// === impl Ctx ===

impl Ctx<'_> {
    /// Records an error at `span`.
    pub(crate) fn err(
        &mut self,
        span: Range<usize>,
        path: impl Into<String>,
        kind: ErrorKind,
        message: impl Into<String>,
    ) {
        let e = self.loc.error(span, path, kind, message);
        self.errors.push(e);
    }

    /// Records a warning at `span`.
    pub(crate) fn warn(
        &mut self,
        span: Range<usize>,
        path: impl Into<String>,
        kind: ErrorKind,
        message: impl Into<String>,
    ) {
        let w = self.loc.error(span, path, kind, message);
        self.warnings.push(w);
    }

    /// Checks an id's shape and uniqueness among `seen` (first occurrence
    /// wins). Returns whether it is the first occurrence; a malformed id is
    /// still declared so references to it do not cascade.
    pub(crate) fn declare(
        &mut self,
        seen: &mut HashMap<String, String>,
        id: &Spanned<String>,
        path: String,
        what: &str,
    ) -> bool {
        checks::id(self, id, &path, what);
        if let Some(first) = seen.get(id.get_ref()) {
            let msg = format!(
                "duplicate {what} id \"{}\" (first at {first})",
                id.get_ref()
            );
            self.err(id.span(), path, ErrorKind::DuplicateId, msg);
            return false;
        }
        seen.insert(id.get_ref().clone(), path);
        true
    }
}

// === impl DeclaredScopes ===

impl DeclaredScopes {
    /// `None` when not declared; `Some(None)` when declared but invalid.
    pub(crate) fn get(&self, id: &str) -> Option<Option<&Scope>> {
        self.by_id.get(id).map(Option::as_ref)
    }
}

// === top-level sections of the file ===

fn check_version(cx: &mut Ctx<'_>, version: &Spanned<i64>) -> u32 {
    if *version.get_ref() != i64::from(VERSION) {
        let msg = format!(
            "unsupported policy version {} (expected {VERSION})",
            version.get_ref()
        );
        cx.err(
            version.span(),
            "version",
            ErrorKind::UnsupportedVersion,
            msg,
        );
    }
    VERSION
}

fn settings(cx: &mut Ctx<'_>, settings: Option<&SettingsDef>) -> LegacyCodes {
    let Some(settings) = settings else {
        return LegacyCodes::empty();
    };
    let mut codes: Vec<String> = Vec::new();
    for (i, code) in settings.legacy_codes.iter().enumerate() {
        let path = format!("settings.legacy_codes[{i}]");
        let upper = code.get_ref().to_ascii_uppercase();
        // Checked one by one so that every bad entry is reported; the ids
        // crate's errors never contain the code itself.
        if let Err(e) = LegacyCodes::new([upper.as_str()]) {
            let reason = match e {
                IdError::InvalidLegacyEntry { reason, .. } => reason.to_string(),
                other => other.to_string(),
            };
            let msg = format!("invalid legacy code: {reason}");
            cx.err(code.span(), path, ErrorKind::InvalidLegacyCode, msg);
        } else if codes.contains(&upper) {
            let msg = "legacy code listed twice";
            cx.err(code.span(), path, ErrorKind::DuplicateEntry, msg);
        } else {
            codes.push(upper);
        }
    }
    LegacyCodes::new(&codes).unwrap_or_else(|e| {
        // Unreachable: every entry passed on its own above.
        let span = settings.legacy_codes.first().map_or(0..0, Spanned::span);
        let msg = format!("invalid legacy code: {e}");
        cx.err(
            span,
            "settings.legacy_codes",
            ErrorKind::InvalidLegacyCode,
            msg,
        );
        LegacyCodes::empty()
    })
}

fn purposes(cx: &mut Ctx<'_>, defs: &[Spanned<PurposeDef>]) -> Vec<Purpose> {
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for (i, def) in defs.iter().enumerate() {
        let def = def.get_ref();
        if cx.declare(
            &mut seen,
            &def.code,
            format!("purposes[{i}].code"),
            "purpose",
        ) {
            out.push(Purpose {
                code: def.code.get_ref().clone(),
                description: def.description.clone(),
            });
        }
    }
    out
}

fn scopes(cx: &mut Ctx<'_>, defs: &[Spanned<ScopeDef>]) -> (Vec<Scope>, DeclaredScopes) {
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    let mut by_id = HashMap::new();
    for (i, spanned) in defs.iter().enumerate() {
        let def = spanned.get_ref();
        let first = cx.declare(&mut seen, &def.id, format!("scopes[{i}].id"), "scope");
        let scope = scope(cx, spanned, i);
        if first {
            if let Some(s) = &scope {
                out.push(s.clone());
            }
            by_id.insert(def.id.get_ref().clone(), scope);
        }
    }
    (out, DeclaredScopes { by_id })
}

fn scope(cx: &mut Ctx<'_>, spanned: &Spanned<ScopeDef>, i: usize) -> Option<Scope> {
    let def = spanned.get_ref();
    let errors_before = cx.errors.len();
    let endpoint = Endpoint::parse(def.endpoint.get_ref());
    if endpoint.is_none() {
        let msg = format!(
            "unknown endpoint \"{}\" (expected one of {})",
            def.endpoint.get_ref(),
            Endpoint::ALL.map(Endpoint::as_str).join(", ")
        );
        cx.err(
            def.endpoint.span(),
            format!("scopes[{i}].endpoint"),
            ErrorKind::UnknownEndpoint,
            msg,
        );
    }
    let sections = match (&def.sections, endpoint) {
        (Some(list), Some(e)) if !e.has_sections() => {
            let msg = format!(
                "sections are only allowed for {} scopes",
                Endpoint::EnterpriseReport
            );
            let path = format!("scopes[{i}].sections");
            cx.err(list.span(), path, ErrorKind::SectionsNotApplicable, msg);
            Vec::new()
        }
        (Some(list), _) => {
            let path = format!("scopes[{i}].sections");
            let secs = checks::sections(cx, list, &path);
            if list.get_ref().is_empty() {
                let msg = "an enterprise_report scope must list at least one section";
                cx.err(list.span(), path, ErrorKind::EmptySections, msg);
            }
            secs
        }
        (None, Some(Endpoint::EnterpriseReport)) => {
            let msg = "an enterprise_report scope must list the sections it grants";
            cx.err(
                spanned.span(),
                format!("scopes[{i}]"),
                ErrorKind::EmptySections,
                msg,
            );
            Vec::new()
        }
        (None, _) => Vec::new(),
    };
    let lifetime = def.max_authorization_lifetime_days.as_ref().and_then(|d| {
        let path = format!("scopes[{i}].max_authorization_lifetime_days");
        checks::positive_u32(cx, d, &path, "max_authorization_lifetime_days")
    });
    let endpoint = endpoint?;
    (cx.errors.len() == errors_before).then(|| Scope {
        id: def.id.get_ref().clone(),
        endpoint,
        sections,
        max_authorization_lifetime_days: lifetime,
        description: def.description.clone(),
    })
}

fn issuers(
    cx: &mut Ctx<'_>,
    defs: &[Spanned<IssuerDef>],
    check_key: &mut KeyCheck<'_>,
) -> Vec<Issuer> {
    // An issuer may list several keys (one `[[issuers]]` entry each, same
    // id) so that a key rotation can overlap: tokens signed with the old key
    // stay valid while the new one is rolled out. What must be unique is the
    // key an issuer's `kid` selects: (id, key_id), with one entry at most
    // without a key_id.
    let mut seen: HashMap<(String, Option<String>), String> = HashMap::new();
    let mut out = Vec::new();
    for (i, spanned) in defs.iter().enumerate() {
        let def = spanned.get_ref();
        let path = format!("issuers[{i}].id");
        checks::id(cx, &def.id, &path, "issuer");
        let kid = def.key_id.as_ref().map(|k| k.get_ref().clone());
        let slot = (def.id.get_ref().clone(), kid);
        let first = match seen.get(&slot) {
            Some(first) => {
                let msg = match &slot.1 {
                    Some(kid) => format!(
                        "duplicate issuer id \"{}\" with key_id \"{kid}\" (first at {first}); \
                         the keys of one issuer need distinct key_id values",
                        slot.0
                    ),
                    None => format!(
                        "duplicate issuer id \"{}\" (first at {first}); to trust several keys \
                         of one issuer, give each a distinct key_id",
                        slot.0
                    ),
                };
                cx.err(def.id.span(), path, ErrorKind::DuplicateId, msg);
                false
            }
            None => {
                seen.insert(slot, path);
                true
            }
        };
        let key = match (&def.public_key_file, &def.public_key_pem) {
            (Some(file), None) => {
                let path = format!("issuers[{i}].public_key_file");
                checks::non_empty(cx, file, &path, "public_key_file").map(IssuerKey::File)
            }
            (None, Some(pem)) => {
                let path = format!("issuers[{i}].public_key_pem");
                if pem.get_ref().contains("-----BEGIN PUBLIC KEY-----") {
                    Some(IssuerKey::Pem(pem.get_ref().clone()))
                } else {
                    let msg = "public_key_pem must be a PEM \"PUBLIC KEY\" block";
                    cx.err(pem.span(), path, ErrorKind::InvalidIssuerKey, msg);
                    None
                }
            }
            (Some(_), Some(pem)) => {
                let msg = "give exactly one of public_key_file and public_key_pem, not both";
                let path = format!("issuers[{i}].public_key_pem");
                cx.err(pem.span(), path, ErrorKind::InvalidIssuerKey, msg);
                None
            }
            (None, None) => {
                let msg = "an issuer needs public_key_file or public_key_pem";
                cx.err(
                    spanned.span(),
                    format!("issuers[{i}]"),
                    ErrorKind::InvalidIssuerKey,
                    msg,
                );
                None
            }
        };
        let key_id = def
            .key_id
            .as_ref()
            .and_then(|k| checks::non_empty(cx, k, &format!("issuers[{i}].key_id"), "key_id"));
        // The key itself (readable, a valid Ed25519 key), reported at the
        // value that names it, among the file's other errors.
        let key = key.filter(|key| {
            let (span, path) = match (&def.public_key_file, &def.public_key_pem) {
                (Some(file), _) => (file.span(), format!("issuers[{i}].public_key_file")),
                (_, Some(pem)) => (pem.span(), format!("issuers[{i}].public_key_pem")),
                (None, None) => (spanned.span(), format!("issuers[{i}]")),
            };
            match check_key(def.id.get_ref(), key) {
                Ok(()) => true,
                Err(reason) => {
                    cx.err(span, path, ErrorKind::InvalidIssuerKey, reason);
                    false
                }
            }
        });
        if let (true, Some(key)) = (first, key) {
            out.push(Issuer {
                id: def.id.get_ref().clone(),
                key,
                key_id,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
