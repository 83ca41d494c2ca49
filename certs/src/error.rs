//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while generating or loading dev PKI material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertsError {
    /// rcgen refused to build, parse or sign something.
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),

    /// A PEM input did not hold what the caller said it holds.
    #[error("invalid {what}: {detail}")]
    InvalidPem {
        /// What the input was supposed to be (e.g. "CA certificate").
        what: &'static str,
        /// Why it was rejected.
        detail: String,
    },

    /// A subject alternative name could not be encoded.
    #[error("invalid subject alternative name {name:?}: {detail}")]
    InvalidSan {
        /// The name as given.
        name: String,
        /// Why it was rejected.
        detail: String,
    },

    /// The system random number generator or ring's key generation failed.
    #[error("cryptographic failure: {0}")]
    Crypto(&'static str),

    /// The output directory already holds dev PKI files and `force` was not given.
    #[error(
        "{} already contains dev PKI files ({}); pass --force to overwrite them",
        dir.display(),
        existing.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    AlreadyExists {
        /// The output directory.
        dir: PathBuf,
        /// The files that already exist (relative to `dir`).
        existing: Vec<PathBuf>,
    },

    /// Reading or writing a file or directory failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done ("create directory", "write", ...).
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl CertsError {
    /// Builds an [`CertsError::Io`] for `path`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
