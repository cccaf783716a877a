//! An arbitrary program of records over 1–4 threads, with snapshots taken in between,
//! against a sequential model.
//!
//! The set's event shapes each keep an invariant, so a snapshot that holds part of an
//! event breaks one of them:
//!
//! - `Request`: `total`, one of `ok`/`failed`, and a `latency_ns` value:
//!   `ok + failed == total == latency_ns.count`;
//! - `Transfer(n)`: `sent += n`, `received += n`: `sent == received`;
//! - `Start` / `Finish`: `started` or `finished` and the `in_flight` gauge by ±1:
//!   `in_flight == started - finished`;
//! - `Mark(v)`: sets the `mark` last-value gauge and counts `marks` (only the count is
//!   checked mid-run; which thread's mark is newest depends on timing);
//! - `Work(q)`: the float counter `busy_seconds` by `q / 4` and the counter `work_quarters`
//!   by `q`: `busy_seconds == work_quarters / 4` (exact: sums of quarters);
//! - `Fill(h)`: the float gauge `fill` by `h / 2` and the gauge `fill_halves` by `h`:
//!   `fill == fill_halves / 2`;
//! - `Sample(ms)`: `ms / 1000` seconds into the `response` histogram with `record_f64`, and
//!   `samples` by 1: `response.count == samples`;
//! - `Level(bits)`: any `f64` into the float last-value gauge `level` (NaN is refused and
//!   recorded nowhere), and `levels` by 1;
//! - `Bump(n)`: one update through the set's own handle (an event of its own) of `bumps`;
//! - any event may have a record nested in it (an event of its own, applied when it
//!   returns, before the outer one), or be abandoned by a panic after its updates: an
//!   abandoned event is in no snapshot, its nested record is.
//!
//! Checked: every snapshot taken mid-run is coherent (all invariants), never behind an
//! earlier snapshot of the same thread (`Delta` succeeds: no counter, histogram bucket,
//! count or sum went back) and the difference between them is coherent too, includes every
//! event the thread itself committed before it, and is never ahead of the final state. At
//! the end, the snapshot equals the model exactly (the histograms bucket for bucket, with
//! exact min and max; the float totals exactly; the last-value gauges as far as the order
//! of threads determines them).
#![no_main]

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Barrier;
use std::thread;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tally::{Delta, HistogramConfig, HistogramSnapshot, Last};

tally::metric_set! {
    struct Fz {
        /// Requests.
        total: Counter,
        /// Requests that succeeded.
        ok: Counter,
        /// Requests that failed.
        failed: Counter,
        /// Request latency, one value per request.
        latency_ns: Histogram,
        /// Bytes sent.
        sent: Counter,
        /// Bytes received: always equal to `sent`.
        received: Counter,
        /// Work started.
        started: Counter,
        /// Work finished.
        finished: Counter,
        /// `started - finished`.
        in_flight: Gauge,
        /// The last mark set.
        mark: LastValue,
        /// Marks set.
        marks: Counter,
        /// Single-field updates.
        bumps: Counter,
        /// Work done, in seconds: a quarter per quarter.
        busy_seconds: CounterF64 in Seconds,
        /// Work done, in quarters of a second.
        work_quarters: Counter,
        /// A level, in halves.
        fill: GaugeF64,
        /// The same level, counted in halves.
        fill_halves: Gauge,
        /// Response times, recorded as f64 seconds.
        response: Histogram,
        /// Responses.
        samples: Counter,
        /// Any f64, last set.
        level: LastValueF64,
        /// Levels set (or refused).
        levels: Counter,
    }
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Shape {
    Request { ok: bool, latency: u64 },
    Transfer(u32),
    Start,
    Finish,
    Mark(i64),
    Work(u16),
    Fill(i16),
    Sample(u32),
    Level(u64),
}

#[derive(Debug, Clone, Arbitrary)]
enum Op {
    /// One event of several shapes (a multi-field event of multi-field events). From
    /// `nested_from` on they go through a record nested inside it (its own event, applied
    /// first); with `panics`, the closure panics after all of them and the outer event
    /// records nothing (the nested one stays).
    Event { shapes: Vec<Shape>, nested_from: u8, panics: bool },
    /// One shape as its own event.
    One(Shape),
    /// A single-field update through the set's handle.
    Bump(u16),
    /// A snapshot, checked.
    Snapshot,
}

const MAX_THREADS: usize = 4;
const MAX_OPS: usize = 256;
const MAX_SHAPES: usize = 8;

fn apply(e: FzEvent<'_>, shape: Shape) {
    match shape {
        Shape::Request { ok, latency } => {
            e.total().inc();
            if ok {
                e.ok().inc()
            } else {
                e.failed().inc()
            }
            e.latency_ns().record(latency);
        }
        Shape::Transfer(n) => {
            e.sent().add(n.into());
            e.received().add(n.into());
        }
        Shape::Start => {
            e.started().inc();
            e.in_flight().inc();
        }
        Shape::Finish => {
            e.finished().inc();
            e.in_flight().dec();
        }
        Shape::Mark(v) => {
            e.mark().set(v);
            e.marks().inc();
        }
        Shape::Work(q) => {
            e.busy_seconds().add(f64::from(q) / 4.0);
            e.work_quarters().add(q.into());
        }
        Shape::Fill(h) => {
            e.fill().add(f64::from(h) / 2.0);
            e.fill_halves().add(h.into());
        }
        Shape::Sample(ms) => {
            e.response().record_f64(f64::from(ms) / 1000.0);
            e.samples().inc();
        }
        Shape::Level(bits) => {
            let refused = e.level().try_set(f64::from_bits(bits)).is_err();
            assert_eq!(refused, f64::from_bits(bits).is_nan(), "only NaN is refused");
            e.levels().inc();
        }
    }
}

/// What the committed events of a program add up to.
#[derive(Debug, Clone, Default)]
struct Model {
    total: u64,
    ok: u64,
    failed: u64,
    latencies: Vec<u64>,
    sent: u64,
    started: u64,
    finished: u64,
    marks: u64,
    last_mark: Option<i64>,
    bumps: u64,
    quarters: u64,
    halves: i64,
    responses: Vec<u64>,
    levels: u64,
    last_level: Option<f64>,
}

impl Model {
    fn add(&mut self, shape: Shape) {
        match shape {
            Shape::Request { ok, latency } => {
                self.total += 1;
                if ok {
                    self.ok += 1
                } else {
                    self.failed += 1
                }
                self.latencies.push(latency);
            }
            Shape::Transfer(n) => self.sent += u64::from(n),
            Shape::Start => self.started += 1,
            Shape::Finish => self.finished += 1,
            Shape::Mark(v) => {
                self.marks += 1;
                self.last_mark = Some(v);
            }
            Shape::Work(q) => self.quarters += u64::from(q),
            Shape::Fill(h) => self.halves += i64::from(h),
            Shape::Sample(ms) => {
                let steps = HistogramConfig::SECONDS.steps_of(f64::from(ms) / 1000.0);
                self.responses.push(steps.expect("milliseconds below 2^32 are in range"));
            }
            Shape::Level(bits) => {
                self.levels += 1;
                let v = f64::from_bits(bits);
                if !v.is_nan() {
                    self.last_level = Some(v);
                }
            }
        }
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Snapshot => {}
            Op::Event { shapes, nested_from, panics } => {
                let split = usize::from(*nested_from).min(shapes.len());
                // The nested record is applied when it returns, before the outer event;
                // the outer one only if its closure returns.
                shapes[split..].iter().for_each(|&s| self.add(s));
                if !*panics {
                    shapes[..split].iter().for_each(|&s| self.add(s));
                }
            }
            Op::One(s) => self.add(*s),
            Op::Bump(n) => self.bumps += u64::from(*n),
        }
    }

    /// Whether `snap` holds at least these counts (a thread's own committed events are in
    /// every later snapshot it takes).
    fn is_within(&self, snap: &FzSnapshot) -> bool {
        snap.total >= self.total
            && snap.ok >= self.ok
            && snap.failed >= self.failed
            && snap.latency_ns.count() >= self.latencies.len() as u64
            && snap.sent >= self.sent
            && snap.started >= self.started
            && snap.finished >= self.finished
            && snap.marks >= self.marks
            && snap.bumps >= self.bumps
            && snap.work_quarters >= self.quarters
            && snap.samples >= self.responses.len() as u64
            && snap.levels >= self.levels
    }
}

fn run(set: &Fz, op: &Op, own: &Model, previous: &mut FzSnapshot) {
    match op {
        Op::Event { shapes, nested_from, panics } => {
            let split = usize::from(*nested_from).min(shapes.len());
            let result = catch_unwind(AssertUnwindSafe(|| {
                set.record(|e| {
                    shapes[..split].iter().for_each(|&s| apply(e, s));
                    set.record(|inner| shapes[split..].iter().for_each(|&s| apply(inner, s)));
                    if *panics {
                        // resume_unwind skips the panic hook, which libFuzzer's aborts.
                        resume_unwind(Box::new("abandoned on purpose"));
                    }
                })
            }));
            assert_eq!(result.is_err(), *panics, "only the abandoned events unwind");
        }
        Op::One(s) => set.record(|e| apply(e, *s)),
        Op::Bump(n) => set.bumps().add((*n).into()),
        Op::Snapshot => {
            let snap = set.snapshot();
            check_coherent(&snap, "a snapshot");
            let delta = FzSnapshot::delta(&snap, previous).unwrap_or_else(|e| {
                panic!("snapshot went backwards: {e}\nearlier {previous:?}\nlater {snap:?}")
            });
            check_coherent(&delta, "the difference of two snapshots");
            assert!(own.is_within(&snap), "a snapshot misses the thread's own events");
            *previous = snap;
        }
    }
}

fn check_coherent(s: &FzSnapshot, what: &str) {
    assert!(
        s.ok + s.failed == s.total && s.latency_ns.count() == s.total,
        "{what} holds part of a request: {s:?}"
    );
    assert_eq!(s.sent, s.received, "{what} holds part of a transfer: {s:?}");
    assert_eq!(
        s.in_flight,
        s.started.wrapping_sub(s.finished) as i64,
        "{what} holds part of a start or finish: {s:?}"
    );
    assert_eq!(
        s.busy_seconds,
        s.work_quarters as f64 / 4.0,
        "{what} holds part of some work: {s:?}"
    );
    assert_eq!(s.fill, s.fill_halves as f64 / 2.0, "{what} holds part of a fill: {s:?}");
    assert_eq!(s.response.count(), s.samples, "{what} holds part of a sample: {s:?}");
}

#[derive(Debug, Arbitrary)]
struct Input {
    threads: Vec<Vec<Op>>,
}

fuzz_target!(|input: Input| {
    let mut threads = input.threads;
    threads.truncate(MAX_THREADS);
    if threads.is_empty() {
        return;
    }
    for ops in &mut threads {
        ops.truncate(MAX_OPS);
        for op in ops.iter_mut() {
            if let Op::Event { shapes, .. } = op {
                shapes.truncate(MAX_SHAPES);
            }
        }
    }

    let set = Fz::new();
    let barrier = Barrier::new(threads.len());
    let (snapshots, models): (Vec<FzSnapshot>, Vec<Model>) = thread::scope(|s| {
        let handles: Vec<_> = threads
            .iter()
            .map(|ops| {
                let (set, barrier) = (&set, &barrier);
                s.spawn(move || {
                    let mut own = Model::default();
                    let mut previous = FzSnapshot::default();
                    barrier.wait();
                    for op in ops {
                        run(set, op, &own, &mut previous);
                        own.apply(op);
                    }
                    (previous, own)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a program thread panicked")).unzip()
    });

    // The sequential model: every thread's committed events, added up.
    let mut model = Model::default();
    let mut last_marks = Vec::new();
    let mut last_levels = Vec::new();
    for own in &models {
        model.total += own.total;
        model.ok += own.ok;
        model.failed += own.failed;
        model.latencies.extend_from_slice(&own.latencies);
        model.sent += own.sent;
        model.started += own.started;
        model.finished += own.finished;
        model.marks += own.marks;
        model.bumps += own.bumps;
        last_marks.extend(own.last_mark);
        model.quarters += own.quarters;
        model.halves += own.halves;
        model.responses.extend_from_slice(&own.responses);
        model.levels += own.levels;
        last_levels.extend(own.last_level);
    }

    let end = set.snapshot();
    check_coherent(&end, "the final snapshot");
    let latency =
        HistogramSnapshot::from_values(HistogramConfig::DEFAULT, model.latencies.iter().copied())
            .unwrap();
    let expected = FzSnapshot {
        total: model.total,
        ok: model.ok,
        failed: model.failed,
        latency_ns: latency,
        sent: model.sent,
        received: model.sent,
        started: model.started,
        finished: model.finished,
        in_flight: model.started.wrapping_sub(model.finished) as i64,
        mark: end.mark,
        marks: model.marks,
        bumps: model.bumps,
        busy_seconds: model.quarters as f64 / 4.0,
        work_quarters: model.quarters,
        fill: model.halves as f64 / 2.0,
        fill_halves: model.halves,
        response: HistogramSnapshot::from_values(
            HistogramConfig::SECONDS,
            model.responses.iter().copied(),
        )
        .unwrap(),
        samples: model.responses.len() as u64,
        level: end.level,
        levels: model.levels,
    };
    assert_eq!(end, expected, "the final snapshot differs from the model");
    match last_marks.as_slice() {
        [] => assert_eq!(end.mark, Last::default(), "no committed mark, yet the gauge is set"),
        [only] => assert_eq!((end.mark.value, end.mark.is_set()), (*only, true)),
        several => assert!(
            end.mark.is_set() && several.contains(&end.mark.value),
            "{:?} is no thread's last mark ({several:?})",
            end.mark
        ),
    }
    match last_levels.as_slice() {
        [] => assert!(!end.level.is_set(), "no committed level, yet the gauge is set"),
        [only] => {
            assert_eq!((end.level.value.to_bits(), end.level.is_set()), (only.to_bits(), true))
        }
        several => assert!(
            end.level.is_set() && several.iter().any(|v| v.to_bits() == end.level.value.to_bits()),
            "{:?} is no thread's last level ({several:?})",
            end.level
        ),
    }
    // No mid-run snapshot is ahead of the end.
    for snap in &snapshots {
        FzSnapshot::delta(&end, snap).expect("a mid-run snapshot is ahead of the final one");
    }
});
