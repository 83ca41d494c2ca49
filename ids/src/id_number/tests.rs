use super::*;

const VALID: &str = "11010519491231002X";

#[test]
fn worked_example_is_valid() {
    let id = IdNumber::parse(VALID).unwrap();
    assert_eq!(id.as_str(), VALID);
    assert_eq!(id.division().to_string(), "110105");
    assert_eq!(id.birth_date(), (1949, 12, 31));
    assert_eq!(IdNumber::compute_check("11010519491231002"), Some('X'));
}

#[test]
fn check_characters_1_and_0() {
    // Weighted sum ≡ 0 (mod 11) → '1'; ≡ 1 → '0'.
    assert_eq!(IdNumber::compute_check("33020319900101104"), Some('1'));
    assert_eq!(IdNumber::compute_check("33020319900101118"), Some('0'));
    assert!(IdNumber::parse("330203199001011041").is_ok());
    assert!(IdNumber::parse("330203199001011180").is_ok());
}

#[test]
fn lower_case_x_is_normalised() {
    let id = IdNumber::parse("11010519491231002x").unwrap();
    assert_eq!(id.as_str(), VALID);
    assert_eq!(id.into_string(), VALID);
}

#[test]
fn error_variants() {
    let cases: [(&str, IdError); 11] = [
        (
            "110105491231002",
            IdError::WrongLength {
                expected: 18,
                found: 15,
            },
        ),
        (
            " 11010519491231002X",
            IdError::WrongLength {
                expected: 18,
                found: 19,
            },
        ),
        ("1101051949123100XX", IdError::BadCharacter { position: 17 }),
        ("11010519491231002Y", IdError::BadCharacter { position: 18 }),
        ("11010519４91231002X", IdError::BadCharacter { position: 9 }),
        ("99010519491231002X", IdError::UnknownProvince),
        ("100000194912310021", IdError::UnknownProvince),
        ("110105194913310021", IdError::BadBirthDate),
        ("110105187912310021", IdError::BadBirthDate),
        ("110105210112310021", IdError::BadBirthDate),
        (
            "110105194912310021",
            IdError::BadCheckCharacter { position: 18 },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(IdNumber::parse(input), Err(expected), "{input}");
    }
}

#[test]
fn birth_dates_follow_the_calendar() {
    let ok = |date: &str| IdNumber::from_first17(&format!("330203{date}123")).is_ok();
    assert!(ok("20000229")); // divisible by 400
    assert!(!ok("19000229")); // divisible by 100, not 400
    assert!(ok("19960229"));
    assert!(!ok("19970229"));
    assert!(ok("19970228"));
    assert!(!ok("19970230"));
    assert!(!ok("19970431"));
    assert!(ok("19970531"));
    assert!(!ok("19970001"));
    assert!(!ok("19971301"));
    assert!(!ok("19970100"));
    assert!(ok("18800101"));
    assert!(ok("21001231"));
}

#[test]
fn from_first17_appends_check() {
    let id = IdNumber::from_first17("33010419800101123").unwrap();
    assert_eq!(IdNumber::parse(id.as_str()), Ok(id.clone()));
    assert_eq!(id.division().to_string(), "330104");
    assert_eq!(
        IdNumber::from_first17("3301041980010112"),
        Err(IdError::WrongLength {
            expected: 17,
            found: 16
        })
    );
    assert_eq!(IdNumber::compute_check("3301041980010112A"), None);
    assert_eq!(IdNumber::compute_check("3301041980010112"), None);
}

#[test]
fn errors_and_debug_never_echo_the_number() {
    let err = IdNumber::parse("110105194912310021").unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("1949"), "{text}");
    let id = IdNumber::parse(VALID).unwrap();
    let debug = format!("{id:?}");
    assert!(!debug.contains("1949"), "{debug}");
    assert!(debug.contains("110105"), "{debug}");
}

#[test]
fn serialises_as_string() {
    let id = IdNumber::parse(VALID).unwrap();
    assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{VALID}\""));
}
