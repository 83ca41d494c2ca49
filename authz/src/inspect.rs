//! `credgate authz inspect`-style diagnosis: decode a token without trusting it and
//! list, in check order, every reason the gateway would refuse it.
//!
//! Only request-independent checks are made (size, structure, header, issuer, key,
//! signature, claims, validity window); subject, audience, scope, purpose, revocation
//! and use counts depend on the request and the running gateway.

use serde_json::Value;

use crate::claims::{self, numeric_date};
use crate::token::{self, JsonObject};
use crate::verify::{candidate_keys, window};
use crate::{InvalidReason, TrustedIssuer, VerifyOptions, WindowReason};

/// One reason a token would be refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// Longer than [`VerifyOptions::max_token_bytes`].
    #[error("token is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// The token's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An [`crate::AuthzError::Invalid`] reason.
    #[error("invalid: {0}")]
    Invalid(InvalidReason),
    /// An [`crate::AuthzError::Expired`] reason.
    #[error("{0}")]
    Window(WindowReason),
}

/// What [`inspect`] found. `claims` holds the raw (untrusted) claim set, subject
/// included: show it only to whoever holds the token.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// The decoded JOSE header, if it decodes.
    pub header: Option<Value>,
    /// The decoded claim set, if it decodes.
    pub claims: Option<Value>,
    /// Every reason for refusal, in check order; empty if none was found.
    pub problems: Vec<Problem>,
}

// === impl Inspection ===

impl Inspection {
    /// Whether no request-independent check failed.
    pub fn is_acceptable(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A report safe to print or log: the problems and the non-personal claims (`sub` is
/// shown as `[redacted]`).
impl std::fmt::Display for Inspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(header) = &self.header {
            writeln!(f, "header: {header}")?;
        }
        if let Some(Value::Object(claims)) = &self.claims {
            let mut shown = claims.clone();
            if shown.contains_key("sub") {
                shown.insert("sub".to_owned(), Value::from("[redacted]"));
            }
            writeln!(f, "claims: {}", Value::Object(shown))?;
        }
        if self.problems.is_empty() {
            return writeln!(
                f,
                "no problem found (request-independent checks; revocation and use counts are \
                 not checked: they live in the gateway's store)"
            );
        }
        for problem in &self.problems {
            writeln!(f, "refused: {problem}")?;
        }
        Ok(())
    }
}

/// Decodes `token` and lists every reason it would be refused. Never panics.
pub fn inspect(
    token: &str,
    issuers: &[TrustedIssuer],
    opts: &VerifyOptions,
    now_unix: i64,
) -> Inspection {
    let token = token.trim();
    let mut out = Inspection {
        header: None,
        claims: None,
        problems: Vec::new(),
    };
    if token.len() > opts.max_token_bytes {
        out.problems.push(Problem::TooLarge {
            len: token.len(),
            max: opts.max_token_bytes,
        });
    }
    let mut segments = token.split('.');
    let header = segments
        .next()
        .and_then(token::b64)
        .and_then(|b| token::object(&b));
    let payload = segments
        .next()
        .and_then(token::b64)
        .and_then(|b| token::object(&b));
    out.header = header.clone().map(to_value);
    out.claims = payload.clone().map(to_value);

    let structure = token::decode(token);
    if let Err(reason) = &structure {
        out.problems.push(Problem::Invalid(reason.clone()));
    }
    let header_problems = header
        .as_ref()
        .map(token::header_problems)
        .unwrap_or_default();
    // The signature is only checkable as EdDSA.
    let checkable =
        structure.is_ok() && !header_problems.contains(&InvalidReason::UnsupportedAlgorithm);
    out.problems
        .extend(header_problems.into_iter().map(Problem::Invalid));
    let Some(claims) = payload else {
        return out;
    };
    let header = header.unwrap_or_default();
    match candidate_keys(&header, &claims, issuers) {
        Err(reason) => out.problems.push(Problem::Invalid(reason)),
        Ok(keys) => {
            if checkable
                && !keys
                    .iter()
                    .any(|i| token::check_signature(token, &i.public_key).is_ok())
            {
                out.problems
                    .push(Problem::Invalid(InvalidReason::BadSignature));
            }
        }
    }
    if let Err(e) = claims::parse(&claims) {
        let problem = Problem::Invalid(InvalidReason::BadClaims(e));
        // A missing or bad `iss` was already reported while choosing the key.
        if !out.problems.contains(&problem) {
            out.problems.push(problem);
        }
    }
    if let (Ok(iat), Ok(nbf), Ok(exp)) = (
        numeric_date(&claims, "iat"),
        numeric_date(&claims, "nbf"),
        numeric_date(&claims, "exp"),
    ) {
        if let Err(reason) = window(iat, nbf, exp, opts.clock_skew, now_unix) {
            out.problems.push(Problem::Window(reason));
        }
    }
    out
}

fn to_value(obj: JsonObject) -> Value {
    Value::Object(obj.into_iter().collect())
}

#[cfg(test)]
mod tests;
