//! Why the demo could not run (as opposed to a run that found lost counts or broken
//! invariants, which is a report with problems).

/// What stopped the demo from running.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The /metrics port is taken.
    #[error(
        "cannot serve /metrics on 127.0.0.1:{port}: the port is already in use (another \
         tally-demo or exporter?); use --port <PORT> for another port, --port 0 for any free \
         one, or --no-metrics"
    )]
    PortInUse {
        /// The port asked for.
        port: u16,
    },
    /// The /metrics endpoint failed otherwise.
    #[error("{0}; use --port <PORT> for another port, or --no-metrics")]
    Metrics(#[from] tally_http::ServeError),
    /// Registering the demo's metrics failed (a bug in the demo).
    #[error("registering the demo's metrics failed: {0}; this is a bug in tally-demo")]
    Registry(#[from] tally::RegistryError),
    /// A thread or the tokio runtime could not be started.
    #[error(
        "cannot start {what}: {source}; the machine may be out of threads or memory (try fewer --workers or --readers)"
    )]
    Start {
        /// What was being started.
        what: &'static str,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The background refresher failed.
    #[error("the epoch refresher failed: {0}")]
    Refresher(#[from] tally::epoch::RefresherError),
}
