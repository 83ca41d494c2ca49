use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::test_support::*;
use crate::ClaimError;

fn opts() -> VerifyOptions {
    VerifyOptions::default()
}

#[test]
fn a_good_token_has_no_problem_and_its_report_redacts_the_subject() {
    let pair = keypair();
    let issuers = [trusted(ISSUER, None, &pair)];
    let token = sign(&eddsa_header(), &claims(), &pair);
    let report = inspect(&token, &issuers, &opts(), NOW);
    assert!(report.is_acceptable(), "{report}");
    assert_eq!(report.claims.as_ref().unwrap()["sub"], SUBJECT);
    assert_eq!(report.header.as_ref().unwrap()["alg"], "EdDSA");
    let text = report.to_string();
    assert!(!text.contains(SUBJECT));
    assert!(text.contains("[redacted]"));
    assert!(text.contains("no problem found"));
}

#[test]
fn lists_every_problem_in_order() {
    let pair = keypair();
    let issuers = [trusted(ISSUER, None, &pair)];
    let header = json!({"alg": "HS256", "jku": "https://evil.example"});
    let token = sign(&header, &claims_with("iss", json!("stranger")), &pair);
    let report = inspect(&token, &issuers, &opts(), NOW + 99_999);
    assert_eq!(
        report.problems,
        vec![
            Problem::Invalid(InvalidReason::UnsupportedAlgorithm),
            Problem::Invalid(InvalidReason::ForbiddenHeader("jku")),
            Problem::Invalid(InvalidReason::UntrustedIssuer),
            Problem::Window(WindowReason::Expired),
        ]
    );
    let text = report.to_string();
    assert_eq!(text.matches("refused:").count(), 4, "{text}");
}

#[test]
fn reports_bad_signature_claims_size_and_not_yet_valid() {
    let pair = keypair();
    let issuers = [trusted(ISSUER, None, &pair)];
    let mut c = claims_with("aud", json!(["a", "b"]));
    c["pad"] = json!("x".repeat(5000));
    let token = sign(&eddsa_header(), &c, &keypair());
    let report = inspect(&token, &issuers, &opts(), NOW - 3600);
    assert_eq!(
        report.problems,
        vec![
            Problem::TooLarge {
                len: token.len(),
                max: 4096
            },
            Problem::Invalid(InvalidReason::BadSignature),
            Problem::Invalid(InvalidReason::BadClaims(ClaimError {
                claim: "aud",
                problem: "must be a non-empty string or an array of exactly one",
            })),
            Problem::Window(WindowReason::NotYetValid),
        ]
    );
}

#[test]
fn a_non_eddsa_token_is_not_also_called_badly_signed() {
    let pair = keypair();
    let issuers = [trusted(ISSUER, None, &pair)];
    let token = sign(&json!({"alg": "ES256"}), &claims(), &pair);
    let report = inspect(&token, &issuers, &opts(), NOW);
    assert_eq!(
        report.problems,
        vec![Problem::Invalid(InvalidReason::UnsupportedAlgorithm)]
    );
}

#[test]
fn a_missing_issuer_is_reported_once() {
    let pair = keypair();
    let token = sign(
        &eddsa_header(),
        &claims_with("iss", serde_json::Value::Null),
        &pair,
    );
    let report = inspect(&token, &[], &opts(), NOW);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
}

#[test]
fn undecodable_parts_are_reported_and_decodable_ones_shown() {
    let report = inspect("not-a-token", &[], &opts(), NOW);
    assert_eq!(
        report.problems,
        vec![Problem::Invalid(InvalidReason::Malformed(
            "not three dot-separated segments"
        ))]
    );
    let report = inspect("Bearer a.b.c", &[], &opts(), NOW);
    assert!(
        matches!(&report.problems[..], [Problem::Invalid(InvalidReason::Malformed(why))] if why.contains("Bearer")),
        "{:?}",
        report.problems
    );
    assert!(report.header.is_none() && report.claims.is_none());
    let input = signing_input(&eddsa_header(), &claims());
    let report = inspect(&format!("{input}."), &[], &opts(), NOW);
    assert!(report.claims.is_some());
    assert_eq!(
        report.problems.first(),
        Some(&Problem::Invalid(InvalidReason::Malformed(
            "empty signature"
        )))
    );
    assert!(report
        .problems
        .contains(&Problem::Invalid(InvalidReason::UntrustedIssuer)));
}

proptest! {
    #[test]
    fn never_panics(s in any::<String>(), parts in proptest::collection::vec("[A-Za-z0-9_-]{0,40}", 0..5)) {
        let _ = inspect(&s, &[], &opts(), NOW);
        let report = inspect(&parts.join("."), &[], &opts(), NOW);
        prop_assert!(!report.is_acceptable());
        let _ = report.to_string();
    }
}
