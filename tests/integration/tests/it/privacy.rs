//! No response of any endpoint, to any demo client, carries a valid ID
//! number or a mobile number in clear — whatever the client may or may not
//! do (refusals are scanned too) — except the sanctions results' echo of
//! the subjects the caller itself sent (SPEC §4: "as given").

use super::scan;
use credgate_integration::Harness;
use serde_json::json;

#[tokio::test]
async fn no_endpoint_leaks_id_numbers_or_mobiles_to_any_client() {
    let h = Harness::start().await;
    let enterprises = samples(&h, "enterprises", "uscc");
    let persons = samples(&h, "persons", "id");
    let clients = [
        ("bank-nb", "loan_underwriting"),
        ("dept-nb", "administrative_approval"),
        ("peer-hz", "score_recognition"),
        ("auditor", "audit_review"),
    ];
    let mut bodies = 0;
    let mut ok = 0;
    for (client, purpose) in clients {
        let c = h.client(client);
        for uscc in enterprises.iter().take(12) {
            let t = h.token(uscc, client, "enterprise.report", purpose);
            let r = c
                .get(
                    &format!("/v1/enterprises/{uscc}/report"),
                    &[
                        ("x-credit-purpose", purpose),
                        ("x-credit-authorization", &t),
                    ],
                )
                .await;
            ok += usize::from(r.status == 200);
            check(&r.body);
            bodies += 1;
        }
        for id in persons.iter().take(12) {
            let t = h.token(id, client, "person.score", purpose);
            let r = c
                .get(
                    &format!("/v1/persons/{id}/score"),
                    &[
                        ("x-credit-purpose", purpose),
                        ("x-credit-authorization", &t),
                    ],
                )
                .await;
            ok += usize::from(r.status == 200);
            check(&r.body);
            bodies += 1;
        }
        let batch: Vec<&String> = enterprises
            .iter()
            .take(6)
            .chain(persons.iter().take(6))
            .collect();
        let r = c
            .post(
                "/v1/sanctions/check",
                &[
                    ("x-credit-purpose", purpose),
                    ("content-type", "application/json"),
                ],
                json!({ "subjects": batch }).to_string(),
            )
            .await;
        ok += usize::from(r.status == 200);
        // Each result echoes the subject as given (SPEC §4): the caller's
        // own input. Apart from those echoes, no ID number.
        let mut text = String::from_utf8_lossy(&r.body).into_owned();
        for given in &batch {
            text = text.replace(
                &format!("\"subject\":\"{given}\""),
                "\"subject\":\"(given)\"",
            );
        }
        check(text.as_bytes());
        bodies += 1;
    }
    assert!(
        bodies > 90 && ok > 30,
        "{ok} of {bodies} answered with data"
    );
}

/// The `field` of every sample subject of `kind` (`samples.json`).
fn samples(h: &Harness, kind: &str, field: &str) -> Vec<String> {
    h.samples[kind]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[field].as_str().unwrap().to_owned())
        .collect()
}

fn check(body: &[u8]) {
    let text = String::from_utf8_lossy(body);
    assert_eq!(
        scan::id_numbers(&text),
        Vec::<String>::new(),
        "ID number in {text}"
    );
    assert_eq!(
        scan::mobiles(&text),
        Vec::<String>::new(),
        "mobile in {text}"
    );
}

/// A subject's ID number sent where a query parameter's name or a section
/// goes is not echoed back in the problem detail, nor is a long query
/// (privacy review); a name that looks like a parameter still is.
#[tokio::test]
async fn problem_details_do_not_echo_identifiers_from_the_query() {
    let h = Harness::start().await;
    let persons = samples(&h, "persons", "id");
    let other = &persons[1];
    let uscc = h.samples["enterprises"][0]["uscc"].as_str().unwrap();
    let dept = h.client("dept-nb");
    let auditor = h.client("auditor");
    let approval = [("x-credit-purpose", "administrative_approval")];
    let review = [("x-credit-purpose", "audit_review")];
    let long = "a".repeat(5000);
    for (client, headers, path) in [
        (
            &dept,
            &approval,
            format!("/v1/enterprises/{uscc}/report?{other}=1"),
        ),
        (
            &dept,
            &approval,
            format!("/v1/enterprises/{uscc}/report?sections=basic,{other}"),
        ),
        (
            &dept,
            &approval,
            format!("/v1/enterprises/{uscc}/report?{long}=1"),
        ),
        (&auditor, &review, format!("/v1/audit/records?{other}=1")),
        (
            &auditor,
            &review,
            format!("/v1/audit/records?{other}=1&{other}=2"),
        ),
        (&auditor, &review, format!("/v1/audit/checkpoint?{other}")),
    ] {
        let r = client.get(&path, headers).await;
        assert_eq!(r.status, 400, "{path}");
        let text = String::from_utf8_lossy(&r.body);
        assert!(!text.contains(other.as_str()), "{path}: {text}");
        assert!(!text.contains(&long[..100]), "{path}: {text}");
        assert!(text.contains("not shown"), "{path}: {text}");
    }
    let r = dept
        .get(&format!("/v1/enterprises/{uscc}/report?bogus=1"), &approval)
        .await;
    assert!(String::from_utf8_lossy(&r.body).contains("\\\"bogus\\\""));
}
