//! Federation: the upstream registry, routing by division code (longest
//! prefix, abolished codes mapped to their successors), the upstream mTLS
//! client, and one adapter per platform wire format.

use crate::config::UpstreamConfig;
use crate::http::problem::{ApiError, Code};
use credgate_policy::ids::{DivisionCode, PrefixRouter};
use std::sync::Arc;

pub mod adapters;
mod bounds;
pub mod breaker;
mod client;
mod errtext;
mod slots;
pub mod upstream;

pub use upstream::{
    CallError, CallInfo, Deadline, Upstream, UpstreamError, UpstreamResponse, UpstreamSetupError,
};

/// All configured upstreams and the region router over them.
#[derive(Debug)]
pub struct Federation {
    upstreams: Vec<Arc<Upstream>>,
    router: PrefixRouter<usize>,
}

impl Federation {
    /// Builds every upstream; fails on the first unusable one or on two
    /// upstreams claiming the same region prefix.
    pub fn from_config(cfgs: &[UpstreamConfig]) -> Result<Federation, UpstreamSetupError> {
        let mut upstreams = Vec::with_capacity(cfgs.len());
        let mut prefixes = Vec::new();
        for (i, cfg) in cfgs.iter().enumerate() {
            upstreams.push(Arc::new(Upstream::from_config(cfg)?));
            for r in &cfg.regions {
                prefixes.push((r.clone(), i));
            }
        }
        let router = PrefixRouter::new(prefixes).map_err(|e| UpstreamSetupError::Config {
            name: "upstreams".into(),
            reason: e.to_string(),
        })?;
        Ok(Federation { upstreams, router })
    }

    /// The platform that owns a division code (after successor mapping),
    /// by longest configured prefix.
    pub fn route(&self, code: DivisionCode) -> Option<&Arc<Upstream>> {
        self.router
            .route(&code)
            .and_then(|i| self.upstreams.get(*i))
    }

    /// Reloads every upstream's TLS material (platform rotation); each
    /// failure keeps that upstream's material in force and is returned.
    pub fn reload_tls(&self) -> Vec<UpstreamSetupError> {
        self.upstreams
            .iter()
            .filter_map(|u| u.reload_tls().err())
            .collect()
    }

    /// Successful upstream TLS reloads so far, over all upstreams.
    pub fn tls_generation(&self) -> u64 {
        self.upstreams.iter().map(|u| u.tls_generation()).sum()
    }

    /// Every file of the upstreams' TLS material (for the reload watcher).
    pub fn tls_files(&self) -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = self.upstreams.iter().flat_map(|u| u.tls_files()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Every upstream, in configuration order.
    pub fn upstreams(&self) -> &[Arc<Upstream>] {
        &self.upstreams
    }
}

/// A failed logical call as a problem document.
pub fn call_error(name: &str, e: &CallError) -> ApiError {
    match e {
        CallError::Upstream(e) => upstream_error(name, e),
        CallError::Adapter(e) => adapter_error(name, e),
    }
}

/// A failed upstream exchange as a problem document; names the upstream,
/// never quotes its answer.
pub fn upstream_error(name: &str, e: &UpstreamError) -> ApiError {
    tracing::warn!(upstream = name, kind = e.kind(), error = %e, "upstream call failed");
    match e {
        UpstreamError::Timeout(_) => ApiError::new(
            Code::UpstreamTimeout,
            format!("platform {name} did not answer in time"),
        ),
        UpstreamError::CircuitOpen { .. } | UpstreamError::Overloaded => ApiError::new(
            Code::UpstreamOverloaded,
            format!(
                "platform {name} is not being called right now ({})",
                e.kind()
            ),
        )
        .retry_after(match e {
            UpstreamError::CircuitOpen { retry_after_secs } => *retry_after_secs,
            _ => 1,
        }),
        _ => ApiError::new(
            Code::UpstreamUnavailable,
            format!("platform {name} is unavailable ({})", e.kind()),
        ),
    }
}

/// An unusable upstream answer as a problem document.
pub fn adapter_error(name: &str, e: &adapters::AdapterError) -> ApiError {
    use adapters::AdapterError;
    match e {
        AdapterError::NotFound => ApiError::new(
            Code::SubjectNotFound,
            format!("platform {name} holds no record of the subject"),
        ),
        AdapterError::NoScores => ApiError::new(
            Code::SubjectNotFound,
            format!(
                "platform {name} issues no personal scores: the subject's region has no score of its own"
            ),
        ),
        AdapterError::Upstream { status } => {
            tracing::warn!(upstream = name, status, "upstream reported an error");
            ApiError::new(
                Code::UpstreamUnavailable,
                format!("platform {name} reported an error (status {status})"),
            )
        }
        AdapterError::Malformed(reason) => {
            tracing::warn!(upstream = name, reason = %reason, "malformed upstream response");
            ApiError::new(
                Code::UpstreamUnavailable,
                format!("platform {name} sent a malformed response"),
            )
        }
    }
}
