//! Series lifecycle in a family: removal is exact under concurrent recording (nothing lands
//! in a removed series after its removal, nothing of it appears in its successor, what
//! remains is exact), handles keep their series, retain, idle expiry, and the cardinality
//! limit freed by removal.

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tally::{Cache, Family, FamilyError, InferenceStats, Outcome, Registry, Value};

fn total(family: &Family<InferenceStats>, labels: &[&str]) -> Option<u64> {
    family.collect().into_iter().find(|s| s.labels == labels).map(|s| {
        match s.snapshot.get("total_inferences") {
            Some(Value::Counter(n)) => *n,
            other => panic!("unexpected {other:?}"),
        }
    })
}

#[test]
fn removal_under_concurrent_recording_loses_nothing_and_never_leaks_into_the_successor() {
    const THREADS: usize = 4;
    const RUN: Duration = Duration::from_millis(400);
    let family = Family::<InferenceStats>::new(&["model"]).unwrap();
    let done = AtomicBool::new(false);
    let start = Barrier::new(THREADS + 1);
    let (removed_sets, in_use) = thread::scope(|s| {
        let mut workers = Vec::new();
        for t in 0..THREADS {
            let (family, start) = (&family, &start);
            workers.push(s.spawn(move || {
                start.wait();
                let until = Instant::now() + RUN;
                let mut issued = [0u64; 2];
                let mut i = 0usize;
                while Instant::now() < until {
                    i += 1;
                    // "churn" is removed again and again; "steady" never is.
                    let which = (i + t) % 2;
                    let labels = [["churn"], ["steady"]][which];
                    if i.is_multiple_of(512) {
                        // A handle held for a while, across yields: removals in between
                        // must leave its series alone.
                        let handle = family.bind(&labels).unwrap();
                        for _ in 0..4 {
                            handle.record_request(Outcome::Success, Cache::Miss);
                            thread::yield_now();
                        }
                        issued[which] += 4;
                    } else {
                        family
                            .with(&labels, |s| s.record_request(Outcome::Success, Cache::Miss))
                            .unwrap();
                        issued[which] += 1;
                    }
                }
                issued
            }));
        }
        let remover = s.spawn(|| {
            start.wait();
            let (mut removed, mut in_use) = (Vec::new(), 0u64);
            while !done.load(Ordering::Relaxed) {
                match family.remove(&["churn"]) {
                    // Kept, with the snapshot it had when removed, to check later that
                    // nothing was recorded into it after.
                    Ok(Some(set)) => {
                        let at_removal = set.snapshot();
                        removed.push((set, at_removal));
                    }
                    Ok(None) => {}
                    Err(FamilyError::SeriesInUse { .. }) => in_use += 1,
                    Err(e) => panic!("{e}"),
                }
                thread::sleep(Duration::from_micros(200));
            }
            (removed, in_use)
        });
        let issued: Vec<[u64; 2]> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        done.store(true, Ordering::Relaxed);
        let (removed, in_use) = remover.join().unwrap();
        let churn: u64 = issued.iter().map(|i| i[0]).sum();
        let steady: u64 = issued.iter().map(|i| i[1]).sum();
        // The steady series: exact.
        assert_eq!(total(&family, &["steady"]), Some(steady));
        // The churned one: what the removed sets held, plus what the current series holds,
        // is exactly what was recorded. A count that landed in a removed set after its
        // removal, or in a successor as well, would break one of the two checks.
        let in_removed: u64 = removed.iter().map(|(_, snap)| snap.total_inferences).sum();
        for (set, at_removal) in &removed {
            assert_eq!(&set.snapshot(), at_removal, "recorded into after its removal");
        }
        assert_eq!(in_removed + total(&family, &["churn"]).unwrap_or(0), churn);
        (removed, in_use)
    });
    assert!(!removed_sets.is_empty(), "the remover never got a series out ({in_use} in use)");
}

#[test]
fn a_successor_starts_at_zero_and_a_bound_handle_keeps_its_series() {
    let family = Family::<InferenceStats>::new(&["model"]).unwrap();
    let bound = family.bind(&["bert"]).unwrap();
    bound.record_request(Outcome::Success, Cache::Hit);
    let err = family.remove(&["bert"]).unwrap_err();
    assert_eq!(err, FamilyError::SeriesInUse { labels: vec!["bert".into()] });
    assert!(err.to_string().contains("drop the handles"), "{err}");
    // Still collected, counts intact, and the handle still records into it.
    bound.record_request(Outcome::Success, Cache::Hit);
    assert_eq!(total(&family, &["bert"]), Some(2));
    drop(bound);
    let old = family.remove(&["bert"]).unwrap().unwrap();
    assert_eq!(old.snapshot().total_inferences, 2);
    assert!(matches!(family.remove(&["bert"]), Ok(None)));
    assert_eq!(total(&family, &["bert"]), None);
    family.with(&["bert"], |s| s.record_request(Outcome::Failure, Cache::Miss)).unwrap();
    assert_eq!(total(&family, &["bert"]), Some(1), "the successor starts at zero");
    assert!(matches!(family.remove(&["a", "b"]), Err(FamilyError::LabelCount { .. })));
}

#[test]
fn a_with_call_running_on_a_series_keeps_it_from_being_removed() {
    let family = Family::<InferenceStats>::new(&["model"]).unwrap();
    let (inside, removed) = (Barrier::new(2), Barrier::new(2));
    thread::scope(|s| {
        s.spawn(|| {
            family
                .with(&["bert"], |set| {
                    inside.wait();
                    removed.wait(); // the removal below has given up
                    set.record_request(Outcome::Success, Cache::Miss);
                })
                .unwrap();
        });
        inside.wait();
        assert!(matches!(family.remove(&["bert"]), Err(FamilyError::SeriesInUse { .. })));
        removed.wait();
    });
    assert_eq!(total(&family, &["bert"]), Some(1), "the record made after the attempt is kept");
    assert!(family.remove(&["bert"]).unwrap().is_some());
}

#[test]
fn retain_removes_what_the_predicate_rejects_and_keeps_what_is_in_use() {
    let family = Family::<InferenceStats>::new(&["model", "version"]).unwrap();
    for (m, v) in [("bert", "1"), ("bert", "2"), ("gpt", "1"), ("gpt", "2")] {
        family.with(&[m, v], |s| s.record_request(Outcome::Success, Cache::Miss)).unwrap();
    }
    let held = family.bind(&["gpt", "1"]).unwrap();
    let done = family.retain(|labels, set| {
        assert_eq!(set.snapshot().total_inferences, 1);
        labels[1] == "2"
    });
    assert_eq!((done.removed, done.in_use), (1, 1));
    let labels: Vec<_> = family.collect().into_iter().map(|s| s.labels).collect();
    assert_eq!(labels, [["bert", "2"], ["gpt", "1"], ["gpt", "2"]]);
    assert_eq!(family.len(), 3);
    drop(held);
    assert_eq!(family.retain(|labels, _| labels[1] == "2").removed, 1);
    assert_eq!(family.len(), 2);
}

#[test]
fn removal_frees_the_series_place_under_the_cardinality_limit() {
    let family = Family::<InferenceStats>::with_limit(&["model"], 2).unwrap();
    for m in ["a", "b", "c"] {
        family.with(&[m], |s| s.record_request(Outcome::Success, Cache::Miss)).unwrap();
    }
    assert_eq!((family.len(), family.overflow_redirects()), (2, 1));
    family.remove(&["a"]).unwrap().unwrap();
    assert_eq!(family.len(), 1);
    family.with(&["c"], |s| s.record_request(Outcome::Success, Cache::Miss)).unwrap();
    assert_eq!(family.overflow_redirects(), 1, "c has a series of its own now");
    assert_eq!(total(&family, &["c"]), Some(1));
    family.with(&["d"], |s| s.record_request(Outcome::Success, Cache::Miss)).unwrap();
    assert_eq!((family.len(), family.overflow_redirects()), (2, 2), "full again");
}

#[test]
fn idle_series_expire_at_collection_and_recorded_or_bound_ones_stay() {
    let family = Family::<InferenceStats>::new(&["user"])
        .unwrap()
        .expire_idle_after(Duration::from_millis(80));
    assert_eq!(family.idle_expiry(), Some(Duration::from_millis(80)));
    for u in ["idle", "busy", "bound"] {
        family.with(&[u], |s| s.record_request(Outcome::Success, Cache::Miss)).unwrap();
    }
    let bound = family.bind(&["bound"]).unwrap();
    assert_eq!(family.collect().len(), 3);
    thread::sleep(Duration::from_millis(120));
    family.with(&["busy"], |s| s.record_request(Outcome::Success, Cache::Miss)).unwrap();
    let labels: Vec<_> = family.collect().into_iter().map(|s| s.labels).collect();
    assert_eq!(labels, [["bound"], ["busy"]]);
    assert_eq!(family.len(), 2);
    // A bound series keeps counting, and expires once its handle is gone and it stood
    // still for the duration.
    bound.record_request(Outcome::Failure, Cache::Miss);
    drop(bound);
    thread::sleep(Duration::from_millis(120));
    let labels: Vec<_> = family.collect().into_iter().map(|s| s.labels).collect();
    assert_eq!(labels, [["bound"]], "recorded into since the previous collection: kept");
    thread::sleep(Duration::from_millis(120));
    assert!(family.collect().is_empty());
    // A successor of an expired series starts at zero, with an idle time of its own.
    family.with(&["idle"], |s| s.record_request(Outcome::Success, Cache::Miss)).unwrap();
    assert_eq!(total(&family, &["idle"]), Some(1));
}

#[test]
fn a_registered_family_expires_idle_series_in_the_registry_snapshot() {
    let registry = Registry::new();
    let family = registry
        .metric("sessions")
        .expire_idle_after(Duration::ZERO)
        .family::<InferenceStats>(&["user"])
        .unwrap();
    family.with(&["ana"], |s| s.record_request(Outcome::Success, Cache::Miss)).unwrap();
    assert_eq!(registry.snapshot().metrics["sessions"].series.len(), 1);
    assert!(registry.snapshot().metrics["sessions"].series.is_empty());
    // The successor starts at zero.
    family.with(&["ana"], |s| s.record_request(Outcome::Success, Cache::Miss)).unwrap();
    let snap = registry.snapshot();
    let ana = &snap.metrics["sessions"].series[0].snapshot;
    assert_eq!(ana.get("total_inferences"), Some(&Value::Counter(1)));
}
