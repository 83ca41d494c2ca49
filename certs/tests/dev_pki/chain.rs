//! How rustls (webpki) judges the generated certificates: the gateway's view.

use std::fs;

use credgate_certs::{issue_client_cert, issue_server_cert, make_crl, Validity, CLIENT_NAMES};
use rustls::client::danger::ServerCertVerifier as _;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, Error};

use crate::{cert_der, cert_der_from_pem, crl_der, fresh, provider, roots};

/// The gateway's client verifier for `dir`: trusts `ca.crt`, honours `crl.pem`.
fn client_verifier(pki: &credgate_certs::DevPki) -> std::sync::Arc<dyn ClientCertVerifier> {
    WebPkiClientVerifier::builder_with_provider(roots(&pki.ca.cert), provider())
        .with_crls([crl_der(&pki.crl)])
        .build()
        .unwrap()
}

fn verify_client(
    verifier: &dyn ClientCertVerifier,
    cert: &CertificateDer<'_>,
) -> Result<(), Error> {
    verifier
        .verify_client_cert(cert, &[], UnixTime::now())
        .map(|_| ())
}

fn is_expired(err: &Error) -> bool {
    matches!(
        err,
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. }
        )
    )
}

fn is_not_yet_valid(err: &Error) -> bool {
    matches!(
        err,
        Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. }
        )
    )
}

fn is_unknown_issuer(err: &Error) -> bool {
    matches!(
        err,
        Error::InvalidCertificate(CertificateError::UnknownIssuer)
    )
}

#[test]
fn client_certificates_are_judged_as_the_spec_says() {
    let (_tmp, pki) = fresh();
    let verifier = client_verifier(&pki);
    for name in CLIENT_NAMES {
        let cert = cert_der(&pki.client(name).unwrap().cert);
        let result = verify_client(verifier.as_ref(), &cert);
        match name {
            "revoked" => assert_eq!(
                result,
                Err(Error::InvalidCertificate(CertificateError::Revoked)),
                "revoked"
            ),
            "expired" => {
                let err = result.unwrap_err();
                assert!(is_expired(&err), "expired: {err:?}");
            }
            _ => assert_eq!(result, Ok(()), "{name}"),
        }
    }
}

#[test]
fn rogue_client_is_an_unknown_issuer_despite_its_name() {
    let (_tmp, pki) = fresh();
    let verifier = client_verifier(&pki);
    let err = verify_client(verifier.as_ref(), &cert_der(&pki.rogue_client.cert)).unwrap_err();
    assert!(is_unknown_issuer(&err), "{err:?}");
    // ... and it does chain to its own CA, so the rejection is about trust, not a broken cert.
    let rogue_verifier =
        WebPkiClientVerifier::builder_with_provider(roots(&pki.rogue_ca.cert), provider())
            .build()
            .unwrap();
    assert_eq!(
        verify_client(rogue_verifier.as_ref(), &cert_der(&pki.rogue_client.cert)),
        Ok(())
    );
}

#[test]
fn without_the_crl_the_revoked_client_would_pass() {
    let (_tmp, pki) = fresh();
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(&pki.ca.cert), provider())
        .build()
        .unwrap();
    let revoked = cert_der(&pki.client("revoked").unwrap().cert);
    assert_eq!(verify_client(verifier.as_ref(), &revoked), Ok(()));
}

#[test]
fn server_certificate_is_valid_for_localhost_and_loopback_only() {
    let (_tmp, pki) = fresh();
    let verifier = WebPkiServerVerifier::builder_with_provider(roots(&pki.ca.cert), provider())
        .build()
        .unwrap();
    let server = cert_der(&pki.server.cert);
    for name in ["localhost", "127.0.0.1", "::1"] {
        let name = ServerName::try_from(name).unwrap();
        verifier
            .verify_server_cert(&server, &[], &name, &[], UnixTime::now())
            .unwrap_or_else(|e| panic!("{name:?}: {e:?}"));
    }
    let other = ServerName::try_from("credgate.example").unwrap();
    let err = verifier
        .verify_server_cert(&server, &[], &other, &[], UnixTime::now())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            )
        ),
        "{err:?}"
    );
}

#[test]
fn key_purposes_are_not_interchangeable() {
    let (_tmp, pki) = fresh();
    // The server certificate (EKU serverAuth only) is refused as a client certificate.
    let verifier = client_verifier(&pki);
    let err = verify_client(verifier.as_ref(), &cert_der(&pki.server.cert)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidCertificate(
                CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. }
            )
        ),
        "{err:?}"
    );
}

#[test]
fn upstream_side_chains_to_upstream_ca_and_not_to_the_client_ca() {
    let (_tmp, pki) = fresh();
    let upstream =
        WebPkiServerVerifier::builder_with_provider(roots(&pki.upstream_ca.cert), provider())
            .build()
            .unwrap();
    let client_side = WebPkiServerVerifier::builder_with_provider(roots(&pki.ca.cert), provider())
        .build()
        .unwrap();
    let localhost = ServerName::try_from("localhost").unwrap();
    let loopback = ServerName::try_from("127.0.0.1").unwrap();
    assert_eq!(pki.upstream_platforms.len(), 4);
    for (name, files) in &pki.upstream_platforms {
        let cert = cert_der(&files.cert);
        for sn in [&localhost, &loopback] {
            upstream
                .verify_server_cert(&cert, &[], sn, &[], UnixTime::now())
                .unwrap_or_else(|e| panic!("{name} for {sn:?}: {e:?}"));
        }
        let err = client_side
            .verify_server_cert(&cert, &[], &localhost, &[], UnixTime::now())
            .unwrap_err();
        assert!(is_unknown_issuer(&err), "{name}: {err:?}");
    }
    // credgate's own server certificate is not trusted on the upstream side either.
    let err = upstream
        .verify_server_cert(
            &cert_der(&pki.server.cert),
            &[],
            &localhost,
            &[],
            UnixTime::now(),
        )
        .unwrap_err();
    assert!(is_unknown_issuer(&err), "{err:?}");

    // The gateway's upstream identity is a client certificate from upstream/ca.crt only.
    let gateway = cert_der(&pki.upstream_gateway.cert);
    let sim_side =
        WebPkiClientVerifier::builder_with_provider(roots(&pki.upstream_ca.cert), provider())
            .build()
            .unwrap();
    assert_eq!(verify_client(sim_side.as_ref(), &gateway), Ok(()));
    let err = verify_client(client_verifier(&pki).as_ref(), &gateway).unwrap_err();
    assert!(is_unknown_issuer(&err), "{err:?}");
}

#[test]
fn extra_certificates_from_the_written_ca_behave() {
    let (_tmp, pki) = fresh();
    let ca_cert = fs::read_to_string(&pki.ca.cert).unwrap();
    let ca_key = fs::read_to_string(&pki.ca.key).unwrap();
    let verifier = client_verifier(&pki);

    let stranger = issue_client_cert(&ca_cert, &ca_key, "stranger", Validity::Normal).unwrap();
    assert_eq!(
        verify_client(verifier.as_ref(), &cert_der_from_pem(&stranger.cert_pem)),
        Ok(())
    );

    let early = issue_client_cert(&ca_cert, &ca_key, "early", Validity::NotYetValid).unwrap();
    let err = verify_client(verifier.as_ref(), &cert_der_from_pem(&early.cert_pem)).unwrap_err();
    assert!(is_not_yet_valid(&err), "{err:?}");

    let late = issue_client_cert(&ca_cert, &ca_key, "late", Validity::Expired).unwrap();
    let err = verify_client(verifier.as_ref(), &cert_der_from_pem(&late.cert_pem)).unwrap_err();
    assert!(is_expired(&err), "{err:?}");

    let rotated = issue_server_cert(
        &ca_cert,
        &ca_key,
        &["localhost", "127.0.0.1"],
        Validity::Normal,
    )
    .unwrap();
    let server_verifier =
        WebPkiServerVerifier::builder_with_provider(roots(&pki.ca.cert), provider())
            .build()
            .unwrap();
    server_verifier
        .verify_server_cert(
            &cert_der_from_pem(&rotated.cert_pem),
            &[],
            &ServerName::try_from("127.0.0.1").unwrap(),
            &[],
            UnixTime::now(),
        )
        .unwrap();
    assert_ne!(
        rotated.cert_pem,
        fs::read_to_string(&pki.server.cert).unwrap()
    );
}

#[test]
fn a_new_crl_revokes_what_it_lists_and_only_that() {
    let (_tmp, pki) = fresh();
    let ca_cert = fs::read_to_string(&pki.ca.cert).unwrap();
    let ca_key = fs::read_to_string(&pki.ca.key).unwrap();
    let bank = fs::read_to_string(&pki.client("bank-nb").unwrap().cert).unwrap();
    let crl = make_crl(&ca_cert, &ca_key, &[&bank]).unwrap();
    let crl_der = rustls_pemfile::crls(&mut crl.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(&pki.ca.cert), provider())
        .with_crls([crl_der])
        .enforce_revocation_expiration()
        .build()
        .unwrap();
    assert_eq!(
        verify_client(verifier.as_ref(), &cert_der_from_pem(&bank)),
        Err(Error::InvalidCertificate(CertificateError::Revoked))
    );
    let revoked = cert_der(&pki.client("revoked").unwrap().cert);
    assert_eq!(verify_client(verifier.as_ref(), &revoked), Ok(()));
}

#[test]
fn the_written_crl_is_current_when_expiry_is_enforced() {
    let (_tmp, pki) = fresh();
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(&pki.ca.cert), provider())
        .with_crls([crl_der(&pki.crl)])
        .enforce_revocation_expiration()
        .build()
        .unwrap();
    let bank = cert_der(&pki.client("bank-nb").unwrap().cert);
    assert_eq!(verify_client(verifier.as_ref(), &bank), Ok(()));
}
