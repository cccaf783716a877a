//! The read–await–write race, shown and prevented.
//!
//! A task that reads shared state, awaits, then writes back what it computed from the read
//! overwrites every update made by the tasks that ran during its await. On a current-thread
//! runtime the interleaving is deterministic (tasks run in FIFO order and switch only at
//! awaits), so the loss is too: the naive counters below always end far short.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

const TASKS: u64 = 50;
const ROUNDS: u64 = 20;
const EXPECTED: u64 = TASKS * ROUNDS;

tally::metric_set! {
    /// The same workload's count, kept by tally.
    struct Work {
        /// Rounds done.
        rounds: Counter,
    }
}

/// Runs `round` `ROUNDS` times in each of `TASKS` local tasks on a current-thread runtime.
fn run<F, Fut>(round: F)
where
    F: Fn() -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let round = round.clone();
                tokio::task::spawn_local(async move {
                    for _ in 0..ROUNDS {
                        round().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn read_await_write_on_a_shared_cell_loses_updates() {
    let naive = Rc::new(Cell::new(0u64));
    let n = naive.clone();
    run(move || {
        let n = n.clone();
        async move {
            let read = n.get();
            tokio::task::yield_now().await; // every other task runs here
            n.set(read + 1); // and this overwrites what they wrote
        }
    });
    assert!(naive.get() < EXPECTED, "lost updates: {} of {EXPECTED} counted", naive.get());
    // With FIFO scheduling each round of 50 tasks adds one in all.
    assert_eq!(naive.get(), ROUNDS);
}

#[test]
fn locking_each_access_separately_still_loses_updates() {
    let naive = Arc::new(Mutex::new(0u64));
    let n = naive.clone();
    run(move || {
        let n = n.clone();
        async move {
            let read = *n.lock().unwrap();
            tokio::task::yield_now().await;
            *n.lock().unwrap() = read + 1;
        }
    });
    let counted = *naive.lock().unwrap();
    assert!(counted < EXPECTED, "lost updates: {counted} of {EXPECTED} counted");
}

#[test]
fn a_tally_counter_under_the_same_workload_stays_exact() {
    let work = Rc::new(Work::new());
    let w = work.clone();
    run(move || {
        let w = w.clone();
        async move {
            tokio::task::yield_now().await;
            // No read to go stale: the update is an add, applied where it lands.
            w.rounds().inc();
        }
    });
    assert_eq!(work.snapshot().rounds, EXPECTED);
}

#[cfg(feature = "tokio")]
#[test]
fn an_async_mutex_held_across_the_await_stays_exact_and_counts_the_contention() {
    let counter = Rc::new(tally_sync::tokio::MonitoredMutex::new(0u64));
    let c = counter.clone();
    run(move || {
        let c = c.clone();
        async move {
            let mut guard = c.lock().await;
            let read = *guard;
            tokio::task::yield_now().await; // others queue on the lock instead
            *guard = read + 1;
        }
    });
    let s = counter.stats();
    assert_eq!(counter.try_lock().map(|g| *g), Some(EXPECTED));
    assert_eq!(s.acquisitions, EXPECTED);
    assert_eq!(s.hold_ns.count(), EXPECTED);
    assert_eq!(s.wait_ns.count(), EXPECTED);
    assert!(s.contended > 0 && s.contended <= s.acquisitions);
}
