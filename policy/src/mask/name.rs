//! `mask_name`: keep a person's surname and nothing else.

use super::transforms::stars;

/// Two-character (compound) surnames (复姓). [`mask_name`] keeps one whole
/// unless its first character is in [`SINGLE_SURNAMES`].
const COMPOUND_SURNAMES: &[&str] = &[
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "令狐", "澹台", "端木", "西门", "南宫", "独孤", "呼延", "轩辕", "万俟", "闻人", "东郭",
    "百里", "钟离", "申屠", "公冶", "太叔", "濮阳", "淳于", "单于", "仲孙", "赫连", "宗政", "司空",
    "亓官", "司寇", "子车", "颛孙", "巫马", "公西", "漆雕", "乐正", "壤驷", "公良", "拓跋", "夹谷",
    "宰父", "谷梁", "段干", "东门", "左丘", "梁丘", "第五", "羊舌", "微生", "公羊", "鲜于", "闾丘",
    "呼衍", "完颜", "耶律", "纳兰",
];

/// First characters of [`COMPOUND_SURNAMES`] that are themselves single
/// surnames in real use. A name starting with one of these compounds is
/// ambiguous: `钟离明` is at least as likely 钟 + given name 离明 as
/// 钟离 + 明, and keeping `钟离` would then reveal a given-name character.
/// Such names keep one character (`钟**`), which is never more than the
/// surname. The list errs on the side of inclusion (`闻`, `宗`, `乐`, `单`,
/// `濮`, `亓`, `羊`, `宰`, `纳`, `赫`, `鲜`, `南`, `呼` are rarer single
/// surnames, but their compounds are rarer still).
///
/// `欧` is deliberately absent: the product contract (SPEC §5) keeps
/// `欧阳` whole (`欧阳**`), and 欧阳 is far more common than 欧 followed by
/// a given name starting with 阳. The first characters of the other
/// compounds kept whole (司, 诸, 上, 东, 皇, 尉, 公, 慕, 长, 宇, 令, 澹, 端,
/// 西, 独, 轩, 百, 太, 淳, 子, 颛, 壤, 拓, 夹, 第, 微, 闾, 完, 耶) are not, or
/// only very rarely, single surnames.
const SINGLE_SURNAMES: &str = "夏万闻钟申仲濮单宗乐巫漆亓谷段左梁羊宰南呼赫鲜纳";

/// Stars after the first letter of a name that is not Han (see
/// [`mask_name`]); the mask is this wide whatever the name's length.
const NON_HAN_STARS: usize = 3;

/// Masks a person's name, keeping only the surname:
/// - Han names (first character a CJK ideograph) keep the first character
///   (`张三` → `张*`), or the first two when they are a compound surname
///   whose first character is not itself a common single surname and the
///   name has at least three characters (`欧阳修` → `欧阳*`, `欧阳娜娜` →
///   `欧阳**`; a two-character `欧阳` is read as surname 欧 + given name
///   阳 → `欧*`; an ambiguous compound such as 钟离 keeps one character,
///   `钟离明` → `钟**`, see `SINGLE_SURNAMES` in this module); every other
///   character becomes one `*`, so the length shows (as in `欧阳**`);
/// - other names have no reliable surname position (`Alice Wang` puts the
///   given name first) and their length would narrow them down, so they
///   get a fixed-width mask: the first letter and `***` (`Alice Wang` →
///   `A***`, `Li` → `L***`), or `****` when the name is one character
///   long or does not start with a letter;
/// - a one-character Han name becomes `*` (it would be all surname or all
///   given name); an empty name stays empty.
pub fn mask_name(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let Some(&first) = chars.first() else {
        return String::new();
    };
    if !is_cjk(first) {
        return if n >= 2 && first.is_alphabetic() {
            format!("{first}{}", stars(NON_HAN_STARS))
        } else {
            stars(NON_HAN_STARS + 1)
        };
    }
    if n == 1 {
        return stars(1);
    }
    let keep = if n >= 3 && is_compound(&chars[..2]) {
        2
    } else {
        1
    };
    let mut out: String = chars[..keep].iter().collect();
    out.push_str(&stars(n - keep));
    out
}

/// Whether `first_two` is a compound surname kept whole: listed, and not
/// starting with a single surname.
fn is_compound(first_two: &[char]) -> bool {
    let s: String = first_two.iter().collect();
    COMPOUND_SURNAMES.contains(&s.as_str()) && !SINGLE_SURNAMES.contains(first_two[0])
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
        assert_eq!(mask_name("欧阳娜"), "欧阳*");
        assert_eq!(mask_name("欧阳娜娜"), "欧阳**");
        assert_eq!(mask_name("诸葛亮"), "诸葛*");
        assert_eq!(mask_name("欧阳"), "欧*");
        assert_eq!(mask_name("张"), "*");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_name("阿沛·阿旺晋美"), "阿******");
    }

    #[test]
    fn unambiguous_compound_surnames_are_kept_whole() {
        for (name, want) in [
            ("司马光", "司马*"),
            ("上官婉儿", "上官**"),
            ("慕容复", "慕容*"),
            ("司徒雷", "司徒*"),
            ("东方明", "东方*"),
            ("皇甫嵩", "皇甫*"),
            ("尉迟恭", "尉迟*"),
            ("公孙策", "公孙*"),
            ("令狐冲", "令狐*"),
            ("长孙无忌", "长孙**"),
            ("宇文泰", "宇文*"),
            ("澹台明", "澹台*"),
            ("端木赐", "端木*"),
        ] {
            assert_eq!(mask_name(name), want, "{name}");
        }
    }

    #[test]
    fn compounds_starting_with_a_single_surname_keep_one_character() {
        for (name, want) in [
            ("乐正华", "乐**"),
            ("宗政伟", "宗**"),
            ("闻人杰", "闻**"),
            ("梁丘波", "梁**"),
            ("单于晓", "单**"),
            ("钟离明", "钟**"),
            ("夏侯惇", "夏**"),
            ("万俟明", "万**"),
            ("申屠明", "申**"),
            ("左丘明", "左**"),
            ("钟离明华", "钟***"),
            // The single surname read the ordinary way, for comparison.
            ("钟明", "钟*"),
            ("梁波", "梁*"),
        ] {
            assert_eq!(mask_name(name), want, "{name}");
        }
    }

    #[test]
    fn no_kept_compound_starts_with_a_single_surname() {
        let kept: Vec<&str> = COMPOUND_SURNAMES
            .iter()
            .copied()
            .filter(|s| {
                let chars: Vec<char> = s.chars().collect();
                is_compound(&chars)
            })
            .collect();
        for s in &kept {
            let first = s.chars().next().unwrap_or_default();
            assert!(!SINGLE_SURNAMES.contains(first), "{s}");
        }
        // The contract's own example (SPEC §5).
        assert!(kept.contains(&"欧阳"));
        for s in ["夏侯", "钟离", "闻人", "乐正", "宗政", "梁丘", "单于"] {
            assert!(!kept.contains(&s), "{s}");
        }
        // Every single surname listed starts some compound (no dead entries).
        for c in SINGLE_SURNAMES.chars() {
            assert!(
                COMPOUND_SURNAMES.iter().any(|s| s.starts_with(c)),
                "{c} starts no compound"
            );
        }
    }

    #[test]
    fn non_han_names_get_a_fixed_width_mask() {
        assert_eq!(mask_name("Alice Wang"), "A***");
        assert_eq!(mask_name("Alice"), "A***");
        assert_eq!(mask_name("Li"), "L***");
        assert_eq!(mask_name("Maximilian Alexander"), "M***");
        assert_eq!(mask_name("Éloïse"), "É***");
        assert_eq!(mask_name("A"), "****");
        assert_eq!(mask_name(" Bob"), "****");
        assert_eq!(mask_name("007"), "****");
        // Length is not revealed.
        assert_eq!(
            mask_name("Bo").chars().count(),
            mask_name("Bartholomew").chars().count()
        );
    }
}
