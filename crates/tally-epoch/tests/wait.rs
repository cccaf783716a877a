//! Blocking waits wake when a matching epoch is published and time out otherwise.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use tally_epoch::{Publisher, WaitError};

/// Long enough never to fire on a loaded machine; the tests that use it pass as soon as
/// the wait wakes.
const NEVER: Duration = Duration::from_secs(120);
/// Short: the tests that use it expect the timeout.
const SHORT: Duration = Duration::from_millis(20);

fn counter_publisher() -> (Publisher<u64>, Arc<AtomicU64>) {
    let value = Arc::new(AtomicU64::new(0));
    let source = Arc::clone(&value);
    (Publisher::new(move || source.load(Ordering::Relaxed)), value)
}

#[test]
fn wait_for_next_wakes_when_a_newer_epoch_is_published() {
    let (publisher, _) = counter_publisher();
    let waiter = {
        let publisher = publisher.clone();
        thread::spawn(move || publisher.wait_for_next(0, NEVER))
    };
    publisher.refresh();
    let epoch = waiter.join().unwrap().unwrap();
    assert_eq!(epoch.number(), 1);
}

#[test]
fn wait_until_wakes_only_once_the_predicate_holds() {
    let (publisher, value) = counter_publisher();
    let waiter = {
        let publisher = publisher.clone();
        thread::spawn(move || publisher.wait_until(|&v| v >= 3, NEVER))
    };
    for v in 1..=5 {
        value.store(v, Ordering::Relaxed);
        publisher.refresh();
    }
    let epoch = waiter.join().unwrap().unwrap();
    assert!(*epoch.snapshot() >= 3, "woke on {}", epoch.snapshot());
}

#[test]
fn waits_return_at_once_when_already_satisfied() {
    let (publisher, value) = counter_publisher();
    value.store(9, Ordering::Relaxed);
    publisher.refresh();
    assert_eq!(publisher.wait_for_next(0, Duration::ZERO).unwrap().number(), 1);
    assert_eq!(*publisher.wait_until(|&v| v == 9, Duration::ZERO).unwrap().snapshot(), 9);
}

#[test]
fn wait_for_next_times_out_when_nothing_is_published() {
    let (publisher, _) = counter_publisher();
    let err = publisher.wait_for_next(0, SHORT).unwrap_err();
    assert_eq!(err, WaitError::TimedOut { timeout: SHORT, latest: 0 });
    assert!(err.to_string().contains("spawn_refresher"), "{err}");
}

#[test]
fn wait_until_times_out_when_the_predicate_never_holds_despite_publications() {
    let (publisher, _) = counter_publisher();
    let refresher = publisher.spawn_refresher(Duration::from_millis(1)).unwrap();
    let err = publisher.wait_until(|&v| v > 0, SHORT).unwrap_err();
    assert!(matches!(err, WaitError::TimedOut { timeout: SHORT, .. }), "{err:?}");
    refresher.stop().unwrap();
}
