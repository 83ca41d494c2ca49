//! Shared conversions for the adapters: platform dates and times to
//! canonical ones, decimal amounts to yuan, required/optional text, and
//! value-free error reasons.
//!
//! Every function reports problems by field path only: platform values may
//! be personal data and never appear in an error.

use credgate_policy::canonical::{
    EnterpriseRecord, PersonRef, SanctionAnswer, Section, SectionData,
};
use serde::{Deserialize, Deserializer};
use time::format_description::well_known::Rfc3339;
use time::macros::offset;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use super::AdapterError;

/// `Malformed` naming a field path.
pub(super) fn malformed(what: &str, path: &str) -> AdapterError {
    AdapterError::Malformed(format!("{what} `{path}`"))
}

/// A present, non-empty text field.
pub(super) fn req(v: Option<String>, path: &str) -> Result<String, AdapterError> {
    match v {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(malformed("missing field", path)),
    }
}

/// An optional text field: absent and empty both mean `None`.
pub(super) fn opt(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

/// A person block: the name is required, the rest optional.
pub(super) fn person(
    name: Option<String>,
    id: Option<String>,
    phone: Option<String>,
    path: &str,
) -> Result<PersonRef, AdapterError> {
    Ok(PersonRef {
        name: req(name, path)?,
        id_number: opt(id),
        phone: opt(phone),
    })
}

/// Deserializes a field that may be absent (`None`), `null`
/// (`Some(None)`) or a value (`Some(Some(v))`). Use with
/// `#[serde(default, deserialize_with = "present")]`.
pub(super) fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn ymd(y: &str, m: &str, d: &str) -> Option<Date> {
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if y.len() != 4 || m.len() != 2 || d.len() != 2 || ![y, m, d].into_iter().all(all_digits) {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

fn iso(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The platform date formats the adapters read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DateFormat {
    /// `yyyyMMdd`.
    Compact,
    /// `yyyy-MM-dd` with an optional ` HH:mm:ss` (local time; the date
    /// part is taken as is).
    DashTime,
    /// `yyyy/MM/dd`.
    Slash,
    /// `yyyy年MM月dd日`.
    Chinese,
}

fn parse_date(s: &str, f: DateFormat) -> Option<Date> {
    match f {
        DateFormat::Compact => {
            ymd(s.get(0..4)?, s.get(4..6)?, s.get(6..8)?).filter(|_| s.len() == 8)
        }
        DateFormat::DashTime => {
            let (date, time) = s.split_once(' ').unwrap_or((s, ""));
            if !time.is_empty() {
                parse_hms(time)?;
            }
            let mut p = date.split('-');
            let d = ymd(p.next()?, p.next()?, p.next()?)?;
            p.next().is_none().then_some(d)
        }
        DateFormat::Slash => {
            let mut p = s.split('/');
            let d = ymd(p.next()?, p.next()?, p.next()?)?;
            p.next().is_none().then_some(d)
        }
        DateFormat::Chinese => {
            let (y, rest) = s.split_once('年')?;
            let (m, rest) = rest.split_once('月')?;
            let d = rest.strip_suffix('日')?;
            ymd(y, m, d)
        }
    }
}

fn parse_hms(s: &str) -> Option<Time> {
    let mut p = s.split(':');
    let mut num = || -> Option<u8> {
        let v = p.next()?;
        (v.len() == 2 && v.bytes().all(|b| b.is_ascii_digit())).then(|| v.parse().ok())?
    };
    let (h, m, sec) = (num()?, num()?, num()?);
    if p.next().is_some() {
        return None;
    }
    Time::from_hms(h, m, sec).ok()
}

/// A required date field as `YYYY-MM-DD`.
pub(super) fn date(v: Option<String>, f: DateFormat, path: &str) -> Result<String, AdapterError> {
    let s = req(v, path)?;
    parse_date(&s, f)
        .map(iso)
        .ok_or_else(|| malformed("invalid date in", path))
}

/// An optional date field as `YYYY-MM-DD`.
pub(super) fn opt_date(
    v: Option<String>,
    f: DateFormat,
    path: &str,
) -> Result<Option<String>, AdapterError> {
    match opt(v) {
        None => Ok(None),
        Some(s) => parse_date(&s, f)
            .map(iso)
            .map(Some)
            .ok_or_else(|| malformed("invalid date in", path)),
    }
}

fn rfc3339(t: OffsetDateTime, path: &str) -> Result<String, AdapterError> {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|_| malformed("unrepresentable time in", path))
}

/// A date taken as midnight UTC, as an RFC 3339 instant.
pub(super) fn date_as_instant(
    v: Option<String>,
    f: DateFormat,
    path: &str,
) -> Result<String, AdapterError> {
    let d = date(v, f, path)?;
    Ok(format!("{d}T00:00:00Z"))
}

/// `yyyy-MM-dd HH:mm:ss` in Asia/Shanghai (UTC+8) as an RFC 3339 UTC instant.
pub(super) fn shanghai_instant(v: Option<String>, path: &str) -> Result<String, AdapterError> {
    let s = req(v, path)?;
    let parsed = s.split_once(' ').and_then(|(d, t)| {
        let date = parse_date(d, DateFormat::DashTime)?;
        Some(PrimitiveDateTime::new(date, parse_hms(t)?))
    });
    let local = parsed.ok_or_else(|| malformed("invalid time in", path))?;
    rfc3339(local.assume_offset(offset!(+8)), path)
}

/// Epoch milliseconds as an RFC 3339 UTC instant.
pub(super) fn epoch_ms_instant(ms: Option<i64>, path: &str) -> Result<String, AdapterError> {
    let ms = ms.ok_or_else(|| malformed("missing field", path))?;
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| malformed("out-of-range time in", path))?;
    rfc3339(t, path)
}

/// Parses a non-negative decimal (optionally with `,` thousands groups)
/// into an integer count of `10^-scale` units, rounding half up.
fn decimal_units(s: &str, grouped: bool, scale: u32) -> Option<i128> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let int: String = if grouped && int.contains(',') {
        let mut groups = int.split(',');
        let first = groups.next()?;
        if first.is_empty() || first.len() > 3 {
            return None;
        }
        let mut out = first.to_owned();
        for g in groups {
            if g.len() != 3 {
                return None;
            }
            out.push_str(g);
        }
        out
    } else {
        int.to_owned()
    };
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty()
        || int.len() > 20
        || !digits(&int)
        || !digits(frac)
        || (s.contains('.') && frac.is_empty())
    {
        return None;
    }
    let mut units: i128 = int.parse().ok()?;
    let scale_usize = scale as usize;
    for i in 0..scale_usize {
        let d = frac.as_bytes().get(i).map_or(0, |b| i128::from(b - b'0'));
        units = units.checked_mul(10)?.checked_add(d)?;
    }
    if frac.as_bytes().get(scale_usize).is_some_and(|b| *b >= b'5') {
        units += 1;
    }
    Some(units)
}

/// Units of money the platforms use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Money {
    /// Yuan, plain decimal (`12000.00`).
    Yuan,
    /// Yuan with thousands separators (`12,000.00`).
    YuanGrouped,
    /// 万元 (ten thousand yuan), plain decimal (`1.25`).
    WanYuan,
}

/// An optional amount as yuan (rounded to the fen).
pub(super) fn money(
    v: Option<String>,
    unit: Money,
    path: &str,
) -> Result<Option<f64>, AdapterError> {
    let Some(s) = opt(v) else { return Ok(None) };
    let fen = match unit {
        Money::Yuan => decimal_units(&s, false, 2),
        Money::YuanGrouped => decimal_units(&s, true, 2),
        Money::WanYuan => decimal_units(&s, false, 6),
    };
    fen.map(|f| Some(fen_to_yuan(f)))
        .ok_or_else(|| malformed("invalid amount in", path))
}

/// Fen to yuan (exact to the fen for any realistic amount).
pub(super) fn fen_to_yuan(fen: i128) -> f64 {
    fen as f64 / 100.0
}

/// An optional integer fen amount as yuan; negative amounts are malformed.
pub(super) fn fen_amount(v: Option<i64>, path: &str) -> Result<Option<f64>, AdapterError> {
    match v {
        None => Ok(None),
        Some(f) if f >= 0 => Ok(Some(fen_to_yuan(i128::from(f)))),
        Some(_) => Err(malformed("negative amount in", path)),
    }
}

/// A score value given as text (`"612"`, `"612.5"`), read as it is:
/// never rounded, since rounding `"549.995"` to 550 would move it across a
/// tier boundary. Plain decimal notation only (no sign, exponent or
/// grouping), at most 9 integer and 6 fraction digits: within 15
/// significant digits an f64 keeps every such value on its side of any
/// boundary written with as many digits (`"549.99999999999999"` would
/// parse to 550.0).
pub(super) fn score_value(v: Option<String>, path: &str) -> Result<f64, AdapterError> {
    let s = req(v, path)?;
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let plain = int.len() <= 9
        && frac.len() <= 6
        && !int.is_empty()
        && digits(int)
        && digits(frac)
        && !(s.contains('.') && frac.is_empty());
    plain
        .then(|| s.parse::<f64>().ok())
        .flatten()
        .filter(|v| v.is_finite())
        .ok_or_else(|| malformed("invalid score in", path))
}

/// A value-free reason for a JSON decoding error: the missing field's name
/// when serde names one, else the error class and position.
pub(super) fn json_error(e: &serde_json::Error) -> AdapterError {
    if let Some(field) = missing_field(&e.to_string()) {
        return AdapterError::Malformed(format!("missing field `{field}`"));
    }
    let class = match e.classify() {
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Eof => "truncated JSON",
        serde_json::error::Category::Data => "unexpected JSON structure or value type",
        serde_json::error::Category::Io => "unreadable JSON",
    };
    AdapterError::Malformed(format!(
        "{class} at line {} column {}",
        e.line(),
        e.column()
    ))
}

/// The field name in serde's "missing field `name`" message, if it is one
/// and the name is a plain identifier.
pub(super) fn missing_field(msg: &str) -> Option<&str> {
    let rest = msg.strip_prefix("missing field `")?;
    let name = &rest[..rest.find('`')?];
    let plain = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    plain.then_some(name)
}

/// Decodes a JSON body into `T` with a value-free error.
pub(super) fn from_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, AdapterError> {
    serde_json::from_slice(body).map_err(|e| json_error(&e))
}

/// Builds a record from the requested sections, in report order; `get`
/// returns `None` for a section the answer does not hold.
pub(super) fn assemble(
    uscc: &str,
    sections: &[Section],
    as_of: &str,
    mut get: impl FnMut(Section) -> Result<Option<SectionData>, AdapterError>,
) -> Result<EnterpriseRecord, AdapterError> {
    let mut out = Vec::new();
    let mut unreadable = Vec::new();
    let mut first_error = None;
    for s in Section::ALL.into_iter().filter(|s| sections.contains(s)) {
        // One section the gateway cannot read (a code a platform added,
        // say) costs that section, not the report; a body none of whose
        // sections reads is the platform's fault as a whole.
        let got = match get(s) {
            Ok(got) => got,
            Err(AdapterError::Malformed(reason)) => {
                first_error.get_or_insert_with(|| AdapterError::Malformed(reason.clone()));
                unreadable.push((s, reason));
                continue;
            }
            Err(e) => return Err(e),
        };
        if let Some(data) = got {
            // The registration section names its enterprise: one naming
            // another is that enterprise's data, whatever the envelope says
            // (some formats put the code in the envelope too, and may leave
            // it out).
            if let SectionData::Basic(b) = &data {
                if !b.uscc.eq_ignore_ascii_case(uscc) {
                    return Err(malformed(
                        "registration section is for another subject in",
                        "basic.uscc",
                    ));
                }
            }
            out.push((s, as_of.to_owned(), data));
        }
    }
    if out.is_empty() {
        if let Some(e) = first_error {
            return Err(e);
        }
    }
    Ok(EnterpriseRecord {
        uscc: uscc.to_owned(),
        sections: out,
        unreadable,
    })
}

/// Requested sections in report order without duplicates, mapped to codes.
pub(super) fn section_codes(
    sections: &[Section],
    codes: &[(Section, &'static str); 10],
) -> Vec<&'static str> {
    Section::ALL
        .into_iter()
        .filter(|s| sections.contains(s))
        .filter_map(|s| codes.iter().find(|(c, _)| *c == s).map(|(_, code)| *code))
        .collect()
}

/// Percent-encodes a path segment or query value (unreserved characters pass).
pub(super) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether an answer names the subject that was asked for.
pub(super) fn same_subject(asked: &str, answered: Option<&str>) -> bool {
    answered.is_none_or(|a| a.eq_ignore_ascii_case(asked))
}

/// Orders a platform's sanctions answers by the requested subjects; a
/// requested subject missing from the answer makes the answer malformed.
/// A subject answered more than once (a platform splitting its listings
/// over several items) gets all of them: dropping any but the first could
/// turn a hit into `no_hit`.
pub(super) fn match_subjects(
    subjects: &[String],
    answers: Vec<SanctionAnswer>,
) -> Result<Vec<SanctionAnswer>, AdapterError> {
    subjects
        .iter()
        .map(|s| {
            let mut found = answers
                .iter()
                .filter(|a| a.subject.eq_ignore_ascii_case(s))
                .peekable();
            if found.peek().is_none() {
                return Err(AdapterError::Malformed(
                    "answer lacks a requested subject".into(),
                ));
            }
            let mut merged = SanctionAnswer {
                subject: s.to_ascii_uppercase(),
                known: false,
                listings: Vec::new(),
                as_of: None,
            };
            for a in found {
                merged.known |= a.known;
                if merged.as_of.is_none() {
                    merged.as_of.clone_from(&a.as_of);
                }
                merged.listings.extend(a.listings.iter().cloned());
            }
            Ok(merged)
        })
        .collect()
}

#[cfg(test)]
mod tests;
