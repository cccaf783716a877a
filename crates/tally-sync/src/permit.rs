//! The permits of a [`Throttle`]: [`Permit`], which borrows it, and [`OwnedPermit`], which
//! holds an `Arc` of it and so can move into a spawned task. Both record `in_flight − 1`
//! before the permit goes back, whichever thread drops them.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{OwnedSemaphorePermit, SemaphorePermit};

use crate::throttle::Throttle;

/// A permit of a [`Throttle`]: held until dropped, then given back.
///
/// ```
/// let throttle = tally_sync::tokio::Throttle::new(1);
/// let permit = throttle.try_acquire().unwrap();
/// assert!(throttle.try_acquire().is_err());
/// drop(permit); // given back
/// assert!(throttle.try_acquire().is_ok());
/// ```
#[must_use = "the permit is given back as soon as it is dropped"]
pub struct Permit<'a> {
    throttle: &'a Throttle,
    /// `None` only inside `drop` and `forget`.
    permit: Option<SemaphorePermit<'a>>,
}

/// A permit of a [`Throttle`] that owns a reference to it (from
/// [`Throttle::acquire_owned`]): `'static`, so it can move into `tokio::spawn` and be given
/// back when the task ends. Otherwise a [`Permit`].
///
/// ```
/// use std::sync::Arc;
/// use tally_sync::tokio::{OwnedPermit, Throttle};
///
/// fn spawnable<T: Send + 'static>(_: &T) {}
///
/// let throttle = Arc::new(Throttle::new(1));
/// let permit: OwnedPermit = throttle.try_acquire_owned().unwrap();
/// spawnable(&permit);
/// assert!(throttle.try_acquire().is_err());
/// drop(permit);
/// assert_eq!(throttle.stats().in_flight, 0);
/// ```
#[must_use = "the permit is given back as soon as it is dropped"]
pub struct OwnedPermit {
    throttle: Arc<Throttle>,
    /// `None` only inside `drop` and `forget`.
    permit: Option<OwnedSemaphorePermit>,
}

/// What both permits do on `drop` and `forget`.
fn release<P>(throttle: &Throttle, permit: Option<P>, forget: impl FnOnce(P)) {
    if let Some(permit) = permit {
        // Recorded before the permit goes back, so the sum of the recorded moves never
        // exceeds the bound, even for an instant.
        throttle.stats.in_flight().dec();
        forget(permit);
    }
}

/// Takes a forgotten permit out of the throttle's capacity.
fn lower_capacity(throttle: &Throttle) {
    // Relaxed: see `# Orderings` in the throttle module. Lowered after the permit left
    // circulation.
    throttle.capacity.fetch_sub(1, Ordering::Relaxed);
}

impl<'a> Permit<'a> {
    pub(crate) fn new(throttle: &'a Throttle, permit: SemaphorePermit<'a>) -> Self {
        Permit { throttle, permit: Some(permit) }
    }

    /// Keeps the permit out of circulation instead of giving it back: the throttle's
    /// capacity drops by one until [`Throttle::add_permits`] restores it.
    ///
    /// ```
    /// let throttle = tally_sync::tokio::Throttle::new(2);
    /// throttle.try_acquire().unwrap().forget();
    /// assert_eq!((throttle.capacity(), throttle.available_permits()), (1, 1));
    /// assert_eq!(throttle.stats().in_flight, 0);
    /// throttle.add_permits(1).unwrap();
    /// assert_eq!(throttle.available_permits(), 2);
    /// ```
    pub fn forget(mut self) {
        let throttle = self.throttle;
        release(throttle, self.permit.take(), |p| {
            p.forget();
            lower_capacity(throttle);
        });
    }
}

impl OwnedPermit {
    pub(crate) fn new(throttle: Arc<Throttle>, permit: OwnedSemaphorePermit) -> Self {
        OwnedPermit { throttle, permit: Some(permit) }
    }

    /// The throttle this permit belongs to.
    pub fn throttle(&self) -> &Arc<Throttle> {
        &self.throttle
    }

    /// As [`Permit::forget`]: keeps the permit out of circulation.
    pub fn forget(mut self) {
        let throttle = &*self.throttle;
        release(throttle, self.permit.take(), |p| {
            p.forget();
            lower_capacity(throttle);
        });
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        release(self.throttle, self.permit.take(), drop);
    }
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        release(&self.throttle, self.permit.take(), drop);
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("bound", &self.throttle.bound()).finish_non_exhaustive()
    }
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit").field("bound", &self.throttle.bound()).finish_non_exhaustive()
    }
}
