//! [`IdNumber`]: the 18-character 居民身份证号码 (GB 11643-1999).
//!
//! Positions 1–6 are the division code the number was issued with, 7–14
//! the birth date (`YYYYMMDD`), 15–17 a sequence code, 18 the ISO 7064
//! MOD 11-2 check character (`0-9` or `X`). The 15-digit first-generation
//! number is not accepted.

use serde::{Serialize, Serializer};

use crate::division::DivisionCode;
use crate::text::{ascii_string, normalise};
use crate::IdError;

/// MOD 11-2 weights over positions 1–17.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Check character indexed by the weighted sum mod 11.
const CHECK_CHARS: [u8; 11] = *b"10X98765432";

/// Earliest accepted birth year (people born in the 1880s still received
/// 18-digit numbers when those were introduced in 1999).
pub const MIN_BIRTH_YEAR: u16 = 1880;

/// Latest accepted birth year. Parsing is pure (no clock), so "not in the
/// future" is left to callers that know today's date.
pub const MAX_BIRTH_YEAR: u16 = 2100;

/// Length of an ID number in characters.
const LEN: usize = 18;

/// A valid 居民身份证号码, with a lower-case `x` normalised to `X`.
///
/// There is deliberately no `Display`, and `Debug` shows only the division
/// code: take the raw number with [`IdNumber::as_str`] so it never reaches
/// a log by accident. Serialises as the number string.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdNumber {
    number: String,
    division: DivisionCode,
    birth: (u16, u8, u8),
}

// === impl IdNumber ===

impl IdNumber {
    /// Parses and validates a number: 17 digits + check, a real province,
    /// a calendar birth date in [`MIN_BIRTH_YEAR`]..=[`MAX_BIRTH_YEAR`].
    /// Surrounding whitespace is rejected.
    pub fn parse(s: &str) -> Result<IdNumber, IdError> {
        let bytes = normalise::<LEN>(s)?;
        let [body @ .., check] = bytes;
        let (division, birth) = check_body(&body)?;
        if !check.is_ascii_digit() && check != b'X' {
            return Err(IdError::BadCharacter { position: LEN });
        }
        if check_char(&body) != char::from(check) {
            return Err(IdError::BadCheckCharacter { position: LEN });
        }
        Ok(IdNumber {
            number: ascii_string(&bytes),
            division,
            birth,
        })
    }

    /// Builds a valid number from its first 17 digits by appending the
    /// check character (used to generate synthetic data).
    pub fn from_first17(first17: &str) -> Result<IdNumber, IdError> {
        let body = normalise::<17>(first17)?;
        let (division, birth) = check_body(&body)?;
        let mut number = ascii_string(&body);
        number.push(check_char(&body));
        Ok(IdNumber {
            number,
            division,
            birth,
        })
    }

    /// The MOD 11-2 check character for 17 ASCII digits, or `None` if
    /// `first17` is not 17 digits. Checks neither province nor date.
    pub fn compute_check(first17: &str) -> Option<char> {
        let body = normalise::<17>(first17).ok()?;
        body.iter()
            .all(u8::is_ascii_digit)
            .then(|| check_char(&body))
    }

    /// The normalised number.
    pub fn as_str(&self) -> &str {
        &self.number
    }

    /// The normalised number, consuming `self`.
    pub fn into_string(self) -> String {
        self.number
    }

    /// Positions 1–6: the division code the number was issued with (map it
    /// with [`division::current`](crate::division::current) for routing).
    pub fn division(&self) -> DivisionCode {
        self.division
    }

    /// Positions 7–14: the birth date as `(year, month, day)`.
    pub fn birth_date(&self) -> (u16, u8, u8) {
        self.birth
    }

    /// Whether the birth date is after `today` (`(year, month, day)`): no
    /// such number has been issued yet, so it is not a valid identifier.
    /// Parsing is pure; callers with a clock check this.
    pub fn born_after(&self, today: (u16, u8, u8)) -> bool {
        self.birth > today
    }
}

impl std::fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdNumber")
            .field("division", &self.division)
            .finish_non_exhaustive()
    }
}

impl Serialize for IdNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.number)
    }
}

/// Checks positions 1–17: digits, province (not the national USCC code),
/// birth date. Returns the division code and the date.
fn check_body(body: &[u8; LEN - 1]) -> Result<(DivisionCode, (u16, u8, u8)), IdError> {
    if let Some(i) = body.iter().position(|b| !b.is_ascii_digit()) {
        return Err(IdError::BadCharacter { position: i + 1 });
    }
    let digit = |b: u8| u16::from(b - b'0');
    let [d0, d1, d2, d3, d4, d5, y0, y1, y2, y3, m0, m1, dd0, dd1, ..] = *body;
    let division = DivisionCode::from_digits(&[d0, d1, d2, d3, d4, d5])?;
    if division.is_national() {
        return Err(IdError::UnknownProvince);
    }
    let year = digit(y0) * 1000 + digit(y1) * 100 + digit(y2) * 10 + digit(y3);
    // Both are at most 99, so they fit in u8.
    let month = u8::try_from(digit(m0) * 10 + digit(m1)).unwrap_or(0);
    let day = u8::try_from(digit(dd0) * 10 + digit(dd1)).unwrap_or(0);
    if !(MIN_BIRTH_YEAR..=MAX_BIRTH_YEAR).contains(&year)
        || day == 0
        || day > days_in_month(year, month)
    {
        return Err(IdError::BadBirthDate);
    }
    Ok((division, (year, month, day)))
}

/// Days in `month` of `year` (Gregorian), 0 for a month outside 1..=12.
fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

/// The MOD 11-2 check character over 17 ASCII digits.
fn check_char(body: &[u8; LEN - 1]) -> char {
    let sum: u32 = body
        .iter()
        .zip(WEIGHTS)
        .map(|(&b, w)| u32::from(b.wrapping_sub(b'0')) * w)
        .sum();
    // `sum % 11` is below 11, the length of `CHECK_CHARS`.
    let check = CHECK_CHARS[(sum % 11) as usize];
    char::from(check)
}

#[cfg(test)]
mod tests;
