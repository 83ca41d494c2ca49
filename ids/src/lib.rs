//! Subject identifiers for credgate, parsed before anything else happens
//! to a request (SPEC §3): "parse, don't validate" types that can only hold
//! valid values.
//!
//! - [`Uscc`]: 统一社会信用代码 (GB 32100-2015), with legacy pilot codes
//!   accepted only through the [`LegacyCodes`] allow-list;
//! - [`IdNumber`]: 居民身份证号码 (GB 11643-1999);
//! - [`Subject`]: either of them, told apart by shape;
//! - [`DivisionCode`] and the versioned GB/T 2260 [`division`] table, which
//!   maps abolished codes to their successors;
//! - [`PrefixRouter`]: longest-prefix routing of division codes.
//!
//! Privacy: errors never contain the rejected input, and the identifier
//! types have no `Display` and a `Debug` that hides the raw value.
//!
//! The crate is pure: no I/O, no clock.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod division;
mod error;
mod id_number;
mod legacy;
mod router;
mod subject;
mod text;
mod uscc;

pub use division::DivisionCode;
pub use error::{IdError, RouterError};
pub use id_number::{IdNumber, MAX_BIRTH_YEAR, MIN_BIRTH_YEAR};
pub use legacy::LegacyCodes;
pub use router::PrefixRouter;
pub use subject::{Subject, SubjectKind};
pub use uscc::Uscc;
