//! What each case records, per event (run in the child, under callgrind).
//!
//! Shared by the `insns` binary (every recording call has one call site) and
//! `insns_two_sites` (the inference event's recording call has a second call site, which
//! changes the optimiser's inlining choices).

use std::hint::black_box;
use std::sync::atomic::Ordering::{Relaxed, Release};
use std::sync::atomic::{AtomicU64, fence};
use std::time::Duration;

use tally::{Cache, HistogramConfig, InferenceStats, Outcome};

use tally_insns::{Event, XorShift};

tally::metric_set! {
    /// Three counters recorded as one event.
    struct Three {
        /// Requests.
        total: Counter,
        /// Requests that succeeded.
        ok: Counter,
        /// Requests answered from the cache.
        hits: Counter,
    }
}

tally::metric_set! {
    /// One field of each kind, recorded alone.
    struct One {
        /// A count.
        count: Counter,
        /// A level.
        level: Gauge,
        /// A float level.
        level_f64: GaugeF64,
        /// A float total.
        total_f64: CounterF64,
        /// A last value.
        last: LastValue,
        /// A float last value.
        last_f64: LastValueF64,
        /// Latencies (seconds, in nanosecond steps).
        latency: Histogram,
    }
}

/// Latencies for the histogram cases, as nanoseconds and as the same in seconds: both
/// cases load one from a table, so their loops differ only in the record call.
struct Samples {
    ns: Vec<u64>,
    seconds: Vec<f64>,
}

impl Samples {
    fn new() -> Samples {
        let mut rng = XorShift::for_thread(0);
        let ns: Vec<u64> = (0..1024).map(|_| Event::from_bits(rng.next_u64()).latency_ns).collect();
        let seconds = ns.iter().map(|&n| n as f64 / 1e9).collect();
        Samples { ns, seconds }
    }
}

/// The cases: name, what it records per event.
pub const CASES: [(&str, &str); 19] = [
    (
        "floor",
        "(reference) the inference event into plain thread-local fields: 5 counters by index, \
         log2 histogram buckets and a sum",
    ),
    (
        "floor_tally_index",
        "(reference) the same floor with tally's log-linear bucket index \
         (`HistogramConfig::DEFAULT`)",
    ),
    (
        "inference_latency",
        "`record_request_with_latency(outcome, cache, latency)`: total, one outcome, one \
         cache result and a latency, one event",
    ),
    ("inference_counters", "`record_request(outcome, cache)`: the same event, counters only"),
    ("floor_counters", "(reference) the counters-only floor: 3 plain increments by index"),
    (
        "sketch_latency",
        "(reference) the smallest two-copy latch for the inference event, written out by \
         hand: the shard in a local (no thread-local, no table), the same orderings, counters \
         and histogram (count, u128 sum, min, max, bucket with tally's index) in both copies",
    ),
    ("sketch_counters", "(reference) the same sketch, counters only"),
    ("counter_inc", "`count().inc()`: a lone counter increment, its own event"),
    ("counter_add", "`count().add(n)`: a lone counter add (saturating), its own event"),
    ("gauge_add", "`level().add(n)`: a lone gauge add (wrapping), its own event"),
    ("event_three_counters", "`record(|e| { total.inc(); ok.inc(); hits.add(n) })`: one event"),
    (
        "event_three_counters_depth",
        "(reference) the same event inside a thread-local depth count (+1 before, -1 after): \
         the least that joining nested records to the outer event would add",
    ),
    (
        "event_wide_spill",
        "`record(|e| 24 × counter inc)`: one event wider than the inline buffer (8 updates)",
    ),
    ("gauge_f64_add", "`level_f64().add(x)`: a lone float gauge add, its own event"),
    ("counter_f64_add", "`total_f64().add(x)`: a lone float counter add (x >= 0 checked)"),
    ("last_set", "`last().set(n)`: a lone last-value set (with its clock stamp)"),
    ("last_f64_set", "`last_f64().set(x)`: a lone float last-value set (x finite checked)"),
    ("histogram_record", "`latency().record(ns)`: a lone histogram record of nanoseconds"),
    (
        "histogram_record_f64",
        "`latency().record_f64(seconds)`: the same values as `f64` seconds, to nanosecond steps",
    ),
];

/// The inference event's recording call, at its first call site.
#[inline(always)]
fn inference(stats: &InferenceStats, e: Event) {
    stats.record_request_with_latency(
        Outcome::success_if(e.success()),
        Cache::hit_if(e.hit()),
        Duration::from_nanos(e.latency_ns),
    );
}

/// A second call site of the same recording call, never taken at run time (the optimiser
/// cannot know): only in the `insns_two_sites` binary.
#[inline(never)]
fn second_site(stats: &InferenceStats, r: u64) {
    let e = Event::from_bits(r.rotate_left(7));
    stats.record_request_with_latency(
        Outcome::success_if(e.hit()),
        Cache::hit_if(e.success()),
        Duration::from_nanos(e.latency_ns),
    );
}

/// The sets every case records into, created and warmed before counting starts.
pub struct Sets {
    one: One,
    three: Three,
    stats: InferenceStats,
    samples: Samples,
}

impl Sets {
    /// New sets, recorded into once from this thread: its slot, the sets' shards and the
    /// histogram's pages exist before counting starts.
    pub fn warm() -> Sets {
        let sets = Sets {
            one: One::new(),
            three: Three::new(),
            stats: InferenceStats::new(),
            samples: Samples::new(),
        };
        sets.warm_this_thread();
        sets
    }

    /// Records into every set from this thread (its shards and pages created).
    pub fn warm_this_thread(&self) {
        self.one.count().inc();
        self.one.level().add(1);
        self.one.level_f64().add(1.0);
        self.one.total_f64().add(1.0);
        self.one.last().set(1);
        self.one.last_f64().set(1.0);
        for &ns in &self.samples.ns {
            self.one.latency().record(ns);
        }
        self.three.record(|e| e.total().inc());
        let mut warm = XorShift::for_thread(0);
        for _ in 0..10_000 {
            inference(&self.stats, Event::from_bits(warm.next_u64()));
        }
    }

    /// Every set's snapshot (so that nothing recorded is optimised away).
    pub fn read(&self) {
        black_box((self.one.snapshot(), self.three.snapshot(), self.stats.snapshot()));
    }
}

/// Records `events` events of `case`; `two_sites` adds the second call site.
///
/// Each case's loop is a function of its own (`#[inline(never)]`), as a service's hot loop
/// is: the optimiser sees one recording call site per function, not ten cases at once.
pub fn run(case: &str, events: u64, two_sites: bool) -> Result<(), String> {
    let sets = Sets::warm();
    dispatch(&sets, case, events, two_sites)?;
    sets.read();
    Ok(())
}

/// Records `events` events of `case` into `sets` from this thread.
pub fn dispatch(s: &Sets, case: &str, events: u64, two_sites: bool) -> Result<(), String> {
    match case {
        "floor" => floor(events),
        "floor_tally_index" => floor_tally_index(events),
        "floor_counters" => floor_counters(events),
        "inference_latency" => inference_latency(s, events, two_sites),
        "inference_counters" => inference_counters(s, events),
        "counter_inc" => counter_inc(s, events),
        "counter_add" => counter_add(s, events),
        "gauge_add" => gauge_add(s, events),
        "event_three_counters" => event_three_counters(s, events),
        "event_three_counters_depth" => event_three_counters_depth(s, events),
        "sketch_latency" => sketch(events, true),
        "sketch_counters" => sketch(events, false),
        "event_wide_spill" => event_wide_spill(s, events),
        "gauge_f64_add" => gauge_f64_add(s, events),
        "counter_f64_add" => counter_f64_add(s, events),
        "last_set" => last_set(s, events),
        "last_f64_set" => last_f64_set(s, events),
        "histogram_record" => histogram_record(s, events),
        "histogram_record_f64" => histogram_record_f64(s, events),
        other => return Err(format!("unknown case {other:?}")),
    }
    Ok(())
}

#[inline(never)]
fn floor(events: u64) {
    let mut rng = XorShift::for_thread(0);
    let mut fields = [0u64; 5];
    let mut buckets = [0u64; 64];
    let mut sum = 0u64;
    let total = black_box(0);
    for _ in 0..events {
        let e = Event::from_bits(rng.next_u64());
        fields[total] += 1;
        fields[1 + e.outcome] += 1;
        fields[3 + e.cache] += 1;
        buckets[63 - (e.latency_ns | 1).leading_zeros() as usize] += 1;
        sum = sum.wrapping_add(e.latency_ns);
    }
    black_box((fields, buckets, sum));
}

#[inline(never)]
fn floor_tally_index(events: u64) {
    let mut rng = XorShift::for_thread(0);
    let config = black_box(HistogramConfig::DEFAULT);
    let mut fields = [0u64; 5];
    let mut buckets = vec![0u64; config.bucket_count() + 1];
    let mut sum = 0u64;
    let total = black_box(0);
    for _ in 0..events {
        let e = Event::from_bits(rng.next_u64());
        fields[total] += 1;
        fields[1 + e.outcome] += 1;
        fields[3 + e.cache] += 1;
        let i = config.index(e.latency_ns).unwrap_or(config.bucket_count());
        buckets[i] += 1;
        sum = sum.wrapping_add(e.latency_ns);
    }
    black_box((fields, buckets, sum));
}

#[inline(never)]
fn floor_counters(events: u64) {
    let mut rng = XorShift::for_thread(0);
    let mut fields = [0u64; 5];
    let total = black_box(0);
    for _ in 0..events {
        let e = Event::from_bits(rng.next_u64());
        fields[total] += 1;
        fields[1 + e.outcome] += 1;
        fields[3 + e.cache] += 1;
    }
    black_box(fields);
}

#[inline(never)]
fn inference_latency(s: &Sets, events: u64, two_sites: bool) {
    let mut rng = XorShift::for_thread(0);
    for _ in 0..events {
        let r = rng.next_u64();
        if two_sites && black_box(r) == 0 {
            second_site(&s.stats, r);
        }
        inference(&s.stats, Event::from_bits(r));
    }
}

#[inline(never)]
fn inference_counters(s: &Sets, events: u64) {
    let mut rng = XorShift::for_thread(0);
    for _ in 0..events {
        let e = Event::from_bits(rng.next_u64());
        s.stats.record_request(Outcome::success_if(e.success()), Cache::hit_if(e.hit()));
    }
}

#[inline(never)]
fn counter_inc(s: &Sets, events: u64) {
    (0..events).for_each(|_| s.one.count().inc());
}

#[inline(never)]
fn counter_add(s: &Sets, events: u64) {
    let n = black_box(3u64);
    (0..events).for_each(|_| s.one.count().add(black_box(n)));
}

#[inline(never)]
fn gauge_add(s: &Sets, events: u64) {
    let n = black_box(3i64);
    (0..events).for_each(|_| s.one.level().add(black_box(n)));
}

#[inline(never)]
fn gauge_f64_add(s: &Sets, events: u64) {
    let x = black_box(0.25f64);
    (0..events).for_each(|_| s.one.level_f64().add(black_box(x)));
}

#[inline(never)]
fn counter_f64_add(s: &Sets, events: u64) {
    let x = black_box(0.25f64);
    (0..events).for_each(|_| s.one.total_f64().add(black_box(x)));
}

#[inline(never)]
fn last_set(s: &Sets, events: u64) {
    let n = black_box(3i64);
    (0..events).for_each(|_| s.one.last().set(black_box(n)));
}

#[inline(never)]
fn last_f64_set(s: &Sets, events: u64) {
    let x = black_box(0.75f64);
    (0..events).for_each(|_| s.one.last_f64().set(black_box(x)));
}

#[inline(never)]
fn histogram_record(s: &Sets, events: u64) {
    let ns = &s.samples.ns;
    (0..events as usize).for_each(|i| s.one.latency().record(ns[i & 1023]));
}

#[inline(never)]
fn histogram_record_f64(s: &Sets, events: u64) {
    let seconds = &s.samples.seconds;
    (0..events as usize).for_each(|i| s.one.latency().record_f64(seconds[i & 1023]));
}

#[inline(never)]
fn event_three_counters(s: &Sets, events: u64) {
    let n = black_box(3u64);
    (0..events).for_each(|_| {
        s.three.record(|e| {
            e.total().inc();
            e.ok().inc();
            e.hits().add(n);
        })
    });
}

#[inline(never)]
fn event_wide_spill(s: &Sets, events: u64) {
    let n = black_box(3u64);
    (0..events).for_each(|_| {
        s.three.record(|e| {
            for _ in 0..8 {
                e.total().inc();
                e.ok().inc();
                e.hits().add(n);
            }
        })
    });
}

thread_local! {
    /// How deep this thread is in `record` calls: what joining nested records would track.
    static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

#[inline(never)]
fn event_three_counters_depth(s: &Sets, events: u64) {
    let n = black_box(3u64);
    (0..events).for_each(|_| {
        DEPTH.with(|d| d.set(d.get() + 1));
        s.three.record(|e| {
            e.total().inc();
            e.ok().inc();
            e.hits().add(n);
        });
        DEPTH.with(|d| d.set(d.get() - 1));
    });
}

/// The sketch's shard: a sequence, two copies of 12 words (5 counters, then count, sum low,
/// sum high, min inverted, max, overflow, spare) and both copies of every bucket.
struct SketchShard {
    seq: AtomicU64,
    copies: [[AtomicU64; 12]; 2],
    buckets: Vec<[AtomicU64; 2]>,
}

#[inline(always)]
fn bump(w: &AtomicU64, by: u64) {
    w.store(w.load(Relaxed).wrapping_add(by), Relaxed);
}

/// The two-copy latch for one inference event, by hand (see `CASES`).
#[inline(never)]
fn sketch(events: u64, latency: bool) {
    let config = HistogramConfig::DEFAULT;
    let shard = SketchShard {
        seq: AtomicU64::new(0),
        copies: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
        buckets: (0..=config.bucket_count())
            .map(|_| [AtomicU64::new(0), AtomicU64::new(0)])
            .collect(),
    };
    let shard = black_box(&shard);
    let total = black_box(0usize);
    let mut rng = XorShift::for_thread(0);
    for _ in 0..events {
        let e = Event::from_bits(rng.next_u64());
        let v = e.latency_ns;
        let bucket = &shard.buckets[config.index(v).unwrap_or(config.bucket_count())];
        let s = shard.seq.load(Relaxed);
        shard.seq.store(s + 1, Release);
        fence(Release);
        for (c, copy) in shard.copies.iter().enumerate() {
            if c == 1 {
                shard.seq.store(s + 2, Release);
                fence(Release);
            }
            bump(&copy[total], 1);
            bump(&copy[1 + e.outcome], 1);
            bump(&copy[3 + e.cache], 1);
            if latency {
                bump(&copy[5], 1);
                let (lo, carry) = copy[6].load(Relaxed).overflowing_add(v);
                copy[6].store(lo, Relaxed);
                if carry {
                    bump(&copy[7], 1);
                }
                copy[8].store(copy[8].load(Relaxed).max(u64::MAX - v), Relaxed);
                copy[9].store(copy[9].load(Relaxed).max(v), Relaxed);
                bump(&bucket[c], 1);
            }
        }
    }
    black_box(shard.copies[0][0].load(Relaxed));
}
