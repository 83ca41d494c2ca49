//! `policy`: the policy file parser and field masking of `credgate-policy`
//! (SPEC §5).
//!
//! The first byte picks the mode:
//! - even: the rest, as (lossy) UTF-8, is a policy file for
//!   `Policy::parse(text, "fuzz.toml")`. Errors must be located inside the
//!   text; every profile of an accepted policy is applied to a document
//!   holding every canonical field;
//! - odd: the rest drives `arbitrary` to build a field profile (canonical,
//!   near-canonical and arbitrary paths, any transform) and a JSON document
//!   (keys mostly from the canonical vocabulary), then `mask::apply`.
//!
//! Masking properties (the allow-list): every leaf left in the document is
//! at a path the profile returns; the report's `returned` set is exactly the
//! set of leaf paths left; `masked` ⊆ `returned` and only for altering
//! transforms; a container left is a top-level section, `score`,
//! `sanctions`, or lies on the way to a returned path; no key left is empty
//! or contains `.`, `[` or `]`; masked leaves are strings of the documented shape; with
//! only `keep`/`drop` rules, masking is idempotent. The mask functions
//! themselves are fed the document's strings.

#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use credgate_policy::canonical::schema::FIELDS;
use credgate_policy::canonical::Section;
use credgate_policy::mask::{self, MaskContext};
use credgate_policy::{FieldProfile, Policy, Transform};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const PSEUDONYM_KEY: &[u8] = b"fuzz pseudonym key";
/// Deepest document built in the structured mode.
const MAX_DEPTH: usize = 6;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        parse_policy(&String::from_utf8_lossy(rest));
    } else {
        let mut u = Unstructured::new(rest);
        let _ = structured_mask(&mut u);
    }
});

// === policy files ===

fn parse_policy(text: &str) {
    match Policy::parse(text, "fuzz.toml") {
        Ok(policy) => {
            let _ = policy.summary();
            for w in policy.warnings() {
                check_location(w, text);
            }
            for profile in policy.profiles() {
                for ctx in [PSEUDONYM_KEY, b""] {
                    let mut doc = full_document().clone();
                    let input = doc.clone();
                    let report =
                        mask::apply(profile, &mut doc, &MaskContext { pseudonym_key: ctx, client: "fuzz" });
                    check_masked(profile, &input, &doc, &report, ctx);
                }
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "a refused policy names a problem");
            let _ = errors.to_string();
            for e in errors.iter() {
                check_location(e, text);
            }
        }
    }
}

fn check_location(e: &credgate_policy::PolicyError, text: &str) {
    assert!(e.line >= 1 && e.column >= 1, "1-based location: {e}");
    let lines = text.split('\n').count();
    assert!(e.line <= lines, "line {} of {lines}", e.line);
    assert_eq!(e.origin, "fuzz.toml");
    let _ = (e.kind.as_str(), e.to_string());
}

/// A document holding every canonical field once (two array elements).
fn full_document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = Value::Object(Map::new());
        for (i, (path, _)) in FIELDS.iter().enumerate() {
            insert(
                &mut doc,
                path,
                Value::String(format!("张三 138{i:08} 浙江省宁波市海曙区")),
            );
        }
        doc
    })
}

/// Inserts `leaf` at a canonical `path` (`a.b[].c`), two elements per array.
fn insert(doc: &mut Value, path: &str, leaf: Value) {
    let segments: Vec<&str> = path.split('.').collect();
    insert_at(doc, &segments, leaf);
}

fn insert_at(node: &mut Value, segments: &[&str], leaf: Value) {
    let Some((first, rest)) = segments.split_first() else {
        *node = leaf;
        return;
    };
    let Value::Object(map) = node else {
        return;
    };
    let (key, is_array) = match first.strip_suffix("[]") {
        Some(k) => (k, true),
        None => (*first, false),
    };
    let empty = if rest.is_empty() && !is_array {
        Value::Null
    } else if is_array {
        Value::Array(vec![Value::Object(Map::new()), Value::Object(Map::new())])
    } else {
        Value::Object(Map::new())
    };
    let child = map.entry(key.to_owned()).or_insert(empty);
    if is_array {
        if let Value::Array(items) = child {
            for item in items {
                if rest.is_empty() {
                    *item = leaf.clone();
                } else {
                    insert_at(item, rest, leaf.clone());
                }
            }
        }
    } else {
        insert_at(child, rest, leaf);
    }
}

// === structured masking ===

/// Key vocabulary: every segment of every canonical path, the other roots,
/// and keys that try to pose as paths.
fn vocabulary() -> &'static [String] {
    static V: OnceLock<Vec<String>> = OnceLock::new();
    V.get_or_init(|| {
        let mut set = BTreeSet::new();
        for (path, _) in FIELDS {
            for seg in path.split('.') {
                set.insert(seg.trim_end_matches("[]").to_owned());
            }
        }
        for s in Section::ALL {
            set.insert(s.as_str().to_owned());
        }
        for k in [
            "score",
            "sanctions",
            "sources",
            "basic.name",
            "penalties[]",
            "a]b",
            "",
            "provenance",
        ] {
            set.insert(k.to_owned());
        }
        set.into_iter().collect()
    })
}

fn structured_mask(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let mut rules = BTreeMap::new();
    let n = u.int_in_range(0..=24)?;
    for _ in 0..n {
        let path = match u.int_in_range(0..=9)? {
            0..=5 => u.choose(FIELDS)?.0.to_owned(),
            6 => {
                // A canonical path cut short (a container path).
                let p = u.choose(FIELDS)?.0;
                let cut = u.int_in_range(0..=p.len())?;
                p.get(..cut).unwrap_or(p).to_owned()
            }
            7 => {
                let p = u.choose(FIELDS)?.0;
                format!("{p}{}", u.choose(&[".x", "[]", "[].name", ".", "[", "]"])?)
            }
            8 => {
                let parts: Vec<&String> = (0..u.int_in_range(1..=4)?)
                    .map(|_| u.choose(vocabulary()))
                    .collect::<arbitrary::Result<_>>()?;
                parts
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(u.choose(&[".", "[].", "[]"])?)
            }
            _ => String::arbitrary(u)?,
        };
        rules.insert(path, *u.choose(&Transform::ALL)?);
    }
    let profile = FieldProfile::new("fuzz", rules);
    let key: &[u8] = if bool::arbitrary(u)? {
        PSEUDONYM_KEY
    } else {
        b""
    };
    let mut doc = if u.ratio(1, 8)? {
        // Start from the complete document and let the bytes damage it.
        let mut d = full_document().clone();
        damage(u, &mut d, 0)?;
        d
    } else {
        json(u, 0, true)?
    };
    let input = doc.clone();
    let report = mask::apply(&profile, &mut doc, &MaskContext { pseudonym_key: key, client: "fuzz" });
    check_masked(&profile, &input, &doc, &report, key);
    // A few of the document's strings through every mask function (all of
    // them would slow the target down more than it finds).
    for s in strings(&input).into_iter().take(4) {
        check_mask_functions(s);
    }
    Ok(())
}

fn key(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    if u.ratio(7, 8)? {
        Ok(u.choose(vocabulary())?.clone())
    } else {
        String::arbitrary(u)
    }
}

fn json(u: &mut Unstructured<'_>, depth: usize, object: bool) -> arbitrary::Result<Value> {
    let choice = if object { 0 } else { u.int_in_range(0..=8)? };
    Ok(match choice {
        0 | 1 if depth < MAX_DEPTH => {
            let mut map = Map::new();
            for _ in 0..u.int_in_range(0..=6)? {
                map.insert(key(u)?, json(u, depth + 1, false)?);
            }
            Value::Object(map)
        }
        2 if depth < MAX_DEPTH => {
            let mut items = Vec::new();
            for _ in 0..u.int_in_range(0..=4)? {
                items.push(json(u, depth + 1, false)?);
            }
            Value::Array(items)
        }
        3 => Value::Null,
        4 => Value::Bool(bool::arbitrary(u)?),
        5 => Value::from(i64::arbitrary(u)?),
        6 => serde_json::Number::from_f64(f64::arbitrary(u)?).map_or(Value::Null, Value::Number),
        _ => Value::String(String::arbitrary(u)?),
    })
}

/// Replaces some values of `v` (recursively) with arbitrary ones.
fn damage(u: &mut Unstructured<'_>, v: &mut Value, depth: usize) -> arbitrary::Result<()> {
    if u.is_empty() {
        return Ok(());
    }
    if u.ratio(1, 6)? {
        *v = json(u, depth.max(MAX_DEPTH - 2), false)?;
        return Ok(());
    }
    match v {
        Value::Object(map) => {
            for (_, child) in map.iter_mut() {
                damage(u, child, depth + 1)?;
            }
            if u.ratio(1, 8)? {
                map.insert(key(u)?, json(u, depth + 1, false)?);
            }
        }
        Value::Array(items) => {
            for child in items.iter_mut() {
                damage(u, child, depth + 1)?;
            }
        }
        _ => {}
    }
    Ok(())
}

// === properties ===

fn check_masked(
    profile: &FieldProfile,
    input: &Value,
    out: &Value,
    report: &mask::MaskReport,
    key: &[u8],
) {
    let Value::Object(root) = out else {
        panic!("masking leaves an object");
    };
    let mut leaves = BTreeSet::new();
    let mut containers = BTreeSet::new();
    for (k, v) in root {
        assert!(
            !k.is_empty() && !k.contains(['.', '[', ']']),
            "key posing as a path survived: {k:?}"
        );
        walk(
            v,
            k.clone(),
            true,
            &mut leaves,
            &mut containers,
            profile,
            key,
        );
    }
    for path in &leaves {
        assert!(
            profile.returned(path).is_some(),
            "leaf at {path:?} is not returned by the profile"
        );
    }
    assert_eq!(
        &report.returned, &leaves,
        "report.returned is the set of leaves left"
    );
    for path in &report.masked {
        assert!(report.returned.contains(path));
        assert!(
            profile.returned(path).is_some_and(Transform::alters),
            "{path:?} masked by keep"
        );
    }
    for path in &containers {
        assert!(
            on_the_way(profile, path),
            "container {path:?} is on no returned path"
        );
    }
    if !input.is_object() {
        assert_eq!(out, &Value::Object(Map::new()));
    }
    // `keep`/`drop` only: the output is a fixed point.
    if profile
        .rules()
        .values()
        .all(|t| matches!(t, Transform::Keep | Transform::Drop))
    {
        let mut again = out.clone();
        let r2 = mask::apply(profile, &mut again, &MaskContext { pseudonym_key: key, client: "fuzz" });
        assert_eq!(&again, out, "keep/drop masking is idempotent");
        assert_eq!(r2.removed, 0);
        assert_eq!(r2.returned, report.returned);
    }
}

/// Whether `path` is a proper prefix (up to `.` or `[`) of a returned path.
fn on_the_way(profile: &FieldProfile, path: &str) -> bool {
    profile.rules().iter().any(|(p, t)| {
        t.returns()
            && p.len() > path.len()
            && p.starts_with(path)
            && matches!(p.as_bytes()[path.len()], b'.' | b'[')
    })
}

/// Collects leaf and container paths and checks the shapes of containers
/// and leaves (no key is empty, so paths are unambiguous).
fn walk(
    v: &Value,
    path: String,
    top: bool,
    leaves: &mut BTreeSet<String>,
    containers: &mut BTreeSet<String>,
    profile: &FieldProfile,
    key: &[u8],
) {
    match v {
        Value::Object(map) => {
            if top {
                assert!(
                    Section::parse(&path).is_some()
                        || path == "score"
                        || path == "sanctions"
                        || on_the_way(profile, &path),
                    "unexpected top-level container {path:?}"
                );
            } else {
                containers.insert(path.clone());
            }
            for (k, child) in map {
                assert!(
                    !k.is_empty() && !k.contains(['.', '[', ']']),
                    "key posing as a path survived: {k:?}"
                );
                walk(
                    child,
                    format!("{path}.{k}"),
                    false,
                    leaves,
                    containers,
                    profile,
                    key,
                );
            }
        }
        Value::Array(items) => {
            if top {
                assert!(
                    Section::parse(&path).is_some()
                        || path == "score"
                        || path == "sanctions"
                        || on_the_way(profile, &path),
                    "unexpected top-level container {path:?}"
                );
            } else {
                containers.insert(path.clone());
            }
            for child in items {
                walk(
                    child,
                    format!("{path}[]"),
                    false,
                    leaves,
                    containers,
                    profile,
                    key,
                );
            }
        }
        leaf => {
            match profile.returned(&path) {
                Some(Transform::Hash) => {
                    assert!(!key.is_empty(), "hash without a key removes the field");
                    let Value::String(s) = leaf else {
                        panic!("hash yields a string")
                    };
                    assert!(s.len() == 34 && s.starts_with("h:"), "pseudonym shape");
                }
                Some(t) if t.alters() => assert!(leaf.is_string(), "masks apply to strings only"),
                _ => {}
            }
            leaves.insert(path);
        }
    }
}

fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Object(m) => m.values().flat_map(strings).collect(),
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// The documented shapes of the mask functions.
fn check_mask_functions(s: &str) {
    let chars = s.chars().count();
    let kept = |out: &str| out.chars().filter(|&c| c != '*').count();

    let id = mask::mask_id(s);
    assert_eq!(id.chars().count(), chars, "mask_id keeps the length");
    assert!(kept(&id) <= 10, "mask_id keeps at most 6 + 4 characters");

    let name = mask::mask_name(s);
    // Han names keep their length (`欧阳**`); others get a fixed-width mask
    // (the same ranges as `policy/src/mask/name.rs`).
    let han = s.chars().next().is_some_and(|c| {
        matches!(c,
            '\u{4E00}'..='\u{9FFF}'
            | '\u{3400}'..='\u{4DBF}'
            | '\u{F900}'..='\u{FAFF}'
            | '\u{20000}'..='\u{2FA1F}')
    });
    if han || chars == 0 {
        assert_eq!(name.chars().count(), chars, "mask_name keeps a Han name's length");
    } else {
        assert_eq!(name.chars().count(), 4, "mask_name: fixed width for other names");
    }
    assert!(
        kept(&name) <= 2,
        "mask_name keeps at most a compound surname"
    );
    assert!(s.starts_with(name.trim_end_matches('*')) || name.chars().all(|c| c == '*'));

    let card = mask::mask_card(s);
    assert!(
        kept(&card) <= 10,
        "mask_card keeps at most 6 + 4 characters"
    );

    let phone = mask::mask_phone(s);
    assert!(
        phone.chars().filter(char::is_ascii_digit).count() <= 11,
        "mask_phone keeps few digits"
    );

    let address = mask::mask_address(s);
    assert!(
        address == "***" || s.starts_with(&address),
        "mask_address is a prefix or ***"
    );

    let h = mask::hash(PSEUDONYM_KEY, "fuzz", s);
    assert!(h.len() == 34 && h.starts_with("h:") && h[2..].bytes().all(|b| b.is_ascii_hexdigit()));
}
