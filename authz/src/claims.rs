//! The claim set of an authorization token and what a verified token grants.
//!
//! Accepted shapes (decided here, relied on by issuers):
//! - `aud`: a string, or an array holding exactly one string. A token naming several
//!   grantees would be a bearer credential for all of them, so it is refused.
//! - `scope`: an array of strings, or one space-separated string (the OAuth
//!   convention, RFC 8693 §4.2). Either way at least one scope, none empty.
//! - `iat`, `nbf`, `exp`: integer NumericDates (fractional seconds are refused);
//!   `exp` must be after `iat` and `nbf`.
//! - `jti`: 1–128 visible ASCII characters (it goes into logs, Redis keys and the
//!   revocation file).
//! - `max_uses`: absent, `null`, or an integer from 1 to 2³²−1.
//!
//! Every other member is ignored.

use serde_json::Value;

use crate::token::JsonObject;
use crate::{ClaimError, SubjectId};

/// The longest `jti` accepted.
pub const MAX_JTI_LEN: usize = 128;

/// What a verified token grants. `Debug` redacts the subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// `iss`: the issuer that signed the token.
    pub issuer: String,
    /// `jti`: the token's unique id (revocation and use counting key).
    pub jti: String,
    /// `sub`: the subject that granted access, normalised.
    pub subject: SubjectId,
    /// `aud`: the grantee client id.
    pub audience: String,
    /// `scope`: the granted scopes.
    pub scopes: Vec<String>,
    /// `purpose`: the agreed purpose.
    pub purpose: String,
    /// `iat`, Unix seconds.
    pub issued_at: i64,
    /// `nbf`, Unix seconds.
    pub not_before: i64,
    /// `exp`, Unix seconds.
    pub expires_at: i64,
    /// `max_uses`: how many answered queries the token allows, if limited.
    pub max_uses: Option<u32>,
}

// === impl Authorization ===

impl Authorization {
    /// Whether `scope` is among the granted scopes (exact match).
    pub fn grants_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// `exp - iat` in seconds.
    pub fn lifetime_secs(&self) -> i64 {
        self.expires_at.saturating_sub(self.issued_at)
    }
}

/// Whether `jti` is acceptable as a token id (1–[`MAX_JTI_LEN`] visible ASCII).
pub fn is_valid_jti(jti: &str) -> bool {
    !jti.is_empty() && jti.len() <= MAX_JTI_LEN && jti.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether `jti` holds a valid ID number or USCC. A token id is recorded as
/// the issuer chose it (audit records, logs, the revocation file, Redis
/// keys), where no raw identifier may be (SPEC §8, §10): issuers that build
/// ids from the subject's code would put it there. Such a token is refused
/// as invalid, and such an id cannot be revoked (no token bearing it is
/// ever accepted).
pub fn jti_names_a_subject(jti: &str) -> bool {
    credgate_ids::contains_subject_id(jti)
}

/// Parses a (signature-checked) claim set into an [`Authorization`].
pub(crate) fn parse(claims: &JsonObject) -> Result<Authorization, ClaimError> {
    let issuer = string(claims, "iss")?;
    let subject = SubjectId::new(&string(claims, "sub")?);
    let audience = audience(claims)?;
    let scopes = scopes(claims)?;
    let purpose = string(claims, "purpose")?;
    let issued_at = numeric_date(claims, "iat")?;
    let not_before = numeric_date(claims, "nbf")?;
    let expires_at = numeric_date(claims, "exp")?;
    let jti = string(claims, "jti")?;
    if !is_valid_jti(&jti) {
        return Err(bad("jti", "must be 1-128 visible ASCII characters"));
    }
    if jti_names_a_subject(&jti) {
        return Err(bad(
            "jti",
            "holds an ID number or USCC; a jti is recorded in the audit log and \
             must not name a subject (ask the issuer for another)",
        ));
    }
    let max_uses = match claims.get("max_uses") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64().map(u32::try_from) {
            Some(Ok(n)) if n >= 1 => Some(n),
            _ => return Err(bad("max_uses", "must be an integer from 1 to 4294967295")),
        },
    };
    if expires_at <= issued_at || expires_at <= not_before {
        return Err(bad("exp", "must be after iat and nbf"));
    }
    Ok(Authorization {
        issuer,
        jti,
        subject,
        audience,
        scopes,
        purpose,
        issued_at,
        not_before,
        expires_at,
        max_uses,
    })
}

/// The `iss` claim, if it is a string (used to pick the key before anything is trusted).
pub(crate) fn issuer(claims: &JsonObject) -> Result<&str, ClaimError> {
    match claims.get("iss") {
        None => Err(bad("iss", "is missing")),
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(bad("iss", "must be a non-empty string")),
    }
}

/// A required non-empty string claim.
fn string(claims: &JsonObject, name: &'static str) -> Result<String, ClaimError> {
    match claims.get(name) {
        None => Err(bad(name, "is missing")),
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(_) => Err(bad(name, "must be a non-empty string")),
    }
}

/// A required integer NumericDate claim.
/// Within 1970-01-01 .. 9999-12-31 (UTC): a date outside it is no real
/// issue or expiry time, and Redis refuses it as an expiry, which used to
/// leave a use count behind with no expiry and answer 503.
pub(crate) fn numeric_date(claims: &JsonObject, name: &'static str) -> Result<i64, ClaimError> {
    match claims.get(name) {
        None => Err(bad(name, "is missing")),
        Some(v) => match v.as_i64() {
            None => Err(bad(name, "must be an integer number of seconds")),
            Some(t) if !(0..=MAX_NUMERIC_DATE).contains(&t) => Err(bad(
                name,
                "must lie between 1970-01-01 and 9999-12-31 (UTC)",
            )),
            Some(t) => Ok(t),
        },
    }
}

/// 9999-12-31T23:59:59Z, the latest NumericDate a token may carry; also
/// what a revocation without an end is kept until.
pub const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

fn audience(claims: &JsonObject) -> Result<String, ClaimError> {
    const PROBLEM: &str = "must be a non-empty string or an array of exactly one";
    match claims.get("aud") {
        None => Err(bad("aud", "is missing")),
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Array(items)) => match items.as_slice() {
            [Value::String(s)] if !s.is_empty() => Ok(s.clone()),
            _ => Err(bad("aud", PROBLEM)),
        },
        Some(_) => Err(bad("aud", PROBLEM)),
    }
}

fn scopes(claims: &JsonObject) -> Result<Vec<String>, ClaimError> {
    const PROBLEM: &str =
        "must be a non-empty array of non-empty strings or a space-separated string";
    let scopes: Vec<String> = match claims.get("scope") {
        None => return Err(bad("scope", "is missing")),
        Some(Value::String(s)) => s.split_ascii_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) if !s.is_empty() => out.push(s.clone()),
                    _ => return Err(bad("scope", PROBLEM)),
                }
            }
            out
        }
        Some(_) => return Err(bad("scope", PROBLEM)),
    };
    if scopes.is_empty() {
        return Err(bad("scope", PROBLEM));
    }
    Ok(scopes)
}

fn bad(claim: &'static str, problem: &'static str) -> ClaimError {
    ClaimError { claim, problem }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::test_support::{claims, claims_with};
    use crate::token::object;

    fn parse_json(v: &Value) -> Result<Authorization, ClaimError> {
        parse(&object(v.to_string().as_bytes()).unwrap())
    }

    #[test]
    fn null_max_uses_is_absent_and_extra_claims_are_ignored() {
        let auth = parse_json(&claims_with("max_uses", Value::Null)).unwrap();
        assert_eq!(auth.max_uses, None);
        let mut c = claims();
        c["max_uses"] = Value::Null;
        c["extra"] = json!({"nested": [1, 2]});
        assert_eq!(parse_json(&c).unwrap().max_uses, None);
    }

    #[test]
    fn exp_must_follow_nbf_too() {
        let c = claims_with("nbf", json!(claims()["exp"].as_i64().unwrap()));
        assert_eq!(parse_json(&c).unwrap_err().claim, "exp");
    }

    #[test]
    fn jti_rules() {
        assert!(is_valid_jti("0123abc-_.:~"));
        assert!(!is_valid_jti(""));
        assert!(!is_valid_jti("a\nb"));
        assert!(!is_valid_jti("é"));
        assert!(is_valid_jti(&"j".repeat(MAX_JTI_LEN)));
        assert!(!is_valid_jti(&"j".repeat(MAX_JTI_LEN + 1)));
    }

    #[test]
    fn grants_scope_is_exact() {
        let auth = parse_json(&claims()).unwrap();
        assert!(auth.grants_scope("enterprise.report"));
        assert!(!auth.grants_scope("enterprise"));
        assert!(!auth.grants_scope("Enterprise.report"));
        assert_eq!(auth.lifetime_secs(), 3600);
    }
}
