//! The process collector: what every service exposes beside its own metrics, under
//! Prometheus' standard names (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds`,
//! `process_threads`, `process_start_time_seconds`), read from `/proc/self` at each
//! collection of the registry ([`Registry::register_process_metrics`]).
//!
//! On Linux the values come from `/proc` through the `procfs` crate (this crate forbids
//! `unsafe`, so it makes no system calls of its own). Elsewhere nothing can be read
//! without them: [`read_process_stats`] and [`Registry::register_process_metrics`] return
//! [`ProcessError::Unsupported`], and a program that registers them where it can simply
//! goes on without them.
//!
//! tally's values are integers, so CPU time is exposed in whole seconds (rounded down;
//! `rate()` over a window of `w` seconds is within `1/w` of a CPU) and the start time in
//! whole seconds since the Unix epoch.

use std::sync::Mutex;

use crate::collector::Collector;
use crate::registry::{Registry, RegistryError};

crate::metric_set! {
    /// The process collector's fields: Prometheus' standard process metrics, registered as
    /// the metric `process` ([`Registry::register_process_metrics`]). Only its snapshot,
    /// [`ProcessStatsSnapshot`], is used: the values are read at collection, not recorded.
    pub struct ProcessStats {
        /// Total user and system CPU time spent in seconds.
        cpu_seconds_total: CounterF64 in Seconds,
        /// Resident memory size in bytes.
        resident_memory_bytes: Gauge in Bytes,
        /// Virtual memory size in bytes.
        virtual_memory_bytes: Gauge in Bytes,
        /// Number of open file descriptors.
        open_fds: Gauge,
        /// Maximum number of open file descriptors.
        max_fds: Gauge,
        /// Number of OS threads in the process.
        threads: Gauge,
        /// Start time of the process since unix epoch in seconds.
        start_time_seconds: GaugeF64 in Seconds,
    }
}

/// Why the process' figures could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessError {
    /// This platform has no `/proc` to read them from.
    #[error(
        "process metrics are read from /proc, which only Linux has: skip them on this \
         platform (nothing is registered)"
    )]
    Unsupported,
    /// A file under `/proc` could not be read or parsed.
    #[error(
        "could not read {what} from /proc: {message}; check that /proc is mounted and \
         readable by this process (in a container, that it is the process' own /proc)"
    )]
    Read {
        /// What was being read (`/proc/self/stat`, …).
        what: &'static str,
        /// The underlying error.
        message: String,
    },
    /// Registering the `process` metric failed (the name is taken, or its exposed names
    /// clash with a metric registered before).
    #[error("could not register the process metrics: {0}")]
    Registry(#[source] RegistryError),
}

/// Reads the process' figures now (what the process collector reports at each collection).
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// let stats = tally::read_process_stats().unwrap();
/// assert!(stats.threads >= 1 && stats.open_fds >= 3); // this thread; stdin, stdout, stderr
/// # }
/// ```
///
/// # Errors
///
/// [`ProcessError::Unsupported`] off Linux; [`ProcessError::Read`] when a `/proc` file
/// cannot be read.
pub fn read_process_stats() -> Result<ProcessStatsSnapshot, ProcessError> {
    let mut stats = ProcessStatsSnapshot::default();
    let errors = read_into(&mut stats);
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(stats),
    }
}

/// Reads every source it can into `stats`, leaving the fields of a source it cannot read
/// as they were; returns the errors.
#[cfg(target_os = "linux")]
fn read_into(stats: &mut ProcessStatsSnapshot) -> Vec<ProcessError> {
    use procfs::process::{LimitValue, Process};

    fn gauge(v: u64) -> i64 {
        i64::try_from(v).unwrap_or(i64::MAX)
    }
    fn read_error(what: &'static str) -> impl FnOnce(procfs::ProcError) -> ProcessError {
        move |e| ProcessError::Read { what, message: e.to_string() }
    }

    let mut errors = Vec::new();
    // Counted first, while no handle of ours is open (`Process::myself` holds a directory
    // open, and `procfs`'s own count includes it, or `.` and `..` on kernels before 6.2).
    match std::fs::read_dir("/proc/self/fd") {
        // Less the listing's own descriptor.
        Ok(entries) => stats.open_fds = gauge(entries.count().saturating_sub(1) as u64),
        Err(e) => errors.push(ProcessError::Read { what: "/proc/self/fd", message: e.to_string() }),
    }
    let me = match Process::myself() {
        Ok(me) => me,
        Err(e) => {
            errors.push(read_error("/proc/self")(e));
            return errors;
        }
    };
    match me.stat() {
        Ok(stat) => {
            let ticks = procfs::ticks_per_second().max(1);
            // Ticks as seconds, to the nearest f64 (10 ms ticks are not whole seconds).
            let seconds = |t: u64| t as f64 / ticks as f64;
            stats.cpu_seconds_total = seconds(stat.utime + stat.stime);
            stats.virtual_memory_bytes = gauge(stat.vsize);
            stats.resident_memory_bytes = gauge(stat.rss.saturating_mul(procfs::page_size()));
            stats.threads = stat.num_threads;
            match procfs::boot_time_secs() {
                Ok(boot) => stats.start_time_seconds = boot as f64 + seconds(stat.starttime),
                Err(e) => errors.push(read_error("the boot time (/proc/stat)")(e)),
            }
        }
        Err(e) => errors.push(read_error("/proc/self/stat")(e)),
    }
    match me.limits() {
        Ok(limits) => {
            stats.max_fds = match limits.max_open_files.soft_limit {
                LimitValue::Value(n) => gauge(n),
                LimitValue::Unlimited => i64::MAX,
            }
        }
        Err(e) => errors.push(read_error("/proc/self/limits")(e)),
    }
    errors
}

#[cfg(not(target_os = "linux"))]
fn read_into(_stats: &mut ProcessStatsSnapshot) -> Vec<ProcessError> {
    vec![ProcessError::Unsupported]
}

/// The process collector: reads `/proc` at each collection. A source that fails to read
/// then (it never should once it has been read at registration) leaves its fields at their
/// last values, so that the counter does not drop to zero and read as a reset.
struct ProcessCollector {
    last: Mutex<ProcessStatsSnapshot>,
}

impl Collector for ProcessCollector {
    type Snapshot = ProcessStatsSnapshot;
    fn collect(&self) -> ProcessStatsSnapshot {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        // Errors: the fields keep their last values (see above).
        let _errors = read_into(&mut last);
        last.clone()
    }
}

impl Registry {
    /// Registers the process collector as the metric `process`: Prometheus' standard
    /// process metrics (see [`ProcessStats`]), read from `/proc` at each collection, so
    /// that they are in the same snapshot as everything else.
    ///
    /// ```
    /// let registry = tally::Registry::new();
    /// match registry.register_process_metrics() {
    ///     Ok(()) => {
    ///         let snap = registry.snapshot();
    ///         assert!(snap.metrics["process"].series[0].snapshot.get("threads").is_some());
    ///     }
    ///     Err(tally::ProcessError::Unsupported) => {} // not Linux: go on without them
    ///     Err(e) => panic!("{e}"),
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ProcessError::Unsupported`] off Linux; [`ProcessError::Read`] when `/proc` cannot
    /// be read now; [`ProcessError::Registry`] when `process` is taken, or its exposed
    /// names (`process_threads`, …) clash with a metric already registered. Nothing is
    /// registered then.
    pub fn register_process_metrics(&self) -> Result<(), ProcessError> {
        let first = read_process_stats()?;
        self.metric("process")
            .help("The process itself, read from /proc at collection.")
            .collector(ProcessCollector { last: Mutex::new(first) })
            .map_err(ProcessError::Registry)
    }
}
