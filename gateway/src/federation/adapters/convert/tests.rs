use super::*;

#[test]
fn dates_in_every_format() {
    let d = |s: &str, f| date(Some(s.to_owned()), f, "x");
    assert_eq!(d("20240305", DateFormat::Compact), Ok("2024-03-05".into()));
    assert_eq!(
        d("2024-03-05 00:00:00", DateFormat::DashTime),
        Ok("2024-03-05".into())
    );
    assert_eq!(
        d("2024-03-05", DateFormat::DashTime),
        Ok("2024-03-05".into())
    );
    assert_eq!(d("2024/03/05", DateFormat::Slash), Ok("2024-03-05".into()));
    assert_eq!(
        d("2024年03月05日", DateFormat::Chinese),
        Ok("2024-03-05".into())
    );
    for (bad, f) in [
        ("20240230", DateFormat::Compact),
        ("2024030", DateFormat::Compact),
        ("2024-13-01 00:00:00", DateFormat::DashTime),
        ("2024-03-05 25:00:00", DateFormat::DashTime),
        ("2024/3/5", DateFormat::Slash),
        ("2024年03月05", DateFormat::Chinese),
        ("２０２４0305", DateFormat::Compact),
    ] {
        assert_eq!(
            d(bad, f),
            Err(AdapterError::Malformed("invalid date in `x`".into())),
            "{bad}"
        );
    }
    assert_eq!(
        date(None, DateFormat::Compact, "a.b"),
        Err(AdapterError::Malformed("missing field `a.b`".into()))
    );
    assert_eq!(
        opt_date(Some(String::new()), DateFormat::Slash, "x"),
        Ok(None)
    );
}

#[test]
fn instants_are_utc() {
    assert_eq!(
        shanghai_instant(Some("2026-11-01 08:00:00".into()), "t"),
        Ok("2026-11-01T00:00:00Z".into())
    );
    assert_eq!(
        shanghai_instant(Some("2026-01-01 03:30:00".into()), "t"),
        Ok("2025-12-31T19:30:00Z".into())
    );
    assert!(shanghai_instant(Some("2026-11-01".into()), "t").is_err());
    assert_eq!(
        epoch_ms_instant(Some(1_793_491_200_000), "ts"),
        Ok("2026-11-01T00:00:00Z".into())
    );
    assert!(epoch_ms_instant(Some(i64::MAX), "ts").is_err());
    assert_eq!(
        date_as_instant(Some("2026/11/01".into()), DateFormat::Slash, "g"),
        Ok("2026-11-01T00:00:00Z".into())
    );
}

#[test]
fn amounts_to_yuan() {
    let m = |s: &str, u| money(Some(s.to_owned()), u, "amt");
    assert_eq!(m("12000.00", Money::Yuan), Ok(Some(12000.0)));
    assert_eq!(m("12,000.00", Money::YuanGrouped), Ok(Some(12000.0)));
    assert_eq!(
        m("1,234,567.89", Money::YuanGrouped),
        Ok(Some(1_234_567.89))
    );
    assert_eq!(m("1.25", Money::WanYuan), Ok(Some(12500.0)));
    assert_eq!(m("0.000123", Money::WanYuan), Ok(Some(1.23)));
    assert_eq!(m("500", Money::WanYuan), Ok(Some(5_000_000.0)));
    assert_eq!(m("0.005", Money::Yuan), Ok(Some(0.01)));
    for bad in ["12,00.00", "-5", "1.2.3", "", "1e5", "12.", ",100"] {
        let r = m(bad, Money::YuanGrouped);
        assert!(bad.is_empty() && r == Ok(None) || r.is_err(), "{bad}");
    }
    assert!(m("12,000", Money::Yuan).is_err());
    assert_eq!(fen_amount(Some(1_234_567), "f"), Ok(Some(12345.67)));
    assert!(fen_amount(Some(-1), "f").is_err());
}

#[test]
fn errors_never_quote_values() {
    let err = serde_json::from_str::<u32>("\"张三 330203199001011234\"").unwrap_err();
    let msg = json_error(&err).to_string();
    assert!(
        !msg.contains("张三") && !msg.contains("3302031990"),
        "{msg}"
    );
    assert_eq!(missing_field("missing field `xkWsh`"), Some("xkWsh"));
    assert_eq!(missing_field("missing field `张三`"), None);
    assert_eq!(encode("a b/c"), "a%20b%2Fc");
}

#[test]
fn a_subject_answered_twice_keeps_every_listing() {
    use credgate_policy::canonical::{Listing, ListingKind, SanctionAnswer};
    let listing = |kind, name: &str| Listing {
        kind,
        list_name: name.into(),
        basis: "b".into(),
        authority: "a".into(),
        listed_on: "2024-01-01".into(),
    };
    let answer = |subject: &str, known, listings| SanctionAnswer {
        subject: subject.into(),
        known,
        listings,
        as_of: None,
    };
    let asked = [
        "91330203354933879K".to_owned(),
        "91330100MA2CGQ2X1B".to_owned(),
    ];
    let got = match_subjects(
        &asked,
        vec![
            answer("91330203354933879k", true, vec![]),
            answer("91330100MA2CGQ2X1B", false, vec![]),
            answer(
                "91330203354933879K",
                true,
                vec![listing(ListingKind::Dishonest, "d")],
            ),
        ],
    )
    .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].subject, "91330203354933879K");
    assert!(got[0].known);
    assert_eq!(
        got[0].listings,
        vec![listing(ListingKind::Dishonest, "d")],
        "the hit is kept"
    );
    assert!(!got[1].known && got[1].listings.is_empty());
    // A requested subject the platform did not answer: malformed.
    let err = match_subjects(&asked, vec![answer("91330100MA2CGQ2X1B", true, vec![])]);
    assert!(matches!(err, Err(AdapterError::Malformed(_))));
}

#[test]
fn score_text_is_read_exactly_never_rounded() {
    let v = |s: &str| score_value(Some(s.to_owned()), "x");
    assert_eq!(v("612"), Ok(612.0));
    assert_eq!(v("612.5"), Ok(612.5));
    // Rounding to two decimals would put these on the next tier.
    assert!(v("549.995").unwrap() < 550.0);
    assert!(v("749.999").unwrap() < 750.0);
    assert!(v("549.999999").unwrap() < 550.0);
    for bad in [
        "",
        "-1",
        "+5",
        "1e3",
        "5.",
        ".5",
        "1,000",
        " 5",
        "NaN",
        "inf",
        &"9".repeat(10),
        // 17 significant digits: an f64 would round it to 550.0.
        "549.99999999999999",
    ] {
        assert!(v(bad).is_err(), "{bad:?}");
    }
}
