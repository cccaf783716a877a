//! Reader threads: dashboards calling `get_stats()` on the published epoch over and over,
//! checking every epoch they are handed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde::Serialize;
use tally::RegistrySnapshot;
use tally::epoch::Publisher;

use crate::checks::Checker;

/// How long a reader pauses between two reads (a busy dashboard polls; 50 threads
/// spinning on `latest()` would take the CPUs from the service they watch).
const PAUSE: Duration = Duration::from_millis(1);

/// Violation messages kept for the report (the count is always exact).
const SAMPLES: usize = 8;

/// What the readers saw, together.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReaderReport {
    /// Reader threads.
    pub readers: u32,
    /// `latest()` calls.
    pub reads: u64,
    /// Snapshots checked: each reader checks every epoch it is handed that differs from
    /// the one before.
    pub snapshots_checked: u64,
    /// Invariants found broken (must be 0).
    pub violations: u64,
    /// The first few violations, for the report.
    pub samples: Vec<String>,
}

/// Running reader threads.
#[derive(Debug)]
pub struct Readers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<ReaderReport>>,
}

impl Readers {
    /// Starts `n` readers of `publisher`, checking for `models` models and at most
    /// `max_in_flight` requests in flight.
    pub fn spawn(
        n: u32,
        publisher: &Publisher<RegistrySnapshot>,
        models: usize,
        max_in_flight: i64,
    ) -> std::io::Result<Readers> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut readers = Readers { stop: Arc::clone(&stop), threads: Vec::new() };
        for i in 0..n {
            let publisher = publisher.clone();
            let stop = Arc::clone(&stop);
            let thread = thread::Builder::new()
                .name(format!("reader-{i}"))
                .spawn(move || read(&publisher, &stop, models, max_in_flight))?;
            readers.threads.push(thread);
        }
        Ok(readers)
    }

    /// Stops the readers once each has checked the epoch published last (call it after the
    /// final refresh) and adds up what they saw.
    pub fn finish(mut self) -> ReaderReport {
        // Release: a reader that sees the flag (Acquire) then reads `latest()` and so
        // checks the final epoch, published before this store.
        self.stop.store(true, Ordering::Release);
        let mut total = ReaderReport { readers: self.threads.len() as u32, ..Default::default() };
        for thread in self.threads.drain(..) {
            let report = thread.join().unwrap_or_else(|_| ReaderReport {
                violations: 1,
                samples: vec!["a reader thread panicked".to_owned()],
                ..Default::default()
            });
            total.reads += report.reads;
            total.snapshots_checked += report.snapshots_checked;
            total.violations += report.violations;
            for s in report.samples {
                if total.samples.len() < SAMPLES {
                    total.samples.push(s);
                }
            }
        }
        total
    }
}

impl Drop for Readers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

fn read(
    publisher: &Publisher<RegistrySnapshot>,
    stop: &AtomicBool,
    models: usize,
    max_in_flight: i64,
) -> ReaderReport {
    let mut checker = Checker::new(models, max_in_flight);
    let mut report = ReaderReport { readers: 1, ..Default::default() };
    let mut last = None;
    loop {
        // Acquire, pairing with the Release in `finish`: the read below then sees the
        // final epoch.
        let stopping = stop.load(Ordering::Acquire);
        let epoch = publisher.latest();
        report.reads += 1;
        if last != Some(epoch.number()) {
            last = Some(epoch.number());
            report.snapshots_checked += 1;
            let broken = checker.check(epoch.number(), epoch.snapshot());
            report.violations += broken.len() as u64;
            report
                .samples
                .extend(broken.into_iter().take(SAMPLES - report.samples.len().min(SAMPLES)));
        }
        if stopping {
            return report;
        }
        thread::sleep(PAUSE);
    }
}
