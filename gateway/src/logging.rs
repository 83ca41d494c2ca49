//! Structured JSON logs to stderr; level from `RUST_LOG`, else the default
//! given. Log fields never carry subject identifiers or personal data: the
//! request path logs only client ids, endpoint templates and codes.

use tracing_subscriber::EnvFilter;

/// Installs the global JSON subscriber (once; later calls do nothing).
pub fn init(default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_current_span(false)
        .try_init();
}
