//! Values: legacy codes, rate limits, home schemes, issuer keys, enumerations, ids.

use super::*;

#[test]
fn legacy_codes() {
    let src = BASE.replace(
        "version = 1\n",
        "version = 1\n[settings]\nlegacy_codes = [\"91350100m0001tgqxm\",\n  \"91350100M0001TGQXI\",\n  \"91350100M0001TGQXM\",\n  \"91330203MA2H1234XA\",\n  \"91350100M0001TGQX\"]\n",
    );
    let errs = errors(&src);
    let bad: Vec<_> = errs
        .iter()
        .filter(|e| e.kind == ErrorKind::InvalidLegacyCode)
        .collect();
    let paths: Vec<_> = bad.iter().map(|e| e.key_path.as_str()).collect();
    // A bad character, a standard (not legacy) code, a wrong length.
    assert_eq!(
        paths,
        [
            "settings.legacy_codes[1]",
            "settings.legacy_codes[3]",
            "settings.legacy_codes[4]"
        ]
    );
    assert_eq!(bad[0].line, line_of(&src, "TGQXI"));
    assert_eq!(bad[1].line, line_of(&src, "1234XA"));
    assert!(bad[1].message.contains("not a legacy code"), "{}", bad[1]);
    for e in &bad {
        assert!(!e.to_string().contains("9135"), "{e}");
        assert!(!e.to_string().contains("9133"), "{e}");
    }
    // Lower case is normalised, so the third entry repeats the first.
    let dup: Vec<_> = errs
        .iter()
        .filter(|e| e.kind == ErrorKind::DuplicateEntry)
        .collect();
    assert_eq!(dup.len(), 1, "{errs:?}");
    assert_eq!(dup[0].key_path, "settings.legacy_codes[2]");
}

#[test]
fn rate_limits_must_be_positive() {
    let src = BASE.replace(
        "kind = \"bank\"\n",
        "kind = \"bank\"\nrate_limit = { per_second = 0, burst = -1, daily_quota = 0 }\n",
    );
    let errs: Vec<_> = errors(&src)
        .into_iter()
        .filter(|e| e.kind == ErrorKind::InvalidRateLimit)
        .collect();
    let paths: Vec<_> = errs.iter().map(|e| e.key_path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "clients[0].rate_limit.per_second",
            "clients[0].rate_limit.burst",
            "clients[0].rate_limit.daily_quota"
        ]
    );
    assert!(errs.iter().all(|e| e.line == line_of(&src, "rate_limit =")));
    let src = BASE.replace(
        "  authorization = \"required\"\n",
        "  authorization = \"required\"\n  rate_limit = { per_second = -2.5, burst = 3 }\n",
    );
    assert_one(
        &src,
        ErrorKind::InvalidRateLimit,
        "per_second = -2.5",
        "clients[0].grants[0].rate_limit.per_second",
    );
}

#[test]
fn rate_limits_must_refill_within_100_years() {
    // 4000 requests at one per 10⁷ s: 1268 years to refill; the limiter refuses it.
    let src = BASE.replace(
        "kind = \"bank\"\n",
        "kind = \"bank\"\nrate_limit = { per_second = 1e-7, burst = 4000 }\n",
    );
    let e = assert_one(
        &src,
        ErrorKind::InvalidRateLimit,
        "rate_limit =",
        "clients[0].rate_limit",
    );
    assert!(e.message.contains("100 years"), "{e}");
    // Per scope too.
    let src = BASE.replace(
        "  authorization = \"required\"\n",
        "  authorization = \"required\"\n  rate_limit = { per_second = 1e-9, burst = 10 }\n",
    );
    assert_one(
        &src,
        ErrorKind::InvalidRateLimit,
        "per_second = 1e-9",
        "clients[0].grants[0].rate_limit",
    );
    // Slow but within the bound: one a year, a burst of 50.
    let src = BASE.replace(
        "kind = \"bank\"\n",
        "kind = \"bank\"\nrate_limit = { per_second = 3.2e-8, burst = 50 }\n",
    );
    assert_eq!(errors(&src), []);
    // An invalid number is reported once, not again as a window.
    let src = BASE.replace(
        "kind = \"bank\"\n",
        "kind = \"bank\"\nrate_limit = { per_second = 0, burst = 4000 }\n",
    );
    assert_one(
        &src,
        ErrorKind::InvalidRateLimit,
        "rate_limit =",
        "clients[0].rate_limit.per_second",
    );
}

#[test]
fn peer_platform_needs_home_scheme() {
    let src = BASE.replace("kind = \"bank\"", "kind = \"peer_platform\"");
    assert_one(
        &src,
        ErrorKind::MissingHomeScheme,
        "[[clients]]",
        "clients[0].home_scheme",
    );
    let src = BASE.replace(
        "kind = \"bank\"",
        "kind = \"peer_platform\"\nhome_scheme = \"qianjiang\"",
    );
    assert_eq!(errors(&src), []);
}

#[test]
fn issuer_keys() {
    let neither = BASE.replace("public_key_file = \"issuer.pub\"\n", "");
    assert_one(
        &neither,
        ErrorKind::InvalidIssuerKey,
        "[[issuers]]",
        "issuers[0]",
    );
    let both = BASE.replace(
        "public_key_file = \"issuer.pub\"\n",
        "public_key_file = \"issuer.pub\"\npublic_key_pem = \"-----BEGIN PUBLIC KEY-----\"\n",
    );
    assert_one(
        &both,
        ErrorKind::InvalidIssuerKey,
        "public_key_pem",
        "issuers[0].public_key_pem",
    );
    let junk = BASE.replace(
        "public_key_file = \"issuer.pub\"\n",
        "public_key_pem = \"not a key\"\n",
    );
    assert_one(
        &junk,
        ErrorKind::InvalidIssuerKey,
        "public_key_pem",
        "issuers[0].public_key_pem",
    );
    let empty = BASE.replace(
        "public_key_file = \"issuer.pub\"\n",
        "public_key_file = \"\"\n",
    );
    assert_one(
        &empty,
        ErrorKind::InvalidValue,
        "public_key_file",
        "issuers[0].public_key_file",
    );
}

#[test]
fn unknown_enumerated_values() {
    let src = BASE
        .replace(
            "endpoint = \"sanctions_check\"",
            "endpoint = \"sanction_check\"",
        )
        .replace("kind = \"bank\"", "kind = \"bnak\"")
        .replace("authorization = \"required\"", "authorization = \"yes\"");
    assert_one(
        &src,
        ErrorKind::UnknownEndpoint,
        "sanction_check",
        "scopes[1].endpoint",
    );
    assert_one(
        &src,
        ErrorKind::UnknownClientKind,
        "bnak",
        "clients[0].kind",
    );
    assert_one(
        &src,
        ErrorKind::UnknownAuthorization,
        "\"yes\"",
        "clients[0].grants[0].authorization",
    );
}

#[test]
fn invalid_ids_and_values() {
    let src = BASE
        .replace("id = \"a\"", "id = \"a b\"")
        .replace("display_name = \"A\"", "display_name = \" \"");
    assert_one(&src, ErrorKind::InvalidId, "\"a b\"", "clients[0].id");
    assert_one(
        &src,
        ErrorKind::InvalidValue,
        "display_name",
        "clients[0].display_name",
    );
    let src = BASE.replace(
        "endpoint = \"sanctions_check\"\n",
        "endpoint = \"sanctions_check\"\nmax_authorization_lifetime_days = 0\n",
    );
    assert_one(
        &src,
        ErrorKind::InvalidValue,
        "max_authorization_lifetime_days",
        "scopes[1].max_authorization_lifetime_days",
    );
}

#[test]
fn a_key_the_caller_refuses_is_a_located_error_among_the_others() {
    let src =
        with("\n[[profiles]]\nid = \"q\"\n[profiles.fields]\n\"basic.nickname\" = \"keep\"\n");
    let mut asked = Vec::new();
    let errs = Policy::parse_checking_keys(&src, "policy.toml", &mut |id, key| {
        asked.push((id.to_owned(), key.clone()));
        Err("cannot read issuer.pub: gone".to_owned())
    })
    .unwrap_err()
    .0;
    assert_eq!(
        asked,
        [(
            "iss".to_owned(),
            crate::IssuerKey::File("issuer.pub".to_owned())
        )]
    );
    let kinds: Vec<_> = errs.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [ErrorKind::InvalidIssuerKey, ErrorKind::UnknownField],
        "{errs:#?}"
    );
    let e = &errs[0];
    assert_eq!(e.line, line_of(&src, "public_key_file"));
    assert_eq!(e.key_path, "issuers[0].public_key_file");
    assert_eq!(e.message, "cannot read issuer.pub: gone");
    // Accepted: the same file is valid.
    assert!(Policy::parse_checking_keys(BASE, "policy.toml", &mut |_, _| Ok(())).is_ok());
}

/// A value written without quotes is not echoed either (privacy review:
/// an all-digit legacy USCC as a TOML integer came back in the type
/// error), while key names stay.
#[test]
fn a_wrongly_typed_value_is_not_echoed() {
    let src = BASE.replace(
        "version = 1\n",
        "version = 1\n[settings]\nlegacy_codes = [913502032908059063]\n",
    );
    let errs = errors(&src);
    let text: String = errs.iter().map(|e| format!("{e}\n")).collect();
    assert!(!errs.is_empty());
    assert!(!text.contains("913502032908059063"), "{text}");
    assert!(text.contains("integer"), "{text}");
    let src = BASE.replace("kind = \"bank\"\n", "kind = \"bank\"\nbogus_key = 1\n");
    let text: String = errors(&src).iter().map(|e| format!("{e}\n")).collect();
    assert!(text.contains("bogus_key"), "{text}");
}
