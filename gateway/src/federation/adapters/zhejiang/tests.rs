use super::*;
use credgate_policy::canonical::Section::*;

const REPORT: &str = include_str!("../testdata/zhejiang_report.json");
const SCORE: &str = include_str!("../testdata/zhejiang_score.json");
const SANCTIONS: &str = include_str!("../testdata/zhejiang_sanctions.json");
const NOT_FOUND: &str = include_str!("../testdata/zhejiang_not_found.json");
const ERROR: &str = include_str!("../testdata/zhejiang_error.json");
const USCC: &str = "91330302MA2ABCDE1X";

fn report(sections: &[Section], body: &str) -> Result<EnterpriseRecord, AdapterError> {
    ZhejiangV2.parse_report(USCC, sections, 200, body.as_bytes())
}

#[test]
fn full_report_maps_every_section() {
    let r = report(&Section::ALL, REPORT).unwrap();
    let got: Vec<Section> = r.sections.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(got, Section::ALL.to_vec());
    assert!(
        r.sections
            .iter()
            .all(|(_, as_of, _)| as_of == "2026-11-01T00:00:00Z"),
        "08:00 Shanghai is 00:00 UTC"
    );
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
        (b.name.as_str(), b.uscc.as_str()),
        ("温州博远电子科技有限公司", USCC)
    );
    assert_eq!(b.legal_representative.name, "司马晨");
    assert_eq!(b.registered_capital_cny, Some(10_002_500.0), "1000.25 万元");
    assert_eq!(b.established_on.as_deref(), Some("2009-07-21"));
    assert_eq!(
        (b.business_scope.as_ref(), b.bank_account.as_ref()),
        (None, None)
    );

    let SectionData::Licenses(l) = data(Licenses) else {
        panic!("licenses")
    };
    assert_eq!(
        (l[0].decided_on.as_str(), l[0].valid_to.as_deref()),
        ("2022-11-30", Some("2027-11-30"))
    );
    let SectionData::Penalties(p) = data(Penalties) else {
        panic!("penalties")
    };
    assert_eq!(p[0].amount_cny, Some(12_500.0));
    assert_eq!(p[0].legal_representative, None);
    let SectionData::Listings(red) = data(Redlist) else {
        panic!("redlist")
    };
    assert_eq!(red[0].expires_on.as_deref(), Some("2027-04-01"));
    assert_eq!(data(Blacklist), SectionData::Listings(vec![]));
    assert_eq!(data(Dishonest), SectionData::Dishonest(vec![]));
    assert_eq!(data(Abnormal), SectionData::Abnormal(vec![]));
    let SectionData::Commitments(c) = data(Commitments) else {
        panic!("commitments")
    };
    assert_eq!(
        (c[0].status.as_str(), c[0].made_on.as_str()),
        ("履约", "2024-02-29")
    );
    let SectionData::Repairs(rp) = data(Repairs) else {
        panic!("repairs")
    };
    assert_eq!(
        (rp[0].kind.as_str(), rp[0].result.as_str()),
        ("penalty", "停止公示")
    );
    let SectionData::Evaluation(Some(e)) = data(Evaluation) else {
        panic!("evaluation")
    };
    assert_eq!(
        (
            e.level.as_str(),
            e.evaluated_on.as_str(),
            e.valid_until.as_ref()
        ),
        ("A", "2026-06-30", None)
    );
}

#[test]
fn score_is_not_offered_and_sanctions_batch() {
    assert_eq!(
        ZhejiangV2.parse_score("330302197803120027", 200, SCORE.as_bytes()),
        Err(AdapterError::NoScores)
    );
    let unknown = SCORE.replace("E2001", "E1004");
    assert_ne!(unknown, SCORE);
    assert_eq!(
        ZhejiangV2.parse_score("330302197803120027", 200, unknown.as_bytes()),
        Err(AdapterError::NotFound)
    );
    let subjects: Vec<String> = [
        "350203198001010011",
        "330302197803120027",
        "91330302MA2ABCDE1X",
        "91330203MA2H3K4L5P",
    ]
    .map(String::from)
    .to_vec();
    let a = ZhejiangV2
        .parse_sanctions(&subjects, 200, SANCTIONS.as_bytes())
        .unwrap();
    assert_eq!(a.len(), 4);
    assert_eq!(
        (a[0].subject.as_str(), a[0].known),
        ("350203198001010011", false)
    );
    assert_eq!(a[1].listings[0].kind, ListingKind::Dishonest);
    assert_eq!(a[1].listings[0].listed_on, "2024-01-18");
    assert!(a[2].known && a[2].listings.is_empty());
    assert_eq!(a[3].listings[0].kind, ListingKind::Abnormal);
}

#[test]
fn not_found_errors_and_status() {
    assert_eq!(report(&[Basic], NOT_FOUND), Err(AdapterError::NotFound));
    assert_eq!(
        report(&[Basic], ERROR),
        Err(AdapterError::Upstream { status: 502 })
    );
    let bad_req =
        r#"{"success":false,"errorCode":"E4000","errorMsg":"请求参数错误","result":null}"#;
    assert_eq!(
        report(&[Basic], bad_req),
        Err(AdapterError::Upstream { status: 400 })
    );
    assert_eq!(
        ZhejiangV2.parse_report(USCC, &[Basic], 504, ERROR.as_bytes()),
        Err(AdapterError::Upstream { status: 504 })
    );
}

#[test]
fn malformed_bodies_are_reported_without_values() {
    assert!(matches!(
        report(&Section::ALL, &REPORT[..REPORT.len() - 10]),
        Err(AdapterError::Malformed(_))
    ));
    for root in ["[1,2]", "true", "{}", r#"{"success":true,"result":null}"#] {
        assert!(
            matches!(report(&[Basic], root), Err(AdapterError::Malformed(_))),
            "{root}"
        );
    }
    let bad_money = REPORT.replace("\"1000.25\"", "\"一千万\"");
    let e = report(&[Basic], &bad_money).unwrap_err();
    assert_eq!(
        e,
        AdapterError::Malformed("invalid amount in `result.base_info.reg_capital`".into())
    );
    let as_number = REPORT.replace("\"1000.25\"", "1000.25");
    assert!(matches!(
        report(&[Basic], &as_number),
        Err(AdapterError::Malformed(_))
    ));
    let no_time = REPORT.replace("\"update_time\": \"2026-11-01 08:00:00\",", "");
    assert_eq!(
        report(&[Basic], &no_time),
        Err(AdapterError::Malformed(
            "missing field `result.update_time`".into()
        ))
    );
    let code = REPORT.replace("\"FULFILLED\"", "\"MAYBE\"");
    let e = report(&[Commitments], &code).unwrap_err().to_string();
    assert!(e.contains("fulfil_status") && !e.contains("MAYBE"), "{e}");
    // With other sections that read, the unknown code costs only its own
    // section, which the report then lists as unavailable.
    let partial = report(&[Basic, Penalties, Commitments], &code).unwrap();
    let read: Vec<Section> = partial.sections.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(read, vec![Basic, Penalties]);
    assert_eq!(partial.unreadable.len(), 1);
    assert_eq!(partial.unreadable[0].0, Commitments);
    assert!(
        partial.unreadable[0].1.contains("fulfil_status")
            && !partial.unreadable[0].1.contains("MAYBE"),
        "{:?}",
        partial.unreadable
    );
    let whole = report(&[Basic, Penalties, Commitments], REPORT).unwrap();
    assert!(whole.unreadable.is_empty());
    let no_name = REPORT.replace("\"name\": \"司马晨\", ", "");
    let e = report(&[Basic], &no_name).unwrap_err().to_string();
    assert!(
        e.contains("legal_person.name") && !e.contains("330302197803120027"),
        "{e}"
    );
    // Another enterprise's registration section under an envelope naming
    // the one asked for.
    let other = REPORT.replace(
        "\"credit_code\": \"91330302MA2ABCDE1X\"",
        "\"credit_code\": \"91330203354933879K\"",
    );
    assert_ne!(other, REPORT);
    assert_eq!(
        report(&[Basic], &other),
        Err(AdapterError::Malformed(
            "registration section is for another subject in `basic.uscc`".into()
        ))
    );
}

#[test]
fn requests() {
    let r = ZhejiangV2.report_request(USCC, &[Repairs, Basic]);
    assert_eq!(
        (r.method.clone(), r.path_and_query.as_str()),
        (http::Method::POST, "/gateway/v2/query")
    );
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"service": "credit.report", "tyshxydm": USCC, "items": ["base_info", "credit_repair"]})
    );
    let v: serde_json::Value = serde_json::from_slice(&ZhejiangV2.score_request("X").body).unwrap();
    assert_eq!(v["service"], "credit.score");
    let v: serde_json::Value =
        serde_json::from_slice(&ZhejiangV2.sanctions_request(&["A".into()]).body).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"service": "lhjc.batch", "subjects": ["A"]})
    );
    assert_eq!(ZhejiangV2.sanctions_batch_limit(), 100);
}
