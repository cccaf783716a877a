//! Write-path throughput: tally's `InferenceStats::record_inference` against the floor and
//! the designs a user would write by hand.
//!
//! Every contender records the same event, a request finishing: `total += 1`, then one of
//! `successful`/`failed` and one of `cache_hits`/`cache_misses`, each picked by a per-thread
//! wyrand generator (one bit each, so 50/50 and unpredictable). The contenders:
//!
//! - `floor`: plain per-thread `u64` fields, summed after the threads finish. The cheapest
//!   possible counting, and unreadable while it runs. The ratio column divides by it.
//! - `floor-atomic`: (reference) a per-thread, cache-padded struct of `AtomicU64`s updated
//!   with a relaxed load and store, as a single-writer shard does. Readable while it runs,
//!   not coherent; what any per-thread-shard design pays before its own protocol.
//! - `latch-sketch`: (reference) tally's latch protocol written out by hand for this event,
//!   the shard in a local: what the protocol itself costs, without the thread-local, the
//!   shard lookup and the generic catch-up loop.
//! - `tally`: one `tally::InferenceStats` shared by every thread, `record_inference`.
//! - `mutex`: one `std::sync::Mutex` around a struct of `u64`s.
//! - `atomic`: one struct of five `AtomicU64`s (adjacent, as a naive user writes it), each
//!   update a `fetch_add(1, Relaxed)`.
//!
//! Each measurement runs a fixed number of events per thread (calibrated once so that a run
//! takes about `--target-ms`), from a barrier, and takes the wall time from the first thread
//! starting to the last finishing. Runs are repeated `--reps` times with the contenders
//! interleaved (the order rotates each repetition) and the median, min and max reported.
//! After every run the contender's final counts are checked: `total == threads × events`
//! and both partitions add up; anything lost is reported in the table and fails the run.
//!
//! ```text
//! cargo bench --manifest-path benches/Cargo.toml --bench throughput                      # measure
//! cargo bench --manifest-path benches/Cargo.toml --bench throughput -- --markdown out.md # and write a table
//! cargo bench --manifest-path benches/Cargo.toml --bench throughput -- --test            # quick check (CI)
//! ```
//!
//! Options: `--reps N` (7), `--target-ms N` (300), `--threads 1,2,4`, `--contenders
//! tally,mutex` (a subset; `floor` always runs). Without `--bench`, which `cargo bench`
//! passes (for example under `cargo test --benches`), the binary runs the quick check.
//! Results and the analysis of tally's hot path: `docs/PERFORMANCE.md`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};
use std::{env, fmt::Write as _, fs, process, thread};

use tally::{Cache, Outcome};

// ---------------------------------------------------------------------------------------
// The event and its generator
// ---------------------------------------------------------------------------------------

/// wyrand: one add and one 64×64→128 multiply per number.
#[derive(Clone, Copy)]
struct WyRand(u64);

impl WyRand {
    fn for_thread(thread: usize) -> Self {
        WyRand(0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(thread as u64 + 1))
    }

    #[inline(always)]
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xA076_1D64_78BD_642F);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xE703_7ED1_A0B4_28DB);
        (t >> 64) as u64 ^ t as u64
    }
}

/// Drives `events` events through `record(outcome, cache)`, where `outcome` is 0 for a
/// success and 1 for a failure, `cache` 0 for a hit and 1 for a miss.
#[inline(always)]
fn drive(events: u64, thread: usize, mut record: impl FnMut(usize, usize)) {
    let mut rng = WyRand::for_thread(thread);
    for _ in 0..events {
        let r = rng.next();
        record((r & 1) as usize, ((r >> 1) & 1) as usize);
    }
}

/// The five fields, as summed at the end of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    total: u64,
    /// `[successful, failed]`.
    outcome: [u64; 2],
    /// `[cache_hits, cache_misses]`.
    cache: [u64; 2],
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.total += o.total;
        for i in 0..2 {
            self.outcome[i] += o.outcome[i];
            self.cache[i] += o.cache[i];
        }
    }

    /// What `threads` threads of `events` events each must have produced.
    fn expected(threads: usize, events: u64) -> Counts {
        let mut sum = Counts::default();
        for t in 0..threads {
            let mut c = Counts::default();
            drive(events, t, |o, h| {
                c.total += 1;
                c.outcome[o] += 1;
                c.cache[h] += 1;
            });
            sum.add(&c);
        }
        sum
    }

    /// Whether both partitions of `total` add up.
    fn coherent(&self) -> bool {
        self.outcome[0] + self.outcome[1] == self.total
            && self.cache[0] + self.cache[1] == self.total
    }
}

// ---------------------------------------------------------------------------------------
// The contenders
// ---------------------------------------------------------------------------------------

/// One way of recording the event. A fresh instance is made for every run.
trait Contender: Sync {
    const NAME: &'static str;
    fn new() -> Self;
    /// Records `events` events as thread number `thread`; returns what only this thread
    /// holds (the floor's counts; zero for shared contenders).
    fn work(&self, thread: usize, events: u64) -> Counts;
    /// The final counts, given what every thread returned.
    fn finish(&self, per_thread: &[Counts]) -> Counts;
}

fn sum(per_thread: &[Counts]) -> Counts {
    let mut c = Counts::default();
    per_thread.iter().for_each(|t| c.add(t));
    c
}

/// Plain per-thread fields: `[total, successful, failed, cache_hits, cache_misses]` in a
/// local, the outcome and cache fields picked by index. `total`'s index is hidden from the
/// optimiser (it would otherwise fold `total += 1` into the loop count), so every event is
/// three increments, as for the other contenders.
struct Floor;

#[inline(never)]
fn work_floor(thread: usize, events: u64) -> Counts {
    let mut f = [0u64; 5];
    let total = black_box(0);
    drive(events, thread, |o, h| {
        f[total] += 1;
        f[1 + o] += 1;
        f[3 + h] += 1;
    });
    let f = black_box(f);
    Counts { total: f[0], outcome: [f[1], f[2]], cache: [f[3], f[4]] }
}

impl Contender for Floor {
    const NAME: &'static str = "floor";
    fn new() -> Self {
        Floor
    }
    fn work(&self, thread: usize, events: u64) -> Counts {
        work_floor(thread, events)
    }
    fn finish(&self, per_thread: &[Counts]) -> Counts {
        sum(per_thread)
    }
}

/// A per-thread, line-aligned shard of single-writer atomics: relaxed load + add + store.
#[repr(align(128))]
#[derive(Default)]
struct OwnedShard {
    total: AtomicU64,
    outcome: [AtomicU64; 2],
    cache: [AtomicU64; 2],
}

#[inline(always)]
fn bump(a: &AtomicU64) {
    // Relaxed load and store, no read-modify-write: this thread is the only writer.
    a.store(a.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

struct FloorAtomic;

#[inline(never)]
fn work_floor_atomic(thread: usize, events: u64) -> Counts {
    let shard = Box::new(OwnedShard::default());
    let shard = black_box(&*shard);
    drive(events, thread, |o, h| {
        bump(&shard.total);
        bump(&shard.outcome[o]);
        bump(&shard.cache[h]);
    });
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Counts {
        total: get(&shard.total),
        outcome: [get(&shard.outcome[0]), get(&shard.outcome[1])],
        cache: [get(&shard.cache[0]), get(&shard.cache[1])],
    }
}

impl Contender for FloorAtomic {
    const NAME: &'static str = "floor-atomic";
    fn new() -> Self {
        FloorAtomic
    }
    fn work(&self, thread: usize, events: u64) -> Counts {
        work_floor_atomic(thread, events)
    }
    fn finish(&self, per_thread: &[Counts]) -> Counts {
        sum(per_thread)
    }
}

/// The latch protocol written out by hand for this one event, with no lookup: a shard of
/// `seq`, copy 0 and copy 1 in one 128-byte line, held in a local. What tally's write path
/// would cost with the thread-local, the shard-table lookup and the generic catch-up loop
/// compiled away.
#[repr(align(128))]
#[derive(Default)]
struct SketchShard {
    seq: AtomicU64,
    /// `[total, successful, failed, cache_hits, cache_misses]`.
    copy0: [AtomicU64; 5],
    copy1: [AtomicU64; 5],
}

struct LatchSketch;

#[inline(never)]
fn work_latch_sketch(thread: usize, events: u64) -> Counts {
    let shard = Box::new(SketchShard::default());
    let sh = black_box(&*shard);
    drive(events, thread, |o, h| {
        // The orderings of tally's latch (see crates/tally-core/src/latch.rs).
        let s = sh.seq.load(Ordering::Relaxed);
        sh.seq.store(s + 1, Ordering::Release);
        fence(Ordering::Release);
        let words = [0, 1 + o, 3 + h];
        for w in words {
            bump(&sh.copy0[w]);
        }
        sh.seq.store(s + 2, Ordering::Release);
        fence(Ordering::Release);
        for w in words {
            sh.copy1[w].store(sh.copy0[w].load(Ordering::Relaxed), Ordering::Relaxed);
        }
    });
    let get = |i: usize| sh.copy1[i].load(Ordering::Relaxed);
    Counts { total: get(0), outcome: [get(1), get(2)], cache: [get(3), get(4)] }
}

impl Contender for LatchSketch {
    const NAME: &'static str = "latch-sketch";
    fn new() -> Self {
        LatchSketch
    }
    fn work(&self, thread: usize, events: u64) -> Counts {
        work_latch_sketch(thread, events)
    }
    fn finish(&self, per_thread: &[Counts]) -> Counts {
        sum(per_thread)
    }
}

/// tally's ready-made set, shared by every thread.
struct Tally(tally::InferenceStats);

#[inline(never)]
fn work_tally(stats: &tally::InferenceStats, thread: usize, events: u64) {
    drive(events, thread, |o, h| {
        stats.record_request(Outcome::success_if(o == 0), Cache::hit_if(h == 0))
    });
}

impl Contender for Tally {
    const NAME: &'static str = "tally";
    fn new() -> Self {
        Tally(tally::InferenceStats::new())
    }
    fn work(&self, thread: usize, events: u64) -> Counts {
        work_tally(&self.0, thread, events);
        Counts::default()
    }
    fn finish(&self, _: &[Counts]) -> Counts {
        let s = self.0.snapshot();
        assert!(s.is_coherent(), "tally snapshot not coherent after the run: {s:?}");
        Counts {
            total: s.total_inferences,
            outcome: [s.successful_inferences, s.failed_inferences],
            cache: [s.cache_hits, s.cache_misses],
        }
    }
}

/// One `Mutex<Stats>` shared by every thread.
#[derive(Default)]
struct PlainStats {
    total: u64,
    outcome: [u64; 2],
    cache: [u64; 2],
}

struct Locked(Mutex<PlainStats>);

#[inline(never)]
fn work_mutex(stats: &Mutex<PlainStats>, thread: usize, events: u64) {
    drive(events, thread, |o, h| {
        let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
        s.total += 1;
        s.outcome[o] += 1;
        s.cache[h] += 1;
    });
}

impl Contender for Locked {
    const NAME: &'static str = "mutex";
    fn new() -> Self {
        Locked(Mutex::new(PlainStats::default()))
    }
    fn work(&self, thread: usize, events: u64) -> Counts {
        work_mutex(&self.0, thread, events);
        Counts::default()
    }
    fn finish(&self, _: &[Counts]) -> Counts {
        let s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Counts { total: s.total, outcome: s.outcome, cache: s.cache }
    }
}

/// One struct of five shared `AtomicU64`s, adjacent (one cache line), `fetch_add` each.
#[derive(Default)]
struct SharedAtomics {
    total: AtomicU64,
    successful: AtomicU64,
    failed: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
}

struct Shared(SharedAtomics);

#[inline(never)]
fn work_atomic(s: &SharedAtomics, thread: usize, events: u64) {
    drive(events, thread, |o, h| {
        s.total.fetch_add(1, Ordering::Relaxed);
        [&s.successful, &s.failed][o].fetch_add(1, Ordering::Relaxed);
        [&s.cache_hits, &s.cache_misses][h].fetch_add(1, Ordering::Relaxed);
    });
}

impl Contender for Shared {
    const NAME: &'static str = "atomic";
    fn new() -> Self {
        Shared(SharedAtomics::default())
    }
    fn work(&self, thread: usize, events: u64) -> Counts {
        work_atomic(&self.0, thread, events);
        Counts::default()
    }
    fn finish(&self, _: &[Counts]) -> Counts {
        let s = &self.0;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counts {
            total: get(&s.total),
            outcome: [get(&s.successful), get(&s.failed)],
            cache: [get(&s.cache_hits), get(&s.cache_misses)],
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------

/// The contenders, in table order. `floor` first: the ratio column divides by it.
const NAMES: [&str; 6] =
    [Floor::NAME, FloorAtomic::NAME, LatchSketch::NAME, Tally::NAME, Locked::NAME, Shared::NAME];

/// One timed run.
struct Run {
    wall: Duration,
    counts: Counts,
}

/// `threads` threads of `events` events each, started together from a barrier. The time
/// is from the first thread's start to the last thread's end, so spawning is not counted.
fn run<C: Contender>(threads: usize, events: u64) -> Run {
    let contender = C::new();
    let barrier = Barrier::new(threads);
    let results: Vec<(Instant, Instant, Counts)> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (contender, barrier) = (&contender, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    let counts = contender.work(t, events);
                    (start, Instant::now(), counts)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a worker panicked")).collect()
    });
    let start = results.iter().map(|r| r.0).min().expect("at least one thread");
    let end = results.iter().map(|r| r.1).max().expect("at least one thread");
    let per_thread: Vec<Counts> = results.iter().map(|r| r.2).collect();
    Run { wall: end - start, counts: contender.finish(&per_thread) }
}

fn run_named(name: &str, threads: usize, events: u64) -> Run {
    match name {
        Floor::NAME => run::<Floor>(threads, events),
        FloorAtomic::NAME => run::<FloorAtomic>(threads, events),
        LatchSketch::NAME => run::<LatchSketch>(threads, events),
        Tally::NAME => run::<Tally>(threads, events),
        Locked::NAME => run::<Locked>(threads, events),
        Shared::NAME => run::<Shared>(threads, events),
        _ => unreachable!("unknown contender {name}"),
    }
}

/// Events per thread so that one run takes about `target`.
fn calibrate(name: &str, threads: usize, target: Duration) -> u64 {
    let mut events = 1u64 << 14;
    loop {
        let wall = run_named(name, threads, events).wall;
        if wall >= target / 16 || events >= 1 << 36 {
            let scaled = events as f64 * target.as_secs_f64() / wall.as_secs_f64().max(1e-9);
            // Round to two significant digits, to read well in the table.
            let scaled = scaled.max(1000.0);
            let unit = 10f64.powi(scaled.log10().floor() as i32 - 1);
            return ((scaled / unit).round() * unit) as u64;
        }
        events *= 4;
    }
}

/// All the runs of one (contender, threads) cell.
struct Cell {
    name: &'static str,
    threads: usize,
    events: u64,
    ns: Vec<f64>,
    /// Events missing from `total` (summed over runs), and runs whose partitions did not
    /// add up.
    lost: u64,
    incoherent: usize,
}

impl Cell {
    fn record(&mut self, r: &Run) {
        let expected = self.threads as u64 * self.events;
        self.lost += expected.saturating_sub(r.counts.total);
        if r.counts.total > expected {
            // More than recorded is as wrong as less; count it as incoherent.
            self.incoherent += 1;
        }
        if !r.counts.coherent() {
            self.incoherent += 1;
        }
        self.ns.push(r.wall.as_nanos() as f64 / self.events as f64);
    }

    fn median(&self) -> f64 {
        let mut v = self.ns.clone();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
    }

    fn min(&self) -> f64 {
        self.ns.iter().copied().fold(f64::INFINITY, f64::min)
    }

    fn max(&self) -> f64 {
        self.ns.iter().copied().fold(0.0, f64::max)
    }

    fn ok(&self) -> bool {
        self.lost == 0 && self.incoherent == 0
    }
}

struct Options {
    test: bool,
    markdown: Option<String>,
    reps: usize,
    target: Duration,
    threads: Vec<usize>,
    /// Contenders to run, in table order (`floor` is always kept: the ratios need it).
    contenders: Vec<&'static str>,
}

fn parse_args() -> Options {
    let mut o = Options {
        test: false,
        markdown: None,
        reps: 7,
        target: Duration::from_millis(300),
        threads: vec![1, 2, 4],
        contenders: NAMES.to_vec(),
    };
    let mut bench = false;
    let mut args = env::args().skip(1);
    let usage = "usage: throughput [--bench] [--test] [--markdown PATH] [--reps N] \
                 [--target-ms N] [--threads 1,2,4] [--contenders tally,mutex,...]";
    let fail = |msg: String| -> ! {
        eprintln!("throughput: {msg}\n{usage}");
        process::exit(2)
    };
    while let Some(a) = args.next() {
        let mut value =
            |what: &str| args.next().unwrap_or_else(|| fail(format!("{a} needs {what}")));
        match a.as_str() {
            "--bench" => bench = true,
            "--test" => o.test = true,
            "--markdown" => o.markdown = Some(value("a path")),
            "--reps" => {
                o.reps = value("a count")
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| fail("--reps takes a positive integer".into()))
            }
            "--target-ms" => {
                let ms: u64 = value("milliseconds")
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| fail("--target-ms takes a positive integer".into()));
                o.target = Duration::from_millis(ms);
            }
            "--threads" => {
                o.threads = value("a list")
                    .split(',')
                    .map(|t| t.trim().parse().ok().filter(|&n: &usize| n > 0))
                    .collect::<Option<Vec<_>>>()
                    .unwrap_or_else(|| fail("--threads takes a list like 1,2,4".into()))
            }
            "--contenders" => {
                let list = value("a list");
                let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
                if let Some(bad) = wanted.iter().find(|w| !NAMES.contains(w)) {
                    fail(format!("unknown contender {bad:?}; they are {}", NAMES.join(", ")));
                }
                o.contenders =
                    NAMES.into_iter().filter(|n| *n == Floor::NAME || wanted.contains(n)).collect();
            }
            other => fail(format!("unknown argument {other:?}")),
        }
    }
    // `cargo bench` passes --bench; anything else (`cargo test --benches`, a bare run)
    // gets the quick check rather than a minute of measurement.
    o.test |= !bench;
    o
}

/// Runs every contender once at each thread count with small counts and checks the final
/// counts exactly, field by field, against a replay of the generators.
fn quick_check(threads: &[usize], contenders: &[&str]) -> bool {
    const EVENTS: u64 = 10_000;
    let mut ok = true;
    for &t in threads {
        let expected = Counts::expected(t, EVENTS);
        for &name in contenders {
            let got = run_named(name, t, EVENTS).counts;
            let pass = got == expected;
            ok &= pass;
            println!(
                "{} {name:<13} threads={t} events/thread={EVENTS} total={} (expected {})",
                if pass { "ok  " } else { "FAIL" },
                got.total,
                expected.total
            );
            if !pass {
                println!("     got {got:?}\n     expected {expected:?}");
            }
        }
    }
    ok
}

fn measure(o: &Options) -> Vec<Cell> {
    let mut cells = Vec::new();
    for &threads in &o.threads {
        for &name in &o.contenders {
            let events = calibrate(name, threads, o.target);
            eprintln!("calibrated {name:<13} threads={threads}: {events} events/thread");
            cells.push(Cell { name, threads, events, ns: Vec::new(), lost: 0, incoherent: 0 });
        }
    }
    for rep in 0..o.reps {
        eprintln!("repetition {}/{}", rep + 1, o.reps);
        for &threads in &o.threads {
            // Rotate the order each repetition so that no contender always runs first.
            let mut order: Vec<usize> =
                (0..cells.len()).filter(|&i| cells[i].threads == threads).collect();
            let len = order.len();
            order.rotate_left(rep % len);
            for i in order {
                let r = run_named(cells[i].name, threads, cells[i].events);
                cells[i].record(&r);
            }
        }
    }
    cells
}

/// The table's rows, as strings: contender, threads, events/thread, median, min, max,
/// Mevents/s, ratio to floor, lost.
fn rows(cells: &[Cell]) -> Vec<[String; 9]> {
    cells
        .iter()
        .map(|c| {
            let floor = cells
                .iter()
                .find(|f| f.name == Floor::NAME && f.threads == c.threads)
                .map(Cell::median);
            let med = c.median();
            let mevents = c.threads as f64 / med * 1e3;
            let lost = if c.ok() {
                "0".to_owned()
            } else {
                format!("{} lost, {} runs incoherent", c.lost, c.incoherent)
            };
            [
                c.name.to_owned(),
                c.threads.to_string(),
                c.events.to_string(),
                format!("{med:.2}"),
                format!("{:.2}", c.min()),
                format!("{:.2}", c.max()),
                format!("{mevents:.1}"),
                floor.map_or("-".into(), |f| format!("{:.2}x", med / f)),
                lost,
            ]
        })
        .collect()
}

const HEADERS: [&str; 9] = [
    "contender",
    "threads",
    "events/thread",
    "ns/event/thread (median)",
    "min",
    "max",
    "Mevents/s (all threads)",
    "vs floor",
    "lost updates",
];

fn text_table(rows: &[[String; 9]]) -> String {
    let mut width = HEADERS.map(str::len);
    for r in rows {
        for (w, cell) in width.iter_mut().zip(r) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[&str]| {
        for (i, (c, w)) in cells.iter().zip(width).enumerate() {
            if i == 0 {
                let _ = write!(out, "{c:<w$}");
            } else {
                let _ = write!(out, "  {c:>w$}");
            }
        }
        out.push('\n');
    };
    line(&mut out, &HEADERS);
    let mut last_threads = None;
    for r in rows {
        if last_threads.is_some_and(|t| t != r[1]) {
            out.push('\n');
        }
        last_threads = Some(r[1].clone());
        line(&mut out, &r.each_ref().map(String::as_str));
    }
    out
}

fn markdown_table(rows: &[[String; 9]], o: &Options) -> String {
    let mut out = format!(
        "Medians of {} runs per row; each run a fixed number of events per thread \
         (about {} ms), contenders interleaved.\n\n",
        o.reps,
        o.target.as_millis()
    );
    let _ = writeln!(out, "| {} |", HEADERS.join(" | "));
    let _ = writeln!(out, "|:--|{}", "--:|".repeat(HEADERS.len() - 1));
    for r in rows {
        let mut r = r.clone();
        r[0] = format!("`{}`", r[0]);
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    out
}

fn main() {
    let o = parse_args();
    if o.test {
        if quick_check(&o.threads, &o.contenders) {
            println!("throughput --test: every contender's final counts are exact");
            return;
        }
        eprintln!("throughput --test: a contender lost or invented updates (see above)");
        process::exit(1);
    }
    let cells = measure(&o);
    let rows = rows(&cells);
    print!("{}", text_table(&rows));
    if let Some(path) = &o.markdown {
        if let Err(e) = fs::write(path, markdown_table(&rows, &o)) {
            eprintln!("throughput: cannot write {path}: {e}");
            process::exit(1);
        }
        eprintln!("wrote {path}");
    }
    if let Some(bad) = cells.iter().find(|c| !c.ok()) {
        eprintln!(
            "throughput: {} at {} threads lost {} updates ({} runs incoherent)",
            bad.name, bad.threads, bad.lost, bad.incoherent
        );
        process::exit(1);
    }
}
