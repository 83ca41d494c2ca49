//! `mask_address`: keep an address down to district/county level.
//!
//! The address is read as a sequence of administrative units from its
//! start, each the shortest run of 2–16 characters ending in a unit marker
//! (`省`, `自治区`, `特别行政区`, `市`, `自治州`, `地区`, `盟`, `区`, `县`,
//! `旗`). A run containing a digit, a letter, whitespace, punctuation or a
//! street-level character (`路`, `街`, `号`, `弄`, `巷`, `楼`, `室`, `栋`,
//! `幢`) is not a unit, so street details never pass for one. Units are
//! taken while they climb down the hierarchy, and the output ends after
//! the first county-level unit:
//!
//! | input | output |
//! |---|---|
//! | `浙江省宁波市海曙区中山西路138号` | `浙江省宁波市海曙区` |
//! | `上海市普陀区长寿路1号` | `上海市普陀区` |
//! | `浙江省宁波市余姚市阳明街道` | `浙江省宁波市余姚市` |
//! | `新疆维吾尔自治区阿克苏地区阿克苏市` | (whole) |
//! | `中山西路138号` | `***` |
//!
//! A `市` is a prefecture-level city when it is the first city-like unit
//! and another unit follows (`宁波市海曙区`), and county level otherwise
//! (`宁波市余姚市`, or a lone `余姚市`).

/// Provincial-level municipalities: their `市` is the province level.
const MUNICIPALITIES: [&str; 4] = ["北京市", "上海市", "天津市", "重庆市"];

/// Longest unit name (e.g. `积石山保安族东乡族撒拉族自治县` has 15).
const MAX_UNIT: usize = 16;

/// Characters that never occur in a unit name.
const STREET_CHARS: &str = "路街号弄巷楼室栋幢";

/// What replaces an address with no recognisable unit.
const NOTHING: &str = "***";

/// Most units read before giving up.
const MAX_UNITS: usize = 4;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Province,
    Municipality,
    Prefecture,
    City,
    County,
}

/// Masks an address to district/county level (see the module docs). The
/// output is a prefix of the input ending after a unit marker, or `***`.
pub fn mask_address(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut kept = 0;
    let mut pos = 0;
    let mut above_county = false;
    for n in 0..MAX_UNITS {
        let Some(end) = next_unit(&chars, pos) else {
            break;
        };
        let unit: String = chars[pos..end].iter().collect();
        match level(&unit, n == 0) {
            Level::Province if n == 0 => kept = end,
            Level::Province => break,
            Level::Municipality => {
                kept = end;
                above_county = true;
            }
            Level::Prefecture if above_county => break,
            Level::Prefecture => {
                kept = end;
                above_county = true;
            }
            Level::City if above_county => {
                kept = end;
                break;
            }
            Level::City => {
                kept = end;
                above_county = true;
            }
            Level::County => {
                kept = end;
                break;
            }
        }
        pos = end;
    }
    if kept == 0 {
        NOTHING.to_owned()
    } else {
        chars[..kept].iter().collect()
    }
}

/// End (exclusive) of the shortest unit starting at `start`.
fn next_unit(chars: &[char], start: usize) -> Option<usize> {
    let mut end = start;
    while end < chars.len() && end - start < MAX_UNIT {
        let c = chars[end];
        if !is_name_char(c) {
            return None;
        }
        end += 1;
        if end - start >= 2 && ends_with_marker(&chars[start..end]) {
            return Some(end);
        }
    }
    None
}

fn is_name_char(c: char) -> bool {
    !(c.is_alphanumeric() && c.is_ascii()
        || c.is_numeric()
        || c.is_whitespace()
        || c.is_ascii_punctuation()
        || STREET_CHARS.contains(c)
        || matches!(
            c,
            '（' | '）' | '，' | '、' | '。' | '；' | '：' | '－' | '＃'
        ))
}

fn ends_with_marker(unit: &[char]) -> bool {
    match unit.last() {
        Some('省' | '市' | '区' | '县' | '旗' | '盟') => true,
        Some('州') => unit.ends_with(&['自', '治', '州']),
        _ => false,
    }
}

fn level(unit: &str, first: bool) -> Level {
    if first && MUNICIPALITIES.contains(&unit) {
        Level::Municipality
    } else if unit.ends_with('省') || unit.ends_with("自治区") || unit.ends_with("特别行政区")
    {
        Level::Province
    } else if unit.ends_with("自治州") || unit.ends_with("地区") || unit.ends_with('盟') {
        Level::Prefecture
    } else if unit.ends_with('市') {
        Level::City
    } else {
        Level::County
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples() {
        let cases = [
            ("浙江省宁波市海曙区中山西路138号", "浙江省宁波市海曙区"),
            ("上海市普陀区长寿路1号", "上海市普陀区"),
            ("北京市朝阳区建国路88号", "北京市朝阳区"),
            ("浙江省宁波市余姚市阳明街道1号", "浙江省宁波市余姚市"),
            ("浙江省余姚市阳明街道1号", "浙江省余姚市"),
            ("浙江省宁波市鄞州区首南街道", "浙江省宁波市鄞州区"),
            ("浙江省舟山市普陀区东港街道", "浙江省舟山市普陀区"),
            ("江苏省苏州市工业园区星湖街328号", "江苏省苏州市工业园区"),
            (
                "新疆维吾尔自治区阿克苏地区阿克苏市",
                "新疆维吾尔自治区阿克苏地区阿克苏市",
            ),
            (
                "广西壮族自治区南宁市青秀区民族大道",
                "广西壮族自治区南宁市青秀区",
            ),
            (
                "湖北省恩施土家族苗族自治州恩施市",
                "湖北省恩施土家族苗族自治州恩施市",
            ),
            ("山东省济南市市中区经四路", "山东省济南市市中区"),
            ("海曙区中山西路138号", "海曙区"),
            ("宁波市中山西路138号", "宁波市"),
            ("中山西路138号", "***"),
            ("138号", "***"),
            ("", "***"),
            ("Room 5, 1 Main St", "***"),
        ];
        for (input, want) in cases {
            assert_eq!(mask_address(input), want, "{input}");
        }
    }

    #[test]
    fn street_details_never_pass_as_units() {
        // 中山路工业区 would end in 区 but contains 路.
        assert_eq!(mask_address("宁波市中山路工业区5号"), "宁波市");
        assert_eq!(mask_address("浙江省宁波市12区"), "浙江省宁波市");
    }
}
