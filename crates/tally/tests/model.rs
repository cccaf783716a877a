//! The set against a sequential model: random event sequences (multi-field events, nested
//! records, single-field updates, events that panic and record nothing), spread over 1 to
//! 4 threads running at once, end in exactly the snapshot the model predicts.
//!
//! A nested record is an event of its own, applied when it returns: before the outer
//! event, and kept when the outer closure panics afterwards.
//!
//! Counters and the summed gauge are exact. The last-value gauge keeps the newest `set`
//! from any thread; which thread's last `set` is newest depends on timing, so the model
//! checks what is determinable: it is unset iff no committed event set it, its value is
//! the last committed `set` of one of the threads, and it is exactly that value when only
//! one thread set it.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use proptest::prelude::*;
use tally::Last;

tally::metric_set! {
    struct Model {
        a: Counter,
        b: Counter,
        level: Gauge,
        latest: LastValue,
    }
}

#[derive(Debug, Clone, Copy)]
enum Update {
    A(u64),
    B(u64),
    Level(i64),
    Latest(i64),
}

#[derive(Debug, Clone)]
enum Step {
    /// One `record` event. From `nested_from` on, updates go through a record nested in it
    /// (its own event, applied first); with `panics`, the outer closure panics after all
    /// its updates (the nested event stays).
    Event { updates: Vec<Update>, nested_from: usize, panics: bool },
    /// One update through the set's own handle: an event of its own.
    Single(Update),
}

fn update() -> impl Strategy<Value = Update> {
    prop_oneof![
        (0..5u64).prop_map(Update::A),
        (0..1_000u64).prop_map(Update::B),
        (-1_000..1_000i64).prop_map(Update::Level),
        any::<i64>().prop_map(Update::Latest),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (prop::collection::vec(update(), 0..6), 0..6usize, prop::bool::weighted(0.2))
            .prop_map(|(updates, nested_from, panics)| Step::Event { updates, nested_from, panics }),
        1 => update().prop_map(Step::Single),
    ]
}

fn apply(e: ModelEvent<'_>, u: Update) {
    match u {
        Update::A(1) => e.a().inc(),
        Update::A(n) => e.a().add(n),
        Update::B(n) => e.b().add(n),
        Update::Level(n) => e.level().add(n),
        Update::Latest(v) => e.latest().set(v),
    }
}

fn run_step(set: &Model, step: &Step) {
    match step {
        Step::Single(Update::A(1)) => set.a().inc(),
        Step::Single(Update::A(n)) => set.a().add(*n),
        Step::Single(Update::B(n)) => set.b().add(*n),
        Step::Single(Update::Level(n)) => set.level().add(*n),
        Step::Single(Update::Latest(v)) => set.latest().set(*v),
        Step::Event { updates, nested_from, panics } => {
            let split = (*nested_from).min(updates.len());
            let result = catch_unwind(AssertUnwindSafe(|| {
                set.record(|e| {
                    updates[..split].iter().for_each(|u| apply(e, *u));
                    set.record(|inner| updates[split..].iter().for_each(|u| apply(inner, *u)));
                    if *panics {
                        common::panic_on_purpose();
                    }
                })
            }));
            assert_eq!(result.is_err(), *panics);
        }
    }
}

/// What the model predicts.
#[derive(Debug, Default)]
struct Expected {
    a: u64,
    b: u64,
    level: i64,
    /// Per thread, the value of its last committed `set` of `latest`.
    last_sets: Vec<i64>,
}

fn model(threads: &[Vec<Step>]) -> Expected {
    let mut expected = Expected::default();
    for steps in threads {
        let mut last = None;
        for step in steps {
            let committed: Vec<Update> = match step {
                Step::Event { updates, nested_from, panics } => {
                    let split = (*nested_from).min(updates.len());
                    // The nested event is applied when it returns, before the outer one;
                    // the outer one only if its closure returns.
                    let outer = if *panics { &[][..] } else { &updates[..split] };
                    updates[split..].iter().chain(outer).copied().collect()
                }
                Step::Single(u) => vec![*u],
            };
            for u in &committed {
                match *u {
                    Update::A(n) => expected.a += n,
                    Update::B(n) => expected.b += n,
                    Update::Level(n) => expected.level += n,
                    Update::Latest(v) => last = Some(v),
                }
            }
        }
        expected.last_sets.extend(last);
    }
    expected
}

fn check_latest(latest: Last, last_sets: &[i64]) -> Result<(), TestCaseError> {
    if last_sets.is_empty() {
        prop_assert_eq!(latest, Last::default(), "no committed set, yet the gauge is set");
    } else {
        prop_assert!(latest.is_set());
        prop_assert!(
            last_sets.contains(&latest.value),
            "{} is no thread's last set ({:?})",
            latest.value,
            last_sets
        );
        if last_sets.len() == 1 {
            prop_assert_eq!(latest.value, last_sets[0]);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn concurrent_event_sequences_end_in_the_snapshot_a_sequential_model_predicts(
        threads in prop::collection::vec(prop::collection::vec(step(), 0..40), 1..=4),
    ) {
        common::quiet_intentional_panics();
        let set = Model::new();
        let expected = model(&threads);
        let done = AtomicBool::new(false);
        let barrier = Barrier::new(threads.len() + 1);
        // A reader alongside: counters only grow and never pass the final totals.
        let reader_ok = thread::scope(|s| {
            let reader = s.spawn(|| {
                barrier.wait();
                let (mut previous, mut ok) = (set.snapshot(), true);
                while !done.load(Ordering::Relaxed) {
                    let snap = set.snapshot();
                    ok &= snap.a >= previous.a && snap.b >= previous.b;
                    ok &= snap.a <= expected.a && snap.b <= expected.b;
                    previous = snap;
                }
                ok
            });
            let writers: Vec<_> = threads
                .iter()
                .map(|steps| {
                    let (set, barrier) = (&set, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        steps.iter().for_each(|step| run_step(set, step));
                    })
                })
                .collect();
            for w in writers {
                w.join().unwrap();
            }
            done.store(true, Ordering::Relaxed);
            reader.join().unwrap()
        });
        prop_assert!(reader_ok, "a concurrent snapshot went backwards or past the end");

        let snap = set.snapshot();
        prop_assert_eq!(snap.a, expected.a);
        prop_assert_eq!(snap.b, expected.b);
        prop_assert_eq!(snap.level, expected.level);
        check_latest(snap.latest, &expected.last_sets)?;
    }

    #[test]
    fn one_thread_matches_the_model_exactly_including_the_last_value(
        steps in prop::collection::vec(step(), 0..60),
    ) {
        common::quiet_intentional_panics();
        let set = Model::new();
        thread::scope(|s| {
            s.spawn(|| steps.iter().for_each(|step| run_step(&set, step)));
        });
        let expected = model(std::slice::from_ref(&steps));
        let snap = set.snapshot();
        prop_assert_eq!((snap.a, snap.b, snap.level), (expected.a, expected.b, expected.level));
        check_latest(snap.latest, &expected.last_sets)?;
    }
}
