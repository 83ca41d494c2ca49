//! Applying a field profile to a response document (SPEC §5).
//!
//! The document is a JSON object whose top-level keys are the first segment
//! of canonical paths: `{"basic": {...}, "penalties": [...], "score": {...},
//! "sanctions": {"sources": [...]}}`. Array elements add `[]` to the path
//! (`penalties[].decision_no`). Apply it to the data only and add
//! provenance afterwards: anything not allowed is removed.
//!
//! Allow-list rules:
//! - A leaf (string, number, boolean or null) survives only when its exact
//!   path is in the profile with a transform other than `drop`; it is then
//!   transformed. Masks apply to strings only: a non-string under a mask is
//!   removed. `hash` applies to strings, numbers and booleans (their JSON
//!   text); `keep` to any leaf.
//! - An object or array survives only when its path is a proper prefix of a
//!   returned path, or it is the value of a known top-level key (a report
//!   section, `score`, `sanctions`). A surviving container is kept even if
//!   filtering empties it, so a section whose fields are all withheld is
//!   `{}` (or `[]`): present, but leaking nothing. Array elements are
//!   filtered like values; elements that are not allowed are removed, so a
//!   list whose element fields are all withheld is `[]` (no count leaks).
//! - A value where the profile expects the other shape (a container at a
//!   leaf path, a leaf at a container path) is removed.
//! - Keys that are empty or contain `.`, `[` or `]` are removed, so no key
//!   can pose as a path it is not (an empty key would make `{"": {"": v}}`
//!   read as the path of a top-level `""`).
//! - A document that is not an object becomes `{}`.

use crate::canonical::Section;
use crate::profile::{FieldProfile, Transform};
use ring::hmac;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashSet};

mod address;
mod name;
mod transforms;

pub use address::mask_address;
pub use name::mask_name;
use transforms::hash_with;
pub use transforms::{hash, mask_card, mask_id, mask_phone};

/// Top-level keys besides the report sections that are always containers.
const OTHER_ROOTS: [&str; 2] = ["score", "sanctions"];

/// Inputs of masking that are not part of the profile.
#[derive(Clone, Copy, Debug)]
pub struct MaskContext<'a> {
    /// HMAC-SHA256 key for `hash` pseudonyms. When empty, `hash`ed fields
    /// are removed instead (an unkeyed hash of an identifier is no
    /// pseudonym).
    pub pseudonym_key: &'a [u8],
}

/// What masking did, for the audit record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaskReport {
    /// Canonical paths of the leaves returned (masked or not).
    pub returned: BTreeSet<String>,
    /// Canonical paths of returned leaves whose value was masked or hashed.
    pub masked: BTreeSet<String>,
    /// Number of leaf values withheld (an empty container counts as one).
    pub removed: usize,
}

/// Applies `profile` to `doc` in place (see the module docs for the rules).
pub fn apply(profile: &FieldProfile, doc: &mut Value, ctx: &MaskContext<'_>) -> MaskReport {
    let mut walker = Walker {
        profile,
        containers: container_paths(profile),
        key: (!ctx.pseudonym_key.is_empty())
            .then(|| hmac::Key::new(hmac::HMAC_SHA256, ctx.pseudonym_key)),
        report: MaskReport::default(),
    };
    match doc {
        Value::Object(map) => walker.object(map, ""),
        other => {
            walker.report.removed += leaves(other);
            *other = Value::Object(Map::new());
        }
    }
    walker.report
}

/// The proper prefixes of every returned path: the containers allowed on
/// the way to an allowed leaf (`penalties`, `penalties[]`,
/// `penalties[].legal_representative`, …).
fn container_paths(profile: &FieldProfile) -> HashSet<String> {
    let mut out = HashSet::new();
    for path in profile
        .rules()
        .iter()
        .filter(|(_, t)| t.returns())
        .map(|(p, _)| p)
    {
        for (i, _) in path.match_indices(['.', '[']) {
            out.insert(path[..i].to_owned());
        }
    }
    out
}

/// Number of leaves in `v` (an empty container counts as one).
fn leaves(v: &Value) -> usize {
    match v {
        Value::Object(m) if !m.is_empty() => m.values().map(leaves).sum(),
        Value::Array(a) if !a.is_empty() => a.iter().map(leaves).sum(),
        _ => 1,
    }
}

fn is_root(key: &str) -> bool {
    Section::parse(key).is_some() || OTHER_ROOTS.contains(&key)
}

struct Walker<'a> {
    profile: &'a FieldProfile,
    containers: HashSet<String>,
    key: Option<hmac::Key>,
    report: MaskReport,
}

impl Walker<'_> {
    fn object(&mut self, map: &mut Map<String, Value>, path: &str) {
        let keys: Vec<String> = map.keys().cloned().collect();
        for key in keys {
            let plain = !key.is_empty() && !key.contains(['.', '[', ']']);
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            let root = path.is_empty() && is_root(&key);
            let keep = match map.get_mut(&key) {
                Some(v) => plain && self.value(v, &child, root),
                None => true,
            };
            if !keep {
                if let Some(v) = map.remove(&key) {
                    self.report.removed += leaves(&v);
                }
            }
        }
    }

    /// Filters `v` at `path`; returns whether it stays.
    fn value(&mut self, v: &mut Value, path: &str, root: bool) -> bool {
        let container = root || self.containers.contains(path);
        match v {
            Value::Object(map) if container => {
                self.object(map, path);
                true
            }
            Value::Array(items) if container => {
                let elem = format!("{path}[]");
                let mut removed = 0;
                items.retain_mut(|item| {
                    let keep = self.value(item, &elem, false);
                    if !keep {
                        removed += leaves(item);
                    }
                    keep
                });
                self.report.removed += removed;
                true
            }
            Value::Object(_) | Value::Array(_) => false,
            leaf => match self.profile.returned(path) {
                Some(t) => self.transform(leaf, t, path),
                None => false,
            },
        }
    }

    /// Transforms a leaf; returns whether it stays.
    fn transform(&mut self, v: &mut Value, t: Transform, path: &str) -> bool {
        let out = match (t, &*v) {
            (Transform::Keep, _) => None,
            (Transform::Hash, Value::String(s)) => self.hash(s),
            (Transform::Hash, Value::Number(n)) => self.hash(&n.to_string()),
            (Transform::Hash, Value::Bool(b)) => self.hash(&b.to_string()),
            (Transform::MaskId, Value::String(s)) => Some(mask_id(s)),
            (Transform::MaskName, Value::String(s)) => Some(mask_name(s)),
            (Transform::MaskPhone, Value::String(s)) => Some(mask_phone(s)),
            (Transform::MaskCard, Value::String(s)) => Some(mask_card(s)),
            (Transform::MaskAddress, Value::String(s)) => Some(mask_address(s)),
            _ => return false,
        };
        if let Some(out) = out {
            *v = Value::String(out);
        } else if t != Transform::Keep {
            return false;
        }
        self.report.returned.insert(path.to_owned());
        if t.alters() {
            self.report.masked.insert(path.to_owned());
        }
        true
    }

    fn hash(&self, s: &str) -> Option<String> {
        self.key.as_ref().map(|k| hash_with(k, s))
    }
}

#[cfg(test)]
mod tests;
