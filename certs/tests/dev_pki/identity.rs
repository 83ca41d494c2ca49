//! What the certificates say: subjects, SANs, key usages, serials, the CRL, and the
//! Ed25519 issuer key.

use std::collections::HashSet;
use std::fs;
use std::net::IpAddr;
use std::path::Path;

use credgate_certs::{ed25519_keypair_pem, DevPki, CLIENT_NAMES};
use ring::signature::{Ed25519KeyPair, UnparsedPublicKey, ED25519};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer as _, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::{cert_der, fresh};

/// Runs `check` on the parsed certificate at `path`.
fn with_cert<T>(path: &Path, check: impl FnOnce(&X509Certificate<'_>) -> T) -> T {
    let der = cert_der(path);
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    check(&cert)
}

fn cn(cert: &X509Certificate<'_>) -> String {
    cert.subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

fn org(cert: &X509Certificate<'_>) -> String {
    cert.subject()
        .iter_organization()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// `(dns names, ip addresses, uris)` of the SAN extension.
fn sans(cert: &X509Certificate<'_>) -> (Vec<String>, Vec<IpAddr>, Vec<String>) {
    let (mut dns, mut ips, mut uris) = (vec![], vec![], vec![]);
    let san = cert.subject_alternative_name().unwrap().unwrap();
    for name in &san.value.general_names {
        match name {
            GeneralName::DNSName(d) => dns.push((*d).to_owned()),
            GeneralName::URI(u) => uris.push((*u).to_owned()),
            GeneralName::IPAddress(b) => ips.push(match b.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(*b).unwrap()),
                _ => IpAddr::from(<[u8; 16]>::try_from(*b).unwrap()),
            }),
            other => panic!("unexpected SAN {other:?}"),
        }
    }
    (dns, ips, uris)
}

fn eku(cert: &X509Certificate<'_>) -> (bool, bool) {
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    (eku.client_auth, eku.server_auth)
}

fn assert_ca(path: &Path, expected_cn: &str) {
    with_cert(path, |c| {
        assert_eq!(cn(c), expected_cn);
        assert_eq!(org(c), "credgate dev");
        assert!(c.is_ca(), "{expected_cn} is not a CA");
        let ku = c.key_usage().unwrap().unwrap().value;
        assert!(ku.key_cert_sign() && ku.crl_sign(), "{expected_cn}: {ku:?}");
        assert_eq!(c.subject(), c.issuer(), "{expected_cn} is not self-signed");
    });
}

#[test]
fn cas_are_cas_with_the_documented_names() {
    let (_tmp, pki) = fresh();
    assert_ca(&pki.ca.cert, "credgate dev client CA");
    assert_ca(&pki.rogue_ca.cert, "credgate dev rogue CA");
    assert_ca(&pki.upstream_ca.cert, "credgate dev upstream CA");
}

#[test]
fn clients_carry_name_org_spiffe_uri_and_client_auth() {
    let (_tmp, pki) = fresh();
    for name in CLIENT_NAMES {
        with_cert(&pki.client(name).unwrap().cert, |c| {
            assert_eq!(cn(c), name);
            assert_eq!(org(c), "credgate dev");
            let (dns, ips, uris) = sans(c);
            assert!(dns.is_empty() && ips.is_empty(), "{name}");
            assert_eq!(uris, vec![format!("spiffe://credgate.dev/client/{name}")]);
            assert_eq!(eku(c), (true, false), "{name}");
            assert!(!c.is_ca());
            assert_eq!(cn_of_issuer(c), "credgate dev client CA");
        });
    }
}

fn cn_of_issuer(cert: &X509Certificate<'_>) -> String {
    cert.issuer()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn expired_client_window_is_entirely_in_the_past() {
    let (_tmp, pki) = fresh();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    with_cert(&pki.client("expired").unwrap().cert, |c| {
        assert!(c.validity().not_after.timestamp() < now - 3600);
        assert!(c.validity().not_before.timestamp() < c.validity().not_after.timestamp());
    });
    with_cert(&pki.client("bank-nb").unwrap().cert, |c| {
        assert!(c.validity().not_before.timestamp() < now);
        assert!(c.validity().not_after.timestamp() > now + 365 * 86_400);
    });
}

#[test]
fn rogue_client_impersonates_bank_nb() {
    let (_tmp, pki) = fresh();
    with_cert(&pki.rogue_client.cert, |c| {
        assert_eq!(cn(c), "rogue");
        assert_eq!(
            sans(c).2,
            vec!["spiffe://credgate.dev/client/bank-nb".to_owned()]
        );
        assert_eq!(eku(c), (true, false));
        assert_eq!(cn_of_issuer(c), "credgate dev rogue CA");
    });
}

#[test]
fn server_certificates_name_localhost_and_loopback() {
    let (_tmp, pki) = fresh();
    let loopback: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
    let mut servers = vec![(&pki.server.cert, "localhost".to_owned())];
    servers.extend(
        pki.upstream_platforms
            .iter()
            .map(|(n, f)| (&f.cert, n.clone())),
    );
    for (path, expected_cn) in servers {
        with_cert(path, |c| {
            assert_eq!(cn(c), expected_cn);
            let (dns, ips, uris) = sans(c);
            assert_eq!(dns, vec!["localhost".to_owned()], "{expected_cn}");
            assert_eq!(ips, loopback, "{expected_cn}");
            assert!(uris.is_empty());
            assert_eq!(eku(c), (false, true), "{expected_cn}");
        });
    }
}

#[test]
fn gateway_upstream_identity() {
    let (_tmp, pki) = fresh();
    with_cert(&pki.upstream_gateway.cert, |c| {
        assert_eq!(cn(c), "credgate-gateway");
        assert_eq!(sans(c).2, vec!["spiffe://credgate.dev/gateway".to_owned()]);
        assert_eq!(eku(c), (true, false));
        assert_eq!(cn_of_issuer(c), "credgate dev upstream CA");
    });
}

fn all_certs(pki: &DevPki) -> Vec<&Path> {
    pki.all_files()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "crt"))
        .collect()
}

#[test]
fn serials_are_unique_positive_and_16_bytes() {
    let (_tmp1, a) = fresh();
    let (_tmp2, b) = fresh();
    let mut seen = HashSet::new();
    for path in all_certs(&a).into_iter().chain(all_certs(&b)) {
        let serial = with_cert(path, |c| c.raw_serial().to_vec());
        assert_eq!(serial.len(), 16, "{}", path.display());
        assert_eq!(serial[0] & 0x80, 0, "{}", path.display());
        assert!(
            seen.insert(serial),
            "duplicate serial in {}",
            path.display()
        );
    }
    // ca, server, 6 clients, rogue ca + client, upstream ca, 4 platforms, gateway.
    assert_eq!(seen.len(), 2 * 16);
}

#[test]
fn crl_revokes_exactly_the_revoked_client() {
    let (_tmp, pki) = fresh();
    let pem = fs::read(&pki.crl).unwrap();
    let (_, block) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let (_, crl) = CertificateRevocationList::from_der(&block.contents).unwrap();
    let listed: Vec<Vec<u8>> = crl
        .iter_revoked_certificates()
        .map(|r| r.raw_serial().to_vec())
        .collect();
    let revoked = with_cert(&pki.client("revoked").unwrap().cert, |c| {
        c.raw_serial().to_vec()
    });
    assert_eq!(listed, vec![revoked]);
    with_cert(&pki.ca.cert, |ca| assert_eq!(crl.issuer(), ca.subject()));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(crl.next_update().unwrap().timestamp() >= now + 30 * 86_400);
    assert!(crl
        .extensions()
        .iter()
        .any(|e| matches!(e.parsed_extension(), ParsedExtension::CRLNumber(_))));
}

/// The DER inside a PEM block with the given label.
fn pem_block(text: &str, label: &str) -> Vec<u8> {
    let (_, block) = x509_parser::pem::parse_x509_pem(text.as_bytes()).unwrap();
    assert_eq!(block.label, label);
    block.contents
}

/// Signs with the PKCS#8 private key and verifies with the SPKI public key.
fn assert_round_trip(private_pem: &str, public_pem: &str) {
    let pkcs8 = pem_block(private_pem, "PRIVATE KEY");
    let spki = pem_block(public_pem, "PUBLIC KEY");
    let (_, info) = SubjectPublicKeyInfo::from_der(&spki).unwrap();
    assert_eq!(
        info.algorithm.algorithm.to_id_string(),
        "1.3.101.112",
        "not Ed25519"
    );
    let public = UnparsedPublicKey::new(&ED25519, info.subject_public_key.data.to_vec());

    let signer = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8).unwrap();
    let message = b"credgate authorization token";
    let signature = signer.sign(message);
    public.verify(message, signature.as_ref()).unwrap();
    assert!(public.verify(b"tampered", signature.as_ref()).is_err());
}

#[test]
fn authz_issuer_pair_round_trips() {
    let (_tmp, pki) = fresh();
    let private = fs::read_to_string(&pki.authz_issuer_key).unwrap();
    let public = fs::read_to_string(&pki.authz_issuer_pub).unwrap();
    assert_round_trip(&private, &public);
}

#[test]
fn fresh_ed25519_pairs_round_trip_and_differ() {
    let (sk1, pk1) = ed25519_keypair_pem().unwrap();
    let (sk2, pk2) = ed25519_keypair_pem().unwrap();
    assert_round_trip(&sk1, &pk1);
    assert_ne!(pk1, pk2);
    // A signature from one key does not verify under the other.
    let signer =
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pem_block(&sk2, "PRIVATE KEY")).unwrap();
    let spki1 = pem_block(&pk1, "PUBLIC KEY");
    let (_, info) = SubjectPublicKeyInfo::from_der(&spki1).unwrap();
    let other = UnparsedPublicKey::new(&ED25519, info.subject_public_key.data.to_vec());
    assert!(other.verify(b"m", signer.sign(b"m").as_ref()).is_err());
}
