//! Installing a [`TallyRecorder`] as the process-wide `metrics` recorder.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::{RecorderError, TallyRecorder};

/// What went wrong installing the global recorder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// A global `metrics` recorder is installed already (this one or another crate's).
    #[error(
        "a global `metrics` recorder is already installed in this process: install once, at \
         startup (keep the returned TallyRecorder for its stats), or use \
         `metrics::with_local_recorder` where a scoped recorder is wanted (tests)"
    )]
    AlreadyInstalled,
    /// The recorder could not be built.
    #[error(transparent)]
    Recorder(#[from] RecorderError),
}

/// Whether this crate installed a global recorder (so that a second `install()` says so
/// before trying to register a second recorder in the global registry).
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Builds a recorder on the global registry ([`tally::global()`]) and installs it as the
/// global `metrics` recorder. Returns a clone, for [`TallyRecorder::stats`].
///
/// ```
/// let recorder = tally_metrics::install().unwrap();
/// metrics::counter!("requests_total").increment(1);
/// assert_eq!(tally::global().snapshot().metrics["requests_total"].series.len(), 1);
/// assert!(matches!(tally_metrics::install(), Err(tally_metrics::InstallError::AlreadyInstalled)));
/// # let _ = recorder;
/// ```
///
/// # Errors
///
/// [`InstallError::AlreadyInstalled`] when a global `metrics` recorder is installed
/// already.
pub fn install() -> Result<TallyRecorder, InstallError> {
    if INSTALLED.load(Ordering::Acquire) {
        return Err(InstallError::AlreadyInstalled);
    }
    TallyRecorder::new()?.install_global()
}

impl TallyRecorder {
    /// Installs this recorder as the global `metrics` recorder (`metrics::set_global_recorder`)
    /// and returns a clone of it.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let registry = Arc::new(tally::Registry::new());
    /// let recorder = tally_metrics::TallyRecorder::builder().registry(registry.clone()).build().unwrap();
    /// recorder.install_global().unwrap();
    /// metrics::gauge!("queue_depth").set(3.0);
    /// assert!(registry.snapshot().metrics.contains_key("queue_depth"));
    /// ```
    ///
    /// # Errors
    ///
    /// [`InstallError::AlreadyInstalled`] when a global `metrics` recorder is installed
    /// already; this recorder is dropped then (what it recorded stays in its registry).
    pub fn install_global(self) -> Result<TallyRecorder, InstallError> {
        metrics::set_global_recorder(self.clone()).map_err(|_| InstallError::AlreadyInstalled)?;
        INSTALLED.store(true, Ordering::Release);
        Ok(self)
    }
}
