//! The data address's TLS: rustls with ring, client certificates required
//! and verified against the configured CA; the peer's identity for the log.

use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use super::SimTls;
use crate::error::SimError;

fn certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, SimError> {
    let certs = rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SimError::Pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(SimError::Pem("no certificate".into()));
    }
    Ok(certs)
}

fn key(pem: &str) -> Result<PrivateKeyDer<'static>, SimError> {
    rustls_pemfile::private_key(&mut pem.as_bytes())
        .map_err(|e| SimError::Pem(e.to_string()))?
        .ok_or_else(|| SimError::Pem("no private key".into()))
}

/// A TLS acceptor requiring a client certificate from `tls.client_ca_pem`,
/// offering h2 and HTTP/1.1.
pub(super) fn acceptor(tls: &SimTls) -> Result<TlsAcceptor, SimError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for c in certs(&tls.client_ca_pem)? {
        roots.add(c)?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| SimError::Verifier(e.to_string()))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs(&tls.cert_chain_pem)?, key(&tls.key_pem)?)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The client certificate's identity: its first URI SAN, else its CN, else
/// `unknown`.
pub(super) fn identity(cert: Option<&CertificateDer<'_>>) -> String {
    let Some(cert) = cert else {
        return "none".into();
    };
    let Ok((_, x509)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
        return "unparseable".into();
    };
    if let Ok(Some(san)) = x509.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::URI(uri) = name {
                return (*uri).to_owned();
            }
        }
    }
    let cn = x509
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned);
    cn.unwrap_or_else(|| "unknown".into())
}
