//! Compact JWS structure: splitting, base64url, the JOSE header rules, and the
//! signature check (delegated to `jsonwebtoken`, restricted to EdDSA).
//!
//! Everything here reads untrusted input: no function panics, and JSON objects with a
//! duplicated top-level member are refused (parsers disagreeing on which duplicate
//! wins is a classic token-confusion bug).

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, Validation};
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use crate::{Ed25519PublicKey, InvalidReason};

/// Header parameters that point at or carry a key, or demand extensions we do not
/// implement. A token naming any of them is refused: the key is chosen by `iss`,
/// and `b64` (RFC 7797 unencoded payloads) would change what was signed.
pub(crate) const FORBIDDEN_HEADERS: [&str; 6] = ["jku", "x5u", "jwk", "x5c", "crit", "b64"];

/// A JSON object whose top-level members are unique.
pub(crate) type JsonObject = BTreeMap<String, Value>;

/// The three segments of a compact JWS, decoded but not yet trusted.
#[derive(Debug)]
pub(crate) struct Segments {
    /// The decoded JOSE header.
    pub header: JsonObject,
    /// The decoded claim set.
    pub claims: JsonObject,
}

/// Splits `token` into its three segments and decodes header and payload.
pub(crate) fn decode(token: &str) -> Result<Segments, InvalidReason> {
    // Never valid base64url; said first because the usual cause is an
    // authentication scheme copied in front of the token.
    if token.contains(char::is_whitespace) {
        return Err(InvalidReason::Malformed(
            "whitespace inside: send the compact JWS alone, without a scheme such as Bearer",
        ));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(InvalidReason::Malformed("not three dot-separated segments"));
    };
    if signature.is_empty() {
        return Err(InvalidReason::Malformed("empty signature"));
    }
    if b64(signature).is_none() {
        return Err(InvalidReason::Malformed("signature not base64url"));
    }
    let header = b64(header)
        .and_then(|b| object(&b))
        .ok_or(InvalidReason::Malformed(
            "header not a base64url JSON object",
        ))?;
    let claims = b64(payload)
        .and_then(|b| object(&b))
        .ok_or(InvalidReason::Malformed(
            "payload not a base64url JSON object",
        ))?;
    Ok(Segments { header, claims })
}

/// Every reason the header is unacceptable, in check order (empty if it is fine).
pub(crate) fn header_problems(header: &JsonObject) -> Vec<InvalidReason> {
    let mut problems = Vec::new();
    if header.get("alg").and_then(Value::as_str) != Some("EdDSA") {
        problems.push(InvalidReason::UnsupportedAlgorithm);
    }
    for name in FORBIDDEN_HEADERS {
        if header.contains_key(name) {
            problems.push(InvalidReason::ForbiddenHeader(name));
        }
    }
    if !matches!(header.get("kid"), None | Some(Value::String(_))) {
        problems.push(InvalidReason::Malformed("kid not a string"));
    }
    // An authorization token is a JWT: a header declaring another type
    // (`at+jwt`, `dpop+jwt`, …) is some other token signed by the same key.
    match header.get("typ") {
        None => {}
        // RFC 7519 §5.1: "JWT", or its media type in full.
        Some(Value::String(t))
            if t.eq_ignore_ascii_case("JWT") || t.eq_ignore_ascii_case("application/jwt") => {}
        Some(_) => problems.push(InvalidReason::Malformed("typ is not JWT")),
    }
    problems
}

/// The header's `kid`, if it is a string.
pub(crate) fn key_id(header: &JsonObject) -> Option<&str> {
    header.get("kid").and_then(Value::as_str)
}

/// Checks the signature of `token` with `key`, accepting only EdDSA.
///
/// `jsonwebtoken` re-checks that the header's `alg` is EdDSA and that the key family
/// matches; its own claim validation (which reads the system clock) is switched off:
/// claims are checked by [`crate::claims`] against the caller's clock.
pub(crate) fn check_signature(token: &str, key: &Ed25519PublicKey) -> Result<(), InvalidReason> {
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let key = DecodingKey::from_ed_der(key.as_bytes());
    match jsonwebtoken::decode::<IgnoredAny>(token, &key, &validation) {
        Ok(_) => Ok(()),
        Err(e) => Err(match e.kind() {
            ErrorKind::InvalidSignature => InvalidReason::BadSignature,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                InvalidReason::UnsupportedAlgorithm
            }
            _ => InvalidReason::Malformed("refused by the JWS decoder"),
        }),
    }
}

/// Decodes one base64url segment (no padding, canonical trailing bits).
pub(crate) fn b64(segment: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(segment).ok()
}

/// Parses `bytes` as a JSON object with unique top-level members.
pub(crate) fn object(bytes: &[u8]) -> Option<JsonObject> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let obj = de.deserialize_map(UniqueMap).ok()?;
    de.end().ok()?;
    Some(obj)
}

/// Serde visitor building a [`JsonObject`] and refusing duplicate keys.
struct UniqueMap;

impl<'de> Visitor<'de> for UniqueMap {
    type Value = JsonObject;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object with unique members")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonObject, A::Error> {
        let mut out = JsonObject::new();
        while let Some(key) = map.next_key::<String>()? {
            let value: Value = map.next_value()?;
            if out.insert(key, value).is_some() {
                return Err(serde::de::Error::custom("duplicate member"));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn objects_refuse_duplicates_and_non_objects() {
        assert!(object(br#"{"a":1,"b":{"c":2}}"#).is_some());
        assert!(object(br#"{"a":1,"a":2}"#).is_none());
        assert!(object(b"[1,2]").is_none());
        assert!(object(br#"{"a":1} x"#).is_none());
        assert!(object(b"").is_none());
    }

    #[test]
    fn decode_needs_three_base64url_segments() {
        let sig = URL_SAFE_NO_PAD.encode([0u8; 64]);
        let good = format!("{}.{}.{sig}", enc(r#"{"alg":"EdDSA"}"#), enc("{}"));
        assert!(decode(&good).is_ok());
        assert!(matches!(decode("a.b"), Err(InvalidReason::Malformed(_))));
        for spaced in ["Bearer a.b.c", "a.b .c", "a.b.c\td"] {
            match decode(spaced) {
                Err(InvalidReason::Malformed(why)) => assert!(why.contains("Bearer"), "{why}"),
                other => panic!("{spaced:?}: {other:?}"),
            }
        }
        assert!(matches!(
            decode(&format!("{good}.x")),
            Err(InvalidReason::Malformed(_))
        ));
        let empty = format!("{}.{}.", enc(r#"{"alg":"EdDSA"}"#), enc("{}"));
        assert!(matches!(decode(&empty), Err(InvalidReason::Malformed(_))));
        let bad_sig = format!("{}.{}.A", enc(r#"{"alg":"EdDSA"}"#), enc("{}"));
        assert!(matches!(decode(&bad_sig), Err(InvalidReason::Malformed(_))));
        let padded = format!("{}=.{}.{sig}", enc(r#"{"alg":"EdDSA"}"#), enc("{}"));
        assert!(matches!(decode(&padded), Err(InvalidReason::Malformed(_))));
    }

    #[test]
    fn header_rules() {
        let h = |s: &str| object(s.as_bytes()).unwrap();
        assert!(header_problems(&h(r#"{"alg":"EdDSA","typ":"JWT","kid":"k1"}"#)).is_empty());
        assert_eq!(
            header_problems(&h(r#"{"alg":"none"}"#)),
            vec![InvalidReason::UnsupportedAlgorithm]
        );
        assert_eq!(
            header_problems(&h(r#"{"alg":"eddsa"}"#)),
            vec![InvalidReason::UnsupportedAlgorithm]
        );
        assert_eq!(
            header_problems(&h(r#"{"alg":"HS256","jwk":{},"crit":["b64"]}"#)),
            vec![
                InvalidReason::UnsupportedAlgorithm,
                InvalidReason::ForbiddenHeader("jwk"),
                InvalidReason::ForbiddenHeader("crit"),
            ]
        );
        assert_eq!(
            header_problems(&h(r#"{"alg":"EdDSA","kid":7}"#)),
            vec![InvalidReason::Malformed("kid not a string")]
        );
    }
}
