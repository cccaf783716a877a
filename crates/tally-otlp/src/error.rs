//! What can go wrong when exporting.

use std::time::Duration;

/// Why an export, or setting one up, failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The endpoint is not `http://host[:port][/path]` (or `https://` with the `tls`
    /// feature).
    #[error(
        "OTLP endpoint {url:?} is not usable: {why}; give one like `http://localhost:4318` \
         (the collector's OTLP/HTTP port)"
    )]
    InvalidEndpoint {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A setting (an environment variable, a header, a resource attribute) is malformed.
    #[error("{what} is not usable: {why}")]
    InvalidSetting {
        /// Which setting.
        what: String,
        /// What is wrong with it and what to write instead.
        why: String,
    },
    /// The receiver answered with an error status. 429, 502, 503 and 504 are retried;
    /// other statuses mean the receiver refuses the data (a malformed request, a missing
    /// header), and the batch is dropped and reported.
    #[error("the OTLP receiver answered {status} to POST {url}: {message}")]
    Status {
        /// Where.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The body of the answer, trimmed (up to 512 bytes).
        message: String,
        /// The wait the receiver asked for (`Retry-After`), if any.
        retry_after: Option<Duration>,
    },
    /// The receiver could not be reached, or the exchange broke off or timed out.
    #[error("could not POST {url}: {source}; is the OTLP receiver (collector) running there?")]
    Transport {
        /// Where.
        url: String,
        /// The transport's error.
        source: Box<ureq::Error>,
    },
}

impl ExportError {
    /// Whether trying again later may succeed: the receiver unreachable, overloaded (429)
    /// or unavailable (502, 503, 504), as the OTLP specification lists them.
    pub fn is_transient(&self) -> bool {
        match self {
            ExportError::Transport { .. } => true,
            ExportError::Status { status, .. } => matches!(status, 429 | 502 | 503 | 504),
            _ => false,
        }
    }
}
