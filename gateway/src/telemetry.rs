//! Telemetry (SPEC §10): structured JSON logs, and OpenTelemetry traces —
//! a span per request and per upstream call, W3C `traceparent` accepted
//! from clients and propagated to platforms — exported by OTLP over HTTP
//! when an endpoint is configured, and by nothing otherwise.
//!
//! Redaction: spans and log events carry client ids, endpoint templates,
//! upstream names and codes only. Subject identifiers never reach this
//! module: handlers record pseudonyms in the audit trail, not in spans.

use http::{HeaderMap, HeaderValue};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde::Deserialize;
use std::time::Duration;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::EnvFilter;

mod jsonline;
mod logsink;

pub use jsonline::REQUEST_ID;
pub use logsink::{LogSink, SinkGuard};

/// `[telemetry]` settings.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// OTLP/HTTP traces endpoint, e.g. `http://collector:4318/v1/traces`;
    /// absent: no exporter (spans cost a few field writes and are dropped).
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
    /// `service.name` resource attribute.
    #[serde(default)]
    pub service_name: Option<String>,
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
#[error("telemetry: {0}")]
pub struct TelemetryError(String);

/// Flushes and stops the exporter when dropped.
#[derive(Debug, Default)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
    /// Dropped after the provider: writes out the buffered log lines.
    logs: Option<SinkGuard>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            if let Err(e) = p.shutdown() {
                eprintln!("credgate: flushing traces failed: {e}");
            }
        }
        // Last: the log lines, including any the shutdown wrote.
        drop(self.logs.take());
    }
}

/// Installs the global subscriber: JSON logs to stderr (level from
/// `RUST_LOG`, else `default_level`; written in batches by
/// [`LogSink`]), plus the OpenTelemetry layer with an OTLP/HTTP exporter
/// when configured. Must run inside a tokio runtime when an exporter is
/// configured. A second call does nothing.
pub fn init(cfg: &TelemetryConfig, default_level: &str) -> Result<TelemetryGuard, TelemetryError> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let (sink, logs) = LogSink::new(Box::new(std::io::stderr()))
        .map_err(|e| TelemetryError(format!("log writer thread: {e}")))?;
    let Some(endpoint) = &cfg.otlp_endpoint else {
        install(filter, sink, None);
        return Ok(TelemetryGuard {
            provider: None,
            logs: Some(logs),
        });
    };
    use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(
            opentelemetry_http::hyper::HyperClient::with_default_connector(
                Duration::from_secs(10),
                None,
            ),
        )
        .with_endpoint(endpoint.clone())
        .build()
        .map_err(|e| TelemetryError(e.to_string()))?;
    let provider = provider_with(exporter, cfg.service_name.as_deref().unwrap_or("credgate"));
    install(filter, sink, Some(&provider));
    Ok(TelemetryGuard {
        provider: Some(provider),
        logs: Some(logs),
    })
}

/// Installs the global subscriber built by [`dispatch`]. The one place
/// both logs and spans are set up, so tests that capture them see exactly
/// what production emits. A second call does nothing.
pub fn install<W>(filter: EnvFilter, writer: W, provider: Option<&SdkTracerProvider>)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let _ = tracing::dispatcher::set_global_default(dispatch(filter, writer, provider));
}

/// The production subscriber: the JSON log layer writing to `writer`, and
/// the OpenTelemetry layer when a provider is given.
pub fn dispatch<W>(
    filter: EnvFilter,
    writer: W,
    provider: Option<&SdkTracerProvider>,
) -> tracing::Dispatch
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::filter::{filter_fn, FilterExt as _};
    use tracing_subscriber::Layer as _;
    // The log layer sees events only: it prints no span fields, and a span
    // it saw would make every `Span::record` re-format the span's fields.
    // The log level filters logs only: request and upstream spans (INFO)
    // are traced whatever the log verbosity when an exporter is set; with
    // none, no layer wants spans, so they are disabled and cost nothing.
    let fmt = tracing_subscriber::fmt::layer()
        .event_format(jsonline::JsonLine)
        .with_writer(writer)
        .with_filter(
            filter
                .and(filter_fn(|m| m.is_event()))
                .and(filter_fn(crate::logging::allowed)),
        );
    // Without a provider there is no OpenTelemetry layer at all (an absent
    // `Option` layer would still enable every span).
    match provider {
        Some(p) => tracing::Dispatch::new(
            tracing_subscriber::registry().with(fmt).with(
                tracing_opentelemetry::layer()
                    .with_tracer(p.tracer("credgate"))
                    .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
            ),
        ),
        None => tracing::Dispatch::new(tracing_subscriber::registry().with(fmt)),
    }
}

/// The one log line per request (INFO, target `credgate::http`): the
/// request span's fields. Client ids, endpoint templates and codes only —
/// never a path, subject or personal field.
#[derive(Debug, Clone, Copy)]
pub struct RequestLine<'a> {
    /// `X-Request-Id`.
    pub request_id: &'a str,
    /// W3C trace id.
    pub trace_id: &'a str,
    /// Client id from policy, or `-`.
    pub client: &'a str,
    /// Endpoint template, or `-`.
    pub endpoint: &'a str,
    /// HTTP status.
    pub status: u16,
    /// `ok` or the problem code.
    pub decision: &'a str,
    /// Sequence number of the audit record (0: none written).
    pub audit_seq: u64,
    /// Time in the gateway, ms.
    pub elapsed_ms: u64,
}

impl RequestLine<'_> {
    /// Emits the line through the installed subscriber.
    pub fn log(&self) {
        tracing::info!(
            target: "credgate::http",
            request_id = self.request_id,
            trace_id = self.trace_id,
            client = self.client,
            endpoint = self.endpoint,
            status = self.status,
            decision = self.decision,
            audit_seq = self.audit_seq,
            elapsed_ms = self.elapsed_ms,
            "request"
        );
    }
}

/// A tracer provider batching into `exporter` on the tokio runtime.
pub fn provider_with<E>(exporter: E, service: &str) -> SdkTracerProvider
where
    E: opentelemetry_sdk::trace::SpanExporter + 'static,
{
    let processor =
        opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
            exporter,
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
    SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build()
}

/// W3C trace context of a request: the trace id recorded in the audit
/// record and propagated upstream.
#[derive(Debug, Clone)]
pub struct TraceContext {
    /// 32 lower-case hex digits.
    pub trace_id: String,
    /// Trace flags (`01` sampled).
    pub flags: String,
}

impl TraceContext {
    /// Attaches the client's `traceparent` (when valid) as the parent of
    /// `span`, and returns the trace context: the span's own when an
    /// OpenTelemetry layer is active, else the client's, else a new one.
    pub fn start(span: &tracing::Span, headers: &HeaderMap) -> TraceContext {
        let incoming = parse_traceparent(headers);
        if let Some((trace, parent, flags)) = &incoming {
            let sc = opentelemetry::trace::SpanContext::new(
                *trace,
                *parent,
                *flags,
                true,
                opentelemetry::trace::TraceState::default(),
            );
            let cx = opentelemetry::Context::new().with_remote_span_context(sc);
            let _ = span.set_parent(cx);
        }
        if let Some(tc) = from_span(span) {
            return tc;
        }
        match incoming {
            Some((trace, _, flags)) => TraceContext {
                trace_id: format!("{trace:032x}"),
                flags: format!("{:02x}", flags.to_u8()),
            },
            None => {
                let mut b = [0u8; 16];
                rand::Rng::fill(&mut rand::thread_rng(), &mut b);
                b[15] |= 1;
                TraceContext {
                    trace_id: hex::encode(b),
                    flags: "01".to_owned(),
                }
            }
        }
    }

    /// The `traceparent` for a call made inside `span`: the span's own
    /// context when traced, else this trace with a fresh span id.
    pub fn child(&self, span: &tracing::Span) -> HeaderValue {
        let cx = span.context();
        let sc = cx.span().span_context().clone();
        let v = if sc.is_valid() {
            format!(
                "00-{:032x}-{:016x}-{:02x}",
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags().to_u8()
            )
        } else {
            let mut s = [0u8; 8];
            rand::Rng::fill(&mut rand::thread_rng(), &mut s);
            s[7] |= 1;
            format!("00-{}-{}-{}", self.trace_id, hex::encode(s), self.flags)
        };
        HeaderValue::from_str(&v).unwrap_or_else(|_| {
            HeaderValue::from_static("00-00000000000000000000000000000001-0000000000000001-00")
        })
    }
}

fn from_span(span: &tracing::Span) -> Option<TraceContext> {
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| TraceContext {
        trace_id: format!("{:032x}", sc.trace_id()),
        flags: format!("{:02x}", sc.trace_flags().to_u8()),
    })
}

/// A valid W3C `traceparent`: `00-<32 hex>-<16 hex>-<2 hex>`, ids not zero.
fn parse_traceparent(
    h: &HeaderMap,
) -> Option<(
    opentelemetry::trace::TraceId,
    opentelemetry::trace::SpanId,
    opentelemetry::trace::TraceFlags,
)> {
    let s = h.get("traceparent")?.to_str().ok()?;
    let parts: Vec<&str> = s.trim().split('-').collect();
    if parts.len() != 4
        || parts[0] != "00"
        || parts[1].len() != 32
        || parts[2].len() != 16
        || parts[3].len() != 2
    {
        return None;
    }
    let trace = u128::from_str_radix(parts[1], 16)
        .ok()
        .filter(|t| *t != 0)?;
    if names_a_subject(parts[1]) {
        // The trace id is recorded as sent (log line, audit record, the
        // platform's call): one that holds a valid ID number or USCC would
        // put it there. Refused like a malformed header: a fresh trace.
        return None;
    }
    let span = u64::from_str_radix(parts[2], 16).ok().filter(|s| *s != 0)?;
    let flags = u8::from_str_radix(parts[3], 16).ok()?;
    Some((
        opentelemetry::trace::TraceId::from(trace),
        opentelemetry::trace::SpanId::from(span),
        opentelemetry::trace::TraceFlags::new(flags),
    ))
}

/// Whether `hex` (a trace id) contains a valid ID number or USCC as 18
/// consecutive characters. A random trace id does so rarely (a USCC's
/// check character and shape; ≈ 0.1 % of them), and then only loses its
/// link to the client's trace.
fn names_a_subject(hex: &str) -> bool {
    credgate_ids::contains_subject_id(hex)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Captured log output (also used by the submodules' tests).
    #[derive(Clone, Default)]
    pub(crate) struct Lines(pub(crate) std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Lines {
        type Writer = Lines;
        fn make_writer(&'a self) -> Lines {
            self.clone()
        }
    }

    #[test]
    fn without_an_exporter_spans_are_disabled_and_events_still_logged() {
        let out = Lines::default();
        let d = dispatch(EnvFilter::new("info"), out.clone(), None);
        tracing::dispatcher::with_default(&d, || {
            let span = tracing::info_span!("request", client = tracing::field::Empty);
            assert!(
                span.is_disabled(),
                "no layer wants spans: they must cost nothing"
            );
            span.record("client", "dept-nb");
            tracing::info!(client = "dept-nb", status = 200u16, "request");
            tracing::debug!("below the level");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["fields"]["client"], "dept-nb");
        assert_eq!(v["fields"]["status"], 200);
        assert_eq!(v["level"], "INFO");
    }

    #[test]
    fn with_an_exporter_spans_are_enabled_whatever_the_log_level() {
        let provider = SdkTracerProvider::builder().build();
        let d = dispatch(EnvFilter::new("off"), Lines::default(), Some(&provider));
        tracing::dispatcher::with_default(&d, || {
            let span = tracing::info_span!("request");
            assert!(!span.is_disabled());
            assert!(
                from_span(&span).is_some(),
                "the span has an OpenTelemetry context"
            );
        });
    }

    #[test]
    fn traceparent_validation() {
        let mut h = HeaderMap::new();
        h.insert(
            "traceparent",
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        let (t, s, f) = parse_traceparent(&h).unwrap();
        assert_eq!(format!("{t:032x}"), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(format!("{s:016x}"), "00f067aa0ba902b7");
        assert!(f.is_sampled());
        // An ID number or a USCC inside the trace id: not adopted (it
        // would be logged and audited as sent).
        for (id, at) in [("330205197411172108", 0), ("91330203354933879K", 9)] {
            let mut trace = String::from("4bf92f3577b34da6a3ce929d0e0e4736");
            trace.replace_range(at..at + 18, &id.to_ascii_lowercase());
            assert!(names_a_subject(&trace), "{trace}");
            let header = format!("00-{trace}-00f067aa0ba902b7-01");
            if u128::from_str_radix(&trace, 16).is_ok() {
                h.insert("traceparent", HeaderValue::from_str(&header).unwrap());
                assert!(parse_traceparent(&h).is_none(), "{header}");
            }
        }
        // Random ids very rarely hit one.
        let hits = (0u64..20_000)
            .filter(|i| {
                names_a_subject(&format!(
                    "{:032x}",
                    u128::from(*i).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
                ))
            })
            .count();
        assert!(hits < 100, "{hits} of 20,000");
        for bad in [
            "00-zz-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            h.insert("traceparent", HeaderValue::from_static(bad));
            assert!(parse_traceparent(&h).is_none(), "{bad}");
        }
    }

    #[test]
    fn without_a_tracer_the_client_trace_is_kept_and_children_get_new_span_ids() {
        let mut h = HeaderMap::new();
        h.insert(
            "traceparent",
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        let span = tracing::Span::none();
        let tc = TraceContext::start(&span, &h);
        assert_eq!(tc.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        let child = tc.child(&span);
        let c = child.to_str().unwrap();
        assert!(c.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(!c.contains("00f067aa0ba902b7"), "a new span id: {c}");
        let fresh = TraceContext::start(&span, &HeaderMap::new());
        assert_eq!(fresh.trace_id.len(), 32);
    }
}
