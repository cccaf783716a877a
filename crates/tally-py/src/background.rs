//! The handle of a background thread (a refresher, a server) that Python stops once, from
//! any thread.

use std::sync::Mutex;

use pyo3::prelude::*;

/// Holds a background thread's handle until the first `stop`; stopping again does nothing.
#[derive(Debug)]
pub(crate) struct Background<H>(Mutex<Option<H>>);

impl<H: Send> Background<H> {
    pub(crate) fn new(handle: H) -> Background<H> {
        Background(Mutex::new(Some(handle)))
    }

    /// Whether the handle is still held and `is_running` says its thread runs.
    pub(crate) fn running(&self, is_running: impl FnOnce(&H) -> bool) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).as_ref().is_some_and(is_running)
    }

    /// Takes the handle and runs `stop` on it without the GIL; `Ok` if already stopped.
    pub(crate) fn stop(
        &self,
        py: Python<'_>,
        stop: impl FnOnce(H) -> PyResult<()> + Send,
    ) -> PyResult<()> {
        let handle = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        match handle {
            Some(h) => py.detach(|| stop(h)),
            None => Ok(()),
        }
    }
}
