//! The operator flow over real files: `keygen`, `issue`, verify with the written
//! public key, then `revoke` through the revocation file a running gateway watches.

use std::time::Duration;

use credgate_authz::{
    append_revocation, enforce, inspect, issue, keygen, parse_ttl, verify, AuthzError,
    AuthzState as _, FileRevocations, IssueClaims, MemoryOptions, MemoryState, StateBackend,
    TrustedIssuer, VerifyOptions,
};

use super::common::*;

#[tokio::test]
async fn keygen_issue_verify_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, pub_path) = keygen(&dir.path().join("certs/authz")).unwrap();
    let private_pem = std::fs::read_to_string(key_path).unwrap();
    let public_pem = std::fs::read_to_string(pub_path).unwrap();
    let issuers = [TrustedIssuer::from_spki_pem(ISSUER, None, &public_pem).unwrap()];
    let now = unix_now();
    let token = issue(
        &private_pem,
        &IssueClaims {
            iss: ISSUER.into(),
            sub: SUBJECT.to_ascii_lowercase(),
            aud: CLIENT.into(),
            scope: vec![SCOPE.into()],
            purpose: PURPOSE.into(),
            ttl: parse_ttl("12h").unwrap(),
            max_uses: Some(2),
            kid: None,
            now_unix: now,
        },
    )
    .unwrap();
    assert!(inspect(&token, &issuers, &VerifyOptions::default(), now).is_acceptable());
    let auth = verify(
        &token,
        &issuers,
        &expectation(),
        &VerifyOptions::default(),
        now,
    )
    .unwrap();
    assert_eq!(auth.expires_at, now + 12 * 3600);

    // The gateway: in-process counts, revocations from the watched file.
    let revocations_path = dir.path().join("revocations.jsonl");
    let file = FileRevocations::open(&revocations_path).unwrap();
    let state = StateBackend::Memory(MemoryState::with_revocation_file(
        MemoryOptions::default(),
        file.clone(),
    ));
    let first = enforce(&auth, &state).await.unwrap().unwrap();
    assert_eq!((first.used, first.max_uses), (1, 2));
    // The query failed upstream: the use does not count.
    state.release_use(&first.key).await.unwrap();
    assert!(enforce(&auth, &state).await.unwrap().is_some());
    assert!(enforce(&auth, &state).await.unwrap().is_some());
    assert_eq!(enforce(&auth, &state).await, Err(AuthzError::Exhausted));

    // `credgate authz revoke --jti …` in another process: append to the file.
    let mut generations = file.subscribe();
    let jti = auth.jti.clone();
    let path = revocations_path.clone();
    tokio::task::spawn_blocking(move || append_revocation(&path, &jti, auth_exp(now)))
        .await
        .unwrap()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !file.is_revoked(&auth.jti) {
        tokio::time::timeout_at(deadline, generations.changed())
            .await
            .expect("the watcher did not pick up the revocation within 10 s")
            .unwrap();
    }
    // Revocation is checked before the use count.
    assert_eq!(enforce(&auth, &state).await, Err(AuthzError::Revoked));
}

fn auth_exp(now: i64) -> i64 {
    now + 12 * 3600
}

/// Use counts are per issuer: a `jti` is unique only within its issuer, and
/// two issuers numbering their tokens alike must not spend each other's
/// single use (the count was keyed by `jti` alone).
#[tokio::test]
async fn two_issuers_numbering_tokens_alike_keep_their_own_counts() {
    let state = StateBackend::Memory(MemoryState::new(MemoryOptions::default()));
    let exp = unix_now() + 600;
    let ours = authorization("0001", Some(1), exp);
    let mut theirs = ours.clone();
    theirs.issuer = "another-issuer".into();
    let _kept = enforce(&ours, &state).await.unwrap().unwrap();
    let _kept_too = enforce(&theirs, &state).await.unwrap().unwrap();
    assert_eq!(enforce(&ours, &state).await, Err(AuthzError::Exhausted));
    assert_eq!(enforce(&theirs, &state).await, Err(AuthzError::Exhausted));
}
