//! `adapters`: the platform adapters' answer parsers (`parse_report`,
//! `parse_score`, `parse_sanctions`) of `credgate::federation::adapters`
//! (SPEC §7) on arbitrary bodies.
//!
//! Input layout (5 header bytes, then the body):
//! - byte 0: bits 0–1 the adapter (`ningbo-v1`, `zhejiang-v2`,
//!   `hangzhou-v1`, `xiamen-v1`), bits 2–3 the function (report, score,
//!   sanctions, report again);
//! - bytes 1–2: the requested sections as a 10-bit mask (0 = all);
//! - byte 3: the HTTP status (< 0x80: 200, else one of [`STATUSES`]);
//! - byte 4: the sanctions subjects: bit 7 the adapter's whole list, else
//!   the first `n % len + 1`; bit 6 lower-cased;
//! - the rest: the body.
//!
//! Properties: no panic; a report holds only requested sections, in report
//! order, once each, for the subject asked; a sanctions answer has one entry
//! per requested subject, in order, normalised; a score is finite; an
//! error's text never quotes the body (no run of two or more non-ASCII
//! characters and no run of six or more digits taken from it).

#![no_main]

use credgate::federation::adapters::{by_name, AdapterError};
use credgate_policy::canonical::{Section, SectionData};
use libfuzzer_sys::fuzz_target;

const ADAPTERS: [&str; 4] = ["ningbo-v1", "zhejiang-v2", "hangzhou-v1", "xiamen-v1"];

/// Statuses chosen by byte 3 when its high bit is set.
const STATUSES: [u16; 16] = [
    200, 201, 204, 206, 301, 400, 401, 403, 404, 410, 429, 500, 502, 503, 504, 599,
];

/// Per adapter: the enterprise, the person, and a sanctions batch (the
/// subjects of the recorded payloads in `gateway/.../adapters/testdata`).
const SUBJECTS: [(&str, &str, &[&str]); 4] = [
    (
        "91330203MA2H3K4L5P",
        "33020319900101123X",
        &[
            "91310107MA1G00000X",
            "91330203MA2H3K4L5P",
            "33020319900101123X",
        ],
    ),
    (
        "91330302MA2ABCDE1X",
        "330302197803120027",
        &[
            "350203198001010011",
            "330302197803120027",
            "91330302MA2ABCDE1X",
            "91330203MA2H3K4L5P",
        ],
    ),
    (
        "91330106MA27XYZ12K",
        "33010319850505001X",
        &["91330106MA27XYZ12K"],
    ),
    (
        "91350203MA31ABCD2E",
        "35020619870707004X",
        &[
            "35020619870707004X",
            "91330203MA2H3K4L5P",
            "91350203MA31ABCD2E",
        ],
    ),
];

fuzz_target!(|data: &[u8]| {
    let Some((head, body)) = data.split_first_chunk::<5>() else {
        return;
    };
    let which = usize::from(head[0] & 3);
    let Some(adapter) = by_name(ADAPTERS[which]) else {
        panic!("adapter {} is registered", ADAPTERS[which]);
    };
    let (uscc, id_number, batch) = SUBJECTS[which];
    let mask = u16::from_le_bytes([head[1], head[2]]) & 0x3ff;
    let sections: Vec<Section> = if mask == 0 {
        Section::ALL.to_vec()
    } else {
        Section::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| mask >> i & 1 == 1)
            .map(|(_, s)| s)
            .collect()
    };
    let status = if head[3] < 0x80 {
        200
    } else {
        STATUSES[usize::from(head[3] & 15)]
    };

    let error = match head[0] >> 2 & 3 {
        1 => match adapter.parse_score(id_number, status, body) {
            Ok(score) => {
                assert!(score.value.is_finite(), "a score is a finite number");
                None
            }
            Err(e) => Some(e),
        },
        2 => {
            let n = if head[4] & 0x80 != 0 {
                batch.len()
            } else {
                usize::from(head[4]) % batch.len() + 1
            };
            let subjects: Vec<String> = batch[..n]
                .iter()
                .map(|s| {
                    if head[4] & 0x40 != 0 {
                        s.to_ascii_lowercase()
                    } else {
                        (*s).to_owned()
                    }
                })
                .collect();
            match adapter.parse_sanctions(&subjects, status, body) {
                Ok(answers) => {
                    assert_eq!(answers.len(), subjects.len(), "one answer per subject");
                    for (a, s) in answers.iter().zip(&subjects) {
                        assert_eq!(
                            a.subject,
                            s.to_ascii_uppercase(),
                            "answers in request order, normalised"
                        );
                        assert!(
                            a.known || a.listings.is_empty(),
                            "an unknown subject has no listing"
                        );
                    }
                    None
                }
                Err(e) => Some(e),
            }
        }
        _ => match adapter.parse_report(uscc, &sections, status, body) {
            Ok(record) => {
                assert_eq!(record.uscc, uscc, "the record is for the subject asked");
                let got: Vec<Section> = record.sections.iter().map(|(s, _, _)| *s).collect();
                let mut expected: Vec<Section> = Section::ALL
                    .into_iter()
                    .filter(|s| got.contains(s))
                    .collect();
                expected.dedup();
                assert_eq!(got, expected, "sections once each, in report order");
                for (s, _, data) in &record.sections {
                    assert!(sections.contains(s), "only requested sections");
                    assert!(shape_matches(*s, data), "{s} holds its own kind of data");
                }
                None
            }
            Err(e) => Some(e),
        },
    };
    if let Some(e) = error {
        check_error(&e, body);
    }
});

fn shape_matches(s: Section, d: &SectionData) -> bool {
    matches!(
        (s, d),
        (Section::Basic, SectionData::Basic(_))
            | (Section::Licenses, SectionData::Licenses(_))
            | (Section::Penalties, SectionData::Penalties(_))
            | (
                Section::Redlist | Section::Blacklist,
                SectionData::Listings(_)
            )
            | (Section::Dishonest, SectionData::Dishonest(_))
            | (Section::Abnormal, SectionData::Abnormal(_))
            | (Section::Commitments, SectionData::Commitments(_))
            | (Section::Repairs, SectionData::Repairs(_))
            | (Section::Evaluation, SectionData::Evaluation(_))
    )
}

/// An error never quotes the body (it may hold personal data).
fn check_error(e: &AdapterError, body: &[u8]) {
    let text = e.to_string();
    let body = String::from_utf8_lossy(body);
    for run in runs(
        &body,
        |c| !c.is_ascii() && c != char::REPLACEMENT_CHARACTER,
        2,
    )
    .chain(runs(&body, |c| c.is_ascii_digit(), 6))
    {
        assert!(!text.contains(run), "error text quotes the body: {text:?}");
    }
}

/// Maximal runs of characters satisfying `f`, at least `min` long.
fn runs<'a>(s: &'a str, f: fn(char) -> bool, min: usize) -> impl Iterator<Item = &'a str> {
    s.split(move |c: char| !f(c))
        .filter(move |r| r.chars().count() >= min)
}
