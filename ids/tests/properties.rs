//! Property tests over the public API: generated codes parse, every single
//! substitution is detected, normalisation round-trips, and parsing never
//! panics on arbitrary (including multi-byte) input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use credgate_ids::{
    division, DivisionCode, IdError, IdNumber, LegacyCodes, PrefixRouter, Subject, SubjectKind,
    Uscc,
};
use proptest::prelude::*;

const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Registration authority/category pairs in use.
const CATEGORY_PAIRS: [&str; 8] = ["11", "12", "51", "53", "91", "92", "93", "Y1"];

const PROVINCES: [&str; 8] = ["11", "31", "33", "35", "44", "65", "81", "82"];

fn alphabet_char() -> impl Strategy<Value = char> {
    proptest::sample::select(ALPHABET.chars().collect::<Vec<_>>())
}

/// 17 characters with a valid USCC structure.
fn uscc_first17() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(&CATEGORY_PAIRS[..]),
        proptest::sample::select(&PROVINCES[..]),
        "[0-9]{4}",
        proptest::collection::vec(alphabet_char(), 9),
    )
        .prop_map(|(cat, prov, county, body)| {
            format!(
                "{cat}{prov}{county}{}",
                body.into_iter().collect::<String>()
            )
        })
}

/// 17 digits with a valid province and birth date.
fn id_first17() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(&PROVINCES[..]),
        "[0-9]{4}",
        1900u16..=2100,
        1u8..=12,
        1u8..=28,
        "[0-9]{3}",
    )
        .prop_map(|(prov, county, y, m, d, seq)| format!("{prov}{county}{y:04}{m:02}{d:02}{seq}"))
}

/// Replaces the character at `index` (0-based; ASCII input).
fn replace_at(s: &str, index: usize, c: char) -> String {
    s.chars()
        .enumerate()
        .map(|(i, old)| if i == index { c } else { old })
        .collect()
}

proptest! {
    #[test]
    fn uscc_generated_codes_parse(first17 in uscc_first17()) {
        let check = Uscc::compute_check(&first17).unwrap();
        let full = format!("{first17}{check}");
        let parsed = Uscc::parse(&full, &LegacyCodes::empty()).unwrap();
        prop_assert_eq!(parsed.as_str(), full.as_str());
        prop_assert!(!parsed.is_legacy());
        prop_assert_eq!(Uscc::from_first17(&first17).unwrap(), parsed);
    }

    #[test]
    fn uscc_single_substitution_is_detected(
        first17 in uscc_first17(),
        index in 0usize..18,
        replacement in alphabet_char(),
    ) {
        let valid = Uscc::from_first17(&first17).unwrap();
        let original = valid.as_str().chars().nth(index).unwrap();
        prop_assume!(replacement != original);
        let changed = replace_at(valid.as_str(), index, replacement);
        prop_assert!(Uscc::parse(&changed, &LegacyCodes::empty()).is_err());
    }

    #[test]
    fn id_generated_numbers_parse(first17 in id_first17()) {
        let check = IdNumber::compute_check(&first17).unwrap();
        let full = format!("{first17}{check}");
        let parsed = IdNumber::parse(&full).unwrap();
        prop_assert_eq!(parsed.as_str(), full.as_str());
        prop_assert_eq!(IdNumber::from_first17(&first17).unwrap(), parsed);
    }

    /// MOD 11-2 detects every single substitution, so any one-character
    /// change to another character allowed at that position fails.
    #[test]
    fn id_single_substitution_is_detected(
        first17 in id_first17(),
        index in 0usize..18,
        digit in 0u32..11,
    ) {
        let valid = IdNumber::from_first17(&first17).unwrap();
        // Position 18 may also be X; positions 1–17 only digits.
        let replacement = if digit == 10 { 'X' } else { char::from_digit(digit, 10).unwrap() };
        let original = valid.as_str().chars().nth(index).unwrap();
        prop_assume!(replacement != original);
        let changed = replace_at(valid.as_str(), index, replacement);
        let result = IdNumber::parse(&changed);
        prop_assert!(result.is_err());
        // With an otherwise valid body the check itself catches it.
        if index < 17 && replacement != 'X' && IdNumber::from_first17(&changed[..17]).is_ok() {
            prop_assert_eq!(result, Err(IdError::BadCheckCharacter { position: 18 }));
        }
    }

    #[test]
    fn case_normalisation_round_trips(first17 in uscc_first17(), id17 in id_first17()) {
        let code = Uscc::from_first17(&first17).unwrap();
        let lower = code.as_str().to_lowercase();
        let reparsed = Uscc::parse(&lower, &LegacyCodes::empty()).unwrap();
        prop_assert_eq!(&reparsed, &code);
        let again = Uscc::parse(reparsed.as_str(), &LegacyCodes::empty()).unwrap();
        prop_assert_eq!(again, code);

        let id = IdNumber::from_first17(&id17).unwrap();
        let lower = id.as_str().to_lowercase();
        prop_assert_eq!(IdNumber::parse(&lower).unwrap(), id);
    }

    #[test]
    fn subject_picks_the_right_kind(first17 in uscc_first17(), id17 in id_first17()) {
        let none = LegacyCodes::empty();
        let code = Uscc::from_first17(&first17).unwrap();
        let id = IdNumber::from_first17(&id17).unwrap();
        let person = Subject::parse(id.as_str(), &none).unwrap();
        prop_assert_eq!(person.kind(), SubjectKind::Person);
        // A USCC that happens to be a valid ID number too is taken as one;
        // otherwise it must come back as an enterprise.
        if IdNumber::parse(code.as_str()).is_err() {
            let enterprise = Subject::parse(code.as_str(), &none).unwrap();
            prop_assert_eq!(enterprise.kind(), SubjectKind::Enterprise);
            prop_assert_eq!(enterprise.division(), code.division());
        }
    }

    #[test]
    fn parsing_never_panics(s in any::<String>()) {
        let none = LegacyCodes::empty();
        let _ = Uscc::parse(&s, &none);
        let _ = IdNumber::parse(&s);
        let _ = Subject::parse(&s, &none);
        let _ = DivisionCode::parse(&s);
        let _ = Uscc::compute_check(&s);
        let _ = IdNumber::compute_check(&s);
        let _ = Uscc::compute_org_check(&s);
        let _ = LegacyCodes::new([s.as_str()]);
        let _ = PrefixRouter::new([(s.as_str(), ())]);
    }

    #[test]
    fn near_valid_multibyte_input_never_panics(
        first17 in uscc_first17(),
        index in 0usize..18,
        c in "[\\u{80}-\\u{10FFFF}]",
    ) {
        let valid = Uscc::from_first17(&first17).unwrap();
        let changed = replace_at(valid.as_str(), index, c.chars().next().unwrap());
        prop_assert_eq!(
            Uscc::parse(&changed, &LegacyCodes::empty()),
            Err(IdError::BadCharacter { position: index + 1 })
        );
        prop_assert!(Subject::parse(&changed, &LegacyCodes::empty()).is_err());
        prop_assert!(IdNumber::parse(&changed).is_err());
    }

    #[test]
    fn errors_never_contain_the_input(s in "[0-9A-Za-z]{18}") {
        if let Err(e) = Subject::parse(&s, &LegacyCodes::empty()) {
            let text = format!("{e} {e:?}");
            prop_assert!(!text.contains(&s));
            prop_assert!(!text.contains(&s[..8]));
        }
    }

    #[test]
    fn current_is_idempotent(n in 110_000u32..=829_999) {
        if let Ok(code) = DivisionCode::from_u32(n) {
            let now = division::current(code);
            prop_assert_eq!(division::current(now), now);
            prop_assert_eq!(now.province(), code.province());
        }
    }
}
