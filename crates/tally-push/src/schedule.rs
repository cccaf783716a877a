//! Pushing on an interval from a thread of its own, and once more at the end.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use tally_snapshot::RegistrySnapshot;

use crate::{PushError, Pusher};

/// Tries of the last push, for a gateway that is briefly unreachable or overloaded.
const FINAL_TRIES: u32 = 4;
/// Wait before the second try of the last push; doubled for each further try.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// What a [`PushLoop`] did.
#[derive(Debug)]
#[non_exhaustive]
pub struct PushReport {
    /// Pushes the gateway accepted, the last one included.
    pub pushed: u64,
    /// Pushes that failed (each later push carried what they would have: pushes are
    /// cumulative).
    pub failed: u64,
    /// The last push's outcome, after its retries: `Ok` means the gateway holds the job's
    /// final counts.
    pub last: Result<(), PushError>,
}

/// A thread pushing `source()` every interval, and once more when it is finished or
/// dropped. Recording threads never wait for it: it only takes snapshots.
#[derive(Debug)]
pub struct PushLoop {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<PushReport>>,
}

impl Pusher {
    /// Starts a thread that pushes `source()` (a registry's snapshot, a published epoch's)
    /// every `interval`, the first after one interval, and once more at the end
    /// ([`PushLoop::finish`], or when the loop is dropped).
    ///
    /// # Errors
    ///
    /// The operating system's, when the thread cannot be started.
    pub fn every<F>(self, interval: Duration, mut source: F) -> std::io::Result<PushLoop>
    where
        F: FnMut() -> RegistrySnapshot + Send + 'static,
    {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread =
            std::thread::Builder::new().name("tally-push".to_owned()).spawn(move || {
                let (mut pushed, mut failed) = (0, 0);
                // Until told to stop (or the loop is gone), a push per interval.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    match self.push(&source()) {
                        Ok(()) => pushed += 1,
                        Err(_) => failed += 1,
                    }
                }
                // The last push: the job's final counts. Retried while the failure is one that
                // may pass.
                let snapshot = source();
                let mut backoff = FIRST_BACKOFF;
                let mut last = self.push(&snapshot);
                for _ in 1..FINAL_TRIES {
                    match &last {
                        Err(e) if e.is_transient() => {
                            failed += 1;
                            std::thread::sleep(backoff);
                            backoff *= 2;
                            last = self.push(&snapshot);
                        }
                        _ => break,
                    }
                }
                match &last {
                    Ok(()) => pushed += 1,
                    Err(_) => failed += 1,
                }
                PushReport { pushed, failed, last }
            })?;
        Ok(PushLoop { stop: Some(stop), thread: Some(thread) })
    }
}

impl PushLoop {
    /// Stops the loop after one last push of the job's final counts, and says what it did.
    pub fn finish(mut self) -> PushReport {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> PushReport {
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

impl Drop for PushLoop {
    fn drop(&mut self) {
        if self.thread.is_some() {
            // Dropped without `finish`: the last push happens all the same; its outcome
            // has no one to go to.
            let _ = self.stop_and_join();
        }
    }
}
