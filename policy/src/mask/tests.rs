//! Masking tests: the allow-list walk, the transforms' properties, and the
//! property that a masked document only ever holds allowed paths.

use super::*;
use crate::canonical::schema::FIELDS;
use crate::{Policy, DEMO_POLICY};
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;

const KEY: MaskContext<'static> = MaskContext {
    pseudonym_key: b"test-key",
    client: "bank-nb",
};

fn profile(pairs: &[(&str, Transform)]) -> FieldProfile {
    FieldProfile::new(
        "t",
        pairs.iter().map(|(p, t)| ((*p).to_owned(), *t)).collect(),
    )
}

fn demo_profile(id: &str) -> FieldProfile {
    let p = Policy::parse(DEMO_POLICY, "demo.toml").unwrap_or_else(|e| panic!("{e}"));
    let profile = p.profile(id).unwrap_or_else(|| panic!("profile {id}"));
    FieldProfile::clone(profile)
}

#[test]
fn bank_profile_masks_personal_data_and_drops_unknowns() {
    let mut doc = json!({
        "basic": {
            "name": "宁波示例科技有限公司",
            "uscc": "91330203MA2H123456",
            "legal_representative": {"name": "欧阳娜娜", "id_number": "330203199001011234", "phone": "13812345678", "nickname": "x"},
            "registered_address": "浙江省宁波市海曙区中山西路138号",
            "bank_account": "6222021234567890123",
            "future_field": "secret"
        },
        "penalties": [{"decision_no": "甬市监罚〔2023〕1号", "amount_cny": 5000.0, "legal_representative": {"name": "张三"}}],
        "redlist": [{"list_name": "A级纳税人"}],
        "platform_extra": {"anything": 1}
    });
    let report = apply(&demo_profile("bank-standard"), &mut doc, &KEY);
    assert_eq!(
        doc,
        json!({
            "basic": {
                "name": "宁波示例科技有限公司",
                "uscc": "91330203MA2H123456",
                "legal_representative": {"name": "欧阳**", "id_number": "330203********1234", "phone": "138****5678"},
                "registered_address": "浙江省宁波市海曙区",
                "bank_account": "622202*********0123"
            },
            "penalties": [{"decision_no": "甬市监罚〔2023〕1号", "amount_cny": 5000.0, "legal_representative": {"name": "张*"}}],
            "redlist": []
        })
    );
    assert!(report
        .masked
        .contains("basic.legal_representative.id_number"));
    assert!(report
        .masked
        .contains("penalties[].legal_representative.name"));
    assert!(report.returned.contains("basic.name"));
    assert!(!report.masked.contains("basic.name"));
    // nickname, future_field, the redlist entry, platform_extra.anything
    assert_eq!(report.removed, 4);
}

#[test]
fn a_section_with_no_allowed_field_is_empty() {
    let mut doc = json!({"basic": {"name": "x", "uscc": "y"}, "score": {"value": 700}, "evaluation": {"level": "A"}});
    apply(
        &profile(&[("evaluation.level", Transform::Drop)]),
        &mut doc,
        &KEY,
    );
    assert_eq!(doc, json!({"basic": {}, "score": {}, "evaluation": {}}));
}

#[test]
fn masks_apply_to_strings_only_and_hash_needs_a_key() {
    let p = profile(&[
        ("basic.legal_representative.id_number", Transform::MaskId),
        ("basic.contact_phone", Transform::MaskPhone),
        ("basic.registered_capital_cny", Transform::Hash),
        ("basic.uscc", Transform::Hash),
    ]);
    let src = json!({"basic": {
        "legal_representative": {"id_number": 330203199001011234_u64},
        "contact_phone": null,
        "registered_capital_cny": 100.5,
        "uscc": "91330203MA2H123456"
    }});
    let mut doc = src.clone();
    let report = apply(&p, &mut doc, &KEY);
    let uscc = hash(b"test-key", "bank-nb", "91330203MA2H123456");
    let capital = hash(b"test-key", "bank-nb", "100.5");
    assert_eq!(
        doc,
        json!({"basic": {"legal_representative": {}, "registered_capital_cny": capital, "uscc": uscc}})
    );
    assert_eq!(report.removed, 2);
    let mut doc = src;
    apply(
        &p,
        &mut doc,
        &MaskContext {
            pseudonym_key: b"",
            client: "bank-nb",
        },
    );
    assert_eq!(doc, json!({"basic": {"legal_representative": {}}}));
}

#[test]
fn hash_pseudonyms_are_per_client_and_apart_from_the_audit_logs() {
    let id = "330203199001011234";
    let p = profile(&[("basic.legal_representative.id_number", Transform::Hash)]);
    let answer = |client: &str| {
        let mut doc = json!({"basic": {"legal_representative": {"id_number": id}}});
        apply(
            &p,
            &mut doc,
            &MaskContext {
                pseudonym_key: b"test-key",
                client,
            },
        );
        doc["basic"]["legal_representative"]["id_number"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Stable for one client (a bank can follow a legal representative).
    assert_eq!(answer("bank-nb"), answer("bank-nb"));
    assert_eq!(answer("bank-nb"), hash(b"test-key", "bank-nb", id));
    // Another client cannot join on it.
    assert_ne!(answer("bank-nb"), answer("bank-hz"));
    // Nor can anyone match it against the audit log's subject pseudonym,
    // HMAC-SHA256(pseudonym key, identifier).
    let audit = hex::encode(
        ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"test-key"),
            id.as_bytes(),
        )
        .as_ref(),
    );
    let ours = answer("bank-nb");
    assert!(
        !audit.starts_with(&ours[2..]),
        "{ours} is a prefix of {audit}"
    );
}

#[test]
fn shapes_that_do_not_fit_are_removed() {
    let p = profile(&[
        ("basic.name", Transform::Keep),
        ("penalties[].basis", Transform::Keep),
    ]);
    let mut doc = json!({
        "basic": {"name": {"first": "x"}},
        "penalties": {"basis": "not a list"},
        "sanctions": "flat"
    });
    apply(&p, &mut doc, &KEY);
    assert_eq!(doc, json!({"basic": {}, "penalties": {}}));
    let mut doc = json!(["not", "an", "object"]);
    let report = apply(&p, &mut doc, &KEY);
    assert_eq!(doc, json!({}));
    assert_eq!(report.removed, 3);
}

#[test]
fn keys_posing_as_paths_are_removed() {
    let p = profile(&[("basic.legal_representative.name", Transform::Keep)]);
    let mut doc = json!({"basic": {"legal_representative.name": "张三", "legal_representative": {"name": "李四"}}});
    apply(&p, &mut doc, &KEY);
    assert_eq!(
        doc,
        json!({"basic": {"legal_representative": {"name": "李四"}}})
    );
}

/// Found by `fuzz/policy`: an empty key joined to the empty root path
/// gave `{"": {"": v}}` the path `""`, so a profile listing `""` (or any
/// path starting with `.`, making `""` a container) returned a leaf at a
/// path it does not list. Empty keys are removed like keys with `.`.
#[test]
fn empty_keys_are_removed() {
    let p = profile(&[
        ("", Transform::Keep),
        (".x", Transform::Keep),
        ("basic.name", Transform::Keep),
    ]);
    let mut doc =
        json!({"": {"": "leaked", "basic": {"name": "leaked"}}, "basic": {"": "x", "name": "n"}});
    let report = apply(&p, &mut doc, &KEY);
    assert_eq!(doc, json!({"basic": {"name": "n"}}));
    assert_eq!(
        report.returned.into_iter().collect::<Vec<_>>(),
        ["basic.name"]
    );
}

#[test]
fn sanctions_sources_are_filtered_per_element() {
    let p = demo_profile("department-full");
    let mut doc = json!({"sanctions": {"sources": [
        {"platform": "xinyong-ningbo", "kind": "blacklist", "basis": "b", "internal_id": 7},
        {"platform": "xinyong-zhejiang"}
    ], "raw": "x"}});
    let report = apply(&p, &mut doc, &KEY);
    assert_eq!(
        doc,
        json!({"sanctions": {"sources": [
            {"platform": "xinyong-ningbo", "kind": "blacklist", "basis": "b"},
            {"platform": "xinyong-zhejiang"}
        ]}})
    );
    assert_eq!(report.removed, 2);
}

// === properties ===

proptest! {
    #[test]
    fn mask_id_keeps_exactly_first_6_and_last_4(id in "[0-9A-Z张欧阳市区路号a-z*-]{18}") {
        let chars: Vec<char> = id.chars().collect();
        let head: String = chars[..6].iter().collect();
        let tail: String = chars[14..].iter().collect();
        prop_assert_eq!(mask_id(&id), format!("{head}********{tail}"));
    }

    #[test]
    fn mask_id_of_other_lengths_hides_everything(id in "[0-9A-Z张欧阳市区路号a-z*-]{0,30}") {
        let n = id.chars().count();
        prop_assume!(n != 18 && n != 15);
        prop_assert_eq!(mask_id(&id), "*".repeat(n));
    }

    #[test]
    fn mobile_phones_keep_3_and_4(tail in "[0-9]{10}") {
        let phone = format!("1{tail}");
        prop_assert_eq!(mask_phone(&phone), format!("{}****{}", &phone[..3], &phone[7..]));
    }

    #[test]
    fn mask_phone_always_hides_at_least_3_digits(s in "[0-9+ -]{0,20}") {
        let out = mask_phone(&s);
        let kept = out.chars().filter(char::is_ascii_digit).count();
        let total = s.chars().filter(char::is_ascii_digit).count();
        prop_assert!(total - kept >= total.min(3), "{} -> {}", s, out);
        prop_assert!(kept <= 11, "{} -> {}", s, out);
    }

    #[test]
    fn cards_keep_first_6_and_last_4(card in "[0-9]{14,25}") {
        prop_assert_eq!(mask_card(&card), format!("{}{}{}", &card[..6], "*".repeat(card.len() - 10), &card[card.len() - 4..]));
    }

    #[test]
    fn names_reveal_at_most_the_surname(name in "[0-9A-Z张欧阳司马诸葛a-z -]{0,8}") {
        let out: Vec<char> = mask_name(&name).chars().collect();
        let chars: Vec<char> = name.chars().collect();
        // Han names keep their length; others get a fixed-width mask.
        let han = chars.first().is_some_and(|c| ('\u{4E00}'..='\u{9FFF}').contains(c));
        if han || chars.is_empty() {
            prop_assert_eq!(out.len(), chars.len());
        } else {
            prop_assert_eq!(out.len(), 4);
        }
        let kept = out.iter().take_while(|c| **c != '*').count();
        prop_assert!(kept <= 2 && (kept < chars.len() || chars.is_empty()));
        prop_assert_eq!(&out[..kept], &chars[..kept]);
        prop_assert!(out[kept..].iter().all(|c| *c == '*'));
    }

    #[test]
    fn addresses_are_a_prefix_without_digits(addr in "[浙江省宁波市海曙区县路号0-9 a-z]{0,30}") {
        let out = mask_address(&addr);
        prop_assert!(out == "***" || (addr.starts_with(&out) && !out.chars().any(|c| c.is_ascii_digit())), "{} -> {}", addr, out);
    }

    #[test]
    fn masked_documents_hold_only_allowed_paths(
        rules in arb_rules(),
        doc in arb_doc(),
    ) {
        let p = FieldProfile::new("random", rules);
        let mut out = doc.clone();
        let report = apply(&p, &mut out, &KEY);
        let mut leaves = BTreeSet::new();
        let mut empties = Vec::new();
        walk(&out, "", &mut leaves, &mut empties);
        for path in &leaves {
            prop_assert!(p.returned(path).is_some(), "leaked {} from {}", path, doc);
        }
        prop_assert_eq!(&report.returned, &leaves);
        for path in &empties {
            prop_assert!(p.is_container(path) || is_root(path), "empty container {} leaked", path);
        }
    }
}

/// Collects leaf paths and the paths of empty containers.
fn walk(v: &Value, path: &str, leaves: &mut BTreeSet<String>, empties: &mut Vec<String>) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::Object(m) if m.is_empty() && !path.is_empty() => empties.push(path.to_owned()),
        Value::Array(a) if a.is_empty() => empties.push(path.to_owned()),
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| walk(v, &join(k), leaves, empties)),
        Value::Array(a) => a
            .iter()
            .for_each(|v| walk(v, &format!("{path}[]"), leaves, empties)),
        _ => {
            leaves.insert(path.to_owned());
        }
    }
}

fn arb_rules() -> impl Strategy<Value = BTreeMap<String, Transform>> {
    let rule = (
        0..FIELDS.len(),
        prop::sample::select(Transform::ALL.to_vec()),
    );
    prop::collection::vec(rule, 0..30).prop_map(|v| {
        v.into_iter()
            .map(|(i, t)| (FIELDS[i].0.to_owned(), t))
            .collect()
    })
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        "[a-z0-9张]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(arb_key(), inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Keys that collide with canonical segments, pose as paths, or are junk.
fn arb_key() -> impl Strategy<Value = String> {
    let segments: Vec<String> = FIELDS
        .iter()
        .flat_map(|(p, _)| p.split('.'))
        .map(|s| s.trim_end_matches("[]").to_owned())
        .collect();
    prop_oneof![prop::sample::select(segments), "[a-z_.\\[\\]]{1,8}"]
}

/// A document built from canonical paths with random values (sometimes of
/// the wrong shape) plus junk keys at random depths.
fn arb_doc() -> impl Strategy<Value = Value> {
    let canonical = (0..FIELDS.len(), 0..3usize, arb_json());
    let junk = (0..FIELDS.len(), 0..4usize, arb_key(), arb_json());
    (
        prop::collection::vec(canonical, 0..25),
        prop::collection::vec(junk, 0..6),
    )
        .prop_map(|(fields, junk)| {
            let mut doc = Value::Object(Map::new());
            for (i, idx, value) in fields {
                insert(&mut doc, FIELDS[i].0, idx, value);
            }
            for (i, depth, key, value) in junk {
                let segs: Vec<&str> = FIELDS[i].0.split('.').take(depth).collect();
                let prefix = if segs.is_empty() {
                    key
                } else {
                    format!("{}.{key}", segs.join("."))
                };
                insert(&mut doc, &prefix, 0, value);
            }
            doc
        })
}

/// Inserts `value` at a dotted path (`[]` segments use element `idx`).
fn insert(doc: &mut Value, path: &str, idx: usize, value: Value) {
    let segs: Vec<&str> = path.split('.').collect();
    let mut cur = doc;
    for (n, seg) in segs.iter().enumerate() {
        let last = n + 1 == segs.len();
        let (name, array) = match seg.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (*seg, false),
        };
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(map) = cur else { return };
        let slot = map.entry(name.to_owned()).or_insert(Value::Null);
        if array {
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            let Value::Array(items) = slot else { return };
            while items.len() <= idx {
                items.push(Value::Object(Map::new()));
            }
            cur = &mut items[idx];
        } else {
            cur = slot;
        }
        if last {
            *cur = value;
            return;
        }
    }
}

#[test]
fn debug_output_leaves_the_key_out() {
    let shown = format!("{KEY:?}");
    assert!(!shown.contains("test-key"), "{shown}");
    assert!(
        shown.contains("[8 bytes]") && shown.contains("bank-nb"),
        "{shown}"
    );
}
