//! A running platform's shared state: the fault in force, the request log
//! and the precomputed answers.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use credgate_policy::canonical::Section;
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::platform::PlatformId;
use crate::render::{self, Rendered, SimRequest};

/// How many requests the log keeps.
pub const REQUEST_LOG_CAPACITY: usize = 1000;

/// What the data address does with the next requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultMode {
    /// Answer normally.
    None,
    /// Wait `latency_ms`, then answer normally.
    Latency,
    /// Answer 500 or 503 with probability `error_rate`.
    Error,
    /// Abort the TCP connection (RST) without an HTTP answer.
    Reset,
    /// Never answer (the request is held for at most 120 s, then dropped).
    Hang,
    /// Answer 200 with a body that is not valid in the platform's format.
    Malformed,
}

/// The fault configuration (`POST /_sim/faults` body).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// The mode.
    pub mode: FaultMode,
    /// Delay for `latency`, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    /// Probability of an error answer for `error` (default 1.0).
    #[serde(default = "one")]
    pub error_rate: f64,
    /// With `malformed`, for report answers: spoil only this section (its
    /// entries lose every field, so none has what the format requires) and
    /// answer the rest normally. Only for the JSON formats whose sections
    /// sit under an object key (`ningbo-v1`, `zhejiang-v2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<Section>,
    /// With `error`: answer this status (400–599), in the platform's own
    /// error envelope, instead of 500 or 503 at random as bare text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// With `status`: answer it as bare text instead of the platform's
    /// envelope (something in front of the platform answering, such as a
    /// proxy's 403 page).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bare: bool,
}

fn one() -> f64 {
    1.0
}

/// One logged data-address request (`GET /_sim/requests` element).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// HTTP version (`HTTP/1.1`, `HTTP/2.0`).
    pub version: String,
    /// Path and query.
    pub path: String,
    /// The `traceparent` header, if any.
    pub traceparent: Option<String>,
    /// The client certificate's URI SAN (or CN).
    pub client_identity: String,
    /// Receipt time, RFC 3339 UTC.
    pub at: String,
    /// Subject identifiers the request named (path, query or body).
    pub subjects: Vec<String>,
    /// Requests in progress on the data address when this one arrived,
    /// itself included (how many a client had in flight at once).
    #[serde(default)]
    pub in_flight: usize,
}

pub(super) struct State {
    platform: PlatformId,
    dataset: Arc<Dataset>,
    fault: Mutex<Fault>,
    log: Mutex<VecDeque<RequestRecord>>,
    /// Requests being handled now.
    pub(super) in_flight: std::sync::atomic::AtomicUsize,
    /// Report bodies of held enterprises by section mask.
    reports: RwLock<HashMap<String, HashMap<u16, Rendered>>>,
    /// Score bodies of held persons.
    scores: HashMap<String, Rendered>,
    not_found_report: Rendered,
    not_found_score: Rendered,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("platform", &self.platform)
            .finish_non_exhaustive()
    }
}

// === impl Fault ===

impl Default for Fault {
    fn default() -> Self {
        Fault {
            mode: FaultMode::None,
            latency_ms: 0,
            error_rate: 1.0,
            section: None,
            status: None,
            bare: false,
        }
    }
}

impl Fault {
    /// Whether the values are in range.
    pub fn is_valid(&self) -> bool {
        (0.0..=1.0).contains(&self.error_rate) && self.latency_ms <= 600_000
    }

    /// Why this fault cannot apply to `platform`, if it cannot.
    pub(crate) fn refusal(&self, platform: PlatformId) -> Option<&'static str> {
        if !self.is_valid() {
            return Some("error_rate must be within 0..=1 and latency_ms at most 600000");
        }
        if self.bare && self.status.is_none() {
            return Some("bare applies with a status only");
        }
        match self.status {
            Some(_) if self.mode != FaultMode::Error => {
                return Some("status applies to mode error only")
            }
            Some(s) if !(400..=599).contains(&s) => return Some("status must be within 400..=599"),
            _ => {}
        }
        match self.section {
            Some(_) if self.mode != FaultMode::Malformed => {
                Some("section applies to mode malformed only")
            }
            Some(s) if render::section_key(platform, s).is_none() => Some(
                "section faults need a JSON format with keyed sections (ningbo-v1, zhejiang-v2)",
            ),
            _ => None,
        }
    }
}

fn mask(sections: &[Section]) -> u16 {
    sections.iter().fold(0, |m, s| m | 1 << (*s as u16))
}

// === impl State ===

impl State {
    pub(super) fn new(platform: PlatformId, dataset: Arc<Dataset>) -> State {
        let all = mask(&Section::ALL);
        let reports = dataset
            .enterprises()
            .iter()
            .filter(|e| platform.holds_region(&e.region))
            .map(|e| {
                let body = render::report(&dataset, platform, &e.uscc, &Section::ALL);
                (e.uscc.clone(), HashMap::from([(all, body)]))
            })
            .collect();
        let scores = dataset
            .persons()
            .iter()
            .filter(|p| platform.holds_region(&p.region))
            .map(|p| (p.id.clone(), render::score(&dataset, platform, &p.id)))
            .collect();
        State {
            platform,
            not_found_report: render::report(&dataset, platform, "", &Section::ALL),
            not_found_score: render::score(&dataset, platform, ""),
            dataset,
            fault: Mutex::new(Fault::default()),
            log: Mutex::new(VecDeque::with_capacity(REQUEST_LOG_CAPACITY)),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            reports: RwLock::new(reports),
            scores,
        }
    }

    pub(super) fn platform(&self) -> PlatformId {
        self.platform
    }

    pub(super) fn fault(&self) -> Fault {
        *self.fault.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn set_fault(&self, fault: Fault) {
        *self.fault.lock().unwrap_or_else(PoisonError::into_inner) = fault;
    }

    pub(super) fn record(&self, r: RequestRecord) {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        if log.len() >= REQUEST_LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(r);
    }

    pub(super) fn requests(&self) -> Vec<RequestRecord> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    pub(super) fn clear_requests(&self) {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The answer to a routed request, from the precomputed bodies when
    /// possible.
    pub(super) fn answer(&self, req: &SimRequest) -> Rendered {
        match req {
            SimRequest::Report { uscc, sections } => {
                let m = mask(sections);
                {
                    let reports = self.reports.read().unwrap_or_else(PoisonError::into_inner);
                    match reports.get(uscc.as_str()) {
                        None => return self.not_found_report.clone(),
                        Some(by_mask) => {
                            if let Some(r) = by_mask.get(&m) {
                                return r.clone();
                            }
                        }
                    }
                }
                let r = render::report(&self.dataset, self.platform, uscc, sections);
                let mut reports = self.reports.write().unwrap_or_else(PoisonError::into_inner);
                if let Some(by_mask) = reports.get_mut(uscc.as_str()) {
                    by_mask.insert(m, r.clone());
                }
                r
            }
            SimRequest::Score { id } => self
                .scores
                .get(id.as_str())
                .unwrap_or(&self.not_found_score)
                .clone(),
            other => render::answer(&self.dataset, self.platform, other),
        }
    }
}
