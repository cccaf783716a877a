//! What can go wrong when pushing.

/// Why a push, or setting one up, failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The gateway's URL is not `http://host[:port][/path]` (or `https://` with the `tls`
    /// feature).
    #[error("gateway URL {url:?} is not usable: {why}; give one like `http://localhost:9091`")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A grouping label name is not a valid Prometheus label name, is reserved, or repeats.
    #[error(
        "grouping label {name:?} is not usable: {why}; use a name of ASCII letters, digits \
         and underscores, not starting with a digit, other than `job`"
    )]
    InvalidLabel {
        /// The name given.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The job name is empty.
    #[error("the job name is empty: give the batch job's name, e.g. `nightly_eval`")]
    EmptyJob,
    /// The gateway answered with an error status (its message says why: an inconsistent
    /// metric, a grouping label in the metrics themselves).
    #[error("the pushgateway answered {status} to {method} {url}: {message}")]
    Status {
        /// `PUT`, `POST` or `DELETE`.
        method: &'static str,
        /// Where.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The body of the answer, trimmed.
        message: String,
    },
    /// The gateway could not be reached, or the exchange broke off.
    #[error("could not {method} {url}: {source}; is the pushgateway running there?")]
    Transport {
        /// `PUT`, `POST` or `DELETE`.
        method: &'static str,
        /// Where.
        url: String,
        /// The transport's error.
        source: Box<ureq::Error>,
    },
}

impl PushError {
    /// Whether trying again later may succeed: the gateway unreachable, overloaded
    /// (429) or failing (5xx); not a refused push (4xx) or a bad set-up.
    pub fn is_transient(&self) -> bool {
        match self {
            PushError::Transport { .. } => true,
            PushError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}
