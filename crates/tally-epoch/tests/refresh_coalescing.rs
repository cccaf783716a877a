//! Concurrent refreshes share collections, and each one reflects what happened before it.
//!
//! Also worth running under Miri (`cargo +nightly miri test -p tally-epoch --test
//! refresh_coalescing`, under a minute): its weak-memory emulation makes the freshness
//! assertion fail within a few seeds if the ticket orderings in `publisher.rs` are
//! weakened to `Relaxed`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use tally_epoch::Publisher;

const THREADS: u64 = 16;
const REFRESHES_PER_THREAD: u64 = 50;

/// A source that counts its calls, returns how many events were recorded, and takes a
/// little while (so that callers pile up behind a running collection).
fn slow_counting_source(
    recorded: &Arc<AtomicU64>,
    calls: &Arc<AtomicU64>,
) -> impl Fn() -> u64 + Send + Sync + 'static {
    let recorded = Arc::clone(recorded);
    let calls = Arc::clone(calls);
    move || {
        calls.fetch_add(1, Ordering::Relaxed);
        // Relaxed: the point of the test is that `refresh` itself orders the callers'
        // records before this load.
        let seen = recorded.load(Ordering::Relaxed);
        thread::sleep(Duration::from_micros(200));
        seen
    }
}

#[test]
fn concurrent_refreshes_coalesce_and_each_sees_what_its_caller_recorded() {
    let recorded = Arc::new(AtomicU64::new(0));
    let calls = Arc::new(AtomicU64::new(0));
    let publisher = Publisher::new(slow_counting_source(&recorded, &calls));
    let initial_calls = calls.load(Ordering::Relaxed);

    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let publisher = publisher.clone();
            let recorded = Arc::clone(&recorded);
            thread::spawn(move || {
                let mut last_number = 0;
                for _ in 0..REFRESHES_PER_THREAD {
                    // "Record" an event, then refresh: the epoch must include it.
                    let mine = recorded.fetch_add(1, Ordering::Relaxed) + 1;
                    let epoch = publisher.refresh();
                    assert!(
                        *epoch.snapshot() >= mine,
                        "epoch {} saw {} events, but this caller had recorded its event #{mine} \
                         before calling refresh",
                        epoch.number(),
                        epoch.snapshot()
                    );
                    assert!(
                        epoch.number() > last_number,
                        "a later refresh returned an older epoch"
                    );
                    last_number = epoch.number();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }

    let collections = calls.load(Ordering::Relaxed) - initial_calls;
    let refreshes = THREADS * REFRESHES_PER_THREAD;
    assert!(
        collections < refreshes / 2,
        "{collections} collections for {refreshes} refreshes: callers did not coalesce"
    );
    // Every collection published exactly one epoch, numbered after epoch 0.
    assert_eq!(publisher.latest().number(), collections);
}

#[test]
fn a_lone_caller_collects_on_every_refresh() {
    let recorded = Arc::new(AtomicU64::new(0));
    let calls = Arc::new(AtomicU64::new(0));
    let publisher = Publisher::new(slow_counting_source(&recorded, &calls));
    for expected in 1..=5 {
        recorded.fetch_add(1, Ordering::Relaxed);
        let epoch = publisher.refresh();
        assert_eq!((epoch.number(), *epoch.snapshot()), (expected, expected));
    }
    assert_eq!(calls.load(Ordering::Relaxed), 6); // epoch 0 and five refreshes
}

#[test]
fn latest_never_collects() {
    let recorded = Arc::new(AtomicU64::new(0));
    let calls = Arc::new(AtomicU64::new(0));
    let publisher = Publisher::new(slow_counting_source(&recorded, &calls));
    recorded.fetch_add(1, Ordering::Relaxed);
    for _ in 0..100 {
        assert_eq!(publisher.latest().number(), 0);
        assert_eq!(publisher.with_latest(|e| *e.snapshot()), 0);
    }
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}
