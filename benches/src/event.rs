//! The event every contender records, its generator, and the counts it must leave.

use std::sync::atomic::{AtomicBool, Ordering};

pub use tally_insns::{Event, XorShift};

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
