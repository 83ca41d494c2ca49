//! `ids`: the subject identifier parsers of `credgate-ids` (SPEC §3) on
//! arbitrary text (strict UTF-8, else the lossy conversion of the bytes).
//!
//! Never panics, and every parsed value is canonical: its `as_str()`
//! re-parses to an equal value, differs from the input only by ASCII case,
//! and agrees with its own division code and kind.

#![no_main]

use std::borrow::Cow;
use std::sync::OnceLock;

use credgate_ids::{
    division, DivisionCode, IdNumber, LegacyCodes, PrefixRouter, Subject, SubjectKind, Uscc,
};
use libfuzzer_sys::fuzz_target;

/// The demo policy's legacy pilot code (SPEC §3).
const LEGACY: &str = "91350100M0001TGQXM";

struct Fixtures {
    legacy: LegacyCodes,
    empty: LegacyCodes,
    router: PrefixRouter<&'static str>,
}

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| Fixtures {
        legacy: LegacyCodes::new([LEGACY]).expect("the demo legacy code is a legacy code"),
        empty: LegacyCodes::empty(),
        router: PrefixRouter::new([
            ("33", "zhejiang"),
            ("3301", "hangzhou"),
            ("3302", "ningbo"),
            ("3502", "xiamen"),
            ("310107", "putuo-sh"),
        ])
        .expect("valid prefixes"),
    })
}

fuzz_target!(|data: &[u8]| {
    let text: Cow<'_, str> = String::from_utf8_lossy(data);
    check(&text);
    // The same bytes as an upper-cased and as a lower-cased candidate, so
    // both normalisation paths see every input.
    check(&text.to_ascii_lowercase());
});

fn check(s: &str) {
    let f = fixtures();
    let upper = s.to_ascii_uppercase();

    // --- Uscc -------------------------------------------------------------
    let uscc = Uscc::parse(s, &f.legacy);
    if let Ok(u) = &uscc {
        assert_eq!(u.as_str(), upper, "Uscc only upper-cases ASCII");
        assert_eq!(u.as_str().len(), 18);
        assert_eq!(
            Uscc::parse(u.as_str(), &f.legacy).as_ref(),
            Ok(u),
            "Uscc re-parses"
        );
        assert_eq!(DivisionCode::parse(&u.as_str()[2..8]), Ok(u.division()));
        assert_eq!(u.is_legacy(), f.legacy.contains(u.as_str()));
        route(u.division());
    }
    match Uscc::parse(s, &f.empty) {
        Ok(u) => {
            assert!(!u.is_legacy(), "an empty allow-list admits no legacy code");
            assert_eq!(
                uscc.as_ref(),
                Ok(&u),
                "a standard code parses with any allow-list"
            );
            assert_eq!(
                Uscc::compute_check(&u.as_str()[..17]),
                u.as_str().chars().nth(17)
            );
        }
        Err(_) => assert!(uscc.as_ref().map_or(true, Uscc::is_legacy)),
    }
    if let Ok(list) = LegacyCodes::new([s]) {
        let u = Uscc::parse(s, &list).expect("an allow-listed legacy code parses");
        assert!(u.is_legacy());
        assert!(Uscc::parse(s, &f.empty).is_err());
    }

    // --- IdNumber -----------------------------------------------------------
    let id = IdNumber::parse(s);
    if let Ok(p) = &id {
        assert_eq!(p.as_str(), upper, "IdNumber only upper-cases the check x");
        assert_eq!(
            IdNumber::parse(p.as_str()).as_ref(),
            Ok(p),
            "IdNumber re-parses"
        );
        assert_eq!(DivisionCode::parse(&p.as_str()[..6]), Ok(p.division()));
        let (y, m, d) = p.birth_date();
        assert_eq!(format!("{y:04}{m:02}{d:02}"), p.as_str()[6..14]);
        assert_eq!(
            IdNumber::compute_check(&p.as_str()[..17]),
            p.as_str().chars().nth(17)
        );
        route(p.division());
    }

    // --- Subject ------------------------------------------------------------
    match Subject::parse(s, &f.legacy) {
        Ok(subject) => {
            assert_eq!(
                Subject::parse(subject.as_str(), &f.legacy).as_ref(),
                Ok(&subject)
            );
            assert_eq!(subject.as_str(), upper);
            match &subject {
                Subject::Person(p) => {
                    assert_eq!(subject.kind(), SubjectKind::Person);
                    assert_eq!(id.as_ref(), Ok(p));
                }
                Subject::Enterprise(u) => {
                    assert_eq!(subject.kind(), SubjectKind::Enterprise);
                    assert_eq!(uscc.as_ref(), Ok(u));
                    assert!(id.is_err(), "valid as both is taken as an ID number");
                }
            }
        }
        Err(_) => assert!(
            id.is_err() && uscc.is_err(),
            "Subject accepts what either parser accepts"
        ),
    }

    // --- first-17 builders --------------------------------------------------
    if let Ok(u) = Uscc::from_first17(s) {
        assert_eq!(Uscc::parse(u.as_str(), &f.empty).as_ref(), Ok(&u));
        assert!(u.as_str().starts_with(&upper));
    }
    if let Ok(p) = IdNumber::from_first17(s) {
        assert_eq!(IdNumber::parse(p.as_str()).as_ref(), Ok(&p));
        assert!(p.as_str().starts_with(&upper));
    }
    let _ = Uscc::compute_org_check(s);

    // --- DivisionCode -------------------------------------------------------
    if let Ok(code) = DivisionCode::parse(s) {
        let text = code.to_string();
        assert_eq!(
            text, s,
            "a division code is six digits, nothing to normalise"
        );
        assert_eq!(DivisionCode::parse(&text), Ok(code));
        assert_eq!(DivisionCode::from_u32(code.as_u32()), Ok(code));
        route(code);
    }
}

/// Division-table walks and routing never panic and stay in the same province.
fn route(code: DivisionCode) {
    let current = division::current(code);
    let _ = division::lookup(code);
    let _ = division::province(code);
    let _ = division::prefecture(code);
    if !code.is_national() {
        assert_eq!(
            current.province(),
            code.province(),
            "successors stay in the province"
        );
    }
    if let Some((prefix, _)) = fixtures().router.route_with_prefix(&code) {
        assert!(current.to_string().starts_with(prefix));
    }
}
