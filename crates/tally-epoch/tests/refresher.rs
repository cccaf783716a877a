//! The background refresher publishes on its period and stops and joins on drop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use tally_epoch::{Publisher, RefresherError};

const NEVER: Duration = Duration::from_secs(120);
const AN_HOUR: Duration = Duration::from_secs(3600);

#[test]
fn the_refresher_publishes_new_epochs() {
    let value = Arc::new(AtomicU64::new(0));
    let source = Arc::clone(&value);
    let publisher = Publisher::new(move || source.load(Ordering::Relaxed));
    let refresher = publisher.spawn_refresher(Duration::from_millis(1)).unwrap();
    assert!(refresher.is_running());
    assert_eq!(refresher.period(), Duration::from_millis(1));
    value.store(42, Ordering::Relaxed);
    let epoch = publisher.wait_until(|&v| v == 42, NEVER).unwrap();
    assert!(epoch.number() >= 1);
    let later = publisher.wait_for_next(epoch.number(), NEVER).unwrap();
    assert!(later.number() > epoch.number());
}

#[test]
fn dropping_the_handle_stops_and_joins_the_thread_without_waiting_out_the_period() {
    // The source owns `alive`: once the thread is joined, its publisher clone (and so the
    // source) is gone.
    let alive = Arc::new(());
    let held = Arc::clone(&alive);
    let publisher = Publisher::new(move || Arc::strong_count(&held));
    // An hour-long period: if drop slept it out, this test would hang.
    let refresher = publisher.spawn_refresher(AN_HOUR).unwrap();
    drop(publisher);
    assert_eq!(Arc::strong_count(&alive), 2, "the thread keeps the publisher alive");
    drop(refresher);
    assert_eq!(Arc::strong_count(&alive), 1, "drop returned before the thread exited");
}

#[test]
fn no_collection_happens_after_the_handle_is_dropped() {
    let calls = Arc::new(AtomicU64::new(0));
    let source_calls = Arc::clone(&calls);
    let publisher = Publisher::new(move || source_calls.fetch_add(1, Ordering::Relaxed));
    let refresher = publisher.spawn_refresher(Duration::from_millis(1)).unwrap();
    publisher.wait_for_next(2, NEVER).unwrap();
    drop(refresher);
    let after_drop = calls.load(Ordering::Relaxed);
    // Give a thread that was not stopped every chance to collect again.
    thread::sleep(Duration::from_millis(20));
    assert_eq!(calls.load(Ordering::Relaxed), after_drop);
    assert_eq!(publisher.latest().number() + 1, after_drop);
}

#[test]
fn stop_reports_a_panic_in_the_source() {
    let calls = Arc::new(AtomicU64::new(0));
    let source_calls = Arc::clone(&calls);
    let publisher = Publisher::new(move || {
        let call = source_calls.fetch_add(1, Ordering::Relaxed);
        assert!(call == 0, "boom: the source fails after its first call");
        call
    });
    let refresher = publisher.spawn_refresher(Duration::from_millis(1)).unwrap();
    // Poll, without a time limit of our own, until the thread has died.
    while refresher.is_running() {
        thread::sleep(Duration::from_millis(1));
    }
    let err = refresher.stop().unwrap_err();
    assert!(
        matches!(&err, RefresherError::Panicked { message } if message.contains("boom")),
        "{err:?}"
    );
    // The publisher still works for direct callers once the source does.
    assert_eq!(publisher.latest().number(), 0);
}

#[test]
fn a_zero_period_is_refused() {
    let publisher = Publisher::new(|| 0u64);
    let err = publisher.spawn_refresher(Duration::ZERO).unwrap_err();
    assert!(matches!(err, RefresherError::ZeroPeriod), "{err:?}");
}
