//! Counters never go backwards (docs/DESIGN.md, guarantee 3): an `add` that would pass
//! `u64::MAX` leaves the counter at `u64::MAX`, on every path that adds to a counter (a
//! lone handle update, an event, a run-time set, the sum over threads, a merge of
//! snapshots). Before, `add(u64::MAX)` then `add(2)` read 1.

use std::thread;

use tally::{FieldDesc, FieldKind, Layout, Merge, RawSet, Value};

tally::metric_set! {
    struct Counts {
        /// Events.
        events: Counter,
        /// A level that may go anywhere (gauges wrap: a level, not a count).
        level: Gauge,
    }
}

#[test]
fn a_lone_counter_update_saturates_instead_of_wrapping() {
    let c = Counts::new();
    c.events().add(u64::MAX);
    c.events().add(2);
    assert_eq!(c.snapshot().events, u64::MAX);
    c.events().inc();
    assert_eq!(c.snapshot().events, u64::MAX);
}

#[test]
fn a_counter_in_an_event_saturates_instead_of_wrapping() {
    let c = Counts::new();
    c.record(|e| {
        e.events().add(u64::MAX - 1);
        e.events().add(5);
        e.level().add(1);
    });
    let s = c.snapshot();
    assert_eq!((s.events, s.level), (u64::MAX, 1));
    // Gauges keep their wrapping two's-complement sum (a level moved both ways).
    c.level().add(i64::MAX);
    c.level().add(1);
    assert_eq!(c.snapshot().level, i64::MIN + 1);
}

#[test]
fn a_run_time_counter_saturates_instead_of_wrapping() {
    let set = RawSet::new(Layout::new(vec![FieldDesc::new("n", FieldKind::Counter, "")]).unwrap());
    let n = set.field("n").unwrap();
    set.record(|e| e.add_counter(n, u64::MAX));
    set.record(|e| e.add_counter(n, 2));
    set.counter(n).add(7);
    assert_eq!(set.snapshot().get("n"), Some(&Value::Counter(u64::MAX)));
}

#[test]
fn the_sum_over_threads_saturates_instead_of_wrapping() {
    let c = Counts::new();
    thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| c.events().add(u64::MAX / 2));
        }
    });
    assert_eq!(c.snapshot().events, u64::MAX);
}

#[test]
fn a_merge_of_snapshots_saturates_instead_of_wrapping() {
    let mut a = u64::MAX - 1;
    a.merge(&3);
    assert_eq!(a, u64::MAX);
    let c = Counts::new();
    c.events().add(u64::MAX);
    let mut s = c.snapshot();
    s.merge(&c.snapshot());
    assert_eq!(s.events, u64::MAX);
}
