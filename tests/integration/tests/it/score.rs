//! Score recognition (信用分互认) end to end: for every scored person in
//! `samples.json`, both a Hangzhou peer (home scheme 钱江分) and a Ningbo
//! peer (home scheme 天一分) get the native tier, the common tier and their
//! own home tier — checked against an independent table written here.

use credgate_certs::{issue_client_cert, Validity};
use credgate_integration::{Harness, Options};

/// (scheme, from, from_inclusive, to, to_inclusive, native tier, level)
const TABLE: &[(&str, f64, bool, f64, bool, &str, u8)] = &[
    ("qianjiang", 0.0, true, 550.0, false, "较差", 5),
    ("qianjiang", 550.0, true, 600.0, false, "中等", 4),
    ("qianjiang", 600.0, true, 700.0, false, "良好", 3),
    ("qianjiang", 700.0, true, 750.0, true, "优秀", 2),
    ("qianjiang", 750.0, false, 1000.0, true, "极好", 1),
    ("tianyi", 0.0, true, 60.0, false, "待提升", 5),
    ("tianyi", 60.0, true, 90.0, false, "一般", 4),
    ("tianyi", 90.0, true, 120.0, false, "良好", 3),
    ("tianyi", 120.0, true, 150.0, false, "优秀", 2),
    ("tianyi", 150.0, true, 200.0, true, "卓越", 1),
    ("bailu", 300.0, true, 500.0, false, "较差", 5),
    ("bailu", 500.0, true, 600.0, false, "一般", 4),
    ("bailu", 600.0, true, 700.0, false, "良好", 3),
    ("bailu", 700.0, true, 800.0, false, "优秀", 2),
    ("bailu", 800.0, true, 900.0, true, "极好", 1),
];
const COMMON: [&str; 5] = ["excellent", "good", "medium", "fair", "poor"];

fn expected(scheme: &str, v: f64) -> (&'static str, u8) {
    let hits: Vec<_> = TABLE
        .iter()
        .filter(|t| t.0 == scheme)
        .filter(|t| {
            (if t.2 { v >= t.1 } else { v > t.1 }) && (if t.4 { v <= t.3 } else { v < t.3 })
        })
        .collect();
    assert_eq!(hits.len(), 1, "{scheme} {v}");
    (hits[0].5, hits[0].6)
}

fn home_tier(scheme: &str, level: u8) -> &'static str {
    TABLE
        .iter()
        .find(|t| t.0 == scheme && t.6 == level)
        .unwrap()
        .5
}

const PEER_NB: &str = r#"
[[clients]]
id = "peer-nb"
display_name = "宁波市公共信用信息平台"
kind = "peer_platform"
home_scheme = "tianyi"
profile = "peer-score"
match = { uri_san = "spiffe://credgate.dev/client/peer-nb" }

  [[clients.grants]]
  scope = "person.score"
  purposes = ["score_recognition"]
  authorization = "required"
"#;

#[tokio::test]
async fn every_scored_person_is_recognised_on_both_sides() {
    let h = Harness::start_with(Options {
        policy: Some(format!("{}\n{PEER_NB}", credgate_policy::DEMO_POLICY)),
        ..Options::default()
    })
    .await;
    let certs = h.certs();
    let ca = std::fs::read_to_string(certs.join("ca.crt")).unwrap();
    let ca_key = std::fs::read_to_string(certs.join("ca.key")).unwrap();
    let pair = issue_client_cert(&ca, &ca_key, "peer-nb", Validity::Normal).unwrap();
    std::fs::write(certs.join("clients/peer-nb.crt"), &pair.cert_pem).unwrap();
    std::fs::write(certs.join("clients/peer-nb.key"), &pair.key_pem).unwrap();
    let sides = [("peer-hz", "qianjiang"), ("peer-nb", "tianyi")];
    let purpose = ("x-credit-purpose", "score_recognition");
    let mut checked = 0;
    let mut platforms = std::collections::BTreeSet::new();
    for p in h.samples["persons"].as_array().unwrap() {
        let id = p["id"].as_str().unwrap();
        for (client, home) in sides {
            let token = h.token(id, client, "person.score", "score_recognition");
            let r = h
                .client(client)
                .get(
                    &format!("/v1/persons/{id}/score"),
                    &[purpose, ("x-credit-authorization", &token)],
                )
                .await;
            let Some(value) = p["score"].as_f64() else {
                // No home platform issues a score for this person.
                assert_eq!(r.status, 404, "{}", String::from_utf8_lossy(&r.body));
                continue;
            };
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            let v = r.json();
            let scheme = p["scheme"].as_str().unwrap();
            let (native, level) = expected(scheme, value);
            let s = &v["score"];
            assert_eq!(s["scheme"], scheme);
            assert_eq!(s["value"].as_f64().unwrap(), value);
            assert_eq!(s["issuer"], p["platform"]);
            assert_eq!(s["native_tier"], native, "{scheme} {value}");
            assert_eq!(
                s["common_tier"],
                COMMON[usize::from(level - 1)],
                "{scheme} {value}"
            );
            assert_eq!(
                s["home_tier"],
                home_tier(home, level),
                "{scheme} {value} seen from {home}"
            );
            checked += 1;
            platforms.insert(p["platform"].as_str().unwrap().to_owned());
        }
    }
    assert!(
        platforms.contains("hangzhou") && platforms.contains("xinyong-ningbo"),
        "{platforms:?}"
    );
    assert!(checked >= 20, "checked {checked}");
    // The 钱江分 boundaries are all exercised by the sample data.
    let values: Vec<f64> = h.samples["persons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["scheme"] == "qianjiang")
        .filter_map(|p| p["score"].as_f64())
        .collect();
    for b in [549.0, 550.0, 599.0, 600.0, 700.0, 750.0, 751.0] {
        assert!(values.contains(&b), "samples lack 钱江分 {b}");
    }
}

/// 17 digits and their check character.
fn with_check(first17: &str) -> String {
    let check = credgate_policy::ids::IdNumber::compute_check(first17).unwrap();
    format!("{first17}{check}")
}

#[tokio::test]
async fn an_enterprise_code_for_a_score_is_named_as_such() {
    let h = Harness::start().await;
    let uscc = h.enterprise_of("xinyong-ningbo");
    let r = h
        .client("peer-hz")
        .get(
            &format!("/v1/persons/{uscc}/score"),
            &[("x-credit-purpose", "score_recognition")],
        )
        .await;
    assert_eq!(r.code(), "invalid_subject_id");
    let detail = r.json()["detail"].as_str().unwrap_or_default().to_owned();
    assert!(detail.contains("a USCC"), "{detail}");
    assert!(!detail.contains(&uscc), "the code is not echoed: {detail}");
}

#[tokio::test]
async fn an_id_number_born_in_the_future_is_invalid_and_never_reaches_a_platform() {
    // SPEC §3: positions 7–14 are "a valid birth date"; a bad identifier
    // is `400 invalid_subject_id` and never reaches an upstream.
    let h = Harness::start().await;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Two years on from roughly now: surely in the future.
    let year = 1970 + secs / 31_556_952 + 2;
    let future = with_check(&format!("330203{year}0101583"));
    let token = h.token(&future, "peer-hz", "person.score", "score_recognition");
    h.clear_sim_requests().await;
    let r = h
        .client("peer-hz")
        .get(
            &format!("/v1/persons/{future}/score"),
            &[
                ("x-credit-purpose", "score_recognition"),
                ("x-credit-authorization", &token),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.code(), "invalid_subject_id");
    // In a batch it is an invalid item, asked of no platform.
    let body = serde_json::json!({ "subjects": [future] }).to_string();
    let r = h
        .client("dept-nb")
        .post(
            "/v1/sanctions/check",
            &[
                ("x-credit-purpose", "administrative_approval"),
                ("content-type", "application/json"),
            ],
            body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["results"][0]["status"], "invalid");
    assert_eq!(h.total_sim_requests().await, 0);
    // A person born in the past with the same division is a valid
    // identifier (the platform answers, found or not).
    let past = with_check("33020319900101583");
    let token = h.token(&past, "peer-hz", "person.score", "score_recognition");
    let r = h
        .client("peer-hz")
        .get(
            &format!("/v1/persons/{past}/score"),
            &[
                ("x-credit-purpose", "score_recognition"),
                ("x-credit-authorization", &token),
            ],
        )
        .await;
    assert_ne!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert!(h.total_sim_requests().await > 0);
    // The endpoint takes no query parameters.
    h.clear_sim_requests().await;
    let r = h
        .client("peer-hz")
        .get(
            &format!("/v1/persons/{past}/score?debug=1"),
            &[
                ("x-credit-purpose", "score_recognition"),
                ("x-credit-authorization", &token),
            ],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "invalid_request"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(h.total_sim_requests().await, 0);
}
