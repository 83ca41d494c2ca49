//! The Prometheus text exposition format (0.0.4), made from the
//! OpenMetrics text `prometheus-client` writes.
//!
//! SPEC §4 says `/metrics` is in the Prometheus text format; Prometheus
//! itself asks for OpenMetrics first (`Accept: application/openmetrics-text`)
//! and gets it, everything else (curl, scripts, older scrapers) gets 0.0.4.
//! `prometheus-client` only writes OpenMetrics, and no crate converts
//! between the two; the differences for what credgate exports are few and
//! mechanical, so they are handled here by hand:
//! - a counter family is named with its `_total` suffix in `# HELP` and
//!   `# TYPE` (OpenMetrics names the family without it; samples are the
//!   same in both);
//! - `unknown` is `untyped`;
//! - `# UNIT` lines, `_created` samples, exemplars and the `# EOF` line
//!   do not exist in 0.0.4 and are dropped.

use std::collections::HashMap;

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `openmetrics` (as `prometheus_client::encoding::text::encode` writes it)
/// in the Prometheus text format 0.0.4.
pub fn from_openmetrics(openmetrics: &str) -> String {
    let mut types: HashMap<&str, &str> = HashMap::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some((name, kind)) = rest.split_once(' ') {
                types.insert(name, kind.trim());
            }
        }
    }
    let is_counter = |name: &str| types.get(name) == Some(&"counter");
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            out.push_str("# HELP ");
            push_family_name(&mut out, name, is_counter(name));
            out.push(' ');
            out.push_str(help);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let kind = match kind.trim() {
                k @ ("counter" | "gauge" | "histogram" | "summary") => k,
                _ => "untyped",
            };
            out.push_str("# TYPE ");
            push_family_name(&mut out, name, kind == "counter");
            out.push(' ');
            out.push_str(kind);
        } else if line.starts_with('#') {
            continue;
        } else {
            let sample = sample_without_exemplar(line);
            let name = sample.split(['{', ' ']).next().unwrap_or("");
            if name.strip_suffix("_created").is_some_and(&is_counter) {
                continue;
            }
            out.push_str(sample);
        }
        out.push('\n');
    }
    out
}

fn push_family_name(out: &mut String, name: &str, counter: bool) {
    out.push_str(name);
    if counter && !name.ends_with("_total") {
        out.push_str("_total");
    }
}

/// A sample line without its exemplar (` # {...} value`), which can only
/// follow the value, outside the label set.
fn sample_without_exemplar(line: &str) -> &str {
    let labels_end = match (line.find('{'), line.find(' ')) {
        // Labels come before the first space: skip past their closing
        // brace, minding quoted values.
        (Some(open), Some(space)) if open < space => closing_brace(line, open).unwrap_or(0),
        _ => 0,
    };
    match line[labels_end..].find(" # ") {
        Some(i) => &line[..labels_end + i],
        None => line,
    }
}

/// The index just past the `}` closing the label set opened at `open`.
fn closing_brace(line: &str, open: usize) -> Option<usize> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in line[open..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '}' if !in_quotes => return Some(open + i + 1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::metrics::histogram::Histogram;
    use prometheus_client::registry::Registry;

    #[test]
    fn counters_take_their_total_name_and_the_rest_is_unchanged() {
        let mut registry = Registry::default();
        let requests = Family::<Vec<(String, String)>, Counter>::default();
        registry.register("credgate_requests", "Requests by client", requests.clone());
        let open = Gauge::<i64>::default();
        registry.register(
            "credgate_open_connections",
            "Open connections",
            open.clone(),
        );
        let latency = Histogram::new([0.01, 0.1]);
        registry.register(
            "credgate_request_duration_seconds",
            "Latency",
            latency.clone(),
        );
        requests
            .get_or_create(&vec![("client".into(), "a \"b\" {c}".into())])
            .inc();
        open.set(3);
        latency.observe(0.05);
        let mut om = String::new();
        prometheus_client::encoding::text::encode(&mut om, &registry).unwrap();
        assert!(om.contains("# TYPE credgate_requests counter\n"), "{om}");
        assert!(om.ends_with("# EOF\n"));

        let text = from_openmetrics(&om);
        assert!(
            text.contains("# HELP credgate_requests_total Requests by client.\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE credgate_requests_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("credgate_requests_total{client=\"a \\\"b\\\" {c}\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE credgate_open_connections gauge\ncredgate_open_connections 3\n")
        );
        assert!(text.contains("# TYPE credgate_request_duration_seconds histogram\n"));
        assert!(
            text.contains("credgate_request_duration_seconds_bucket{le=\"0.1\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("credgate_request_duration_seconds_count 1\n"));
        assert!(!text.contains("# EOF"));
        // Every sample line of the input is still there.
        let samples = |s: &str| s.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(samples(&text), samples(&om));
    }

    #[test]
    fn units_created_samples_and_exemplars_are_dropped() {
        let om = "# HELP x_seconds A.\n# TYPE x_seconds counter\n# UNIT x_seconds seconds\n\
                  x_seconds_total{a=\"1 # 2\"} 5 # {trace_id=\"t\"} 1.0\nx_seconds_created 1.7e9\n\
                  # TYPE y unknown\ny 1\n# EOF\n";
        assert_eq!(
            from_openmetrics(om),
            "# HELP x_seconds_total A.\n# TYPE x_seconds_total counter\n\
             x_seconds_total{a=\"1 # 2\"} 5\n# TYPE y untyped\ny 1\n"
        );
    }
}
