//! Epoch numbers strictly increase; a minimum interval bounds collections; a panicking
//! source does not wedge the publisher.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use tally_epoch::{ManualClock, Publisher};

#[test]
fn epochs_strictly_increase_and_readers_never_go_back() {
    let calls = Arc::new(AtomicU64::new(0));
    let source_calls = Arc::clone(&calls);
    // The snapshot is the collection's sequence number, so it must match the epoch's.
    let publisher = Publisher::new(move || source_calls.fetch_add(1, Ordering::Relaxed));
    let done = Arc::new(AtomicBool::new(false));

    let readers: Vec<_> = (0..2)
        .map(|_| {
            let publisher = publisher.clone();
            let done = Arc::clone(&done);
            thread::spawn(move || {
                let mut last = 0;
                let mut reads = 0u64;
                while !done.load(Ordering::Relaxed) || reads == 0 {
                    let epoch = publisher.latest();
                    assert!(
                        epoch.number() >= last,
                        "latest() went from {last} back to {}",
                        epoch.number()
                    );
                    assert_eq!(*epoch.snapshot(), epoch.number(), "epoch numbers skip or repeat");
                    last = epoch.number();
                    reads += 1;
                    thread::yield_now();
                }
            })
        })
        .collect();
    let refreshers: Vec<_> = (0..4)
        .map(|_| {
            let publisher = publisher.clone();
            thread::spawn(move || {
                let mut last = 0;
                for _ in 0..200 {
                    let number = publisher.refresh().number();
                    assert!(number > last);
                    last = number;
                }
            })
        })
        .collect();
    for r in refreshers {
        r.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    let latest = publisher.latest();
    assert_eq!(latest.number() + 1, calls.load(Ordering::Relaxed));
}

#[test]
fn min_interval_returns_the_latest_epoch_without_collecting() {
    let calls = Arc::new(AtomicU64::new(0));
    let source_calls = Arc::clone(&calls);
    let clock = ManualClock::new();
    let publisher = Publisher::builder(move || source_calls.fetch_add(1, Ordering::Relaxed))
        .clock(clock.clone())
        .min_interval(Duration::from_secs(1))
        .build();

    for _ in 0..10 {
        assert_eq!(publisher.refresh().number(), 0);
    }
    clock.advance(Duration::from_millis(999));
    assert_eq!(publisher.refresh().number(), 0);
    clock.advance(Duration::from_millis(1));
    let epoch = publisher.refresh();
    assert_eq!((epoch.number(), epoch.collected_at()), (1, Duration::from_secs(1)));
    assert_eq!(publisher.refresh().number(), 1);
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}

#[test]
fn epochs_are_stamped_by_the_injected_clock() {
    let clock = ManualClock::new();
    clock.set(Duration::from_secs(5));
    let publisher = Publisher::builder(|| ()).clock(clock.clone()).build();
    assert_eq!(publisher.latest().collected_at(), Duration::from_secs(5));
    clock.advance(Duration::from_millis(250));
    assert_eq!(publisher.refresh().collected_at(), Duration::from_millis(5250));
}

#[test]
fn a_panicking_source_does_not_wedge_the_publisher() {
    let calls = Arc::new(AtomicU64::new(0));
    let source_calls = Arc::clone(&calls);
    let publisher = Publisher::new(move || {
        let call = source_calls.fetch_add(1, Ordering::Relaxed);
        assert_ne!(call, 1, "the source fails on its second call");
        call
    });
    let panicked = catch_unwind(AssertUnwindSafe(|| publisher.refresh()));
    assert!(panicked.is_err());
    assert_eq!(publisher.latest().number(), 0, "a failed collection publishes nothing");
    let epoch = publisher.refresh();
    assert_eq!((epoch.number(), *epoch.snapshot()), (1, 2));
}

#[test]
fn callers_waiting_on_a_collection_whose_source_panics_go_on() {
    let calls = Arc::new(AtomicU64::new(0));
    let source_calls = Arc::clone(&calls);
    let publisher = Publisher::new(move || {
        let call = source_calls.fetch_add(1, Ordering::Relaxed);
        thread::sleep(Duration::from_millis(2)); // let the other callers queue behind it
        assert_ne!(call, 1, "the source fails on its second call");
        call
    });
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let publisher = publisher.clone();
            thread::spawn(move || catch_unwind(AssertUnwindSafe(|| publisher.refresh().number())))
        })
        .collect();
    let results: Vec<_> = callers.into_iter().map(|c| c.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1, "only the collector panics");
    assert!(results.iter().flatten().all(|&n| n >= 1));
    assert_eq!(publisher.refresh().number(), publisher.latest().number());
}
