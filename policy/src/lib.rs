//! `credgate-policy`: the pure core of credgate's decisions.
//!
//! It owns the canonical credit model ([`canonical`]), the policy file model
//! ([`model`]) and its whole-file validation ([`Policy::parse`]), client
//! identification from certificate facts ([`Policy::identify`]),
//! per-request decisions ([`Policy::decide`]) and field masking
//! ([`mask::apply`]). Nothing here does I/O or is async: callers read files
//! and pass text in.

pub mod canonical;
pub mod decide;
pub mod error;
pub mod identity;
pub mod mask;
pub mod model;
pub mod policy;
pub mod profile;
mod validate;
pub use validate::KeyCheck;

pub use credgate_ids as ids;
pub use decide::{Deny, Grant, RequestShape};
pub use error::{ErrorKind, PolicyError, PolicyErrors};
pub use identity::{CertIdentity, CertMatch};
pub use mask::{apply, MaskContext, MaskReport};
pub use policy::{
    Client, ClientKind, Endpoint, Issuer, IssuerKey, Policy, Purpose, RateLimit, Scope, ScopeGrant,
};
pub use profile::{FieldProfile, Transform};

/// The demo policy (SPEC §11): clients `bank-nb`, `dept-nb`, `peer-hz` and
/// `auditor`, matched by URI SAN `spiffe://credgate.dev/client/NAME`.
pub const DEMO_POLICY: &str = include_str!("../examples/demo-policy.toml");
