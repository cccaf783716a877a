//! The threaded read–modify–write race, as loom models.
//!
//! tally's own atomics become loom's only inside `tally-core` built with `--cfg loom`
//! (its `sync` shim), and loom can only see code that uses its types; a model here cannot
//! drive a real `tally` counter. So these models use loom's atomics directly to model the
//! two patterns: a shared counter updated by a load and a store (the `+=` of
//! `multiprocessing.Value` without its lock), and tally's pattern, where each thread adds
//! into a word of its own with the same load and store and a reader sums the words. The
//! first loses an update in some interleaving, and loom finds it; the second cannot.
//! (`tally-core`'s own loom tests check the real latch.)

use loom::sync::Arc;
use loom::sync::atomic::{AtomicU64, Ordering};
use loom::thread;

/// Two threads each add 1 with a load then a store: the interleaving load, load, store,
/// store ends at 1, and loom explores it.
#[test]
fn loom_finds_the_lost_update_of_a_shared_load_store_counter() {
    let outcome = std::panic::catch_unwind(|| {
        loom::model(|| {
            let counter = Arc::new(AtomicU64::new(0));
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let counter = counter.clone();
                    thread::spawn(move || {
                        let read = counter.load(Ordering::Relaxed);
                        counter.store(read + 1, Ordering::Relaxed);
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(counter.load(Ordering::Relaxed), 2, "an update was lost");
        });
    });
    let panic = outcome.expect_err("loom must find the interleaving that loses an update");
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(message.contains("an update was lost"), "unexpected panic: {message}");
}

/// The same load-then-store update, but each thread owns its word (a tally shard): no
/// interleaving loses anything, and a reader running alongside never sees more than was
/// added nor a count going backwards.
#[test]
fn per_thread_words_summed_by_a_reader_stay_exact() {
    let mut model = loom::model::Builder::new();
    // Two preemptions cover every way to interleave one writer's load and store with the
    // other's (tally-core's loom tests use the same bound); it keeps the run to seconds.
    model.preemption_bound = Some(2);
    model.check(|| {
        const ADDS: u64 = 1;
        let words: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let writers: Vec<_> = (0..2)
            .map(|i| {
                let words = words.clone();
                thread::spawn(move || {
                    for _ in 0..ADDS {
                        // The only writer of words[i]: its load reads its own last store.
                        let read = words[i].load(Ordering::Relaxed);
                        words[i].store(read + 1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let reader = {
            let words = words.clone();
            thread::spawn(move || {
                let first: u64 = words.iter().map(|w| w.load(Ordering::Relaxed)).sum();
                let second: u64 = words.iter().map(|w| w.load(Ordering::Relaxed)).sum();
                assert!(first <= second, "a reader saw the count go backwards");
                assert!(second <= 2 * ADDS);
            })
        };
        for w in writers {
            w.join().unwrap();
        }
        reader.join().unwrap();
        let total: u64 = words.iter().map(|w| w.load(Ordering::Relaxed)).sum();
        assert_eq!(total, 2 * ADDS);
    });
}
