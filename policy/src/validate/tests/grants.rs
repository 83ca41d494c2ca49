//! Scopes and grants: sections, purposes, client kinds and overlapping grants.

use super::*;

#[test]
fn report_scope_without_sections() {
    let src = with("\n[[scopes]]\nid = \"r2\"\nendpoint = \"enterprise_report\"\nsections = []\n");
    assert_one(
        &src,
        ErrorKind::EmptySections,
        "sections = []",
        "scopes[2].sections",
    );
    let src = with("\n[[scopes]]\nid = \"r2\"\nendpoint = \"enterprise_report\"\n");
    assert_one(
        &src,
        ErrorKind::EmptySections,
        "[[scopes]]\nid = \"r2\"",
        "scopes[2]",
    );
}

#[test]
fn grant_without_purposes() {
    let src = BASE.replace("purposes = [\"loan\"]", "purposes = []");
    assert_one(
        &src,
        ErrorKind::EmptyPurposes,
        "purposes = []",
        "clients[0].grants[0].purposes",
    );
}

#[test]
fn grant_sections_must_be_in_scope() {
    let src = BASE.replace(
        "  purposes = [\"loan\"]\n",
        "  purposes = [\"loan\"]\n  sections = [\"basic\", \"dishonest\"]\n",
    );
    assert_one(
        &src,
        ErrorKind::SectionOutsideScope,
        "\"dishonest\"",
        "clients[0].grants[0].sections[1]",
    );
    let src = BASE.replace(
        "  purposes = [\"loan\"]\n",
        "  purposes = [\"loan\"]\n  sections = []\n",
    );
    assert_one(
        &src,
        ErrorKind::EmptySections,
        "sections = []",
        "clients[0].grants[0].sections",
    );
}

#[test]
fn invalid_section_names() {
    let src = BASE.replace(
        "\"licenses\", \"penalties\"]",
        "\"licences\", \"penalties\", \"basic\"]",
    );
    let errs = errors(&src);
    let unknown: Vec<_> = errs
        .iter()
        .filter(|e| e.kind == ErrorKind::UnknownSection)
        .collect();
    assert_eq!(unknown.len(), 1, "{errs:?}");
    assert_eq!(unknown[0].key_path, "scopes[0].sections[1]");
    assert_eq!(unknown[0].line, line_of(&src, "\"licences\""));
    let dup: Vec<_> = errs
        .iter()
        .filter(|e| e.kind == ErrorKind::DuplicateEntry)
        .collect();
    assert_eq!(dup.len(), 1, "{errs:?}");
    assert_eq!(dup[0].key_path, "scopes[0].sections[3]");

    let src = BASE.replace(
        "  purposes = [\"loan\"]\n",
        "  purposes = [\"loan\"]\n  sections = [\"Basic\"]\n",
    );
    assert_one(
        &src,
        ErrorKind::UnknownSection,
        "\"Basic\"",
        "clients[0].grants[0].sections[0]",
    );
}

#[test]
fn sections_only_for_report_scopes() {
    let src = BASE.replace(
        "endpoint = \"sanctions_check\"\n",
        "endpoint = \"sanctions_check\"\nsections = [\"basic\"]\n",
    );
    assert_one(
        &src,
        ErrorKind::SectionsNotApplicable,
        "sections = [\"basic\"]",
        "scopes[1].sections",
    );
    let src = with(
        "  [[clients.grants]]\n  scope = \"sanctions\"\n  purposes = [\"approval\"]\n  sections = [\"basic\"]\n  authorization = \"not_required\"\n",
    );
    assert_one(
        &src,
        ErrorKind::SectionsNotApplicable,
        "sections = [\"basic\"]\n  authorization",
        "clients[0].grants[1].sections",
    );
}

#[test]
fn audit_read_only_for_auditors() {
    let src = with(concat!(
        "\n[[purposes]]\ncode = \"audit\"\n\n[[scopes]]\nid = \"audit.read\"\nendpoint = \"audit_read\"\n",
        "\n[[clients]]\nid = \"b\"\ndisplay_name = \"B\"\nkind = \"bank\"\nprofile = \"p\"\nmatch = { uri_san = \"spiffe://t/b\" }\n",
        "  [[clients.grants]]\n  scope = \"audit.read\"\n  purposes = [\"audit\"]\n  authorization = \"not_required\"\n",
    ));
    assert_one(
        &src,
        ErrorKind::KindMismatch,
        "scope = \"audit.read\"",
        "clients[1].grants[0].scope",
    );
    assert_eq!(
        errors(&src.replace(
            "kind = \"bank\"\nprofile = \"p\"\nmatch = { uri_san = \"spiffe://t/b\" }",
            "kind = \"auditor\"\nprofile = \"p\"\nmatch = { uri_san = \"spiffe://t/b\" }"
        )),
        []
    );
}

#[test]
fn grants_for_one_endpoint_must_not_overlap() {
    let src = with(concat!(
        "\n[[scopes]]\nid = \"report2\"\nendpoint = \"enterprise_report\"\nsections = [\"basic\"]\n",
        "\n[[clients]]\nid = \"b\"\ndisplay_name = \"B\"\nkind = \"bank\"\nprofile = \"p\"\nmatch = { uri_san = \"spiffe://t/b\" }\n",
        "  [[clients.grants]]\n  scope = \"report\"\n  purposes = [\"loan\"]\n  authorization = \"required\"\n",
        "  [[clients.grants]]\n  scope = \"report2\"\n  purposes = [\"approval\", \"loan\"]\n  authorization = \"required\"\n",
        "  [[clients.grants]]\n  scope = \"report\"\n  purposes = [\"approval\"]\n  authorization = \"required\"\n",
    ));
    assert_one(
        &src,
        ErrorKind::AmbiguousGrant,
        "\"approval\", \"loan\"",
        "clients[1].grants[1].purposes[1]",
    );
    let dups: Vec<_> = errors(&src)
        .into_iter()
        .filter(|e| e.kind == ErrorKind::DuplicateEntry)
        .collect();
    assert_eq!(dups.len(), 1, "{dups:?}");
    assert_eq!(dups[0].key_path, "clients[1].grants[2].scope");
}
