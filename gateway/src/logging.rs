//! Structured JSON logs to stderr; level from `RUST_LOG`, else the default
//! given. Log fields never carry subject identifiers or personal data: the
//! request path logs only client ids, endpoint templates and codes.

use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// Crates whose debug and trace output can hold request data: the HTTP/2
/// codec logs a malformed request's raw path (with the subject's ID number
/// in it) and the debug data of a GOAWAY frame; hyper and the TLS stack
/// log frames and handshake details. Whatever `RUST_LOG` asks, their
/// events above INFO are dropped (privacy review); none of them logs
/// anything at INFO or below that holds such data.
const PROTOCOL_CRATES: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "hyper_rustls",
    "rustls",
    "tokio_rustls",
];

/// Whether an event or span of `meta` may be logged at all (see
/// [`PROTOCOL_CRATES`]).
pub(crate) fn allowed(meta: &tracing::Metadata<'_>) -> bool {
    allowed_at(meta.target(), *meta.level())
}

fn allowed_at(target: &str, level: tracing::Level) -> bool {
    level <= tracing::Level::INFO
        || !PROTOCOL_CRATES.iter().any(|c| {
            target
                .strip_prefix(c)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
}

/// Installs the global JSON subscriber (once; later calls do nothing).
pub fn init(default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_writer(std::io::stderr)
        .with_current_span(false)
        .with_filter(filter)
        .with_filter(filter_fn(allowed));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_crates_are_capped_at_info_and_nothing_else_is() {
        use tracing::Level;
        assert!(!allowed_at("h2::server", Level::DEBUG));
        assert!(!allowed_at("hyper::proto::h1::io", Level::TRACE));
        assert!(!allowed_at("rustls", Level::DEBUG));
        assert!(allowed_at("h2", Level::WARN));
        assert!(allowed_at("hyper_util", Level::INFO));
        // Not a protocol crate, though its name starts like one.
        assert!(allowed_at("h2c_proxy", Level::DEBUG));
        assert!(allowed_at("credgate::http", Level::DEBUG));
    }
}
