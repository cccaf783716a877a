//! Thread churn: many short-lived threads lose nothing, and the number of thread slots (so
//! of shards per set) stays bounded by the peak number of threads recording at once, not by
//! the number of threads ever spawned.
//!
//! This file is its own process, so the global slot count is predictable. Its tests take
//! one lock, so they never overlap; the test harness's threads never record. The only
//! recording threads are the ones the tests spawn, and each test joins every thread it
//! spawns with `JoinHandle::join`, which returns after the thread's thread-local
//! destructors (which release its slot) have run.

mod common;

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use tally::{Cache, InferenceStats, Outcome};

/// Tests in this file run one at a time (see the module docs).
fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Threads spawned per wave: at most this many are alive at once.
const WAVE: usize = 8;
/// Short-lived threads in all.
const THREADS: usize = 10_000;
/// Events each of them records.
const EVENTS_PER_THREAD: u64 = 20;

#[test]
fn ten_thousand_short_lived_threads_lose_nothing_and_reuse_at_most_wave_size_slots() {
    let _serial = exclusive();
    let stats = Arc::new(InferenceStats::new());
    let mut spawned = 0;
    while spawned < THREADS {
        let wave: Vec<_> = (spawned..THREADS.min(spawned + WAVE))
            .map(|t| {
                let stats = Arc::clone(&stats);
                thread::spawn(move || {
                    for i in 0..EVENTS_PER_THREAD {
                        stats.record_request(
                            Outcome::success_if(i % 4 != 0),
                            Cache::hit_if(t % 2 == 0),
                        );
                    }
                })
            })
            .collect();
        spawned += wave.len();
        for handle in wave {
            handle.join().expect("recording thread panicked");
        }
    }

    let total = THREADS as u64 * EVENTS_PER_THREAD;
    let snap = stats.snapshot();
    assert_eq!(snap.total_inferences, total);
    assert_eq!(snap.successful_inferences, total / 4 * 3);
    assert_eq!(snap.failed_inferences, total / 4);
    assert_eq!(snap.cache_hits, total / 2);
    assert_eq!(snap.cache_misses, total / 2);

    // A thread claims a new slot only when every slot it visits is held by another live
    // thread, and each thread holds one slot for its life: with at most WAVE threads
    // recording at once, at most WAVE slots ever exist in this process.
    let created = tally::thread_slots_created();
    assert!((1..=WAVE).contains(&created), "{created} slots for waves of {WAVE} threads");
    let shards = stats.raw().shard_count();
    assert!((1..=created).contains(&shards), "{shards} shards but {created} slots");
    // Every joined thread gave its slot back.
    assert_eq!(tally::thread_slots_in_use(), 0);
}

/// Runs an action when dropped, i.e. from a thread-local destructor.
struct OnDrop(Option<Box<dyn FnOnce() + Send>>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(action) = self.0.take() {
            action();
        }
    }
}

thread_local! {
    static ON_DROP: RefCell<Option<OnDrop>> = const { RefCell::new(None) };
}

/// Spawns a thread that records 3 events into `stats` and runs `action` from the
/// destructor of a thread-local of its own, and joins it. `arm_first` decides whether that
/// thread-local is set up before tally's own thread-local exists (so, with destructors run
/// in reverse order of registration, it is destroyed after tally's) or after.
///
/// Returns whether, when the destructor ran, no slot was in use anywhere: this thread's
/// own slot had already been given back (tally's thread-local was gone). Only this thread
/// records while the file's lock is held (see the module docs).
fn run_in_thread_local_destructor(
    stats: &Arc<InferenceStats>,
    arm_first: bool,
    action: impl FnOnce() + Send + 'static,
) -> bool {
    let saw = Arc::new(Mutex::new(None));
    let (stats, saw2) = (Arc::clone(stats), Arc::clone(&saw));
    let action = move || {
        let none_in_use = tally::thread_slots_in_use() == 0;
        action();
        *saw2.lock().unwrap() = Some(none_in_use);
    };
    thread::spawn(move || {
        let arm = |guard| ON_DROP.with(|cell| *cell.borrow_mut() = guard);
        let mut guard = Some(OnDrop(Some(Box::new(action))));
        if arm_first {
            arm(guard.take());
        }
        for _ in 0..3 {
            stats.record_request(Outcome::Failure, Cache::Miss);
        }
        if guard.is_some() {
            arm(guard.take());
        }
    })
    .join()
    .expect("recording thread panicked");
    saw.lock().unwrap().expect("the thread-local destructor ran")
}

#[test]
fn a_record_made_from_another_thread_locals_destructor_is_counted() {
    let _serial = exclusive();
    let mut destroyed_after_tally = 0;
    for arm_first in [true, false] {
        let stats = Arc::new(InferenceStats::new());
        let s = Arc::clone(&stats);
        let saw_no_slot_in_use = run_in_thread_local_destructor(&stats, arm_first, move || {
            s.record_request(Outcome::Success, Cache::Hit)
        });
        let snap = stats.snapshot();
        assert_eq!(snap.total_inferences, 4, "arm_first: {arm_first}");
        assert_eq!(snap.successful_inferences, 1, "arm_first: {arm_first}");
        assert_eq!(snap.cache_hits, 1, "arm_first: {arm_first}");
        assert!(snap.is_coherent());
        destroyed_after_tally += usize::from(saw_no_slot_in_use);
        // Whatever the path, the slot (own or borrowed) is given back.
        assert_eq!(tally::thread_slots_in_use(), 0, "arm_first: {arm_first}");
    }
    // In at least one of the two orders our destructor ran after tally's thread-local was
    // gone, so its record went through the borrowed-slot path (and was counted above).
    assert!(destroyed_after_tally >= 1, "neither order ran our destructor after tally's");
    assert!(tally::thread_slots_created() <= WAVE);
}

#[test]
fn a_nested_record_in_a_thread_local_destructor_is_its_own_event() {
    common::quiet_intentional_panics();
    let _serial = exclusive();
    for arm_first in [true, false] {
        let stats = Arc::new(InferenceStats::new());
        let s = Arc::clone(&stats);
        run_in_thread_local_destructor(&stats, arm_first, move || {
            let outer_panicked = catch_unwind(AssertUnwindSafe(|| {
                s.record(|outer| {
                    outer.total_inferences().inc();
                    s.record(|inner| inner.successful_inferences().inc());
                    common::panic_on_purpose();
                })
            }));
            assert!(outer_panicked.is_err());
        });
        // The outer event recorded nothing; the nested one, an event of its own applied
        // when it returned, is kept (with the slot borrowed or not).
        let snap = stats.snapshot();
        assert_eq!(snap.total_inferences, 3, "arm_first: {arm_first}");
        assert_eq!(snap.successful_inferences, 1, "arm_first: {arm_first}: {snap:?}");
        assert_eq!(tally::thread_slots_in_use(), 0, "arm_first: {arm_first}");
    }
}
