//! loom models of the latch and of thread slots.
//!
//! Run with (release: loom is slow in debug):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test -p tally-core --release --lib loom
//! ```
//!
//! and the long versions (the two-reader model, hours at bound 2) with `-- --ignored`.
//!
//! Every atomic, fence, thread-local and the slot registry come from `crate::sync`, so these
//! models run the real `Shard`, `ShardTable`, `RawSet` and slot code, not a copy of it.
//!
//! How the models are built, and why:
//! - **One reader thread.** A reader only loads: it creates no happens-before edge and
//!   changes nothing another thread can observe, so what a second reader can see is exactly
//!   what one reader can see, and every property checked here is per reader (whole events,
//!   nothing going backwards). loom, though, explores the product of the readers' choices:
//!   a second reader multiplies the executions by about 300 (`docs/TESTING.md` has the
//!   numbers). The two-reader model is kept as an ignored long run (its attribute says why).
//! - **The model's main thread never records.** loom drops its lazy statics (the slot
//!   registry) before the main thread's thread-locals, so a slot cached by the main thread
//!   could not be released. Recording happens in spawned threads only.
//! - **The main thread touches the registry first** (`thread_slots_created`), so the lazy
//!   static's one-time initialisation, which loom models as an `AcqRel` edge, does not
//!   order two recording threads that the code itself leaves unordered.
//! - **`join` does not wait for thread-local destructors under loom** (loom 0.7 signals the
//!   joiner when the closure returns, then drops the thread's locals), unlike std, whose
//!   `join` returns after them. The slot models wait for `thread_slots_in_use() == 0`
//!   instead, and assert only what holds without an edge from the destructor.
//! - **No `LastValue` fields**: the stamp clock uses a std `OnceLock`, invisible to loom.
//! - Panics are raised with `resume_unwind`, which skips the panic hook (and its backtrace
//!   capture, which would make each execution ~100 times slower).
//!
//! `docs/TESTING.md` lists what each model proves and the mutations of `latch.rs` and
//! `slot.rs` that each one catches.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use loom::sync::Arc;
use loom::thread;

use crate::latch::Shard;
use crate::op::Op;
use crate::{HistogramConfig, thread_slots_created, thread_slots_in_use};

crate::metric_set! {
    /// Two counters that every event moves together.
    struct Pair {
        /// First half of the invariant.
        a: Counter,
        /// Second half of the invariant.
        b: Counter,
    }
}

/// One whole event: both counters up by one.
fn record_pair(set: &Pair) {
    set.record(|e| {
        e.a().inc();
        e.b().inc();
    });
}

/// Checks one reader's successive snapshots: each is whole (`a == b`), within what the
/// writers can have done (`a <= max`), and none goes backwards.
fn check_snapshots(snaps: &[PairSnapshot], max: u64) {
    let mut last = 0;
    for s in snaps {
        assert_eq!(s.a, s.b, "torn snapshot: {s:?} (in {snaps:?})");
        assert!(s.a <= max, "snapshot from the future: {s:?}");
        assert!(s.a >= last, "snapshot went backwards: {snaps:?}");
        last = s.a;
    }
}

/// A reader thread taking `n` snapshots of `set` and checking them.
fn reader(set: &Arc<Pair>, n: usize, max: u64) -> thread::JoinHandle<()> {
    let set = set.clone();
    thread::spawn(move || {
        let snaps: Vec<_> = (0..n).map(|_| set.snapshot()).collect();
        check_snapshots(&snaps, max);
    })
}

/// Waits (yielding to loom's scheduler) until every thread that recorded has run its
/// thread-local destructor and released its slot. See the module docs on `join`.
fn wait_for_slot_release() {
    while thread_slots_in_use() != 0 {
        thread::yield_now();
    }
}

/// The latch, bare: one writer making two events of two words on one shard, one reader
/// reading it three times. The cheapest model of the orderings in `latch.rs`.
#[test]
fn loom_latch_shard_reads_are_whole_and_monotonic() {
    loom::model(|| {
        let shard = Arc::new(Shard::new(2, 0));

        let writer = {
            let shard = shard.clone();
            thread::spawn(move || {
                for _ in 0..2 {
                    // SAFETY: this thread is the shard's only writer; words 0 and 1 are its
                    // two words; two ops, width 2.
                    unsafe { shard.commit(2, 2, Op::inc, &mut []) };
                }
            })
        };
        let reader = {
            let shard = shard.clone();
            thread::spawn(move || {
                let mut last = 0;
                for _ in 0..3 {
                    let mut out = [0; 2];
                    shard.read(&mut out, &mut Vec::new(), &mut Vec::new());
                    assert_eq!(out[0], out[1], "torn read: {out:?}");
                    assert!(out[0] <= 2, "read from the future: {out:?}");
                    assert!(out[0] >= last, "went backwards: {last} then {out:?}");
                    last = out[0];
                }
            })
        };
        writer.join().unwrap();
        reader.join().unwrap();
        let mut out = [0; 2];
        shard.read(&mut out, &mut Vec::new(), &mut Vec::new());
        assert_eq!(out, [2, 2]);
    });
}

/// Reader help (`Shard::read`, docs/DESIGN.md "Reader help"): a reader that asks the
/// writer for a copy at once, reading twice while the writer makes two events. Each read
/// is whole, never goes backwards, and is fresh: it holds every event the writer had
/// finished before the read began (`done`), which a reader accepting an older publication
/// would break.
#[test]
fn loom_reader_help_is_whole_fresh_and_monotonic() {
    use loom::sync::atomic::{AtomicU64, Ordering};
    loom::model(|| {
        let shard = Arc::new(Shard::new(2, 0));
        let done = Arc::new(AtomicU64::new(0));

        let writer = {
            let (shard, done) = (shard.clone(), done.clone());
            thread::spawn(move || {
                for k in 1..=2 {
                    // SAFETY: this thread is the shard's only writer; words 0 and 1 are its
                    // two words; two ops, width 2.
                    unsafe { shard.commit(2, 2, Op::inc, &mut []) };
                    done.store(k, Ordering::Release);
                }
            })
        };
        let reader = {
            let (shard, done) = (shard.clone(), done.clone());
            thread::spawn(move || {
                let mut last = 0;
                for _ in 0..2 {
                    let finished = done.load(Ordering::Acquire);
                    let mut out = [0; 2];
                    shard.read_asking_after(0, &mut out, &mut Vec::new(), &mut Vec::new());
                    assert_eq!(out[0], out[1], "torn read: {out:?}");
                    assert!(out[0] <= 2, "read from the future: {out:?}");
                    assert!(out[0] >= finished, "stale read: {out:?}, {finished} events done");
                    assert!(out[0] >= last, "went backwards: {last} then {out:?}");
                    last = out[0];
                }
            })
        };
        writer.join().unwrap();
        reader.join().unwrap();
    });
}

/// The latch through the public API: a `metric_set!` set, one writer thread making two
/// two-field events (claiming its slot and creating its segment and shard on the way), a
/// reader thread taking two snapshots alongside.
#[test]
fn loom_snapshots_are_coherent_and_never_go_backwards() {
    loom::model(|| {
        let _ = thread_slots_created();
        let set = Arc::new(Pair::new());

        let writer = {
            let set = set.clone();
            thread::spawn(move || {
                record_pair(&set);
                record_pair(&set);
            })
        };
        let reader = reader(&set, 2, 2);
        writer.join().unwrap();
        reader.join().unwrap();
        assert_eq!(set.snapshot(), PairSnapshot { a: 2, b: 2 });
    });
}

crate::metric_set! {
    /// A counter, and float fields that every event moves with it.
    struct Floats {
        /// Events.
        n: Counter,
        /// A quarter per event.
        f: CounterF64,
        /// A half per event.
        g: GaugeF64,
    }
}

/// Float fields through the latch (`FloatAdd`: copy 0 adds, copy 1 stores the same bits):
/// one writer making two events, each moving a counter and two float fields, a reader
/// taking two snapshots. Each is whole (`f == n / 4`, `g == n / 2`), none goes backwards.
#[test]
fn loom_float_fields_are_whole_and_never_go_backwards() {
    loom::model(|| {
        let set = Arc::new(Floats::new());
        let writer = {
            let set = set.clone();
            thread::spawn(move || {
                for _ in 0..2 {
                    set.record(|e| {
                        e.n().inc();
                        e.f().add(0.25);
                        e.g().add(0.5);
                    });
                }
            })
        };
        let reader = {
            let set = set.clone();
            thread::spawn(move || {
                let mut last = 0.0;
                for _ in 0..2 {
                    let s = set.snapshot();
                    assert_eq!(s.f, s.n as f64 * 0.25, "torn snapshot: {s:?}");
                    assert_eq!(s.g, s.n as f64 * 0.5, "torn snapshot: {s:?}");
                    assert!(s.n <= 2 && s.f >= last, "from the future or backwards: {s:?}");
                    last = s.f;
                }
            })
        };
        writer.join().unwrap();
        reader.join().unwrap();
        let s = set.snapshot();
        assert_eq!((s.n, s.f, s.g), (2, 0.5, 1.0));
    });
}

/// The brief's full shape: two reader threads taking two snapshots each. It proves nothing
/// the one-reader model does not (readers only load), and takes hours at bound 2:
/// `LOOM_MAX_PREEMPTIONS=1 cargo test … --release --lib loom_two -- --ignored`.
#[test]
#[ignore = "long: two independent readers multiply loom's executions ~300x"]
fn loom_two_readers_see_coherent_monotonic_snapshots() {
    loom::model(|| {
        let _ = thread_slots_created();
        let set = Arc::new(Pair::new());

        let writer = {
            let set = set.clone();
            thread::spawn(move || {
                record_pair(&set);
                record_pair(&set);
            })
        };
        let readers = [reader(&set, 2, 2), reader(&set, 2, 2)];
        writer.join().unwrap();
        for r in readers {
            r.join().unwrap();
        }
        assert_eq!(set.snapshot(), PairSnapshot { a: 2, b: 2 });
    });
}

/// A panicking event records nothing and no reader ever sees part of it: the writer
/// makes a whole event, then an event that panics after moving one field, while a reader
/// takes two snapshots. Then the shard is still usable: a later event on the same set
/// (in a thread that may take over the writer's slot) lands whole.
#[test]
fn loom_panicked_event_is_invisible_to_a_concurrent_reader() {
    loom::model(|| {
        let _ = thread_slots_created();
        let set = Arc::new(Pair::new());

        let writer = {
            let set = set.clone();
            thread::spawn(move || {
                record_pair(&set);
                let r = catch_unwind(AssertUnwindSafe(|| {
                    set.record(|e| {
                        e.a().add(100);
                        resume_unwind(Box::new("event abandoned halfway"));
                    })
                }));
                assert!(r.is_err());
            })
        };
        let reader = reader(&set, 2, 1);
        writer.join().unwrap();
        reader.join().unwrap();
        assert_eq!(set.snapshot(), PairSnapshot { a: 1, b: 1 });

        let set2 = set.clone();
        thread::spawn(move || record_pair(&set2)).join().unwrap();
        assert_eq!(set.snapshot(), PairSnapshot { a: 2, b: 2 });
    });
}

/// Slot hand-over across thread exit. Two threads record and exit with nothing ordering
/// them, so in some executions the second claims the slot the first released and only the
/// slot's Acquire claim / Release release carries the first one's shard writes to it. A
/// third thread, started once both slots are released, takes over one of them.
///
/// Each thread first abandons an event (its closure panics: nothing is written), then
/// records a whole one. Copy 1 is written after the latch's last fence, so only the slot
/// hand-over makes the previous owner's copy 1 visible: a new owner that updated a stale
/// copy 1 would lose the previous owner's count there, which the final check of both
/// copies catches (a snapshot, which reads copy 0 once the writers are done, would not).
///
/// No count is lost or doubled, every slot has exactly one shard, and (over all
/// executions) a slot really was handed over.
#[test]
fn loom_slots_are_reused_across_thread_exit_without_losing_counts() {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    // Executions in which fewer slots than threads were created: a slot changed hands.
    static REUSED: AtomicUsize = AtomicUsize::new(0);

    loom::model(|| {
        let _ = thread_slots_created();
        let set = Arc::new(Pair::new());

        let spawn_recorder = || {
            let set = set.clone();
            thread::spawn(move || {
                let r = catch_unwind(AssertUnwindSafe(|| {
                    set.record(|e| {
                        e.a().add(100);
                        resume_unwind(Box::new("event abandoned"));
                    })
                }));
                assert!(r.is_err());
                record_pair(&set);
            })
        };
        let (t1, t2) = (spawn_recorder(), spawn_recorder());
        t1.join().unwrap();
        t2.join().unwrap();
        wait_for_slot_release();
        assert!(thread_slots_created() <= 2);

        spawn_recorder().join().unwrap();
        wait_for_slot_release();

        let created = thread_slots_created();
        // Three threads, never more than two alive at once. A third slot is possible only
        // because loom gives the third thread no edge from the destructors' Release stores
        // (std's `join` does), so it may still see both slots taken.
        assert!((1..=3).contains(&created), "{created} slots for three threads");
        if created < 3 {
            REUSED.fetch_add(1, Relaxed);
        }
        assert_eq!(set.raw().shard_count(), created, "one shard per slot used");
        assert_eq!(set.snapshot(), PairSnapshot { a: 3, b: 3 }, "a count was lost");
        // Invariant (I): both copies equal. A new owner's copy-1 update sees the previous
        // owner's copy 1 only through the slot's Release/Acquire hand-over (copy 1 is
        // written after the latch's last fence); a stale copy 1 shows here.
        for (c0, c1) in set.raw().shard_copies() {
            assert_eq!(c0, c1, "copy 1 lost a count across the hand-over");
        }
    });
    assert!(REUSED.load(Relaxed) > 0, "no execution reused a slot: the model is vacuous");
}

/// Slot hand-over with a reader alongside: two threads record one event each and exit
/// (possibly the second on the first one's slot) while a reader takes two snapshots.
/// Snapshots are whole and never go backwards, even across the change of owner.
///
/// Long (about 4 minutes at bound 1, over 10 at bound 2): what it checks follows from the
/// latch models (a reader against one writer) and the slot model (the new owner starts
/// from the old owner's last sequence and counts, else totals would be wrong).
#[test]
#[ignore = "long: slot claiming by two threads plus a reader; run with --ignored"]
fn loom_slot_handover_is_coherent_for_a_concurrent_reader() {
    loom::model(|| {
        let _ = thread_slots_created();
        let set = Arc::new(Pair::new());

        let writers = [0, 1].map(|_| {
            let set = set.clone();
            thread::spawn(move || record_pair(&set))
        });
        let reader = reader(&set, 2, 2);
        for w in writers {
            w.join().unwrap();
        }
        reader.join().unwrap();
        wait_for_slot_release();
        assert_eq!(set.snapshot(), PairSnapshot { a: 2, b: 2 });
        assert!(thread_slots_created() <= 2);
    });
}

/// A small histogram configuration for models: 5 buckets, one bucket page.
const SMALL: HistogramConfig = match HistogramConfig::new(1, 4) {
    Ok(c) => c,
    Err(_) => panic!("valid configuration"),
};

crate::metric_set! {
    /// A counter and a histogram that every event moves together.
    struct Timed {
        /// Calls made.
        calls: Counter,
        /// One value per call.
        lat: Histogram(SMALL),
    }
}

/// Histogram bucket pages through the latch: the writer's event allocates the bucket page
/// (published with Release, read with Acquire) inside its section and bumps a bucket in
/// copy 0, which the commit copies to copy 1. Every snapshot has `lat.count() == calls`,
/// buckets that add up to the count and the matching sum, and none goes backwards.
///
/// One event only: a snapshot loads the page's 64 buckets one by one, and each load is a
/// point where loom may preempt (two events take 4 minutes at bound 1, over 10 at bound 2).
#[test]
fn loom_histogram_pages_are_coherent_with_their_event() {
    let mut model = loom::model::Builder::new();
    // A snapshot reads the 64 buckets of the page one by one: more than loom's default
    // 1,000 branches per execution.
    model.max_branches = 20_000;
    model.check(|| {
        let _ = thread_slots_created();
        let set = Arc::new(Timed::new());

        let writer = {
            let set = set.clone();
            thread::spawn(move || {
                set.record(|e| {
                    e.calls().inc();
                    e.lat().record(3);
                });
            })
        };
        let reader = {
            let set = set.clone();
            thread::spawn(move || {
                let mut last = 0;
                for _ in 0..2 {
                    let s = set.snapshot();
                    let in_buckets: u64 = s.lat.sparse_buckets().iter().map(|&(_, n)| n).sum();
                    assert_eq!(s.lat.count(), s.calls, "torn: {s:?}");
                    assert_eq!(in_buckets + s.lat.overflow(), s.calls, "torn buckets: {s:?}");
                    assert_eq!(s.lat.sum(), u128::from(s.calls) * 3, "torn sum: {s:?}");
                    assert!(s.calls >= last, "went backwards");
                    last = s.calls;
                }
            })
        };
        writer.join().unwrap();
        reader.join().unwrap();
        let s = set.snapshot();
        assert_eq!((s.calls, s.lat.count(), s.lat.sum()), (1, 1, 3));
    });
}

/// Narrow buckets carried (latch/pages.rs, `Page`). Under loom a lane carries once it holds 1:
/// the writer's second sample in a bucket first carries the page (allocating its wide
/// part, then a section of its own that moves the lane into the wide word, copy 0 then
/// copy 1), then applies its event. Every snapshot, on either side of the carry or across
/// it, has buckets (lane + wide word) that add up to the count, and is not behind the
/// first event.
///
/// The first event runs before the reader starts (it only allocates the page); the carry
/// and the second event race with the reader's snapshot (one: two take over 6 minutes at
/// bound 2).
#[test]
fn loom_a_carry_is_invisible_to_readers() {
    let mut model = loom::model::Builder::new();
    // Lanes and wide words are loaded one by one (see the model above).
    model.max_branches = 40_000;
    model.check(|| {
        let _ = thread_slots_created();
        let set = Arc::new(Timed::new());
        let event = |set: &Timed| {
            set.record(|e| {
                e.calls().inc();
                e.lat().record(3);
            })
        };
        // The writer is a thread of the model (a thread slot is released when it ends);
        // it starts the reader once its first event is in.
        let writer = {
            let set = set.clone();
            thread::spawn(move || {
                event(&set);
                let reader = {
                    let set = set.clone();
                    thread::spawn(move || {
                        let s = set.snapshot();
                        let in_buckets: u64 = s.lat.sparse_buckets().iter().map(|&(_, n)| n).sum();
                        assert_eq!(s.lat.count(), s.calls, "torn: {s:?}");
                        assert_eq!(in_buckets, s.calls, "torn buckets: {s:?}");
                        assert!(s.calls >= 1, "went backwards");
                    })
                };
                event(&set);
                reader.join().unwrap();
            })
        };
        writer.join().unwrap();
        let s = set.snapshot();
        assert_eq!((s.calls, s.lat.count(), s.lat.sparse_buckets()), (2, 2, &[(3, 2)][..]));
    });
}

/// The shared-memory shard's latch (`shared_latch.rs`) on a slice of loom atomics: one
/// writer making two events of two words (and serving help between them, as
/// `ShardWriter::record` does), one collector reading twice. Under loom the collector asks
/// for help after its first failed try, so the help copy's orderings are explored too.
/// Each read it gets is whole (`a == b`), within what was written, and not older than the
/// one before (a read starts with copy 0, which leads); after the writer is joined, a read
/// gets both events.
#[test]
fn loom_shared_shard_reads_are_whole_with_and_without_help() {
    use crate::shared_latch::{help_wanted, read_shard, serve_help, shard_words, write_event};
    use crate::sync::{AtomicU64, Ordering};

    loom::model(|| {
        let n = 2;
        let words: Arc<Vec<AtomicU64>> =
            Arc::new((0..shard_words(n)).map(|_| AtomicU64::new(0)).collect());
        let writer = {
            let words = words.clone();
            thread::spawn(move || {
                let mut served = 0;
                for _ in 0..2 {
                    write_event(&words, 0, n, |copy| {
                        for w in copy {
                            w.store(w.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                        }
                    });
                    if let Some(wanted) = help_wanted(&words, 0, served) {
                        serve_help(&words, 0, n, wanted);
                        served = wanted;
                    }
                }
            })
        };
        let reader = {
            let words = words.clone();
            thread::spawn(move || {
                let mut last = 0;
                for _ in 0..2 {
                    // `None`: the model's bounded rounds ran out while the writer was
                    // mid-event.
                    if let Some(read) = read_shard(&words, 0, n) {
                        assert_eq!(read[0], read[1], "torn read: {read:?}");
                        assert!(read[0] <= 2, "read from the future: {read:?}");
                        assert!(read[0] >= last, "went backwards: {last} then {read:?}");
                        last = read[0];
                    }
                }
            })
        };
        reader.join().unwrap();
        writer.join().unwrap();
        assert_eq!(read_shard(&words, 0, n), Some(vec![2, 2]));
    });
}
