//! What a contender is, and the list of them.

use crate::contenders;
use crate::event::{Budget, Counts};

/// One way of recording the [`Event`](crate::Event). A fresh instance is made for every run.
pub trait Contender: Send + Sync {
    /// Records events as thread number `thread` until `budget` is spent. Returns the
    /// number of events and what only this thread holds (the floor's counts; zero for the
    /// contenders whose state is shared).
    fn work(&self, thread: usize, budget: Budget<'_>) -> (u64, Counts);

    /// Reads the fields the way this library's users read a snapshot while writers run
    /// (tally: the published epoch; `Mutex`: lock and copy; atomics: a load per field; the
    /// peers: gather, collect or encode). `None` when nothing can be read while it runs.
    fn read(&self) -> Option<Counts>;

    /// The final counts after every writer finished, given what each returned.
    fn finish(&self, per_thread: &[Counts]) -> Counts;
}

/// The contenders: a name, what it is, and how to make one.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// Short name used in tables and on the command line.
    pub name: &'static str,
    /// One line on what it is.
    pub about: &'static str,
    /// Whether it is a peer library (the "≥ N× faster than every peer" targets).
    pub peer: bool,
    make: fn() -> Box<dyn Contender>,
}

impl Kind {
    /// A fresh instance.
    pub fn make(&self) -> Box<dyn Contender> {
        (self.make)()
    }

    /// The contender of this name.
    pub fn by_name(name: &str) -> Option<Kind> {
        ALL.iter().copied().find(|k| k.name == name)
    }
}

macro_rules! kind {
    ($name:literal, $peer:literal, $ty:ty, $about:literal) => {
        Kind { name: $name, about: $about, peer: $peer, make: || Box::new(<$ty>::default()) }
    };
}

/// Every contender, in table order. `floor` first: ratios divide by it.
pub const ALL: &[Kind] = &[
    kind!(
        "floor",
        false,
        contenders::Floor,
        "plain per-thread `u64`s and a log2-bucket histogram in a local, summed when the threads finish; unreadable while it runs"
    ),
    kind!(
        "tally",
        false,
        contenders::TallyBound,
        "one `tally::InferenceStats` (bound handle), `record_inference_with_latency`"
    ),
    kind!(
        "tally-labelled",
        false,
        contenders::TallyLabelled,
        "a `Family<InferenceStats>` with labels `model`, `device` in a `Registry`, `family.with(&[model, device], ..)` every event (8 series)"
    ),
    kind!(
        "mutex",
        false,
        contenders::Locked,
        "one `std::sync::Mutex<Stats>` (5 `u64`s and a log2-bucket histogram)"
    ),
    kind!(
        "atomic",
        false,
        contenders::SharedAtomics,
        "shared `AtomicU64`s (5 counters, histogram count, sum and 64 log2 buckets), `fetch_add(Relaxed)` each"
    ),
    kind!(
        "metrics",
        true,
        contenders::MetricsRs,
        "`metrics` 0.24 handles from `metrics-exporter-prometheus` 0.18's recorder (histogram with the same 22 buckets)"
    ),
    kind!(
        "prometheus",
        true,
        contenders::Prom,
        "`prometheus` 0.14 `IntCounter`s and a `Histogram` (22 buckets)"
    ),
    kind!(
        "prometheus-local",
        true,
        contenders::PromLocal,
        "`prometheus` 0.14 `local()` counters and histogram per thread, flushed every 1024 events"
    ),
    kind!(
        "prometheus-client",
        true,
        contenders::PromClient,
        "`prometheus-client` 0.25 `Counter`s and a `Histogram` (22 buckets)"
    ),
    kind!(
        "otel",
        true,
        contenders::Otel,
        "`opentelemetry_sdk` 0.33 `SdkMeterProvider` + `ManualReader`, `Counter<u64>`/`Histogram<u64>`, no attributes"
    ),
    kind!(
        "otel-2attr",
        true,
        contenders::OtelAttrs,
        "the same with 2 attributes (`model`, `device`, 8 combinations) on every call"
    ),
];
