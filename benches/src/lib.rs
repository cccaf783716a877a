//! tally against the floor, the hand-written alternatives and the peer metrics libraries,
//! on one event, in one process.
//!
//! Every contender records the same [`Event`], a request finishing: `total += 1`, one of
//! `successful`/`failed` and one of `cache_hits`/`cache_misses` (picked by index from a
//! per-thread [`XorShift`]), and the request's latency into a histogram. So
//! `successful + failed == total` in every coherent snapshot, for every contender, and the
//! final counts of a run can be replayed exactly from the generators.
//!
//! ```
//! use std::time::Duration;
//! use tally_benches::{Kind, Loss, run_fixed, run_with_readers, Counts};
//!
//! let tally = Kind::by_name("tally").unwrap();
//! let (_wall, events, counts) = run_fixed(tally, 2, 1_000);
//! assert_eq!(counts, Counts::expected(&events)); // nothing lost
//!
//! let mut loss = Loss::default();
//! let run = run_with_readers(tally, 1, 1, Duration::from_millis(5), &mut loss);
//! assert!(loss.ok());
//! assert_eq!(run.outcome_torn, 0); // tally's snapshots are coherent
//! ```
//!
//! The binaries: `cargo bench --manifest-path benches/Cargo.toml --bench peers` (the
//! tables), `cargo run --release --manifest-path benches/Cargo.toml --bin report` (writes
//! `docs/PERFORMANCE.md`'s generated regions and `docs/throughput.svg`).

#![deny(missing_docs)]

mod check;
mod cli;
mod contender;
mod contenders;
mod encode;
mod event;
mod harness;
mod interleave;
mod memory;
mod otlp;
mod tables;

pub use check::{COHERENT, quick_check};
pub use cli::{Options, USAGE};
pub use contender::{ALL, Contender, Kind};
pub use encode::{EncodeTimes, encode_compare, peer_registry, tally_registry};
pub use event::{Budget, CHUNK, Counts, DEVICES, Event, MODELS, XorShift, drive, labels};
pub use harness::{
    Loss, ReaderCell, ReaderRun, ThroughputCell, calibrate, median, readers, run_fixed,
    run_with_readers, throughput,
};
pub use interleave::time_cases;
pub use memory::{
    MEMORY_CHILD_VAR, MemoryOf, bytes_per_series_thread, memory_child_main, memory_in_child,
    resident_bytes,
};
pub use otlp::{OtlpTimes, otlp_compare, otlp_table};
pub use tables::{encode_table, reader_table, throughput_table};
