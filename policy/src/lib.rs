//! `credgate-policy`: the pure core of credgate's decisions.
//!
//! It owns the canonical credit model ([`canonical`]), the policy file model
//! and its whole-file validation, client identification from certificate
//! facts, per-request decisions (scope, purpose, sections) and field masking.
//! Nothing here does I/O or is async: callers read files and pass text in.

pub mod canonical;
pub use credgate_ids as ids;
