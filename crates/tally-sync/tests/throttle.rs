//! `Throttle`: the bound holds under contention, and every outcome is counted exactly.
#![cfg(feature = "tokio")]

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tally_sync::tokio::Throttle;

const TASKS: usize = 64;
const BOUND: usize = 8;

/// On a current-thread runtime every snapshot is exact, so the in-flight gauge itself can
/// be checked from inside each task.
#[tokio::test(flavor = "current_thread")]
async fn sixty_four_tasks_through_eight_permits_never_exceed_eight() {
    let throttle = Rc::new(Throttle::new(BOUND));
    let highest = Rc::new(Cell::new(0i64));
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let (throttle, highest) = (throttle.clone(), highest.clone());
                    tokio::task::spawn_local(async move {
                        let _permit = throttle.acquire().await;
                        let s = throttle.stats();
                        highest.set(highest.get().max(s.in_flight));
                        // Permits handed to woken waiters that have not run yet are neither
                        // free nor (until the waiter records) in flight.
                        assert!(s.in_flight as usize <= BOUND - throttle.available_permits());
                        tokio::task::yield_now().await;
                        tokio::task::yield_now().await;
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        })
        .await;
    let s = throttle.stats();
    assert_eq!(highest.get(), BOUND as i64, "all eight permits were in use at once");
    assert_eq!(s.acquired, TASKS as u64);
    assert_eq!((s.in_flight, s.waiting), (0, 0));
    assert_eq!((s.timed_out, s.rejected, s.cancelled), (0, 0, 0));
    assert_eq!(s.queue_wait_ns.count(), TASKS as u64);
    assert_eq!(throttle.available_permits(), BOUND);
}

/// On two worker threads the gauge is exact once quiet; the bound is checked with a
/// counter of our own, moved inside the permit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bound_holds_across_threads() {
    let throttle = Arc::new(Throttle::new(BOUND));
    let inside = Arc::new(AtomicUsize::new(0));
    let highest = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (throttle, inside, highest) = (throttle.clone(), inside.clone(), highest.clone());
            tokio::spawn(async move {
                for _ in 0..10 {
                    let _permit = throttle.acquire().await;
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    highest.fetch_max(now, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert!(highest.load(Ordering::SeqCst) <= BOUND);
    let s = throttle.stats();
    assert_eq!(s.acquired, TASKS as u64 * 10);
    assert_eq!(s.queue_wait_ns.count(), s.acquired);
    assert_eq!((s.in_flight, s.waiting), (0, 0));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn timeouts_are_counted_exactly() {
    let throttle = Arc::new(Throttle::new(2));
    let held = (throttle.acquire().await, throttle.acquire().await);
    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let throttle = throttle.clone();
            tokio::spawn(async move {
                throttle.acquire_timeout(Duration::from_millis(100)).await.map(drop)
            })
        })
        .collect();
    tokio::task::yield_now().await;
    assert_eq!(throttle.stats().waiting, 5);
    for w in waiters {
        let err = w.await.unwrap().unwrap_err();
        assert_eq!(err.timeout, Duration::from_millis(100));
        assert!(err.to_string().contains("retry later"));
    }
    drop(held);
    let s = throttle.stats();
    assert_eq!((s.acquired, s.timed_out, s.waiting, s.in_flight), (2, 5, 0, 0));
    assert_eq!(s.queue_wait_ns.count(), 2, "timed-out waits are not queue waits");
}

/// Under tokio's paused clock the queue wait is exact: the waiter gets its permit when the
/// holder's 100 ms sleep ends.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn queue_wait_is_recorded_for_waiters_only() {
    let throttle = Arc::new(Throttle::new(1));
    let holder = {
        let throttle = throttle.clone();
        tokio::spawn(async move {
            let _permit = throttle.acquire().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        })
    };
    tokio::task::yield_now().await;
    let permit = throttle.acquire_timeout(Duration::from_secs(1)).await.unwrap();
    drop(permit);
    holder.await.unwrap();
    let s = throttle.stats();
    assert_eq!(s.acquired, 2);
    assert_eq!(s.queue_wait_ns.min(), Some(0));
    assert_eq!(s.queue_wait_ns.max(), Some(100_000_000));
    assert_eq!(s.queue_wait_ns.sum(), 100_000_000);
}

#[tokio::test(flavor = "current_thread")]
async fn rejections_are_counted_exactly() {
    let throttle = Throttle::new(3);
    let held: Vec<_> = (0..3).map(|_| throttle.try_acquire().unwrap()).collect();
    for _ in 0..4 {
        let err = throttle.try_acquire().unwrap_err();
        assert_eq!(err.capacity, 3);
    }
    drop(held);
    let _again = throttle.try_acquire().unwrap();
    let s = throttle.stats();
    assert_eq!((s.acquired, s.rejected, s.in_flight), (4, 4, 1));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_dropped_waiter_is_counted_as_cancelled() {
    let throttle = Throttle::new(1);
    let _held = throttle.acquire().await;
    tokio::select! {
        _ = throttle.acquire() => unreachable!("the only permit is held"),
        _ = tokio::time::sleep(Duration::from_millis(10)) => {}
    }
    let s = throttle.stats();
    assert_eq!((s.cancelled, s.waiting, s.acquired, s.timed_out), (1, 0, 1, 0));
}

#[test]
fn adding_permits_beyond_the_bound_is_an_error_and_adds_nothing() {
    let throttle = Throttle::new(4);
    let err = throttle.add_permits(1).unwrap_err();
    assert_eq!((err.requested, err.room, err.bound), (1, 0, 4));
    assert_eq!((throttle.capacity(), throttle.available_permits()), (4, 4));
    let message = err.to_string();
    assert!(message.contains("nothing was added") && message.contains("add at most 0"));

    // Permits taken out of circulation (forgotten, or lost with a forgotten permit) can be
    // put back, up to the bound and no further.
    throttle.try_acquire().unwrap().forget();
    assert_eq!(throttle.forget_permits(2), 2);
    assert_eq!((throttle.capacity(), throttle.available_permits()), (1, 1));
    let err = throttle.add_permits(4).unwrap_err();
    assert_eq!((err.requested, err.room, err.bound), (4, 3, 4));
    assert_eq!(throttle.capacity(), 1);
    throttle.add_permits(3).unwrap();
    assert_eq!((throttle.capacity(), throttle.available_permits()), (4, 4));
    assert!(throttle.add_permits(1).is_err());
    assert_eq!(throttle.stats().in_flight, 0);
}
