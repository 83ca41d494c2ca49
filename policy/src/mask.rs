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
use std::collections::BTreeSet;

mod address;
mod name;
mod transforms;

pub use address::mask_address;
pub use name::mask_name;
use transforms::hash_with;
pub use transforms::{field_hash_key, hash, mask_card, mask_id, mask_phone};

/// Top-level keys besides the report sections that are always containers.
const OTHER_ROOTS: [&str; 2] = ["score", "sanctions"];

/// Inputs of masking that are not part of the profile. Its `Debug` leaves
/// the key out.
#[derive(Clone, Copy)]
pub struct MaskContext<'a> {
    /// The key `hash` pseudonyms are derived from (see [`field_hash_key`]).
    /// When empty, `hash`ed fields are removed instead (an unkeyed hash of
    /// an identifier is no pseudonym).
    pub pseudonym_key: &'a [u8],
    /// The client the answer goes to: `hash` pseudonyms are keyed per
    /// client.
    pub client: &'a str,
}

impl std::fmt::Debug for MaskContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaskContext")
            .field(
                "pseudonym_key",
                &format_args!("[{} bytes]", self.pseudonym_key.len()),
            )
            .field("client", &self.client)
            .finish()
    }
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
        pseudonym_key: ctx.pseudonym_key,
        client: ctx.client,
        key: None,
        path: String::with_capacity(64),
        report: MaskReport::default(),
    };
    match doc {
        Value::Object(map) => walker.object(map),
        other => {
            walker.report.removed += leaves(other);
            *other = Value::Object(Map::new());
        }
    }
    walker.report
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

/// One masking pass. `path` is the canonical path of the value being
/// visited, grown and cut back in place as the walk descends and returns
/// (no string is built per key).
struct Walker<'a> {
    profile: &'a FieldProfile,
    pseudonym_key: &'a [u8],
    client: &'a str,
    /// The client's field-hash key, derived on the first `hash` transform
    /// of the pass.
    key: Option<hmac::Key>,
    path: String,
    report: MaskReport,
}

impl Walker<'_> {
    /// Filters the members of the object at `self.path`.
    fn object(&mut self, map: &mut Map<String, Value>) {
        let at_root = self.path.is_empty();
        let mut removed = 0;
        map.retain(|key, v| {
            let plain = !key.is_empty() && !key.contains(['.', '[', ']']);
            let keep = plain && {
                let len = self.path.len();
                if !at_root {
                    self.path.push('.');
                }
                self.path.push_str(key);
                let keep = self.value(v, at_root && is_root(key));
                self.path.truncate(len);
                keep
            };
            if !keep {
                removed += leaves(v);
            }
            keep
        });
        self.report.removed += removed;
    }

    /// Filters `v` at `self.path`; returns whether it stays.
    fn value(&mut self, v: &mut Value, root: bool) -> bool {
        let container = root || self.profile.is_container(&self.path);
        match v {
            Value::Object(map) if container => {
                self.object(map);
                true
            }
            Value::Array(items) if container => {
                let len = self.path.len();
                self.path.push_str("[]");
                let mut removed = 0;
                items.retain_mut(|item| {
                    let keep = self.value(item, false);
                    if !keep {
                        removed += leaves(item);
                    }
                    keep
                });
                self.path.truncate(len);
                self.report.removed += removed;
                true
            }
            Value::Object(_) | Value::Array(_) => false,
            leaf => match self.profile.returned(&self.path) {
                Some(t) => self.transform(leaf, t),
                None => false,
            },
        }
    }

    /// Transforms a leaf at `self.path`; returns whether it stays.
    fn transform(&mut self, v: &mut Value, t: Transform) -> bool {
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
        if !self.report.returned.contains(self.path.as_str()) {
            self.report.returned.insert(self.path.clone());
        }
        if t.alters() && !self.report.masked.contains(self.path.as_str()) {
            self.report.masked.insert(self.path.clone());
        }
        true
    }

    /// The keyed pseudonym of `s`; `None` (the field is withheld) without
    /// a key.
    fn hash(&mut self, s: &str) -> Option<String> {
        if self.pseudonym_key.is_empty() {
            return None;
        }
        let key = self
            .key
            .get_or_insert_with(|| field_hash_key(self.pseudonym_key, self.client));
        Some(hash_with(key, s))
    }
}

#[cfg(test)]
mod tests;
