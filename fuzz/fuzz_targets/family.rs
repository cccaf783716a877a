//! Arbitrary label sets inserted into a `Family` with a small cardinality limit, from one
//! to three threads.
//!
//! - Creating the family refuses exactly the invalid label names, repeated names and a
//!   zero limit, with the matching error.
//! - A lookup or bind with the wrong number of values is an error and records nothing.
//! - A lookup of the overflow series' own label values (every value `__overflow__`) gets
//!   the overflow series (a redirect), never a second series under the same labels.
//! - Never more than `limit` series besides the overflow series; exactly
//!   `min(limit, distinct other label sets)` of them; with one thread, exactly the first
//!   `limit` label sets in order of first use.
//! - Each label set is counted whole in its own series or whole in the overflow series:
//!   every series holds exactly the model's total for its labels, the overflow series the
//!   rest, and the total over all series is exact. The redirect count is the number of
//!   lookups and binds of label sets without a series, and the overflow series is
//!   collected exactly when it was used. Label values of the series come back as given.
//! - `collect` is sorted by label values, the overflow series among the others.
#![no_main]

use std::collections::BTreeMap;
use std::sync::Barrier;
use std::thread;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tally::{Family, FamilyError, OVERFLOW_LABEL, Value, is_valid_label_name};

tally::metric_set! {
    struct Hits {
        /// Lookups that recorded.
        events: Counter,
        /// The amounts recorded.
        amount: Counter,
    }
}

/// A string, usually from a small dictionary (so label sets repeat and names are valid),
/// sometimes arbitrary.
#[derive(Debug, Clone, Arbitrary)]
enum Text {
    Pick(u8),
    Any(String),
}

const LABEL_NAMES: &[&str] =
    &["model", "device", "region", "le", "_x", "a1", "", "1st", "__reserved", "with space"];
const LABEL_VALUES: &[&str] = &[
    "resnet",
    "bert",
    "gpu0",
    "gpu1",
    "",
    OVERFLOW_LABEL,
    "ünïcødé ✓",
    "new\nline",
    "quote\"",
    "back\\slash",
];

impl Text {
    fn get<'a>(&'a self, dictionary: &[&'static str]) -> &'a str {
        match self {
            Text::Pick(i) => dictionary[usize::from(*i) % dictionary.len()],
            Text::Any(s) => s,
        }
    }
}

#[derive(Debug, Clone, Arbitrary)]
struct Lookup {
    values: Vec<Text>,
    amount: u16,
    /// Bind the series and record into it, rather than `with`.
    bind: bool,
}

#[derive(Debug, Arbitrary)]
struct Input {
    label_names: Vec<Text>,
    limit: u8,
    threads: Vec<Vec<Lookup>>,
}

const MAX_LABELS: usize = 3;
const MAX_THREADS: usize = 3;
const MAX_LOOKUPS: usize = 128;

/// One thread's lookups, as the model sees them: valid ones with their label values.
fn record(family: &Family<Hits>, lookups: &[Lookup]) -> Vec<(Vec<String>, u64)> {
    let arity = family.label_names().len();
    let mut done = Vec::new();
    for lookup in lookups {
        let values: Vec<&str> = lookup.values.iter().map(|v| v.get(LABEL_VALUES)).collect();
        let amount = u64::from(lookup.amount);
        let mut ran = false;
        let result = if lookup.bind {
            family.bind(&values).map(|set| {
                ran = true;
                set.record(|e| {
                    e.events().inc();
                    e.amount().add(amount);
                });
            })
        } else {
            family.with(&values, |set| {
                ran = true;
                set.record(|e| {
                    e.events().inc();
                    e.amount().add(amount);
                })
            })
        };
        match result {
            Ok(()) => {
                assert!(values.len() == arity, "{values:?} accepted");
                assert!(ran);
                done.push((values.iter().map(|v| v.to_string()).collect(), amount));
            }
            Err(FamilyError::LabelCount { expected, got, names }) => {
                assert_eq!((expected, got), (arity, values.len()));
                assert_eq!(names, family.label_names());
                assert!(!ran, "a refused lookup ran its closure");
            }
            Err(e) => panic!("unexpected error from a lookup: {e}"),
        }
    }
    done
}

fn counter(snapshot: &tally::SetSnapshot, name: &str) -> u64 {
    match snapshot.get(name) {
        Some(Value::Counter(n)) => *n,
        other => panic!("field {name}: {other:?}"),
    }
}

fuzz_target!(|input: Input| {
    let names: Vec<&str> =
        input.label_names.iter().take(MAX_LABELS).map(|t| t.get(LABEL_NAMES)).collect();
    let limit = usize::from(input.limit % 9);
    let family = match Family::<Hits>::with_limit(&names, limit) {
        Ok(f) => {
            assert!(names.iter().all(|n| is_valid_label_name(n)), "{names:?} accepted");
            for (i, n) in names.iter().enumerate() {
                assert!(!names[..i].contains(n), "{names:?} accepted with {n:?} twice");
            }
            assert!(limit > 0);
            f
        }
        Err(FamilyError::InvalidLabelName { name }) => {
            assert!(!is_valid_label_name(&name) && names.contains(&name.as_str()));
            return;
        }
        Err(FamilyError::DuplicateLabelName { name }) => {
            assert!(is_valid_label_name(&name), "{name:?} is a duplicate, not invalid");
            assert!(names.iter().filter(|n| **n == name).count() >= 2, "{names:?}");
            return;
        }
        Err(FamilyError::ZeroLimit) => {
            assert_eq!(limit, 0);
            return;
        }
        Err(e) => panic!("unexpected error creating a family: {e}"),
    };
    assert_eq!(family.label_names(), names);
    assert_eq!(family.limit(), limit);

    let mut threads = input.threads;
    threads.truncate(MAX_THREADS);
    threads.iter_mut().for_each(|t| t.truncate(MAX_LOOKUPS));
    let barrier = Barrier::new(threads.len());
    let done: Vec<Vec<(Vec<String>, u64)>> = thread::scope(|s| {
        let handles: Vec<_> = threads
            .iter()
            .map(|lookups| {
                let (family, barrier) = (&family, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    record(family, lookups)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a lookup thread panicked")).collect()
    });

    // The model: per label set, events and amount; and the order of first use (exact with
    // one thread).
    let overflow_labels = vec![OVERFLOW_LABEL.to_owned(); names.len()];
    let reserved = |labels: &Vec<String>| !names.is_empty() && *labels == overflow_labels;
    let mut per_labels: BTreeMap<Vec<String>, (u64, u64)> = BTreeMap::new();
    let mut first_use: Vec<Vec<String>> = Vec::new();
    let (mut events, mut amount, mut reserved_events) = (0u64, 0u64, 0u64);
    for (labels, a) in done.iter().flatten() {
        events += 1;
        amount += a;
        if reserved(labels) {
            // The overflow series itself, as a redirect.
            reserved_events += 1;
            continue;
        }
        let entry = per_labels.entry(labels.clone()).or_insert_with(|| {
            first_use.push(labels.clone());
            (0, 0)
        });
        entry.0 += 1;
        entry.1 += a;
    }

    let series = family.collect();
    let redirects = family.overflow_redirects();
    let (own, overflow): (Vec<_>, Vec<_>) =
        series.iter().partition(|s| !(redirects > 0 && s.labels == overflow_labels));
    assert_eq!(overflow.len(), usize::from(redirects > 0), "the overflow series iff used");
    assert!(own.len() <= limit, "{} series over a limit of {limit}", own.len());
    assert_eq!(own.len(), limit.min(per_labels.len()));
    assert_eq!(family.len(), own.len());
    if threads.len() == 1 {
        let mut want: Vec<Vec<String>> = first_use.iter().take(limit).cloned().collect();
        want.sort();
        let got: Vec<Vec<String>> = own.iter().map(|s| s.labels.clone()).collect();
        assert_eq!(got, want, "one thread: the first {limit} label sets get series");
    }
    let (mut own_events, mut own_amount) = (0, 0);
    for s in &own {
        let (e, a) = per_labels
            .get(&s.labels)
            .unwrap_or_else(|| panic!("series {:?} was never looked up", s.labels));
        // Whole: every record of these labels went to this series.
        assert_eq!((counter(&s.snapshot, "events"), counter(&s.snapshot, "amount")), (*e, *a));
        own_events += e;
        own_amount += a;
    }
    let (over_events, over_amount) = match overflow.first() {
        Some(o) => (counter(&o.snapshot, "events"), counter(&o.snapshot, "amount")),
        None => (0, 0),
    };
    assert_eq!(over_events, redirects, "every redirect recorded one event in the overflow");
    assert!(redirects >= reserved_events, "the overflow series' own labels are redirects");
    assert_eq!((own_events + over_events, own_amount + over_amount), (events, amount));
    // Sorted by label values, the overflow series in its place among them (merges of
    // snapshots find series by binary search), each label set once.
    assert!(series.windows(2).all(|w| w[0].labels < w[1].labels), "sorted, no duplicates");
});
