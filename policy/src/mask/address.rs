//! `mask_address`: keep an address down to district/county level.
//!
//! The address is read as a sequence of administrative units from its
//! start, each the shortest run of 2–16 characters ending in a unit marker
//! (`省`, `自治区`, `特别行政区`, `市`, `自治州`, `地区`, `盟`, `区`, `县`,
//! `旗`). A run containing a digit, a letter, whitespace, punctuation or a
//! street-level character (`街`, `号`, `弄`, `巷`, `室`, `栋`, `幢`) is not a
//! unit, so street details never pass for one. `路` and `楼` are street-level
//! too, except in the five county-level names that hold one (`鼓楼区`, `钟楼区`,
//! `路北区`, `路南区`, `路桥区`): a run holding one is a unit only when it
//! is one of those, so `大楼区`, `江北路东区` or
//! `中山路市场` is not. Runs that name a place that is not an administrative
//! unit stop the reading too:
//! - zones ending in `小区`, `社区`, `景区`, `园区`, `核心区`, `开发区`,
//!   `工业区`, `新区` and the like ([`ZONE_SUFFIXES`]), except the few such
//!   names that are county-level districts ([`ZONE_DISTRICTS`]:
//!   `上海市浦东新区`, `天津市滨海新区`, `苏州市工业园区`);
//! - runs holding an estate or building word (`花园`, `新村`, `大厦`, …,
//!   [`ESTATE_WORDS`]), such as `阳光花园东区`;
//! - a `市` that begins `市场` (market), as in `中心菜市场`.
//!
//! Units are taken while they climb down the hierarchy, and the output
//! ends after the first county-level unit:
//!
//! | input | output |
//! |---|---|
//! | `浙江省宁波市海曙区中山西路138号` | `浙江省宁波市海曙区` |
//! | `上海市普陀区长寿路1号` | `上海市普陀区` |
//! | `浙江省宁波市余姚市阳明街道` | `浙江省宁波市余姚市` |
//! | `新疆维吾尔自治区阿克苏地区阿克苏市` | (whole) |
//! | `福建省福州市鼓楼区五四路1号` | `福建省福州市鼓楼区` |
//! | `宁波市阳光花园小区3幢` | `宁波市` |
//! | `中山西路138号` | `***` |
//!
//! A `市` is a prefecture-level city when it is the first city-like unit
//! and another unit follows (`宁波市海曙区`), and county level otherwise
//! (`宁波市余姚市`, or a lone `余姚市`).
//!
//! When in doubt the reading stops: the output may be coarser than the
//! district (`宁波市东钱湖旅游度假区` → `宁波市`) but never finer.

/// Provincial-level municipalities: their `市` is the province level.
const MUNICIPALITIES: [&str; 4] = ["北京市", "上海市", "天津市", "重庆市"];

/// Longest unit name (e.g. `积石山保安族东乡族撒拉族自治县` has 15).
const MAX_UNIT: usize = 16;

/// Characters that never occur in a unit name.
const STREET_CHARS: &str = "街号弄巷室栋幢";

/// Street-level characters that do occur in a few two-character
/// county-level names (`鼓楼区` in 南京, 福州, 徐州 and 开封; `钟楼区` in
/// 常州; `路北区` and `路南区` in 唐山; `路桥区` in 台州). A run holding one
/// is a unit only when it is two characters and a county-level marker
/// other than `市` ([`SHORT_NAME_MARKERS`]). Every such real name has two
/// characters before the marker; a longer run holding `路` or `楼` is a
/// road or building (`江北路东区`), and `市` is left out because
/// `鼓楼市场`-like runs are markets, not cities.
const SHORT_NAME_STREET_CHARS: &str = "路楼";

/// The county-level units whose names hold `路` or `楼`, all of them: any
/// other run holding one (`大楼区`) is a building or a road, however short.
const STREET_CHAR_DISTRICTS: &[&str] = &["鼓楼区", "钟楼区", "路北区", "路南区", "路桥区"];

/// Markers a run holding a [`SHORT_NAME_STREET_CHARS`] character may end in.
const SHORT_NAME_MARKERS: &str = "区县旗";

/// Endings of units that are zones, not administrative districts. None of
/// them is ever a district below which nothing else lies: residential
/// compounds (`小区`), communities (`社区`, below the township), scenic
/// areas, campuses, plants and the functional zones Chinese addresses use
/// besides districts. Some functional zones are run at county level
/// (`宁波国家高新区`, `两江新区`, most national `开发区`), but the same
/// words name township-level parks and new towns inside a county
/// (`城东新区`, `XX镇工业区`), and a county-level city read as a
/// prefecture (`浙江省余姚市工业园区`) would let those through, so all of
/// them stop the reading except [`ZONE_DISTRICTS`]. Endings that are also
/// real districts are left out: `城区`, `郊区`, `矿区` (阳泉市矿区), `林区`
/// (神农架林区), `港区` (秦皇岛市海港区), `营区` (东营市东营区), `市区`.
const ZONE_SUFFIXES: &[&str] = &[
    "小区",
    "社区",
    "景区",
    "园区",
    "核心区",
    "开发区",
    "工业区",
    "新区",
    "校区",
    "厂区",
    "片区",
    "保税区",
    "度假区",
    "旅游区",
    "商务区",
    "商业区",
    "功能区",
    "示范区",
    "试验区",
    "实验区",
    "集聚区",
    "生活区",
    "住宅区",
    "居住区",
    "服务区",
    "管理区",
];

/// Units with a [`ZONE_SUFFIXES`] ending that are county-level districts,
/// with the unit they must follow: 浦东新区 and 滨海新区 are formal
/// districts (市辖区); 苏州工业园区 is a county-level zone with its own
/// statistical division code (320571) and is written as the district in
/// Suzhou addresses.
const ZONE_DISTRICTS: &[(&str, &str)] = &[
    ("上海市", "浦东新区"),
    ("天津市", "滨海新区"),
    ("苏州市", "工业园区"),
];

/// Words of estates, buildings and institutions, never part of a
/// county-level name; a run holding one is not a unit (`阳光花园东区`).
const ESTATE_WORDS: &[&str] = &[
    "花园", "新村", "公寓", "大厦", "广场", "家园", "山庄", "大学", "学院", "医院", "公司",
];

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
    let mut previous = String::new();
    for n in 0..MAX_UNITS {
        let Some(end) = next_unit(&chars, pos) else {
            break;
        };
        let unit: String = chars[pos..end].iter().collect();
        if !is_administrative(&unit, &previous, chars.get(end).copied()) {
            break;
        }
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
        previous = unit;
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

/// Whether `unit` (just read, after `previous` and followed by `next`)
/// is an administrative unit rather than a road, building or zone; see
/// the module docs.
fn is_administrative(unit: &str, previous: &str, next: Option<char>) -> bool {
    let n = unit.chars().count();
    if unit.contains(|c| SHORT_NAME_STREET_CHARS.contains(c))
        && !(n == 3
            && unit.ends_with(|c| SHORT_NAME_MARKERS.contains(c))
            && STREET_CHAR_DISTRICTS.contains(&unit))
    {
        return false;
    }
    // 上海市场中路 is 上海市 + 场中路; any other 市场 is a market.
    if unit.ends_with('市') && next == Some('场') && !MUNICIPALITIES.contains(&unit) {
        return false;
    }
    if ESTATE_WORDS.iter().any(|w| unit.contains(w)) {
        return false;
    }
    !ZONE_SUFFIXES.iter().any(|z| unit.ends_with(z)) || ZONE_DISTRICTS.contains(&(previous, unit))
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
    fn zones_are_not_districts() {
        let cases = [
            ("宁波市阳光花园小区3幢", "宁波市"),
            ("宁波市天童寺景区", "宁波市"),
            ("宁波市东部新城核心区A1地块", "宁波市"),
            ("浙江省宁波市新星社区", "浙江省宁波市"),
            ("宁波市江北工业区", "宁波市"),
            ("宁波市国家高新区聚贤路", "宁波市"),
            ("浙江省余姚市工业园区", "浙江省余姚市"),
            ("浙江省慈溪市城东新区", "浙江省慈溪市"),
            ("宁波市东钱湖旅游度假区", "宁波市"),
            ("浙江省杭州市浙江大学紫金港校区", "浙江省杭州市"),
            // A zone after the district is never reached.
            ("浙江省宁波市海曙区阳光花园小区", "浙江省宁波市海曙区"),
            ("宁波市鄞州区天童寺景区", "宁波市鄞州区"),
        ];
        for (input, want) in cases {
            assert_eq!(mask_address(input), want, "{input}");
        }
    }

    #[test]
    fn zone_named_county_level_districts_are_kept() {
        let cases = [
            ("上海市浦东新区张江路1号", "上海市浦东新区"),
            ("天津市滨海新区塘沽街道", "天津市滨海新区"),
            ("江苏省苏州市工业园区星湖街328号", "江苏省苏州市工业园区"),
            // Only after their own city.
            ("山东省烟台市滨海新区", "山东省烟台市"),
            ("浙江省宁波市工业园区", "浙江省宁波市"),
            // Real districts whose names end like a zone.
            ("河北省秦皇岛市海港区", "河北省秦皇岛市海港区"),
            ("山东省东营市东营区", "山东省东营市东营区"),
            ("山西省阳泉市矿区", "山西省阳泉市矿区"),
            ("湖北省神农架林区", "湖北省神农架林区"),
            ("陕西省西安市新城区", "陕西省西安市新城区"),
        ];
        for (input, want) in cases {
            assert_eq!(mask_address(input), want, "{input}");
        }
    }

    #[test]
    fn short_district_names_may_hold_lou_and_lu() {
        let cases = [
            ("福建省福州市鼓楼区五四路1号", "福建省福州市鼓楼区"),
            ("江苏省南京市鼓楼区中山北路", "江苏省南京市鼓楼区"),
            ("河北省唐山市路北区建设路", "河北省唐山市路北区"),
            ("河北省唐山市路南区", "河北省唐山市路南区"),
            ("浙江省台州市路桥区", "浙江省台州市路桥区"),
            ("江苏省常州市钟楼区", "江苏省常州市钟楼区"),
            ("鼓楼区五四路1号", "鼓楼区"),
        ];
        for (input, want) in cases {
            assert_eq!(mask_address(input), want, "{input}");
        }
    }

    #[test]
    fn roads_and_buildings_do_not_pass_as_short_districts() {
        let cases = [
            // Longer than two characters before the marker.
            ("宁波市江北路东区", "宁波市"),
            ("宁波市中山路区政府", "宁波市"),
            ("宁波市科技楼区", "宁波市"),
            // Two characters, but no such district.
            ("宁波市大楼区5号", "宁波市"),
            ("宁波市新路县", "宁波市"),
            // 市 is no marker for them.
            ("宁波市鼓楼市", "宁波市"),
            // Estates and markets.
            ("宁波市阳光花园东区3幢", "宁波市"),
            ("宁波市华侨新村南区", "宁波市"),
            ("宁波市中心菜市场", "宁波市"),
            ("中心菜市场", "***"),
            ("上海市场中路1号", "上海市"),
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
