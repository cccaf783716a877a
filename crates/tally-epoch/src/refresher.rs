//! A background thread that refreshes a publisher on a period.

use std::any::Any;
use std::fmt;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::Publisher;

/// Why a refresher could not be started, or how it ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefresherError {
    /// The period was zero.
    #[error(
        "the refresh period is zero, which would collect in a busy loop: pass a period of \
         at least a millisecond (dashboards rarely need more than one epoch a second)"
    )]
    ZeroPeriod,
    /// The operating system refused to start the thread.
    #[error("could not start the refresher thread ({0}): check the process's thread limit")]
    Spawn(#[source] std::io::Error),
    /// The refresher thread panicked (in the snapshot source, most likely); refreshing
    /// stopped there.
    #[error(
        "the refresher thread panicked ({message}), most likely in the snapshot source: \
         fix the source; no epoch was published after the panic"
    )]
    Panicked {
        /// The panic's message, when it had one.
        message: String,
    },
}

/// Owns a background thread that calls [`Publisher::refresh`] once per period.
///
/// Dropping the handle (or calling [`stop`](Self::stop)) stops the thread and joins it: the
/// thread wakes at once rather than at the end of its period, finishes a collection in
/// progress, and exits. The thread keeps the publisher alive until then.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tally_epoch::Publisher;
///
/// let publisher = Publisher::new(|| 1u64);
/// let refresher = publisher.spawn_refresher(Duration::from_secs(3600)).unwrap();
/// // Stops at once, without waiting out the hour.
/// refresher.stop().unwrap();
/// ```
#[must_use = "dropping the handle stops the refresher"]
pub struct RefresherHandle {
    /// Dropping it wakes the thread (its `recv_timeout` reports a disconnection).
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    period: Duration,
}

impl<S: Send + Sync + 'static> Publisher<S> {
    /// Starts a thread named `tally-epoch-refresher` that calls
    /// [`refresh`](Self::refresh) every `period` (at a fixed rate; if a collection
    /// overruns a period, the missed ticks are skipped, not bunched up), until the
    /// returned handle is dropped.
    ///
    /// # Errors
    ///
    /// [`RefresherError::ZeroPeriod`] for a zero period; [`RefresherError::Spawn`] if the
    /// thread could not be started.
    pub fn spawn_refresher(&self, period: Duration) -> Result<RefresherHandle, RefresherError> {
        if period.is_zero() {
            return Err(RefresherError::ZeroPeriod);
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let publisher = self.clone();
        let thread = thread::Builder::new()
            .name("tally-epoch-refresher".into())
            .spawn(move || run(&publisher, period, &stopped))
            .map_err(RefresherError::Spawn)?;
        Ok(RefresherHandle { stop: Some(stop), thread: Some(thread), period })
    }
}

/// The refresher's loop: sleep until the next tick or a stop, refresh, repeat.
fn run<S: Send + Sync + 'static>(
    publisher: &Publisher<S>,
    period: Duration,
    stopped: &mpsc::Receiver<()>,
) {
    let mut next = Instant::now().checked_add(period);
    loop {
        let woke = match next {
            Some(at) => stopped.recv_timeout(at.saturating_duration_since(Instant::now())),
            // A period too long for `Instant`: wait for the stop only.
            None => stopped.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        if woke != Err(RecvTimeoutError::Timeout) {
            // Disconnected (the handle is gone) or told to stop.
            return;
        }
        publisher.refresh();
        let now = Instant::now();
        next = next
            .and_then(|at| at.checked_add(period))
            .and_then(|at| if at < now { now.checked_add(period) } else { Some(at) });
    }
}

impl RefresherHandle {
    /// The period the refresher was started with.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Whether the thread is still running (false after it panicked).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the thread and waits for it to finish.
    ///
    /// # Errors
    ///
    /// [`RefresherError::Panicked`] if the thread had panicked.
    pub fn stop(mut self) -> Result<(), RefresherError> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), RefresherError> {
        drop(self.stop.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Err(payload)) => {
                Err(RefresherError::Panicked { message: panic_message(&*payload) })
            }
            _ => Ok(()),
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

impl Drop for RefresherHandle {
    /// Stops and joins the thread; a panic of the thread is ignored here (use
    /// [`stop`](Self::stop) to see it).
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

impl fmt::Debug for RefresherHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefresherHandle")
            .field("period", &self.period)
            .field("running", &self.is_running())
            .finish()
    }
}
