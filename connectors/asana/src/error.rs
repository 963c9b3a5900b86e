//! Errors of the Asana client: the shared [`ConnectorError`] classes plus the two outcomes only
//! asynchronous jobs have (the job failed, or did not finish in time).

use handoff_connector::{ConnectorError, ErrorClass};
use std::time::Duration;

/// A failed Asana operation.
#[derive(Debug, thiserror::Error)]
pub enum AsanaError {
    /// The HTTP call failed (status, transport, decoding); see its [`ErrorClass`].
    #[error(transparent)]
    Vendor(#[from] ConnectorError),
    /// `GET /jobs/{job_gid}` reported `status: failed`: Asana gave up on the instantiation.
    #[error("asana job {job_gid} failed")]
    JobFailed { job_gid: String },
    /// The job was still running when the configured timeout (`job_timeout_s`) ran out. Asana
    /// may still finish it: look the project up by name before instantiating again.
    #[error("asana job {job_gid} did not finish within {waited:?}")]
    JobTimedOut { job_gid: String, waited: Duration },
    /// The job succeeded but named no `new_project`.
    #[error("asana job {job_gid} succeeded without a new_project")]
    JobWithoutProject { job_gid: String },
}

impl AsanaError {
    /// The class the daemon's retry and dead-letter logic acts on: a timed-out job is
    /// retryable (the retry finds the project by name), a failed job is permanent.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Vendor(e) => e.class(),
            Self::JobTimedOut { .. } => ErrorClass::Retryable,
            Self::JobFailed { .. } | Self::JobWithoutProject { .. } => ErrorClass::Permanent,
        }
    }

    /// Whether retrying may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.class(),
            ErrorClass::Retryable | ErrorClass::RateLimited
        )
    }
}

impl From<AsanaError> for ConnectorError {
    /// Folds job outcomes into the shared classes (timeout → `Transient`, failed →
    /// `Rejected`), keeping the job gid in the message.
    fn from(e: AsanaError) -> Self {
        let vendor = crate::VENDOR;
        match e {
            AsanaError::Vendor(inner) => inner,
            AsanaError::JobTimedOut { .. } => ConnectorError::Transient {
                vendor,
                reason: e.to_string(),
            },
            AsanaError::JobFailed { .. } | AsanaError::JobWithoutProject { .. } => {
                ConnectorError::Rejected {
                    vendor,
                    status: 200,
                    message: e.to_string(),
                }
            }
        }
    }
}
