//! Running the contenders: writers alone (throughput), and writers under readers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use crate::contender::Kind;
use crate::event::{Budget, Counts};

/// The median of `v` (the mean of the middle two for an even length).
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    assert!(n > 0, "median of nothing");
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// What a contender lost or invented, against a replay of the generators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loss {
    /// Events missing from `total`, summed over runs.
    pub lost: u64,
    /// Runs whose final counts differ from the replay in any field (more than recorded
    /// counts too).
    pub wrong_runs: usize,
    /// The fields that differed in the first wrong run, as `field: got (expected)`.
    pub first_wrong: Option<String>,
}

impl Loss {
    /// Checks one run's final counts against what its writers recorded.
    pub fn check(&mut self, got: &Counts, expected: &Counts) {
        self.lost += expected.total.saturating_sub(got.total);
        if got != expected {
            self.wrong_runs += 1;
            if self.first_wrong.is_none() {
                self.first_wrong = Some(differences(got, expected));
            }
        }
    }

    /// Whether nothing was lost or invented.
    pub fn ok(&self) -> bool {
        self.lost == 0 && self.wrong_runs == 0
    }

    /// For a table cell.
    pub fn describe(&self) -> String {
        if self.ok() {
            "0".into()
        } else {
            format!(
                "{} lost from `total`, {} runs wrong (first: {})",
                self.lost,
                self.wrong_runs,
                self.first_wrong.as_deref().unwrap_or("?")
            )
        }
    }
}

/// `field: got (expected)` for each field that differs.
fn differences(got: &Counts, expected: &Counts) -> String {
    let fields = |c: &Counts| {
        [
            ("total", c.total),
            ("successful", c.outcome[0]),
            ("failed", c.outcome[1]),
            ("cache_hits", c.cache[0]),
            ("cache_misses", c.cache[1]),
            ("latencies", c.latencies),
        ]
    };
    fields(got)
        .iter()
        .zip(fields(expected))
        .filter(|(g, e)| g.1 != e.1)
        .map(|(g, e)| format!("{}: {} ({})", g.0, g.1, e.1))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One run of `threads` writers on a fresh instance of `kind`, from a barrier, timed from
/// the first writer's start to the last one's end. Returns the wall time, the events of
/// each writer and the final counts.
pub fn run_fixed(kind: Kind, threads: usize, events: u64) -> (Duration, Vec<u64>, Counts) {
    let contender = kind.make();
    let barrier = Barrier::new(threads);
    let results: Vec<(Instant, Instant, u64, Counts)> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (contender, barrier) = (&contender, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    let (n, local) = contender.work(t, Budget::Events(events));
                    (start, Instant::now(), n, local)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a writer panicked")).collect()
    });
    let start = results.iter().map(|r| r.0).min().expect("at least one writer");
    let end = results.iter().map(|r| r.1).max().expect("at least one writer");
    let per_thread: Vec<Counts> = results.iter().map(|r| r.3).collect();
    (end - start, results.iter().map(|r| r.2).collect(), contender.finish(&per_thread))
}

/// Events per thread so that one run takes about `target`, to two significant digits.
pub fn calibrate(kind: Kind, threads: usize, target: Duration) -> u64 {
    let mut events = 1u64 << 12;
    loop {
        let wall = run_fixed(kind, threads, events).0;
        if wall >= target / 16 || events >= 1 << 36 {
            let scaled = events as f64 * target.as_secs_f64() / wall.as_secs_f64().max(1e-9);
            let scaled = scaled.max(1000.0);
            let unit = 10f64.powi(scaled.log10().floor() as i32 - 1);
            return ((scaled / unit).round() * unit) as u64;
        }
        events *= 4;
    }
}

/// All the runs of one (contender, threads) cell of the throughput table.
#[derive(Debug, Clone)]
pub struct ThroughputCell {
    /// The contender.
    pub kind: Kind,
    /// Writer threads.
    pub threads: usize,
    /// Events per thread in every run.
    pub events: u64,
    /// Wall nanoseconds per event per thread, one per run.
    pub ns: Vec<f64>,
    /// Lost or wrong updates over all runs.
    pub loss: Loss,
    expected: Counts,
}

impl ThroughputCell {
    /// A cell with no runs yet.
    pub fn new(kind: Kind, threads: usize, events: u64) -> Self {
        let expected = Counts::expected(&vec![events; threads]);
        ThroughputCell { kind, threads, events, ns: Vec::new(), loss: Loss::default(), expected }
    }

    /// One more run, checked.
    pub fn run_once(&mut self) {
        let (wall, per_thread, got) = run_fixed(self.kind, self.threads, self.events);
        assert!(per_thread.iter().all(|&n| n == self.events), "a writer stopped early");
        self.loss.check(&got, &self.expected);
        self.ns.push(wall.as_nanos() as f64 / self.events as f64);
    }

    /// Median wall ns per event per thread.
    pub fn median_ns(&self) -> f64 {
        median(&self.ns)
    }

    /// Events per second over all threads, at the median.
    pub fn events_per_second(&self) -> f64 {
        self.threads as f64 / self.median_ns() * 1e9
    }
}

/// Calibrates and runs every (contender, threads) cell `reps` times, the cells of one
/// thread count interleaved and their order rotated each repetition.
pub fn throughput(
    kinds: &[Kind],
    threads: &[usize],
    reps: usize,
    target: Duration,
    log: impl Fn(&str),
) -> Vec<ThroughputCell> {
    let mut cells = Vec::new();
    for &t in threads {
        for &k in kinds {
            let events = calibrate(k, t, target);
            log(&format!("calibrated {:<18} threads={t}: {events} events/thread", k.name));
            cells.push(ThroughputCell::new(k, t, events));
        }
    }
    for rep in 0..reps {
        log(&format!("throughput repetition {}/{reps}", rep + 1));
        for &t in threads {
            let mut order: Vec<usize> =
                (0..cells.len()).filter(|&i| cells[i].threads == t).collect();
            let len = order.len();
            order.rotate_left(rep % len);
            for i in order {
                cells[i].run_once();
            }
        }
    }
    cells
}

/// One timed run of writers with readers polling flat out.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReaderRun {
    /// Writer events per second over all writers.
    pub events_per_second: f64,
    /// Reads completed by all readers.
    pub reads: u64,
    /// Reads with `successful + failed != total`.
    pub outcome_torn: u64,
    /// Reads where any field disagreed with `total` (either partition or the histogram's
    /// count).
    pub any_torn: u64,
    /// Reads per second over all readers.
    pub reads_per_second: f64,
}

/// `writers` threads record into a fresh `kind` for `dur` while `readers` threads read it
/// flat out ([`Contender::read`](crate::Contender::read)); the final counts are checked
/// against a replay of what each writer recorded, into `loss`.
pub fn run_with_readers(
    kind: Kind,
    writers: usize,
    readers: usize,
    dur: Duration,
    loss: &mut Loss,
) -> ReaderRun {
    let contender: Arc<dyn crate::Contender> = Arc::from(kind.make());
    let stop = AtomicBool::new(false);
    let reads = AtomicU64::new(0);
    let outcome_torn = AtomicU64::new(0);
    let any_torn = AtomicU64::new(0);
    let start = Barrier::new(writers + readers + 1);
    let (elapsed, results) = thread::scope(|s| {
        for _ in 0..readers {
            let (c, stop, start) = (&contender, &stop, &start);
            let (reads, outcome_torn, any_torn) = (&reads, &outcome_torn, &any_torn);
            s.spawn(move || {
                start.wait();
                let (mut n, mut torn, mut any) = (0u64, 0u64, 0u64);
                while !stop.load(Ordering::Relaxed) {
                    let Some(seen) = c.read() else { break };
                    n += 1;
                    torn += u64::from(seen.outcome_torn());
                    any += u64::from(seen.any_torn());
                }
                reads.fetch_add(n, Ordering::Relaxed);
                outcome_torn.fetch_add(torn, Ordering::Relaxed);
                any_torn.fetch_add(any, Ordering::Relaxed);
            });
        }
        let handles: Vec<_> = (0..writers)
            .map(|t| {
                let (c, stop, start) = (&contender, &stop, &start);
                s.spawn(move || {
                    start.wait();
                    c.work(t, Budget::Until(stop))
                })
            })
            .collect();
        start.wait();
        let t0 = Instant::now();
        thread::sleep(dur);
        stop.store(true, Ordering::Relaxed);
        let results: Vec<(u64, Counts)> =
            handles.into_iter().map(|h| h.join().expect("a writer panicked")).collect();
        (t0.elapsed(), results)
    });
    let events: Vec<u64> = results.iter().map(|r| r.0).collect();
    let locals: Vec<Counts> = results.iter().map(|r| r.1).collect();
    loss.check(&contender.finish(&locals), &Counts::expected(&events));
    let secs = elapsed.as_secs_f64();
    let reads = reads.load(Ordering::Relaxed);
    ReaderRun {
        events_per_second: events.iter().sum::<u64>() as f64 / secs,
        reads,
        outcome_torn: outcome_torn.load(Ordering::Relaxed),
        any_torn: any_torn.load(Ordering::Relaxed),
        reads_per_second: reads as f64 / secs,
    }
}

/// One row of the reader table: a contender, a reader count, medians over repetitions.
#[derive(Debug, Clone)]
pub struct ReaderCell {
    /// The contender.
    pub kind: Kind,
    /// Writer threads.
    pub writers: usize,
    /// Reader threads.
    pub readers: usize,
    /// Writer events/s without readers, one per repetition.
    pub alone: Vec<f64>,
    /// Writer events/s with the readers, one per repetition.
    pub with: Vec<f64>,
    /// Reads, torn reads and reads per second, summed or per repetition.
    pub reads: u64,
    /// Reads with `successful + failed != total`.
    pub outcome_torn: u64,
    /// Reads with any field disagreeing.
    pub any_torn: u64,
    /// Reads per second, one per repetition.
    pub reads_per_second: Vec<f64>,
    /// Lost or wrong updates over every run of this row (alone and with readers).
    pub loss: Loss,
}

impl ReaderCell {
    /// Median writer rate with readers over median alone: 1.0 is no slowdown.
    pub fn ratio(&self) -> f64 {
        median(&self.with) / median(&self.alone)
    }

    /// Torn reads as a share of reads (`successful + failed != total`).
    pub fn torn_share(&self) -> f64 {
        if self.reads == 0 { 0.0 } else { self.outcome_torn as f64 / self.reads as f64 }
    }

    /// Reads where any field disagreed, as a share of reads.
    pub fn any_torn_share(&self) -> f64 {
        if self.reads == 0 { 0.0 } else { self.any_torn as f64 / self.reads as f64 }
    }
}

/// Every readable contender with each reader count: per repetition, the writers alone then
/// with readers, interleaved so that background load falls on both alike.
pub fn readers(
    kinds: &[Kind],
    writers: usize,
    reader_counts: &[usize],
    reps: usize,
    dur: Duration,
    log: impl Fn(&str),
) -> Vec<ReaderCell> {
    let readable: Vec<Kind> = kinds.iter().copied().filter(|k| k.make().read().is_some()).collect();
    let mut cells: Vec<ReaderCell> = readable
        .iter()
        .flat_map(|&kind| {
            reader_counts.iter().map(move |&readers| ReaderCell {
                kind,
                writers,
                readers,
                alone: Vec::new(),
                with: Vec::new(),
                reads: 0,
                outcome_torn: 0,
                any_torn: 0,
                reads_per_second: Vec::new(),
                loss: Loss::default(),
            })
        })
        .collect();
    for rep in 0..reps {
        log(&format!("reader repetition {}/{reps}", rep + 1));
        for cell in &mut cells {
            let alone = run_with_readers(cell.kind, writers, 0, dur, &mut cell.loss);
            let with = run_with_readers(cell.kind, writers, cell.readers, dur, &mut cell.loss);
            cell.alone.push(alone.events_per_second);
            cell.with.push(with.events_per_second);
            cell.reads += with.reads;
            cell.outcome_torn += with.outcome_torn;
            cell.any_torn += with.any_torn;
            cell.reads_per_second.push(with.reads_per_second);
        }
    }
    cells
}
