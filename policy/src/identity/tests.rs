//! Identification tests: match rules, deny by default, fail closed.

use super::*;
use crate::DEMO_POLICY;

fn rule() -> CertMatch {
    CertMatch::default()
}

#[test]
fn uri_san_is_exact() {
    let m = CertMatch {
        uri_san: Some("spiffe://x/a".into()),
        ..rule()
    };
    let mut cert = CertIdentity {
        uri_sans: vec!["spiffe://x/A".into()],
        ..Default::default()
    };
    assert!(!m.matches(&cert));
    cert.uri_sans.push("spiffe://x/a".into());
    assert!(m.matches(&cert));
}

#[test]
fn dns_san_ignores_ascii_case() {
    let m = CertMatch {
        dns_san: Some("bank.example".into()),
        ..rule()
    };
    let cert = CertIdentity {
        dns_sans: vec!["Bank.Example".into()],
        ..Default::default()
    };
    assert!(m.matches(&cert));
}

#[test]
fn cn_with_o_needs_both() {
    let m = CertMatch {
        cn: Some("bank".into()),
        o: Some("Bank Ltd".into()),
        ..rule()
    };
    let mut cert = CertIdentity {
        common_names: vec!["bank".into()],
        ..Default::default()
    };
    assert!(!m.matches(&cert));
    cert.organizations.push("Bank Ltd".into());
    assert!(m.matches(&cert));
}

#[test]
fn fingerprint_compares_bytes_and_empty_rule_matches_nothing() {
    let m = CertMatch {
        sha256: Some([7; 32]),
        ..rule()
    };
    assert!(m.matches(&CertIdentity {
        sha256: [7; 32],
        ..Default::default()
    }));
    assert!(!m.matches(&CertIdentity::default()));
    assert!(!rule().matches(&CertIdentity {
        sha256: [0; 32],
        ..Default::default()
    }));
}

#[test]
fn overlap_rules() {
    let cn = |c: &str, o: Option<&str>| CertMatch {
        cn: Some(c.into()),
        o: o.map(Into::into),
        ..rule()
    };
    assert_eq!(cn("a", None).overlap(&cn("a", Some("X"))), Some("cn"));
    assert_eq!(cn("a", Some("X")).overlap(&cn("a", Some("Y"))), None);
    assert_eq!(cn("a", None).overlap(&cn("b", None)), None);
}

fn uri(u: &str) -> CertIdentity {
    CertIdentity {
        uri_sans: vec![u.to_owned()],
        ..Default::default()
    }
}

#[test]
fn demo_clients_are_identified_by_uri_san() {
    let p = Policy::parse(DEMO_POLICY, "demo.toml").unwrap_or_else(|e| panic!("{e}"));
    for id in ["bank-nb", "dept-nb", "peer-hz", "auditor"] {
        let cert = uri(&format!("spiffe://credgate.dev/client/{id}"));
        assert_eq!(p.identify(&cert).map(Client::id), Some(id));
        assert_eq!(p.client(id).map(Client::id), Some(id));
    }
    assert!(p.client("revoked").is_none());
}

#[test]
fn unknown_certificates_are_denied() {
    let p = Policy::parse(DEMO_POLICY, "demo.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(p.identify(&CertIdentity::default()).is_none());
    assert!(p
        .identify(&uri("spiffe://credgate.dev/client/rogue"))
        .is_none());
    assert!(p
        .identify(&uri("spiffe://credgate.dev/client/BANK-NB"))
        .is_none());
    let cn_only = CertIdentity {
        common_names: vec!["bank-nb".into()],
        ..Default::default()
    };
    assert!(p.identify(&cn_only).is_none());
}

#[test]
fn a_certificate_matching_two_clients_is_denied() {
    let src = r#"version = 1
[[profiles]]
id = "p"
fields = {}
[[clients]]
id = "by-uri"
display_name = "U"
kind = "bank"
profile = "p"
match = { uri_san = "spiffe://t/x" }
[[clients]]
id = "by-cn"
display_name = "C"
kind = "bank"
profile = "p"
match = { cn = "x", o = "Org" }
"#;
    let p = Policy::parse(src, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    let mut cert = uri("spiffe://t/x");
    assert_eq!(p.identify(&cert).map(Client::id), Some("by-uri"));
    cert.common_names.push("x".into());
    cert.organizations.push("Org".into());
    assert!(p.identify(&cert).is_none());
    cert.uri_sans.clear();
    assert_eq!(p.identify(&cert).map(Client::id), Some("by-cn"));
}
