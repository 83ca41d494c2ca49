//! [`Subject`]: an enterprise (USCC) or a person (ID number), told apart by
//! shape for inputs that may be either (sanctions checks, audit search).

use serde::{Serialize, Serializer};

use crate::division::DivisionCode;
use crate::{IdError, IdNumber, LegacyCodes, Uscc};

/// Which kind of identifier a [`Subject`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// 统一社会信用代码.
    Enterprise,
    /// 居民身份证号码.
    Person,
}

/// A validated subject identifier. `Debug` hides the raw value (see
/// [`Uscc`], [`IdNumber`]); serialises as the identifier string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// An enterprise or other organisation.
    Enterprise(Uscc),
    /// A natural person.
    Person(IdNumber),
}

// === impl Subject ===

impl Subject {
    /// Parses an identifier of either kind.
    ///
    /// Input with the ID-number shape (17 ASCII digits, then a digit or
    /// `X`/`x`) is tried as an ID number first; if that fails it is tried as
    /// a USCC (a USCC may be all digits too), and if both fail the
    /// ID-number error is returned. Anything else is parsed as a USCC. A
    /// string valid as both is taken as an ID number; endpoints that know
    /// the kind should call [`Uscc::parse`] or [`IdNumber::parse`] directly.
    pub fn parse(s: &str, legacy: &LegacyCodes) -> Result<Subject, IdError> {
        if has_id_shape(s) {
            match IdNumber::parse(s) {
                Ok(id) => Ok(Subject::Person(id)),
                Err(id_err) => {
                    Uscc::parse(s, legacy)
                        .map(Subject::Enterprise)
                        .map_err(|uscc_err| match (&id_err, &uscc_err) {
                            // All-digit USCCs start with a registration pair
                            // such as 91, which is no province: when the code
                            // read as a USCC got past its first two characters,
                            // its failure is the one to report (a wrong check
                            // character, say), not "no such province".
                            (
                                IdError::UnknownProvince,
                                IdError::UnknownRegistrationCategory { .. },
                            ) => id_err,
                            (IdError::UnknownProvince, _) => uscc_err,
                            _ => id_err,
                        })
                }
            }
        } else {
            Uscc::parse(s, legacy).map(Subject::Enterprise)
        }
    }

    /// The normalised identifier.
    pub fn as_str(&self) -> &str {
        match self {
            Subject::Enterprise(u) => u.as_str(),
            Subject::Person(p) => p.as_str(),
        }
    }

    /// The division code embedded in the identifier (as issued; map it with
    /// [`division::current`](crate::division::current) for routing).
    pub fn division(&self) -> DivisionCode {
        match self {
            Subject::Enterprise(u) => u.division(),
            Subject::Person(p) => p.division(),
        }
    }

    /// Whether this is a person whose birth date is after `today`
    /// (see [`IdNumber::born_after`]); never for an enterprise.
    pub fn born_after(&self, today: (u16, u8, u8)) -> bool {
        match self {
            Subject::Person(id) => id.born_after(today),
            Subject::Enterprise(_) => false,
        }
    }

    /// Enterprise or person.
    pub fn kind(&self) -> SubjectKind {
        match self {
            Subject::Enterprise(_) => SubjectKind::Enterprise,
            Subject::Person(_) => SubjectKind::Person,
        }
    }
}

impl From<Uscc> for Subject {
    fn from(u: Uscc) -> Self {
        Subject::Enterprise(u)
    }
}

impl From<IdNumber> for Subject {
    fn from(p: IdNumber) -> Self {
        Subject::Person(p)
    }
}

impl Serialize for Subject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// 18 ASCII characters: 17 digits, then a digit or `X`/`x`.
fn has_id_shape(s: &str) -> bool {
    let bytes = s.as_bytes();
    match bytes.split_last() {
        Some((&last, body)) if bytes.len() == 18 => {
            body.iter().all(u8::is_ascii_digit)
                && (last.is_ascii_digit() || last == b'X' || last == b'x')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERSON: &str = "11010519491231002X";
    const ENTERPRISE: &str = "91310110666007217T";
    const LEGACY: &str = "91350100M0001TGQXM";

    #[test]
    fn decides_by_shape() {
        let none = LegacyCodes::empty();
        let p = Subject::parse(PERSON, &none).unwrap();
        assert_eq!(p.kind(), SubjectKind::Person);
        assert_eq!(p.as_str(), PERSON);
        assert_eq!(p.division().to_string(), "110105");

        let e = Subject::parse(ENTERPRISE, &none).unwrap();
        assert_eq!(e.kind(), SubjectKind::Enterprise);
        assert_eq!(e.division().to_string(), "310110");
        assert_eq!(Subject::from(IdNumber::parse(PERSON).unwrap()), p);
    }

    /// A valid USCC of digits only (the ID-number shape).
    fn all_digit_uscc() -> Uscc {
        (0..100)
            .map(|n| Uscc::from_first17(&format!("91330203123456{n:03}")).unwrap())
            .find(|u| u.as_str().ends_with(|c: char| c.is_ascii_digit()))
            .unwrap()
    }

    #[test]
    fn all_digit_uscc_falls_back_from_id_attempt() {
        // 17 digits then a digit: the ID-number shape (province 91 fails),
        // yet a valid USCC.
        let all_digits = all_digit_uscc();
        let s = all_digits.as_str();
        let parsed = Subject::parse(s, &LegacyCodes::empty()).unwrap();
        assert_eq!(parsed.kind(), SubjectKind::Enterprise);
        assert_eq!(parsed.as_str(), s);
    }

    #[test]
    fn reports_id_error_for_id_shaped_input() {
        let err = Subject::parse("11010519491231002A", &LegacyCodes::empty());
        // Not ID-shaped (A), parsed as a USCC.
        assert!(err.is_err());
        let err = Subject::parse("110105194913310023", &LegacyCodes::empty()).unwrap_err();
        assert_eq!(err, IdError::BadBirthDate);
    }

    #[test]
    fn an_all_digit_uscc_with_a_bad_check_reports_the_check_not_the_province() {
        // A valid all-digit USCC with its check character changed: as an
        // ID number its "province" 91 fails first, but what is wrong is
        // the check character.
        let valid = all_digit_uscc();
        let mut bad = valid.as_str()[..17].to_owned();
        let last = valid.as_str().as_bytes()[17];
        bad.push(if last == b'X' || last == b'0' {
            '1'
        } else {
            'X'
        });
        let err = Subject::parse(&bad, &LegacyCodes::empty()).unwrap_err();
        assert_eq!(err, IdError::BadCheckCharacter { position: 18 }, "{bad}");
        // Neither reading gets past its first two characters: the ID
        // number's reason stays.
        let err = Subject::parse("99010519491231002X", &LegacyCodes::empty()).unwrap_err();
        assert_eq!(err, IdError::UnknownProvince);
    }

    #[test]
    fn legacy_needs_allow_list() {
        assert_eq!(
            Subject::parse(LEGACY, &LegacyCodes::empty()),
            Err(IdError::LegacyNotAllowed)
        );
        let list = LegacyCodes::new([LEGACY]).unwrap();
        let s = Subject::parse(&LEGACY.to_lowercase(), &list).unwrap();
        assert_eq!(s.as_str(), LEGACY);
        assert_eq!(s.division().to_string(), "350100");
    }

    #[test]
    fn serialises_as_string() {
        let p = Subject::parse(PERSON, &LegacyCodes::empty()).unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{PERSON}\""));
        assert_eq!(
            serde_json::to_string(&SubjectKind::Enterprise).unwrap(),
            "\"enterprise\""
        );
    }
}
