//! Unit-test helpers: keys, hand-assembled JWS (ring, not `jsonwebtoken`), standard claims.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{json, Value};

use crate::{Ed25519PublicKey, Expectation, TrustedIssuer};

pub const NOW: i64 = 1_750_000_000;
pub const ISSUER: &str = "demo-issuer";
pub const SUBJECT: &str = "91330200MA2AAAAA1X";
pub const CLIENT: &str = "bank-nb";
pub const SCOPE: &str = "enterprise.report";
pub const PURPOSE: &str = "loan_underwriting";

/// A fresh Ed25519 key pair.
pub fn keypair() -> Ed25519KeyPair {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
}

pub fn public(pair: &Ed25519KeyPair) -> Ed25519PublicKey {
    Ed25519PublicKey::from_bytes(pair.public_key().as_ref().try_into().unwrap())
}

pub fn trusted(id: &str, kid: Option<&str>, pair: &Ed25519KeyPair) -> TrustedIssuer {
    TrustedIssuer {
        id: id.to_owned(),
        key_id: kid.map(str::to_owned),
        public_key: public(pair),
    }
}

/// `header.payload` in base64url.
pub fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// A compact JWS signed by hand with ring.
pub fn sign(header: &Value, claims: &Value, pair: &Ed25519KeyPair) -> String {
    let input = signing_input(header, claims);
    let sig = pair.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

pub fn eddsa_header() -> Value {
    json!({"alg": "EdDSA", "typ": "JWT"})
}

/// Claims granting exactly what [`expectation`] asks, valid for an hour from [`NOW`].
pub fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": SUBJECT,
        "aud": CLIENT,
        "scope": [SCOPE],
        "purpose": PURPOSE,
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 3600,
        "jti": "0123456789abcdef0123456789abcdef",
    })
}

/// `claims()` with `key` set to `value` (or removed when `value` is null).
pub fn claims_with(key: &str, value: Value) -> Value {
    let mut c = claims();
    let obj = c.as_object_mut().unwrap();
    if value.is_null() {
        obj.remove(key);
    } else {
        obj.insert(key.to_owned(), value);
    }
    c
}

pub fn expectation() -> Expectation<'static> {
    Expectation {
        subject: SUBJECT,
        client_id: CLIENT,
        scope: SCOPE,
        purpose: PURPOSE,
        max_lifetime: None,
    }
}
