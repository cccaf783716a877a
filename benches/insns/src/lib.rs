//! The event the write-path benchmarks record, and its generator: shared by the instruction
//! counts and time ratios here (`insns`, `ratios`) and by the peer benchmarks
//! (`tally-benches`, which re-exports them), so that every figure is of the same event.

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
