use super::*;
use credgate_policy::canonical::Section::*;

const REPORT: &str = include_str!("../testdata/hangzhou_report.json");
const SCORE: &str = include_str!("../testdata/hangzhou_score.json");
const SANCTIONS: &str = include_str!("../testdata/hangzhou_sanctions.json");
const NOT_FOUND: &str = include_str!("../testdata/hangzhou_not_found.json");
const ERROR: &str = include_str!("../testdata/hangzhou_error.json");
const USCC: &str = "91330106MA27XYZ12K";

fn report(sections: &[Section], body: &str) -> Result<EnterpriseRecord, AdapterError> {
    HangzhouV1.parse_report(USCC, sections, 200, body.as_bytes())
}

#[test]
fn full_report_maps_every_section() {
    let r = report(&Section::ALL, REPORT).unwrap();
    let got: Vec<Section> = r.sections.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(
        got,
        Section::ALL.to_vec(),
        "a held enterprise has every section, empty ones included"
    );
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
    assert_eq!(
        (b.name.as_str(), b.legal_representative.name.as_str()),
        ("杭州蓝海信息技术有限公司", "诸葛怡")
    );
    assert_eq!(
        b.legal_representative.id_number.as_deref(),
        Some("330104198811230048")
    );
    assert_eq!(b.registered_capital_cny, Some(30_000_000.0));
    assert_eq!(b.established_on.as_deref(), Some("2012-06-01"));
    assert_eq!(
        (b.business_scope.as_ref(), b.bank_account.as_ref()),
        (None, None),
        "empty strings are absent"
    );

    let SectionData::Licenses(l) = data(Licenses) else {
        panic!("licenses")
    };
    assert_eq!(
        (l[0].category.as_deref(), l[0].content.as_ref()),
        (Some("特许"), None)
    );
    let SectionData::Penalties(p) = data(Penalties) else {
        panic!("penalties")
    };
    assert_eq!(p.len(), 2);
    assert_eq!((p[0].amount_cny, p[1].amount_cny), (Some(12_000.0), None));
    let rep = p[0].legal_representative.clone().unwrap();
    assert_eq!((rep.name.as_str(), rep.phone), ("诸葛怡", None));
    assert_eq!(p[1].legal_representative, None);
    assert_eq!(data(Redlist), SectionData::Listings(vec![]));
    let SectionData::Listings(black) = data(Blacklist) else {
        panic!("blacklist")
    };
    assert_eq!(black[0].expires_on.as_deref(), Some("2029-01-20"));
    let SectionData::Dishonest(d) = data(Dishonest) else {
        panic!("dishonest")
    };
    assert_eq!(
        (d[0].circumstances.as_ref(), d[0].published_on.as_str()),
        (None, "2026-04-02")
    );
    let SectionData::Abnormal(a) = data(Abnormal) else {
        panic!("abnormal")
    };
    assert_eq!(a[0].removed_on, None);
    let SectionData::Commitments(c) = data(Commitments) else {
        panic!("commitments")
    };
    assert_eq!(c[0].status, "未履约");
    let SectionData::Repairs(rp) = data(Repairs) else {
        panic!("repairs")
    };
    assert_eq!(
        (rp[0].kind.as_str(), rp[0].repaired_on.as_str()),
        ("blacklist", "2022-05-05")
    );
    let SectionData::Evaluation(Some(e)) = data(Evaluation) else {
        panic!("evaluation")
    };
    assert_eq!((e.level.as_str(), e.valid_until.as_ref()), ("D", None));
}

#[test]
fn missing_rows_mean_empty_or_absent() {
    let only_basic = r#"{"status":200,"gxsj":"2026/11/01","rows":[]}"#;
    let r = report(&[Basic, Penalties, Evaluation], only_basic).unwrap();
    let as_of = "2026-11-01T00:00:00Z".to_owned();
    assert_eq!(
        r.sections,
        vec![
            (Penalties, as_of.clone(), SectionData::Penalties(vec![])),
            (Evaluation, as_of, SectionData::Evaluation(None)),
        ]
    );
}

#[test]
fn score_on_the_boundary_and_single_subject_sanctions() {
    let s = HangzhouV1
        .parse_score("33010319850505001X", 200, SCORE.as_bytes())
        .unwrap();
    assert_eq!(
        s,
        NativeScore {
            scheme: "qianjiang".into(),
            value: 550.0,
            issued_at: "2026-10-12".into(),
            issuer: "hangzhou".into()
        }
    );
    let one = vec![USCC.to_owned()];
    let a = HangzhouV1
        .parse_sanctions(&one, 200, SANCTIONS.as_bytes())
        .unwrap();
    assert_eq!(a.len(), 1);
    assert!(a[0].known);
    assert_eq!(
        a[0].listings.iter().map(|l| l.kind).collect::<Vec<_>>(),
        vec![ListingKind::Blacklist, ListingKind::Abnormal]
    );
    let unknown = HangzhouV1
        .parse_sanctions(&one, 200, NOT_FOUND.as_bytes())
        .unwrap();
    assert_eq!(
        unknown,
        vec![SanctionAnswer {
            subject: USCC.into(),
            known: false,
            listings: vec![],
            as_of: None,
        }]
    );
    let two = vec![USCC.to_owned(), "X".to_owned()];
    assert!(matches!(
        HangzhouV1.parse_sanctions(&two, 200, SANCTIONS.as_bytes()),
        Err(AdapterError::Malformed(_))
    ));
}

#[test]
fn not_found_errors_and_status() {
    assert_eq!(report(&[Basic], NOT_FOUND), Err(AdapterError::NotFound));
    assert_eq!(
        HangzhouV1.parse_score("X", 200, NOT_FOUND.as_bytes()),
        Err(AdapterError::NotFound)
    );
    assert_eq!(
        report(&[Basic], ERROR),
        Err(AdapterError::Upstream { status: 502 })
    );
    // A non-2xx in the envelope is the platform's; one without (a proxy's
    // page) is malformed, which the caller counts against the platform.
    let refusal = br#"{"status":400,"message":"bad","total":0,"rows":[]}"#;
    assert_eq!(
        HangzhouV1.parse_report(USCC, &[Basic], 400, refusal),
        Err(AdapterError::Upstream { status: 400 })
    );
    for (status, body) in [(502, &b""[..]), (403, b"<html>Forbidden</html>")] {
        assert!(matches!(
            HangzhouV1.parse_report(USCC, &[Basic], status, body),
            Err(AdapterError::Malformed(_))
        ));
    }
    let e = HangzhouV1.parse_sanctions(&[USCC.to_owned()], 200, ERROR.as_bytes());
    assert_eq!(e, Err(AdapterError::Upstream { status: 502 }));
}

#[test]
fn malformed_bodies_are_reported_without_values() {
    assert!(matches!(
        HangzhouV1.parse_report(
            USCC,
            &Section::ALL,
            200,
            &REPORT.as_bytes()[..REPORT.len() / 3]
        ),
        Err(AdapterError::Malformed(_))
    ));
    for root in [
        "[]",
        "42",
        r#"{"status":200}"#,
        r#"{"rows":[]}"#,
        r#"{"status":200,"gxsj":"2026/11/01","rows":[{"lb":"JBXX"}]}"#,
    ] {
        assert!(
            matches!(report(&[Basic], root), Err(AdapterError::Malformed(_))),
            "{root}"
        );
    }
    let obj = REPORT.replace("\"FDDBR\": \"诸葛怡\"", "\"FDDBR\": {\"xm\": \"诸葛怡\"}");
    assert_eq!(
        report(&[Basic], &obj),
        Err(AdapterError::Malformed(
            "unexpected value type in `rows[JBXX].fields.FDDBR`".into()
        ))
    );
    let code = REPORT.replace("\"XK_XKLB\": \"2\"", "\"XK_XKLB\": \"7\"");
    assert_eq!(
        report(&[Licenses], &code),
        Err(AdapterError::Malformed(
            "unknown code in `rows[XZXK].fields.XK_XKLB`".into()
        ))
    );
    let money = REPORT.replace("\"12000.00\"", "\"壹万贰仟\"");
    let e = report(&[Penalties], &money).unwrap_err().to_string();
    assert!(e.contains("CF_JE") && !e.contains("壹万"), "{e}");
    let other = REPORT.replace(
        "\"TYSHXYDM\": \"91330106MA27XYZ12K\"",
        "\"TYSHXYDM\": \"91330106MA27XYZ99K\"",
    );
    assert!(matches!(
        report(&[Basic], &other),
        Err(AdapterError::Malformed(_))
    ));
}

#[test]
fn requests() {
    let r = HangzhouV1.report_request(USCC, &[Evaluation, Penalties]);
    assert_eq!(
        r.path_and_query,
        format!("/hz/credit/v1/qy?tyshxydm={USCC}&lb=XZCF,PJ")
    );
    assert_eq!(
        HangzhouV1
            .score_request("33010319850505001X")
            .path_and_query,
        "/hz/credit/v1/qjf?zjhm=33010319850505001X"
    );
    let s = HangzhouV1.sanctions_request(&[USCC.to_owned()]);
    assert_eq!(
        (s.method, s.path_and_query),
        (http::Method::GET, format!("/hz/credit/v1/lhjc?zjhm={USCC}"))
    );
    assert_eq!(HangzhouV1.sanctions_batch_limit(), 1);
}
