//! One adapter per upstream wire format, translating into the canonical
//! model of `credgate_policy::canonical`.
//!
//! Adapters are pure: they build the request to send and parse the body that
//! came back. They never do I/O, never panic on any input, and never put a
//! raw upstream body into an error (it may hold personal data).

use credgate_policy::canonical::{EnterpriseRecord, NativeScore, SanctionAnswer, Section};

mod convert;
mod hangzhou;
mod ningbo;
mod xiamen;
mod zhejiang;

pub use hangzhou::HangzhouV1;
pub use ningbo::NingboV1;
pub use xiamen::XiamenV1;
pub use zhejiang::ZhejiangV2;

/// The request an adapter wants sent to its platform. The federation client
/// adds the base URL, TLS, timeouts and trace headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamRequest {
    /// HTTP method.
    pub method: http::Method,
    /// Path and query, starting with `/`, relative to the upstream's base URL.
    pub path_and_query: String,
    /// `Content-Type` of `body`, when there is one.
    pub content_type: Option<&'static str>,
    /// Request body (empty for GET).
    pub body: Vec<u8>,
}

/// Why an upstream answer could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AdapterError {
    /// The platform does not hold this subject.
    #[error("subject not found on the platform")]
    NotFound,
    /// The platform issues no personal scores (信用浙江 for its cities
    /// without a platform of their own): not the person's absence.
    #[error("the platform issues no personal scores")]
    NoScores,
    /// The platform answered with an error status or an error envelope.
    #[error("platform reported an error (status {status})")]
    Upstream {
        /// HTTP status, or the envelope's error code mapped to one.
        status: u16,
    },
    /// The body is not the platform's format. The reason names what was
    /// wrong (e.g. "missing field `data.tyshxydm`") but never quotes values.
    #[error("malformed platform response: {0}")]
    Malformed(String),
}

/// A platform wire format.
pub trait Adapter: Send + Sync + std::fmt::Debug {
    /// The adapter's configuration name (`ningbo-v1`, `zhejiang-v2`, …).
    fn name(&self) -> &'static str;

    /// Request for an enterprise report with the given sections.
    fn report_request(&self, uscc: &str, sections: &[Section]) -> UpstreamRequest;
    /// Parses a report answer. Only the requested sections are returned;
    /// sections the platform does not hold are omitted.
    fn parse_report(
        &self,
        uscc: &str,
        sections: &[Section],
        status: u16,
        body: &[u8],
    ) -> Result<EnterpriseRecord, AdapterError>;

    /// Request for a person's native score.
    fn score_request(&self, id_number: &str) -> UpstreamRequest;
    /// Parses a score answer.
    fn parse_score(
        &self,
        id_number: &str,
        status: u16,
        body: &[u8],
    ) -> Result<NativeScore, AdapterError>;

    /// Largest number of subjects one sanctions request may carry (1 when
    /// the format has no batch call).
    fn sanctions_batch_limit(&self) -> usize;
    /// Request for a sanctions check of `subjects` (at most the batch limit;
    /// normalised USCCs or ID numbers).
    fn sanctions_request(&self, subjects: &[String]) -> UpstreamRequest;
    /// Parses a sanctions answer: one entry per requested subject.
    fn parse_sanctions(
        &self,
        subjects: &[String],
        status: u16,
        body: &[u8],
    ) -> Result<Vec<SanctionAnswer>, AdapterError>;
}

/// Every adapter, by configuration name.
static ADAPTERS: [&dyn Adapter; 4] = [&NingboV1, &ZhejiangV2, &HangzhouV1, &XiamenV1];

/// Looks an adapter up by its configuration name (`ningbo-v1`,
/// `zhejiang-v2`, `hangzhou-v1`, `xiamen-v1`).
pub fn by_name(name: &str) -> Option<&'static dyn Adapter> {
    ADAPTERS.iter().copied().find(|a| a.name() == name)
}

/// The configuration names of every adapter.
pub fn names() -> impl Iterator<Item = &'static str> {
    ADAPTERS.iter().map(|a| a.name())
}

#[cfg(test)]
mod tests;
