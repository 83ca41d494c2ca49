//! Subject authorization on every query (SPEC §6): valid tokens read,
//! every refusal has its code, revocation and use counts take effect at
//! once, across replicas through Redis; refusals never reach a platform.

use credgate_integration::{eventually, jti_of, Harness, Options};
use std::time::Duration;

const LOAN: (&str, &str) = ("x-credit-purpose", "loan_underwriting");

fn auth(token: &str) -> (&'static str, &str) {
    ("x-credit-authorization", token)
}

#[tokio::test]
async fn bank_reads_with_a_valid_token_and_every_mismatch_is_refused() {
    let h = Harness::start().await;
    let bank = h.client("bank-nb");
    let nb = h.enterprise_of("xinyong-ningbo");
    let hz = h.enterprise_of("hangzhou");
    let good = h.token(&nb, "bank-nb", "enterprise.report", "loan_underwriting");
    let r = bank
        .get(
            &format!("/v1/enterprises/{nb}/report"),
            &[LOAN, auth(&good)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.json()["sections"]["basic"]["data"].is_object());
    // Lower-case path subject still matches the token (normalised).
    let r = bank
        .get(
            &format!("/v1/enterprises/{}/report", nb.to_lowercase()),
            &[LOAN, auth(&good)],
        )
        .await;
    assert_eq!(r.status, 200);
    h.clear_sim_requests().await;

    let cases: Vec<(String, String, u16, &str)> = vec![
        // Same token, another enterprise.
        (hz.clone(), good.clone(), 403, "authorization_mismatch"),
        // Token granted to another bank.
        (
            nb.clone(),
            h.token(&nb, "bank-other", "enterprise.report", "loan_underwriting"),
            403,
            "authorization_mismatch",
        ),
        // Token for another scope than the request needs.
        (
            nb.clone(),
            h.token(&nb, "bank-nb", "person.score", "loan_underwriting"),
            403,
            "authorization_mismatch",
        ),
        // Token for another purpose.
        (
            nb.clone(),
            h.token(&nb, "bank-nb", "enterprise.report", "post_loan_monitoring"),
            403,
            "authorization_mismatch",
        ),
        // Expired (issued 10 days ago for 1 day).
        (
            nb.clone(),
            h.token_with(
                &nb,
                "bank-nb",
                &["enterprise.report"],
                "loan_underwriting",
                None,
                10 * 86_400,
                86_400,
            ),
            401,
            "authorization_expired",
        ),
        // Garbage and a tampered token.
        (
            nb.clone(),
            "not.a.token".into(),
            401,
            "authorization_invalid",
        ),
        (nb.clone(), tamper(&good), 401, "authorization_invalid"),
    ];
    let mut recorded = Vec::new();
    for (subject, token, status, code) in cases {
        let r = bank
            .get(
                &format!("/v1/enterprises/{subject}/report"),
                &[LOAN, auth(&token)],
            )
            .await;
        assert_eq!((r.status.as_u16(), r.code().as_str()), (status, code));
        // The token never comes back in the problem detail.
        assert!(!String::from_utf8_lossy(&r.body).contains(&token));
        let seq: u64 = r.headers["x-audit-seq"].to_str().unwrap().parse().unwrap();
        // An authentic token refused for what it grants is named in the
        // refusal's record (SPEC §8: the record holds the authorization
        // jti); an unauthenticated one's claims name nothing.
        let authentic = code != "authorization_invalid";
        recorded.push((seq, authentic.then(|| jti_of(&token)), code));
    }
    let records = h.audit_records("client=bank-nb&limit=100").await;
    for (seq, jti, code) in recorded {
        let rec = records.iter().find(|r| r["seq"] == seq).unwrap();
        assert_eq!(rec["reason"], code);
        assert_eq!(
            rec["authz_jti"],
            serde_json::json!(jti),
            "record {seq} ({code})"
        );
    }
    // A huge token (within the header bound, which is larger) is an
    // authorization problem: 401 `authorization_invalid`, not the
    // request-shape code `payload_too_large`, which SPEC §4 ranks before
    // purpose and scope.
    let huge = "a".repeat(8 * 1024);
    let r = bank
        .get(
            &format!("/v1/enterprises/{nb}/report"),
            &[LOAN, auth(&huge)],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (401, "authorization_invalid")
    );
    assert_eq!(
        h.total_sim_requests().await,
        0,
        "no refused query reached a platform"
    );
}

/// A bank-nb report token for `sub` signed with the PEM key `key` (issuer
/// `demo-issuer`, valid for an hour), with `kid` in its header if given.
fn bank_token(key: &str, sub: &str, kid: Option<&str>) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    credgate_authz::issue(
        key,
        &credgate_authz::IssueClaims {
            iss: "demo-issuer".into(),
            sub: sub.to_owned(),
            aud: "bank-nb".into(),
            scope: vec!["enterprise.report".into()],
            purpose: "loan_underwriting".into(),
            ttl: Duration::from_secs(3600),
            max_uses: None,
            kid: kid.map(str::to_owned),
            now_unix: now,
        },
    )
    .unwrap()
}

fn tamper(token: &str) -> String {
    // Flip the subject in the payload after signing: the signature breaks.
    use base64::Engine as _;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: serde_json::Value =
        serde_json::from_slice(&e.decode(&parts[1]).unwrap()).unwrap();
    claims["purpose"] = "post_loan_monitoring".into();
    parts[1] = e.encode(serde_json::to_vec(&claims).unwrap());
    parts.join(".")
}

#[tokio::test]
async fn revocation_through_the_file_applies_to_the_very_next_request() {
    file_revocation_applies_at_once(&Harness::start().await).await;
}

/// A token revoked in `authorization.revocation_file` is refused on the
/// next request, whether or not the gateway also uses Redis.
async fn file_revocation_applies_at_once(h: &Harness) {
    let bank = h.client("bank-nb");
    let nb = h.enterprise_of("xinyong-ningbo");
    let token = h.token(&nb, "bank-nb", "enterprise.report", "loan_underwriting");
    let path = format!("/v1/enterprises/{nb}/report?sections=basic");
    assert_eq!(bank.get(&path, &[LOAN, auth(&token)]).await.status, 200);
    // What `credgate authz revoke --jti … --config gateway.toml` does.
    credgate_authz::append_revocation(
        &h.dir.path().join("revocations.jsonl"),
        &jti_of(&token),
        i64::MAX / 2,
    )
    .unwrap();
    h.clear_sim_requests().await;
    let r = bank.get(&path, &[LOAN, auth(&token)]).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (401, "authorization_revoked")
    );
    assert_eq!(h.total_sim_requests().await, 0);
    // The refusal's record names the revoked token.
    let seq: u64 = r.headers["x-audit-seq"].to_str().unwrap().parse().unwrap();
    let records = h.audit_records("client=bank-nb&decision=deny").await;
    let rec = records.iter().find(|r| r["seq"] == seq).unwrap();
    assert_eq!(rec["authz_jti"], jti_of(&token).as_str());
}

/// A revocation file the gateway cannot read may hold a revocation it
/// would miss: authorized queries are refused with 503 (fail closed) until
/// it can be read again, and what it says then applies at once.
#[tokio::test]
async fn an_unreadable_revocation_file_fails_closed() {
    let h = Harness::start().await;
    let bank = h.client("bank-nb");
    let nb = h.enterprise_of("xinyong-ningbo");
    let token = h.token(&nb, "bank-nb", "enterprise.report", "loan_underwriting");
    let path = format!("/v1/enterprises/{nb}/report?sections=basic");
    assert_eq!(bank.get(&path, &[LOAN, auth(&token)]).await.status, 200);
    // Unreadable even for root: a directory where the file should be.
    let file = h.dir.path().join("revocations.jsonl");
    let _ = std::fs::remove_file(&file);
    std::fs::create_dir(&file).unwrap();
    h.clear_sim_requests().await;
    for _ in 0..2 {
        let r = bank.get(&path, &[LOAN, auth(&token)]).await;
        assert_eq!(
            (r.status.as_u16(), r.code().as_str()),
            (503, "service_unavailable")
        );
        assert!(r.headers.contains_key("retry-after"));
    }
    assert_eq!(h.total_sim_requests().await, 0);
    // Readable again, with this token revoked: refused as revoked.
    std::fs::remove_dir(&file).unwrap();
    credgate_authz::append_revocation(&file, &jti_of(&token), i64::MAX / 2).unwrap();
    let r = bank.get(&path, &[LOAN, auth(&token)]).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (401, "authorization_revoked")
    );
    // Another token is answered again.
    let other = h.token(&nb, "bank-nb", "enterprise.report", "loan_underwriting");
    assert_eq!(bank.get(&path, &[LOAN, auth(&other)]).await.status, 200);
}

/// A reloaded policy may name an issuer key in a folder the gateway did
/// not watch when it started: that folder is watched from then on, so
/// rotating the key there applies without SIGHUP or a restart.
#[tokio::test]
async fn an_issuer_key_in_a_folder_a_reload_names_is_watched() {
    let h = Harness::start().await;
    let keys = move_issuer_key(&h, "issuers-2026").await;
    rotate_issuer_key_in(&h, &keys).await;
}

#[tokio::test]
async fn an_issuer_key_folder_replaced_by_a_rename_is_still_watched() {
    let h = Harness::start().await;
    let store = h.gw().policy.clone();
    let keys = move_issuer_key(&h, "issuers").await;
    // Replace the whole folder (same key): inotify's watch stays on the old
    // folder's inode unless the gateway watches the new one.
    let next = h.dir.path().join("issuers.next");
    std::fs::create_dir(&next).unwrap();
    std::fs::copy(keys.join("issuer.pub"), next.join("issuer.pub")).unwrap();
    let ok = store.reloads_ok();
    std::fs::rename(&keys, h.dir.path().join("issuers.old")).unwrap();
    std::fs::rename(&next, &keys).unwrap();
    credgate_integration::eventually("the replaced folder's key loaded", async || {
        store.reloads_ok() > ok
    })
    .await;
    // A rotation in place, inside the new folder, applies by itself.
    rotate_issuer_key_in(&h, &keys).await;
}

/// A rollout may write the policy before the new issuer key it names: the
/// refused policy's key folder is watched, the key's arrival loads the
/// policy without a signal, and the wait is not counted as a failure.
#[tokio::test]
async fn a_policy_waiting_for_its_issuer_key_loads_when_the_key_arrives() {
    let h = Harness::start().await;
    let store = h.gw().policy.clone();
    let keys = h.dir.path().join("authz-next");
    std::fs::create_dir(&keys).unwrap();
    let (key, public) = credgate_authz::keygen(&h.dir.path().join("staging")).unwrap();
    let policy_path = h.dir.path().join("policy.toml");
    let policy = std::fs::read_to_string(&policy_path).unwrap();
    let moved = policy.replace("\"certs/authz/issuer.pub\"", "\"authz-next/issuer.pub\"");
    assert_ne!(moved, policy);
    let (attempts, ok, failed) = (
        store.reload_attempts(),
        store.reloads_ok(),
        store.reloads_failed(),
    );
    std::fs::write(&policy_path, moved).unwrap();
    eventually("the policy naming a missing key tried", async || {
        store.reload_attempts() > attempts
    })
    .await;
    assert_eq!(store.reloads_ok(), ok, "refused without its key");
    std::fs::copy(&public, keys.join("issuer.pub")).unwrap();
    eventually("the policy loaded once its key arrived", async || {
        store.reloads_ok() > ok
    })
    .await;
    assert_eq!(store.reloads_failed(), failed, "the wait is not a failure");
    only_the_new_key_reads(&h, &key).await;
}

/// An issuer rotating its signing key lists both keys for a while (one
/// `[[issuers]]` entry each, distinct `key_id`): tokens of either read, the
/// `kid` selects the key, and dropping the old entry ends the overlap.
#[tokio::test]
async fn an_issuer_key_rotation_overlaps_old_and_new_keys() {
    let h = Harness::start().await;
    let store = h.gw().policy.clone();
    let bank = h.client("bank-nb");
    let nb = h.enterprise_of("xinyong-ningbo");
    let path = format!("/v1/enterprises/{nb}/report?sections=basic");
    let keys = h.dir.path().join("authz-2027");
    std::fs::create_dir(&keys).unwrap();
    let (new_key, _) = credgate_authz::keygen(&keys).unwrap();
    let new_key = std::fs::read_to_string(new_key).unwrap();
    let old_key = std::fs::read_to_string(h.certs().join("authz/issuer.key")).unwrap();
    let sign = |key: &str, kid: Option<&str>| bank_token(key, &nb, kid);
    let status = async |token: &str| {
        let r = bank.get(&path, &[LOAN, auth(token)]).await;
        (r.status.as_u16(), r.code())
    };
    let refused = (401, "authorization_invalid".to_owned());
    let ok = (200, String::new());
    // Before the rotation the new key is not trusted.
    assert_eq!(status(&sign(&new_key, Some("2027"))).await, refused);

    // The overlap: the old key (no kid, as the demo configures it) and the new.
    let policy_path = h.dir.path().join("policy.toml");
    let before = std::fs::read_to_string(&policy_path).unwrap();
    let entry = "\n[[issuers]]\nid = \"demo-issuer\"\npublic_key_file = \"authz-2027/issuer.pub\"\nkey_id = \"2027\"\n";
    let reloads = store.reloads_ok();
    std::fs::write(&policy_path, format!("{before}{entry}")).unwrap();
    credgate_integration::eventually("the policy with both keys", async || {
        store.reloads_ok() > reloads
    })
    .await;
    assert_eq!(store.current().issuers.len(), 2);
    assert_eq!(status(&sign(&old_key, None)).await, ok, "old key");
    assert_eq!(status(&sign(&new_key, Some("2027"))).await, ok, "new key");
    // Without a kid every key of the issuer is tried.
    assert_eq!(status(&sign(&new_key, None)).await, ok, "new key, no kid");
    // The kid chooses the key: the old key's signature under the new kid fails.
    assert_eq!(status(&sign(&old_key, Some("2027"))).await, refused);

    // The end of the overlap: only the new key.
    let after = format!("{before}{entry}").replace(
        "public_key_file = \"certs/authz/issuer.pub\"\n",
        "public_key_file = \"authz-2027/issuer.pub\"\nkey_id = \"2027\"\n",
    );
    let after = after.replacen(entry, "", 1);
    let reloads = store.reloads_ok();
    std::fs::write(&policy_path, &after).unwrap();
    credgate_integration::eventually("the policy with the new key only", async || {
        store.reloads_ok() > reloads
    })
    .await;
    assert_eq!(store.current().issuers.len(), 1);
    assert_eq!(
        status(&sign(&old_key, None)).await,
        refused,
        "old key after"
    );
    assert_eq!(status(&sign(&new_key, Some("2027"))).await, ok);
}

/// Moves the demo issuer key to the new folder `name` and points the
/// policy there; waits for the reload and checks a token still reads.
async fn move_issuer_key(h: &Harness, name: &str) -> std::path::PathBuf {
    let store = h.gw().policy.clone();
    let bank = h.client("bank-nb");
    let nb = h.enterprise_of("xinyong-ningbo");
    let path = format!("/v1/enterprises/{nb}/report?sections=basic");
    let keys = h.dir.path().join(name);
    std::fs::create_dir(&keys).unwrap();
    std::fs::copy(h.certs().join("authz/issuer.pub"), keys.join("issuer.pub")).unwrap();
    let policy_path = h.dir.path().join("policy.toml");
    let policy = std::fs::read_to_string(&policy_path).unwrap();
    let moved = policy.replace(
        "\"certs/authz/issuer.pub\"",
        &format!("\"{name}/issuer.pub\""),
    );
    assert_ne!(moved, policy);
    let ok = store.reloads_ok();
    std::fs::write(&policy_path, moved).unwrap();
    credgate_integration::eventually("the policy naming the new folder", async || {
        store.reloads_ok() > ok
    })
    .await;
    let old = h.token(&nb, "bank-nb", "enterprise.report", "loan_underwriting");
    assert_eq!(bank.get(&path, &[LOAN, auth(&old)]).await.status, 200);
    keys
}

/// Rotates the issuer key in `keys` (and nowhere else) without a signal:
/// the watcher alone must apply it, after which the old key's tokens are
/// refused and the new key's read.
async fn rotate_issuer_key_in(h: &Harness, keys: &std::path::Path) {
    let store = h.gw().policy.clone();
    let fresh = tempfile::tempdir().unwrap();
    let (key, public) = credgate_authz::keygen(fresh.path()).unwrap();
    let ok = store.reloads_ok();
    std::fs::copy(&public, keys.join("issuer.pub")).unwrap();
    credgate_integration::eventually("the rotated key in force", async || store.reloads_ok() > ok)
        .await;
    only_the_new_key_reads(h, &key).await;
}

/// After the demo issuer's key was replaced by the one in the PEM file
/// `key`: a token of the demo key is refused, one of the new key reads.
async fn only_the_new_key_reads(h: &Harness, key: &std::path::Path) {
    let bank = h.client("bank-nb");
    let nb = h.enterprise_of("xinyong-ningbo");
    let path = format!("/v1/enterprises/{nb}/report?sections=basic");
    let old = h.token(&nb, "bank-nb", "enterprise.report", "loan_underwriting");
    let r = bank.get(&path, &[LOAN, auth(&old)]).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (401, "authorization_invalid")
    );
    let new = bank_token(&std::fs::read_to_string(key).unwrap(), &nb, None);
    assert_eq!(bank.get(&path, &[LOAN, auth(&new)]).await.status, 200);
}

#[tokio::test]
async fn max_uses_counts_only_answered_queries() {
    let h = Harness::start().await;
    let bank = h.client("bank-nb");
    let (path, once) = h.single_use_report();
    let nb = h.enterprise_of("xinyong-ningbo");
    // A failed upstream answer does not spend the use.
    h.fault(
        "xinyong-ningbo",
        serde_json::json!({"mode": "error", "error_rate": 1.0}),
    )
    .await;
    let r = bank.get(&path, &[LOAN, auth(&once)]).await;
    assert_eq!(r.status, 502);
    h.fault("xinyong-ningbo", serde_json::json!({"mode": "none"}))
        .await;
    // A refused request (wrong section) does not either.
    let r = bank
        .get(
            &format!("/v1/enterprises/{nb}/report?sections=redlist"),
            &[LOAN, auth(&once)],
        )
        .await;
    assert_eq!(r.code(), "scope_denied");
    assert_eq!(bank.get(&path, &[LOAN, auth(&once)]).await.status, 200);
    let r = bank.get(&path, &[LOAN, auth(&once)]).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (403, "authorization_exhausted")
    );
}

/// A client that closes its connection while the platform is still
/// answering gets no data; the request still yields its one audit record
/// (refused, `client_closed`, naming the token and the platform called, no
/// data returned); the use reserved for it is given back (and the request
/// is counted as `client_closed`).
#[tokio::test]
async fn a_client_that_goes_away_before_the_answer_does_not_spend_its_use() {
    let h = Harness::start().await;
    let (path, once) = h.single_use_report();
    // The platform holds the answer for 2 s (the upstream timeout is 3 s, so
    // a gateway that did not notice the client leave would answer, and
    // spend the use).
    h.fault(
        "xinyong-ningbo",
        serde_json::json!({"mode": "latency", "latency_ms": 2000}),
    )
    .await;
    h.clear_sim_requests().await;
    let bank = h.client("bank-nb");
    let (p, t) = (path.clone(), once.clone());
    let pending = tokio::spawn(async move { bank.get(&p, &[LOAN, auth(&t)]).await });
    // Ready when the platform has the request: the use is reserved by then.
    tokio::time::timeout(Duration::from_secs(10), async {
        while h.total_sim_requests().await == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the request reached the platform");
    pending.abort();
    assert!(pending.await.unwrap_err().is_cancelled());
    // The gateway notices the closed connection and drops the request.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let text = h.metrics_text().await;
            let n = text
                .lines()
                .filter(|l| l.starts_with("credgate_requests_total{"))
                .filter(|l| {
                    l.contains("client=\"bank-nb\"") && l.contains("decision=\"client_closed\"")
                })
                .find_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
            if let Some(n) = n {
                break n;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the dropped request is counted as client_closed");
    assert_eq!(closed, 1.0);
    h.fault("xinyong-ningbo", serde_json::json!({"mode": "none"}))
        .await;
    // The use comes back (on a task the drop spawned): the same token then
    // reads once, and only once. Until the give-back lands a try is refused
    // as exhausted, which spends nothing.
    let bank = h.client("bank-nb");
    let (r, refused) = tokio::time::timeout(Duration::from_secs(10), async {
        let mut refused = 0u64;
        loop {
            let r = bank.get(&path, &[LOAN, auth(&once)]).await;
            if r.code() != "authorization_exhausted" {
                break (r, refused);
            }
            refused += 1;
            // Below bank-nb's 10 requests a second.
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    })
    .await
    .expect("the reserved use was given back");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // This gateway's records: the abandoned request, the refused tries and
    // this answer.
    let seq: u64 = r.headers["x-audit-seq"].to_str().unwrap().parse().unwrap();
    assert_eq!(seq, refused + 2);
    let records = h.audit_records("client=bank-nb&limit=100").await;
    let abandoned: Vec<_> = records
        .iter()
        .filter(|r| r["reason"] == "client_closed")
        .collect();
    assert_eq!(abandoned.len(), 1, "{records:#?}");
    let a = abandoned[0];
    assert_eq!(a["seq"], 1, "{a:#}");
    assert_eq!(a["decision"], "deny", "{a:#}");
    assert_eq!(a["status"], 499, "{a:#}");
    assert_eq!(a["endpoint"], "/v1/enterprises/{uscc}/report", "{a:#}");
    assert!(a["authz_jti"].is_string(), "{a:#}");
    assert!(a["subject_pseudonym"].is_string(), "{a:#}");
    assert_eq!(a["upstreams"][0]["name"], "xinyong-ningbo", "{a:#}");
    assert_eq!(a["upstreams"][0]["outcome"], "client_closed", "{a:#}");
    for empty in ["sections", "fields_returned", "fields_masked"] {
        assert!(
            a[empty].as_array().is_none_or(|v| v.is_empty()),
            "{empty}: {a:#}"
        );
    }
    let r = bank.get(&path, &[LOAN, auth(&once)]).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (403, "authorization_exhausted")
    );
}

#[tokio::test]
async fn two_gateways_share_revocations_and_use_counts_through_redis() {
    let redis = match credgate_authz::testing::RedisServer::start() {
        Ok(r) => r,
        Err(e) => panic!("{e} (scripts/test installs redis-server)"),
    };
    let a = Harness::start_with(Options {
        redis_url: Some(redis.url()),
        ..Options::default()
    })
    .await;
    let b = Harness::start_with(Options {
        redis_url: Some(redis.url()),
        share_dir_with: Some(a.dir.path().to_owned()),
        ..Options::default()
    })
    .await;
    // Use counts (one use on each replica, the third fails on either) and
    // a revocation made through Redis, seen by both.
    credgate_integration::assert_replicas_share_authz_state(
        &a,
        &b,
        credgate_authz::RedisOptions::new(redis.url()),
    )
    .await;
    // The revocation file still counts beside Redis (a gateway moved from
    // the file to Redis keeps the file's revocations).
    file_revocation_applies_at_once(&a).await;
    let nb = a.enterprise_of("xinyong-ningbo");
    let path = format!("/v1/enterprises/{nb}/report?sections=basic");
    // Redis gone: authorization checks fail closed with 503, never open.
    drop(redis);
    let fresh = a.token(&nb, "bank-nb", "enterprise.report", "loan_underwriting");
    let r = a.client("bank-nb").get(&path, &[LOAN, auth(&fresh)]).await;
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
}

#[tokio::test]
async fn peer_platform_reads_a_score_with_the_persons_consent() {
    let h = Harness::start().await;
    let person = h.samples["persons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["platform"] == "xinyong-ningbo")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let peer = h.client("peer-hz");
    let purpose = ("x-credit-purpose", "score_recognition");
    let path = format!("/v1/persons/{person}/score");
    let r = peer.get(&path, &[purpose]).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (401, "authorization_required")
    );
    // RFC 9110 §15.5.2: the 401 names what to send.
    let challenge = r.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("CreditAuthorization ")
            && challenge.contains("header=\"x-credit-authorization\"")
            && challenge.contains("error=\"authorization_required\""),
        "{challenge}"
    );
    let token = h.token(&person, "peer-hz", "person.score", "score_recognition");
    let r = peer.get(&path, &[purpose, auth(&token)]).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(v["score"]["scheme"], "tianyi");
    assert!(v["score"]["home_tier"].is_string(), "{v}");
    // The ID number is not echoed.
    assert!(!String::from_utf8_lossy(&r.body).contains(&person));
}

/// `[redis] password_file`: the gateway authenticates to a Redis that
/// requires a password (one with characters a URL must escape) read from a
/// file; with a wrong password, decisions that need Redis fail closed.
#[tokio::test]
async fn redis_password_comes_from_a_file_and_a_wrong_one_fails_closed() {
    const PASSWORD: &str = "s3cr:t/@pw %?#";
    let redis = match credgate_authz::testing::RedisServer::start_with_password(PASSWORD) {
        Ok(r) => r,
        Err(e) => panic!("{e} (scripts/test installs redis-server)"),
    };
    let secrets = tempfile::tempdir().unwrap();
    let start = |password: &str| {
        let file = secrets.path().join(format!("pw-{}", password.len()));
        // As a Secret mounted from `kubectl create secret --from-file`.
        std::fs::write(&file, format!("{password}\n")).unwrap();
        Harness::start_with(Options {
            redis_url: Some(redis.url()),
            redis_password_file: Some(file),
            ..Options::default()
        })
    };
    // Only possible when the gateway is authenticated.
    let h = start(PASSWORD).await;
    a_single_use_is_spent_in_redis(&h).await;
    drop(h);
    fails_closed_without_redis(&start("not-the-password").await).await;
}

/// A single-use token's use count lives in Redis: the first read spends
/// it, the second is refused.
async fn a_single_use_is_spent_in_redis(h: &Harness) {
    let (path, once) = h.single_use_report();
    let bank = h.client("bank-nb");
    let r = bank.get(&path, &[LOAN, auth(&once)]).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = bank.get(&path, &[LOAN, auth(&once)]).await;
    assert_eq!(r.code(), "authorization_exhausted");
}

/// With Redis out of reach, a read that needs a use count is refused (503).
async fn fails_closed_without_redis(h: &Harness) {
    let (path, once) = h.single_use_report();
    for _ in 0..2 {
        let r = h.client("bank-nb").get(&path, &[LOAN, auth(&once)]).await;
        assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    }
    // Counted, and shown as down (logged once, not per refusal).
    let text = h.metrics_text().await;
    assert!(
        text.contains("\ncredgate_authz_store_failures_total 2\n"),
        "{text}"
    );
    assert!(text.contains("\ncredgate_authz_store_up 0\n"), "{text}");
}

/// `rediss://`: revocations and use counts (and the rate limiter) reach
/// Redis over TLS. credgate checks Redis' certificate against `[redis]
/// ca_file` and presents `client_cert_file` to a Redis that requires client
/// certificates; against the wrong CA it fails closed.
#[tokio::test]
async fn redis_over_tls_checks_the_server_and_presents_a_client_certificate() {
    let pki = tempfile::tempdir().unwrap();
    let certs = credgate_authz::testing::dev_pki(pki.path()).unwrap();
    // Client certificates: credgate's upstream identity and its CA.
    let files = credgate_authz::testing::TlsFiles::dev(&certs, "upstream/ca.crt", true);
    let redis = match credgate_authz::testing::RedisServer::start_tls(files) {
        Ok(r) => r,
        Err(e) => panic!("{e} (scripts/test installs redis-server)"),
    };
    let start = |ca: &str| {
        let extra = format!(
            "ca_file = {:?}\nclient_cert_file = {:?}\nclient_key_file = {:?}\n",
            certs.join(ca).display().to_string(),
            certs.join("upstream/gateway.crt").display().to_string(),
            certs.join("upstream/gateway.key").display().to_string(),
        );
        Harness::start_with(Options {
            redis_url: redis.tls_url(),
            redis_extra: extra,
            ..Options::default()
        })
    };
    // Only possible when the TLS connection to Redis works.
    let h = start("ca.crt").await;
    a_single_use_is_spent_in_redis(&h).await;
    // Rate-limit decisions go to Redis over TLS too.
    rate_limits_are_decided_in_redis(&h).await;
    drop(h);
    // A Redis whose certificate does not chain to ca_file is not Redis.
    fails_closed_without_redis(&start("rogue/ca.crt").await).await;
}

/// Certificate rotation on a `rediss://` Redis without a restart: Redis
/// moves to another PKI (server certificate and client CA); the gateway's
/// old material then reaches nothing (fail closed), and once its
/// `ca_file` / client certificate files are replaced it reconnects with
/// the new ones by itself (the file watcher), for the authorization store
/// and the rate limiter alike.
#[tokio::test]
async fn redis_tls_files_are_reloaded_after_a_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let old = credgate_authz::testing::dev_pki(&dir.path().join("old")).unwrap();
    let new = credgate_authz::testing::dev_pki(&dir.path().join("new")).unwrap();
    let redis_side = dir.path().join("redis-side");
    let gw_side = dir.path().join("gateway-side");
    std::fs::create_dir_all(&redis_side).unwrap();
    std::fs::create_dir_all(&gw_side).unwrap();
    // Redis: the PKI's server certificate; clients must chain to its
    // upstream CA. The gateway: that PKI's CA and its upstream identity.
    let install = |pki: &std::path::Path| {
        for (from, to) in [
            ("server.crt", redis_side.join("server.crt")),
            ("server.key", redis_side.join("server.key")),
            ("upstream/ca.crt", redis_side.join("client-ca.crt")),
        ] {
            std::fs::copy(pki.join(from), to).unwrap();
        }
    };
    let present = |pki: &std::path::Path| {
        // Written beside and renamed into place, as a Secret update does.
        for (from, to) in [
            ("ca.crt", "ca.crt"),
            ("upstream/gateway.crt", "client.crt"),
            ("upstream/gateway.key", "client.key"),
        ] {
            let tmp = gw_side.join(format!(".{to}.tmp"));
            std::fs::copy(pki.join(from), &tmp).unwrap();
            std::fs::rename(&tmp, gw_side.join(to)).unwrap();
        }
    };
    install(&old);
    present(&old);
    let files = credgate_authz::testing::TlsFiles {
        cert: redis_side.join("server.crt"),
        key: redis_side.join("server.key"),
        ca: redis_side.join("client-ca.crt"),
        auth_clients: true,
    };
    let mut redis = match credgate_authz::testing::RedisServer::start_tls(files) {
        Ok(r) => r,
        Err(e) => panic!("{e} (scripts/test installs redis-server)"),
    };
    let h = Harness::start_with(Options {
        redis_url: redis.tls_url(),
        redis_extra: format!(
            "ca_file = {:?}\nclient_cert_file = {:?}\nclient_key_file = {:?}\n",
            gw_side.join("ca.crt").display().to_string(),
            gw_side.join("client.crt").display().to_string(),
            gw_side.join("client.key").display().to_string(),
        ),
        ..Options::default()
    })
    .await;
    a_single_use_is_spent_in_redis(&h).await;

    // Redis rotates to the new PKI (same port): the gateway's material no
    // longer fits, and authorized reads fail closed.
    install(&new);
    redis.restart().unwrap();
    let (path, once) = h.single_use_report();
    let bank = h.client("bank-nb");
    credgate_integration::eventually("the old material reaches nothing", async || {
        bank.get(&path, &[LOAN, auth(&once)]).await.status == 503
    })
    .await;

    // The gateway's files rotate too: it reconnects with them.
    present(&new);
    credgate_integration::eventually("the new material is used", async || {
        bank.get(&path, &[LOAN, auth(&once)]).await.status == 200
    })
    .await;
    let r = bank.get(&path, &[LOAN, auth(&once)]).await;
    assert_eq!(
        r.code(),
        "authorization_exhausted",
        "counted in the new Redis"
    );
    // The rate limiter's connection followed as well.
    rate_limits_are_decided_in_redis(&h).await;
}

/// Rate-limit decisions reach Redis (over TLS where configured). A first
/// decision may time out while the connection is set up on a busy machine:
/// the limiter then decides locally and tries Redis again shortly.
async fn rate_limits_are_decided_in_redis(h: &Harness) {
    let admin = h.gw().admin_addr.unwrap();
    let dept = h.client("dept-nb");
    let path = h.basic_report_path("xinyong-ningbo");
    credgate_integration::eventually("rate limits decided in Redis", async || {
        dept.get(&path, &[("x-credit-purpose", "administrative_approval")])
            .await;
        let (_, body) =
            credgate_integration::plain(admin, http::Method::GET, "/readyz", None).await;
        let ready: serde_json::Value = serde_json::from_slice(&body).unwrap();
        ready["ratelimit"]["mode"] == "redis"
            && ready["redis"] == serde_json::json!({ "topology": "single", "reachable": true })
    })
    .await;
}

/// The revocation / use-count store's health follows Redis, not the last
/// authorized query: with no query at all, Redis stopping turns
/// `credgate_authz_store_up` and `/readyz`'s `authorization_store` to down
/// (without counting a refused check), and its return turns them up again.
#[tokio::test]
async fn the_authorization_stores_health_follows_redis_without_queries() {
    let mut redis = match credgate_authz::testing::RedisServer::start() {
        Ok(r) => r,
        Err(e) => panic!("{e} (scripts/test installs redis-server)"),
    };
    let h = Harness::start_with(Options {
        redis_url: Some(redis.url()),
        ..Options::default()
    })
    .await;
    let admin = h.gw().admin_addr.unwrap();
    // `/readyz` and the gauge agree; read between two readings of the gauge
    // that agree (on two busy cores a probe may time out, and the state
    // move, between the reads): `None` while it moves.
    let gauge_up = async || {
        h.metrics_text()
            .await
            .contains("\ncredgate_authz_store_up 1\n")
    };
    let store_up = async || -> Option<bool> {
        let before = gauge_up().await;
        let (_, body) =
            credgate_integration::plain(admin, http::Method::GET, "/readyz", None).await;
        let ready: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if gauge_up().await != before {
            return None;
        }
        assert_eq!(
            ready["authorization_store"]["up"].as_bool(),
            Some(before),
            "{ready}"
        );
        Some(before)
    };
    eventually("the store is seen up", async || {
        store_up().await == Some(true)
    })
    .await;
    redis.stop();
    eventually("the store is seen down", async || {
        store_up().await == Some(false)
    })
    .await;
    let text = h.metrics_text().await;
    assert!(
        text.contains("\ncredgate_authz_store_failures_total 0\n"),
        "a probe is not a refused check: {text}"
    );
    redis.restart().unwrap();
    eventually("the store is seen up again", async || {
        store_up().await == Some(true)
    })
    .await;
}
