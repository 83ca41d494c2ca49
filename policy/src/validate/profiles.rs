//! Validation of `[[profiles]]`: ids, canonical paths, transform names and
//! transform/field-kind fit.

use super::Ctx;
use crate::canonical::schema::kind_of;
use crate::error::ErrorKind;
use crate::model::ProfileDef;
use crate::profile::{FieldProfile, Transform};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use toml::Spanned;

/// The declared profiles.
pub(crate) struct DeclaredProfiles {
    /// Valid profiles in file order.
    pub(crate) valid: Vec<Arc<FieldProfile>>,
    /// Every declared id → the profile when its declaration is valid.
    pub(crate) by_id: HashMap<String, Option<Arc<FieldProfile>>>,
}

/// Validates every profile.
pub(crate) fn build(cx: &mut Ctx<'_>, defs: &[Spanned<ProfileDef>]) -> DeclaredProfiles {
    let mut seen = HashMap::new();
    let mut out = DeclaredProfiles {
        valid: Vec::new(),
        by_id: HashMap::new(),
    };
    for (i, def) in defs.iter().enumerate() {
        let def = def.get_ref();
        let first = cx.declare(&mut seen, &def.id, format!("profiles[{i}].id"), "profile");
        let profile = profile(cx, def, i).map(Arc::new);
        if first {
            if let Some(p) = &profile {
                out.valid.push(Arc::clone(p));
            }
            out.by_id.insert(def.id.get_ref().clone(), profile);
        }
    }
    out
}

fn profile(cx: &mut Ctx<'_>, def: &ProfileDef, i: usize) -> Option<FieldProfile> {
    let mut rules = BTreeMap::new();
    let mut ok = true;
    for (path, value) in def.fields.get_ref() {
        let key_path = format!("profiles[{i}].fields.\"{}\"", path.get_ref());
        let kind = kind_of(path.get_ref());
        if kind.is_none() {
            let msg = format!("unknown canonical field \"{}\"", path.get_ref());
            cx.err(path.span(), key_path.clone(), ErrorKind::UnknownField, msg);
            ok = false;
        }
        let name = &value.0;
        let Some(transform) = Transform::parse(name) else {
            let msg = format!(
                "unknown transform \"{name}\" (expected one of {})",
                Transform::ALL.map(Transform::as_str).join(", ")
            );
            cx.err(path.span(), key_path, ErrorKind::UnknownTransform, msg);
            ok = false;
            continue;
        };
        let Some(kind) = kind else { continue };
        if !transform.applies_to(kind) {
            let msg = format!(
                "transform {transform} does not apply to \"{}\" (a {kind:?} field)",
                path.get_ref()
            );
            cx.err(path.span(), key_path, ErrorKind::TransformKindMismatch, msg);
            ok = false;
            continue;
        }
        if transform == Transform::Keep && kind.is_personal() {
            let msg = format!(
                "personal field \"{}\" is kept unmasked; consider a mask or hash",
                path.get_ref()
            );
            cx.warn(path.span(), key_path, ErrorKind::PersonalFieldKept, msg);
        }
        rules.insert(path.get_ref().clone(), transform);
    }
    ok.then(|| FieldProfile::new(def.id.get_ref().clone(), rules))
}
