//! Tokens from independent Ed25519 JWS implementations verify, and ours verify there:
//! ring used by hand, `jsonwebtoken`'s encoder, and Python's `cryptography`
//! (`tests/interop/sign_jws.py`).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use credgate_authz::{
    issue, verify, AuthzError, Ed25519PublicKey, InvalidReason, IssueClaims, TrustedIssuer,
    VerifyOptions,
};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{json, Value};

use super::common::*;

fn check(
    token: &str,
    issuers: &[TrustedIssuer],
) -> Result<credgate_authz::Authorization, AuthzError> {
    verify(
        token,
        issuers,
        &expectation(),
        &VerifyOptions::default(),
        NOW,
    )
}

#[test]
fn a_jws_assembled_by_hand_with_ring_verifies() {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    // Member order, spacing and typ differ from what `issue` writes.
    let header = br#"{ "typ" : "JWT", "alg" : "EdDSA" }"#;
    let payload = serde_json::to_vec_pretty(&claims("ring-by-hand")).unwrap();
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(&payload)
    );
    let token = format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(pair.sign(input.as_bytes()).as_ref())
    );
    let key = Ed25519PublicKey::from_bytes(pair.public_key().as_ref().try_into().unwrap());
    let issuers = [TrustedIssuer::from_spki_pem(ISSUER, None, &key.to_spki_pem()).unwrap()];
    assert_eq!(check(&token, &issuers).unwrap().jti, "ring-by-hand");
}

#[test]
fn a_token_from_jsonwebtokens_encoder_verifies() {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    let key = jsonwebtoken::EncodingKey::from_ed_der(pkcs8.as_ref());
    let token = jsonwebtoken::encode(&header, &claims("from-jsonwebtoken"), &key).unwrap();
    let public = Ed25519PublicKey::from_bytes(pair.public_key().as_ref().try_into().unwrap());
    let issuers = [TrustedIssuer {
        id: ISSUER.into(),
        key_id: None,
        public_key: public,
    }];
    assert_eq!(check(&token, &issuers).unwrap().jti, "from-jsonwebtoken");
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/sign_jws.py")
}

/// The first Python 3 that has `cryptography`: the one on PATH, else the
/// system's (Debian's python3-cryptography installs for /usr/bin/python3,
/// which a pyenv shim on PATH would hide).
fn interpreter() -> &'static str {
    for candidate in ["python3", "/usr/bin/python3"] {
        let ok = Command::new(candidate)
            .args(["-c", "import cryptography"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return candidate;
        }
    }
    "python3"
}

/// Runs the Python implementation; fails loudly (never skips) without it.
fn python(mode: &str, request: &Value) -> Result<Value, String> {
    let mut child = Command::new(interpreter())
        .arg(script())
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("python3 is needed for the interop test ({e}): install Python 3, then pip install cryptography")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => Ok(serde_json::from_slice(&out.stdout).unwrap()),
        Some(3) => panic!("Python interop test needs the cryptography package: pip install cryptography ({stderr})"),
        _ => Err(stderr.into_owned()),
    }
}

#[test]
fn a_token_signed_by_python_cryptography_verifies() {
    let signed = python(
        "sign",
        &json!({"header": {"alg": "EdDSA", "typ": "JWT", "kid": "py"}, "claims": claims("from-python")}),
    )
    .unwrap();
    let token = signed["token"].as_str().unwrap();
    let public_pem = signed["public_pem"].as_str().unwrap();
    let issuers = [TrustedIssuer::from_spki_pem(ISSUER, Some("py".into()), public_pem).unwrap()];
    let auth = check(token, &issuers).unwrap();
    assert_eq!(auth.jti, "from-python");
    assert_eq!(auth.expires_at, NOW + 3600);

    // The same token with its payload re-encoded is refused: the check can fail.
    let parts: Vec<&str> = token.split('.').collect();
    let edited = URL_SAFE_NO_PAD.encode(claims("edited").to_string());
    let tampered = format!("{}.{edited}.{}", parts[0], parts[2]);
    assert_eq!(
        check(&tampered, &issuers),
        Err(AuthzError::Invalid(InvalidReason::BadSignature))
    );
}

#[test]
fn python_verifies_our_tokens_signed_with_its_pkcs8_v1_key() {
    // Python writes PKCS#8 v1 (no embedded public key), as OpenSSL does.
    let signed = python("sign", &json!({"header": {"alg": "EdDSA"}, "claims": {}})).unwrap();
    let private_pem = signed["private_pem"].as_str().unwrap();
    let public_pem = signed["public_pem"].as_str().unwrap();
    let token = issue(
        private_pem,
        &IssueClaims {
            iss: ISSUER.into(),
            sub: SUBJECT.into(),
            aud: CLIENT.into(),
            scope: vec![SCOPE.into()],
            purpose: PURPOSE.into(),
            ttl: std::time::Duration::from_secs(3600),
            max_uses: Some(5),
            kid: None,
            now_unix: NOW,
        },
    )
    .unwrap();
    let decoded = python("verify", &json!({"token": token, "public_pem": public_pem})).unwrap();
    assert_eq!(decoded["header"]["alg"], "EdDSA");
    assert_eq!(decoded["claims"]["sub"], SUBJECT);
    assert_eq!(decoded["claims"]["max_uses"], 5);
    assert_eq!(decoded["claims"]["exp"], NOW + 3600);
    // And Python refuses it under another key.
    let other = python("sign", &json!({"header": {}, "claims": {}})).unwrap();
    assert!(python(
        "verify",
        &json!({"token": token, "public_pem": other["public_pem"]})
    )
    .is_err());
}

#[test]
fn python_signs_with_the_key_that_authz_keygen_writes() {
    // Third-party issuers sign with common tools: the key file must be a
    // PKCS#8 document that `cryptography` (like OpenSSL) loads.
    let dir = tempfile::tempdir().unwrap();
    let (key_path, pub_path) = credgate_authz::keygen(dir.path()).unwrap();
    let private_pem = std::fs::read_to_string(key_path).unwrap();
    let public_pem = std::fs::read_to_string(pub_path).unwrap();
    let signed = python(
        "sign",
        &json!({"header": {"alg": "EdDSA", "typ": "JWT"}, "claims": claims("python-with-our-key"), "private_pem": private_pem}),
    )
    .unwrap();
    assert_eq!(
        signed["public_pem"].as_str().unwrap().trim(),
        public_pem.trim()
    );
    let issuers = [TrustedIssuer::from_spki_pem(ISSUER, None, &public_pem).unwrap()];
    let token = signed["token"].as_str().unwrap();
    assert_eq!(check(token, &issuers).unwrap().jti, "python-with-our-key");
}
