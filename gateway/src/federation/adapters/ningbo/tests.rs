use super::*;
use credgate_policy::canonical::Section::*;

const REPORT: &str = include_str!("../testdata/ningbo_report.json");
const SCORE: &str = include_str!("../testdata/ningbo_score.json");
const SANCTIONS: &str = include_str!("../testdata/ningbo_sanctions.json");
const NOT_FOUND: &str = include_str!("../testdata/ningbo_not_found.json");
const ERROR: &str = include_str!("../testdata/ningbo_error.json");
const USCC: &str = "91330203MA2H3K4L5P";

fn report(sections: &[Section], body: &str) -> Result<EnterpriseRecord, AdapterError> {
    NingboV1.parse_report(USCC, sections, 200, body.as_bytes())
}

#[test]
fn full_report_maps_every_section() {
    let r = report(&Section::ALL, REPORT).unwrap();
    assert_eq!(r.uscc, USCC);
    let got: Vec<Section> = r.sections.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(got, Section::ALL.to_vec());
    assert!(r
        .sections
        .iter()
        .all(|(_, as_of, _)| as_of == "2026-11-01T00:00:00Z"));
    let data = |s: Section| {
        r.sections
            .iter()
            .find(|(x, _, _)| *x == s)
            .map(|(_, _, d)| d.clone())
            .unwrap()
    };

    let SectionData::Basic(b) = data(Basic) else {
        panic!("basic")
    };
    assert_eq!(b.name, "宁波恒达国际贸易有限公司");
    assert_eq!(b.legal_representative.name, "欧阳明华");
    assert_eq!(
        b.legal_representative.id_number.as_deref(),
        Some("330203198507150012")
    );
    assert_eq!(b.legal_representative.phone.as_deref(), Some("13812345678"));
    assert_eq!(b.registered_capital_cny, Some(5_000_000.0));
    assert_eq!(b.established_on.as_deref(), Some("2015-03-04"));
    assert_eq!(b.bank_account.as_deref(), Some("3901000012345678901"));

    let SectionData::Licenses(l) = data(Licenses) else {
        panic!("licenses")
    };
    assert_eq!(l.len(), 2);
    assert_eq!(l[0].valid_to.as_deref(), Some("2028-04-12"));
    assert_eq!(
        (l[1].content.as_ref(), l[1].valid_to.as_ref()),
        (None, None)
    );

    let SectionData::Penalties(p) = data(Penalties) else {
        panic!("penalties")
    };
    assert_eq!(p[0].decision_no, "宁波海曙区罚决字〔2024〕第121号");
    assert_eq!(p[0].amount_cny, Some(12345.67));
    assert_eq!(p[0].decided_on, "2024-06-18");
    assert_eq!(p[0].publish_until.as_deref(), Some("2027-06-18"));
    assert_eq!(
        p[0].legal_representative.as_ref().map(|r| r.name.as_str()),
        Some("欧阳明华")
    );
    assert_eq!(
        (p[1].amount_cny, p[1].legal_representative.as_ref()),
        (None, None)
    );

    assert_eq!(data(Redlist), SectionData::Listings(vec![]));
    let SectionData::Listings(black) = data(Blacklist) else {
        panic!("blacklist")
    };
    assert_eq!(
        (black[0].listed_on.as_str(), black[0].expires_on.as_ref()),
        ("2025-01-10", None)
    );
    let SectionData::Dishonest(d) = data(Dishonest) else {
        panic!("dishonest")
    };
    assert_eq!(d[0].case_no, "(2024)浙0203执135号");
    assert_eq!(
        d[0].legal_representative
            .as_ref()
            .and_then(|r| r.phone.as_ref()),
        None
    );
    let SectionData::Abnormal(a) = data(Abnormal) else {
        panic!("abnormal")
    };
    assert_eq!(a[0].removed_on.as_deref(), Some("2024-01-10"));
    let SectionData::Commitments(c) = data(Commitments) else {
        panic!("commitments")
    };
    assert_eq!(
        (c[0].kind.as_str(), c[0].made_on.as_str()),
        ("信用修复型", "2024-07-01")
    );
    let SectionData::Repairs(rp) = data(Repairs) else {
        panic!("repairs")
    };
    assert_eq!(
        (rp[0].kind.as_str(), rp[0].repaired_on.as_str()),
        ("abnormal", "2024-01-10")
    );
    let SectionData::Evaluation(Some(e)) = data(Evaluation) else {
        panic!("evaluation")
    };
    assert_eq!(
        (e.level.as_str(), e.valid_until.as_deref()),
        ("C", Some("2027-03-15"))
    );
}

#[test]
fn only_requested_sections_and_null_evaluation() {
    let r = report(&[Evaluation, Basic, Basic], REPORT).unwrap();
    let got: Vec<Section> = r.sections.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(got, vec![Basic, Evaluation]);
    let body = r#"{"code":"0000","ts":1793491200000,"data":{"ggxypj":null}}"#;
    let r = report(&[Evaluation, Licenses], body).unwrap();
    assert_eq!(
        r.sections,
        vec![(
            Evaluation,
            "2026-11-01T00:00:00Z".into(),
            SectionData::Evaluation(None)
        )]
    );
}

#[test]
fn score_and_sanctions() {
    let s = NingboV1
        .parse_score("33020319900101123X", 200, SCORE.as_bytes())
        .unwrap();
    assert_eq!(
        s,
        NativeScore {
            scheme: "tianyi".into(),
            value: 142.0,
            issued_at: "2026-10-15".into(),
            issuer: "xinyong-ningbo".into()
        }
    );
    assert!(matches!(
        NingboV1.parse_score("330203199001011111", 200, SCORE.as_bytes()),
        Err(AdapterError::Malformed(_))
    ));

    let subjects: Vec<String> = [
        "91310107MA1G00000X",
        "91330203MA2H3K4L5P",
        "33020319900101123X",
    ]
    .map(String::from)
    .to_vec();
    let a = NingboV1
        .parse_sanctions(&subjects, 200, SANCTIONS.as_bytes())
        .unwrap();
    assert_eq!(
        a.iter().map(|x| x.subject.as_str()).collect::<Vec<_>>(),
        subjects.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!((a[0].known, a[0].listings.len()), (false, 0));
    assert_eq!(a[1].listings[0].kind, ListingKind::Blacklist);
    assert_eq!(a[1].listings[1].kind, ListingKind::Dishonest);
    assert_eq!(a[1].listings[1].listed_on, "2025-02-20");
    assert!(a[2].known && a[2].listings.is_empty());
    let more = [subjects.clone(), vec!["X".to_owned()]].concat();
    assert!(matches!(
        NingboV1.parse_sanctions(&more, 200, SANCTIONS.as_bytes()),
        Err(AdapterError::Malformed(_))
    ));
}

#[test]
fn not_found_errors_and_status() {
    assert_eq!(report(&[Basic], NOT_FOUND), Err(AdapterError::NotFound));
    assert_eq!(
        NingboV1.parse_score("X", 200, NOT_FOUND.as_bytes()),
        Err(AdapterError::NotFound)
    );
    assert_eq!(
        report(&[Basic], ERROR),
        Err(AdapterError::Upstream { status: 502 })
    );
    assert_eq!(
        NingboV1.parse_report(USCC, &[Basic], 503, ERROR.as_bytes()),
        Err(AdapterError::Upstream { status: 503 })
    );
    let r = NingboV1.parse_report(USCC, &[Basic], 500, b"<html>oops</html>");
    assert!(
        matches!(r, Err(AdapterError::Malformed(_))),
        "an unparseable error page is malformed: {r:?}"
    );
}

#[test]
fn malformed_bodies_are_reported_without_values() {
    let truncated = &REPORT[..REPORT.len() / 2];
    assert!(matches!(
        report(&Section::ALL, truncated),
        Err(AdapterError::Malformed(_))
    ));
    let wrong_type = REPORT.replace("\"zczbFen\": 500000000", "\"zczbFen\": \"五百万\"");
    let e = report(&Section::ALL, &wrong_type).unwrap_err().to_string();
    assert!(!e.contains("五百万"), "{e}");
    for root in ["[]", "\"0000\"", "null", "{}"] {
        assert!(
            matches!(report(&[Basic], root), Err(AdapterError::Malformed(_))),
            "{root}"
        );
    }
    let no_rep = REPORT.replacen("\"fddbr\": { \"xm\": \"欧阳明华\", \"zjhm\": \"330203198507150012\", \"sjhm\": \"13812345678\" },", "", 1);
    assert_eq!(
        report(&[Basic], &no_rep),
        Err(AdapterError::Malformed(
            "missing field `data.jbxx.fddbr`".into()
        ))
    );
    let bad_date = REPORT.replace("\"cfJdrq\": \"20240618\"", "\"cfJdrq\": \"20241318\"");
    let e = report(&[Penalties], &bad_date).unwrap_err();
    assert_eq!(
        e,
        AdapterError::Malformed("invalid date in `data.xzcf[].cfJdrq`".into())
    );
    let other = REPORT.replace(
        "\"tyshxydm\": \"91330203MA2H3K4L5P\",\n    \"jbxx\"",
        "\"tyshxydm\": \"91330203MA2H3K4L6Q\",\n    \"jbxx\"",
    );
    assert!(matches!(
        report(&[Basic], &other),
        Err(AdapterError::Malformed(_))
    ));
    // The registration section of another enterprise, under an envelope
    // naming the one asked for (or naming none).
    let inner_other = REPORT
        .replacen(
            "\"tyshxydm\": \"91330203MA2H3K4L5P\"",
            "\"tyshxydm\": \"@\"",
            1,
        )
        .replacen(
            "\"tyshxydm\": \"91330203MA2H3K4L5P\"",
            "\"tyshxydm\": \"91330203354933879K\"",
            1,
        )
        .replacen(
            "\"tyshxydm\": \"@\"",
            "\"tyshxydm\": \"91330203MA2H3K4L5P\"",
            1,
        );
    assert_ne!(inner_other, REPORT);
    assert_eq!(
        report(&[Basic], &inner_other),
        Err(AdapterError::Malformed(
            "registration section is for another subject in `basic.uscc`".into()
        ))
    );
    let no_envelope_code = inner_other.replacen("\"tyshxydm\": \"91330203MA2H3K4L5P\",", "", 1);
    assert!(matches!(
        report(&[Basic], &no_envelope_code),
        Err(AdapterError::Malformed(_))
    ));
    assert!(
        report(&[Penalties], &inner_other).is_ok(),
        "only basic names its subject"
    );
    let e = report(&[Basic], &REPORT.replace("\"欧阳明华\"", "42"))
        .unwrap_err()
        .to_string();
    assert!(!e.contains("330203198507150012"), "{e}");
}

#[test]
fn requests() {
    let r = NingboV1.report_request(USCC, &[Penalties, Basic, Penalties]);
    assert_eq!(r.method, http::Method::GET);
    assert_eq!(
        r.path_and_query,
        format!("/api/v1/enterprise/{USCC}/credit?modules=jbxx,xzcf")
    );
    assert_eq!(
        NingboV1.score_request("33020319900101123X").path_and_query,
        "/api/v1/person/33020319900101123X/tianyi"
    );
    let s = NingboV1.sanctions_request(&["A".into(), "B".into()]);
    assert_eq!(
        (s.method, s.content_type),
        (http::Method::POST, Some("application/json"))
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&s.body).unwrap(),
        serde_json::json!({"ztList": ["A", "B"]})
    );
    assert_eq!(NingboV1.sanctions_batch_limit(), 50);
}
