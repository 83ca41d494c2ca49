//! The gateway's side of the audit log (SPEC §8): every request after the
//! handshake yields exactly one record, appended durably (group-committed
//! fsync) before the response is released. The record carries a keyed
//! pseudonym of the subject, never the identifier itself.

use crate::config::AuditSettings;
use credgate_audit::{AuditConfig, AuditError, AuditLog, AuditSigner, NewRecord, Pseudonymizer};
use std::sync::Arc;
use std::time::Duration;

/// The request path's "audit record not written" errors: one line per
/// window (every refused request still has its own request line).
pub(crate) static FAILURE_LOG: credgate_audit::Throttle =
    credgate_audit::Throttle::new(Duration::from_secs(10));

/// Why the audit log could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum AuditSetupError {
    /// The signing key could not be read.
    #[error("audit signing key {path}: {reason}")]
    Key {
        /// The key file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The log could not be opened or recovered.
    #[error("audit log: {0}")]
    Open(#[from] AuditError),
}

/// The audit log as the request path uses it.
#[derive(Clone)]
pub struct Auditor {
    log: Option<AuditLog>,
    pseudonymizer: Pseudonymizer,
    fail_switch: Arc<std::sync::atomic::AtomicBool>,
    stall_switch: Arc<std::sync::atomic::AtomicBool>,
    write_timeout: Duration,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor")
            .field("enabled", &self.log.is_some())
            .finish_non_exhaustive()
    }
}

impl Auditor {
    /// Opens (and recovers) the log the settings name.
    pub async fn open(
        s: &AuditSettings,
        pseudonym_key: Arc<Vec<u8>>,
        on_batch: Option<credgate_audit::BatchObserver>,
    ) -> Result<Auditor, AuditSetupError> {
        let write_timeout = Duration::from_millis(s.write_timeout_ms.max(1));
        if s.danger_disabled {
            tracing::warn!(
                "audit.danger_disabled is set: requests are NOT audited (benchmarks only)"
            );
            return Ok(Auditor {
                log: None,
                pseudonymizer: Pseudonymizer::new(&pseudonym_key),
                fail_switch: Arc::default(),
                stall_switch: Arc::default(),
                write_timeout,
            });
        }
        let key_err = |reason: String| AuditSetupError::Key {
            path: s.signing_key_file.display().to_string(),
            reason,
        };
        let pem =
            std::fs::read_to_string(&s.signing_key_file).map_err(|e| key_err(e.to_string()))?;
        let signer = AuditSigner::from_pkcs8_pem(&pem).map_err(|e| key_err(e.to_string()))?;
        let mut cfg = AuditConfig::new(&s.dir, &s.replica, signer);
        cfg.checkpoint_every_records = s.checkpoint_every_records;
        cfg.checkpoint_every = Duration::from_secs(s.checkpoint_every_secs.max(1));
        cfg.segment_max_bytes = s.segment_max_bytes;
        // Validated to fit (config::validate); saturating all the same.
        cfg.retention = s
            .retention_days
            .map(|d| Duration::from_secs(d.saturating_mul(86_400)));
        cfg.max_batch = s.max_batch;
        cfg.max_delay = Duration::from_micros(s.max_delay_us);
        cfg.preallocate_bytes = s.preallocate_bytes;
        cfg.queue_bound = s.queue_bound;
        cfg.on_batch = on_batch;
        let fail_switch = cfg.danger_fail_writes_for_tests.clone();
        let stall_switch = cfg.danger_stall_writes_for_tests.clone();
        let log = AuditLog::open(cfg).await?;
        Ok(Auditor {
            log: Some(log),
            pseudonymizer: Pseudonymizer::new(&pseudonym_key),
            fail_switch,
            stall_switch,
            write_timeout,
        })
    }

    /// Appends a record; `Ok(Some(seq))` once it is durable, `Ok(None)`
    /// when auditing is disabled. Not acknowledged within the write timeout
    /// (a hung disk): [`AuditError::TimedOut`], and the caller releases
    /// nothing (the record may still be written later: the log then says
    /// more was answered than was, never less).
    pub async fn append(&self, rec: NewRecord) -> Result<Option<u64>, AuditError> {
        match &self.log {
            Some(log) => match tokio::time::timeout(self.write_timeout, log.append(rec)).await {
                Ok(r) => r.map(|a| Some(a.seq)),
                Err(_) => Err(AuditError::TimedOut {
                    millis: u64::try_from(self.write_timeout.as_millis()).unwrap_or(u64::MAX),
                }),
            },
            None => Ok(None),
        }
    }

    /// Whether the log cannot take records now: its last batch failed, or
    /// a write has been in progress for longer than the write timeout.
    pub fn unavailable(&self) -> bool {
        self.log.as_ref().is_some_and(|l| {
            let st = l.stats();
            st.failing || st.busy_for.is_some_and(|b| b > self.write_timeout)
        })
    }

    /// An auditor that writes nothing (unit tests of the request path).
    #[cfg(test)]
    pub(crate) fn disabled_for_tests() -> Auditor {
        Auditor {
            log: None,
            pseudonymizer: Pseudonymizer::new(&[7; 32]),
            fail_switch: Arc::default(),
            stall_switch: Arc::default(),
            write_timeout: Duration::from_secs(5),
        }
    }

    /// Queues a record nobody waits on (a request abandoned by its client
    /// before it was answered; see `http::inflight`).
    pub fn append_detached(&self, rec: NewRecord) -> Result<(), AuditError> {
        match &self.log {
            Some(log) => log.append_detached(rec),
            None => Ok(()),
        }
    }

    /// The log, when auditing is enabled (auditor API).
    pub fn log(&self) -> Option<&AuditLog> {
        self.log.as_ref()
    }

    /// The keyed pseudonym recorded for a (normalised) subject identifier.
    pub fn pseudonym(&self, subject: &str) -> String {
        self.pseudonymizer.pseudonym(subject)
    }

    /// **Tests only**: while set, every audit write fails as a failing disk
    /// would (the request then gets `503 audit_unavailable`).
    pub fn danger_fail_writes_for_tests(&self) -> &Arc<std::sync::atomic::AtomicBool> {
        &self.fail_switch
    }

    /// **Tests only**: while set, the writer holds its batches as a hung
    /// disk would (requests then get `503 audit_unavailable` after the
    /// write timeout, and `/readyz` turns not ready).
    pub fn danger_stall_writes_for_tests(&self) -> &Arc<std::sync::atomic::AtomicBool> {
        &self.stall_switch
    }

    /// Writes a final checkpoint.
    pub async fn shutdown(&self) {
        if let Some(log) = &self.log {
            match log.shutdown().await {
                Ok(Some(cp)) => {
                    tracing::info!(tree_size = cp.tree_size, "final audit checkpoint written")
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "final audit checkpoint failed"),
            }
        }
    }
}
