//! Field profiles: allow-lists over canonical field paths, each with a
//! [`Transform`], and a digest that lets an audit record prove which rules
//! applied.

use crate::canonical::schema::FieldKind;
use ring::digest;
use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// What happens to a field on its way out (SPEC §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transform {
    /// Returned as is.
    Keep,
    /// Removed (same as not listing the path).
    Drop,
    /// ID number or USCC: first 6 and last 4 kept (`330203********1234`).
    MaskId,
    /// Person name: surname kept (`张*`, `欧阳**`).
    MaskName,
    /// Phone: mobile `138****5678`, landline `0574-****4321`.
    MaskPhone,
    /// Card or account number: first 6 and last 4 kept.
    MaskCard,
    /// Address: kept down to district/county level.
    MaskAddress,
    /// Keyed pseudonym: `h:` + 32 hex digits of HMAC-SHA256.
    Hash,
}

/// A named field profile. Paths absent from `rules`, or mapped to
/// [`Transform::Drop`], never leave the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldProfile {
    id: String,
    rules: BTreeMap<String, Transform>,
    digest: [u8; 32],
    /// `digest` in hex, as every audit record of the profile carries it.
    digest_hex: String,
    /// The proper prefixes of every returned path (derived from `rules`
    /// once, so masking does not rebuild it per request). Looked up for
    /// every container in every answer; foldhash instead of SipHash, as its
    /// members come from the policy, not from requests or platforms.
    containers: HashSet<String, foldhash::fast::RandomState>,
}

// === impl Transform ===

impl Transform {
    /// Every transform.
    pub const ALL: [Transform; 8] = [
        Transform::Keep,
        Transform::Drop,
        Transform::MaskId,
        Transform::MaskName,
        Transform::MaskPhone,
        Transform::MaskCard,
        Transform::MaskAddress,
        Transform::Hash,
    ];

    /// The policy-file name (`keep`, `mask_id`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Transform::Keep => "keep",
            Transform::Drop => "drop",
            Transform::MaskId => "mask_id",
            Transform::MaskName => "mask_name",
            Transform::MaskPhone => "mask_phone",
            Transform::MaskCard => "mask_card",
            Transform::MaskAddress => "mask_address",
            Transform::Hash => "hash",
        }
    }

    /// Parses a policy-file name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Transform> {
        Transform::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether this transform may be applied to a field of `kind`:
    /// `keep`, `drop` and `hash` to anything; each mask to its own kind
    /// (`mask_id` to ID numbers and USCCs).
    pub fn applies_to(self, kind: FieldKind) -> bool {
        match self {
            Transform::Keep | Transform::Drop | Transform::Hash => true,
            Transform::MaskId => matches!(kind, FieldKind::IdNumber | FieldKind::Uscc),
            Transform::MaskName => kind == FieldKind::PersonName,
            Transform::MaskPhone => kind == FieldKind::Phone,
            Transform::MaskCard => kind == FieldKind::CardNumber,
            Transform::MaskAddress => kind == FieldKind::Address,
        }
    }

    /// Whether the field is returned at all.
    pub fn returns(self) -> bool {
        self != Transform::Drop
    }

    /// Whether the returned value differs from the source (masks and hash).
    pub fn alters(self) -> bool {
        !matches!(self, Transform::Keep | Transform::Drop)
    }
}

impl fmt::Display for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// === impl FieldProfile ===

impl FieldProfile {
    /// Builds a profile and computes its digest. Paths are not checked here
    /// (policy validation does); a non-canonical path simply never matches
    /// canonical data.
    pub fn new(id: impl Into<String>, rules: BTreeMap<String, Transform>) -> FieldProfile {
        let digest = digest_rules(&rules);
        let containers = container_paths(&rules);
        FieldProfile {
            id: id.into(),
            rules,
            digest,
            digest_hex: hex::encode(digest),
            containers,
        }
    }

    /// The profile id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Canonical path → transform, as configured (including `drop` rules).
    pub fn rules(&self) -> &BTreeMap<String, Transform> {
        &self.rules
    }

    /// SHA-256 over the canonical serialisation of the rules: the line
    /// `credgate-profile-v1`, then one line `path=transform` per rule in
    /// path order (UTF-8 byte order), every line ending in `\n`. The id is
    /// not included: two profiles with the same rules behave the same.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    /// The digest as 64 lower-case hex digits.
    pub fn digest_hex(&self) -> String {
        self.digest_hex.clone()
    }

    /// The transform for `path` if it is returned (listed and not `drop`).
    pub fn returned(&self, path: &str) -> Option<Transform> {
        self.rules.get(path).copied().filter(|t| t.returns())
    }

    /// Whether `path` is a proper prefix of a returned path: a container
    /// allowed on the way to an allowed leaf (`penalties`, `penalties[]`,
    /// `penalties[].legal_representative`, …).
    pub fn is_container(&self, path: &str) -> bool {
        self.containers.contains(path)
    }
}

/// The proper prefixes of every returned path (see
/// [`FieldProfile::is_container`]).
fn container_paths(
    rules: &BTreeMap<String, Transform>,
) -> HashSet<String, foldhash::fast::RandomState> {
    let mut out = HashSet::default();
    for path in rules.iter().filter(|(_, t)| t.returns()).map(|(p, _)| p) {
        for (i, _) in path.match_indices(['.', '[']) {
            out.insert(path[..i].to_owned());
        }
    }
    out
}

/// The canonical serialisation hashed by [`FieldProfile::digest`].
fn canonical_text(rules: &BTreeMap<String, Transform>) -> String {
    let mut text = String::from("credgate-profile-v1\n");
    for (path, transform) in rules {
        text.push_str(path);
        text.push('=');
        text.push_str(transform.as_str());
        text.push('\n');
    }
    text
}

fn digest_rules(rules: &BTreeMap<String, Transform>) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, canonical_text(rules).as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(pairs: &[(&str, Transform)]) -> BTreeMap<String, Transform> {
        pairs.iter().map(|(p, t)| ((*p).to_owned(), *t)).collect()
    }

    #[test]
    fn digest_is_sha256_of_canonical_text() {
        let p = FieldProfile::new(
            "a",
            rules(&[
                ("basic.name", Transform::Keep),
                ("basic.uscc", Transform::MaskId),
            ]),
        );
        let expected = digest::digest(
            &digest::SHA256,
            b"credgate-profile-v1\nbasic.name=keep\nbasic.uscc=mask_id\n",
        );
        assert_eq!(p.digest().as_slice(), expected.as_ref());
        assert_eq!(p.digest_hex().len(), 64);
    }

    #[test]
    fn digest_depends_on_rules_not_id() {
        let a = FieldProfile::new("a", rules(&[("basic.name", Transform::Keep)]));
        let b = FieldProfile::new("b", rules(&[("basic.name", Transform::Keep)]));
        let c = FieldProfile::new("a", rules(&[("basic.name", Transform::Hash)]));
        assert_eq!(a.digest(), b.digest());
        assert_ne!(a.digest(), c.digest());
    }

    #[test]
    fn transform_kinds() {
        assert!(Transform::MaskId.applies_to(FieldKind::Uscc));
        assert!(Transform::MaskId.applies_to(FieldKind::IdNumber));
        assert!(!Transform::MaskId.applies_to(FieldKind::Phone));
        assert!(!Transform::MaskName.applies_to(FieldKind::Text));
        assert!(Transform::Hash.applies_to(FieldKind::Number));
        for t in Transform::ALL {
            assert_eq!(Transform::parse(t.as_str()), Some(t));
        }
        assert_eq!(Transform::parse("mask"), None);
    }

    #[test]
    fn drop_is_not_returned() {
        let p = FieldProfile::new(
            "a",
            rules(&[
                ("basic.name", Transform::Drop),
                ("basic.uscc", Transform::Keep),
            ]),
        );
        assert_eq!(p.returned("basic.name"), None);
        assert_eq!(p.returned("basic.uscc"), Some(Transform::Keep));
        assert_eq!(p.returned("basic.status"), None);
    }
}
