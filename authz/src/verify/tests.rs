use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::test_support::*;
use crate::{ClaimError, SubjectId};

struct Fixture {
    pair: ring::signature::Ed25519KeyPair,
    issuers: Vec<TrustedIssuer>,
}

fn fixture() -> Fixture {
    let pair = keypair();
    let issuers = vec![trusted(ISSUER, None, &pair)];
    Fixture { pair, issuers }
}

impl Fixture {
    fn token(&self, claims: &Value) -> String {
        sign(&eddsa_header(), claims, &self.pair)
    }

    fn check(&self, token: &str) -> Result<Authorization, AuthzError> {
        self.check_at(token, NOW)
    }

    fn check_at(&self, token: &str, now: i64) -> Result<Authorization, AuthzError> {
        verify(
            token,
            &self.issuers,
            &expectation(),
            &VerifyOptions::default(),
            now,
        )
    }
}

fn invalid(reason: InvalidReason) -> Result<Authorization, AuthzError> {
    Err(AuthzError::Invalid(reason))
}

fn bad_claims(claim: &'static str) -> impl Fn(&Result<Authorization, AuthzError>) -> bool {
    move |r| matches!(r, Err(AuthzError::Invalid(InvalidReason::BadClaims(ClaimError { claim: c, .. }))) if *c == claim)
}

#[test]
fn accepts_a_good_token_and_reports_what_it_grants() {
    let f = fixture();
    let claims = claims_with("max_uses", json!(3));
    let auth = f.check(&f.token(&claims)).unwrap();
    assert_eq!(auth.issuer, ISSUER);
    assert_eq!(auth.jti, "0123456789abcdef0123456789abcdef");
    assert_eq!(auth.subject, SubjectId::new(SUBJECT));
    assert_eq!(auth.audience, CLIENT);
    assert_eq!(auth.scopes, vec![SCOPE.to_owned()]);
    assert_eq!(auth.purpose, PURPOSE);
    assert_eq!(
        (auth.issued_at, auth.not_before, auth.expires_at),
        (NOW, NOW, NOW + 3600)
    );
    assert_eq!(auth.max_uses, Some(3));
    // Debug output never shows the subject.
    assert!(!format!("{auth:?}").contains(SUBJECT));
}

#[test]
fn required_when_absent_or_blank() {
    let f = fixture();
    let opts = VerifyOptions::default();
    let e = expectation();
    let required = Err(Refusal {
        error: AuthzError::Required,
        jti: None,
    });
    assert_eq!(verify_header(None, &f.issuers, &e, &opts, NOW), required);
    assert_eq!(
        verify_header(Some("  "), &f.issuers, &e, &opts, NOW),
        required
    );
    assert_eq!(f.check(""), Err(AuthzError::Required));
    let token = f.token(&claims());
    assert!(verify_header(Some(&format!(" {token} ")), &f.issuers, &e, &opts, NOW).is_ok());
}

#[test]
fn too_large_before_anything_else_and_fast() {
    let f = fixture();
    let huge = "A".repeat(1 << 20);
    let start = Instant::now();
    assert_eq!(f.check(&huge), Err(AuthzError::TooLarge { max: 4096 }));
    assert!(start.elapsed() < Duration::from_secs(1));
    // A validly signed token with padding claims beyond the limit is still too large.
    let padded = f.token(&claims_with("pad", json!("x".repeat(5000))));
    assert_eq!(f.check(&padded), Err(AuthzError::TooLarge { max: 4096 }));
    let opts = VerifyOptions {
        max_token_bytes: 1 << 16,
        ..VerifyOptions::default()
    };
    assert!(verify(&padded, &f.issuers, &expectation(), &opts, NOW).is_ok());
}

#[test]
fn refuses_alg_none() {
    let f = fixture();
    let input = signing_input(&json!({"alg": "none", "typ": "JWT"}), &claims());
    assert_eq!(
        f.check(&format!("{input}.")),
        invalid(InvalidReason::Malformed("empty signature"))
    );
    // Even with a (meaningless) signature segment.
    let sig = URL_SAFE_NO_PAD.encode([0u8; 64]);
    assert_eq!(
        f.check(&format!("{input}.{sig}")),
        invalid(InvalidReason::UnsupportedAlgorithm)
    );
}

#[test]
fn refuses_hs256_signed_with_the_public_key_as_secret() {
    let f = fixture();
    let input = signing_input(&json!({"alg": "HS256", "typ": "JWT"}), &claims());
    let pem = f.issuers[0].public_key.to_spki_pem();
    let secrets: [&[u8]; 2] = [f.issuers[0].public_key.as_bytes(), pem.as_bytes()];
    for secret in secrets {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        let tag = ring::hmac::sign(&key, input.as_bytes());
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
        assert_eq!(
            f.check(&token),
            invalid(InvalidReason::UnsupportedAlgorithm)
        );
    }
}

#[test]
fn refuses_other_algorithms_even_with_a_valid_ed25519_signature() {
    let f = fixture();
    for alg in [
        "RS256", "ES256", "PS256", "HS512", "ES384", "EdDSA ", "Ed25519", "",
    ] {
        let token = sign(&json!({"alg": alg}), &claims(), &f.pair);
        assert_eq!(
            f.check(&token),
            invalid(InvalidReason::UnsupportedAlgorithm),
            "{alg}"
        );
    }
    let no_alg = sign(&json!({"typ": "JWT"}), &claims(), &f.pair);
    assert_eq!(
        f.check(&no_alg),
        invalid(InvalidReason::UnsupportedAlgorithm)
    );
}

#[test]
fn refuses_key_carrying_and_critical_headers() {
    let f = fixture();
    let attacker = keypair();
    let x = URL_SAFE_NO_PAD.encode(public(&attacker).as_bytes());
    let values = [
        json!("https://evil.example/jwks"),
        json!("https://evil.example/cert"),
        json!({"kty": "OKP", "crv": "Ed25519", "x": x}),
        json!(["MIIB"]),
        json!(["exp"]),
        json!(false),
    ];
    assert_eq!(
        crate::token::FORBIDDEN_HEADERS,
        ["jku", "x5u", "jwk", "x5c", "crit", "b64"]
    );
    for (name, value) in crate::token::FORBIDDEN_HEADERS.into_iter().zip(values) {
        let mut header = eddsa_header();
        header[name] = value;
        // Signed by the trusted key: the header alone is the reason.
        let token = sign(&header, &claims(), &f.pair);
        assert_eq!(
            f.check(&token),
            invalid(InvalidReason::ForbiddenHeader(name))
        );
    }
    // `typ`: absent or JWT (any case); another token type is refused.
    for (typ, ok) in [
        (json!("JWT"), true),
        (json!("jwt"), true),
        (json!("application/jwt"), true),
        (json!("at+jwt"), false),
        (json!("dpop+jwt"), false),
        (json!(1), false),
    ] {
        let mut header = eddsa_header();
        header["typ"] = typ.clone();
        let token = sign(&header, &claims(), &f.pair);
        if ok {
            assert!(f.check(&token).is_ok(), "{typ}");
        } else {
            assert_eq!(
                f.check(&token),
                invalid(InvalidReason::Malformed("typ is not JWT")),
                "{typ}"
            );
        }
    }
    let mut header = eddsa_header();
    header.as_object_mut().unwrap().remove("typ");
    assert!(f.check(&sign(&header, &claims(), &f.pair)).is_ok());
}

#[test]
fn refuses_untrusted_keys_issuers_and_tampering() {
    let f = fixture();
    // Same iss, another key.
    let rogue = sign(&eddsa_header(), &claims(), &keypair());
    assert_eq!(f.check(&rogue), invalid(InvalidReason::BadSignature));
    // An issuer nobody trusts.
    let other = f.token(&claims_with("iss", json!("someone-else")));
    assert_eq!(f.check(&other), invalid(InvalidReason::UntrustedIssuer));
    assert!(bad_claims("iss")(
        &f.check(&f.token(&claims_with("iss", Value::Null)))
    ));
    // Payload edited after signing (another subject), signature kept.
    let token = f.token(&claims());
    let mut parts: Vec<&str> = token.split('.').collect();
    let edited =
        URL_SAFE_NO_PAD.encode(claims_with("sub", json!("91110000000000000A")).to_string());
    parts[1] = &edited;
    assert_eq!(
        f.check(&parts.join(".")),
        invalid(InvalidReason::BadSignature)
    );
    // One flipped signature character.
    let mut chars: Vec<char> = token.chars().collect();
    let last = chars.len() - 2;
    chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
    let flipped: String = chars.into_iter().collect();
    assert!(matches!(f.check(&flipped), Err(AuthzError::Invalid(_))));
}

#[test]
fn refuses_truncated_tokens_at_every_length() {
    let f = fixture();
    let token = f.token(&claims());
    for len in 0..token.len() {
        let cut = &token[..len];
        let result = f.check(cut);
        assert!(
            matches!(result, Err(AuthzError::Invalid(_) | AuthzError::Required)),
            "length {len}: {result:?}"
        );
    }
}

#[test]
fn chooses_keys_by_issuer_and_kid() {
    let old = keypair();
    let new = keypair();
    let issuers = vec![
        trusted(ISSUER, Some("2024"), &old),
        trusted(ISSUER, Some("2025"), &new),
    ];
    let opts = VerifyOptions::default();
    let check = |t: &str| verify(t, &issuers, &expectation(), &opts, NOW);
    let with_kid = |kid: &str, pair| sign(&json!({"alg": "EdDSA", "kid": kid}), &claims(), pair);
    assert!(check(&with_kid("2025", &new)).is_ok());
    assert!(check(&with_kid("2024", &old)).is_ok());
    // The right kid with the other key's signature.
    assert_eq!(
        check(&with_kid("2024", &new)),
        invalid(InvalidReason::BadSignature)
    );
    assert_eq!(
        check(&with_kid("2026", &new)),
        invalid(InvalidReason::UnknownKeyId)
    );
    // Without kid every key of the issuer is tried.
    assert!(check(&sign(&eddsa_header(), &claims(), &old)).is_ok());
    // An issuer configured without kid accepts any kid.
    let f = fixture();
    assert!(f
        .check(&sign(
            &json!({"alg": "EdDSA", "kid": "x"}),
            &claims(),
            &f.pair
        ))
        .is_ok());
}

#[test]
fn requires_every_claim() {
    let f = fixture();
    for claim in ["sub", "aud", "scope", "purpose", "iat", "nbf", "exp", "jti"] {
        let result = f.check(&f.token(&claims_with(claim, Value::Null)));
        assert!(bad_claims(claim)(&result), "{claim}: {result:?}");
    }
}

#[test]
fn claim_shapes() {
    let f = fixture();
    let ok = |c: Value| f.check(&f.token(&c));
    assert!(ok(claims_with("aud", json!([CLIENT]))).is_ok());
    assert!(bad_claims("aud")(&ok(claims_with(
        "aud",
        json!([CLIENT, "dept-nb"])
    ))));
    assert!(bad_claims("aud")(&ok(claims_with("aud", json!([])))));
    let spaced = ok(claims_with(
        "scope",
        json!("person.score enterprise.report"),
    ))
    .unwrap();
    assert_eq!(spaced.scopes, vec!["person.score", SCOPE]);
    assert!(bad_claims("scope")(&ok(claims_with("scope", json!([])))));
    assert!(bad_claims("scope")(&ok(claims_with("scope", json!("  ")))));
    assert!(bad_claims("scope")(&ok(claims_with(
        "scope",
        json!([SCOPE, 1])
    ))));
    assert!(bad_claims("exp")(&ok(claims_with("exp", json!(1.5e9)))));
    assert!(bad_claims("exp")(&ok(claims_with(
        "exp",
        json!("1750003600")
    ))));
    assert!(bad_claims("exp")(&ok(claims_with("exp", json!(NOW)))));
    // Dates outside 1970..=9999: no real token carries them, and Redis
    // refuses such an expiry (which left a use count behind with no TTL).
    assert!(bad_claims("exp")(&ok(claims_with(
        "exp",
        json!(100_000_000_000_000_000_i64)
    ))));
    assert!(bad_claims("exp")(&ok(claims_with(
        "exp",
        json!(crate::MAX_NUMERIC_DATE + 1)
    ))));
    assert!(bad_claims("iat")(&ok(claims_with("iat", json!(-1)))));
    assert!(bad_claims("nbf")(&ok(claims_with(
        "nbf",
        json!(-100_000_000_000_000_000_i64)
    ))));
    assert!(bad_claims("max_uses")(&ok(claims_with(
        "max_uses",
        json!(0)
    ))));
    assert!(bad_claims("max_uses")(&ok(claims_with(
        "max_uses",
        json!(-1)
    ))));
    assert!(bad_claims("max_uses")(&ok(claims_with(
        "max_uses",
        json!(1u64 << 32)
    ))));
    assert!(ok(claims_with("max_uses", json!(u32::MAX))).is_ok());
    assert!(bad_claims("jti")(&ok(claims_with(
        "jti",
        json!("has space")
    ))));
    assert!(bad_claims("jti")(&ok(claims_with(
        "jti",
        json!("j".repeat(129))
    ))));
    // A jti that holds an ID number or USCC (an issuer that numbers its
    // grants by the subject's code) would put it in the audit log.
    for jti in [
        "91330203354933879K-2026-001",
        "grant-91330203354933879k",
        "330205197411172108",
    ] {
        let r = ok(claims_with("jti", json!(jti)));
        assert!(bad_claims("jti")(&r), "{jti}: {r:?}");
        let text = format!("{:?} {}", r, r.as_ref().unwrap_err());
        assert!(!text.contains(&jti[..10]), "{text}");
    }
    assert!(ok(claims_with("jti", json!("91330203354933879K0"))).is_err());
    assert!(ok(claims_with("jti", json!("9133020335-4933879K"))).is_ok());
}

#[test]
fn maximum_lifetime_is_invalid_and_checked_before_the_window() {
    let f = fixture();
    let token = f.token(&claims());
    let opts = VerifyOptions::default();
    let mut e = expectation();
    e.max_lifetime = Some(Duration::from_secs(3600));
    assert!(verify(&token, &f.issuers, &e, &opts, NOW).is_ok());
    e.max_lifetime = Some(Duration::from_secs(3599));
    assert_eq!(
        verify(&token, &f.issuers, &e, &opts, NOW),
        invalid(InvalidReason::LifetimeTooLong)
    );
    // Expired and too long: Invalid comes first.
    assert_eq!(
        verify(&token, &f.issuers, &e, &opts, NOW + 99_999),
        invalid(InvalidReason::LifetimeTooLong)
    );
}

#[test]
fn validity_window_with_skew() {
    let f = fixture();
    let token = f.token(&claims());
    let exp = NOW + 3600;
    assert!(f.check_at(&token, exp + 59).is_ok());
    assert_eq!(
        f.check_at(&token, exp + 60),
        Err(AuthzError::Expired(WindowReason::Expired))
    );
    assert!(f.check_at(&token, NOW - 60).is_ok());
    assert_eq!(
        f.check_at(&token, NOW - 61),
        Err(AuthzError::Expired(WindowReason::NotYetValid))
    );
    // nbf later than iat.
    let later = f.token(&claims_with("nbf", json!(NOW + 600)));
    assert_eq!(
        f.check_at(&later, NOW + 539),
        Err(AuthzError::Expired(WindowReason::NotYetValid))
    );
    assert!(f.check_at(&later, NOW + 540).is_ok());
    // Zero skew.
    let strict = VerifyOptions {
        clock_skew: Duration::ZERO,
        ..VerifyOptions::default()
    };
    let at = |now| verify(&token, &f.issuers, &expectation(), &strict, now);
    assert!(at(exp - 1).is_ok());
    assert_eq!(at(exp), Err(AuthzError::Expired(WindowReason::Expired)));
    // Expired comes before a mismatch.
    let other_subject = f.token(&claims_with("sub", json!("91110000000000000A")));
    assert_eq!(
        f.check_at(&other_subject, exp + 60),
        Err(AuthzError::Expired(WindowReason::Expired))
    );
}

#[test]
fn mismatches_in_order_subject_audience_scope_purpose() {
    let f = fixture();
    let all_wrong = json!({
        "sub": "91110000000000000A", "aud": "dept-nb",
        "scope": ["person.score"], "purpose": "marketing",
    });
    let expected = [
        MismatchReason::Subject,
        MismatchReason::Audience,
        MismatchReason::Scope,
        MismatchReason::Purpose,
    ];
    let fields = ["sub", "aud", "scope", "purpose"];
    for (i, want) in expected.into_iter().enumerate() {
        // Field i and every later one are wrong: only the order decides.
        let mut wrong = claims();
        for field in &fields[i..] {
            wrong[*field] = all_wrong[*field].clone();
        }
        assert_eq!(f.check(&f.token(&wrong)), Err(AuthzError::Mismatch(want)));
    }
}

#[test]
fn subject_comparison_ignores_ascii_case() {
    let f = fixture();
    let lower = f.token(&claims_with("sub", json!(SUBJECT.to_ascii_lowercase())));
    assert!(f.check(&lower).is_ok());
    let id = "33020319900101123X";
    let token = f.token(&claims_with("sub", json!("33020319900101123x")));
    let mut e = expectation();
    e.subject = id;
    assert!(verify(&token, &f.issuers, &e, &VerifyOptions::default(), NOW).is_ok());
    e.subject = "33020319900101123x";
    let upper = f.token(&claims_with("sub", json!(id)));
    assert!(verify(&upper, &f.issuers, &e, &VerifyOptions::default(), NOW).is_ok());
}

#[test]
fn errors_never_echo_the_token_or_subject() {
    let f = fixture();
    let wrong = f.token(&claims_with("sub", json!("91110000000000000A")));
    let tampered = format!("{wrong}x");
    for token in [wrong.as_str(), tampered.as_str()] {
        let err = f.check(token).unwrap_err();
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains("91110000000000000A"));
            assert!(!text.contains(SUBJECT));
            assert!(!text.contains(&token[..20]));
        }
    }
}

fn b64_segment() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{0,200}"
}

proptest! {
    #[test]
    fn random_bytes_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let f = fixture();
        let text = String::from_utf8_lossy(&bytes);
        prop_assert!(f.check(&text).is_err());
    }

    #[test]
    fn random_three_part_strings_are_refused(a in b64_segment(), b in b64_segment(), c in b64_segment()) {
        let f = fixture();
        let token = format!("{a}.{b}.{c}");
        prop_assert!(f.check(&token).is_err());
    }

    #[test]
    fn random_json_segments_are_refused(header in any::<String>(), payload in any::<String>(), sig in proptest::collection::vec(any::<u8>(), 0..80)) {
        let f = fixture();
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(sig)
        );
        prop_assert!(f.check(&token).is_err());
    }

    #[test]
    fn random_claims_signed_by_the_trusted_key_never_panic(
        key in "[a-z_]{1,8}",
        value in prop_oneof![any::<i64>().prop_map(Value::from), any::<String>().prop_map(Value::from), Just(Value::Null), Just(json!([]))],
    ) {
        let f = fixture();
        let mut c = claims();
        c[key.as_str()] = value;
        let _ = f.check(&f.token(&c));
    }
}

#[test]
fn a_refusal_names_the_jti_only_of_an_authentic_token() {
    let f = fixture();
    let opts = VerifyOptions::default();
    let detailed = |token: &str, now: i64| {
        verify_detailed(token, &f.issuers, &expectation(), &opts, now).map(|a| a.jti)
    };
    let jti = "0123456789abcdef0123456789abcdef".to_owned();
    let good = f.token(&claims());
    // Expired, and granted for another purpose: authentic, so named.
    let late = detailed(&good, NOW + 10 * 86_400).unwrap_err();
    assert!(matches!(late.error, AuthzError::Expired(_)));
    assert_eq!(late.jti.as_deref(), Some(jti.as_str()));
    let other = f.token(&claims_with("purpose", json!("post_loan_monitoring")));
    let mismatch = detailed(&other, NOW).unwrap_err();
    assert!(matches!(mismatch.error, AuthzError::Mismatch(_)));
    assert_eq!(mismatch.jti.as_deref(), Some(jti.as_str()));
    // Signed by an untrusted key: its claims are not believed.
    let stranger = sign(&eddsa_header(), &claims(), &keypair());
    let forged = detailed(&stranger, NOW).unwrap_err();
    assert!(matches!(forged.error, AuthzError::Invalid(_)));
    assert_eq!(forged.jti, None);
    assert_eq!(detailed(&good, NOW), Ok(jti));
}
