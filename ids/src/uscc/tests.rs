use super::*;

const VALID: [&str; 2] = ["91310110666007217T", "91310115591693856A"];
const LEGACY: &str = "91350100M0001TGQXM";

fn none() -> LegacyCodes {
    LegacyCodes::empty()
}

#[test]
fn worked_examples_are_valid() {
    for s in VALID {
        let code = Uscc::parse(s, &none()).unwrap();
        assert_eq!(code.as_str(), s);
        assert!(!code.is_legacy());
        assert_eq!(code.registration_authority(), '9');
        assert_eq!(code.category(), '1');
    }
    assert_eq!(
        Uscc::parse(VALID[0], &none())
            .unwrap()
            .division()
            .to_string(),
        "310110"
    );
    assert_eq!(
        Uscc::parse(VALID[1], &none())
            .unwrap()
            .division()
            .to_string(),
        "310115"
    );
}

#[test]
fn lower_case_is_normalised() {
    let code = Uscc::parse("91310115591693856a", &none()).unwrap();
    assert_eq!(code.as_str(), "91310115591693856A");
    assert_eq!(code, Uscc::parse("91310115591693856A", &none()).unwrap());
}

#[test]
fn whitespace_is_rejected() {
    assert_eq!(
        Uscc::parse(" 91310110666007217T", &none()),
        Err(IdError::WrongLength {
            expected: 18,
            found: 19
        })
    );
    assert_eq!(
        Uscc::parse(" 91310110666007217", &none()),
        Err(IdError::BadCharacter { position: 1 })
    );
    assert_eq!(
        Uscc::parse("91310110666007217 ", &none()),
        Err(IdError::BadCharacter { position: 18 })
    );
}

#[test]
fn legacy_example() {
    // Fails the standard check, passes the embedded org-code check.
    assert_eq!(Uscc::compute_check("91350100M0001TGQX"), Some('1'));
    assert_eq!(Uscc::compute_org_check("M0001TGQ"), Some('X'));
    assert_eq!(Uscc::parse(LEGACY, &none()), Err(IdError::LegacyNotAllowed));

    let list = LegacyCodes::new([LEGACY]).unwrap();
    let code = Uscc::parse(LEGACY, &list).unwrap();
    assert!(code.is_legacy());
    assert_eq!(code.division().to_string(), "350100");
    let lower = Uscc::parse(&LEGACY.to_lowercase(), &list).unwrap();
    assert_eq!(lower.as_str(), LEGACY);

    // The allow-list does not make other codes acceptable.
    assert_eq!(
        Uscc::parse("91350100M0001TGQ1M", &list),
        Err(IdError::BadCheckCharacter { position: 18 })
    );
}

#[test]
fn error_variants() {
    let cases: [(&str, IdError); 9] = [
        (
            "9131011066600721",
            IdError::WrongLength {
                expected: 18,
                found: 16,
            },
        ),
        ("91310110666007217I", IdError::BadCharacter { position: 18 }),
        ("9131O110666007217T", IdError::BadCharacter { position: 5 }),
        ("913101106660O7217T", IdError::BadCharacter { position: 13 }),
        (
            "913101106660宁7217T",
            IdError::BadCharacter { position: 13 },
        ),
        (
            "B1310110666007217T",
            IdError::UnknownRegistrationCategory { position: 1 },
        ),
        (
            "94310110666007217T",
            IdError::UnknownRegistrationCategory { position: 2 },
        ),
        ("91990110666007217T", IdError::UnknownProvince),
        (
            "91310110666007218T",
            IdError::BadCheckCharacter { position: 18 },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(Uscc::parse(input, &none()), Err(expected), "{input}");
    }
}

#[test]
fn check_typo_with_valid_org_code_looks_legacy() {
    // Only position 18 is wrong and the embedded org code is valid: the
    // code has the legacy shape, so it needs the allow-list.
    assert_eq!(
        Uscc::parse("91310110666007217U", &none()),
        Err(IdError::LegacyNotAllowed)
    );
}

#[test]
fn errors_never_echo_the_input() {
    for input in [
        "91310110666007217U",
        "91990110666007217T",
        LEGACY,
        "913101106660O7217T",
    ] {
        let err = Uscc::parse(input, &none()).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("913"), "{text}");
    }
}

#[test]
fn debug_hides_the_code() {
    let code = Uscc::parse(VALID[0], &none()).unwrap();
    let debug = format!("{code:?}");
    assert!(!debug.contains("666007217"), "{debug}");
    assert!(debug.contains("310110"), "{debug}");
}

#[test]
fn national_registration_code_is_accepted() {
    let code = Uscc::from_first17("12100000400012345").unwrap();
    assert!(code.division().is_national());
    assert_eq!(Uscc::parse(code.as_str(), &none()), Ok(code));
}

#[test]
fn from_first17_and_compute_check() {
    let code = Uscc::from_first17("91310110666007217").unwrap();
    assert_eq!(code.as_str(), VALID[0]);
    assert_eq!(Uscc::compute_check("91310115591693856"), Some('A'));
    assert_eq!(Uscc::compute_check("91310115591693856a"), None);
    assert_eq!(Uscc::compute_check("9131011559169385I"), None);
    assert_eq!(
        Uscc::from_first17("99310110666007217"),
        Err(IdError::UnknownRegistrationCategory { position: 2 })
    );
    assert_eq!(Uscc::compute_org_check("M0001TG"), None);
    assert_eq!(Uscc::compute_org_check("M0001TG-"), None);
}

#[test]
fn org_check_maps_10_and_11() {
    // sum % 11 == 1 → 10 → X; sum % 11 == 0 → 11 → 0.
    assert_eq!(Uscc::compute_org_check("00000000"), Some('0'));
    assert_eq!(Uscc::compute_org_check("40000000"), Some('X'));
    assert_eq!(Uscc::compute_org_check("20000000"), Some('5'));
    assert_eq!(Uscc::compute_org_check("a0000000"), Some('3'));
}

#[test]
fn serialises_as_string() {
    let code = Uscc::parse(VALID[1], &none()).unwrap();
    assert_eq!(
        serde_json::to_string(&code).unwrap(),
        format!("\"{}\"", VALID[1])
    );
}

#[test]
fn check_values_0_and_30_map_to_0_and_y() {
    // Weighted sum ≡ 0 (mod 31) → check value 0; ≡ 1 → 30 → 'Y'.
    assert_eq!(Uscc::compute_check("91330203000100016"), Some('0'));
    assert_eq!(Uscc::compute_check("91330203000100006"), Some('Y'));
    for s in ["913302030001000160", "91330203000100006Y"] {
        assert!(Uscc::parse(s, &none()).is_ok(), "{s}");
    }
}

#[test]
fn unassigned_category_pairs_are_rejected() {
    for first2 in ["55", "94", "99", "Y2", "A2", "N4", "22"] {
        assert_eq!(
            Uscc::from_first17(&format!("{first2}330203000100006")),
            Err(IdError::UnknownRegistrationCategory { position: 2 }),
            "{first2}"
        );
    }
    for first2 in ["01", "B1", "Z1", "M1"] {
        assert!(
            matches!(
                Uscc::from_first17(&format!("{first2}330203000100006")),
                Err(IdError::UnknownRegistrationCategory { position: 1 }
                    | IdError::BadCharacter { position: 1 })
            ),
            "{first2}"
        );
    }
    for first2 in [
        "11", "12", "13", "19", "21", "35", "54", "62", "72", "81", "93", "A1", "N3", "Y1",
    ] {
        assert!(
            Uscc::from_first17(&format!("{first2}330203000100006")).is_ok(),
            "{first2}"
        );
    }
}
