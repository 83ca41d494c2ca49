use super::*;

/// Every family SPEC §10 names is described (`# HELP`, `# TYPE`) from
/// the first scrape, before any sample of it exists (black-box review: a
/// rule or dashboard written against an idle gateway found no
/// `credgate_ratelimit_rejections_total` until the first 429).
#[test]
fn every_family_is_described_before_its_first_sample() {
    let text = text004::from_openmetrics(&Metrics::new().render());
    for (family, kind) in [
        ("credgate_requests_total", "counter"),
        ("credgate_request_duration_seconds", "histogram"),
        ("credgate_ratelimit_rejections_total", "counter"),
        ("credgate_authorization_refusals_total", "counter"),
        ("credgate_audit_write_seconds", "histogram"),
        ("credgate_audit_batch_size", "histogram"),
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("# HELP {family} "))),
            "{family}: no HELP in\n{text}"
        );
        assert!(
            text.lines().any(|l| l == format!("# TYPE {family} {kind}")),
            "{family}: no TYPE in\n{text}"
        );
    }
}
