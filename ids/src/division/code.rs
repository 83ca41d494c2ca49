//! [`DivisionCode`]: a six-digit GB/T 2260 administrative division code.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::text::normalise;
use crate::IdError;

/// Province-level prefixes (first two digits) accepted in a division code.
///
/// GB/T 2260 province-level codes, plus 83: the prefix GB 11643 numbers on
/// residence permits for Taiwan residents carry (830000; Hong Kong and
/// Macao residents use 810000 and 820000, which are province-level codes).
const PROVINCES: [u32; 35] = [
    11, 12, 13, 14, 15, // 北京 天津 河北 山西 内蒙古
    21, 22, 23, // 辽宁 吉林 黑龙江
    31, 32, 33, 34, 35, 36, 37, // 上海 江苏 浙江 安徽 福建 江西 山东
    41, 42, 43, 44, 45, 46, // 河南 湖北 湖南 广东 广西 海南
    50, 51, 52, 53, 54, // 重庆 四川 贵州 云南 西藏
    61, 62, 63, 64, 65, // 陕西 甘肃 青海 宁夏 新疆
    71, 81, 82, 83, // 台湾 香港 澳门, 台湾居民居住证
];

/// The code GB 32100 uses for registration authorities at national level
/// (国家, `100000`). Valid in a USCC, never in an ID number.
const NATIONAL: u32 = 100_000;

/// A six-digit administrative division code (GB/T 2260), e.g. `330203`.
///
/// Validity is structural: six ASCII digits whose first two are a real
/// province-level code (or the national registration code `100000`). The
/// code need not be listed in the [division table](crate::division): that
/// table cannot hold every county code without the official dataset, so it
/// exists for successor mapping and names, and routing decides what an
/// unlisted code means.
///
/// Serialises as its six-digit string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DivisionCode(u32);

// === impl DivisionCode ===

impl DivisionCode {
    /// The national-level registration code `100000` (USCC only).
    pub const NATIONAL: DivisionCode = DivisionCode(NATIONAL);

    /// Parses six ASCII digits with a real province-level prefix.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let bytes = normalise::<6>(s)?;
        Self::from_digits(&bytes)
    }

    /// Builds a code from its numeric value (e.g. `330203`).
    pub fn from_u32(value: u32) -> Result<Self, IdError> {
        if !(100_000..=999_999).contains(&value) {
            // A value with fewer than six digits would need a leading zero,
            // which no province-level code has.
            return Err(IdError::UnknownProvince);
        }
        Self::checked(value)
    }

    /// Builds a code from exactly six bytes that must be ASCII digits;
    /// positions in errors are 1-based within the six.
    pub(crate) fn from_digits(bytes: &[u8; 6]) -> Result<Self, IdError> {
        let mut value = 0u32;
        for (i, b) in bytes.iter().enumerate() {
            if !b.is_ascii_digit() {
                return Err(IdError::BadCharacter { position: i + 1 });
            }
            value = value * 10 + u32::from(b - b'0');
        }
        Self::checked(value)
    }

    /// Builds a table entry's code; the table's own tests check every one.
    pub(crate) const fn from_table(value: u32) -> Self {
        DivisionCode(value)
    }

    fn checked(value: u32) -> Result<Self, IdError> {
        if value == NATIONAL || is_province(value / 10_000) {
            Ok(DivisionCode(value))
        } else {
            Err(IdError::UnknownProvince)
        }
    }

    /// The numeric value, e.g. `330203`.
    pub fn as_u32(self) -> u32 {
        self.0
    }

    /// Whether this is the national registration code `100000`.
    pub fn is_national(self) -> bool {
        self.0 == NATIONAL
    }

    /// The province-level code: first two digits + `0000`.
    pub fn province(self) -> DivisionCode {
        DivisionCode(self.0 / 10_000 * 10_000)
    }

    /// The prefecture-level code: first four digits + `00`.
    pub fn prefecture(self) -> DivisionCode {
        DivisionCode(self.0 / 100 * 100)
    }

    /// The first `len` digits as a number (`len` in 1..=6), used for
    /// prefix matching without allocating.
    pub(crate) fn leading(self, len: u32) -> u32 {
        self.0 / 10u32.pow(6 - len.min(6))
    }
}

/// Whether `two_digits` is a province-level prefix accepted in a division code.
pub(crate) fn is_province(two_digits: u32) -> bool {
    PROVINCES.contains(&two_digits)
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

impl FromStr for DivisionCode {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for DivisionCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DivisionCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        let code = DivisionCode::parse("330203").unwrap();
        assert_eq!(code.as_u32(), 330_203);
        assert_eq!(code.to_string(), "330203");
        assert_eq!(code.province().to_string(), "330000");
        assert_eq!(code.prefecture().to_string(), "330200");
        assert_eq!(code.leading(4), 3302);
        assert_eq!(code.leading(6), 330_203);
        assert!(!code.is_national());
        assert!(DivisionCode::parse("100000").unwrap().is_national());
    }

    #[test]
    fn rejects_bad_codes() {
        assert_eq!(
            DivisionCode::parse("33020"),
            Err(IdError::WrongLength {
                expected: 6,
                found: 5
            })
        );
        assert_eq!(
            DivisionCode::parse("3302a3"),
            Err(IdError::BadCharacter { position: 5 })
        );
        assert_eq!(DivisionCode::parse("990203"), Err(IdError::UnknownProvince));
        assert_eq!(DivisionCode::parse("100100"), Err(IdError::UnknownProvince));
        assert_eq!(
            DivisionCode::from_u32(33_020),
            Err(IdError::UnknownProvince)
        );
        assert_eq!(
            DivisionCode::from_u32(1_330_203),
            Err(IdError::UnknownProvince)
        );
        assert!(DivisionCode::from_u32(830_000).is_ok());
    }

    #[test]
    fn serde_round_trip() {
        let code = DivisionCode::parse("350203").unwrap();
        let json = serde_json::to_string(&code).unwrap();
        assert_eq!(json, "\"350203\"");
        let back: DivisionCode = serde_json::from_str(&json).unwrap();
        assert_eq!(back, code);
        assert!(serde_json::from_str::<DivisionCode>("\"999999\"").is_err());
    }
}
