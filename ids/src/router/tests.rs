use super::*;

fn code(s: &str) -> DivisionCode {
    DivisionCode::parse(s).unwrap()
}

fn demo() -> PrefixRouter<&'static str> {
    PrefixRouter::new([
        ("33", "zhejiang"),
        ("3302", "ningbo"),
        ("3301", "hangzhou"),
        ("3502", "xiamen"),
    ])
    .unwrap()
}

#[test]
fn longest_prefix_wins() {
    let r = demo();
    assert_eq!(r.route(&code("330203")), Some(&"ningbo"));
    assert_eq!(r.route(&code("330102")), Some(&"hangzhou"));
    assert_eq!(r.route(&code("330903")), Some(&"zhejiang"));
    assert_eq!(r.route(&code("350203")), Some(&"xiamen"));
    assert_eq!(r.route(&code("350100")), None);
    assert_eq!(r.route(&code("310107")), None);
    assert_eq!(
        r.route_with_prefix(&code("330282")),
        Some(("3302", &"ningbo"))
    );
}

#[test]
fn same_name_different_regions() {
    // 普陀区: Zhoushan 330903 vs Shanghai 310107.
    let r = demo();
    assert_ne!(r.route(&code("330903")), r.route(&code("310107")));
}

#[test]
fn abolished_codes_route_through_their_successor() {
    let r = PrefixRouter::new([
        ("3301", "hangzhou"),
        ("330102", "shangcheng"),
        ("330105", "gongshu"),
        ("3302", "ningbo"),
    ])
    .unwrap();
    assert_eq!(r.route(&code("330103")), Some(&"gongshu"));
    assert_eq!(r.route(&code("330104")), Some(&"shangcheng"));
    assert_eq!(r.route(&code("330183")), Some(&"hangzhou"));
    assert_eq!(r.route(&code("330204")), Some(&"ningbo"));
}

#[test]
fn bad_configurations_are_rejected() {
    assert_eq!(
        PrefixRouter::new([("33", 1), ("3302", 2), ("33", 3)]).unwrap_err(),
        RouterError::DuplicatePrefix {
            prefix: "33".to_owned()
        }
    );
    for (i, bad) in ["3", "3302031", "33a2", "", "+33", "３３"]
        .into_iter()
        .enumerate()
    {
        assert_eq!(
            PrefixRouter::new([("33", 0), (bad, 1)]).unwrap_err(),
            RouterError::InvalidPrefix { index: 1 },
            "case {i}"
        );
    }
    assert_eq!(
        PrefixRouter::new([("99", 1)]).unwrap_err(),
        RouterError::UnknownProvince { index: 0 }
    );
    assert_eq!(
        PrefixRouter::new([("1001", 1)]).unwrap_err(),
        RouterError::UnknownProvince { index: 0 }
    );
}

#[test]
fn national_prefix_routes_national_codes() {
    let r = PrefixRouter::new([("100000", "national"), ("11", "beijing")]).unwrap();
    assert_eq!(r.route(&DivisionCode::NATIONAL), Some(&"national"));
    assert_eq!(r.route(&code("110105")), Some(&"beijing"));
    assert_eq!(r.len(), 2);
    assert!(!r.is_empty());
    assert_eq!(
        r.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        ["100000", "11"]
    );
}

#[test]
fn empty_router_routes_nothing() {
    let r: PrefixRouter<u8> = PrefixRouter::new(Vec::<(String, u8)>::new()).unwrap();
    assert!(r.is_empty());
    assert_eq!(r.route(&code("330203")), None);
}
