//! A `FieldId` is only good for the set and the kind it was taken for: using it with the
//! wrong kind, or on a set it does not fit, panics (rolling the event back) instead of
//! writing somewhere else in the shard.

use std::panic::{AssertUnwindSafe, catch_unwind};

use tally::{FieldDesc, FieldKind, Layout, RawSet, Value};

fn counters(n: usize) -> RawSet {
    let fields = (0..n)
        .map(|i| FieldDesc {
            name: format!("f{i}").into(),
            kind: FieldKind::Counter,
            help: "".into(),
            unit: Default::default(),
        })
        .collect();
    RawSet::new(Layout::new(fields).unwrap())
}

fn panics(f: impl FnOnce()) -> bool {
    catch_unwind(AssertUnwindSafe(f)).is_err()
}

#[test]
fn using_a_field_as_the_wrong_kind_panics_and_rolls_the_event_back() {
    let set = RawSet::new(
        Layout::new(vec![
            FieldDesc::new("hits", FieldKind::Counter, ""),
            FieldDesc::new("level", FieldKind::Gauge, ""),
            FieldDesc::new("latest", FieldKind::LastValue, ""),
        ])
        .unwrap(),
    );
    let [hits, level, latest] = ["hits", "level", "latest"].map(|n| set.field(n).unwrap());
    let before = set.snapshot();
    assert!(panics(|| set.record(|e| {
        e.add_counter(hits, 1);
        e.add_gauge(hits, 1);
    })));
    assert!(panics(|| set.record(|e| {
        e.add_counter(hits, 1);
        e.set_last(level, 1);
    })));
    assert!(panics(|| set.record(|e| {
        e.add_gauge(level, 1);
        e.add_counter(latest, 1);
    })));
    assert_eq!(set.snapshot(), before);
    set.record(|e| e.add_counter(hits, 2));
    assert_eq!(set.snapshot().get("hits"), Some(&Value::Counter(2)));
}

/// In every build: a field id whose word would land past the set's copy 0 (in copy 1, which
/// readers may be reading) is refused with a panic, before anything of the event is written.
#[test]
fn a_field_id_from_a_wider_set_is_rejected_not_written_out_of_place() {
    let wide = counters(4);
    let narrow = counters(2);
    let foreign = wide.field("f2").unwrap();
    let own = narrow.field("f0").unwrap();
    narrow.record(|e| e.add_counter(own, 1));
    assert!(
        panics(|| narrow.record(|e| e.add_counter(foreign, 5))),
        "a field id that does not fit the set was accepted"
    );
    assert_eq!(narrow.snapshot().values(), [Value::Counter(1), Value::Counter(0)]);
    narrow.record(|e| e.add_counter(own, 1));
    assert_eq!(narrow.snapshot().values(), [Value::Counter(2), Value::Counter(0)]);
}

/// A field id of another field list is refused even where it would fit: same kind at the
/// same place, but another set's field.
#[test]
fn a_field_id_of_another_field_list_is_refused_even_where_it_fits() {
    let a = counters(2);
    let b = RawSet::new(
        Layout::new(vec![
            FieldDesc::new("ok", FieldKind::Counter, ""),
            FieldDesc::new("failed", FieldKind::Counter, ""),
        ])
        .unwrap(),
    );
    let f1 = a.field("f1").unwrap();
    assert!(panics(|| b.record(|e| e.add_counter(f1, 1))));
    assert!(panics(|| {
        b.counter(f1).inc();
    }));
    assert_eq!(b.snapshot().values(), [Value::Counter(0), Value::Counter(0)]);
    // The same field list (another set made from it) means the same fields: accepted.
    let a2 = counters(2);
    a2.counter(f1).add(2);
    a2.record(|e| e.add_counter(f1, 1));
    assert_eq!(a2.snapshot().values(), [Value::Counter(0), Value::Counter(3)]);
}

/// `RawSet::counter` and `RawSet::gauge`, the lone-update handles of run-time sets (what
/// `tally-metrics` records through), check the id: a wider set's id, or a gauge's id for a
/// counter, panics instead of writing out of bounds (before, `Kind::field` took any id
/// from safe code and wrote past the set: a heap-buffer-overflow under ASan).
#[test]
fn lone_update_handles_check_the_field_id() {
    let wide = counters(8);
    let narrow = counters(1);
    let far = wide.field("f7").unwrap();
    assert!(panics(|| narrow.counter(far).inc()));
    assert!(panics(|| {
        narrow.gauge(narrow.field("f0").unwrap());
    }));
    narrow.counter(narrow.field("f0").unwrap()).add(4);
    assert_eq!(narrow.snapshot().values(), [Value::Counter(4)]);
}
