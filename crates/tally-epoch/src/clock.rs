//! Where an epoch's `collected_at` comes from.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A monotonic clock: the time since some fixed origin of the clock's choosing.
///
/// A [`Publisher`](crate::Publisher) stamps each epoch with `now()` when the epoch's
/// collection starts; [`Window`](crate::Window)s divide by the difference of two stamps.
/// Only differences between stamps of the same clock mean anything.
///
/// The default is [`SystemClock`]; tests inject a [`ManualClock`] so that rates are exact
/// and no test depends on how fast the machine runs.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tally_epoch::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(clock.now(), Duration::from_secs(2));
/// ```
pub trait Clock: Send + Sync + 'static {
    /// The time since this clock's origin. Must never decrease between two calls that are
    /// ordered by happens-before (a [`Window`](crate::Window) reports
    /// [`EpochError::ClockWentBackwards`](crate::EpochError::ClockWentBackwards) if it
    /// does).
    fn now(&self) -> Duration;
}

/// The default clock: [`Instant`] (monotonic), measured from when the clock was made.
///
/// ```
/// use tally_epoch::{Clock, SystemClock};
/// let clock = SystemClock::new();
/// let a = clock.now();
/// assert!(clock.now() >= a);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        SystemClock { origin: Instant::now() }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that moves only when told to: for tests and simulations.
///
/// Clones share the same time, so a test keeps one clone and hands another to the
/// [`Publisher`](crate::Publisher).
///
/// ```
/// use std::time::Duration;
/// use tally_epoch::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let theirs = clock.clone();
/// clock.set(Duration::from_millis(1500));
/// assert_eq!(theirs.now(), Duration::from_millis(1500));
/// ```
#[derive(Clone, Default)]
pub struct ManualClock {
    // A mutex rather than an atomic: this clock is for tests, and a mutex needs no
    // argument about orderings.
    now: Arc<Mutex<Duration>>,
}

impl ManualClock {
    /// A clock standing at zero.
    pub fn new() -> Self {
        ManualClock::default()
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now.saturating_add(by);
    }

    /// Puts the clock at `to` (which may be earlier than now: to test what happens when a
    /// clock goes backwards).
    pub fn set(&self, to: Duration) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock").field("now", &self.now()).finish()
    }
}
