//! [`SnapshotSource`]: what an endpoint serves, from a registry in one call.

use std::sync::Arc;

use tally::Registry;
use tally_epoch::Publisher;
use tally_snapshot::RegistrySnapshot;

/// What a metrics endpoint serves: anything that becomes a [`Publisher`] of registry
/// snapshots. [`MetricsServer::builder`](crate::MetricsServer::builder) and
/// [`MetricsService::new`](crate::MetricsService::new) take one.
///
/// | source | what is served |
/// | --- | --- |
/// | `Arc<Registry>` | that registry, through a new publisher ([`Registry::publisher`]) |
/// | `&'static Registry` | the process-wide [`tally::global()`] registry (what `tally_metrics::install()` records into) |
/// | [`Publisher<RegistrySnapshot>`] | that publisher's epochs, shared with its other readers (a refresher, dashboards, another endpoint) |
///
/// Pass a publisher when the program reads the same epochs elsewhere, so that a scrape
/// and a refresher never collect twice for one epoch.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use tally_http::{MetricsServer, SnapshotSource};
///
/// let registry = Arc::new(tally::Registry::new());
/// let server = MetricsServer::builder(Arc::clone(&registry)).bind("127.0.0.1:0".parse()?).spawn()?;
/// // The same registry through one publisher, shared with a refresher:
/// let publisher = Arc::clone(&registry).into_publisher();
/// let _refresher = publisher.spawn_refresher(std::time::Duration::from_secs(1))?;
/// let shared = MetricsServer::builder(publisher).bind("127.0.0.1:0".parse()?).spawn()?;
/// # server.shutdown()?; shared.shutdown()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait SnapshotSource {
    /// The publisher that the endpoint reads its epochs from.
    fn into_publisher(self) -> Publisher<RegistrySnapshot>;
}

impl SnapshotSource for Publisher<RegistrySnapshot> {
    fn into_publisher(self) -> Publisher<RegistrySnapshot> {
        self
    }
}

impl SnapshotSource for Arc<Registry> {
    fn into_publisher(self) -> Publisher<RegistrySnapshot> {
        self.publisher()
    }
}

impl SnapshotSource for &'static Registry {
    fn into_publisher(self) -> Publisher<RegistrySnapshot> {
        Publisher::new(move || self.snapshot())
    }
}
