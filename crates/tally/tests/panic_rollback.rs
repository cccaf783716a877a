//! A panic inside a `record` closure records nothing of the event: the updates made before
//! the panic are in no snapshot, the set stays usable, and the same thread's next record
//! lands normally. A record nested in a record on the same set is an event of its own,
//! applied when it returns (before the outer event), and kept if the outer one panics.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use common::{panic_on_purpose, quiet_intentional_panics};
use tally::{FieldDesc, FieldKind, Layout, RawSet, Value};

tally::metric_set! {
    /// A whole event adds 1 to `a`, `b` and `c`.
    struct Parts {
        a: Counter,
        b: Counter,
        c: Counter,
        level: Gauge,
        latest: LastValue,
    }
}

/// Runs `f`, which must panic on purpose.
fn expect_panic(f: impl FnOnce()) {
    quiet_intentional_panics();
    let result = catch_unwind(AssertUnwindSafe(f));
    let payload = result.expect_err("the closure should have panicked");
    assert!(payload.is::<common::Intentional>(), "an unexpected panic");
}

fn whole_event(set: &Parts) {
    set.record(|e| {
        e.a().inc();
        e.b().inc();
        e.c().inc();
    });
}

/// A snapshot taken by another thread (which has no event open on the set).
fn snapshot_from_another_thread(set: &Parts) -> PartsSnapshot {
    thread::scope(|s| s.spawn(|| set.snapshot()).join().unwrap())
}

#[test]
fn a_panic_mid_event_leaves_no_trace_and_the_same_thread_records_normally_afterwards() {
    let set = Parts::new();
    whole_event(&set);
    set.level().add(3);
    set.latest().set(7);
    let before = set.snapshot();
    assert_eq!((before.a, before.level, before.latest.value), (1, 3, 7));

    expect_panic(|| {
        set.record(|e| {
            e.a().add(100);
            e.b().inc();
            e.level().add(-50);
            e.latest().set(99);
            panic_on_purpose();
        })
    });
    // Nothing of the event, in this thread's view or another's: every field, including
    // the last-value gauge's stamp, is as before.
    assert_eq!(set.snapshot(), before);
    assert_eq!(snapshot_from_another_thread(&set), before);

    // The same thread (same shard) records normally: the section was closed.
    whole_event(&set);
    set.level().dec();
    let after = set.snapshot();
    assert_eq!((after.a, after.b, after.c, after.level), (2, 2, 2, 2));
    assert_eq!(after.latest, before.latest);
    assert_eq!(snapshot_from_another_thread(&set), after);
}

#[test]
fn concurrent_readers_never_see_a_rolled_back_event() {
    const EVENTS: u64 = 20_000;
    quiet_intentional_panics();
    let set = Parts::new();
    let done = AtomicBool::new(false);
    let (committed, readers) = thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut committed = 0;
            for i in 0..EVENTS {
                if i % 2 == 0 {
                    whole_event(&set);
                    committed += 1;
                } else {
                    // `a` and `b` written, then a panic before `c`.
                    let result = catch_unwind(AssertUnwindSafe(|| {
                        set.record(|e| {
                            e.a().inc();
                            e.b().inc();
                            panic_on_purpose();
                        })
                    }));
                    assert!(result.is_err());
                }
            }
            done.store(true, Ordering::Relaxed);
            committed
        });
        let readers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let (mut taken, mut partial, mut moving) = (0u64, 0u64, 0u64);
                    // Until the writer is done, and at least 10^4 snapshots.
                    while !done.load(Ordering::Relaxed) || taken < 10_000 {
                        let snap = set.snapshot();
                        taken += 1;
                        partial += u64::from(snap.a != snap.c || snap.b != snap.c);
                        moving += u64::from(snap.a > 0 && snap.a < EVENTS / 2);
                    }
                    (taken, partial, moving)
                })
            })
            .collect();
        let committed = writer.join().unwrap();
        (committed, readers.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>())
    });
    let moving: u64 = readers.iter().map(|r| r.2).sum();
    for (taken, partial, _) in readers {
        assert_eq!(partial, 0, "{partial} of {taken} snapshots showed a rolled-back event");
    }
    assert!(moving > 0, "no snapshot was taken while the writer ran");
    assert_eq!(
        set.snapshot(),
        PartsSnapshot { a: committed, b: committed, c: committed, ..PartsSnapshot::default() }
    );
}

#[test]
fn a_nested_record_is_its_own_event_applied_before_the_outer_one() {
    let set = Parts::new();
    set.record(|outer| {
        outer.a().inc();
        // A nested record and a lone single-field update, both on the same set, made
        // inside the outer event: each is an event of its own, applied when it returns.
        set.record(|inner| inner.b().inc());
        set.c().inc();
        // Another thread sees both, and nothing of the outer event, still being recorded.
        let inside = snapshot_from_another_thread(&set);
        assert_eq!((inside.a, inside.b, inside.c, inside.level), (0, 1, 1, 0));
        outer.level().inc();
    });
    let snap = snapshot_from_another_thread(&set);
    assert_eq!((snap.a, snap.b, snap.c, snap.level), (1, 1, 1, 1));
}

#[test]
fn an_outer_panic_records_nothing_of_the_outer_event_and_keeps_the_nested_ones() {
    let set = Parts::new();
    whole_event(&set);
    expect_panic(|| {
        set.record(|outer| {
            outer.a().inc();
            set.record(|inner| {
                inner.b().inc();
                inner.latest().set(5);
            });
            set.c().inc();
            set.level().add(4);
            outer.level().add(100);
            panic_on_purpose();
        })
    });
    // The nested event and the lone updates were applied when they returned; the outer
    // event's own `a` and `level + 100` are nowhere.
    let after_panic = snapshot_from_another_thread(&set);
    assert_eq!(
        (after_panic.a, after_panic.b, after_panic.c, after_panic.level, after_panic.latest.value),
        (1, 2, 2, 4, 5)
    );
    assert_eq!(set.snapshot(), after_panic);
    // No section is left open.
    whole_event(&set);
    set.record(|e| e.latest().set(6));
    let after = snapshot_from_another_thread(&set);
    assert_eq!((after.a, after.b, after.c, after.level, after.latest.value), (2, 3, 3, 4, 6));
}

#[test]
fn a_rolled_back_event_touching_seventy_words_restores_every_word() {
    // Wider than the event buffer (70 updates): the spilled updates are dropped with the
    // rest, none applied.
    let names: Vec<String> = (0..70).map(|k| format!("c{k:02}")).collect();
    let fields = names
        .iter()
        .map(|n| FieldDesc {
            name: n.clone().into(),
            kind: FieldKind::Counter,
            help: "".into(),
            unit: Default::default(),
        })
        .collect();
    let set = RawSet::new(Layout::new(fields).unwrap());
    let ids: Vec<_> = names.iter().map(|n| set.field(n).unwrap()).collect();
    let event = |n: u64| {
        set.record(|e| {
            for id in &ids {
                e.add_counter(*id, n);
            }
        })
    };
    let all = |n: u64| vec![Value::Counter(n); 70];

    event(1);
    expect_panic(|| {
        set.record(|e| {
            for id in &ids {
                e.add_counter(*id, 5);
            }
            panic_on_purpose();
        })
    });
    assert_eq!(set.snapshot().values(), all(1));
    // Only far words touched, then a panic.
    expect_panic(|| {
        set.record(|e| {
            e.add_counter(ids[69], 5);
            e.add_counter(ids[64], 5);
            panic_on_purpose();
        })
    });
    assert_eq!(set.snapshot().values(), all(1));
    event(1);
    assert_eq!(set.snapshot().values(), all(2));
    thread::scope(|s| {
        s.spawn(|| assert_eq!(set.snapshot().values(), all(2)));
    });
}
