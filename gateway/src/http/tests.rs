//! Unit tests of routing, decoding and header handling.
use super::route::{decimal, percent_decode, Route};
use super::*;
use http::HeaderMap;

#[test]
fn routes() {
    assert_eq!(
        Route::parse(&Method::GET, "/v1/enterprises/91310110666007217T/report").unwrap(),
        Route::EnterpriseReport {
            subject: "91310110666007217T".into()
        }
    );
    assert_eq!(
        Route::parse(&Method::GET, "/v1/nope").unwrap_err().code,
        Code::NotFound
    );
    assert_eq!(
        Route::parse(&Method::POST, "/v1/enterprises/x/report")
            .unwrap_err()
            .code,
        Code::MethodNotAllowed
    );
}

#[test]
fn a_paths_template_is_known_whatever_its_parameter_and_method() {
    for (method, path) in [
        (Method::GET, "/v1/enterprises/91310110666007217T/report"),
        (Method::GET, "/v1/persons/x/score"),
        (Method::POST, "/v1/sanctions/check"),
        (Method::GET, "/v1/subjects/x/access-log"),
        (Method::GET, "/v1/audit/records"),
        (Method::GET, "/v1/audit/checkpoint"),
        (Method::GET, "/v1/audit/proof/7"),
        (Method::GET, "/v1/audit/consistency"),
    ] {
        let route = Route::parse(&method, path).unwrap();
        assert_eq!(Route::template_of(path), Some(route.template()), "{path}");
    }
    // Refused paths of a known shape still name their endpoint.
    for (method, path, template) in [
        (Method::GET, "/v1/audit/proof/abc", "/v1/audit/proof/{seq}"),
        (Method::GET, "/v1/audit/proof/-1", "/v1/audit/proof/{seq}"),
        (
            Method::GET,
            "/v1/enterprises/%zz/report",
            "/v1/enterprises/{uscc}/report",
        ),
        (Method::DELETE, "/v1/audit/records", "/v1/audit/records"),
    ] {
        assert!(Route::parse(&method, path).is_err(), "{path}");
        assert_eq!(Route::template_of(path), Some(template), "{path}");
    }
    assert_eq!(Route::template_of("/v1/nope"), None);
    assert_eq!(Route::template_of("/v1/audit/proof/1/2"), None);
}

#[test]
fn numbers_are_digits_only() {
    assert_eq!(decimal("0"), Some(0));
    assert_eq!(decimal("0042"), Some(42));
    assert_eq!(decimal(&u64::MAX.to_string()), Some(u64::MAX));
    for bad in [
        "",
        "+5",
        "-5",
        " 5",
        "5 ",
        "5a",
        "1e3",
        "18446744073709551616",
        "５",
    ] {
        assert_eq!(decimal(bad), None, "{bad:?}");
    }
    assert!(Route::parse(&Method::GET, "/v1/audit/proof/+5").is_err());
}

#[test]
fn percent_decoding() {
    assert_eq!(percent_decode("ab%43").unwrap(), "abC");
    assert!(percent_decode("ab%4").is_err());
    assert!(percent_decode("%ff%fe").is_err());
}

#[test]
fn identity_headers_are_stripped() {
    let mut h = HeaderMap::new();
    h.insert(
        "x-forwarded-client-cert",
        HeaderValue::from_static("By=spiffe://x"),
    );
    h.insert("client-cert", HeaderValue::from_static(":MIIB:"));
    h.insert("client-cert-chain", HeaderValue::from_static(":MIIB:"));
    h.insert("x-credit-purpose", HeaderValue::from_static("p"));
    strip_identity_headers(&mut h);
    assert!(h.get("x-forwarded-client-cert").is_none());
    assert!(h.get("client-cert").is_none() && h.get("client-cert-chain").is_none());
    assert!(h.get("x-credit-purpose").is_some());

    // Only one of them, repeated, among ordinary headers: every value goes.
    let mut h = HeaderMap::new();
    h.insert("x-credit-purpose", HeaderValue::from_static("p"));
    h.append("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
    h.append("x-forwarded-for", HeaderValue::from_static("10.0.0.2"));
    h.insert("accept", HeaderValue::from_static("*/*"));
    strip_identity_headers(&mut h);
    assert!(h.get_all("x-forwarded-for").iter().next().is_none());
    assert_eq!(h.len(), 2);
}
