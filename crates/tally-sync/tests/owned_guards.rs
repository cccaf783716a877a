//! Owned permits and guards: they move into `tokio::spawn`ed tasks, are released when the
//! task ends (normally, by panic or by abort), and the statistics stay exact.
#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::time::Duration;

use tally_sync::tokio::{MonitoredMutex, OwnedPermit, Throttle};
use tokio::sync::oneshot;

/// Waits (in real time, the runtime's threads running meanwhile) until `done` holds.
async fn until(mut done: impl FnMut() -> bool) {
    for _ in 0..2_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("condition not reached in 2 s");
}

/// A task that holds `permit` until told to end.
fn holder(permit: OwnedPermit) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (end, ended) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _permit = permit;
        let _ = ended.await;
    });
    (end, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owned_permit_moves_into_a_task_and_is_given_back_when_the_task_ends() {
    let throttle = Arc::new(Throttle::new(2));
    let (end_a, a) = holder(throttle.acquire_owned().await);
    let (end_b, b) = holder(throttle.try_acquire_owned().unwrap());
    assert!(throttle.try_acquire_owned().is_err());

    // A third caller waits, in a task of its own, and sends its permit back out.
    let waiter = tokio::spawn({
        let throttle = Arc::clone(&throttle);
        async move { throttle.acquire_owned().await }
    });
    until(|| throttle.stats().waiting == 1).await;
    let s = throttle.stats();
    assert_eq!((s.acquired, s.in_flight, s.rejected), (2, 2, 1));

    // Task a ends: its permit goes back, to the waiter.
    end_a.send(()).unwrap();
    a.await.unwrap();
    let c = waiter.await.unwrap();
    let s = throttle.stats();
    assert_eq!((s.acquired, s.in_flight, s.waiting), (3, 2, 0));
    assert_eq!(s.queue_wait_ns.count(), s.acquired);
    assert!(s.queue_wait_ns.max().unwrap_or(0) > 0, "the third permit was waited for");

    // A task that panics, and one that is aborted, give their permits back too.
    let panicking = tokio::spawn(async move {
        let _permit = c;
        panic!("the task fails while holding its permit");
    });
    assert!(panicking.await.unwrap_err().is_panic());
    end_b.send(()).unwrap();
    b.await.unwrap();
    let (_end_d, d) = holder(throttle.acquire_owned().await);
    d.abort();
    assert!(d.await.unwrap_err().is_cancelled());

    let s = throttle.stats();
    assert_eq!((s.acquired, s.in_flight, s.waiting, s.cancelled), (4, 0, 0, 0));
    assert_eq!(s.queue_wait_ns.count(), s.acquired);
    assert_eq!(throttle.available_permits(), 2);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_owned_acquire_with_a_timeout_counts_its_outcomes() {
    let throttle = Arc::new(Throttle::new(1));
    let held = throttle.acquire_owned_timeout(Duration::from_secs(1)).await.unwrap();
    let err = throttle.acquire_owned_timeout(Duration::from_millis(50)).await.unwrap_err();
    assert_eq!(err.timeout, Duration::from_millis(50));
    // Forgotten: out of circulation, not in flight.
    held.forget();
    assert_eq!((throttle.capacity(), throttle.available_permits()), (0, 0));
    throttle.add_permits(1).unwrap();
    let again = throttle.acquire_owned_timeout(Duration::from_millis(50)).await.unwrap();
    assert!(Arc::ptr_eq(again.throttle(), &throttle));
    drop(again);
    let s = throttle.stats();
    assert_eq!((s.acquired, s.timed_out, s.in_flight, s.waiting), (2, 1, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owned_mutex_guard_moves_into_a_task_and_its_waits_and_holds_are_counted() {
    let counter = Arc::new(MonitoredMutex::new(0u64));
    let mut guard = counter.lock_owned().await;
    *guard += 1;
    let (go, gone) = oneshot::channel::<()>();
    let holder = tokio::spawn(async move {
        let _ = gone.await;
        *guard += 1; // released when the task ends
    });
    // Another task waits for the lock the first task holds.
    let waiter = tokio::spawn({
        let counter = Arc::clone(&counter);
        async move {
            let mut g = counter.lock_owned().await;
            *g += 10;
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(counter.try_lock_owned().is_none());
    go.send(()).unwrap();
    holder.await.unwrap();
    waiter.await.unwrap();
    assert_eq!(*counter.lock().await, 12);
    let s = counter.stats();
    assert_eq!(s.acquisitions, 3);
    assert_eq!(s.contended, 1, "the waiter found the lock held by the task");
    assert_eq!(s.wait_ns.count(), s.acquisitions);
    assert_eq!(s.hold_ns.count(), s.acquisitions, "every guard released and counted");
    assert!(s.wait_ns.max().unwrap_or(0) >= 10_000_000, "waited about 20 ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_read_and_write_guards_move_into_tasks_and_are_counted_exactly() {
    use tally_sync::tokio::MonitoredRwLock;

    let config = Arc::new(MonitoredRwLock::new(String::from("v1")));
    // Two owned readers in two tasks hold the lock together.
    let (r1, r2) = (config.read_owned().await, config.try_read_owned().unwrap());
    let (go, gone) = oneshot::channel::<()>();
    let readers = tokio::spawn(async move {
        let _ = gone.await;
        assert_eq!((r1.as_str(), r2.as_str()), ("v1", "v1"));
    });
    // A writer waits for both, in a task of its own.
    let writer = tokio::spawn({
        let config = Arc::clone(&config);
        async move {
            let mut w = config.write_owned().await;
            w.push_str(".1");
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(config.try_write_owned().is_none());
    go.send(()).unwrap();
    readers.await.unwrap();
    writer.await.unwrap();
    assert_eq!(*config.read().await, "v1.1");
    let s = config.stats();
    assert_eq!((s.acquisitions, s.shared, s.contended), (4, 3, 1));
    assert_eq!(s.wait_ns.count(), s.acquisitions);
    assert_eq!(s.hold_ns.count(), s.acquisitions, "every guard released and counted");
    assert!(s.wait_ns.max().unwrap_or(0) >= 10_000_000, "the writer waited about 20 ms");
}
