//! The value of a last-writer-wins gauge.

use serde::{Deserialize, Serialize};

/// The value of a `LastValue` gauge: the value of the newest `set`, and when it was made.
///
/// `stamp_ns` is nanoseconds since the Unix epoch, taken from a clock that is monotonic
/// within one process (wall time at process start plus a monotonic clock's elapsed time),
/// so the newest write wins within a process and writes from several processes compare by
/// wall time. A stamp of 0 means the gauge was never set; its `value` is then 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Last {
    /// The value written by the newest `set`.
    pub value: i64,
    /// When that `set` happened, in nanoseconds since the Unix epoch; 0 if never set.
    pub stamp_ns: u64,
}

impl Last {
    /// A value written at `stamp_ns`.
    pub const fn new(value: i64, stamp_ns: u64) -> Self {
        Last { value, stamp_ns }
    }

    /// Whether any `set` has been recorded.
    pub const fn is_set(&self) -> bool {
        self.stamp_ns != 0
    }
}

/// The value of a `LastValueF64` gauge: the value of the newest `set`, and when it was
/// made (the stamp as in [`Last`]).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LastF64 {
    /// The value written by the newest `set` (never NaN: the core refuses it).
    pub value: f64,
    /// When that `set` happened, in nanoseconds since the Unix epoch; 0 if never set.
    pub stamp_ns: u64,
}

/// Values are never NaN (see [`LastF64::value`]).
impl Eq for LastF64 {}

impl LastF64 {
    /// A value written at `stamp_ns`.
    pub const fn new(value: f64, stamp_ns: u64) -> Self {
        LastF64 { value, stamp_ns }
    }

    /// Whether any `set` has been recorded.
    pub const fn is_set(&self) -> bool {
        self.stamp_ns != 0
    }
}
