use super::*;
use http::Method;

fn ds() -> Dataset {
    Dataset::generate(11)
}

fn first_of(ds: &Dataset, p: PlatformId) -> String {
    ds.enterprises()
        .iter()
        .find(|e| e.platform == p)
        .map(|e| e.uscc.clone())
        .unwrap_or_default()
}

#[test]
fn routes_each_format() {
    let r = route(
        PlatformId::Ningbo,
        &Method::GET,
        "/api/v1/enterprise/91X/credit",
        Some("modules=jbxx,xzcf"),
        b"",
    );
    assert_eq!(
        r,
        SimRequest::Report {
            uscc: "91X".into(),
            sections: vec![Section::Basic, Section::Penalties]
        }
    );
    let r = route(
        PlatformId::Ningbo,
        &Method::POST,
        "/api/v1/lhjc/batch",
        None,
        br#"{"ztList":["a","b"]}"#,
    );
    assert_eq!(
        r,
        SimRequest::Sanctions {
            subjects: vec!["A".into(), "B".into()]
        }
    );
    let body =
        br#"{"service":"credit.report","tyshxydm":"91x","items":["base_info","credit_repair"]}"#;
    let r = route(
        PlatformId::Zhejiang,
        &Method::POST,
        "/gateway/v2/query",
        None,
        body,
    );
    assert_eq!(
        r,
        SimRequest::Report {
            uscc: "91X".into(),
            sections: vec![Section::Basic, Section::Repairs]
        }
    );
    let r = route(
        PlatformId::Hangzhou,
        &Method::GET,
        "/hz/credit/v1/lhjc",
        Some("zjhm=33010319800101001x"),
        b"",
    );
    assert_eq!(
        r,
        SimRequest::Sanctions {
            subjects: vec!["33010319800101001X".into()]
        }
    );
    let r = route(
        PlatformId::Xiamen,
        &Method::GET,
        "/xmcredit/report",
        Some("code=91A&sections=JBXX%2CPJXX"),
        b"",
    );
    assert_eq!(
        r,
        SimRequest::Report {
            uscc: "91A".into(),
            sections: vec![Section::Basic, Section::Evaluation]
        }
    );
    let body = b"<Request><Subjects><Code>a</Code><Code>B</Code></Subjects></Request>";
    let r = route(
        PlatformId::Xiamen,
        &Method::POST,
        "/xmcredit/lhjc",
        None,
        body,
    );
    assert_eq!(
        r,
        SimRequest::Sanctions {
            subjects: vec!["A".into(), "B".into()]
        }
    );
    for p in PlatformId::ALL {
        assert!(matches!(
            route(p, &Method::GET, "/nope", None, b""),
            SimRequest::Invalid(_)
        ));
    }
    let too_many = serde_json::json!({ "ztList": vec!["X"; 51] }).to_string();
    let r = route(
        PlatformId::Ningbo,
        &Method::POST,
        "/api/v1/lhjc/batch",
        None,
        too_many.as_bytes(),
    );
    assert!(matches!(
        r,
        SimRequest::Invalid(Rendered { status: 400, .. })
    ));
}

#[test]
fn reports_render_and_not_found() {
    let ds = ds();
    let nb = first_of(&ds, PlatformId::Ningbo);
    let r = report(&ds, PlatformId::Ningbo, &nb, &Section::ALL);
    let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
    assert_eq!(v["code"], "0000");
    assert_eq!(v["data"]["jbxx"]["tyshxydm"], nb.as_str());
    let r = report(&ds, PlatformId::Hangzhou, &nb, &Section::ALL);
    let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
    assert_eq!(v["status"], 404);
    let r = report(&ds, PlatformId::Zhejiang, &nb, &[Section::Basic]);
    let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
    assert_eq!(v["result"]["base_info"]["credit_code"], nb.as_str());
    assert!(v["result"].get("admin_penalty").is_none());
    let xm = first_of(&ds, PlatformId::Xiamen);
    let r = report(&ds, PlatformId::Xiamen, &xm, &Section::ALL);
    let text = String::from_utf8_lossy(&r.body).into_owned();
    assert!(
        text.contains("<Code>00</Code>")
            && text.contains(&format!("<CreditCode>{xm}</CreditCode>"))
    );
    assert_eq!(r.content_type, XML);
}

#[test]
fn malformed_is_not_parseable() {
    let ds = ds();
    let nb = first_of(&ds, PlatformId::Ningbo);
    let good = report(&ds, PlatformId::Ningbo, &nb, &Section::ALL);
    let bad = malformed(&good);
    assert!(serde_json::from_slice::<Value>(&good.body).is_ok());
    assert!(serde_json::from_slice::<Value>(&bad.body).is_err());
}
