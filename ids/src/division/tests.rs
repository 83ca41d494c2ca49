use super::*;

fn code(s: &str) -> DivisionCode {
    DivisionCode::parse(s).unwrap()
}

#[test]
fn table_is_sorted_unique_and_valid() {
    let entries = entries();
    assert!(entries.windows(2).all(|w| w[0].code < w[1].code));
    for e in entries {
        let reparsed = DivisionCode::parse(&e.code.to_string());
        assert_eq!(reparsed, Ok(e.code), "{} is not structurally valid", e.code);
        assert!(!e.name.is_empty());
        assert_eq!(e.is_abolished(), e.successor.is_some(), "{}", e.code);
        if let (Some(s), Some(u)) = (e.since, e.until) {
            assert!(s < u, "{}", e.code);
        }
    }
}

#[test]
fn every_successor_chain_ends_at_a_listed_code_in_force() {
    for e in entries() {
        let end = current(e.code);
        let entry = lookup(end).unwrap_or_else(|| panic!("{} ends at unlisted {end}", e.code));
        assert!(!entry.is_abolished(), "{} ends at abolished {end}", e.code);
        if let Some(succ) = e.successor {
            let succ_entry = lookup(succ).unwrap();
            // The successor existed when the old code was abolished.
            assert!(succ_entry.in_force(e.until.unwrap_or(0)), "{}", e.code);
        }
    }
}

#[test]
fn hangzhou_2021_merges() {
    assert_eq!(current(code("330103")), code("330105"));
    assert_eq!(current(code("330104")), code("330102"));
    assert_eq!(lookup(code("330103")).map(|e| e.name), Some("下城区"));
    assert_eq!(lookup(code("330104")).map(|e| e.until), Some(Some(2021)));
}

#[test]
fn earlier_changes_map_to_successors() {
    for (old, new) in [
        ("330183", "330111"), // 富阳市 → 富阳区 2015
        ("330185", "330112"), // 临安市 → 临安区 2017
        ("330181", "330109"), // 萧山市 → 萧山区 2001
        ("330204", "330212"), // 江东区 → 鄞州区 2016
        ("330283", "330213"), // 奉化市 → 奉化区 2016
        ("330227", "330212"), // 鄞县 → 鄞州区 2002
        ("330621", "330603"), // 绍兴县 → 柯桥区 2013
        ("350204", "350203"), // 开元区 → 思明区 2003
        ("310108", "310106"), // 闸北区 → 静安区 2015
    ] {
        assert_eq!(current(code(old)), code(new), "{old}");
    }
}

#[test]
fn codes_in_force_and_unlisted_codes_are_unchanged() {
    for s in ["330282", "330203", "330102", "310107", "330903", "350203"] {
        assert_eq!(current(code(s)), code(s));
    }
    // Structurally valid but not listed: returned as is.
    let unlisted = code("330481");
    assert!(lookup(unlisted).is_none());
    assert_eq!(current(unlisted), unlisted);
}

#[test]
fn same_name_different_codes() {
    let zhoushan = lookup(code("330903")).unwrap();
    let shanghai = lookup(code("310107")).unwrap();
    assert_eq!(zhoushan.name, shanghai.name);
    assert_ne!(prefecture(zhoushan.code), prefecture(shanghai.code));
    assert_eq!(province(zhoushan.code), code("330000"));
    assert_eq!(prefecture(zhoushan.code), code("330900"));
}

#[test]
fn in_force_by_year() {
    let jianggan = lookup(code("330104")).unwrap();
    assert!(jianggan.in_force(2020));
    assert!(!jianggan.in_force(2021));
    let qiantang = lookup(code("330114")).unwrap();
    assert!(!qiantang.in_force(2020));
    assert!(qiantang.in_force(2021));
}
