//! The process-wide registry is created exactly once, however many threads race to get it
//! first. This file is its own process and nothing else in it touches `tally::global()`.

use std::sync::Barrier;
use std::thread;

use tally::{Cache, Outcome};

#[test]
fn sixty_four_threads_racing_for_the_global_registry_get_one_instance_initialised_once() {
    const THREADS: usize = 64;
    assert_eq!(tally::__global_initialisations(), 0, "nothing may touch the registry first");

    let barrier = Barrier::new(THREADS);
    let addresses: Vec<usize> = thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    std::ptr::from_ref(tally::global()) as usize
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    assert_eq!(addresses.len(), THREADS);
    assert!(addresses.iter().all(|&a| a == addresses[0]), "different registries: {addresses:?}");
    assert_eq!(tally::__global_initialisations(), 1);
    // The one instance is the one later callers get, and it works.
    assert_eq!(std::ptr::from_ref(tally::global()) as usize, addresses[0]);
    let stats =
        tally::global().register::<tally::InferenceStats>("inference", "Requests.").unwrap();
    stats.record_request(Outcome::Success, Cache::Miss);
    let snap = tally::global().snapshot();
    assert_eq!(
        snap.metrics["inference"].series[0].snapshot.get("total_inferences"),
        Some(&tally::Value::Counter(1))
    );
    assert_eq!(tally::__global_initialisations(), 1);
}
