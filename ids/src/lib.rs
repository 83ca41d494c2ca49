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
//!
//! ```
//! use credgate_ids::{division, DivisionCode, LegacyCodes, PrefixRouter, Subject, SubjectKind};
//!
//! let legacy = LegacyCodes::new(["91350100M0001TGQXM"])?;
//! let subject = Subject::parse("33010419800101123x", &legacy);
//! assert!(subject.is_err()); // bad check character; the error never shows the input
//!
//! let person = Subject::parse("11010519491231002x", &legacy)?;
//! assert_eq!(person.kind(), SubjectKind::Person);
//! assert_eq!(person.as_str(), "11010519491231002X");
//!
//! // 江干区 (330104) was merged into 上城区 (330102) in 2021.
//! let jianggan = DivisionCode::parse("330104")?;
//! assert_eq!(division::current(jianggan).to_string(), "330102");
//!
//! let router = PrefixRouter::new([("33", "zhejiang"), ("3301", "hangzhou")])?;
//! assert_eq!(router.route(&jianggan), Some(&"hangzhou"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

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

/// Whether `text` holds a valid ID number or (standard) USCC as 18
/// consecutive characters, in either case. For values credgate records as
/// a client sent them (a `traceparent`'s trace id, a token's `jti`): one
/// that holds an identifier would put it in logs and audit records.
///
/// Pre-standard codes are not looked for: their shape check passes for
/// about one window in eleven of random text, so it would refuse most
/// random values; only an allow-list tells them, and it is configuration.
pub fn contains_subject_id(text: &str) -> bool {
    const LEN: usize = 18;
    let none = LegacyCodes::empty();
    // Upper-cased once (a token's jti on every authorized request), not
    // per window.
    let upper = text.to_ascii_uppercase();
    upper.as_bytes().windows(LEN).any(|w| {
        std::str::from_utf8(w)
            .is_ok_and(|w| IdNumber::parse(w).is_ok() || Uscc::parse(w, &none).is_ok())
    })
}

#[cfg(test)]
mod contains_tests {
    use super::contains_subject_id;

    #[test]
    fn finds_an_identifier_anywhere_in_either_case() {
        for text in [
            "330205197411172108",
            "jti-330205197411172108-2026",
            "91330203354933879K-2026-001",
            "x91330203354933879k",
            "11010519491231002x",
        ] {
            assert!(contains_subject_id(text), "{text}");
        }
        for text in [
            "",
            "33020519741117210",   // 17 characters
            "330205197411172109",  // wrong check digit
            "91330203354933879J",  // wrong check character
            "9133020335-4933879K", // broken by a separator
            "91350100M0001TGQXM",  // pre-standard: only an allow-list tells
            "c3f1e6a0-9b2d-4c1e-8f3a-7d5e2b1c0a94",
            "报告91330203354933879",
        ] {
            assert!(!contains_subject_id(text), "{text}");
        }
    }
}
