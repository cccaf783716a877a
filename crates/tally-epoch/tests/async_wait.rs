//! The async waits (feature `tokio`) wake on publication, stop under a timeout, and
//! report a dropped publisher.
#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use tally_epoch::{Publisher, WaitError};

const NEVER: Duration = Duration::from_secs(120);

fn counter_publisher() -> (Publisher<u64>, Arc<AtomicU64>) {
    let value = Arc::new(AtomicU64::new(0));
    let source = Arc::clone(&value);
    (Publisher::new(move || source.load(Ordering::Relaxed)), value)
}

#[tokio::test]
async fn async_wait_until_wakes_once_the_predicate_holds() {
    let (publisher, value) = counter_publisher();
    let mut epochs = publisher.subscribe();
    let refresher = {
        let publisher = publisher.clone();
        thread::spawn(move || {
            for v in 1..=5 {
                value.store(v, Ordering::Relaxed);
                publisher.refresh();
            }
        })
    };
    let epoch = tokio::time::timeout(NEVER, epochs.wait_until(|&v| v >= 3)).await.unwrap().unwrap();
    assert!(*epoch.snapshot() >= 3);
    refresher.join().unwrap();
    // All five refreshes published: the receiver sees the last.
    let last = epochs.next_after(4).await.unwrap();
    assert_eq!((last.number(), *last.snapshot()), (5, 5));
    assert_eq!(epochs.latest().number(), 5);
}

#[tokio::test]
async fn async_wait_returns_at_once_when_already_satisfied() {
    let (publisher, value) = counter_publisher();
    value.store(4, Ordering::Relaxed);
    publisher.refresh();
    let epoch = publisher.wait_until_async(|&v| v == 4).await.unwrap();
    assert_eq!(epoch.number(), 1);
}

#[tokio::test]
async fn async_wait_ends_under_a_tokio_timeout_when_nothing_matches() {
    let (publisher, _) = counter_publisher();
    let waited =
        tokio::time::timeout(Duration::from_millis(20), publisher.wait_until_async(|&v| v > 0))
            .await;
    assert!(waited.is_err(), "the wait should have timed out: {waited:?}");
}

#[tokio::test]
async fn async_wait_reports_a_dropped_publisher() {
    let (publisher, _) = counter_publisher();
    let mut epochs = publisher.subscribe();
    drop(publisher);
    let err = epochs.wait_until(|&v| v > 0).await.unwrap_err();
    assert_eq!(err, WaitError::Closed { latest: 0 });
}
