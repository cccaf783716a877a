//! Exporting on an interval from a thread of its own, with backoff, and a last flush at
//! the end.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tally_snapshot::RegistrySnapshot;

use crate::exporter::retry_wait;
use crate::{ExportReport, OtlpExporter};

/// The wait before the first retry of a failed post; doubled for each further failure.
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between retries.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A thread collecting `source()` every interval and posting it, and once more when it is
/// finished or dropped. Recording threads never wait for it: it only takes snapshots, and
/// a receiver that is slow or gone holds up only this thread.
#[derive(Debug)]
pub struct OtlpLoop {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<ExportReport>>,
    live: Arc<Mutex<ExportReport>>,
}

impl OtlpExporter {
    /// Starts a thread that collects `source()` (a registry's snapshot, a published
    /// epoch's) every `interval`, the first after one interval, and posts what is queued;
    /// after a failure that may pass it waits (100 ms, doubling to 30 s, or the receiver's
    /// `Retry-After`) before posting again, while still collecting on the interval (a
    /// post in progress, up to [`Builder::timeout`](crate::Builder::timeout), delays the
    /// next collection; intervals missed are skipped). At the end
    /// ([`OtlpLoop::finish`], or when the loop is dropped) it collects once more and
    /// flushes ([`OtlpExporter::finish`]).
    ///
    /// # Errors
    ///
    /// The operating system's, when the thread cannot be started.
    pub fn every<F>(mut self, interval: Duration, mut source: F) -> std::io::Result<OtlpLoop>
    where
        F: FnMut() -> RegistrySnapshot + Send + 'static,
    {
        let (stop, stopped) = mpsc::channel::<()>();
        let live = Arc::new(Mutex::new(ExportReport::default()));
        let shared = Arc::clone(&live);
        let publish = move |exporter: &OtlpExporter| {
            *shared.lock().unwrap_or_else(PoisonError::into_inner) = exporter.report().clone();
        };
        let thread =
            std::thread::Builder::new().name("tally-otlp".to_owned()).spawn(move || {
                let mut next_collect = Instant::now() + interval;
                let mut retry_at: Option<Instant> = None;
                let mut backoff = FIRST_BACKOFF;
                loop {
                    let wake = retry_at.map_or(next_collect, |r| r.min(next_collect));
                    match stopped.recv_timeout(wake.saturating_duration_since(Instant::now())) {
                        Err(RecvTimeoutError::Timeout) => {}
                        // Told to stop, or the loop is gone.
                        _ => break,
                    }
                    let now = Instant::now();
                    if now >= next_collect {
                        self.collect(&source());
                        // Intervals missed (a long post) are skipped, not caught up on.
                        while next_collect <= now {
                            next_collect += interval;
                        }
                    }
                    if retry_at.is_none_or(|r| now >= r) {
                        match self.flush() {
                            Ok(()) => {
                                retry_at = None;
                                backoff = FIRST_BACKOFF;
                            }
                            Err(e) => {
                                retry_at = Some(Instant::now() + retry_wait(&e, backoff));
                                backoff = (backoff * 2).min(MAX_BACKOFF);
                            }
                        }
                    }
                    publish(&self);
                }
                self.finish(&source())
            })?;
        Ok(OtlpLoop { stop: Some(stop), thread: Some(thread), live })
    }
}

impl OtlpLoop {
    /// What the loop has done so far (as of its last step).
    pub fn report(&self) -> ExportReport {
        self.live.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Stops the loop after one last collection and flush, and says what it did.
    pub fn finish(mut self) -> ExportReport {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> ExportReport {
        // The thread may be asleep in its interval: a message wakes it.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(report)) => report,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => unreachable!("a loop is finished once"),
        }
    }
}

impl Drop for OtlpLoop {
    fn drop(&mut self) {
        if self.thread.is_some() {
            // Dropped without `finish`: the last export happens all the same.
            let _ = self.stop_and_join();
        }
    }
}
