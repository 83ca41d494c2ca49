//! Decision tests: every refusal, the refusal order and the section rules.

use super::*;
use crate::canonical::Section::{self, *};
use crate::DEMO_POLICY;

fn demo() -> Policy {
    Policy::parse(DEMO_POLICY, "demo-policy.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn decide(
    p: &Policy,
    client: &str,
    endpoint: Endpoint,
    sections: Option<&[Section]>,
    purpose: Option<&str>,
) -> Result<Grant, Deny> {
    let c = p
        .client(client)
        .unwrap_or_else(|| panic!("client {client}"));
    p.decide(
        c,
        &RequestShape {
            endpoint,
            sections,
            purpose,
        },
    )
}

const BANK_SECTIONS: [Section; 6] = [Basic, Licenses, Penalties, Dishonest, Abnormal, Evaluation];

#[test]
fn bank_report_defaults_to_granted_sections() {
    let p = demo();
    let g = decide(
        &p,
        "bank-nb",
        Endpoint::EnterpriseReport,
        None,
        Some("loan_underwriting"),
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(g.scope, "enterprise.report");
    assert_eq!(g.purpose, "loan_underwriting");
    assert_eq!(g.sections, BANK_SECTIONS);
    assert!(g.authorization_required);
    assert_eq!(g.profile.id(), "bank-standard");
    // An empty list means the same as no list.
    let g2 = decide(
        &p,
        "bank-nb",
        Endpoint::EnterpriseReport,
        Some(&[]),
        Some("post_loan_monitoring"),
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(g2.sections, BANK_SECTIONS);
}

#[test]
fn requested_sections_come_back_in_report_order_once() {
    let p = demo();
    let req = [Evaluation, Basic, Penalties, Basic];
    let g = decide(
        &p,
        "bank-nb",
        Endpoint::EnterpriseReport,
        Some(&req),
        Some("loan_underwriting"),
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(g.sections, [Basic, Penalties, Evaluation]);
}

#[test]
fn department_gets_every_section_without_authorization() {
    let p = demo();
    let g = decide(
        &p,
        "dept-nb",
        Endpoint::EnterpriseReport,
        None,
        Some("administrative_approval"),
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(g.sections, Section::ALL);
    assert!(!g.authorization_required);
    let s = decide(
        &p,
        "dept-nb",
        Endpoint::SanctionsCheck,
        None,
        Some("administrative_approval"),
    )
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(s.scope, "sanctions.check");
    assert!(s.sections.is_empty());
}

#[test]
fn missing_or_blank_purpose_is_purpose_required() {
    let p = demo();
    for purpose in [None, Some(""), Some("  ")] {
        let d = decide(&p, "bank-nb", Endpoint::EnterpriseReport, None, purpose);
        assert_eq!(d.err(), Some(Deny::PurposeRequired));
    }
    // Before scope_denied: the endpoint is not granted either.
    let d = decide(&p, "bank-nb", Endpoint::SanctionsCheck, None, None);
    assert_eq!(d.err(), Some(Deny::PurposeRequired));
}

#[test]
fn endpoint_not_granted_is_scope_denied() {
    let p = demo();
    let d = decide(
        &p,
        "bank-nb",
        Endpoint::SanctionsCheck,
        None,
        Some("loan_underwriting"),
    );
    assert_eq!(d.err(), Some(Deny::ScopeDenied));
    let d = decide(
        &p,
        "peer-hz",
        Endpoint::AuditRead,
        None,
        Some("audit_review"),
    );
    assert_eq!(d.err(), Some(Deny::ScopeDenied));
}

#[test]
fn section_outside_grant_is_denied_not_dropped() {
    let p = demo();
    let req = [Basic, Redlist];
    let d = decide(
        &p,
        "bank-nb",
        Endpoint::EnterpriseReport,
        Some(&req),
        Some("loan_underwriting"),
    );
    assert_eq!(d.err(), Some(Deny::ScopeDenied));
}

#[test]
fn scope_denied_comes_before_purpose_not_allowed() {
    let p = demo();
    let req = [Redlist];
    let d = decide(
        &p,
        "bank-nb",
        Endpoint::EnterpriseReport,
        Some(&req),
        Some("score_recognition"),
    );
    assert_eq!(d.err(), Some(Deny::ScopeDenied));
}

#[test]
fn purpose_outside_grant_is_purpose_not_allowed() {
    let p = demo();
    let req = [Basic];
    let d = decide(
        &p,
        "bank-nb",
        Endpoint::EnterpriseReport,
        Some(&req),
        Some("administrative_approval"),
    );
    assert_eq!(d.err(), Some(Deny::PurposeNotAllowed));
    let d = decide(
        &p,
        "peer-hz",
        Endpoint::PersonScore,
        None,
        Some("subject_request"),
    );
    assert_eq!(d.err(), Some(Deny::PurposeNotAllowed));
    let d = decide(
        &p,
        "peer-hz",
        Endpoint::PersonScore,
        None,
        Some("no_such_purpose"),
    );
    assert_eq!(d.err(), Some(Deny::PurposeNotAllowed));
}

#[test]
fn sections_on_an_endpoint_without_sections_are_denied() {
    let p = demo();
    let req = [Basic];
    let d = decide(
        &p,
        "peer-hz",
        Endpoint::PersonScore,
        Some(&req),
        Some("score_recognition"),
    );
    assert_eq!(d.err(), Some(Deny::ScopeDenied));
    let g = decide(
        &p,
        "peer-hz",
        Endpoint::PersonScore,
        Some(&[]),
        Some("score_recognition"),
    );
    assert!(g.is_ok());
}

#[test]
fn deny_codes() {
    assert_eq!(Deny::PurposeRequired.code(), "purpose_required");
    assert_eq!(Deny::ScopeDenied.code(), "scope_denied");
    assert_eq!(Deny::PurposeNotAllowed.code(), "purpose_not_allowed");
}

const TWO_GRANTS: &str = r#"version = 1
[[purposes]]
code = "loan"
[[purposes]]
code = "approval"
[[purposes]]
code = "other"
[[scopes]]
id = "wide"
endpoint = "enterprise_report"
sections = ["basic", "penalties"]
max_authorization_lifetime_days = 30
[[scopes]]
id = "narrow"
endpoint = "enterprise_report"
sections = ["basic"]
[[issuers]]
id = "iss"
public_key_file = "k.pub"
[[profiles]]
id = "p"
fields = {}
[[clients]]
id = "c"
display_name = "C"
kind = "bank"
profile = "p"
match = { cn = "c" }
rate_limit = { per_second = 0.5, burst = 1 }
  [[clients.grants]]
  scope = "wide"
  purposes = ["loan"]
  authorization = "required"
  rate_limit = { per_second = 2, burst = 4, daily_quota = 10 }
  [[clients.grants]]
  scope = "narrow"
  purposes = ["approval"]
  authorization = "not_required"
"#;

#[test]
fn the_grant_allowing_the_purpose_decides() {
    let p = Policy::parse(TWO_GRANTS, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    let wide = decide(&p, "c", Endpoint::EnterpriseReport, None, Some("loan"))
        .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(wide.scope, "wide");
    assert_eq!(wide.sections, [Basic, Penalties]);
    assert_eq!(wide.max_authorization_lifetime_days, Some(30));
    assert_eq!(
        wide.rate_limit,
        Some(RateLimit {
            per_second: 2.0,
            burst: 4,
            daily_quota: Some(10)
        })
    );
    let narrow = decide(&p, "c", Endpoint::EnterpriseReport, None, Some("approval"))
        .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(narrow.scope, "narrow");
    assert_eq!(narrow.sections, [Basic]);
    assert!(!narrow.authorization_required);
    assert_eq!(narrow.rate_limit, None);
    assert_eq!(
        p.client("c")
            .and_then(|c| c.rate_limit())
            .map(|r| r.per_second),
        Some(0.5)
    );

    // The narrow grant does not cover penalties, even though the wide one does.
    let req = [Penalties];
    let d = decide(
        &p,
        "c",
        Endpoint::EnterpriseReport,
        Some(&req),
        Some("approval"),
    );
    assert_eq!(d.err(), Some(Deny::ScopeDenied));
    // No grant allows "other": purpose_not_allowed where some grant covers
    // the sections, scope_denied where none does.
    let d = decide(
        &p,
        "c",
        Endpoint::EnterpriseReport,
        Some(&req),
        Some("other"),
    );
    assert_eq!(d.err(), Some(Deny::PurposeNotAllowed));
    let req = [Redlist];
    let d = decide(
        &p,
        "c",
        Endpoint::EnterpriseReport,
        Some(&req),
        Some("other"),
    );
    assert_eq!(d.err(), Some(Deny::ScopeDenied));
}
