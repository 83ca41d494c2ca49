//! The refusals of subject authorization and their stable SPEC §4 codes.
//!
//! Nothing in here ever carries the raw token or the subject identifier: `Display`
//! and `Debug` output is safe to log and to put in a problem document's `detail`.

use crate::state::StateError;

/// Why a request's subject authorization was refused.
///
/// Variants are listed in the order the checks run (SPEC §4): the first failing
/// check decides the error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthzError {
    /// No token was presented (header absent or blank).
    #[error("subject authorization required")]
    Required,
    /// The token is longer than the configured maximum.
    #[error("authorization token larger than {max} bytes")]
    TooLarge {
        /// The configured maximum, in bytes.
        max: usize,
    },
    /// The token is not a well-formed EdDSA JWS signed by a trusted issuer with valid claims.
    #[error("invalid authorization token: {0}")]
    Invalid(InvalidReason),
    /// The token is outside its validity window (expired, or not yet valid), skew included.
    #[error("authorization token {0}")]
    Expired(WindowReason),
    /// The token is valid but was granted for something else than this request.
    #[error("authorization token does not match the request: {0}")]
    Mismatch(MismatchReason),
    /// The token's `jti` has been revoked.
    #[error("authorization token revoked")]
    Revoked,
    /// The token's `max_uses` are spent.
    #[error("authorization token use count exhausted")]
    Exhausted,
    /// The revocation / use-count store could not answer: fail closed.
    #[error("authorization state unavailable")]
    Unavailable,
}

/// Why a token is [`AuthzError::Invalid`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidReason {
    /// Not three base64url segments with a JSON object header and payload.
    #[error("malformed token ({0})")]
    Malformed(&'static str),
    /// The header's `alg` is not `EdDSA` (`none`, HMAC, RSA, ECDSA, … are never accepted).
    #[error("unsupported algorithm (only EdDSA is accepted)")]
    UnsupportedAlgorithm,
    /// The header names a key or critical extension (`jku`, `x5u`, `jwk`, `x5c`, `crit`).
    #[error("forbidden header parameter {0:?}")]
    ForbiddenHeader(&'static str),
    /// No trusted issuer has the token's `iss`.
    #[error("untrusted issuer")]
    UntrustedIssuer,
    /// The token's `kid` names no key configured for its issuer.
    #[error("unknown key id for the issuer")]
    UnknownKeyId,
    /// The signature does not verify with the issuer's key.
    #[error("bad signature")]
    BadSignature,
    /// A claim is missing or has the wrong type or value.
    #[error("bad claims: {0}")]
    BadClaims(ClaimError),
    /// `exp - iat` exceeds the maximum lifetime configured for the requested scope.
    #[error("lifetime exceeds the maximum for the scope")]
    LifetimeTooLong,
}

/// What is wrong with the claims of an [`InvalidReason::BadClaims`] token.
///
/// Built only from static text, so it can never echo a claim's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("`{claim}` {problem}")]
pub struct ClaimError {
    /// The claim concerned (`*` for the claim set as a whole).
    pub claim: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// Why a token is [`AuthzError::Expired`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WindowReason {
    /// `now >= exp + skew`.
    #[error("expired")]
    Expired,
    /// `now < nbf - skew` or `now < iat - skew`.
    #[error("not yet valid")]
    NotYetValid,
}

/// Which part of the request the token does not cover ([`AuthzError::Mismatch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MismatchReason {
    /// The token is for another subject.
    #[error("subject")]
    Subject,
    /// The token was granted to another client.
    #[error("audience")]
    Audience,
    /// The requested scope is not among the granted scopes.
    #[error("scope")]
    Scope,
    /// The token was granted for another purpose.
    #[error("purpose")]
    Purpose,
}

/// A public or private key could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not a PEM block with the expected label.
    #[error("not a PEM {expected:?} block: {detail}")]
    Pem {
        /// The expected PEM label (`PUBLIC KEY`, `PRIVATE KEY`).
        expected: &'static str,
        /// What was wrong.
        detail: &'static str,
    },
    /// The PEM holds a key that is not an Ed25519 SubjectPublicKeyInfo / PKCS#8 key.
    #[error("not an Ed25519 {0}")]
    NotEd25519(&'static str),
}

// === impl AuthzError ===

impl AuthzError {
    /// The stable SPEC §4 error code the gateway puts in the problem document.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Required => "authorization_required",
            // The token, not the request body: an authorization code.
            Self::TooLarge { .. } => "authorization_invalid",
            Self::Invalid(_) => "authorization_invalid",
            Self::Expired(_) => "authorization_expired",
            Self::Mismatch(_) => "authorization_mismatch",
            Self::Revoked => "authorization_revoked",
            Self::Exhausted => "authorization_exhausted",
            Self::Unavailable => "service_unavailable",
        }
    }

    /// The HTTP status SPEC §4 assigns to [`AuthzError::code`].
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Required
            | Self::TooLarge { .. }
            | Self::Invalid(_)
            | Self::Expired(_)
            | Self::Revoked => 401,
            Self::Mismatch(_) | Self::Exhausted => 403,
            Self::Unavailable => 503,
        }
    }
}

impl From<StateError> for AuthzError {
    fn from(_: StateError) -> Self {
        Self::Unavailable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_follow_the_spec() {
        let cases = [
            (AuthzError::Required, "authorization_required", 401),
            (
                AuthzError::TooLarge { max: 1 },
                "authorization_invalid",
                401,
            ),
            (
                AuthzError::Invalid(InvalidReason::BadSignature),
                "authorization_invalid",
                401,
            ),
            (
                AuthzError::Expired(WindowReason::Expired),
                "authorization_expired",
                401,
            ),
            (
                AuthzError::Mismatch(MismatchReason::Scope),
                "authorization_mismatch",
                403,
            ),
            (AuthzError::Revoked, "authorization_revoked", 401),
            (AuthzError::Exhausted, "authorization_exhausted", 403),
            (AuthzError::Unavailable, "service_unavailable", 503),
        ];
        for (err, code, status) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.http_status(), status, "{code}");
        }
    }

    #[test]
    fn state_errors_fail_closed() {
        let err: AuthzError = StateError::Timeout.into();
        assert_eq!(err, AuthzError::Unavailable);
    }
}
