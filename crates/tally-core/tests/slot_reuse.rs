//! Thread slots are reused across thread exit: the number of slots (so of shards per set)
//! is the peak number of threads recording at once, not the number of threads ever run.
//!
//! One test in its own process, so the global slot counts are exact: the harness's thread
//! never records, and every thread spawned here is joined, which in std returns only after
//! the thread's thread-local destructors (which release its slot) have run. Small enough
//! for Miri (`cargo +nightly miri test -p tally-core --test slot_reuse`).

use std::sync::{Arc, Barrier};
use std::thread;

use tally_core::{thread_slots_created, thread_slots_in_use};

tally_core::metric_set! {
    struct Pair {
        a: Counter,
        b: Counter,
    }
}

fn record_pair(set: &Pair) {
    set.record(|e| {
        e.a().inc();
        e.b().inc();
    });
}

#[test]
fn slots_are_bounded_by_peak_concurrency_and_reused_without_losing_counts() {
    assert_eq!(thread_slots_created(), 0, "nothing recorded yet in this process");
    let set = Arc::new(Pair::new());

    // Threads one after another: each takes over the slot (and shard) the last one released.
    for _ in 0..5 {
        let set = set.clone();
        thread::spawn(move || record_pair(&set)).join().unwrap();
        assert_eq!(thread_slots_in_use(), 0, "join returned before the slot was released");
    }
    assert_eq!(thread_slots_created(), 1);
    assert_eq!(set.raw().shard_count(), 1);

    // Three at once need three slots; then three more at once reuse them.
    for round in 0..2 {
        let all_in = Arc::new(Barrier::new(3));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (set, all_in) = (set.clone(), all_in.clone());
                thread::spawn(move || {
                    record_pair(&set);
                    all_in.wait();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(thread_slots_created(), 3, "round {round}");
        assert_eq!(thread_slots_in_use(), 0);
    }
    assert_eq!(set.raw().shard_count(), 3);

    // A set created later gets shards only for the slots that record into it.
    let late = Arc::new(Pair::new());
    let late2 = late.clone();
    thread::spawn(move || record_pair(&late2)).join().unwrap();
    assert_eq!(late.raw().shard_count(), 1);

    let s = set.snapshot();
    assert_eq!((s.a, s.b), (5 + 6, 5 + 6), "a count was lost or doubled in a hand-over");
}
