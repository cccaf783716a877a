//! Small threaded tests of the core, sized for Miri (data races, uninitialised or freed
//! memory, leaks, provenance) as well as for ThreadSanitizer and plain `cargo test`.
//!
//! ```text
//! cargo +nightly miri test -p tally-core --lib tests::
//! ```
//!
//! Each test uses a few threads and tens of events: Miri runs them thousands of times
//! slower than native code. The stress versions, with millions of events, are the
//! integration tests of the `tally` crate. Tests here share one process with the crate's
//! other unit tests, so none of them asserts on the global slot counts
//! (`tests/slot_reuse.rs`, a process of its own, does).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use crate::{FieldDesc, FieldKind, HistogramConfig, Layout, RawSet, Value};

crate::metric_set! {
    /// Three counters that every event moves together, and a last value.
    struct Trio {
        /// Events.
        total: Counter,
        /// Events that succeeded.
        ok: Counter,
        /// Events that failed.
        failed: Counter,
        /// Moves up and down.
        level: Gauge,
    }
}

/// One whole event of writer `t`, number `i`.
fn record_trio(set: &Trio, t: u64, i: u64) {
    set.record(|e| {
        e.total().inc();
        if (t + i).is_multiple_of(3) {
            e.failed().inc();
        } else {
            e.ok().inc();
        }
        e.level().inc();
        e.level().dec();
    });
}

/// Checks that a snapshot holds only whole events and is not behind `earlier`.
fn check_trio(s: &TrioSnapshot, earlier: &TrioSnapshot) {
    assert_eq!(s.ok + s.failed, s.total, "torn: {s:?}");
    assert_eq!(s.level, 0, "torn gauge: {s:?}");
    assert!(s.total >= earlier.total && s.ok >= earlier.ok && s.failed >= earlier.failed);
}

#[test]
fn concurrent_snapshots_are_whole_monotonic_and_totals_exact() {
    const WRITERS: u64 = 2;
    const EVENTS: u64 = 12;
    let set = Arc::new(Trio::new());
    let done = Arc::new(AtomicBool::new(false));

    let reader = {
        let (set, done) = (set.clone(), done.clone());
        thread::spawn(move || {
            let mut last = TrioSnapshot::default();
            let mut n = 0;
            // At least a few snapshots, however the threads are scheduled.
            while !done.load(Ordering::Acquire) || n < 4 {
                let s = set.snapshot();
                check_trio(&s, &last);
                last = s;
                n += 1;
            }
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|t| {
            let set = set.clone();
            thread::spawn(move || {
                for i in 0..EVENTS {
                    record_trio(&set, t, i);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Release);
    reader.join().unwrap();

    let s = set.snapshot();
    assert_eq!(s.total, WRITERS * EVENTS);
    let failed = (0..WRITERS).flat_map(|t| (0..EVENTS).map(move |i| (t + i) % 3 == 0));
    assert_eq!(s.failed, failed.filter(|&f| f).count() as u64);
    assert!(set.raw().shard_count() <= WRITERS as usize);
}

#[test]
fn single_field_updates_are_their_own_events() {
    let set = Arc::new(Trio::new());
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let set = set.clone();
            thread::spawn(move || {
                for _ in 0..10 {
                    set.total().inc();
                    set.level().add(3);
                    set.level().sub(1);
                }
            })
        })
        .collect();
    let s = set.snapshot();
    assert!(s.total <= 20);
    for w in writers {
        w.join().unwrap();
    }
    let s = set.snapshot();
    assert_eq!((s.total, s.level), (20, 40));
}

#[test]
fn threads_that_exit_hand_their_shards_over_without_losing_counts() {
    let set = Arc::new(Trio::new());
    // Waves of short-lived threads; each wave's slots are free again for the next.
    for wave in 0..3 {
        let threads: Vec<_> = (0..2)
            .map(|t| {
                let set = set.clone();
                thread::spawn(move || record_trio(&set, t, wave))
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
    let s = set.snapshot();
    assert_eq!(s.total, 6);
    assert_eq!(s.ok + s.failed, 6);
    // One shard per slot ever used by this set; slots are reused, but other tests of this
    // process may hold some, so only the obvious bound is certain here.
    assert!(set.raw().shard_count() <= 6);
    // Invariant (I) across every hand-over: outside a section both copies are equal.
    for (c0, c1) in set.raw().shard_copies() {
        assert_eq!(c0, c1);
    }
}

#[test]
fn a_panicking_event_is_rolled_back_and_invisible_to_a_concurrent_reader() {
    let set = Arc::new(Trio::new());
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (set, done) = (set.clone(), done.clone());
        thread::spawn(move || {
            let mut last = TrioSnapshot::default();
            while !done.load(Ordering::Acquire) {
                let s = set.snapshot();
                check_trio(&s, &last);
                assert!(s.total < 100, "a rolled-back event is visible: {s:?}");
                last = s;
            }
        })
    };
    for i in 0..4 {
        record_trio(&set, 0, i);
        let r = catch_unwind(AssertUnwindSafe(|| {
            set.record(|e| {
                e.total().add(100);
                e.level().inc();
                // A nested record is an event of its own, applied when it returns: it
                // stays, whole, when the outer event is abandoned.
                record_trio(&set, 0, i);
                panic!("abandoned halfway");
            })
        }));
        assert!(r.is_err());
    }
    done.store(true, Ordering::Release);
    reader.join().unwrap();
    let s = set.snapshot();
    assert_eq!((s.total, s.ok + s.failed, s.level), (8, 8, 0));
}

#[test]
fn a_nested_record_is_its_own_event_applied_before_the_outer_one() {
    let set = Trio::new();
    set.record(|e| {
        e.total().inc();
        set.record(|inner| inner.ok().inc());
        set.level().inc();
        // Inside the outer closure: the nested event and the lone `inc` are applied, the
        // outer event's own update is still buffered.
        let s = set.snapshot();
        assert_eq!((s.total, s.ok, s.level), (0, 1, 1));
    });
    let s = set.snapshot();
    assert_eq!((s.total, s.ok, s.level), (1, 1, 1));
}

#[test]
fn an_event_wider_than_the_inline_buffer_is_whole() {
    // More updates than `event::CAPACITY` in one event: the rest spill to the heap and
    // are applied in the same section.
    let set = Arc::new(Trio::new());
    let n = 3 * crate::event::CAPACITY as u64;
    let writer = {
        let set = set.clone();
        thread::spawn(move || {
            // Fewer under Miri, which interprets every instruction.
            for _ in 0..if cfg!(miri) { 20 } else { 2_000 } {
                set.record(|e| {
                    for _ in 0..n {
                        e.total().inc();
                        e.ok().inc();
                    }
                });
            }
        })
    };
    let mut last = TrioSnapshot::default();
    while !writer.is_finished() {
        let s = set.snapshot();
        check_trio(&s, &last);
        assert_eq!(s.total % n, 0, "part of a wide event: {s:?}");
        last = s;
    }
    writer.join().unwrap();
    assert_eq!(set.snapshot().total, if cfg!(miri) { 20 } else { 2_000 } * n);
}

#[test]
fn shards_past_the_inline_table_live_in_segments_and_are_freed() {
    // More threads alive at once than the table's 16 inline cells: however slots are
    // numbered, 20 distinct slots include at least 4 past the inline ones, so segment 0 is
    // created (possibly by two threads racing to install it).
    const THREADS: usize = 20;
    let set = Arc::new(Trio::new());
    let all_recorded = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (set, all_recorded) = (set.clone(), all_recorded.clone());
            thread::spawn(move || {
                record_trio(&set, t as u64, 0);
                // Hold the slot until every thread has one.
                all_recorded.wait();
                record_trio(&set, t as u64, 1);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = set.snapshot();
    assert_eq!(s.total, 2 * THREADS as u64);
    assert_eq!(set.raw().shard_count(), THREADS, "one shard per thread alive at once");
    // Dropping the set frees the segment and every shard (Miri checks for leaks).
}

#[test]
fn a_record_from_a_thread_local_destructor_is_kept() {
    struct RecordOnExit(Arc<Trio>);
    impl Drop for RecordOnExit {
        fn drop(&mut self) {
            record_trio(&self.0, 1, 1);
        }
    }
    thread_local! {
        static ON_EXIT: std::cell::RefCell<Option<RecordOnExit>> =
            const { std::cell::RefCell::new(None) };
    }

    let set = Arc::new(Trio::new());
    let set2 = set.clone();
    thread::spawn(move || {
        // Registered before the thread's slot is claimed, so it is destroyed after the
        // slot's own release destructor has run, or before it: either way it must count.
        ON_EXIT.with(|slot| *slot.borrow_mut() = Some(RecordOnExit(set2.clone())));
        record_trio(&set2, 0, 0);
    })
    .join()
    .unwrap();
    assert_eq!(set.snapshot().total, 2);
}

/// A small histogram: 2 sub-bucket bits up to 64, so values spread over a few buckets of
/// one page.
const SMALL: HistogramConfig = match HistogramConfig::new(2, 64) {
    Ok(c) => c,
    Err(_) => panic!("valid configuration"),
};

crate::metric_set! {
    /// A counter and a histogram moved together.
    struct Timed {
        /// Calls.
        calls: Counter,
        /// One value per call.
        lat: Histogram(SMALL),
    }
}

/// A thread that snapshots `set` until `done`: in each snapshot, `read`'s histogram has
/// as many values, in its buckets and overflow, as there were events (`read`'s count), and
/// the count never goes back.
fn whole_histogram_reader<S: Send + Sync + 'static>(
    set: &Arc<S>,
    done: &Arc<AtomicBool>,
    read: fn(&S) -> (u64, crate::HistogramSnapshot),
) -> thread::JoinHandle<()> {
    let (set, done) = (set.clone(), done.clone());
    thread::spawn(move || {
        let mut last = 0;
        while !done.load(Ordering::Acquire) {
            let (calls, h) = read(&set);
            let in_buckets: u64 = h.sparse_buckets().iter().map(|&(_, n)| n).sum();
            assert_eq!(h.count(), calls, "torn: {h:?}");
            assert_eq!(in_buckets + h.overflow(), calls, "torn buckets: {h:?}");
            assert!(calls >= last, "went backwards");
            last = calls;
        }
    })
}

#[test]
fn histogram_pages_are_published_whole_to_concurrent_readers() {
    let set = Arc::new(Timed::new());
    let done = Arc::new(AtomicBool::new(false));
    let reader = whole_histogram_reader(&set, &done, |set| {
        let s = set.snapshot();
        (s.calls, s.lat)
    });
    let writers: Vec<_> = (0..2u64)
        .map(|t| {
            let set = set.clone();
            thread::spawn(move || {
                for v in 0..8u64 {
                    set.record(|e| {
                        e.calls().inc();
                        // 70 and up overflow; the rest land in several buckets.
                        e.lat().record(v * 10 + t);
                    });
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Release);
    reader.join().unwrap();
    let s = set.snapshot();
    assert_eq!((s.calls, s.lat.count(), s.lat.overflow()), (16, 16, 2));
    assert_eq!(s.lat.max(), Some(71));
    assert_eq!(s.lat.min(), Some(0));
}

/// Reader help (latch.rs, `Shard::read`): against a writer recording histogram events
/// flat out, reads are served by the writer's published copy (pages included), and every
/// one of them is whole and never behind the one before.
#[test]
fn a_reader_against_a_flat_out_writer_is_served_a_whole_published_copy() {
    use crate::latch::SERVED_BY_HELP;
    let set = Arc::new(Timed::new());
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (set, stop) = (set.clone(), stop.clone());
        thread::spawn(move || {
            let mut v = 0u64;
            while !stop.load(Ordering::Relaxed) {
                set.record(|e| {
                    e.calls().inc();
                    e.lat().record(v % 80);
                });
                v += 1;
            }
        })
    };
    let before = SERVED_BY_HELP.load(Ordering::Relaxed);
    let mut last = 0;
    // Under Miri a handful of reads (it interleaves threads itself); natively, until a
    // publication served one (the writer runs on the other core: quickly), or 10 s.
    let (min_reads, deadline) = if cfg!(miri) {
        (4, std::time::Duration::ZERO)
    } else {
        (100, std::time::Duration::from_secs(10))
    };
    let start = std::time::Instant::now();
    let mut reads = 0;
    while reads < min_reads
        || (SERVED_BY_HELP.load(Ordering::Relaxed) == before && start.elapsed() < deadline)
    {
        let s = set.snapshot();
        let in_buckets: u64 = s.lat.sparse_buckets().iter().map(|&(_, n)| n).sum();
        assert_eq!(s.lat.count(), s.calls, "torn: {s:?}");
        assert_eq!(in_buckets + s.lat.overflow(), s.calls, "torn buckets: {s:?}");
        assert!(s.calls >= last, "went backwards: {last} then {s:?}");
        last = s.calls;
        reads += 1;
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    if !cfg!(miri) {
        assert!(
            SERVED_BY_HELP.load(Ordering::Relaxed) > before,
            "no read was served by a publication in {reads} reads against a flat-out writer"
        );
    }
}

#[test]
fn a_wide_event_past_the_inline_buffer_is_whole_and_abandoned_whole() {
    const WIDTH: usize = 70;
    // Field names `c00` to `c69`, three bytes each.
    const NAMES: &str = concat!(
        "c00c01c02c03c04c05c06c07c08c09c10c11c12c13c14c15c16c17c18c19c20c21c22c23",
        "c24c25c26c27c28c29c30c31c32c33c34c35c36c37c38c39c40c41c42c43c44c45c46c47",
        "c48c49c50c51c52c53c54c55c56c57c58c59c60c61c62c63c64c65c66c67c68c69",
    );
    let name = |i: usize| &NAMES[3 * i..3 * i + 3];
    let layout =
        Layout::new((0..WIDTH).map(|i| FieldDesc::new(name(i), FieldKind::Counter, "")).collect())
            .unwrap();
    let set = Arc::new(RawSet::new(layout));
    let ids: Vec<_> = (0..WIDTH).map(|i| set.field(name(i)).unwrap()).collect();
    let counts = |set: &RawSet| -> Vec<u64> {
        set.collect_values()
            .into_iter()
            .map(|v| match v {
                Value::Counter(n) => n,
                other => panic!("{other:?}"),
            })
            .collect()
    };

    let writer = {
        let (set, ids) = (set.clone(), ids.clone());
        thread::spawn(move || {
            for _ in 0..3 {
                set.record(|e| ids.iter().for_each(|&id| e.add_counter(id, 1)));
                let r = catch_unwind(AssertUnwindSafe(|| {
                    set.record(|e| {
                        ids.iter().for_each(|&id| e.add_counter(id, 100));
                        panic!("abandoned");
                    })
                }));
                assert!(r.is_err());
            }
        })
    };
    for _ in 0..3 {
        let c = counts(&set);
        assert!(c.iter().all(|&n| n == c[0] && n <= 3), "torn wide snapshot: {c:?}");
    }
    writer.join().unwrap();
    assert_eq!(counts(&set), vec![3; WIDTH]);
}

#[test]
#[allow(deprecated)]
fn the_old_kind_names_still_name_the_kinds_for_one_release() {
    use crate::{FieldKind, Kind};
    assert_eq!(<crate::Counter as Kind>::KIND, FieldKind::Counter);
    assert_eq!(<crate::Gauge as Kind>::KIND, FieldKind::Gauge);
    assert_eq!(<crate::LastValue as Kind>::KIND, FieldKind::LastValue);
    assert!(matches!(<crate::Histogram as Kind>::KIND, FieldKind::Histogram(_)));
}

#[test]
fn a_sets_debug_names_its_fields_without_collecting() {
    let set = Trio::new();
    set.total().inc();
    let shown = format!("{set:?}");
    assert!(shown.contains("\"total\"") && shown.contains("shards: 1"), "{shown}");
    // No values: a `Debug` is not a snapshot.
    assert!(!shown.contains("total: 1"), "{shown}");
}

crate::metric_set! {
    /// A last-value gauge.
    struct Latest {
        /// The value.
        latest: LastValue,
    }
}

#[test]
fn a_last_value_is_stamped_when_applied_so_nesting_never_sends_it_back() {
    // Found by the differential fuzz target: with the stamp read when `set` was called, the
    // outer event (applied after its nested record) stored an older stamp over a newer one,
    // and the gauge's stamp went backwards between two snapshots.
    let set = Latest::new();
    let mut inside = crate::Last::default();
    set.record(|outer| {
        outer.latest().set(1);
        set.record(|inner| inner.latest().set(2));
        inside = set.snapshot().latest;
    });
    assert_eq!(inside.value, 2);
    // Applied after the nested record: the outer event's value is the newer one, and its
    // stamp is not older.
    let after = set.snapshot().latest;
    assert_eq!(after.value, 1);
    assert!(after.stamp_ns >= inside.stamp_ns, "{inside:?} then {after:?}");
    set.record(|e| e.latest().set(3));
    let later = set.snapshot().latest;
    assert!(later.stamp_ns >= after.stamp_ns, "{after:?} then {later:?}");
}

#[test]
fn float_last_values_tie_break_in_collection_as_their_merge_does() {
    let values = [
        f64::NEG_INFINITY,
        -1e300,
        -2.0,
        -1.0,
        -5e-324,
        -0.0,
        0.0,
        5e-324,
        1.0,
        2.0,
        f64::MAX,
        f64::INFINITY,
    ];
    for a in values {
        for b in values {
            let by_bits =
                crate::set::total_order(a.to_bits()).cmp(&crate::set::total_order(b.to_bits()));
            assert_eq!(by_bits, a.total_cmp(&b), "{a} vs {b}");
        }
    }
}

crate::metric_set! {
    /// A counter and a nanosecond histogram moved together (32 buckets a page).
    struct Lat {
        /// Calls.
        calls: Counter,
        /// One value per call.
        lat: Histogram(HistogramConfig::DEFAULT),
    }
}

/// Narrow buckets (latch/pages.rs, `Page`): a bucket's count in a shard is a 16-bit lane plus a
/// wide word its page gets at its first carry. Past what a lane holds, counts stay exact:
/// the lane is carried into the wide word (in a section of its own) before an event could
/// overflow it, in both copies alike.
#[test]
fn bucket_counts_stay_exact_past_what_a_lane_holds() {
    use crate::latch::CARRIES;
    let set = Lat::new();
    // Three carries natively; under Miri, where lanes carry at 3 (latch/pages.rs, `LANE_MAX`),
    // a few hundred samples carry many times.
    let n: u64 = if cfg!(miri) { 2_003 } else { 3 * 65_536 + 5 };
    let carries = CARRIES.load(Ordering::Relaxed);
    for i in 0..n {
        set.record(|e| {
            e.calls().inc();
            // Two buckets of one page: one hot, one every 1,000th call.
            e.lat().record(if i % 1000 == 0 { 1_000 } else { 1_010 });
        });
    }
    assert!(CARRIES.load(Ordering::Relaxed) > carries, "no carry happened");
    let s = set.snapshot();
    let rare = n.div_ceil(1000);
    let buckets = s.lat.sparse_buckets();
    assert_eq!(buckets.len(), 2, "{buckets:?}");
    assert_eq!(buckets.iter().map(|&(_, c)| c).collect::<Vec<_>>(), [rare, n - rare]);
    assert_eq!((s.calls, s.lat.count(), s.lat.overflow()), (n, n, 0));
    assert_eq!(s.lat.sum(), u128::from(rare) * 1_000 + u128::from(n - rare) * 1_010);
    // Invariant (I) of the latch, pages included: both copies equal outside a section.
    for (c0, c1) in set.raw().shard_copies() {
        assert_eq!(c0, c1);
    }
}

/// A carry is one more latch section: readers racing with a writer that carries see every
/// bucket count (lane + wide word) whole, adding up to the event count, never going back.
#[test]
fn a_carry_is_invisible_to_concurrent_readers() {
    let set = Arc::new(Lat::new());
    let done = Arc::new(AtomicBool::new(false));
    let reader = whole_histogram_reader(&set, &done, |set| {
        let s = set.snapshot();
        (s.calls, s.lat)
    });
    // Under Miri lanes carry at 3 (latch/pages.rs, `LANE_MAX`).
    let n = if cfg!(miri) { 200 } else { 2 * 65_536 + 17 };
    for i in 0..n {
        set.record(|e| {
            e.calls().inc();
            e.lat().record(500 + i % 3);
        });
    }
    done.store(true, Ordering::Release);
    reader.join().unwrap();
    let s = set.snapshot();
    assert_eq!((s.calls, s.lat.count()), (n, n));
    assert_eq!(s.lat.sparse_buckets().iter().map(|&(_, c)| c).sum::<u64>(), n);
}

/// An event wider than what a lane has room for (more than 32,768 updates, all of them
/// samples of one bucket): its spilled samples are counted in wide words, and every one is
/// counted once.
#[test]
#[cfg_attr(miri, ignore = "a 40,000-update event: run natively")]
fn a_giant_event_counts_every_sample_once() {
    let set = Lat::new();
    // A lane near what it holds first, so that a narrow count could not take the event.
    for _ in 0..60_000 {
        set.record(|e| e.lat().record(700));
    }
    for _ in 0..2 {
        set.record(|e| {
            e.calls().inc();
            for _ in 0..40_000 {
                e.lat().record(700);
            }
        });
    }
    let s = set.snapshot();
    assert_eq!((s.calls, s.lat.count()), (2, 140_000));
    assert_eq!(s.lat.sparse_buckets().len(), 1);
    assert_eq!(s.lat.sparse_buckets()[0].1, 140_000);
    for (c0, c1) in set.raw().shard_copies() {
        assert_eq!(c0, c1);
    }
}

/// Pages come from a pool and go back to it when their set is dropped (pool.rs): a page
/// taken again starts at zero, and the page every unallocated slot points to is never
/// written.
#[test]
fn recycled_pages_start_at_zero() {
    for round in 0..3u64 {
        let set = Lat::new();
        for v in (0..36).map(|k| 1u64 << k) {
            set.record(|e| {
                e.calls().inc();
                e.lat().record(v + round);
            });
        }
        let s = set.snapshot();
        assert_eq!(s.lat.count(), 36);
        assert_eq!(s.lat.sparse_buckets().iter().map(|&(_, c)| c).sum::<u64>(), 36);
        assert!(s.lat.sparse_buckets().iter().all(|&(_, c)| c == 1), "{s:?}");
    }
    assert!(crate::latch::full_is_untouched());
}
