//! Blocking until a new epoch is published, with a timeout.
//!
//! A publication stores the epoch in `latest`, then, holding the `published` mutex,
//! writes its number there and notifies `published_cv`. A waiter loads `latest`, tests
//! it, and if it must wait, takes the mutex and sleeps only while the published number
//! is not above the number it tested. A publication after the waiter's load either wrote
//! its number before the waiter took the mutex (the waiter sees it and does not sleep) or
//! after (it notifies while the waiter sleeps): no wake-up is lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::publisher::lock;
use crate::{Epoch, Publisher};

/// Why a wait for an epoch returned without one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// No epoch that satisfied the condition was published within the timeout.
    #[error(
        "no matching epoch was published within {timeout:?} (the latest is epoch {latest}): \
         epochs are published only by `refresh` or a refresher, so start one with \
         `spawn_refresher`, refresh from another thread, or wait longer"
    )]
    TimedOut {
        /// The timeout that ran out.
        timeout: Duration,
        /// The number of the latest epoch when the wait gave up.
        latest: u64,
    },
    /// Every [`Publisher`] handle was dropped, so no epoch will ever be published again.
    #[error(
        "the publisher was dropped while waiting (the latest is epoch {latest}): keep a \
         `Publisher` clone alive for as long as something waits on it"
    )]
    Closed {
        /// The number of the last epoch published.
        latest: u64,
    },
}

impl<S: Send + Sync + 'static> Publisher<S> {
    /// Blocks until an epoch numbered above `after` is published (returning at once if
    /// one already is), for at most `timeout`.
    ///
    /// Waiting does not collect: epochs come from [`refresh`](Self::refresh) calls in
    /// other threads or from a [refresher](Self::spawn_refresher).
    ///
    /// # Errors
    ///
    /// [`WaitError::TimedOut`] when no such epoch was published within `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tally_epoch::{Publisher, WaitError};
    ///
    /// let publisher = Publisher::new(|| 0u64);
    /// let other = publisher.clone();
    /// std::thread::spawn(move || other.refresh());
    /// let epoch = publisher.wait_for_next(0, Duration::from_secs(60)).unwrap();
    /// assert!(epoch.number() >= 1);
    /// // Nobody refreshes any more: the wait times out instead of hanging.
    /// let err = publisher.wait_for_next(epoch.number(), Duration::from_millis(1));
    /// assert!(matches!(err, Err(WaitError::TimedOut { .. })));
    /// ```
    pub fn wait_for_next(&self, after: u64, timeout: Duration) -> Result<Arc<Epoch<S>>, WaitError> {
        self.wait_for(|epoch| epoch.number > after, timeout)
    }

    /// Blocks until the latest epoch's snapshot satisfies `pred` (returning at once if it
    /// already does), for at most `timeout`. `pred` is called once on the current epoch
    /// and once on each newly published epoch it wakes up to (it may skip epochs
    /// published in quick succession: it sees the latest).
    ///
    /// Waiting does not collect: epochs come from [`refresh`](Self::refresh) calls in
    /// other threads or from a [refresher](Self::spawn_refresher).
    ///
    /// # Errors
    ///
    /// [`WaitError::TimedOut`] when no epoch satisfying `pred` was published within
    /// `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::time::Duration;
    /// use tally_epoch::Publisher;
    ///
    /// let done = Arc::new(AtomicU64::new(0));
    /// let source = Arc::clone(&done);
    /// let publisher = Publisher::new(move || source.load(Ordering::Relaxed));
    /// let refresher = publisher.spawn_refresher(Duration::from_millis(1)).unwrap();
    /// done.store(10, Ordering::Relaxed);
    /// let epoch = publisher.wait_until(|&n| n >= 10, Duration::from_secs(60)).unwrap();
    /// assert_eq!(*epoch.snapshot(), 10);
    /// drop(refresher); // stops and joins the thread
    /// ```
    pub fn wait_until(
        &self,
        mut pred: impl FnMut(&S) -> bool,
        timeout: Duration,
    ) -> Result<Arc<Epoch<S>>, WaitError> {
        self.wait_for(|epoch| pred(&epoch.snapshot), timeout)
    }

    fn wait_for(
        &self,
        mut done: impl FnMut(&Epoch<S>) -> bool,
        timeout: Duration,
    ) -> Result<Arc<Epoch<S>>, WaitError> {
        let shared = &*self.shared;
        // A timeout too large for `Instant` means "no timeout".
        let deadline = Instant::now().checked_add(timeout);
        loop {
            let current = self.latest();
            if done(&current) {
                return Ok(current);
            }
            let mut published = lock(&shared.published);
            while *published <= current.number {
                published = match deadline {
                    None => shared.published_cv.wait(published).unwrap_or_else(|e| e.into_inner()),
                    Some(deadline) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return Err(WaitError::TimedOut { timeout, latest: *published });
                        }
                        shared
                            .published_cv
                            .wait_timeout(published, left)
                            .unwrap_or_else(|e| e.into_inner())
                            .0
                    }
                };
            }
        }
    }
}
