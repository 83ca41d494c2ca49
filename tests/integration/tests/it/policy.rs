//! The policy on every request: scope, purpose and section refusals in the
//! SPEC's order, masking by profile, and atomic hot reload.

use super::scan;
use credgate_integration::Harness;
use std::time::{Duration, Instant};

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test]
async fn bank_refusals_follow_the_spec_order() {
    let h = Harness::start().await;
    let bank = h.client("bank-nb");
    let nb = h.enterprise_of("xinyong-ningbo");
    let report = format!("/v1/enterprises/{nb}/report");
    // Section outside the bank's scope: denied, not dropped.
    let r = bank
        .get(
            &format!("{report}?sections=basic,redlist"),
            &[("x-credit-purpose", "loan_underwriting")],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (403, "scope_denied")
    );
    // A purpose the bank may not use.
    let r = bank
        .get(&report, &[("x-credit-purpose", "administrative_approval")])
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (403, "purpose_not_allowed")
    );
    // No purpose.
    let r = bank.get(&report, &[]).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "purpose_required")
    );
    // Request shape comes before purpose: a bad identifier without a purpose.
    let r = bank.get("/v1/enterprises/nonsense/report", &[]).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "invalid_subject_id")
    );
    // In scope and purpose, but the enterprise's authorization is required.
    let r = bank
        .get(&report, &[("x-credit-purpose", "loan_underwriting")])
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (401, "authorization_required")
    );
    assert_eq!(
        h.total_sim_requests().await,
        0,
        "no refusal reached a platform"
    );
}

#[tokio::test]
async fn department_sees_only_its_profile_with_personal_fields_masked() {
    let h = Harness::start().await;
    let policy = h.gw().policy.current();
    let dept = policy.client("dept-nb").unwrap();
    let profile = dept.profile().clone();
    let nb = h.enterprise_of("xinyong-ningbo");
    let r = h
        .client("dept-nb")
        .get(
            &format!("/v1/enterprises/{nb}/report"),
            &[("x-credit-purpose", "administrative_approval")],
        )
        .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    // Every leaf under each section's data is a path the profile returns.
    let mut leaves = Vec::new();
    for (name, s) in v["sections"].as_object().unwrap() {
        collect_leaves(&s["data"], name.clone(), &mut leaves);
    }
    assert!(!leaves.is_empty());
    for path in &leaves {
        let t = profile.returned(path);
        assert!(t.is_some(), "{path} is not in dept-nb's profile");
    }
    let text = String::from_utf8_lossy(&r.body);
    assert!(scan::id_numbers(&text).is_empty());
    assert!(scan::mobiles(&text).is_empty());
}

fn collect_leaves(v: &serde_json::Value, path: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                collect_leaves(x, format!("{path}.{k}"), out);
            }
        }
        serde_json::Value::Array(a) => {
            for x in a {
                collect_leaves(x, format!("{path}[]"), out);
            }
        }
        serde_json::Value::Null => {}
        _ => out.push(path),
    }
}

#[tokio::test]
async fn policy_reload_is_atomic_and_a_broken_file_keeps_the_old_policy() {
    let h = Harness::start().await;
    let store = h.gw().policy.clone();
    let path = h.dir.path().join("policy.toml");
    let original = std::fs::read_to_string(&path).unwrap();
    let dept = h.client("dept-nb");
    let nb = h.enterprise_of("xinyong-ningbo");
    let report = format!("/v1/enterprises/{nb}/report?sections=basic");
    let purpose = [("x-credit-purpose", "administrative_approval")];
    assert_eq!(dept.get(&report, &purpose).await.status, 200);

    // A broken file: the old policy stays in force and the failure is counted.
    std::fs::write(&path, format!("{original}\n[[clients]]\nid = \"broken\"\n")).unwrap();
    eventually("failed reload counted", || store.reloads_failed() >= 1).await;
    assert_eq!(
        dept.get(&report, &purpose).await.status,
        200,
        "old policy still serves"
    );

    // Remove dept-nb's report grant: the next request is refused.
    let without = remove_grant(&original, "dept-nb", "enterprise.report");
    assert_ne!(without, original, "the edit changed the policy");
    let ok_before = store.reloads_ok();
    std::fs::write(&path, without).unwrap();
    eventually("reload applied", || store.reloads_ok() > ok_before).await;
    let r = dept.get(&report, &purpose).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (403, "scope_denied")
    );
}

/// Removes the `[[clients.grants]]` block for `scope` from client `client`.
fn remove_grant(policy: &str, client: &str, scope: &str) -> String {
    let mut out = Vec::new();
    let mut in_client = false;
    let mut skipping = false;
    for line in policy.lines() {
        let t = line.trim();
        if t == "[[clients]]" {
            in_client = false;
            skipping = false;
        }
        if t.starts_with("id = ") && t.contains(&format!("\"{client}\"")) {
            in_client = true;
        }
        if t.starts_with("[[clients.grants]]") || (t.starts_with('[') && t != "[[clients.grants]]")
        {
            skipping = false;
        }
        if in_client && t.starts_with("scope = ") && t.contains(&format!("\"{scope}\"")) {
            // Drop this grant: remove the header we already pushed.
            if let Some(pos) = out
                .iter()
                .rposition(|l: &String| l.trim() == "[[clients.grants]]")
            {
                out.truncate(pos);
            }
            skipping = true;
            continue;
        }
        if !skipping {
            out.push(line.to_owned());
        }
    }
    out.join("\n") + "\n"
}

/// `hash` pseudonyms are keyed per client: two clients reading the same
/// enterprise get different pseudonyms of its legal representative's ID
/// number, each stable for its client, and neither can be matched against
/// the audit log's pseudonym of that person.
#[tokio::test]
async fn hash_pseudonyms_are_per_client_and_apart_from_the_audit_log() {
    let policy = credgate_policy::DEMO_POLICY.replace(
        "\"basic.legal_representative.id_number\" = \"mask_id\"",
        "\"basic.legal_representative.id_number\" = \"hash\"",
    );
    let h = Harness::start_with(credgate_integration::Options {
        policy: Some(policy),
        ..Default::default()
    })
    .await;
    let uscc = h.enterprise_of("xinyong-ningbo");
    let path = h.basic_report_path("xinyong-ningbo");
    let pseudonym_in = |r: credgate_integration::Reply| {
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()["sections"]["basic"]["data"]["legal_representative"]["id_number"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let dept = h.client("dept-nb");
    let approval = [("x-credit-purpose", "administrative_approval")];
    let first = pseudonym_in(dept.get(&path, &approval).await);
    assert!(first.starts_with("h:") && first.len() == 34, "{first}");
    assert_eq!(first, pseudonym_in(dept.get(&path, &approval).await));
    let token = h.token(&uscc, "bank-nb", "enterprise.report", "loan_underwriting");
    let bank = pseudonym_in(
        h.client("bank-nb")
            .get(
                &path,
                &[
                    ("x-credit-purpose", "loan_underwriting"),
                    ("x-credit-authorization", token.as_str()),
                ],
            )
            .await,
    );
    assert!(bank.starts_with("h:"), "{bank}");
    assert_ne!(first, bank, "two clients got the same pseudonym");
    // The audit log's pseudonym of the same person (as a subject).
    let data = credgate_sim::Dataset::generate(credgate_integration::SEED);
    let id = data
        .enterprise(&uscc)
        .and_then(|e| e.basic.legal_representative.id_number.clone())
        .unwrap();
    let key = std::fs::read(h.certs().join("pseudonym.key")).unwrap();
    let audit = credgate_audit::pseudonym(&key, &id);
    for ours in [&first, &bank] {
        assert!(!audit.contains(&ours[2..]), "{ours} matches {audit}");
    }
}
