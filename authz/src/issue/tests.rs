use std::collections::HashSet;

use super::*;
use crate::test_support::{expectation, CLIENT, ISSUER, NOW, PURPOSE, SCOPE, SUBJECT};
use crate::{public_key_of, verify, AuthzError, Ed25519PublicKey, TrustedIssuer, VerifyOptions};

fn claims() -> IssueClaims {
    IssueClaims {
        iss: ISSUER.to_owned(),
        sub: SUBJECT.to_owned(),
        aud: CLIENT.to_owned(),
        scope: vec![SCOPE.to_owned(), "person.score".to_owned()],
        purpose: PURPOSE.to_owned(),
        ttl: Duration::from_secs(600),
        max_uses: Some(2),
        kid: None,
        now_unix: NOW,
    }
}

fn pem_pair() -> (String, String) {
    credgate_certs::ed25519_keypair_pem().unwrap()
}

#[test]
fn issued_tokens_verify_and_carry_the_claims() {
    let (private, public) = pem_pair();
    let issuers = [TrustedIssuer::from_spki_pem(ISSUER, None, &public).unwrap()];
    let token = issue(&private, &claims()).unwrap();
    let auth = verify(
        &token,
        &issuers,
        &expectation(),
        &VerifyOptions::default(),
        NOW,
    )
    .unwrap();
    assert_eq!(
        (auth.issued_at, auth.not_before, auth.expires_at),
        (NOW, NOW, NOW + 600)
    );
    assert_eq!(auth.max_uses, Some(2));
    assert_eq!(auth.scopes, vec![SCOPE, "person.score"]);
    // A UUID's layout: 32 hex digits in groups of 8-4-4-4-12, no run of 18.
    let groups: Vec<usize> = auth.jti.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "{}", auth.jti);
    assert!(auth.jti.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'));
}

#[test]
fn jtis_are_random() {
    let (private, _) = pem_pair();
    let jtis: HashSet<String> = (0..20)
        .map(|_| {
            let token = issue(&private, &claims()).unwrap();
            let payload = token.split('.').nth(1).unwrap();
            let claims = crate::token::object(&crate::token::b64(payload).unwrap()).unwrap();
            claims["jti"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(jtis.len(), 20);
}

#[test]
fn kid_goes_into_the_header() {
    let (private, public) = pem_pair();
    let issuers = [TrustedIssuer::from_spki_pem(ISSUER, Some("k2".into()), &public).unwrap()];
    let opts = VerifyOptions::default();
    let mut c = claims();
    c.kid = Some("k2".into());
    let token = issue(&private, &c).unwrap();
    assert!(verify(&token, &issuers, &expectation(), &opts, NOW).is_ok());
    c.kid = Some("k3".into());
    let token = issue(&private, &c).unwrap();
    assert!(matches!(
        verify(&token, &issuers, &expectation(), &opts, NOW),
        Err(AuthzError::Invalid(crate::InvalidReason::UnknownKeyId))
    ));
}

#[test]
fn pkcs8_v1_keys_sign_too() {
    // RFC 8410 §10.3 (OpenSSL-style PKCS#8 v1, no embedded public key).
    let v1 = "-----BEGIN PRIVATE KEY-----\n\
              MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
              -----END PRIVATE KEY-----\n";
    let key = public_key_of(v1).unwrap();
    let issuers = [TrustedIssuer {
        id: ISSUER.into(),
        key_id: None,
        public_key: key,
    }];
    let token = issue(v1, &claims()).unwrap();
    let opts = VerifyOptions::default();
    assert!(verify(&token, &issuers, &expectation(), &opts, NOW).is_ok());
    // Its public key is the one RFC 8410 §10.1 prints.
    let rfc_pub = "-----BEGIN PUBLIC KEY-----\n\
                   MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n\
                   -----END PUBLIC KEY-----\n";
    assert_eq!(Ed25519PublicKey::from_spki_pem(rfc_pub).unwrap(), key);
}

#[test]
fn refuses_bad_claims_and_keys() {
    let (private, public) = pem_pair();
    type Edit = fn(&mut IssueClaims);
    let cases: [(&str, Edit); 8] = [
        ("iss", |c| c.iss.clear()),
        ("sub", |c| c.sub.clear()),
        ("aud", |c| c.aud.clear()),
        ("scope", |c| c.scope.clear()),
        ("max_uses", |c| c.max_uses = Some(0)),
        ("exp", |c| c.ttl = Duration::from_millis(500)),
        // An exp after 9999 would be refused by every verifier.
        ("exp", |c| c.ttl = Duration::from_secs(3_000_000 * 86_400)),
        ("kid", |c| c.kid = Some(String::new())),
    ];
    for (claim, edit) in cases {
        let mut c = claims();
        edit(&mut c);
        assert!(
            matches!(issue(&private, &c), Err(IssueError::Claims { claim: got, .. }) if got == claim),
            "{claim}"
        );
    }
    assert!(matches!(issue(&public, &claims()), Err(IssueError::Key(_))));
}

#[test]
fn ttl_parsing() {
    assert_eq!(parse_ttl("30d"), Ok(Duration::from_secs(30 * 86_400)));
    assert_eq!(parse_ttl("12h"), Ok(Duration::from_secs(12 * 3600)));
    assert_eq!(parse_ttl("90m"), Ok(Duration::from_secs(90 * 60)));
    assert_eq!(parse_ttl("3600s"), Ok(Duration::from_secs(3600)));
    assert_eq!(parse_ttl(" 1s "), Ok(Duration::from_secs(1)));
    for bad in [
        "",
        "s",
        "0s",
        "10",
        "-5m",
        "+5m",
        "1.5h",
        "5 m",
        "5w",
        "5S",
        "1h30m",
        "日",
        "9d日",
        "99999999999999999999d",
        "106751991167301d",
    ] {
        let err = parse_ttl(bad).unwrap_err();
        assert_eq!(err.input, bad);
    }
}

#[test]
fn keygen_writes_a_private_0600_and_a_public_key_that_pair_up() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("authz");
    let (key, public) = keygen(&out).unwrap();
    assert_eq!(key, out.join("issuer.key"));
    assert_eq!(public, out.join("issuer.pub"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let private_pem = std::fs::read_to_string(&key).unwrap();
    let public_pem = std::fs::read_to_string(&public).unwrap();
    assert!(private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(
        public_key_of(&private_pem).unwrap(),
        Ed25519PublicKey::from_spki_pem(&public_pem).unwrap()
    );
    // Never overwritten.
    assert!(matches!(keygen(&out), Err(IssueError::AlreadyExists(p)) if p == key));
    assert_eq!(std::fs::read_to_string(&key).unwrap(), private_pem);
}

#[test]
fn debug_output_leaves_the_subject_out() {
    let shown = format!("{:?}", claims());
    assert!(!shown.contains(SUBJECT), "{shown}");
    assert!(
        shown.contains(CLIENT) && shown.contains("[subject]"),
        "{shown}"
    );
}
