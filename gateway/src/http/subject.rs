//! Subject identifiers from requests: the pure parsers of `credgate-ids`
//! plus the one check that needs a clock. SPEC §3 wants positions 7–14 of
//! an ID number to be "a valid birth date": a date that has not come yet is
//! not one, and such a number must not reach an upstream.

use credgate_policy::ids::{IdError, IdNumber, LegacyCodes, Subject};
use time::{OffsetDateTime, UtcOffset};

/// Today's date in China Standard Time (UTC+8), where the numbers are
/// issued, as `(year, month, day)`.
pub(crate) fn today_cst() -> (u16, u8, u8) {
    let cst = UtcOffset::from_whole_seconds(8 * 3600).unwrap_or(UtcOffset::UTC);
    let d = OffsetDateTime::now_utc().to_offset(cst).date();
    (
        u16::try_from(d.year()).unwrap_or(u16::MAX),
        u8::from(d.month()),
        d.day(),
    )
}

/// A USCC or an ID number ([`Subject::parse`]) whose birth date, for a
/// person, is not after today.
pub(super) fn parse_subject(raw: &str, legacy: &LegacyCodes) -> Result<Subject, IdError> {
    let subject = Subject::parse(raw, legacy)?;
    if subject.born_after(today_cst()) {
        return Err(IdError::BadBirthDate);
    }
    Ok(subject)
}

/// An ID number ([`IdNumber::parse`]) whose birth date is not after today.
pub(super) fn parse_id_number(raw: &str) -> Result<IdNumber, IdError> {
    let id = IdNumber::parse(raw)?;
    if id.born_after(today_cst()) {
        return Err(IdError::BadBirthDate);
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 17 digits and their check character.
    fn with_check(first17: &str) -> String {
        format!("{first17}{}", IdNumber::compute_check(first17).unwrap())
    }

    #[test]
    fn a_birth_date_after_today_is_not_valid() {
        let legacy = LegacyCodes::default();
        let (y, m, d) = today_cst();
        let born_today = with_check(&format!("330203{y:04}{m:02}{d:02}583"));
        assert!(parse_id_number(&born_today).is_ok());
        assert!(parse_subject(&born_today, &legacy).is_ok());
        let next_year = with_check(&format!("330203{:04}0101583", y + 1));
        // The pure parser accepts it (a calendar date in range) ...
        assert!(IdNumber::parse(&next_year).is_ok());
        // ... the request parsers do not.
        assert_eq!(
            parse_id_number(&next_year).unwrap_err(),
            IdError::BadBirthDate
        );
        assert_eq!(
            parse_subject(&next_year, &legacy).unwrap_err(),
            IdError::BadBirthDate
        );
    }
}
