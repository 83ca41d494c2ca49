//! Errors for identifier parsing ([`IdError`]) and for building a
//! [`PrefixRouter`](crate::PrefixRouter) ([`RouterError`]).
//!
//! Privacy rule: no variant carries, and no `Display`/`Debug` output shows,
//! the identifier that was rejected. Errors name positions (1-based,
//! counted in characters) and rules, never characters or codes.

use thiserror::Error;

/// Why a subject identifier (USCC, ID number) or division code was rejected.
///
/// Every variant maps to `400 invalid_subject_id` at the gateway; the
/// distinction exists for the `detail` text and the audit reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    /// The input does not have the required number of characters.
    #[error("wrong length: expected {expected} characters, found {found}")]
    WrongLength {
        /// Required number of characters.
        expected: usize,
        /// Number of characters (not bytes) in the input.
        found: usize,
    },
    /// A character is outside the alphabet allowed at that position.
    #[error("position {position}: character not allowed at this position")]
    BadCharacter {
        /// 1-based character position.
        position: usize,
    },
    /// USCC positions 1–2 are not a registration-authority / organisation
    /// category pair assigned under GB 32100.
    #[error("position {position}: unknown registration authority or organisation category")]
    UnknownRegistrationCategory {
        /// 1 (registration authority) or 2 (organisation category).
        position: usize,
    },
    /// The first two digits of the division code are not a province-level code.
    #[error("division code: first two digits are not a province-level code")]
    UnknownProvince,
    /// ID number positions 7–14 are not a valid calendar date in the accepted range.
    #[error("positions 7-14: not a valid birth date")]
    BadBirthDate,
    /// The check character does not match the computed one.
    #[error("position {position} check character mismatch")]
    BadCheckCharacter {
        /// 1-based position of the check character (18 for both USCC and ID number).
        position: usize,
    },
    /// The code fails the position-18 check but its embedded 组织机构代码 is
    /// valid: a pre-standard pilot code, accepted only when allow-listed.
    #[error("position 18 check character mismatch (legacy pilot code not in the allow-list)")]
    LegacyNotAllowed,
    /// A legacy allow-list entry passes the standard position-18 check, so it
    /// is not a legacy code and must not be listed.
    #[error("passes the standard position 18 check, so it is not a legacy code")]
    NotLegacyCode,
    /// A legacy allow-list entry is malformed.
    #[error("legacy allow-list entry {index}: {reason}")]
    InvalidLegacyEntry {
        /// 0-based index of the entry in the configured list.
        index: usize,
        /// What is wrong with it.
        reason: Box<IdError>,
    },
}

impl IdError {
    /// A stable, machine-readable reason (for audit records and metrics).
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::WrongLength { .. } => "wrong_length",
            Self::BadCharacter { .. } => "bad_character",
            Self::UnknownRegistrationCategory { .. } => "unknown_registration_category",
            Self::UnknownProvince => "unknown_province",
            Self::BadBirthDate => "bad_birth_date",
            Self::BadCheckCharacter { .. } => "bad_check_character",
            Self::LegacyNotAllowed => "legacy_not_allowed",
            Self::NotLegacyCode => "not_legacy_code",
            Self::InvalidLegacyEntry { .. } => "invalid_legacy_entry",
        }
    }
}

/// Why a [`PrefixRouter`](crate::PrefixRouter) could not be built.
///
/// Prefixes are configuration (region codes), not personal data; a
/// malformed entry is still reported by index only, in case someone pasted
/// an identifier where a prefix belongs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RouterError {
    /// The entry is not 2 to 6 ASCII digits.
    #[error("region prefix #{index}: must be 2 to 6 ASCII digits")]
    InvalidPrefix {
        /// 0-based index of the entry.
        index: usize,
    },
    /// The first two digits are not a province-level code, so the prefix
    /// could never match.
    #[error("region prefix #{index}: first two digits are not a province-level code")]
    UnknownProvince {
        /// 0-based index of the entry.
        index: usize,
    },
    /// The same prefix appears more than once.
    #[error("region prefix {prefix} is configured more than once")]
    DuplicatePrefix {
        /// The repeated prefix (digits only).
        prefix: String,
    },
}
