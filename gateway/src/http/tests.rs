//! Unit tests of routing, decoding and header handling.
use super::route::{percent_decode, Route};
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
