//! Shared fixtures: the request a token is checked against and matching claims.

use credgate_authz::{Authorization, Expectation, SubjectId};
use serde_json::{json, Value};

pub const ISSUER: &str = "demo-issuer";
pub const SUBJECT: &str = "91330200MA2AAAAA1X";
pub const CLIENT: &str = "bank-nb";
pub const SCOPE: &str = "enterprise.report";
pub const PURPOSE: &str = "loan_underwriting";
pub const NOW: i64 = 1_750_000_000;

/// What the request asks for.
pub fn expectation() -> Expectation<'static> {
    Expectation {
        subject: SUBJECT,
        client_id: CLIENT,
        scope: SCOPE,
        purpose: PURPOSE,
        max_lifetime: None,
    }
}

/// Claims granting exactly [`expectation`], valid for an hour from [`NOW`].
pub fn claims(jti: &str) -> Value {
    json!({
        "iss": ISSUER, "sub": SUBJECT, "aud": CLIENT, "scope": [SCOPE],
        "purpose": PURPOSE, "iat": NOW, "nbf": NOW, "exp": NOW + 3600, "jti": jti,
    })
}

/// A verified-looking authorization for state tests.
pub fn authorization(jti: &str, max_uses: Option<u32>, expires_at: i64) -> Authorization {
    Authorization {
        issuer: ISSUER.into(),
        jti: jti.into(),
        subject: SubjectId::new(SUBJECT),
        audience: CLIENT.into(),
        scopes: vec![SCOPE.into()],
        purpose: PURPOSE.into(),
        issued_at: expires_at - 3600,
        not_before: expires_at - 3600,
        expires_at,
        max_uses,
    }
}

/// The current Unix time.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}
