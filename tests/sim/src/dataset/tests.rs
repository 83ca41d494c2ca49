use super::*;
use credgate_ids::{IdNumber, LegacyCodes, Uscc};

fn valid_uscc(code: &str) -> bool {
    Uscc::parse(code, &LegacyCodes::empty()).is_ok()
}

fn valid_id(id: &str) -> bool {
    IdNumber::parse(id).is_ok()
}

#[test]
fn deterministic_for_a_seed_and_different_across_seeds() {
    let a = Dataset::generate(7);
    let b = Dataset::generate(7);
    let c = Dataset::generate(8);
    assert_eq!(a.enterprises(), b.enterprises());
    assert_eq!(a.persons(), b.persons());
    assert_ne!(a.enterprises()[0].uscc, c.enterprises()[0].uscc);
    assert_eq!(a.samples_json(), b.samples_json());
}

#[test]
fn every_code_is_valid_and_unique() {
    let ds = Dataset::generate(42);
    let mut seen = std::collections::HashSet::new();
    for e in ds.enterprises() {
        assert!(seen.insert(e.uscc.clone()));
        assert_eq!(&e.uscc[2..8], e.region);
        if e.legacy {
            assert!(!valid_uscc(&e.uscc), "{}", e.uscc);
            let allow = LegacyCodes::new([e.uscc.as_str()]).unwrap();
            assert!(
                Uscc::parse(&e.uscc, &allow).is_ok_and(|u| u.is_legacy()),
                "{}",
                e.uscc
            );
            assert!(e.uscc.starts_with("9135020"));
        } else {
            assert!(valid_uscc(&e.uscc), "{}", e.uscc);
        }
        let rep = &e.basic.legal_representative;
        assert!(valid_id(rep.id_number.as_deref().unwrap_or("")));
        let phone = rep.phone.as_deref().unwrap_or("");
        assert!(
            phone.len() == 11
                && phone.starts_with('1')
                && (b'3'..=b'9').contains(&phone.as_bytes()[1])
        );
    }
    for p in ds.persons() {
        assert!(valid_id(&p.id), "{}", p.id);
        assert!(seen.insert(p.id.clone()));
        assert_eq!(&p.id[..6], p.region);
    }
    for x in ds.unserved().iter().chain(ds.not_held()) {
        let ok = if x.kind == "uscc" {
            valid_uscc(&x.code)
        } else {
            valid_id(&x.code)
        };
        assert!(ok && seen.insert(x.code.clone()));
        assert!(ds.enterprise(&x.code).is_none() && ds.person(&x.code).is_none());
    }
}

#[test]
fn regions_and_sanctions_are_mixed_everywhere() {
    let ds = Dataset::generate(1);
    assert!(ds.enterprises().len() >= 40 && ds.persons().len() >= 30);
    for p in PlatformId::ALL {
        let ents: Vec<_> = ds
            .enterprises()
            .iter()
            .filter(|e| e.platform == p && !e.legacy)
            .collect();
        assert!(ents.len() >= 3, "{p:?}");
        assert!(
            ents.iter().any(|e| e.sanctioned()) && ents.iter().any(|e| !e.sanctioned()),
            "{p:?}"
        );
        let ps: Vec<_> = ds.persons().iter().filter(|x| x.platform == p).collect();
        assert!(
            ps.iter().any(|x| x.sanctioned()) && ps.iter().any(|x| !x.sanctioned()),
            "{p:?}"
        );
    }
    assert_eq!(ds.legacy_codes().len(), 3);
    assert!(
        ds.persons().iter().any(|p| p.region == "330103")
            && ds.persons().iter().any(|p| p.region == "330104")
    );
    let compound = ["欧阳", "司马", "诸葛", "上官", "慕容", "令狐"];
    assert!(ds.enterprises().iter().any(|e| compound.iter().any(|c| e
        .basic
        .legal_representative
        .name
        .starts_with(c))));
}

#[test]
fn qianjiang_boundaries_present_and_scores_in_range() {
    let ds = Dataset::generate(3);
    let values: Vec<u32> = ds
        .persons()
        .iter()
        .filter_map(|p| p.score.as_ref())
        .filter(|s| s.scheme == "qianjiang")
        .map(|s| s.value)
        .collect();
    for v in [549, 550, 551, 599, 600, 700, 750, 751] {
        assert!(values.contains(&v), "{v}");
    }
    for p in ds.persons() {
        match (&p.score, p.platform.spec().score_range) {
            (Some(s), Some((lo, hi))) => assert!(
                s.value >= lo && s.value <= hi && Some(s.scheme) == p.platform.spec().scheme
            ),
            (None, None) => {}
            other => panic!("score/platform mismatch {other:?}"),
        }
    }
}

#[test]
fn holdings_follow_regions() {
    let ds = Dataset::generate(5);
    let nb = ds
        .enterprises()
        .iter()
        .find(|e| e.platform == PlatformId::Ningbo)
        .map(|e| e.uscc.clone());
    let nb = nb.unwrap_or_default();
    assert!(ds.enterprise_on(PlatformId::Ningbo, &nb).is_some());
    assert!(ds.enterprise_on(PlatformId::Zhejiang, &nb).is_some());
    assert!(ds.enterprise_on(PlatformId::Hangzhou, &nb).is_none());
    let xm = ds.legacy_codes()[0].to_owned();
    assert!(ds.enterprise_on(PlatformId::Xiamen, &xm).is_some());
    assert!(ds.enterprise_on(PlatformId::Zhejiang, &xm).is_none());
    assert!(ds.sanctions_on(PlatformId::Hangzhou, &nb).is_none());
}

#[test]
fn samples_json_shape() {
    let ds = Dataset::generate(9);
    let s = ds.samples_json();
    let ents = s["enterprises"].as_array().cloned().unwrap_or_default();
    assert_eq!(ents.len(), ds.enterprises().len() - 3);
    for e in &ents {
        let region = e["region"].as_str().unwrap_or("");
        let expected = PlatformId::owner_of(region).map(PlatformId::name);
        assert_eq!(e["platform"].as_str(), expected);
        assert!(e["sanctioned"].is_boolean() && e["uscc"].is_string());
    }
    let persons = s["persons"].as_array().cloned().unwrap_or_default();
    assert!(persons.iter().any(|p| p["platform"] == "xinyong-zhejiang"
        && p["score"].is_null()
        && p["scheme"].is_null()));
    assert!(persons
        .iter()
        .any(|p| p["scheme"] == "qianjiang" && p["score"] == 550));
    assert_eq!(s["legacy_codes"].as_array().map(Vec::len), Some(3));
    assert!(s["unserved"][0]["uscc"]
        .as_str()
        .is_some_and(|c| &c[2..8] == "310107"));
}
