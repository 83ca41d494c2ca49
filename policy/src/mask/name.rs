//! `mask_name`: keep a person's surname and nothing else.

use super::transforms::stars;

/// Two-character (compound) surnames (复姓) kept whole by [`mask_name`].
const COMPOUND_SURNAMES: &[&str] = &[
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "令狐", "澹台", "端木", "西门", "南宫", "独孤", "呼延", "轩辕", "万俟", "闻人", "东郭",
    "百里", "钟离", "申屠", "公冶", "太叔", "濮阳", "淳于", "单于", "仲孙", "赫连", "宗政", "司空",
    "亓官", "司寇", "子车", "颛孙", "巫马", "公西", "漆雕", "乐正", "壤驷", "公良", "拓跋", "夹谷",
    "宰父", "谷梁", "段干", "东门", "左丘", "梁丘", "第五", "羊舌", "微生", "公羊", "鲜于", "闾丘",
    "呼衍", "完颜", "耶律", "纳兰",
];

/// Masks a person's name, keeping only the surname:
/// - CJK names keep the first character (`张三` → `张*`), or the first two
///   when they are a compound surname and the name has at least three
///   characters (`欧阳修` → `欧阳*`, `欧阳娜娜` → `欧阳**`; a two-character
///   `欧阳` is read as surname 欧 + given name 阳 → `欧*`);
/// - other names keep the first character (`Alice` → `A****`);
/// - a one-character name becomes `*` (it would be all surname or all
///   given name); an empty name stays empty.
///
/// Every other character becomes one `*`.
pub fn mask_name(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    if n <= 1 {
        return stars(n);
    }
    let keep = if is_cjk(chars[0]) && n >= 3 && is_compound(&chars[..2]) {
        2
    } else {
        1
    };
    let mut out: String = chars[..keep].iter().collect();
    out.push_str(&stars(n - keep));
    out
}

fn is_compound(first_two: &[char]) -> bool {
    let s: String = first_two.iter().collect();
    COMPOUND_SURNAMES.contains(&s.as_str())
}

/// Whether `c` is a CJK unified ideograph (basic block, extensions A–F or
/// compatibility ideographs).
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{4E00}'..='\u{9FFF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2FA1F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compound_list_is_unique_pairs() {
        let mut seen = std::collections::HashSet::new();
        for s in COMPOUND_SURNAMES {
            assert_eq!(s.chars().count(), 2, "{s}");
            assert!(seen.insert(*s), "duplicate {s}");
        }
    }

    #[test]
    fn surnames() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("欧阳修"), "欧阳*");
        assert_eq!(mask_name("欧阳娜娜"), "欧阳**");
        assert_eq!(mask_name("诸葛亮"), "诸葛*");
        assert_eq!(mask_name("欧阳"), "欧*");
        assert_eq!(mask_name("张"), "*");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_name("Alice Wang"), "A*********");
        assert_eq!(mask_name("阿沛·阿旺晋美"), "阿******");
    }
}
