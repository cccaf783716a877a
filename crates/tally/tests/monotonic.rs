//! Counters never go backwards: successive snapshots taken by one reader (or by two
//! readers, when the first snapshot happens-before the second) never show a smaller
//! counter, while writers record, exit, and new threads take over their slots and shards.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;

use tally::{Cache, Delta, InferenceStats, InferenceStatsSnapshot, Outcome};

/// The counters of a snapshot (everything but the `in_flight` gauge, which may go down).
fn counters(s: &InferenceStatsSnapshot) -> [u64; 5] {
    [s.total_inferences, s.successful_inferences, s.failed_inferences, s.cache_hits, s.cache_misses]
}

/// Whether no counter of `later` is below the same counter of `earlier`, checked both
/// field by field and through `Delta` (which must not report a counter going backwards).
fn not_behind(later: &InferenceStatsSnapshot, earlier: &InferenceStatsSnapshot) -> bool {
    let by_field = counters(later).iter().zip(counters(earlier)).all(|(l, e)| *l >= e);
    by_field && InferenceStatsSnapshot::delta(later, earlier).is_ok()
}

/// Records continuously into `stats` until `stop`: two long-lived writers, plus a churn
/// loop of short-lived threads (two alive at a time, each recording 200 events and
/// exiting), so that exiting threads' slots (and shards) are taken over by new threads
/// while readers read. Returns the events recorded. `churned` counts finished short-lived
/// threads.
fn record_with_churn_until(stats: &InferenceStats, stop: &AtomicBool, churned: &AtomicU64) -> u64 {
    thread::scope(|s| {
        let long_lived: Vec<_> = (0..2u64)
            .map(|w| {
                s.spawn(move || {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        stats.record_request(
                            Outcome::success_if(!(i + w).is_multiple_of(3)),
                            Cache::hit_if(i.is_multiple_of(2)),
                        );
                        i += 1;
                    }
                    i
                })
            })
            .collect();
        let mut recorded = 0;
        while !stop.load(Ordering::Relaxed) {
            let wave: Vec<_> = (0..2u64)
                .map(|w| {
                    s.spawn(move || {
                        for i in 0..200u64 {
                            stats.record_request(
                                Outcome::success_if(i % 4 != w),
                                Cache::hit_if(i % 5 == 0),
                            );
                        }
                    })
                })
                .collect();
            for h in wave {
                h.join().expect("short-lived writer panicked");
                recorded += 200;
                churned.fetch_add(1, Ordering::Relaxed);
            }
        }
        recorded + long_lived.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    })
}

#[test]
fn successive_snapshots_of_one_reader_never_decrease_any_counter_under_thread_churn() {
    const READERS: usize = 2;
    const PER_READER: u64 = 100_000;
    /// Short-lived threads that must have come and gone while the readers read.
    const MIN_CHURNED: u64 = 200;

    let stats = InferenceStats::new();
    let stop = AtomicBool::new(false);
    let churned = AtomicU64::new(0);
    let (recorded, results) = thread::scope(|s| {
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                let (stats, churned) = (&stats, &churned);
                s.spawn(move || {
                    let (mut taken, mut backwards, mut advanced) = (0u64, 0u64, 0u64);
                    let mut previous = stats.snapshot();
                    while taken < PER_READER || churned.load(Ordering::Relaxed) < MIN_CHURNED {
                        let snap = stats.snapshot();
                        taken += 1;
                        backwards += u64::from(!not_behind(&snap, &previous));
                        advanced += u64::from(snap.total_inferences > previous.total_inferences);
                        previous = snap;
                    }
                    (taken, backwards, advanced)
                })
            })
            .collect();
        let writers = s.spawn(|| record_with_churn_until(&stats, &stop, &churned));
        let results: Vec<_> = readers.into_iter().map(|h| h.join().unwrap()).collect();
        stop.store(true, Ordering::Relaxed);
        (writers.join().unwrap(), results)
    });

    for (taken, backwards, advanced) in results {
        assert!(taken >= PER_READER);
        assert_eq!(backwards, 0, "{backwards} of {taken} snapshots went backwards");
        assert!(advanced > 0, "the writers never ran while this reader read");
    }
    assert!(churned.load(Ordering::Relaxed) >= MIN_CHURNED);
    // And nothing was lost in the churn.
    let last = stats.snapshot();
    assert_eq!(last.total_inferences, recorded);
    assert!(last.is_coherent());
}

#[test]
fn a_snapshot_taken_after_another_threads_snapshot_is_never_behind_it() {
    // Reader A takes a snapshot and sends it to reader B; B then takes its own. The send
    // and receive order A's snapshot before B's, so B's may not be behind.
    const PAIRS: u64 = 30_000;

    let (stats, stop, churned) =
        (&InferenceStats::new(), &AtomicBool::new(false), &AtomicU64::new(0));
    let (behind, advanced) = thread::scope(|s| {
        let (to_b, from_a) = mpsc::sync_channel::<InferenceStatsSnapshot>(16);
        let a = s.spawn(move || {
            for _ in 0..PAIRS {
                to_b.send(stats.snapshot()).unwrap();
            }
        });
        let b = s.spawn(move || {
            let (mut behind, mut advanced) = (0u64, 0u64);
            for earlier in from_a {
                let later = stats.snapshot();
                behind += u64::from(!not_behind(&later, &earlier));
                advanced += u64::from(later.total_inferences > earlier.total_inferences);
            }
            (behind, advanced)
        });
        let writers = s.spawn(move || record_with_churn_until(stats, stop, churned));
        a.join().unwrap();
        let result = b.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        writers.join().unwrap();
        result
    });
    assert_eq!(behind, 0, "{behind} of {PAIRS} later snapshots were behind an earlier one");
    assert!(advanced > 0, "the writers never ran between the two readers' snapshots");
}
