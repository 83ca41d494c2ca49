//! Small text helpers shared by the generator and the renderers: calendar
//! arithmetic, date re-formatting and money formatting.

/// Days since 1970-01-01 for a proleptic Gregorian date.
pub(crate) fn days_from_ymd(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01 as `(year, month, day)`.
pub(crate) fn ymd_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD` for a day number.
pub(crate) fn iso_date(days: i64) -> String {
    let (y, m, d) = ymd_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Splits a canonical `YYYY-MM-DD` into its parts (the generator only makes
/// well-formed dates; anything else yields zeros).
fn parts(iso: &str) -> (&str, &str, &str) {
    let y = iso.get(0..4).unwrap_or("0000");
    let m = iso.get(5..7).unwrap_or("00");
    let d = iso.get(8..10).unwrap_or("00");
    (y, m, d)
}

/// `yyyyMMdd` (信用宁波).
pub(crate) fn compact_date(iso: &str) -> String {
    let (y, m, d) = parts(iso);
    format!("{y}{m}{d}")
}

/// `yyyy-MM-dd 00:00:00` (信用浙江).
pub(crate) fn datetime_date(iso: &str) -> String {
    let (y, m, d) = parts(iso);
    format!("{y}-{m}-{d} 00:00:00")
}

/// `yyyy/MM/dd` (杭州).
pub(crate) fn slash_date(iso: &str) -> String {
    let (y, m, d) = parts(iso);
    format!("{y}/{m}/{d}")
}

/// `yyyy年MM月dd日` (厦门).
pub(crate) fn chinese_date(iso: &str) -> String {
    let (y, m, d) = parts(iso);
    format!("{y}年{m}月{d}日")
}

/// Yuan (at most two decimals) to integer fen.
pub(crate) fn fen(yuan: f64) -> i64 {
    (yuan * 100.0).round() as i64
}

/// Fen as plain yuan with two decimals: `12000.00`.
pub(crate) fn yuan_plain(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// Fen as yuan with thousands separators: `12,000.00`.
pub(crate) fn yuan_grouped(fen: i64) -> String {
    let int = (fen / 100).to_string();
    let mut out = String::with_capacity(int.len() + int.len() / 3 + 3);
    let lead = int.len() % 3;
    for (i, c) in int.chars().enumerate() {
        if i > 0 && i % 3 == lead {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}.{:02}", fen % 100)
}

/// Fen as 万元 with as few decimals as exact: `1.25` for 12,500 yuan.
pub(crate) fn wan_yuan(fen: i64) -> String {
    let int = fen / 1_000_000;
    let frac = fen % 1_000_000;
    if frac == 0 {
        return int.to_string();
    }
    let f = format!("{frac:06}");
    format!("{int}.{}", f.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trip() {
        for days in [-1000, 0, 365, 11_016, 20_758, 20_759] {
            let (y, m, d) = ymd_from_days(days);
            assert_eq!(days_from_ymd(y, m, d), days);
        }
        assert_eq!(iso_date(days_from_ymd(2026, 11, 1)), "2026-11-01");
        assert_eq!(iso_date(days_from_ymd(2024, 2, 29) + 1), "2024-03-01");
    }

    #[test]
    fn formats() {
        assert_eq!(compact_date("2024-03-05"), "20240305");
        assert_eq!(datetime_date("2024-03-05"), "2024-03-05 00:00:00");
        assert_eq!(slash_date("2024-03-05"), "2024/03/05");
        assert_eq!(chinese_date("2024-03-05"), "2024年03月05日");
        assert_eq!(yuan_plain(1_200_000), "12000.00");
        assert_eq!(yuan_grouped(1_200_000), "12,000.00");
        assert_eq!(yuan_grouped(123_456_789), "1,234,567.89");
        assert_eq!(yuan_grouped(5), "0.05");
        assert_eq!(wan_yuan(1_250_000), "1.25");
        assert_eq!(wan_yuan(500_000_000), "500");
        assert_eq!(wan_yuan(123), "0.000123");
        assert_eq!(fen(12345.67), 1_234_567);
    }
}
