//! Async waits for epochs, on a tokio `watch` channel (feature `tokio`).

use std::fmt;
use std::sync::Arc;

use tokio::sync::watch;

use crate::{Epoch, Publisher, WaitError};

/// An async subscription to a [`Publisher`]'s epochs, from [`Publisher::subscribe`].
///
/// Each publication replaces the channel's value with the new epoch (a tokio `watch`
/// channel), so a slow subscriber skips epochs rather than queueing them: it always sees
/// the latest. The waits have no timeout of their own: wrap them in
/// `tokio::time::timeout`.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::time::Duration;
/// use tally_epoch::Publisher;
///
/// let publisher = Publisher::new(|| 1u64);
/// let mut epochs = publisher.subscribe();
/// let refresher = publisher.clone();
/// std::thread::spawn(move || refresher.refresh());
/// let epoch = epochs.next_after(0).await.unwrap();
/// assert!(epoch.number() >= 1);
/// # });
/// ```
pub struct EpochReceiver<S> {
    rx: watch::Receiver<Arc<Epoch<S>>>,
}

impl<S: Send + Sync + 'static> Publisher<S> {
    /// A subscription for async waits (feature `tokio`). Cheap: a tokio `watch`
    /// receiver.
    pub fn subscribe(&self) -> EpochReceiver<S> {
        EpochReceiver { rx: self.shared.watch.subscribe() }
    }

    /// Waits until the latest epoch's snapshot satisfies `pred` (feature `tokio`): a
    /// shorthand for `self.subscribe().wait_until(pred)`.
    ///
    /// # Errors
    ///
    /// Never [`WaitError::Closed`], since `self` keeps the publisher alive; no timeout of
    /// its own: wrap it in `tokio::time::timeout`.
    pub async fn wait_until_async(
        &self,
        pred: impl FnMut(&S) -> bool,
    ) -> Result<Arc<Epoch<S>>, WaitError> {
        self.subscribe().wait_until(pred).await
    }
}

impl<S> EpochReceiver<S> {
    /// The latest published epoch, without waiting.
    pub fn latest(&self) -> Arc<Epoch<S>> {
        Arc::clone(&self.rx.borrow())
    }

    /// Waits until the latest epoch's snapshot satisfies `pred`, returning at once if it
    /// already does. `pred` sees the current epoch, then each epoch this receiver wakes up
    /// to (epochs published in quick succession may be skipped).
    ///
    /// # Errors
    ///
    /// [`WaitError::Closed`] if every [`Publisher`] handle was dropped before an epoch
    /// satisfied `pred`.
    pub async fn wait_until(
        &mut self,
        mut pred: impl FnMut(&S) -> bool,
    ) -> Result<Arc<Epoch<S>>, WaitError> {
        self.wait_for(|epoch| pred(&epoch.snapshot)).await
    }

    /// Waits until an epoch numbered above `after` is published, returning at once if
    /// one already is.
    ///
    /// # Errors
    ///
    /// [`WaitError::Closed`] if every [`Publisher`] handle was dropped first.
    pub async fn next_after(&mut self, after: u64) -> Result<Arc<Epoch<S>>, WaitError> {
        self.wait_for(|epoch| epoch.number > after).await
    }

    async fn wait_for(
        &mut self,
        mut done: impl FnMut(&Epoch<S>) -> bool,
    ) -> Result<Arc<Epoch<S>>, WaitError> {
        // The `Ref` holds the channel's read lock: clone the `Arc` out and drop it at once.
        let found = self.rx.wait_for(|epoch| done(epoch)).await.map(|epoch| Arc::clone(&epoch));
        found.map_err(|_| WaitError::Closed { latest: self.rx.borrow().number })
    }
}

impl<S> Clone for EpochReceiver<S> {
    fn clone(&self) -> Self {
        EpochReceiver { rx: self.rx.clone() }
    }
}

impl<S> fmt::Debug for EpochReceiver<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EpochReceiver").field("latest_number", &self.rx.borrow().number).finish()
    }
}
