//! The limits and policies of one endpoint: what every other module reads, and depends on
//! nothing else in the crate.

use std::time::Duration;

use tally_prometheus::EncodeOptions;

/// The smallest header buffer hyper accepts.
pub(crate) const MIN_HEADER_BYTES: usize = 8192;

/// The limits and policies of one server (everything but the publisher and the address).
///
/// The mounted [`MetricsService`](crate::MetricsService) uses `max_age`,
/// `request_timeout` and `encode_options`; the rest bounds connections, which a mounted
/// service leaves to the server it is mounted in.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) max_age: Duration,
    pub(crate) header_read_timeout: Duration,
    pub(crate) keep_alive_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) max_header_bytes: usize,
    pub(crate) max_connections: usize,
    pub(crate) shutdown_grace: Duration,
    pub(crate) encode_options: EncodeOptions,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_age: Duration::from_secs(1),
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            max_connections: 64,
            shutdown_grace: Duration::from_secs(5),
            encode_options: EncodeOptions::default(),
        }
    }
}
