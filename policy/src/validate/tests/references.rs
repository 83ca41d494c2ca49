//! Unknown references, duplicate ids, and collecting every error.

use super::*;
use crate::IssuerKey;

#[test]
fn unknown_scope_display() {
    let src = client_b(
        "{ uri_san = \"spiffe://t/b\" }",
        "  [[clients.grants]]\n  scope = \"enterprise.repot\"\n  purposes = [\"loan\"]\n  authorization = \"required\"\n",
    );
    let e = assert_one(
        &src,
        ErrorKind::UnknownScope,
        "enterprise.repot",
        "clients[1].grants[0].scope",
    );
    let line = line_of(&src, "enterprise.repot");
    assert_eq!(
        e.to_string(),
        format!(
            "policy.toml:{line}:11: clients[1].grants[0].scope: unknown scope \"enterprise.repot\""
        )
    );
}

#[test]
fn unknown_profile() {
    let src = BASE.replace("profile = \"p\"", "profile = \"nope\"");
    assert_one(
        &src,
        ErrorKind::UnknownProfile,
        "\"nope\"",
        "clients[0].profile",
    );
}

#[test]
fn unknown_purpose() {
    let src = BASE.replace(
        "purposes = [\"loan\"]",
        "purposes = [\"loan\", \"fishing\"]",
    );
    assert_one(
        &src,
        ErrorKind::UnknownPurpose,
        "fishing",
        "clients[0].grants[0].purposes[1]",
    );
}

#[test]
fn authorization_without_issuer() {
    let src = BASE.replace(
        "[[issuers]]\nid = \"iss\"\npublic_key_file = \"issuer.pub\"\n",
        "",
    );
    assert_one(
        &src,
        ErrorKind::MissingIssuer,
        "authorization = \"required\"",
        "clients[0].grants[0].authorization",
    );
}

#[test]
fn duplicate_ids_of_every_table_are_all_reported() {
    let src = with(concat!(
        "\n[[purposes]]\ncode = \"loan\"\n",
        "\n[[scopes]]\nid = \"sanctions\"\nendpoint = \"sanctions_check\"\n",
        "\n[[issuers]]\nid = \"iss\"\npublic_key_file = \"other.pub\"\n",
        "\n[[profiles]]\nid = \"p\"\nfields = {}\n",
        "\n[[clients]]\nid = \"a\"\ndisplay_name = \"A2\"\nkind = \"bank\"\nprofile = \"p\"\nmatch = { uri_san = \"spiffe://t/a2\" }\n",
    ));
    let errs: Vec<_> = errors(&src)
        .into_iter()
        .filter(|e| e.kind == ErrorKind::DuplicateId)
        .collect();
    let paths: Vec<_> = errs.iter().map(|e| e.key_path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "purposes[2].code",
            "scopes[2].id",
            "issuers[1].id",
            "profiles[1].id",
            "clients[1].id"
        ]
    );
    let tail = &src[BASE.len()..];
    let base_lines = BASE.matches('\n').count();
    for (e, needle) in errs.iter().zip([
        "code = \"loan\"",
        "id = \"sanctions\"",
        "id = \"iss\"",
        "id = \"p\"",
        "id = \"a\"",
    ]) {
        assert_eq!(e.line, base_lines + line_of(tail, needle), "{e}");
    }
}

#[test]
fn every_error_is_collected_in_document_order() {
    let src = BASE
        .replace("version = 1", "version = 3")
        .replace("profile = \"p\"", "profile = \"nope\"")
        .replace("scope = \"report\"", "scope = \"nope\"")
        .replace("purposes = [\"loan\"]", "purposes = [\"nope\"]");
    let errs = errors(&src);
    let kinds: Vec<_> = errs.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            ErrorKind::UnsupportedVersion,
            ErrorKind::UnknownProfile,
            ErrorKind::UnknownScope,
            ErrorKind::UnknownPurpose
        ]
    );
    let lines: Vec<_> = errs.iter().map(|e| e.line).collect();
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted);
    let text = Policy::parse(&src, "policy.toml")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(text.lines().count(), 4, "{text}");
}

#[test]
fn a_faulty_declaration_does_not_cascade() {
    // The scope is declared (with a bad endpoint); the grant naming it is not
    // reported as an unknown scope.
    let src = BASE.replace("endpoint = \"enterprise_report\"", "endpoint = \"report\"");
    let errs = errors(&src);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].kind, ErrorKind::UnknownEndpoint);
}

/// A person's score and a subject's own access log always need the
/// subject's authorization (SPEC §4, §6): a grant waiving it is an error,
/// one per such grant, located at its `authorization`.
#[test]
fn authorization_cannot_be_waived_for_scores_or_access_logs() {
    let waived = crate::DEMO_POLICY.replace(
        "purposes = [\"score_recognition\"]\n  authorization = \"required\"",
        "purposes = [\"score_recognition\"]\n  authorization = \"not_required\"",
    );
    let waived = waived.replace(
        "purposes = [\"subject_request\"]\n  authorization = \"required\"",
        "purposes = [\"subject_request\"]\n  authorization = \"not_required\"",
    );
    assert_ne!(waived, crate::DEMO_POLICY);
    let errs = errors(&waived);
    let found: Vec<_> = errs
        .iter()
        .filter(|e| e.kind == ErrorKind::AuthorizationMandatory)
        .map(|e| e.to_string())
        .collect();
    assert_eq!(found.len(), 2, "{errs:#?}");
    assert!(found[0].contains("person.score"), "{found:?}");
    assert!(found[1].contains("self.access_log"), "{found:?}");
    assert!(errors(crate::DEMO_POLICY).is_empty());
}

#[test]
fn an_issuer_may_list_several_keys_with_distinct_key_ids() {
    // A key rotation: the old key (no kid, as first configured) and the new
    // one overlap; a third key with its own kid is fine too.
    let src = with(concat!(
        "\n[[issuers]]\nid = \"iss\"\npublic_key_file = \"new.pub\"\nkey_id = \"2026\"\n",
        "\n[[issuers]]\nid = \"iss\"\npublic_key_file = \"next.pub\"\nkey_id = \"2027\"\n",
    ));
    let policy = Policy::parse(&src, "policy.toml").expect("valid");
    let keys: Vec<_> = policy
        .issuer_keys("iss")
        .map(|i| (i.key.clone(), i.key_id.clone()))
        .collect();
    assert_eq!(
        keys,
        [
            (IssuerKey::File("issuer.pub".into()), None),
            (IssuerKey::File("new.pub".into()), Some("2026".into())),
            (IssuerKey::File("next.pub".into()), Some("2027".into())),
        ]
    );
    assert!(
        policy.summary().ends_with("1 issuer (3 keys)"),
        "{}",
        policy.summary()
    );
}

#[test]
fn an_issuers_keys_need_distinct_key_ids() {
    // Two keys without kid, and two with the same kid: each second entry is
    // a duplicate (a token's kid could not choose between them).
    let src = with(concat!(
        "\n[[issuers]]\nid = \"iss\"\npublic_key_file = \"other.pub\"\n",
        "\n[[issuers]]\nid = \"iss\"\npublic_key_file = \"a.pub\"\nkey_id = \"k1\"\n",
        "\n[[issuers]]\nid = \"iss\"\npublic_key_file = \"b.pub\"\nkey_id = \"k1\"\n",
    ));
    let errs: Vec<_> = errors(&src)
        .into_iter()
        .filter(|e| e.kind == ErrorKind::DuplicateId)
        .collect();
    let paths: Vec<_> = errs.iter().map(|e| e.key_path.as_str()).collect();
    assert_eq!(paths, ["issuers[1].id", "issuers[3].id"], "{errs:#?}");
    assert!(
        errs[0].message.contains("give each a distinct key_id"),
        "{}",
        errs[0]
    );
    assert!(errs[1].message.contains("key_id \"k1\""), "{}", errs[1]);
}
