//! Certificate match rules: empty matches, organizations, fingerprints and overlaps.

use super::*;

#[test]
fn overlapping_uri_san() {
    let src = client_b("{ uri_san = \"spiffe://t/a\" }", "");
    let e = assert_one(
        &src,
        ErrorKind::OverlappingMatch,
        "match = { uri_san = \"spiffe://t/a\" }",
        "clients[1].match.uri_san",
    );
    assert!(e.message.contains("\"a\""), "{e}");
}

#[test]
fn overlapping_dns_san_ignores_case() {
    let src = BASE.replace(
        "match = { uri_san = \"spiffe://t/a\" }",
        "match = { dns_san = \"a.example\" }",
    );
    let src = format!(
        "{src}\n[[clients]]\nid = \"b\"\ndisplay_name = \"B\"\nkind = \"bank\"\nprofile = \"p\"\nmatch = {{ dns_san = \"A.Example\" }}\n"
    );
    assert_one(
        &src,
        ErrorKind::OverlappingMatch,
        "A.Example",
        "clients[1].match.dns_san",
    );
}

#[test]
fn overlapping_cn_unless_organizations_differ() {
    let base = BASE.replace(
        "match = { uri_san = \"spiffe://t/a\" }",
        "match = { cn = \"x\", o = \"Org A\" }",
    );
    let b = |m: &str| {
        format!("{base}\n[[clients]]\nid = \"b\"\ndisplay_name = \"B\"\nkind = \"bank\"\nprofile = \"p\"\nmatch = {m}\n")
    };
    let src = b("{ cn = \"x\" }");
    assert_one(
        &src,
        ErrorKind::OverlappingMatch,
        "match = { cn = \"x\" }",
        "clients[1].match.cn",
    );
    let src = b("{ cn = \"x\", o = \"Org A\" }");
    assert_one(
        &src,
        ErrorKind::OverlappingMatch,
        "match = { cn = \"x\", o = \"Org A\" }",
        "clients[1].match.cn",
    );
    assert!(errors(&b("{ cn = \"x\", o = \"Org B\" }")).is_empty());
}

#[test]
fn overlapping_sha256_in_any_spelling() {
    let fp = "ab".repeat(32);
    let colons = vec!["AB"; 32].join(":");
    let src = BASE.replace(
        "match = { uri_san = \"spiffe://t/a\" }",
        &format!("match = {{ sha256 = \"{fp}\" }}"),
    );
    let src = format!(
        "{src}\n[[clients]]\nid = \"b\"\ndisplay_name = \"B\"\nkind = \"bank\"\nprofile = \"p\"\nmatch = {{ sha256 = \"{colons}\" }}\n"
    );
    assert_one(
        &src,
        ErrorKind::OverlappingMatch,
        &colons,
        "clients[1].match.sha256",
    );
}

#[test]
fn empty_or_missing_match() {
    let src = client_b("{}", "");
    assert_one(
        &src,
        ErrorKind::EmptyMatch,
        "match = {}",
        "clients[1].match",
    );
    let src = BASE.replace("match = { uri_san = \"spiffe://t/a\" }\n", "");
    assert_one(
        &src,
        ErrorKind::EmptyMatch,
        "[[clients]]",
        "clients[0].match",
    );
}

#[test]
fn organization_needs_cn() {
    let src = client_b("{ o = \"Org\" }", "");
    assert_one(
        &src,
        ErrorKind::OrganizationWithoutCn,
        "o = \"Org\"",
        "clients[1].match.o",
    );
}

#[test]
fn invalid_fingerprint_is_not_echoed() {
    let src = client_b("{ sha256 = \"abcd1234\" }", "");
    let e = assert_one(
        &src,
        ErrorKind::InvalidFingerprint,
        "abcd1234",
        "clients[1].match.sha256",
    );
    assert!(!e.to_string().contains("abcd1234"), "{e}");
}

#[test]
fn overlaps_are_found_next_to_other_match_faults() {
    let src = BASE.replace(
        "match = { uri_san = \"spiffe://t/a\" }",
        "match = { uri_san = \"spiffe://t/a\", sha256 = \"zz\" }",
    );
    let src = format!(
        "{src}\n[[clients]]\nid = \"b\"\ndisplay_name = \"B\"\nkind = \"bank\"\nprofile = \"p\"\nmatch = {{ uri_san = \"spiffe://t/a\" }}\n"
    );
    assert_one(
        &src,
        ErrorKind::InvalidFingerprint,
        "\"zz\"",
        "clients[0].match.sha256",
    );
    assert_one(
        &src,
        ErrorKind::OverlappingMatch,
        "match = { uri_san = \"spiffe://t/a\" }",
        "clients[1].match.uri_san",
    );
}
