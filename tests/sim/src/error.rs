//! The simulator's error type.

use std::path::PathBuf;

/// Why a simulated platform could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A certificate or key file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// PEM material was unusable (no certificate, no key, bad encoding).
    #[error("bad PEM material: {0}")]
    Pem(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built.
    #[error("client verifier: {0}")]
    Verifier(String),
    /// Binding a listener failed.
    #[error("bind: {0}")]
    Bind(#[from] std::io::Error),
    /// An unknown platform name was given.
    #[error("unknown platform `{0}`")]
    UnknownPlatform(String),
}
