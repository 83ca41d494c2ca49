use super::*;
use credgate_policy::canonical::Section::*;

const REPORT: &str = include_str!("../testdata/xiamen_report.xml");
const SCORE: &str = include_str!("../testdata/xiamen_score.xml");
const SANCTIONS: &str = include_str!("../testdata/xiamen_sanctions.xml");
const NOT_FOUND: &str = include_str!("../testdata/xiamen_not_found.xml");
const ERROR: &str = include_str!("../testdata/xiamen_error.xml");
const USCC: &str = "91350203MA31ABCD2E";

fn report(sections: &[Section], body: &str) -> Result<EnterpriseRecord, AdapterError> {
    XiamenV1.parse_report(USCC, sections, 200, body.as_bytes())
}

#[test]
fn full_report_maps_every_section() {
    let r = report(&Section::ALL, REPORT).unwrap();
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
    assert_eq!(
        (b.name.as_str(), b.status.as_deref()),
        ("厦门嘉禾港口服务股份有限公司", Some("吊销"))
    );
    assert_eq!(b.legal_representative.name, "上官欣");
    assert_eq!(b.legal_representative.phone.as_deref(), Some("18959212345"));
    assert_eq!(b.registered_capital_cny, Some(12_345_678.9));
    assert_eq!(b.established_on.as_deref(), Some("2016-10-08"));
    assert_eq!(
        (b.business_scope.as_ref(), b.bank_account.as_ref()),
        (None, None),
        "left-out elements are absent"
    );

    let SectionData::Licenses(l) = data(Licenses) else {
        panic!("licenses")
    };
    assert_eq!(
        (l[0].decided_on.as_str(), l[0].valid_to.as_deref()),
        ("2020-01-15", Some("2025-01-15"))
    );
    let SectionData::Penalties(p) = data(Penalties) else {
        panic!("penalties")
    };
    assert_eq!(p[0].amount_cny, Some(12_000.0));
    assert_eq!(
        p[0].content, "发布虚假广告，欺骗、误导消费者 & 拒不改正",
        "entities are unescaped"
    );
    assert_eq!(
        p[0].legal_representative
            .as_ref()
            .and_then(|r| r.id_number.as_deref()),
        Some("350203199202140061")
    );
    assert_eq!(data(Redlist), SectionData::Listings(vec![]));
    let SectionData::Listings(black) = data(Blacklist) else {
        panic!("blacklist")
    };
    assert_eq!(
        (black[0].listed_on.as_str(), black[0].expires_on.as_deref()),
        ("2025-06-30", Some("2028-06-30"))
    );
    assert_eq!(data(Dishonest), SectionData::Dishonest(vec![]));
    let SectionData::Abnormal(a) = data(Abnormal) else {
        panic!("abnormal")
    };
    assert_eq!(
        (a[0].removed_on.as_ref(), a[0].removal_reason.as_ref()),
        (None, None)
    );
    let SectionData::Commitments(c) = data(Commitments) else {
        panic!("commitments")
    };
    assert_eq!(c[0].made_on, "2023-08-08");
    let SectionData::Repairs(rp) = data(Repairs) else {
        panic!("repairs")
    };
    assert_eq!(rp[0].kind, "abnormal");
    let SectionData::Evaluation(Some(e)) = data(Evaluation) else {
        panic!("evaluation")
    };
    assert_eq!(
        (
            e.level.as_str(),
            e.evaluated_on.as_str(),
            e.valid_until.as_ref()
        ),
        ("C", "2026-07-01", None)
    );
}

#[test]
fn empty_evaluation_and_absent_sections() {
    let body = "<Response><Head><Code>00</Code><AsOf>2026年11月01日</AsOf></Head><Body><PJXX/></Body></Response>";
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
    let s = XiamenV1
        .parse_score("35020619870707004X", 200, SCORE.as_bytes())
        .unwrap();
    assert_eq!(
        s,
        NativeScore {
            scheme: "bailu".into(),
            value: 812.0,
            issued_at: "2026-10-20".into(),
            issuer: "xiamen".into()
        }
    );
    let subjects: Vec<String> = ["35020619870707004X", "91330203MA2H3K4L5P", USCC]
        .map(String::from)
        .to_vec();
    let a = XiamenV1
        .parse_sanctions(&subjects, 200, SANCTIONS.as_bytes())
        .unwrap();
    assert_eq!(
        a.iter()
            .map(|x| (x.known, x.listings.len()))
            .collect::<Vec<_>>(),
        vec![(true, 0), (false, 0), (true, 2)]
    );
    assert_eq!(a[2].listings[1].kind, ListingKind::Abnormal);
    assert_eq!(a[2].listings[0].listed_on, "2025-06-30");
}

#[test]
fn not_found_errors_and_status() {
    assert_eq!(report(&[Basic], NOT_FOUND), Err(AdapterError::NotFound));
    assert_eq!(
        XiamenV1.parse_score("X", 200, NOT_FOUND.as_bytes()),
        Err(AdapterError::NotFound)
    );
    assert_eq!(
        report(&[Basic], ERROR),
        Err(AdapterError::Upstream { status: 502 })
    );
    // A non-2xx in the envelope is the platform's; one without (a proxy's
    // page) is malformed, which the caller counts against the platform.
    assert_eq!(
        XiamenV1.parse_report(USCC, &[Basic], 400, ERROR.as_bytes()),
        Err(AdapterError::Upstream { status: 400 })
    );
    for (status, body) in [(503, &b"busy"[..]), (403, b"<html>Forbidden</html>")] {
        assert!(matches!(
            XiamenV1.parse_report(USCC, &[Basic], status, body),
            Err(AdapterError::Malformed(_))
        ));
    }
}

#[test]
fn malformed_bodies_are_reported_without_values() {
    let cut = XiamenV1.parse_report(
        USCC,
        &Section::ALL,
        200,
        &REPORT.as_bytes()[..REPORT.len() / 2],
    );
    assert!(matches!(cut, Err(AdapterError::Malformed(_))), "{cut:?}");
    let wrong_root = REPORT
        .replace("<Response>", "<Answer>")
        .replace("</Response>", "</Answer>");
    assert_eq!(
        report(&[Basic], &wrong_root),
        Err(AdapterError::Malformed(
            "root element is not `Response`".into()
        ))
    );
    for bad in [
        "",
        "{\"code\":\"00\"}",
        "<Response>",
        "<Response><Head/></Response>",
        "\u{0}\u{1}",
    ] {
        assert!(
            matches!(report(&[Basic], bad), Err(AdapterError::Malformed(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        XiamenV1.parse_report(USCC, &[Basic], 200, &[0xff, 0xfe, b'<']),
        Err(AdapterError::Malformed(_))
    ));
    let money = REPORT.replace("<Amount>12,000.00</Amount>", "<Amount>12,00.00</Amount>");
    assert_eq!(
        report(&[Penalties], &money),
        Err(AdapterError::Malformed(
            "invalid amount in `XZCF.Item.Amount`".into()
        ))
    );
    let level = REPORT.replace("<Level>C级</Level>", "<Level>优</Level>");
    let e = report(&[Evaluation], &level).unwrap_err().to_string();
    assert!(e.contains("PJXX.Level") && !e.contains('优'), "{e}");
    let nested = REPORT.replace(
        "<Name>上官欣</Name><IdNo>",
        "<Name><Given>欣</Given></Name><IdNo>",
    );
    let e = report(&[Basic], &nested);
    assert!(
        matches!(&e, Err(AdapterError::Malformed(m)) if !m.contains('欣') && !m.contains("350203199202140061")),
        "{e:?}"
    );
    let no_rep = REPORT.replacen("<LegalRep><Name>上官欣</Name><IdNo>350203199202140061</IdNo><Mobile>18959212345</Mobile></LegalRep>", "", 1);
    assert_eq!(
        report(&[Basic], &no_rep),
        Err(AdapterError::Malformed(
            "missing field `JBXX.LegalRep`".into()
        ))
    );
}

#[test]
fn requests() {
    let r = XiamenV1.report_request(USCC, &[Evaluation, Basic]);
    assert_eq!(
        r.path_and_query,
        format!("/xmcredit/report?code={USCC}&sections=JBXX,PJXX")
    );
    assert_eq!(
        XiamenV1.score_request("35020619870707004X").path_and_query,
        "/xmcredit/bailu?sfzh=35020619870707004X"
    );
    let s = XiamenV1.sanctions_request(&["A&B".into(), "C".into()]);
    assert_eq!(s.content_type, Some("application/xml; charset=utf-8"));
    let body = String::from_utf8(s.body).unwrap();
    assert!(
        body.ends_with(
            "<Request><Subjects><Code>A&amp;B</Code><Code>C</Code></Subjects></Request>"
        ),
        "{body}"
    );
    assert_eq!(XiamenV1.sanctions_batch_limit(), 20);
}
