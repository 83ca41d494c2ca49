//! Cross-checks against the simulated platforms (the sim renders its own
//! truth in each wire format; the matching adapter must read back exactly
//! that truth) and no-panic loops over arbitrary and damaged bodies.

use credgate_policy::canonical::{SanctionAnswer, Section};
use credgate_sim::render::{self, SimRequest};
use credgate_sim::{Dataset, PlatformId};
use proptest::prelude::*;

use super::*;

const SEEDS: [u64; 3] = [1, 2026, 0xC0FFEE];

/// Every simulated platform (each has an adapter).
const PLATFORMS: [PlatformId; 4] = PlatformId::ALL;

fn adapter(p: PlatformId) -> &'static dyn Adapter {
    by_name(p.spec().adapter).unwrap()
}

fn split(pq: &str) -> (&str, Option<&str>) {
    match pq.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (pq, None),
    }
}

/// Sends an adapter's request to the sim's router and answers it.
fn exchange(ds: &Dataset, p: PlatformId, req: &UpstreamRequest) -> (SimRequest, render::Rendered) {
    let (path, query) = split(&req.path_and_query);
    let routed = render::route(p, &req.method, path, query, &req.body);
    let answer = render::answer(ds, p, &routed);
    (routed, answer)
}

#[test]
fn by_name_finds_every_adapter() {
    for p in PLATFORMS {
        assert_eq!(adapter(p).name(), p.spec().adapter);
    }
    assert!(by_name("nope-v9").is_none());
}

#[test]
fn every_enterprise_reads_back_as_the_platforms_truth() {
    let subsets: [&[Section]; 3] = [
        &Section::ALL,
        &[Section::Basic, Section::Penalties, Section::Evaluation],
        &[Section::Dishonest],
    ];
    for seed in SEEDS {
        let ds = Dataset::generate(seed);
        for p in PLATFORMS {
            let a = adapter(p);
            for e in ds.enterprises() {
                for sections in subsets {
                    let req = a.report_request(&e.uscc, sections);
                    let (routed, answer) = exchange(&ds, p, &req);
                    assert_eq!(
                        routed,
                        SimRequest::Report {
                            uscc: e.uscc.clone(),
                            sections: sections.to_vec()
                        }
                    );
                    let got = a.parse_report(&e.uscc, sections, answer.status, &answer.body);
                    if p.holds_region(&e.region) {
                        assert_eq!(got, Ok(e.record(sections)), "{p:?} {}", e.uscc);
                    } else {
                        assert_eq!(got, Err(AdapterError::NotFound), "{p:?} {}", e.uscc);
                    }
                }
            }
        }
    }
}

#[test]
fn every_person_score_reads_back() {
    for seed in SEEDS {
        let ds = Dataset::generate(seed);
        for p in PLATFORMS {
            let a = adapter(p);
            for person in ds.persons() {
                let (routed, answer) = exchange(&ds, p, &a.score_request(&person.id));
                assert_eq!(
                    routed,
                    SimRequest::Score {
                        id: person.id.clone()
                    }
                );
                let got = a.parse_score(&person.id, answer.status, &answer.body);
                match person.native_score().filter(|_| p == person.platform) {
                    Some(truth) => assert_eq!(got, Ok(truth)),
                    // 信用浙江 issues no scores for the persons it holds
                    // (`E2001`).
                    None if p == PlatformId::Zhejiang && p.holds_region(&person.region) => {
                        assert_eq!(got, Err(AdapterError::NoScores), "{}", person.id)
                    }
                    None => assert_eq!(got, Err(AdapterError::NotFound), "{p:?} {}", person.id),
                }
            }
        }
    }
}

#[test]
fn sanctions_batches_read_back() {
    let ds = Dataset::generate(SEEDS[1]);
    let mut subjects: Vec<String> = ds.enterprises().iter().map(|e| e.uscc.clone()).collect();
    subjects.extend(ds.persons().iter().map(|p| p.id.clone()));
    subjects.extend(
        ds.unserved()
            .iter()
            .chain(ds.not_held())
            .map(|x| x.code.clone()),
    );
    for p in PLATFORMS {
        let a = adapter(p);
        for batch in subjects.chunks(a.sanctions_batch_limit()) {
            let (routed, answer) = exchange(&ds, p, &a.sanctions_request(batch));
            assert_eq!(
                routed,
                SimRequest::Sanctions {
                    subjects: batch.to_vec()
                }
            );
            let got = a
                .parse_sanctions(batch, answer.status, &answer.body)
                .unwrap();
            let truth: Vec<SanctionAnswer> = batch
                .iter()
                .map(|s| {
                    let l = ds.sanctions_on(p, s);
                    // Every format states the check's as-of time, except
                    // Hangzhou's answer for a subject it does not hold.
                    let as_of = (l.is_some() || p != PlatformId::Hangzhou)
                        .then(|| credgate_sim::dataset::AS_OF.to_owned());
                    SanctionAnswer {
                        subject: s.clone(),
                        known: l.is_some(),
                        listings: l.unwrap_or_default(),
                        as_of,
                    }
                })
                .collect();
            assert_eq!(got, truth, "{p:?}");
        }
    }
}

#[test]
fn damaged_sim_bodies_never_panic() {
    let ds = Dataset::generate(7);
    for p in PLATFORMS {
        let a = adapter(p);
        let e = ds
            .enterprises()
            .iter()
            .find(|e| p.holds_region(&e.region))
            .unwrap();
        let body = render::report(&ds, p, &e.uscc, &Section::ALL).body;
        for cut in (0..body.len()).step_by(7) {
            let r = a.parse_report(&e.uscc, &Section::ALL, 200, &body[..cut]);
            assert!(r.is_err(), "{p:?} accepted a body cut at {cut}");
        }
        let mut flipped = body.to_vec();
        for i in (0..flipped.len()).step_by(13) {
            flipped[i] ^= 0x20;
            let _ = a.parse_report(&e.uscc, &Section::ALL, 200, &flipped);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), status in 0u16..600) {
        let subjects = vec!["91330203MA2H3K4L5P".to_owned()];
        for p in PLATFORMS {
            let a = adapter(p);
            let _ = a.parse_report(&subjects[0], &Section::ALL, status, &body);
            let _ = a.parse_score(&subjects[0], status, &body);
            let _ = a.parse_sanctions(&subjects, status, &body);
        }
    }

    #[test]
    fn arbitrary_markup_never_panics(text in "(<|</|>|/>|Response|Head|Body|Code|00|01|Item|JBXX|BLF|Result|&amp;|[ a-z0-9年月日])*") {
        let subjects = vec!["X".to_owned()];
        for p in PLATFORMS {
            let a = adapter(p);
            let _ = a.parse_report("X", &Section::ALL, 200, text.as_bytes());
            let _ = a.parse_score("X", 200, text.as_bytes());
            let _ = a.parse_sanctions(&subjects, 200, text.as_bytes());
        }
    }

    #[test]
    fn arbitrary_json_never_panics(text in "[{}\\[\\]\":,0-9a-zA-Z_ .\\-]{0,256}") {
        let subjects = vec!["X".to_owned()];
        for p in PLATFORMS {
            let a = adapter(p);
            let _ = a.parse_report("X", &Section::ALL, 200, text.as_bytes());
            let _ = a.parse_score("X", 200, text.as_bytes());
            let _ = a.parse_sanctions(&subjects, 200, text.as_bytes());
        }
    }
}
