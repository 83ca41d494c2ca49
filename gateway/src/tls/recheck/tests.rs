use super::*;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateRevocationListDer;

const NOW: i64 = 1_800_000_000;

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

/// The material of a bundle holding `cas` (PEM) with `crls` (PEM).
fn in_force(cas: &[&str], crls: &[&str]) -> Arc<InForce> {
    let mut roots = RootCertStore::empty();
    for pem in cas {
        roots.add(der(pem)).unwrap();
    }
    let crls: Vec<_> = crls
        .iter()
        .flat_map(|p| CertificateRevocationListDer::pem_slice_iter(p.as_bytes()))
        .map(Result::unwrap)
        .collect();
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), crate::tls::provider())
            .with_crls(crls)
            .build()
            .unwrap();
    Arc::new(InForce::new(verifier))
}

fn status(chains: &Chains, pems: &[&str]) -> CertStatus {
    let chain: Vec<_> = pems.iter().map(|p| der(p)).collect();
    let (_, not_after) = crate::tls::identity::peer_identity(chain[0].as_ref()).unwrap();
    CertStatus::of(chains.intern(&chain), not_after, 0)
}

fn pki() -> (
    credgate_certs::CertPair,
    credgate_certs::CertPair,
    credgate_certs::CertPair,
) {
    let ca = credgate_certs::new_ca("recheck test CA").unwrap();
    let issue = |name| {
        credgate_certs::issue_client_cert(
            &ca.cert_pem,
            &ca.key_pem,
            name,
            credgate_certs::Validity::Normal,
        )
        .unwrap()
    };
    let (a, b) = (issue("a"), issue("b"));
    (ca, a, b)
}

#[test]
fn a_certificate_revoked_after_its_handshake_is_refused_from_the_next_generation() {
    let (ca, a, b) = pki();
    let chains = Chains::default();
    let none = credgate_certs::make_crl(&ca.cert_pem, &ca.key_pem, &[]).unwrap();
    let crl = credgate_certs::make_crl(&ca.cert_pem, &ca.key_pem, &[&a.cert_pem]).unwrap();
    let (before, after) = (
        in_force(&[&ca.cert_pem], &[&none]),
        in_force(&[&ca.cert_pem], &[&crl]),
    );
    let sa = status(&chains, &[&a.cert_pem]);
    assert_eq!(
        sa.check(NOW, 0, || unreachable!("checked at handshake")),
        Ok(())
    );
    assert!(sa
        .check(NOW, 1, || after.clone())
        .unwrap_err()
        .contains("revoked"));
    let sb = status(&chains, &[&b.cert_pem]);
    assert_eq!(sb.check(NOW, 1, || after.clone()), Ok(()));
    // Passed once under generation 1: not verified again.
    assert_eq!(sb.check(NOW, 1, || unreachable!("remembered")), Ok(()));
    // A later CRL without a: a passes again.
    assert_eq!(sa.check(NOW, 2, || before.clone()), Ok(()));
}

#[test]
fn a_certificate_whose_ca_left_the_bundle_is_refused_from_the_next_generation() {
    let (ca, a, _) = pki();
    // A CA with the very same name but its own key (a CA renewed with a new
    // key) does not keep a's connections trusted once a's CA is gone.
    let renewed = credgate_certs::new_ca("recheck test CA").unwrap();
    let other = credgate_certs::new_ca("another CA").unwrap();
    let chains = Chains::default();
    let s = status(&chains, &[&a.cert_pem]);
    let all = in_force(&[&ca.cert_pem, &renewed.cert_pem, &other.cert_pem], &[]);
    assert_eq!(s.check(NOW, 1, || all.clone()), Ok(()));
    let without = in_force(&[&renewed.cert_pem, &other.cert_pem], &[]);
    assert!(s
        .check(NOW, 2, || without.clone())
        .unwrap_err()
        .contains("no longer trusted"));
    // The same CA certificate again: trusted again.
    let again = in_force(&[&other.cert_pem, &ca.cert_pem], &[]);
    assert_eq!(s.check(NOW, 3, || again.clone()), Ok(()));
}

#[test]
fn an_expired_certificate_is_refused_whatever_the_generation() {
    let (_, a, _) = pki();
    let s = status(&Chains::default(), &[&a.cert_pem]);
    let after = s.not_after_unix + 1;
    assert!(s.check(after, 0, || unreachable!()).is_err());
    assert_eq!(s.check(s.not_after_unix, 0, || unreachable!()), Ok(()));
}

/// A PKI with cross-signed intermediates: `inter_by_one` and `inter_by_two`
/// carry the same name and key, issued by `root_one` and `root_two`; the
/// leaf was signed with that key. `decoy` has the same name and key too,
/// issued by `root_two`, but is no CA.
struct Cross {
    root_one: String,
    root_two: String,
    inter_by_one: String,
    inter_by_two: String,
    decoy: String,
    leaf: String,
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p
}

fn cross() -> Cross {
    let root = |cn: &str| -> (Certificate, KeyPair) {
        let key = KeyPair::generate().unwrap();
        (ca_params(cn).self_signed(&key).unwrap(), key)
    };
    let ((one, one_key), (two, two_key)) = (root("Root One"), root("Root Two"));
    let inter_key = KeyPair::generate().unwrap();
    let inter_by_one = ca_params("Inter")
        .signed_by(&inter_key, &one, &one_key)
        .unwrap();
    let inter_by_two = ca_params("Inter")
        .signed_by(&inter_key, &two, &two_key)
        .unwrap();
    let mut decoy = ca_params("Inter");
    decoy.is_ca = IsCa::ExplicitNoCa;
    decoy.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let decoy = decoy.signed_by(&inter_key, &two, &two_key).unwrap();
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name.push(DnType::CommonName, "client");
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let leaf = leaf
        .signed_by(&KeyPair::generate().unwrap(), &inter_by_one, &inter_key)
        .unwrap();
    Cross {
        root_one: one.pem(),
        root_two: two.pem(),
        inter_by_one: inter_by_one.pem(),
        inter_by_two: inter_by_two.pem(),
        decoy: decoy.pem(),
        leaf: leaf.pem(),
    }
}

#[test]
fn a_chain_is_rechecked_the_way_a_handshake_checks_it() {
    let x = cross();
    let chains = Chains::default();
    let only_two = in_force(&[&x.root_two], &[]);
    // The first intermediate sent leads to a root that is not trusted; the
    // second to one that is: a handshake builds that path, and so does the
    // recheck.
    let s = status(&chains, &[&x.leaf, &x.inter_by_one, &x.inter_by_two]);
    assert_eq!(s.check(NOW, 1, || only_two.clone()), Ok(()));
    let only_one = in_force(&[&x.root_one], &[]);
    assert_eq!(s.check(NOW, 2, || only_one.clone()), Ok(()));
    let neither = in_force(
        &[&credgate_certs::new_ca("unrelated").unwrap().cert_pem],
        &[],
    );
    assert!(s.check(NOW, 3, || neither.clone()).is_err());
    // A certificate of the same name and key that is no CA leads nowhere:
    // once root one (the path through the real intermediate) is gone, the
    // connection is refused although root two issued the decoy.
    let s = status(&chains, &[&x.leaf, &x.decoy, &x.inter_by_one]);
    let both = in_force(&[&x.root_one, &x.root_two], &[]);
    assert_eq!(s.check(NOW, 1, || both.clone()), Ok(()));
    let refused = s.check(NOW, 2, || only_two.clone());
    assert!(refused.is_err(), "{refused:?}");
}

#[test]
fn connections_that_sent_the_same_chain_share_it_and_closed_ones_are_swept() {
    let (_, a, b) = pki();
    let chains = Chains::default();
    let first = chains.intern(&[der(&a.cert_pem)]);
    let again = chains.intern(&[der(&a.cert_pem)]);
    assert!(Arc::ptr_eq(&first, &again));
    assert!(!Arc::ptr_eq(&first, &chains.intern(&[der(&b.cert_pem)])));
    // Thousands of chains, each dropped (its connection closed): the map is
    // swept as it grows, and stays within twice the sweep floor.
    for i in 0..5000u32 {
        let cert = CertificateDer::from(i.to_be_bytes().to_vec());
        drop(chains.intern(&[cert]));
        assert!(chains.len() <= 2 * SWEEP_FLOOR, "{} at {i}", chains.len());
    }
    // A chain still in use survives the sweeps.
    assert!(Arc::ptr_eq(&first, &chains.intern(&[der(&a.cert_pem)])));
}
