//! `ReadyGate`: one `set` wakes every waiter, async and blocking, and each wait's outcome
//! is counted once.
#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::time::Duration;

use tally_sync::tokio::ReadyGate;

#[tokio::test(flavor = "current_thread")]
async fn set_wakes_every_async_waiter() {
    let gate = Arc::new(ReadyGate::new());
    let waiters: Vec<_> = (0..50)
        .map(|_| {
            let gate = gate.clone();
            tokio::spawn(async move { gate.wait().await })
        })
        .collect();
    tokio::task::yield_now().await;
    let s = gate.stats();
    assert_eq!((s.waiters, s.waited, s.woken), (50, 50, 0));
    gate.set();
    for w in waiters {
        w.await.unwrap();
    }
    let s = gate.stats();
    assert_eq!((s.waiters, s.waited, s.woken), (0, 50, 50));
    // Once open, waits return at once and record nothing.
    gate.wait().await;
    assert!(gate.wait_timeout(Duration::ZERO).await);
    assert_eq!(gate.stats().waited, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_wakes_every_waiter_across_threads() {
    let gate = Arc::new(ReadyGate::new());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let gate = gate.clone();
            tokio::spawn(async move { gate.wait().await })
        })
        .collect();
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let gate = gate.clone();
            std::thread::spawn(move || gate.wait_blocking())
        })
        .collect();
    gate.set();
    for t in tasks {
        t.await.unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    // Some waiters may have arrived after `set` and recorded nothing; every one that
    // waited was woken.
    let s = gate.stats();
    assert_eq!(s.waiters, 0);
    assert_eq!(s.woken, s.waited);
    assert!(s.waited <= 23);
}

#[test]
fn set_wakes_blocked_threads() {
    let gate = ReadyGate::new();
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..3).map(|_| s.spawn(|| gate.wait_blocking())).collect();
        // Wait until all three are registered as waiting, so the wake-up path is tested.
        while gate.stats().waiters < 3 {
            std::thread::yield_now();
        }
        gate.set();
        for t in threads {
            t.join().unwrap();
        }
    });
    let s = gate.stats();
    assert_eq!((s.waiters, s.waited, s.woken, s.timed_out), (0, 3, 3, 0));
}

#[test]
fn blocking_wait_times_out_and_counts_it() {
    let gate = ReadyGate::new();
    assert!(!gate.wait_blocking_timeout(Duration::from_millis(5)));
    gate.set();
    assert!(gate.wait_blocking_timeout(Duration::from_millis(5)));
    assert!(gate.wait_blocking_timeout(Duration::MAX));
    let s = gate.stats();
    assert_eq!((s.waited, s.timed_out, s.woken, s.waiters), (1, 1, 0, 0));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn async_timeouts_and_cancellations_are_counted() {
    let gate = Arc::new(ReadyGate::new());
    assert!(!gate.wait_timeout(Duration::from_millis(10)).await);
    assert!(!gate.wait_timeout(Duration::from_millis(10)).await);
    // A wait abandoned by its caller (here: a timeout around `wait()`).
    assert!(tokio::time::timeout(Duration::from_millis(10), gate.wait()).await.is_err());
    let late = {
        let gate = gate.clone();
        tokio::spawn(async move { gate.wait_timeout(Duration::from_secs(60)).await })
    };
    tokio::task::yield_now().await;
    gate.set();
    assert!(late.await.unwrap());
    let s = gate.stats();
    assert_eq!((s.waited, s.timed_out, s.cancelled, s.woken, s.waiters), (4, 2, 1, 1, 0));
}
