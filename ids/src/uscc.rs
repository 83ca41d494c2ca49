//! [`Uscc`]: the 统一社会信用代码 (unified social credit code, GB 32100-2015).
//!
//! Structure (positions 1-based, 18 characters from `0-9 A-H J-N P-R T-U W-Y`):
//!
//! | positions | meaning |
//! |---|---|
//! | 1 | registration authority (登记管理部门代码) |
//! | 2 | organisation category (机构类别代码) |
//! | 3–8 | division code of the registration authority (GB/T 2260; `100000` = national) |
//! | 9–17 | 组织机构代码 (GB 11714: 8 characters + check at 17) |
//! | 18 | check character, mod 31 over positions 1–17 |
//!
//! Positions 1–2: GB 32100 says each registration department assigns its
//! own codes and lists examples; the table in [`CATEGORIES`] is the set in
//! use as published by the national code data service centre (机构编制 1,
//! 外交 2, 司法行政 3, 文化 4, 民政 5, 旅游 6, 宗教 7, 工会 8, 工商 9,
//! 中央军委改革和编制办公室 A, 农业 N, 其他 Y, each with its categories).
//! A code outside it is rejected; extend the table if a department adds one.
//!
//! Legacy pilot codes (issued before the standard, e.g. in Fujian/Xiamen)
//! fail the position-18 check while their embedded 组织机构代码 check
//! passes; they parse only when listed in [`LegacyCodes`].

use serde::{Serialize, Serializer};

use crate::division::DivisionCode;
use crate::text::{ascii_string, normalise};
use crate::{IdError, LegacyCodes};

/// The USCC alphabet; a character's value is its index (0..=30).
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights for the position-18 check over positions 1–17.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Weights for the GB 11714 organisation-code check over its 8 body characters.
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// Registration authority (position 1) → allowed organisation categories
/// (position 2).
const CATEGORIES: [(u8, &[u8]); 12] = [
    (b'1', b"1239"),   // 机构编制: 机关, 事业单位, 编办直管群众团体, 其他
    (b'2', b"19"),     // 外交: 外国常驻新闻机构, 其他
    (b'3', b"123459"), // 司法行政: 律所, 公证处, 基层法律服务所, 司法鉴定, 仲裁委, 其他
    (b'4', b"19"),     // 文化: 外国在华文化中心, 其他
    (b'5', b"12349"),  // 民政: 社会团体, 民办非企业, 基金会, 基层群众性自治组织, 其他
    (b'6', b"129"),    // 旅游: 外国/港澳台旅游部门常驻代表机构, 其他
    (b'7', b"129"),    // 宗教: 宗教活动场所, 宗教院校, 其他
    (b'8', b"19"),     // 工会: 基层工会, 其他
    (b'9', b"123"),    // 工商: 企业, 个体工商户, 农民专业合作社
    (b'A', b"19"),     // 中央军委改革和编制办公室: 军队事业单位, 其他
    (b'N', b"1239"),   // 农业: 组级/村级/乡镇级集体经济组织, 其他
    (b'Y', b"1"),      // 其他
];

/// Length of a USCC in characters.
const LEN: usize = 18;

/// A valid 统一社会信用代码, normalised to upper case.
///
/// Only [`Uscc::parse`] and [`Uscc::from_first17`] create one, so holding a
/// `Uscc` proves it passed every check. There is deliberately no `Display`
/// and `Debug` shows only the division code: the raw code must be taken
/// with [`Uscc::as_str`], where it is visible in review, never formatted
/// into a log by accident. Serialises as the code string.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uscc {
    code: String,
    division: DivisionCode,
    legacy: bool,
}

// === impl Uscc ===

impl Uscc {
    /// Parses and validates a code; lower case is accepted and normalised,
    /// surrounding whitespace is not. A legacy pilot code (position-18
    /// check fails, embedded 组织机构代码 check passes) is accepted only if
    /// `legacy` lists it.
    pub fn parse(s: &str, legacy: &LegacyCodes) -> Result<Uscc, IdError> {
        match classify(s)? {
            Checked::Standard(code) => Ok(code),
            Checked::Legacy(code) if legacy.contains(code.as_str()) => Ok(code),
            Checked::Legacy(_) => Err(IdError::LegacyNotAllowed),
        }
    }

    /// Builds a valid code from its first 17 characters by appending the
    /// computed check character (used to generate synthetic data).
    pub fn from_first17(first17: &str) -> Result<Uscc, IdError> {
        let body = normalise::<17>(first17)?;
        let division = check_body(&body)?;
        // `check_body` accepted every character, so the check exists; the
        // error is unreachable and only avoids a panic path.
        let check = check_char(&body).ok_or(IdError::BadCharacter { position: 1 })?;
        let mut code = ascii_string(&body);
        code.push(check);
        Ok(Uscc {
            code,
            division,
            legacy: false,
        })
    }

    /// The position-18 check character for 17 alphabet characters (lower
    /// case accepted), or `None` if `first17` is not 17 such characters.
    /// Checks only the alphabet, not the structure of positions 1–8.
    pub fn compute_check(first17: &str) -> Option<char> {
        let body = normalise::<17>(first17).ok()?;
        check_char(&body)
    }

    /// The GB 11714 check character (`0-9` or `X`) for the 8-character body
    /// of a 组织机构代码 (digits and upper-case letters, lower case accepted),
    /// or `None` if `body8` is not 8 such characters.
    pub fn compute_org_check(body8: &str) -> Option<char> {
        let body = normalise::<8>(body8).ok()?;
        org_check_char(&body)
    }

    /// The normalised code.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// The normalised code, consuming `self`.
    pub fn into_string(self) -> String {
        self.code
    }

    /// Positions 3–8: the registration authority's division code.
    pub fn division(&self) -> DivisionCode {
        self.division
    }

    /// Whether this is an allow-listed legacy pilot code.
    pub fn is_legacy(&self) -> bool {
        self.legacy
    }

    /// Position 1: the registration authority code.
    pub fn registration_authority(&self) -> char {
        self.code.chars().next().unwrap_or('?')
    }

    /// Position 2: the organisation category code.
    pub fn category(&self) -> char {
        self.code.chars().nth(1).unwrap_or('?')
    }
}

impl std::fmt::Debug for Uscc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uscc")
            .field("division", &self.division)
            .field("legacy", &self.legacy)
            .finish_non_exhaustive()
    }
}

impl Serialize for Uscc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.code)
    }
}

/// Outcome of the checks that do not depend on the allow-list.
pub(crate) enum Checked {
    /// Passes the position-18 check.
    Standard(Uscc),
    /// Fails the position-18 check, passes the embedded org-code check.
    Legacy(Uscc),
}

/// Runs every check except the allow-list lookup.
pub(crate) fn classify(s: &str) -> Result<Checked, IdError> {
    let bytes = normalise::<LEN>(s)?;
    let [body @ .., check] = bytes;
    let division = check_body(&body)?;
    if value(check).is_none() {
        return Err(IdError::BadCharacter { position: LEN });
    }
    let code = ascii_string(&bytes);
    if check_char(&body) == Some(char::from(check)) {
        return Ok(Checked::Standard(Uscc {
            code,
            division,
            legacy: false,
        }));
    }
    // Positions 9–16 are the 组织机构代码 body, position 17 its check.
    let [_, _, _, _, _, _, _, _, org_body @ .., org_check] = body;
    if org_check_char(&org_body) == Some(char::from(org_check)) {
        Ok(Checked::Legacy(Uscc {
            code,
            division,
            legacy: true,
        }))
    } else {
        Err(IdError::BadCheckCharacter { position: LEN })
    }
}

/// Checks positions 1–17 (upper-case ASCII): alphabet, digits at 3–8,
/// registration category at 1–2, province; returns the division code.
fn check_body(body: &[u8; LEN - 1]) -> Result<DivisionCode, IdError> {
    if let Some(i) = body.iter().position(|&b| value(b).is_none()) {
        return Err(IdError::BadCharacter { position: i + 1 });
    }
    let [authority, category, d0, d1, d2, d3, d4, d5, ..] = *body;
    let division = [d0, d1, d2, d3, d4, d5];
    if let Some(i) = division.iter().position(|b| !b.is_ascii_digit()) {
        return Err(IdError::BadCharacter { position: i + 3 });
    }
    match CATEGORIES.iter().find(|(a, _)| *a == authority) {
        None => return Err(IdError::UnknownRegistrationCategory { position: 1 }),
        Some((_, allowed)) if !allowed.contains(&category) => {
            return Err(IdError::UnknownRegistrationCategory { position: 2 })
        }
        Some(_) => {}
    }
    DivisionCode::from_digits(&division)
}

/// The value of a USCC alphabet character.
fn value(b: u8) -> Option<u32> {
    ALPHABET
        .iter()
        .position(|&a| a == b)
        .and_then(|i| u32::try_from(i).ok())
}

/// The mod-31 check character over 17 alphabet characters.
fn check_char(body: &[u8; LEN - 1]) -> Option<char> {
    let mut sum = 0u32;
    for (&b, w) in body.iter().zip(WEIGHTS) {
        sum += value(b)? * w;
    }
    let check = (31 - sum % 31) % 31;
    ALPHABET.get(check as usize).map(|&b| char::from(b))
}

/// The GB 11714 check character over an 8-character org-code body
/// (digits 0–9, letters A=10 … Z=35).
fn org_check_char(body: &[u8; 8]) -> Option<char> {
    let mut sum = 0u32;
    for (&b, w) in body.iter().zip(ORG_WEIGHTS) {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return None,
        };
        sum += v * w;
    }
    match 11 - sum % 11 {
        10 => Some('X'),
        11 => Some('0'),
        c => char::from_digit(c, 10),
    }
}

#[cfg(test)]
mod tests;
