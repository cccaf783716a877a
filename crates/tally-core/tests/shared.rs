//! Shared-memory shards: what a collector reads is what was recorded, every event whole,
//! while the writer records and after it is killed.

#![cfg(all(unix, not(loom), target_has_atomic = "64"))]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tally_core::{
    FieldDesc, FieldKind, FieldUpdate, HistogramConfig, HistogramSnapshot, SetDesc, SharedFile,
    Value, claim_if_gone, read_shared,
};

const MB: u64 = 1 << 20;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tally-shared-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn pair_set() -> SetDesc {
    SetDesc {
        metric: "requests".into(),
        help: "Requests.".into(),
        label_names: vec!["model".into()],
        labels: vec!["bert".into()],
        fields: vec![
            FieldDesc::new("total", FieldKind::Counter, ""),
            FieldDesc::new("ok", FieldKind::Counter, ""),
            FieldDesc::new("in_flight", FieldKind::Gauge, ""),
        ],
        kept_gauges: vec![],
    }
}

fn counter(v: &Value) -> u64 {
    match v {
        Value::Counter(c) => *c,
        other => panic!("{other:?}"),
    }
}

fn only_file(dir: &Path) -> PathBuf {
    let files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

#[test]
fn every_read_sees_whole_events_and_counters_never_go_back_while_two_writers_record() {
    let dir = temp_dir("whole");
    let file = SharedFile::create(&dir, 4 * MB).unwrap();
    // A histogram makes each copy a thousand words: a read takes long enough that two
    // writers recording flat out keep both copies busy, and the collector needs the help
    // copy the writers make for it.
    let mut desc = pair_set();
    desc.fields.push(FieldDesc::new(
        "latency_ns",
        FieldKind::Histogram(HistogramConfig::DEFAULT),
        "",
    ));
    let done = AtomicUsize::new(0);
    let per_writer = 200_000u64;
    std::thread::scope(|s| {
        for _ in 0..2 {
            let mut w = file.shard(&desc).unwrap();
            let done = &done;
            s.spawn(move || {
                for _ in 0..per_writer {
                    w.record(&[
                        (0, FieldUpdate::Counter(1)),
                        (1, FieldUpdate::Counter(1)),
                        (3, FieldUpdate::Observe(1_000)),
                    ])
                    .unwrap();
                }
                done.fetch_add(1, Ordering::Relaxed);
            });
        }
        s.spawn(|| {
            let path = only_file(&dir);
            let (mut last, mut reads) = (0, 0u64);
            while done.load(Ordering::Relaxed) < 2 || reads == 0 {
                for s in read_shared(&path).unwrap() {
                    let total = counter(s.snapshot.get("total").unwrap());
                    let ok = counter(s.snapshot.get("ok").unwrap());
                    assert_eq!(total, ok, "an event torn across fields");
                    let Some(Value::Histogram(h)) = s.snapshot.get("latency_ns") else { panic!() };
                    assert_eq!(h.count(), total, "an event torn across fields");
                    assert!(total >= last, "went back from {last} to {total}");
                    last = total;
                }
                reads += 1;
            }
        });
    });
    let series = read_shared(&only_file(&dir)).unwrap();
    assert_eq!(series.len(), 1, "one set, its two shards merged");
    assert_eq!(counter(series[0].snapshot.get("total").unwrap()), 2 * per_writer);
    assert_eq!(series[0].desc, desc);
    drop(file);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_kind_reads_back_exactly_as_recorded() {
    let dir = temp_dir("kinds");
    let file = SharedFile::create(&dir, 4 * MB).unwrap();
    let desc = SetDesc {
        metric: "job".into(),
        help: String::new(),
        label_names: vec![],
        labels: vec![],
        fields: vec![
            FieldDesc::new("n", FieldKind::Counter, ""),
            FieldDesc::new("level", FieldKind::Gauge, ""),
            FieldDesc::new("last", FieldKind::LastValue, ""),
            FieldDesc::new("latency_ns", FieldKind::Histogram(HistogramConfig::DEFAULT), ""),
            FieldDesc::new("busy", FieldKind::CounterF64, ""),
            FieldDesc::new("fill", FieldKind::GaugeF64, ""),
            FieldDesc::new("temp", FieldKind::LastValueF64, ""),
        ],
        kept_gauges: vec![],
    };
    let mut w = file.shard(&desc).unwrap();
    let values = [0u64, 1, 31, 1_000, 123_456_789, 100_000_000_000, 100_000_000_001, u64::MAX];
    for (i, &v) in values.iter().enumerate() {
        w.record(&[
            (0, FieldUpdate::Counter(u64::MAX / 4)),
            (1, FieldUpdate::Gauge(if i % 2 == 0 { 5 } else { -7 })),
            (2, FieldUpdate::Last(-(i as i64))),
            (3, FieldUpdate::Observe(v)),
            (4, FieldUpdate::CounterF64(0.25)),
            (5, FieldUpdate::GaugeF64(-0.5)),
            (6, FieldUpdate::LastF64(i as f64 / 4.0)),
        ])
        .unwrap();
    }
    let s = &read_shared(&only_file(&dir)).unwrap()[0].snapshot;
    assert_eq!(s.get("n"), Some(&Value::Counter(u64::MAX)), "saturates, never wraps");
    assert_eq!(s.get("level"), Some(&Value::Gauge(4 * 5 - 4 * 7)));
    let Some(Value::LastValue(last)) = s.get("last") else { panic!() };
    assert_eq!(last.value, -7);
    assert!(last.stamp_ns > 0);
    let Some(Value::Histogram(h)) = s.get("latency_ns") else { panic!() };
    assert_eq!(**h, HistogramSnapshot::from_values(HistogramConfig::DEFAULT, values).unwrap());
    assert_eq!(s.get("busy"), Some(&Value::CounterF64(2.0)));
    assert_eq!(s.get("fill"), Some(&Value::GaugeF64(-4.0)));
    let Some(Value::LastValueF64(t)) = s.get("temp") else { panic!() };
    assert_eq!(t.value, 1.75);
    // An update that does not fit its field records nothing.
    assert!(w.record(&[(0, FieldUpdate::Counter(1)), (1, FieldUpdate::Counter(1))]).is_err());
    assert!(w.record(&[(9, FieldUpdate::Counter(1))]).is_err());
    drop(file);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_living_writers_file_is_not_claimed_and_a_closed_ones_is() {
    let dir = temp_dir("claim");
    let file = SharedFile::create(&dir, MB).unwrap();
    let mut w = file.shard(&pair_set()).unwrap();
    w.record(&[(0, FieldUpdate::Counter(3))]).unwrap();
    let path = file.path().to_path_buf();
    assert!(claim_if_gone(&path).unwrap().is_none(), "its writer holds it");
    drop(w);
    drop(file);
    let gone = claim_if_gone(&path).unwrap().expect("its writer is gone");
    assert!(claim_if_gone(&path).unwrap().is_none(), "one collector at a time");
    assert_eq!(counter(gone.read().unwrap()[0].snapshot.get("total").unwrap()), 3);
    gone.remove().unwrap();
    assert!(claim_if_gone(&path).unwrap().is_none(), "removed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_full_file_says_so_and_what_to_do() {
    let dir = temp_dir("full");
    let file = SharedFile::create(&dir, 64 * 1024).unwrap();
    let desc = SetDesc {
        fields: vec![FieldDesc::new("h", FieldKind::Histogram(HistogramConfig::DEFAULT), "")],
        ..pair_set()
    };
    let err = (0..100).map(|_| file.shard(&desc)).find_map(Result::err).expect("fills up");
    assert!(err.to_string().contains("TALLY_MULTIPROC_CAPACITY_MB"), "{err}");
    drop(file);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The child of the SIGKILL test: records pairs into a fresh file in `dir` until killed.
fn child_records_until_killed(dir: &Path) -> ! {
    let file = SharedFile::create(dir, MB).unwrap();
    let mut w = file.shard(&pair_set()).unwrap();
    std::fs::write(dir.join("ready"), b"").unwrap();
    loop {
        w.record(&[
            (0, FieldUpdate::Counter(1)),
            (1, FieldUpdate::Counter(1)),
            (2, FieldUpdate::Gauge(1)),
        ])
        .unwrap();
    }
}

#[test]
fn a_writer_killed_mid_event_leaves_whole_events_and_its_file_is_claimable() {
    if let Some(dir) = std::env::var_os("TALLY_SHARED_CHILD_DIR") {
        child_records_until_killed(Path::new(&dir));
    }
    let dir = temp_dir("kill");
    for round in 0..5 {
        let _ = std::fs::remove_file(dir.join("ready"));
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_writer_killed_mid_event_leaves_whole_events_and_its_file_is_claimable",
                "--nocapture",
            ])
            .env("TALLY_SHARED_CHILD_DIR", &dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut polls = 0;
        while !dir.join("ready").exists() {
            std::thread::sleep(Duration::from_millis(5));
            polls += 1;
            assert!(polls < 2_000, "the child never started recording");
        }
        // Let it record for a while (a varying while), then SIGKILL it mid-stream.
        std::thread::sleep(Duration::from_millis(20 + 7 * round));
        child.kill().unwrap();
        child.wait().unwrap();
        let path = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "tally"))
            .unwrap();
        let gone =
            claim_if_gone(&path).unwrap().expect("the kernel released a killed writer's lock");
        let s = &gone.read().unwrap()[0].snapshot;
        let total = counter(s.get("total").unwrap());
        assert!(total > 0, "it recorded before it was killed");
        assert_eq!(counter(s.get("ok").unwrap()), total, "its last event whole or absent");
        assert_eq!(s.get("in_flight"), Some(&Value::Gauge(total as i64)));
        gone.remove().unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn total_of(snapshot: &tally_snapshot::RegistrySnapshot, metric: &str, field: &str) -> Value {
    let m = &snapshot.metrics[metric];
    assert_eq!(m.series.len(), 1, "{m:?}");
    m.series[0].snapshot.get(field).unwrap().clone()
}

#[test]
fn exited_processes_are_folded_once_their_gauges_dropped_unless_kept_and_their_files_removed() {
    let dir = temp_dir("collect");
    tally_core::reset_shared(&dir).unwrap();
    let kept =
        SetDesc { metric: "kept".into(), kept_gauges: vec!["in_flight".into()], ..pair_set() };
    let record = |file: &std::sync::Arc<SharedFile>, n: u64| {
        for desc in [pair_set(), kept.clone()] {
            let mut w = file.shard(&desc).unwrap();
            for _ in 0..n {
                w.record(&[
                    (0, FieldUpdate::Counter(1)),
                    (1, FieldUpdate::Counter(1)),
                    (2, FieldUpdate::Gauge(1)),
                ])
                .unwrap();
            }
        }
    };
    let exited = SharedFile::create(&dir, MB).unwrap();
    record(&exited, 5);
    let living = SharedFile::create(&dir, MB).unwrap();
    record(&living, 7);
    let c = tally_core::collect_shared(&dir).unwrap();
    assert_eq!((c.live, c.folded), (2, 0));
    assert_eq!(total_of(&c.snapshot, "requests", "total"), Value::Counter(12));
    assert_eq!(total_of(&c.snapshot, "requests", "in_flight"), Value::Gauge(12));

    drop(exited);
    for round in 0..3 {
        let c = tally_core::collect_shared(&dir).unwrap();
        assert_eq!((c.live, c.folded), (1, if round == 0 { 1 } else { 0 }));
        assert_eq!(total_of(&c.snapshot, "requests", "total"), Value::Counter(12), "folded once");
        assert_eq!(total_of(&c.snapshot, "requests", "in_flight"), Value::Gauge(7), "dropped");
        assert_eq!(total_of(&c.snapshot, "kept", "in_flight"), Value::Gauge(12), "kept");
    }
    let tally_files = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "tally"))
        .count();
    assert_eq!(tally_files, 1, "the exited process's file is gone");
    drop(living);
    tally_core::reset_shared(&dir).unwrap();
    assert!(tally_core::collect_shared(&dir).unwrap().snapshot.metrics.is_empty(), "a fresh start");
    let _ = std::fs::remove_dir_all(&dir);
}
