//! Validation of `[[clients]]` and their grants: references to profiles,
//! scopes and purposes, certificate match rules and their overlaps, kinds,
//! sections, authorization and rate limits.

use super::profiles::DeclaredProfiles;
use super::{checks, Ctx, DeclaredScopes};
use crate::canonical::Section;
use crate::error::ErrorKind;
use crate::identity::CertMatch;
use crate::model::{ClientDef, GrantDef, MatchDef};
use crate::policy::{Client, ClientKind, Endpoint, ScopeGrant};
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use toml::Spanned;

/// What clients may refer to.
pub(crate) struct Refs<'a> {
    /// Declared purpose codes.
    pub(crate) purposes: HashSet<&'a str>,
    /// Declared scopes.
    pub(crate) scopes: &'a DeclaredScopes,
    /// Declared profiles.
    pub(crate) profiles: &'a DeclaredProfiles,
    /// Whether any issuer is configured.
    pub(crate) has_issuer: bool,
    /// The score schemes of the configuration the policy runs under, when
    /// known: a `home_scheme` must be one of them.
    pub(crate) schemes: Option<&'a [String]>,
}

/// A validated match rule of an earlier client, for overlap checks.
struct Seen {
    id: String,
    index: usize,
    rule: CertMatch,
}

/// Validates every client; returns the valid ones.
pub(crate) fn build(cx: &mut Ctx<'_>, defs: &[Spanned<ClientDef>], refs: &Refs<'_>) -> Vec<Client> {
    let mut ids = HashMap::new();
    let mut earlier: Vec<Seen> = Vec::new();
    let mut out = Vec::new();
    for (i, spanned) in defs.iter().enumerate() {
        let def = spanned.get_ref();
        let before = cx.errors.len();
        cx.declare(&mut ids, &def.id, format!("clients[{i}].id"), "client");
        let display_name = checks::non_empty(
            cx,
            &def.display_name,
            &format!("clients[{i}].display_name"),
            "display_name",
        );
        let kind = ClientKind::parse(def.kind.get_ref());
        if kind.is_none() {
            let msg = format!(
                "unknown client kind \"{}\" (expected one of {})",
                def.kind.get_ref(),
                ClientKind::ALL.map(ClientKind::as_str).join(", ")
            );
            cx.err(
                def.kind.span(),
                format!("clients[{i}].kind"),
                ErrorKind::UnknownClientKind,
                msg,
            );
        }
        let home_scheme = match &def.home_scheme {
            Some(h) => {
                let path = format!("clients[{i}].home_scheme");
                let valid = checks::id(cx, h, &path, "home_scheme");
                match refs.schemes {
                    // Its answers would silently lack the home tier.
                    Some(known) if valid && !known.iter().any(|k| k == h.get_ref()) => {
                        let msg = format!(
                            "home_scheme \"{}\" is not one of the configuration's \
                             [[score_schemes]] ({})",
                            h.get_ref(),
                            if known.is_empty() {
                                "none".to_owned()
                            } else {
                                known.join(", ")
                            }
                        );
                        cx.err(h.span(), path, ErrorKind::UnknownScheme, msg);
                        None
                    }
                    _ => valid.then(|| h.get_ref().clone()),
                }
            }
            None => {
                if kind == Some(ClientKind::PeerPlatform) {
                    let msg = "a peer_platform client needs a home_scheme";
                    let path = format!("clients[{i}].home_scheme");
                    cx.err(spanned.span(), path, ErrorKind::MissingHomeScheme, msg);
                }
                None
            }
        };
        let profile = match refs.profiles.by_id.get(def.profile.get_ref()) {
            Some(p) => p.clone(),
            None => {
                let msg = format!("unknown profile \"{}\"", def.profile.get_ref());
                cx.err(
                    def.profile.span(),
                    format!("clients[{i}].profile"),
                    ErrorKind::UnknownProfile,
                    msg,
                );
                None
            }
        };
        let (rule, match_ok) = cert_match(cx, def.match_rule.as_ref(), spanned.span(), i);
        if let Some(m) = &def.match_rule {
            // Overlaps are checked even when another part of the rule is
            // faulty, on the parts that are not.
            check_overlap(cx, &rule, m.get_ref(), i, &earlier);
        }
        let cert_match = match_ok.then(|| rule.clone());
        earlier.push(Seen {
            id: def.id.get_ref().clone(),
            index: i,
            rule,
        });
        let rate_limit = def
            .rate_limit
            .as_ref()
            .and_then(|r| checks::rate_limit(cx, r, &format!("clients[{i}].rate_limit")));
        let grants = grants(cx, &def.grants, i, kind, refs);

        if let (true, Some(display_name), Some(kind), Some(profile), Some(cert_match)) = (
            cx.errors.len() == before,
            display_name,
            kind,
            profile,
            cert_match,
        ) {
            out.push(Client {
                id: def.id.get_ref().clone(),
                display_name,
                kind,
                home_scheme,
                profile,
                cert_match,
                rate_limit,
                grants,
            });
        }
    }
    out
}

/// The client's match rule (its valid parts) and whether it is valid as a
/// whole.
fn cert_match(
    cx: &mut Ctx<'_>,
    def: Option<&Spanned<MatchDef>>,
    client_span: Range<usize>,
    i: usize,
) -> (CertMatch, bool) {
    let path = format!("clients[{i}].match");
    let msg =
        "a client needs a certificate match: uri_san, dns_san, cn (with optional o) or sha256";
    let Some(spanned) = def else {
        cx.err(client_span, path, ErrorKind::EmptyMatch, msg);
        return (CertMatch::default(), false);
    };
    let m = spanned.get_ref();
    if m.uri_san.is_none() && m.dns_san.is_none() && m.cn.is_none() && m.sha256.is_none() {
        // An `o` alone is reported below as well.
        if m.o.is_none() {
            cx.err(spanned.span(), path.clone(), ErrorKind::EmptyMatch, msg);
        }
    }
    let before = cx.errors.len();
    let text = |cx: &mut Ctx<'_>, v: &Option<Spanned<String>>, key: &str| {
        v.as_ref()
            .and_then(|s| checks::non_empty(cx, s, &format!("{path}.{key}"), key))
    };
    let uri_san = text(cx, &m.uri_san, "uri_san");
    let dns_san = text(cx, &m.dns_san, "dns_san").map(|d| d.to_ascii_lowercase());
    let cn = text(cx, &m.cn, "cn");
    let o = text(cx, &m.o, "o");
    if let (Some(o_span), None) = (&m.o, &m.cn) {
        let msg = "match.o is only allowed together with match.cn";
        cx.err(
            o_span.span(),
            format!("{path}.o"),
            ErrorKind::OrganizationWithoutCn,
            msg,
        );
    }
    let sha256 = m.sha256.as_ref().and_then(|s| {
        let fp = checks::fingerprint(s.get_ref());
        if fp.is_none() {
            let msg = "sha256 must be 64 hex digits (colons allowed)";
            cx.err(
                s.span(),
                format!("{path}.sha256"),
                ErrorKind::InvalidFingerprint,
                msg,
            );
        }
        fp
    });
    let rule = CertMatch {
        uri_san,
        dns_san,
        cn,
        o,
        sha256,
    };
    let has_rule = rule.uri_san.is_some()
        || rule.dns_san.is_some()
        || rule.cn.is_some()
        || rule.sha256.is_some();
    let ok = cx.errors.len() == before && has_rule;
    (rule, ok)
}

fn check_overlap(cx: &mut Ctx<'_>, rule: &CertMatch, def: &MatchDef, i: usize, earlier: &[Seen]) {
    for seen in earlier {
        let Some(key) = rule.overlap(&seen.rule) else {
            continue;
        };
        let field = match key {
            "uri_san" => &def.uri_san,
            "dns_san" => &def.dns_san,
            "cn" => &def.cn,
            _ => &def.sha256,
        };
        let span = field.as_ref().map_or(0..0, Spanned::span);
        let msg = format!(
            "certificate match {key} overlaps client \"{}\" (clients[{}]): a certificate could match both",
            seen.id, seen.index
        );
        cx.err(
            span,
            format!("clients[{i}].match.{key}"),
            ErrorKind::OverlappingMatch,
            msg,
        );
    }
}

fn grants(
    cx: &mut Ctx<'_>,
    defs: &[Spanned<GrantDef>],
    i: usize,
    kind: Option<ClientKind>,
    refs: &Refs<'_>,
) -> Vec<ScopeGrant> {
    let mut out: Vec<ScopeGrant> = Vec::new();
    // (scope id, endpoint, purposes) of earlier grants, valid or not.
    let mut earlier: Vec<(String, Option<Endpoint>, Vec<String>)> = Vec::new();
    for (j, def) in defs.iter().enumerate() {
        let g = def.get_ref();
        let path = format!("clients[{i}].grants[{j}]");
        let endpoint = refs
            .scopes
            .get(g.scope.get_ref())
            .flatten()
            .map(|s| s.endpoint);
        if earlier.iter().any(|(s, _, _)| s == g.scope.get_ref()) {
            let msg = format!(
                "scope \"{}\" is granted twice to this client",
                g.scope.get_ref()
            );
            cx.err(
                g.scope.span(),
                format!("{path}.scope"),
                ErrorKind::DuplicateEntry,
                msg,
            );
        } else if let Some(endpoint) = endpoint {
            for (k, p) in g.purposes.get_ref().iter().enumerate() {
                let clash = earlier
                    .iter()
                    .find(|(_, e, ps)| *e == Some(endpoint) && ps.contains(p.get_ref()));
                if let Some((other, _, _)) = clash {
                    let msg = format!(
                        "purpose \"{}\" is also granted for {endpoint} through scope \"{other}\"; \
                         a request could not be attributed to one grant",
                        p.get_ref()
                    );
                    cx.err(
                        p.span(),
                        format!("{path}.purposes[{k}]"),
                        ErrorKind::AmbiguousGrant,
                        msg,
                    );
                }
            }
        }
        earlier.push((
            g.scope.get_ref().clone(),
            endpoint,
            g.purposes
                .get_ref()
                .iter()
                .map(|p| p.get_ref().clone())
                .collect(),
        ));
        if let Some(grant) = grant(cx, g, &path, kind, refs) {
            out.push(grant);
        }
    }
    out
}

fn grant(
    cx: &mut Ctx<'_>,
    g: &GrantDef,
    path: &str,
    kind: Option<ClientKind>,
    refs: &Refs<'_>,
) -> Option<ScopeGrant> {
    let before = cx.errors.len();
    let scope = match refs.scopes.get(g.scope.get_ref()) {
        None => {
            let msg = format!("unknown scope \"{}\"", g.scope.get_ref());
            cx.err(
                g.scope.span(),
                format!("{path}.scope"),
                ErrorKind::UnknownScope,
                msg,
            );
            None
        }
        Some(s) => s,
    };
    if let (Some(s), Some(k)) = (scope, kind) {
        if s.endpoint == Endpoint::AuditRead && k != ClientKind::Auditor {
            let msg = format!(
                "scope \"{}\" ({}) may only be granted to auditor clients",
                s.id, s.endpoint
            );
            cx.err(
                g.scope.span(),
                format!("{path}.scope"),
                ErrorKind::KindMismatch,
                msg,
            );
        }
    }

    let purposes = g.purposes.get_ref();
    if purposes.is_empty() {
        let msg = "a grant must allow at least one purpose";
        cx.err(
            g.purposes.span(),
            format!("{path}.purposes"),
            ErrorKind::EmptyPurposes,
            msg,
        );
    }
    let mut seen = HashSet::new();
    for (k, p) in purposes.iter().enumerate() {
        let item = format!("{path}.purposes[{k}]");
        if !refs.purposes.contains(p.get_ref().as_str()) {
            let msg = format!("unknown purpose \"{}\"", p.get_ref());
            cx.err(p.span(), item, ErrorKind::UnknownPurpose, msg);
        } else if !seen.insert(p.get_ref()) {
            let msg = format!("purpose \"{}\" listed twice", p.get_ref());
            cx.err(p.span(), item, ErrorKind::DuplicateEntry, msg);
        }
    }

    let sections = sections(cx, g, path, scope);

    let authorization_required = match g.authorization.get_ref().as_str() {
        "required" => Some(true),
        "not_required" => Some(false),
        other => {
            let msg =
                format!("unknown authorization \"{other}\" (expected required or not_required)");
            cx.err(
                g.authorization.span(),
                format!("{path}.authorization"),
                ErrorKind::UnknownAuthorization,
                msg,
            );
            None
        }
    };
    if authorization_required == Some(true) && !refs.has_issuer {
        let msg = "authorization is required but no [[issuers]] is configured";
        cx.err(
            g.authorization.span(),
            format!("{path}.authorization"),
            ErrorKind::MissingIssuer,
            msg,
        );
    }
    // SPEC §4 and §6: a person's score needs the person's written consent
    // (征信业管理条例 art. 18), a subject's access log the subject's own
    // authorization; no grant may waive either.
    if let (Some(false), Some(s)) = (authorization_required, scope) {
        if matches!(
            s.endpoint,
            Endpoint::PersonScore | Endpoint::SubjectAccessLog
        ) {
            let msg = format!(
                "scope {} always needs the subject's authorization: authorization = \"required\"",
                s.id
            );
            cx.err(
                g.authorization.span(),
                format!("{path}.authorization"),
                ErrorKind::AuthorizationMandatory,
                msg,
            );
        }
    }
    let rate_limit = g
        .rate_limit
        .as_ref()
        .and_then(|r| checks::rate_limit(cx, r, &format!("{path}.rate_limit")));

    let (scope, authorization_required) = (scope?, authorization_required?);
    (cx.errors.len() == before).then(|| ScopeGrant {
        scope: scope.id.clone(),
        endpoint: scope.endpoint,
        purposes: purposes.iter().map(|p| p.get_ref().clone()).collect(),
        sections,
        authorization_required,
        max_authorization_lifetime_days: scope.max_authorization_lifetime_days,
        rate_limit,
    })
}

/// The grant's effective sections: its own list (checked against the
/// scope's) or the scope's.
fn sections(
    cx: &mut Ctx<'_>,
    g: &GrantDef,
    path: &str,
    scope: Option<&crate::policy::Scope>,
) -> Vec<Section> {
    let path = format!("{path}.sections");
    let Some(list) = &g.sections else {
        return scope.map(|s| s.sections.clone()).unwrap_or_default();
    };
    if let Some(s) = scope.filter(|s| !s.endpoint.has_sections()) {
        let msg = format!(
            "sections do not apply to scope \"{}\" ({})",
            s.id, s.endpoint
        );
        cx.err(list.span(), path, ErrorKind::SectionsNotApplicable, msg);
        return Vec::new();
    }
    let parsed = checks::sections(cx, list, &path);
    if list.get_ref().is_empty() {
        let msg = "a grant's sections, when given, must name at least one section";
        cx.err(list.span(), path.clone(), ErrorKind::EmptySections, msg);
    }
    if let Some(scope) = scope {
        for (k, name) in list.get_ref().iter().enumerate() {
            if let Some(sec) = Section::parse(name.get_ref()) {
                if !scope.sections.contains(&sec) {
                    let msg = format!("section \"{sec}\" is not in scope \"{}\"", scope.id);
                    cx.err(
                        name.span(),
                        format!("{path}[{k}]"),
                        ErrorKind::SectionOutsideScope,
                        msg,
                    );
                }
            }
        }
    }
    parsed
}
