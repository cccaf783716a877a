//! One published collection: its number, its time stamp and its snapshot.

use std::time::Duration;

/// One collection published by a [`Publisher`](crate::Publisher): a snapshot with the
/// number of the collection that made it and when that collection started.
///
/// Epochs of one publisher are numbered 0 (the collection done by
/// [`Publisher::new`](crate::Publisher::new)), 1, 2, … in the order they were published,
/// and each is immutable once published: hold an `Arc<Epoch<S>>` as long as you like; it
/// never changes under you. Two epochs of the same publisher give a
/// [`Window`](crate::Window) with [`Epoch::since`].
///
/// # Examples
///
/// ```
/// use tally_epoch::Publisher;
///
/// let publisher = Publisher::new(|| 42u64);
/// let epoch = publisher.latest();
/// assert_eq!(epoch.number(), 0);
/// assert_eq!(*epoch.snapshot(), 42);
/// ```
#[derive(Debug)]
pub struct Epoch<S> {
    pub(crate) number: u64,
    pub(crate) collected_at: Duration,
    /// The id of the publisher that made this epoch, so that a window between epochs of
    /// two publishers is refused.
    pub(crate) publisher: u64,
    /// How many refresh tickets had been handed out when this epoch's collection started:
    /// the refresh that drew ticket `t` may return this epoch iff `covers > t` (see
    /// [`Publisher::refresh`](crate::Publisher::refresh)).
    pub(crate) covers: u64,
    pub(crate) snapshot: S,
}

impl<S> Epoch<S> {
    /// The epoch's number: 0 for the publisher's first collection, then one more for each
    /// collection published. Strictly increasing in publication order.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// When this epoch's collection started, on the publisher's [`Clock`](crate::Clock)
    /// (time since the clock's origin).
    pub fn collected_at(&self) -> Duration {
        self.collected_at
    }

    /// The snapshot the collection produced.
    pub fn snapshot(&self) -> &S {
        &self.snapshot
    }
}
