//! Black-box tests of the dev PKI: the layout on disk, what the certificates say, and
//! how rustls judges them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;
use std::sync::Arc;

use credgate_certs::{generate_dev_pki, DevPki, DevPkiOptions};
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};

mod dev_pki {
    pub mod chain;
    pub mod identity;
    pub mod layout;
}

/// Generates a dev PKI into a fresh temporary directory.
fn fresh() -> (tempfile::TempDir, DevPki) {
    let tmp = tempfile::tempdir().unwrap();
    let pki = generate_dev_pki(&DevPkiOptions {
        out: tmp.path().join("pki"),
        force: false,
    })
    .unwrap();
    (tmp, pki)
}

/// The single certificate in a PEM file.
fn cert_der(path: &Path) -> CertificateDer<'static> {
    cert_der_from_pem(&fs::read_to_string(path).unwrap())
}

/// The single certificate in a PEM string.
fn cert_der_from_pem(pem: &str) -> CertificateDer<'static> {
    let mut certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(certs.len(), 1, "expected exactly one certificate");
    certs.remove(0)
}

/// The single CRL in a PEM file.
fn crl_der(path: &Path) -> CertificateRevocationListDer<'static> {
    let pem = fs::read(path).unwrap();
    let mut crls: Vec<_> = rustls_pemfile::crls(&mut pem.as_slice())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(crls.len(), 1, "expected exactly one CRL");
    crls.remove(0)
}

/// A root store holding just the CA in `path`.
fn roots(path: &Path) -> Arc<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert_der(path)).unwrap();
    Arc::new(roots)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
