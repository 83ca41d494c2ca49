//! `authz_token`: subject authorization tokens (SPEC §6) through
//! `credgate_authz::verify` and `credgate_authz::inspect`.
//!
//! The first byte picks the mode:
//! - even: the rest, as (lossy) UTF-8, is the token itself;
//! - odd: the rest drives a structured mutation of a valid token (header
//!   and claim members replaced or removed, whole segments replaced), which
//!   the harness then signs with a trusted key, an untrusted key or not at
//!   all, so the fuzzer reaches the claim checks behind the signature.
//!
//! Properties: neither function panics; a token `verify` accepts grants
//! exactly what was expected (issuer trusted, window holds, subject,
//! audience, scope, purpose, lifetime); and `verify` and `inspect` agree on
//! every request-independent check.

#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use credgate_authz::{
    inspect, verify, AuthzError, Ed25519PublicKey, Expectation, InvalidReason, Problem,
    TrustedIssuer, VerifyOptions,
};
use libfuzzer_sys::fuzz_target;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{json, Map, Value};

/// The fixed clock of every run (2026-05-28T20:26:40Z).
const NOW: i64 = 1_780_000_000;
/// Ed25519 seeds of the keys (constants: the checked-in seed tokens are
/// signed with them, see README.md).
const TRUSTED_SEED: [u8; 32] = [0x11; 32];
const ROTATED_SEED: [u8; 32] = [0x22; 32];
const UNTRUSTED_SEED: [u8; 32] = [0x33; 32];

const ISSUER: &str = "fuzz-issuer";
const SUBJECT: &str = "91330203MA2H3K4L5P";
const CLIENT: &str = "bank-nb";
const SCOPE: &str = "enterprise.report";
const PURPOSE: &str = "loan_underwriting";

struct Keys {
    trusted: Ed25519KeyPair,
    rotated: Ed25519KeyPair,
    untrusted: Ed25519KeyPair,
    issuers: Vec<TrustedIssuer>,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let pair = |seed: &[u8; 32]| {
            Ed25519KeyPair::from_seed_unchecked(seed).expect("a 32-byte seed is a key")
        };
        let public = |p: &Ed25519KeyPair| {
            let bytes: [u8; 32] = p.public_key().as_ref().try_into().expect("32-byte key");
            Ed25519PublicKey::from_bytes(bytes)
        };
        let (trusted, rotated, untrusted) = (
            pair(&TRUSTED_SEED),
            pair(&ROTATED_SEED),
            pair(&UNTRUSTED_SEED),
        );
        let issuers = vec![
            // The issuer's unnamed key, and a rotated key named `k2`.
            TrustedIssuer {
                id: ISSUER.into(),
                key_id: None,
                public_key: public(&trusted),
            },
            TrustedIssuer {
                id: ISSUER.into(),
                key_id: Some("k2".into()),
                public_key: public(&rotated),
            },
            // Another issuer with a named key only.
            TrustedIssuer {
                id: "other-issuer".into(),
                key_id: Some("o1".into()),
                public_key: public(&untrusted),
            },
        ];
        Keys {
            trusted,
            rotated,
            untrusted,
            issuers,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let max_lifetime = match mode >> 1 & 3 {
        0 => None,
        1 => Some(Duration::from_secs(3600)),
        2 => Some(Duration::from_secs(30 * 86_400)),
        _ => Some(Duration::ZERO),
    };
    let expect = Expectation {
        subject: SUBJECT,
        client_id: CLIENT,
        scope: SCOPE,
        purpose: PURPOSE,
        max_lifetime,
    };
    if mode & 1 == 0 {
        check(&String::from_utf8_lossy(rest), &expect, NOW);
    } else if let Ok(s) = Structured::arbitrary_take_rest(Unstructured::new(rest)) {
        let (token, now) = s.build();
        check(&token, &expect, now);
    }
});

fn check(token: &str, expect: &Expectation<'_>, now: i64) {
    let k = keys();
    let opts = VerifyOptions::default();
    let verified = verify(token, &k.issuers, expect, &opts, now);
    let report = inspect(token, &k.issuers, &opts, now);
    let _ = report.to_string();
    if let Err(e) = &verified {
        let _ = (e.code(), e.http_status(), e.to_string());
    }
    match &verified {
        Ok(auth) => {
            assert!(
                k.issuers.iter().any(|i| i.id == auth.issuer),
                "issuer is trusted"
            );
            assert!(auth.subject.matches(expect.subject), "subject matches");
            assert_eq!(auth.audience, expect.client_id);
            assert!(auth.grants_scope(expect.scope));
            assert_eq!(auth.purpose, expect.purpose);
            let skew = opts.clock_skew.as_secs() as i64;
            assert!(now < auth.expires_at.saturating_add(skew), "not expired");
            assert!(
                now >= auth.not_before.max(auth.issued_at).saturating_sub(skew),
                "already valid"
            );
            assert!(auth.expires_at > auth.issued_at && auth.expires_at > auth.not_before);
            if let Some(max) = expect.max_lifetime {
                assert!(
                    auth.lifetime_secs() as u64 <= max.as_secs(),
                    "lifetime within the scope's maximum"
                );
            }
            assert!(auth.max_uses != Some(0));
            assert!(credgate_authz::is_valid_jti(&auth.jti));
            assert!(
                report.is_acceptable(),
                "inspect finds no problem in a verified token: {report}"
            );
        }
        // Request-dependent refusals, which inspect does not look at. A
        // mismatch is checked last, so nothing else is wrong; the lifetime
        // is checked before the validity window, which may be wrong too.
        Err(AuthzError::Mismatch(_)) => {
            assert!(
                report.is_acceptable(),
                "inspect agrees with verify: {report}"
            );
        }
        Err(AuthzError::Invalid(InvalidReason::LifetimeTooLong)) => {
            assert!(
                report
                    .problems
                    .iter()
                    .all(|p| matches!(p, Problem::Window(_))),
                "inspect agrees with verify: {report}"
            );
        }
        Err(AuthzError::Required) => assert!(token.trim().is_empty()),
        Err(e) => assert!(
            !report.is_acceptable(),
            "inspect misses what verify refused ({e})"
        ),
    }
}

// === structured mode ===

/// A mutation of a valid token.
#[derive(Arbitrary, Debug)]
struct Structured {
    alg: Alg,
    kid: Option<Json>,
    forbidden_header: Option<u8>,
    header_extra: Vec<(String, Json)>,
    /// Claim members replaced (`None`: removed).
    claims: Vec<(Claim, Option<Json>)>,
    claims_extra: Vec<(String, Json)>,
    /// Lowercase the subject (tokens may carry a lower-case USCC).
    lowercase_sub: bool,
    /// Replace a whole segment with arbitrary text.
    raw_header: Option<String>,
    raw_payload: Option<String>,
    signer: Signer,
    /// Added to the clock, in seconds.
    clock: i32,
    /// Surrounding whitespace (verify and inspect trim it).
    padded: bool,
}

#[derive(Arbitrary, Debug)]
enum Alg {
    EdDsa,
    Missing,
    /// One of [`ALG_NAMES`].
    Named(u8),
    Other(Json),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Claim {
    Iss,
    Sub,
    Aud,
    Scope,
    Purpose,
    Iat,
    Nbf,
    Exp,
    Jti,
    MaxUses,
}

#[derive(Arbitrary, Debug)]
enum Signer {
    Trusted,
    Rotated,
    Untrusted,
    /// Signed by the trusted key, then the signature bytes are flipped.
    Corrupted(u8, u8),
    /// An arbitrary signature segment.
    Raw(String),
    Empty,
}

/// A JSON value with interesting extremes, at most two levels deep.
#[derive(Arbitrary, Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    /// A value taken from the valid claim set (so swaps stay plausible).
    Known(Claim),
    Nearby(i32),
    Array(Vec<Leaf>),
    Object(Vec<(String, Leaf)>),
}

#[derive(Arbitrary, Debug)]
enum Leaf {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Known(Claim),
}

impl Alg {
    fn value(&self) -> Option<Value> {
        match self {
            Alg::EdDsa => Some(json!("EdDSA")),
            Alg::Missing => None,
            Alg::Named(i) => Some(json!(ALG_NAMES[usize::from(*i) % ALG_NAMES.len()])),
            Alg::Other(v) => Some(v.value()),
        }
    }
}

/// Algorithm names that must all be refused.
const ALG_NAMES: [&str; 7] = [
    "none", "HS256", "RS256", "ES256", "eddsa", "Ed25519", "EdDSA ",
];

impl Claim {
    fn name(self) -> &'static str {
        match self {
            Claim::Iss => "iss",
            Claim::Sub => "sub",
            Claim::Aud => "aud",
            Claim::Scope => "scope",
            Claim::Purpose => "purpose",
            Claim::Iat => "iat",
            Claim::Nbf => "nbf",
            Claim::Exp => "exp",
            Claim::Jti => "jti",
            Claim::MaxUses => "max_uses",
        }
    }
}

impl Json {
    fn value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => json!(b),
            Json::Int(i) => json!(i),
            Json::Uint(u) => json!(u),
            Json::Float(f) => json!(f),
            Json::Str(s) => json!(s),
            Json::Known(c) => valid_claims()[c.name()].clone(),
            Json::Nearby(d) => json!(NOW + i64::from(*d)),
            Json::Array(items) => Value::Array(items.iter().map(Leaf::value).collect()),
            Json::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), v.value()))
                    .collect(),
            ),
        }
    }
}

impl Leaf {
    fn value(&self) -> Value {
        match self {
            Leaf::Null => Value::Null,
            Leaf::Bool(b) => json!(b),
            Leaf::Int(i) => json!(i),
            Leaf::Float(f) => json!(f),
            Leaf::Str(s) => json!(s),
            Leaf::Known(c) => valid_claims()[c.name()].clone(),
        }
    }
}

fn valid_claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": SUBJECT,
        "aud": CLIENT,
        "scope": [SCOPE, "sanctions.check"],
        "purpose": PURPOSE,
        "iat": NOW - 60,
        "nbf": NOW - 60,
        "exp": NOW + 3000,
        "jti": "0123456789abcdef0123456789abcdef",
        "max_uses": 3,
    })
}

impl Structured {
    /// The token and the clock to verify it at.
    fn build(&self) -> (String, i64) {
        let mut header = Map::new();
        if let Some(alg) = self.alg.value() {
            header.insert("alg".into(), alg);
        }
        header.insert("typ".into(), json!("JWT"));
        if let Some(kid) = &self.kid {
            header.insert("kid".into(), kid.value());
        }
        if let Some(i) = self.forbidden_header {
            let name = ["jku", "x5u", "jwk", "x5c", "crit"][usize::from(i) % 5];
            header.insert(name.into(), json!("https://attacker.example/key"));
        }
        for (k, v) in &self.header_extra {
            header.insert(k.clone(), v.value());
        }

        let mut claims = match valid_claims() {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        if self.lowercase_sub {
            claims.insert("sub".into(), json!(SUBJECT.to_ascii_lowercase()));
        }
        for (claim, v) in &self.claims {
            match v {
                Some(v) => claims.insert(claim.name().into(), v.value()),
                None => claims.remove(claim.name()),
            };
        }
        for (k, v) in &self.claims_extra {
            claims.insert(k.clone(), v.value());
        }

        let h = match &self.raw_header {
            Some(raw) => URL_SAFE_NO_PAD.encode(raw),
            None => URL_SAFE_NO_PAD.encode(Value::Object(header).to_string()),
        };
        let p = match &self.raw_payload {
            Some(raw) => URL_SAFE_NO_PAD.encode(raw),
            None => URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string()),
        };
        let input = format!("{h}.{p}");
        let k = keys();
        let sign = |pair: &Ed25519KeyPair| pair.sign(input.as_bytes()).as_ref().to_vec();
        let sig = match &self.signer {
            Signer::Trusted => URL_SAFE_NO_PAD.encode(sign(&k.trusted)),
            Signer::Rotated => URL_SAFE_NO_PAD.encode(sign(&k.rotated)),
            Signer::Untrusted => URL_SAFE_NO_PAD.encode(sign(&k.untrusted)),
            Signer::Corrupted(at, bits) => {
                let mut s = sign(&k.trusted);
                let i = usize::from(*at) % s.len();
                s[i] ^= bits | 1;
                URL_SAFE_NO_PAD.encode(s)
            }
            Signer::Raw(raw) => raw.clone(),
            Signer::Empty => String::new(),
        };
        let mut token = format!("{input}.{sig}");
        if self.padded {
            token = format!(" \t{token}\r\n");
        }
        (token, NOW + i64::from(self.clock))
    }
}
