//! The audit log through the gateway (SPEC §4, §8): a durable record per
//! request before the answer, 503 with no data when it cannot be written,
//! the auditor API with independently verified proofs, the subject's own
//! access log, and no raw identifier anywhere in the audit files.

use super::rfc9162::{leaf, unhex, verify_consistency, verify_inclusion};
use credgate_integration::{eventually, Harness, Options};
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::time::Duration;

const APPROVAL: (&str, &str) = ("x-credit-purpose", "administrative_approval");
const REVIEW: (&str, &str) = ("x-credit-purpose", "audit_review");

fn seq(r: &credgate_integration::Reply) -> u64 {
    r.headers["x-audit-seq"].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn every_request_is_recorded_before_it_is_answered() {
    let h = Harness::start().await;
    let dept = h.client("dept-nb");
    let nb = h.enterprise_of("xinyong-ningbo");
    let ok = dept
        .get(
            &format!("/v1/enterprises/{nb}/report?sections=basic,penalties"),
            &[APPROVAL],
        )
        .await;
    assert_eq!(ok.status, 200);
    let refused = dept.get(&format!("/v1/enterprises/{nb}/report"), &[]).await;
    assert_eq!(refused.code(), "purpose_required");
    let (a, b) = (seq(&ok), seq(&refused));
    assert!(b > a, "seqs increase: {a} {b}");

    let auditor = h.client("auditor");
    let r = auditor
        .get("/v1/audit/records?client=dept-nb&limit=10", &[REVIEW])
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let records = r.json()["records"].as_array().unwrap().clone();
    let rec = |s: u64| records.iter().find(|x| x["seq"] == s).cloned().unwrap();
    let allowed = rec(a);
    assert_eq!(allowed["decision"], "allow");
    assert_eq!(allowed["reason"], "ok");
    assert_eq!(allowed["endpoint"], "/v1/enterprises/{uscc}/report");
    assert_eq!(allowed["purpose"], "administrative_approval");
    assert_eq!(
        allowed["sections"],
        serde_json::json!(["basic", "penalties"])
    );
    assert_eq!(allowed["subject_region"], nb[2..8]);
    assert!(allowed["profile_digest"].as_str().unwrap().len() == 64);
    assert!(allowed["fields_masked"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "basic.legal_representative.id_number"));
    assert_eq!(allowed["upstreams"][0]["name"], "xinyong-ningbo");
    assert_eq!(allowed["upstreams"][0]["outcome"], "ok");
    assert_eq!(allowed["trace_id"].as_str().unwrap().len(), 32);
    let denied = rec(b);
    assert_eq!(
        (denied["decision"].as_str(), denied["reason"].as_str()),
        (Some("deny"), Some("purpose_required"))
    );
    // Search by the raw subject: credgate turns it into the pseudonym.
    let r = auditor
        .get(
            &format!("/v1/audit/records?subject={nb}&decision=allow"),
            &[REVIEW],
        )
        .await;
    let by_subject = r.json()["records"].as_array().unwrap().clone();
    assert_eq!(by_subject.len(), 1);
    assert_eq!(by_subject[0]["seq"], a);
    assert_ne!(by_subject[0]["subject_pseudonym"], nb.as_str());
    // That search read the subject's query history: its own record names
    // the subject by the same pseudonym, so a later search finds it too.
    let search = seq(&r);
    let r = auditor
        .get(
            &format!("/v1/audit/records?subject={nb}&decision=allow"),
            &[REVIEW],
        )
        .await;
    let again = r.json()["records"].as_array().unwrap().clone();
    assert_eq!(again.len(), 2, "{again:?}");
    let searched = again.iter().find(|x| x["seq"] == search).unwrap();
    assert_eq!(searched["client_id"], "auditor");
    assert_eq!(searched["endpoint"], "/v1/audit/records");
    assert_eq!(
        searched["subject_pseudonym"],
        by_subject[0]["subject_pseudonym"]
    );
    assert_eq!(searched["subject_region"], nb[2..8]);
    // A malformed proof number is refused, and its record names the endpoint.
    let r = auditor.get("/v1/audit/proof/abc", &[REVIEW]).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (400, "invalid_request")
    );
    let bad = seq(&r);
    let r = auditor
        .get("/v1/audit/records?client=auditor&limit=10", &[REVIEW])
        .await;
    let mine = r.json()["records"].as_array().unwrap().clone();
    let bad = mine.iter().find(|x| x["seq"] == bad).unwrap();
    assert_eq!(bad["endpoint"], "/v1/audit/proof/{seq}");
    assert_eq!(bad["reason"], "invalid_request");
    // Numbers are digits: no sign, no zero cursor (no page ends at seq 1
    // with a next one), as the API writes them.
    for path in [
        "/v1/audit/proof/+1",
        "/v1/audit/proof/1?size=+2",
        "/v1/audit/records?cursor=0",
        "/v1/audit/records?cursor=+3",
        "/v1/audit/records?limit=+1",
        "/v1/audit/consistency?from=+1&to=2",
    ] {
        let r = auditor.get(path, &[REVIEW]).await;
        assert_eq!(
            (r.status.as_u16(), r.code().as_str()),
            (400, "invalid_request"),
            "{path}"
        );
    }
    // Only auditors read the log; the refusal is audited too.
    let r = h
        .client("dept-nb")
        .get("/v1/audit/records", &[APPROVAL])
        .await;
    assert_eq!(r.code(), "scope_denied");
    // The auditor's own queries are records as well.
    let r = auditor
        .get("/v1/audit/records?client=auditor", &[REVIEW])
        .await;
    assert!(!r.json()["records"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn no_data_leaves_when_the_record_cannot_be_written_and_service_recovers() {
    let h = Harness::start().await;
    let dept = h.client("dept-nb");
    let nb = h.enterprise_of("xinyong-ningbo");
    let path = format!("/v1/enterprises/{nb}/report?sections=basic");
    let switch = h.gw().audit.danger_fail_writes_for_tests().clone();
    switch.store(true, Ordering::SeqCst);
    let r = dept.get(&path, &[APPROVAL]).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (503, "audit_unavailable")
    );
    assert!(r.headers.get("x-audit-seq").is_none());
    let text = String::from_utf8_lossy(&r.body);
    assert!(
        !text.contains("sections") && !text.contains("legal_representative"),
        "no data: {text}"
    );
    // Counted as what the client got, not as the handler's decision.
    let text = h.metrics_text().await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("credgate_requests_total")
                && l.contains("decision=\"audit_unavailable\"")
                && l.ends_with(" 1")),
        "{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("credgate_requests_total")
                && l.contains("client=\"dept-nb\"")
                && l.contains("decision=\"ok\"")),
        "{text}"
    );
    switch.store(false, Ordering::SeqCst);
    let r = dept.get(&path, &[APPROVAL]).await;
    assert_eq!(r.status, 200);
    assert!(seq(&r) >= 1);
}

/// A disk that hangs (no error, no answer) is a refusal too: after the
/// write timeout the request gets `503 audit_unavailable` and no data, and
/// `/readyz` says not ready while the write hangs; both recover with it.
#[tokio::test]
async fn a_hung_audit_write_times_out_closed_and_turns_the_replica_not_ready() {
    let h = Harness::start_with(Options {
        audit_extra: "write_timeout_ms = 300".into(),
        ..Options::default()
    })
    .await;
    let dept = h.client("dept-nb");
    let nb = h.enterprise_of("xinyong-ningbo");
    let path = format!("/v1/enterprises/{nb}/report?sections=basic");
    let admin = h.gw().admin_addr.expect("an admin listener");
    let ready = || async move {
        let (status, body) =
            credgate_integration::plain(admin, http::Method::GET, "/readyz", None).await;
        (status.as_u16(), String::from_utf8_lossy(&body).into_owned())
    };
    assert_eq!(ready().await.0, 200);
    let stall = h.gw().audit.danger_stall_writes_for_tests().clone();
    stall.store(true, Ordering::SeqCst);
    let started = std::time::Instant::now();
    let r = dept.get(&path, &[APPROVAL]).await;
    let took = started.elapsed();
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (503, "audit_unavailable"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(r.headers.get("x-audit-seq").is_none());
    assert!(!String::from_utf8_lossy(&r.body).contains("sections"));
    // The write is still hung: not ready, and says why.
    let (status, body) = ready().await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"failing\":true"), "{body}");
    // A single-use authorization spent on a request whose record timed
    // out stays spent: the record may still land, saying it was answered.
    let (_, once) = h.single_use_report();
    let bank = h.client("bank-nb");
    let lending = [
        ("x-credit-purpose", "loan_underwriting"),
        ("x-credit-authorization", once.as_str()),
    ];
    let r = bank.get(&path, &lending).await;
    assert_eq!(r.code(), "audit_unavailable");
    stall.store(false, Ordering::SeqCst);
    eventually("ready again", async || ready().await.0 == 200).await;
    let r = dept.get(&path, &[APPROVAL]).await;
    assert_eq!(r.status, 200);
    let r = bank.get(&path, &lending).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (403, "authorization_exhausted")
    );
}

#[tokio::test]
async fn proofs_verify_independently_and_the_subject_sees_who_queried_it() {
    let h = Harness::start().await;
    let nb = h.enterprise_of("xinyong-ningbo");
    let dept = h.client("dept-nb");
    for _ in 0..2 {
        assert_eq!(
            dept.get(
                &format!("/v1/enterprises/{nb}/report?sections=basic"),
                &[APPROVAL]
            )
            .await
            .status,
            200
        );
    }
    let t = h.token(&nb, "bank-nb", "enterprise.report", "loan_underwriting");
    let r = h
        .client("bank-nb")
        .get(
            &format!("/v1/enterprises/{nb}/report?sections=basic"),
            &[
                ("x-credit-purpose", "loan_underwriting"),
                ("x-credit-authorization", &t),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    // Noise about other subjects.
    let hz = h.enterprise_of("hangzhou");
    assert_eq!(
        dept.get(
            &format!("/v1/enterprises/{hz}/report?sections=basic"),
            &[APPROVAL]
        )
        .await
        .status,
        200
    );

    // The subject's own record, through its platform with its authorization.
    let t = h.token(&nb, "peer-hz", "self.access_log", "subject_request");
    let r = h
        .client("peer-hz")
        .get(
            &format!("/v1/subjects/{nb}/access-log"),
            &[
                ("x-credit-purpose", "subject_request"),
                ("x-credit-authorization", &t),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    // The answer names the replica whose log it covers.
    assert_eq!(v["replica"], v["checkpoint"]["replica"]);
    assert!(v["replica"].as_str().is_some_and(|r| !r.is_empty()), "{v}");
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{v}");
    // Pages: limit=1 gives the newest and a cursor; limit=0 is refused, as
    // on /v1/audit/records. (Reads of the access log are in it too.)
    for (query, status, count) in [
        ("limit=1", 200, Some(1)),
        ("limit=0", 400, None),
        ("limit=+1", 400, None),
        ("cursor=0", 400, None),
    ] {
        let r = h
            .client("peer-hz")
            .get(
                &format!("/v1/subjects/{nb}/access-log?{query}"),
                &[
                    ("x-credit-purpose", "subject_request"),
                    ("x-credit-authorization", &t),
                ],
            )
            .await;
        assert_eq!(
            r.status,
            status,
            "{query}: {}",
            String::from_utf8_lossy(&r.body)
        );
        if let Some(n) = count {
            let page = r.json();
            assert_eq!(page["entries"].as_array().unwrap().len(), n, "{page}");
            // The newest: the access-log read just before this one.
            assert_eq!(
                page["entries"][0]["endpoint"],
                "/v1/subjects/{id}/access-log"
            );
            assert!(page["next_cursor"].is_u64(), "{page}");
        } else {
            assert_eq!(r.code(), "invalid_request");
        }
    }
    let who: Vec<&str> = entries
        .iter()
        .map(|e| e["client"].as_str().unwrap())
        .collect();
    assert_eq!(
        who.iter().filter(|w| **w == "宁波市示例审批部门").count(),
        2
    );
    assert_eq!(who.iter().filter(|w| **w == "宁波示例银行").count(), 1);
    assert!(entries
        .iter()
        .all(|e| e["purpose"].is_string() && e["sections"] == serde_json::json!(["basic"])));
    // Each entry proves its inclusion in the signed checkpoint.
    let cp = &v["checkpoint"];
    let size = cp["tree_size"].as_u64().unwrap();
    let root = unhex(cp["root_hash"].as_str().unwrap());
    assert!(verify_checkpoint_signature(cp));
    for e in entries {
        let record = e["record"].as_str().unwrap();
        let l = leaf(record.as_bytes());
        assert_eq!(hex::encode(l), e["leaf_hash"].as_str().unwrap());
        let proof = hexes(&e["inclusion_proof"]);
        let s = e["seq"].as_u64().unwrap();
        assert!(
            verify_inclusion(s - 1, size, &l, &proof, &root),
            "entry {s} proves"
        );
        // A wrong leaf does not.
        assert!(!verify_inclusion(
            s - 1,
            size,
            &leaf(b"forged"),
            &proof,
            &root
        ));
    }

    // Auditor proofs: inclusion and consistency, checked independently.
    let auditor = h.client("auditor");
    let cp1 = auditor.get("/v1/audit/checkpoint", &[REVIEW]).await.json();
    let n = cp1["tree_size"].as_u64().unwrap();
    assert!(
        n >= 4,
        "the checkpoint written for the access log covers the 4 queries"
    );
    let p = auditor
        .get(&format!("/v1/audit/proof/2?size={n}"), &[REVIEW])
        .await
        .json();
    let proof = hexes(&p["proof"]);
    assert!(verify_inclusion(
        1,
        n,
        &unhex(p["leaf_hash"].as_str().unwrap()),
        &proof,
        &unhex(cp1["root_hash"].as_str().unwrap())
    ));
    let c = auditor
        .get(&format!("/v1/audit/consistency?from=3&to={n}"), &[REVIEW])
        .await
        .json();
    let proof = hexes(&c["proof"]);
    let (r3, rn) = (
        unhex(c["from_root"].as_str().unwrap()),
        unhex(c["to_root"].as_str().unwrap()),
    );
    assert_eq!(rn, unhex(cp1["root_hash"].as_str().unwrap()));
    assert!(verify_consistency(3, n, &r3, &rn, &proof));
    assert!(!verify_consistency(3, n, &leaf(b"x"), &rn, &proof));
    let r = auditor
        .get(&format!("/v1/audit/proof/{}?size={n}", n + 5), &[REVIEW])
        .await;
    assert_eq!(r.code(), "invalid_request");
    // Without `size`: the proof ends at a signed checkpoint's root (the
    // latest that covers the record), which comes with it.
    let p = auditor.get("/v1/audit/proof/2", &[REVIEW]).await.json();
    let cp = &p["checkpoint"];
    assert!(verify_checkpoint_signature(cp), "{p}");
    assert_eq!(p["tree_size"], cp["tree_size"]);
    assert!(cp["tree_size"].as_u64().unwrap() >= n, "{p}");
    let proof = hexes(&p["proof"]);
    assert!(verify_inclusion(
        1,
        cp["tree_size"].as_u64().unwrap(),
        &unhex(p["leaf_hash"].as_str().unwrap()),
        &proof,
        &unhex(cp["root_hash"].as_str().unwrap())
    ));
    // A record newer than every checkpoint: one is made that covers it.
    let newest = auditor
        .get("/v1/audit/records?limit=1", &[REVIEW])
        .await
        .json()["records"][0]["seq"]
        .as_u64()
        .unwrap();
    assert!(newest > n, "the auditor's own reads are newer than cp1");
    let p = auditor
        .get(&format!("/v1/audit/proof/{newest}"), &[REVIEW])
        .await
        .json();
    assert!(verify_checkpoint_signature(&p["checkpoint"]), "{p}");
    assert!(p["tree_size"].as_u64().unwrap() >= newest, "{p}");
}

/// A JSON array of hex strings, decoded.
fn hexes(v: &Value) -> Vec<super::rfc9162::H> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| unhex(x.as_str().unwrap()))
        .collect()
}

fn verify_checkpoint_signature(cp: &Value) -> bool {
    use base64::Engine as _;
    let pem = cp["public_key"].as_str().unwrap();
    let der = base64::engine::general_purpose::STANDARD
        .decode(
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    // SPKI for Ed25519: 12-byte prefix, then the 32-byte key.
    let key = &der[der.len() - 32..];
    let sig = base64::engine::general_purpose::STANDARD
        .decode(cp["signature"].as_str().unwrap())
        .unwrap();
    let body = cp["signed_body"].as_str().unwrap();
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key)
        .verify(body.as_bytes(), &sig)
        .is_ok()
}

#[tokio::test]
async fn audit_files_hold_no_raw_identifier_and_verify_detects_tampering() {
    let mut h = Harness::start().await;
    let dept = h.client("dept-nb");
    let mut raw: Vec<String> = Vec::new();
    for e in h.samples["enterprises"].as_array().unwrap().iter().take(10) {
        let u = e["uscc"].as_str().unwrap().to_owned();
        let _ = dept
            .get(
                &format!("/v1/enterprises/{u}/report?sections=basic"),
                &[APPROVAL],
            )
            .await;
        raw.push(u);
    }
    let persons: Vec<String> = h.samples["persons"]
        .as_array()
        .unwrap()
        .iter()
        .take(5)
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    for id in &persons {
        let t = h.token(id, "peer-hz", "person.score", "score_recognition");
        let _ = h
            .client("peer-hz")
            .get(
                &format!("/v1/persons/{id}/score"),
                &[
                    ("x-credit-purpose", "score_recognition"),
                    ("x-credit-authorization", &t),
                ],
            )
            .await;
        raw.push(id.clone());
    }
    let body = serde_json::json!({ "subjects": raw.clone() }).to_string();
    let _ = dept
        .post(
            "/v1/sanctions/check",
            &[APPROVAL, ("content-type", "application/json")],
            body,
        )
        .await;
    h.gateway.take().unwrap().shutdown().await;

    let dir = h.dir.path().join("audit");
    let mut bytes = Vec::new();
    for f in walk(&dir) {
        bytes.extend(std::fs::read(f).unwrap());
    }
    assert!(bytes.len() > 1000);
    let text = String::from_utf8_lossy(&bytes);
    for s in &raw {
        assert!(
            !text.contains(s.as_str()),
            "raw identifier in the audit files"
        );
    }
    // verify passes, then detects a flipped byte in a record.
    let report = credgate_audit::verify(&dir, None).expect("verify passes");
    assert!(report.tree_size >= 16);
    let seg = walk(&dir)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("segment-"))
        .unwrap();
    let mut data = std::fs::read(&seg).unwrap();
    let at = data.len() / 2;
    data[at] ^= 0x20;
    std::fs::write(&seg, data).unwrap();
    let err = credgate_audit::verify(&dir, None).unwrap_err().to_string();
    assert!(err.contains("segment-"), "names the segment: {err}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn the_auditor_api_checks_the_request_shape_before_the_purpose_and_scope() {
    // SPEC §4: request shape → purpose_required → scope_denied →
    // purpose_not_allowed. A malformed auditor query is `invalid_request`
    // (a bad subject `invalid_subject_id`) whoever asks and whatever the
    // purpose; a well-formed one reaches the policy.
    let h = Harness::start().await;
    let auditor = h.client("auditor");
    let bank = h.client("bank-nb");
    let lending = ("x-credit-purpose", "loan_underwriting");
    let lending_only = [lending];
    let nb = h.enterprise_of("xinyong-ningbo");
    let mut bad_check = nb.clone();
    let last = if bad_check.ends_with('A') { "B" } else { "A" };
    bad_check.replace_range(17.., last);
    let malformed = [
        (
            &*format!("/v1/audit/records?subject={bad_check}"),
            "invalid_subject_id",
        ),
        ("/v1/audit/records?limit=abc", "invalid_request"),
        ("/v1/audit/records?decision=maybe", "invalid_request"),
        ("/v1/audit/records?gossip=1", "invalid_request"),
        ("/v1/audit/records?client=", "invalid_request"),
        (
            "/v1/audit/records?client=dept-nb&decision=",
            "invalid_request",
        ),
        (
            "/v1/audit/records?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            "invalid_request",
        ),
        ("/v1/audit/consistency?from=9&to=1", "invalid_request"),
        ("/v1/audit/consistency?from=abc&to=1", "invalid_request"),
        ("/v1/audit/proof/3?size=abc", "invalid_request"),
        ("/v1/audit/proof/3?size=2", "invalid_request"),
        ("/v1/audit/proof/0", "invalid_request"),
        ("/v1/audit/checkpoint?x=1", "invalid_request"),
        // Unix seconds, which would read as January 1970 milliseconds.
        ("/v1/audit/records?from=1795606140", "invalid_request"),
    ];
    // (Within the auditor's and the bank's burst of 20.)
    for (i, (path, code)) in malformed.into_iter().enumerate() {
        let mut askers = vec![
            ("auditor, no purpose", &auditor, &[][..]),
            ("bank, its own purpose", &bank, &lending_only[..]),
        ];
        if i < 2 {
            askers.push((
                "auditor, another client's purpose",
                &auditor,
                &lending_only[..],
            ));
        }
        for (who, client, headers) in askers {
            let r = client.get(path, headers).await;
            assert_eq!(r.code(), code, "{path} as {who}");
            assert_eq!(r.status, 400, "{path} as {who}");
        }
    }
    // Well-formed: the policy's order applies.
    let ok = "/v1/audit/records?limit=1";
    assert_eq!(auditor.get(ok, &[]).await.code(), "purpose_required");
    assert_eq!(
        auditor.get(ok, &[lending]).await.code(),
        "purpose_not_allowed"
    );
    assert_eq!(bank.get(ok, &[lending]).await.code(), "scope_denied");
    assert_eq!(auditor.get(ok, &[REVIEW]).await.status, 200);
}

#[tokio::test]
async fn a_sanctions_check_shows_in_each_subjects_access_log_and_the_auditors_search() {
    // SPEC §1: the subject sees who queried its record; §4: auditors search
    // by subject. A batch check queries every subject in it.
    let h = Harness::start().await;
    let nb = h.enterprise_of("xinyong-ningbo");
    let hz = h.enterprise_of("hangzhou");
    let body = serde_json::json!({ "subjects": [nb, hz, "not-an-id"] }).to_string();
    let r = h
        .client("dept-nb")
        .post(
            "/v1/sanctions/check",
            &[APPROVAL, ("content-type", "application/json")],
            body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let check_seq = seq(&r);
    // The same batch again: a subject must not be able to tell from the
    // records that the same other subject was in both.
    let again = h
        .client("dept-nb")
        .post(
            "/v1/sanctions/check",
            &[APPROVAL, ("content-type", "application/json")],
            serde_json::json!({ "subjects": [hz, nb] }).to_string(),
        )
        .await;
    assert_eq!(again.status, 200);
    let again_seq = seq(&again);
    let key = std::fs::read(h.certs().join("pseudonym.key")).unwrap();
    let pseudonym_of = |s: &str| credgate_audit::pseudonym(&key, s);
    let mut tags_seen: Vec<Vec<String>> = Vec::new();
    for (subject, other) in [(&nb, &hz), (&hz, &nb)] {
        let token = h.token(subject, "peer-hz", "self.access_log", "subject_request");
        let log = h
            .client("peer-hz")
            .get(
                &format!("/v1/subjects/{subject}/access-log"),
                &[
                    ("x-credit-purpose", "subject_request"),
                    ("x-credit-authorization", &token),
                ],
            )
            .await;
        assert_eq!(log.status, 200, "{}", String::from_utf8_lossy(&log.body));
        let entries = log.json()["entries"].as_array().unwrap().clone();
        let entry = entries
            .iter()
            .find(|e| e["seq"] == check_seq)
            .unwrap_or_else(|| panic!("the check is in the access log: {entries:?}"));
        assert_eq!(entry["endpoint"], "/v1/sanctions/check");
        assert_eq!(entry["purpose"], "administrative_approval");
        // The record holds neither identifiers nor pseudonyms: one tag per
        // subject, salted by the request, which only the subject's own
        // pseudonym recomputes.
        let record = entry["record"].as_str().unwrap();
        assert!(!record.contains(subject.as_str()));
        assert!(!record.contains(other.as_str()));
        assert!(!record.contains(&pseudonym_of(other)), "{record}");
        assert!(!record.contains(&pseudonym_of(subject)), "{record}");
        let stored: Value = serde_json::from_str(record).unwrap();
        assert!(stored.get("subject_pseudonyms").is_none(), "{record}");
        let tags: Vec<String> = serde_json::from_value(stored["subject_tags"].clone()).unwrap();
        assert_eq!(tags.len(), 2);
        let own = credgate_audit::batch_tag(
            &pseudonym_of(subject),
            stored["request_id"].as_str().unwrap(),
        );
        assert!(tags.contains(&own));
        tags_seen.push(tags);
        // The repeated batch carries other tags for the same subjects.
        let again_entry = entries
            .iter()
            .find(|e| e["seq"] == again_seq)
            .expect("the second check is in the access log");
        let again_record: Value =
            serde_json::from_str(again_entry["record"].as_str().unwrap()).unwrap();
        let again_tags: Vec<String> =
            serde_json::from_value(again_record["subject_tags"].clone()).unwrap();
        assert_eq!(again_tags.len(), 2);
        assert!(again_tags.iter().all(|t| !tags_seen[0].contains(t)));
    }
    assert_eq!(tags_seen[0], tags_seen[1], "one record, seen by both");
    let found = h.audit_records(&format!("subject={hz}")).await;
    assert!(found.iter().any(|r| r["seq"] == check_seq));
    // A subject that was not in the batch does not see it.
    let other = h.enterprise_of("xiamen");
    let found = h.audit_records(&format!("subject={other}")).await;
    assert!(!found.iter().any(|r| r["seq"] == check_seq));
}
