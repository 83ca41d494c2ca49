//! Validation tests: every error class, each with its reported location.

use crate::error::{ErrorKind, PolicyError};
use crate::{Policy, DEMO_POLICY};

mod grants;
mod matching;
mod profiles;
mod references;
mod values;

/// A valid policy that tests extend.
const BASE: &str = r#"version = 1

[[purposes]]
code = "loan"

[[purposes]]
code = "approval"

[[scopes]]
id = "report"
endpoint = "enterprise_report"
sections = ["basic", "licenses", "penalties"]

[[scopes]]
id = "sanctions"
endpoint = "sanctions_check"

[[issuers]]
id = "iss"
public_key_file = "issuer.pub"

[[profiles]]
id = "p"
fields = { "basic.name" = "keep" }

[[clients]]
id = "a"
display_name = "A"
kind = "bank"
profile = "p"
match = { uri_san = "spiffe://t/a" }
  [[clients.grants]]
  scope = "report"
  purposes = ["loan"]
  authorization = "required"
"#;

fn errors(src: &str) -> Vec<PolicyError> {
    match Policy::parse(src, "policy.toml") {
        Ok(_) => Vec::new(),
        Err(e) => e.0,
    }
}

/// 1-based line of the last occurrence of `needle` (which must occur).
fn line_of(src: &str, needle: &str) -> usize {
    let at = src
        .rfind(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in source"));
    src[..at].matches('\n').count() + 1
}

/// Asserts that `src` has exactly one error of `kind`, at the line where
/// `needle` occurs, with `key_path`; returns it.
#[track_caller]
fn assert_one(src: &str, kind: ErrorKind, needle: &str, key_path: &str) -> PolicyError {
    let errs = errors(src);
    let found: Vec<_> = errs.iter().filter(|e| e.kind == kind).collect();
    assert_eq!(found.len(), 1, "expected one {kind} error, got {errs:#?}");
    let e = found[0].clone();
    assert_eq!(e.line, line_of(src, needle), "line of {e}");
    assert_eq!(e.key_path, key_path, "key path of {e}");
    assert_eq!(e.origin, "policy.toml");
    e
}

fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

/// A second client `b` with the given match table and grant block.
fn client_b(match_rule: &str, rest: &str) -> String {
    with(&format!(
        "\n[[clients]]\nid = \"b\"\ndisplay_name = \"B\"\nkind = \"bank\"\nprofile = \"p\"\nmatch = {match_rule}\n{rest}"
    ))
}

#[test]
fn base_is_valid() {
    let p = Policy::parse(BASE, "policy.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        p.summary(),
        "1 client, 2 scopes, 1 profile, 2 purposes, 1 issuer"
    );
}

#[test]
fn demo_policy_is_valid() {
    let p = Policy::parse(DEMO_POLICY, "demo-policy.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        p.summary(),
        "4 clients, 5 scopes, 4 profiles, 6 purposes, 1 issuer"
    );
    assert!(p.warnings().is_empty(), "{:?}", p.warnings());
    for id in ["bank-nb", "dept-nb", "peer-hz", "auditor"] {
        let c = p.client(id).unwrap_or_else(|| panic!("client {id}"));
        let uri = format!("spiffe://credgate.dev/client/{id}");
        assert_eq!(c.cert_match().uri_san(), Some(uri.as_str()));
        assert!(c.rate_limit().is_some());
    }
    for s in [
        "enterprise.report",
        "sanctions.check",
        "person.score",
        "self.access_log",
        "audit.read",
    ] {
        assert!(p.scope(s).is_some(), "scope {s}");
    }
    assert_eq!(
        p.client("peer-hz").and_then(|c| c.home_scheme()),
        Some("qianjiang")
    );
    for code in [
        "91350100M0001TGQXM",
        "913502032908059063",
        "91350206P45359131F",
        "91350203N0696895X9",
    ] {
        assert!(p.legacy_codes().contains(code), "{code}");
    }
    assert_eq!(p.legacy_codes().len(), 4);
    // Legal representatives' personal fields are masked for every client that sees them.
    for profile in p.profiles() {
        for (path, t) in profile.rules() {
            if path.contains("legal_representative.") {
                assert!(t.alters(), "{} keeps {path}", profile.id());
            }
        }
    }
}

#[test]
fn syntax_error_is_one_located_error() {
    let src = with("\n[[clients]]\nid = \"b\nkind = 1\n");
    let errs = errors(&src);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].kind, ErrorKind::Syntax);
    assert_eq!(errs[0].line, line_of(&src, "id = \"b\n"));
    assert!(
        errs[0].to_string().starts_with("policy.toml:"),
        "{}",
        errs[0]
    );
}

#[test]
fn unknown_key_is_a_located_syntax_error() {
    let src = BASE.replace("kind = \"bank\"", "kind = \"bank\"\nbogus = 1");
    let errs = errors(&src);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].kind, ErrorKind::Syntax);
    assert_eq!((errs[0].line, errs[0].column), (line_of(&src, "bogus"), 1));
    assert!(errs[0].message.contains("bogus"), "{}", errs[0]);
    assert_eq!(errs[0].key_path, "clients[0].bogus");
}

/// Values of the wrong type and unknown variants do not hide the file's
/// other errors either: each is reported with its key path, the errors of
/// meaning with them, and nothing of what validation says about the
/// placeholder that stood in for the value.
#[test]
fn wrong_types_are_reported_with_every_other_error() {
    let src = BASE
        .replace("version = 1", "version = 1\nverison = 1")
        .replace("authorization = \"required\"", "authorization = true")
        .replace("kind = \"bank\"", "kind = 77")
        .replace(
            "match = { uri_san",
            "rate_limit = { per_second = \"fast\", burst = 2 }\nmatch = { uri_san",
        )
        .replace("purposes = [\"loan\"]", "purposes = [\"loanx\"]");
    let errs = errors(&src);
    let got: Vec<(usize, &str, ErrorKind)> = errs
        .iter()
        .map(|e| (e.line, e.key_path.as_str(), e.kind))
        .collect();
    assert_eq!(
        got,
        [
            (line_of(&src, "verison"), "verison", ErrorKind::Syntax),
            (
                line_of(&src, "kind = 77"),
                "clients[0].kind",
                ErrorKind::Syntax
            ),
            (
                line_of(&src, "per_second = \"fast\""),
                "clients[0].rate_limit.per_second",
                ErrorKind::Syntax
            ),
            (
                line_of(&src, "\"loanx\""),
                "clients[0].grants[0].purposes[0]",
                ErrorKind::UnknownPurpose
            ),
            (
                line_of(&src, "authorization = true"),
                "clients[0].grants[0].authorization",
                ErrorKind::Syntax
            ),
        ],
        "{errs:#?}"
    );
    assert!(errs[3].to_string().contains("loanx"), "{}", errs[3]);
    assert!(errs[4].message.contains("boolean"), "{}", errs[4]);
    // A required value that no placeholder fits (one character where a
    // string must stand) is blanked; the `missing field` that follows is
    // the blanking's, not the file's, and is not reported.
    let src = BASE
        .replace("kind = \"bank\"", "kind = 7")
        .replace("purposes = [\"loan\"]", "purposes = [\"loanx\"]");
    let errs = errors(&src);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].key_path, "clients[0].kind");
    // A placeholder's end inside a character of the value it replaces
    // (`[]` over `"宁波"`): no placeholder; the key is blanked and the
    // required key's absence stops the list.
    for value in ["\"宁波\"", "\"é\""] {
        let src = BASE.replace("purposes = [\"loan\"]", &format!("purposes = {value}"));
        let errs = errors(&src);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!(errs[0].key_path, "clients[0].grants[0].purposes");
    }
}

/// Unknown keys do not hide the file's other problems: each is reported
/// with its location, and so is every semantic error (before, an unknown
/// key was the only error until it was removed).
#[test]
fn unknown_keys_are_reported_with_every_other_error() {
    let src = BASE
        .replace(
            "kind = \"bank\"",
            "kind = \"bank\"\nbogus = [1,\n 2]\n  typo_key = true",
        )
        .replace("code = \"approval\"", "code = \"approval\"\nlabel = \"x\"")
        .replace("profile = \"p\"", "profile = \"nope\"");
    // The multi-line value cannot be blanked line by line: the unknown
    // keys found up to it are reported (every one of them real), and what
    // its blanking leaves (` 2]`) is not.
    let errs = errors(&src);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].message.contains("label"), "{}", errs[0]);
    assert!(errs[1].message.contains("bogus"), "{}", errs[1]);
    assert!(errs.iter().all(|e| e.kind == ErrorKind::Syntax));

    let src = BASE
        .replace("kind = \"bank\"", "kind = \"bank\"\n  typo_key = true")
        .replace("code = \"approval\"", "code = \"approval\"\nlabel = \"x\"")
        .replace("profile = \"p\"", "profile = \"nope\"");
    let errs = errors(&src);
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert_eq!(errs[0].line, line_of(&src, "label ="));
    assert!(errs[0].message.contains("label"), "{}", errs[0]);
    assert_eq!(
        (errs[1].line, errs[1].column),
        (line_of(&src, "typo_key"), 3)
    );
    assert!(errs[1].message.contains("typo_key"), "{}", errs[1]);
    assert_eq!(errs[2].line, line_of(&src, "profile = \"nope\""));
    assert_eq!(errs[2].kind, ErrorKind::UnknownProfile);
    // Unknown keys inside inline tables — last, first, or with a value
    // holding commas and braces — are blanked with their comma too, and
    // the other errors still reported.
    for (table, key) in [
        ("{ uri_san = \"spiffe://t/a\", urisan = \"x,}\" }", "urisan"),
        (
            "{ urisan = [1, {a = 2}], uri_san = \"spiffe://t/a\" }",
            "urisan",
        ),
    ] {
        let src = BASE
            .replace("{ uri_san = \"spiffe://t/a\" }", table)
            .replace("profile = \"p\"", "profile = \"nope\"")
            .replace("kind = \"bank\"", "kind = \"bank\"\ndisplay = \"宁波\"");
        let errs = errors(&src);
        assert_eq!(errs.len(), 3, "{table}: {errs:?}");
        let of = |needle: &str| errs.iter().find(|e| e.message.contains(needle));
        let inline = of(key).unwrap_or_else(|| panic!("{errs:?}"));
        assert_eq!(inline.line, line_of(&src, table));
        assert!(of("`display`").is_some(), "{errs:?}");
        assert!(
            errs.iter().any(|e| e.kind == ErrorKind::UnknownProfile),
            "{errs:?}"
        );
    }
    // A dotted key's unknown last part is not blanked (its line is not an
    // inline table): it is reported, with the unknown keys before it.
    let src = BASE
        .replace(
            "kind = \"bank\"",
            "kind = \"bank\"\ntypo = 1\nrate_limit.bogus = 2",
        )
        .replace("profile = \"p\"", "profile = \"nope\"");
    let errs = errors(&src);
    assert!(errs.iter().any(|e| e.message.contains("typo")), "{errs:?}");
}

#[test]
fn syntax_errors_do_not_echo_values() {
    let src = BASE.replace(
        "version = 1\n",
        "version = 1\n[settings]\nlegacy_codes = \"91350100M0001TGQXM\"\n",
    );
    let errs = errors(&src);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].kind, ErrorKind::Syntax);
    assert_eq!(errs[0].line, line_of(&src, "legacy_codes ="));
    assert!(!errs[0].message.contains("9135"), "{}", errs[0]);
    assert!(errs[0].message.contains("\"…\""), "{}", errs[0]);
}

#[test]
fn unquoted_dotted_field_path_gets_a_hint() {
    let src = BASE.replace(
        "fields = { \"basic.name\" = \"keep\" }",
        "[profiles.fields]\nbasic.name = \"keep\"",
    );
    let errs = errors(&src);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].kind, ErrorKind::Syntax);
    assert_eq!(errs[0].line, line_of(&src, "basic.name = "));
    assert!(errs[0].message.contains("quoted"), "{}", errs[0]);
}

#[test]
fn unsupported_version() {
    let src = BASE.replace("version = 1", "version = 2");
    assert_one(
        &src,
        ErrorKind::UnsupportedVersion,
        "version = 2",
        "version",
    );
}
