//! The event every contender records, its generator, and the counts it must leave.

use std::sync::atomic::{AtomicBool, Ordering};

/// xorshift64: three shifts and three xors per number, per thread, no shared state.
#[derive(Debug, Clone, Copy)]
pub struct XorShift(u64);

impl XorShift {
    /// Thread `thread`'s generator (a distinct nonzero seed per thread).
    pub fn for_thread(thread: usize) -> Self {
        XorShift(0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(thread as u64 + 1) | 1)
    }

    /// The next number.
    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// A request finishing: `total += 1`, one of `successful`/`failed`, one of
/// `cache_hits`/`cache_misses` (each picked by index from a bit of the generator, so 50/50
/// and unpredictable), and its latency into a histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// 0: successful, 1: failed.
    pub outcome: usize,
    /// 0: cache hit, 1: cache miss.
    pub cache: usize,
    /// 100 µs .. about 8.5 ms, in nanoseconds.
    pub latency_ns: u64,
    /// Which of the 8 label combinations a labelled contender records into (0..8).
    pub series: usize,
}

impl Event {
    /// The event for one generator output.
    #[inline(always)]
    pub fn from_bits(r: u64) -> Event {
        Event {
            outcome: (r & 1) as usize,
            cache: ((r >> 1) & 1) as usize,
            series: ((r >> 2) & 7) as usize,
            latency_ns: 100_000 + ((r >> 8) & 0x7F_FFFF),
        }
    }

    /// Whether the request succeeded.
    #[inline(always)]
    pub fn success(&self) -> bool {
        self.outcome == 0
    }

    /// Whether the cache was hit.
    #[inline(always)]
    pub fn hit(&self) -> bool {
        self.cache == 0
    }

    /// The latency in seconds, for the peers whose histograms take `f64` seconds.
    #[inline(always)]
    pub fn latency_seconds(&self) -> f64 {
        self.latency_ns as f64 * 1e-9
    }
}

/// The label values of the labelled contenders: `model` × `device`, 8 combinations.
pub const MODELS: [&str; 4] = ["resnet50", "bert-base", "llama-7b", "whisper"];
/// See [`MODELS`].
pub const DEVICES: [&str; 2] = ["gpu0", "gpu1"];

/// The label values of series `i` (0..8).
#[inline(always)]
pub fn labels(series: usize) -> [&'static str; 2] {
    [MODELS[series & 3], DEVICES[(series >> 2) & 1]]
}

/// How long a writer records: a fixed number of events, or until a flag is raised.
#[derive(Debug, Clone, Copy)]
pub enum Budget<'a> {
    /// Exactly this many events.
    Events(u64),
    /// Until the flag is set (checked every [`CHUNK`] events).
    Until(&'a AtomicBool),
}

/// Events recorded between two checks of a [`Budget::Until`] flag.
pub const CHUNK: u64 = 256;

/// Feeds thread `thread`'s events to `record` until `budget` is spent; returns how many.
#[inline(always)]
pub fn drive(thread: usize, budget: Budget<'_>, mut record: impl FnMut(Event)) -> u64 {
    let mut rng = XorShift::for_thread(thread);
    let mut done = 0u64;
    loop {
        let chunk = match budget {
            Budget::Events(n) => (n - done).min(CHUNK),
            Budget::Until(stop) => {
                if stop.load(Ordering::Relaxed) {
                    0
                } else {
                    CHUNK
                }
            }
        };
        if chunk == 0 {
            return done;
        }
        for _ in 0..chunk {
            record(Event::from_bits(rng.next_u64()));
        }
        done += chunk;
    }
}

/// The fields as a contender reports them: its final counts, or what a reader saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests.
    pub total: u64,
    /// `[successful, failed]`.
    pub outcome: [u64; 2],
    /// `[cache_hits, cache_misses]`.
    pub cache: [u64; 2],
    /// Latencies in the histogram (its count).
    pub latencies: u64,
}

impl Counts {
    /// Adds `o` field by field.
    pub fn add(&mut self, o: &Counts) {
        self.total += o.total;
        self.latencies += o.latencies;
        for i in 0..2 {
            self.outcome[i] += o.outcome[i];
            self.cache[i] += o.cache[i];
        }
    }

    /// Counts one event.
    #[inline(always)]
    pub fn count(&mut self, e: Event) {
        self.total += 1;
        self.outcome[e.outcome] += 1;
        self.cache[e.cache] += 1;
        self.latencies += 1;
    }

    /// What thread `thread` must have recorded after `events` events.
    pub fn expected_for(thread: usize, events: u64) -> Counts {
        let mut c = Counts::default();
        drive(thread, Budget::Events(events), |e| c.count(e));
        c
    }

    /// The sum of [`expected_for`](Self::expected_for) over threads, given each thread's
    /// event count.
    pub fn expected(events_per_thread: &[u64]) -> Counts {
        let mut sum = Counts::default();
        for (t, &n) in events_per_thread.iter().enumerate() {
            sum.add(&Counts::expected_for(t, n));
        }
        sum
    }

    /// The torn-snapshot test: `successful + failed != total`.
    pub fn outcome_torn(&self) -> bool {
        self.outcome[0] + self.outcome[1] != self.total
    }

    /// Whether any field disagrees with `total`: the outcome or cache partition, or the
    /// histogram's count.
    pub fn any_torn(&self) -> bool {
        self.outcome_torn()
            || self.cache[0] + self.cache[1] != self.total
            || self.latencies != self.total
    }
}
