//! Snapshots travel between processes as messages and merge exactly: child processes (this
//! test binary, re-executed with `TALLY_CROSS_PROCESS_CHILD` set) each record a known
//! workload and send their `RegistrySnapshot` over their stdout pipe; the parent merges
//! them. A child that sends garbage, a cut-off frame, nothing, or a snapshot of another
//! schema is reported with a clear error, and the other children's snapshots still merge
//! exactly: nothing lost, nothing counted twice.
//!
//! A plain `main` (`harness = false`): a child's stdout carries its frame and nothing else.
//! Arguments that do not start with `-` filter the checks by name, as libtest's do.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::thread;

use tally::{Family, Registry, RegistrySnapshot, Value};

#[path = "../examples/support/wire.rs"]
mod wire;

use wire::WireError;

/// Set in a child's environment to its role (see [`child`]).
const CHILD_ENV: &str = "TALLY_CROSS_PROCESS_CHILD";

tally::metric_set! {
    /// One event per request.
    struct Work {
        /// Requests handled.
        requests: Counter,
        /// Requests that failed.
        failed: Counter,
        /// Bytes sent.
        bytes: Counter,
        /// Time per request, in nanoseconds.
        latency_ns: Histogram,
    }
}

tally::metric_set! {
    /// Per-model counts (a labelled family).
    struct PerModel {
        /// Requests for this model.
        requests: Counter,
        /// Prompt sizes, in tokens.
        prompt_tokens: Histogram,
    }
}

tally::metric_set! {
    /// Per-tenant counts, in a family whose cardinality limit is below the number of
    /// tenants: each process sends an overflow series.
    struct PerTenant {
        /// Requests for this tenant.
        requests: Counter,
    }
}

/// More tenants than [`TENANT_LIMIT`]: every process overflows.
const TENANTS: [&str; 5] = ["t0", "t1", "t2", "t3", "t4"];
const TENANT_LIMIT: usize = 2;

/// The tenant of request `k` in child `i`: each child meets the tenants in another order,
/// so each keeps other tenants and overflows others.
fn tenant(i: u64, k: u64) -> &'static str {
    TENANTS[((k / 7 + i * 2) % TENANTS.len() as u64) as usize]
}

fn register_tenants(registry: &Registry) -> Arc<Family<PerTenant>> {
    registry
        .metric("per_tenant")
        .help("Requests by tenant.")
        .cardinality_limit(TENANT_LIMIT)
        .family(&["tenant"])
        .expect("fresh registry")
}

/// Child `i` of the tenant runs records requests `0..tenant_requests(i)`.
fn tenant_requests(i: u64) -> u64 {
    1_000 + 333 * i
}

fn record_tenants(family: &Family<PerTenant>, i: u64) {
    for k in 0..tenant_requests(i) {
        family.with(&[tenant(i, k)], |t| t.requests().inc()).expect("one label value");
    }
}

tally::metric_set! {
    /// `work` with other fields: a snapshot that cannot merge with the others.
    struct OtherWork {
        /// Not the same fields.
        something_else: Counter,
    }
}

const MODELS: [&str; 3] = ["bert", "llama", "resnet"];
const THREADS: u64 = 3;

fn register(registry: &Registry) -> (Arc<Work>, Arc<Family<PerModel>>) {
    let work = registry.register::<Work>("work", "Requests.").expect("fresh registry");
    let models = registry
        .metric("per_model")
        .help("Requests by model.")
        .family(&["model"])
        .expect("fresh registry");
    (work, models)
}

/// Request `k`: failed, bytes, latency (ns), model, prompt tokens. Wide latencies, so that
/// many histogram buckets are in play.
fn request(k: u64) -> (bool, u64, u64, usize, u64) {
    let latency = 1 + (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 30);
    (k % 11 == 5, 100 + k % 900, latency, (k % 3) as usize, 1 + k % 4096)
}

/// Records requests `first..first + n` from [`THREADS`] threads.
fn record(work: &Work, models: &Family<PerModel>, first: u64, n: u64) {
    thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                for k in (first + t..first + n).step_by(THREADS as usize) {
                    let (failed, bytes, latency, model, tokens) = request(k);
                    work.record(|e| {
                        e.requests().inc();
                        if failed {
                            e.failed().inc();
                        }
                        e.bytes().add(bytes);
                        e.latency_ns().record(latency);
                    });
                    models
                        .with(&[MODELS[model]], |m| {
                            m.record(|e| {
                                e.requests().inc();
                                e.prompt_tokens().record(tokens);
                            })
                        })
                        .expect("one label value");
                }
            });
        }
    });
}

/// What child `i` of a run is told to record: requests `first..first + n`.
fn workload(i: u64) -> (u64, u64) {
    (i * 100_000, 5_000 + 1_700 * i)
}

/// The child's side: record, then send (or misbehave, by role).
fn child(role: &str) {
    let mut words = role.split(':');
    let (kind, i) = (words.next().unwrap_or(""), words.next().and_then(|w| w.parse().ok()));
    let mut stdout = std::io::stdout().lock();
    let registry = Registry::new();
    let snapshot = |registry: &Registry| {
        let (work, models) = register(registry);
        let (first, n) = workload(i.expect("a child index"));
        record(&work, &models, first, n);
        registry.snapshot()
    };
    let frame = |snap: &RegistrySnapshot| {
        let mut buf = Vec::new();
        wire::write_frame(&mut buf, snap).expect("to a Vec");
        buf
    };
    use std::io::Write;
    match kind {
        "good" => wire::write_frame(&mut stdout, &snapshot(&registry)).expect("stdout"),
        "garbage" => {
            let noise: Vec<u8> =
                (0..4096u32).map(|b| (b.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
            stdout.write_all(&noise).expect("stdout");
        }
        "truncated" => {
            let frame = frame(&snapshot(&registry));
            stdout.write_all(&frame[..frame.len() * 2 / 3]).expect("stdout");
        }
        "crash" => {
            let frame = frame(&snapshot(&registry));
            stdout.write_all(&frame[..frame.len() / 2]).expect("stdout");
            stdout.flush().expect("stdout");
            std::process::exit(3);
        }
        "silent" => {}
        "tenants" => {
            let family = register_tenants(&registry);
            record_tenants(&family, i.expect("a child index"));
            wire::write_frame(&mut stdout, &registry.snapshot()).expect("stdout");
        }
        "other_schema" => {
            let other = registry.register::<OtherWork>("work", "Not the same.").expect("fresh");
            other.something_else().add(7);
            wire::write_frame(&mut stdout, &registry.snapshot()).expect("stdout");
        }
        _ => panic!("unknown child role {role:?}"),
    }
}

/// Why a child's snapshot was not used.
#[derive(Debug, thiserror::Error)]
enum ChildError {
    /// It exited with a failure (what it sent before is discarded).
    #[error("the child exited with {0}; what it sent is discarded")]
    Exit(ExitStatus),
    /// It exited cleanly, but its frame is bad.
    #[error("the child's snapshot is unusable: {0}")]
    Wire(WireError),
}

fn spawn(role: &str) -> Child {
    Command::new(std::env::current_exe().expect("the test binary"))
        .env(CHILD_ENV, role)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn a child")
}

fn collect(child: Child) -> Result<RegistrySnapshot, ChildError> {
    let output = child.wait_with_output().expect("wait for a child");
    if !output.status.success() {
        return Err(ChildError::Exit(output.status));
    }
    wire::decode_frame(&output.stdout).map_err(ChildError::Wire)
}

/// One registry that recorded the workloads of these children itself.
fn reference(children: &[u64]) -> RegistrySnapshot {
    let registry = Registry::new();
    let (work, models) = register(&registry);
    for &i in children {
        let (first, n) = workload(i);
        record(&work, &models, first, n);
    }
    registry.snapshot()
}

fn counter(snap: &RegistrySnapshot, metric: &str, labels: &[&str], field: &str) -> u64 {
    let series = snap.metrics[metric].series.iter().find(|s| s.labels == labels).expect("series");
    match series.snapshot.get(field) {
        Some(Value::Counter(n)) => *n,
        other => panic!("{metric}.{field}: {other:?}"),
    }
}

fn merged_snapshots_of_children_equal_the_sum_of_their_workloads() {
    let children = [0, 1, 2, 3];
    let spawned: Vec<Child> = children.iter().map(|i| spawn(&format!("good:{i}"))).collect();
    let mut merged = RegistrySnapshot::default();
    for child in spawned {
        let snapshot = collect(child).expect("a good child's snapshot");
        merged.try_merge(&snapshot).expect("same schema");
    }
    // The sum of what each child was told, computed without tally.
    let (mut requests, mut failed, mut bytes, mut latency_sum) = (0, 0, 0, 0u128);
    let mut per_model = [0u64; 3];
    for &i in &children {
        let (first, n) = workload(i);
        for k in first..first + n {
            let (f, b, l, m, _) = request(k);
            requests += 1;
            failed += u64::from(f);
            bytes += b;
            latency_sum += u128::from(l);
            per_model[m] += 1;
        }
    }
    assert_eq!(counter(&merged, "work", &[], "requests"), requests);
    assert_eq!(counter(&merged, "work", &[], "failed"), failed);
    assert_eq!(counter(&merged, "work", &[], "bytes"), bytes);
    match merged.metrics["work"].series[0].snapshot.get("latency_ns") {
        Some(Value::Histogram(h)) => assert_eq!((h.count(), h.sum()), (requests, latency_sum)),
        other => panic!("{other:?}"),
    }
    for (m, model) in MODELS.iter().enumerate() {
        assert_eq!(counter(&merged, "per_model", &[model], "requests"), per_model[m]);
    }
    // Bucket for bucket, the merge is what one process recording everything holds.
    assert_eq!(merged, reference(&children));
}

fn a_child_sending_garbage_or_a_cut_off_frame_is_reported_and_the_others_merge_exactly() {
    let roles = [
        "good:0",
        "garbage:1",
        "good:2",
        "truncated:3",
        "crash:4",
        "silent:5",
        "other_schema:6",
        "good:7",
    ];
    let spawned: Vec<(&str, Child)> = roles.iter().map(|r| (*r, spawn(r))).collect();
    let mut merged = RegistrySnapshot::default();
    let mut errors = Vec::new();
    for (role, child) in spawned {
        match collect(child) {
            Ok(snapshot) => {
                if let Err(e) = merged.try_merge(&snapshot) {
                    errors.push((role, e.to_string()));
                }
            }
            Err(e) => errors.push((role, e.to_string())),
        }
    }
    let find = |role: &str| {
        errors
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, e)| e.clone())
            .unwrap_or_else(|| panic!("no error for {role}: {errors:?}"))
    };
    assert!(find("garbage:1").contains("does not start with a `tally-snapshot 1"), "{errors:?}");
    assert!(find("truncated:3").contains("the frame is truncated"), "{errors:?}");
    assert!(find("crash:4").contains("exited with exit status: 3"), "{errors:?}");
    assert!(find("silent:5").contains("sent nothing"), "{errors:?}");
    assert!(find("other_schema:6").contains("metric `work`"), "{errors:?}");
    assert_eq!(errors.len(), 5, "{errors:?}");
    // The messages say what happened.
    let truncated = wire::decode_frame(b"tally-snapshot 1 100\n{\"metrics\":").unwrap_err();
    assert_eq!(
        truncated.to_string(),
        "the frame is truncated: the header announced 100 bytes but 11 arrived (the sender \
         died or was cut off mid-write)"
    );
    // Nothing of the good children is lost, and nothing of the bad ones got in.
    assert_eq!(merged, reference(&[0, 2, 7]));
}

fn merging_in_any_order_gives_the_same_snapshot() {
    let snapshots: Vec<RegistrySnapshot> = [0, 1, 2]
        .iter()
        .map(|i| spawn(&format!("good:{i}")))
        .map(|c| collect(c).unwrap())
        .collect();
    let mut forward = RegistrySnapshot::default();
    let mut backward = RegistrySnapshot::default();
    for s in &snapshots {
        forward.try_merge(s).unwrap();
    }
    for s in snapshots.iter().rev() {
        backward.try_merge(s).unwrap();
    }
    assert_eq!(forward, backward);
    assert_eq!(forward, reference(&[0, 1, 2]));
}

/// The sum of `per_tenant`'s requests over all its series, and the series' labels.
fn tenant_totals(snap: &RegistrySnapshot) -> (u64, Vec<Vec<String>>) {
    let metric = &snap.metrics["per_tenant"];
    let total = metric
        .series
        .iter()
        .map(|s| match s.snapshot.get("requests") {
            Some(Value::Counter(n)) => *n,
            other => panic!("{other:?}"),
        })
        .sum();
    (total, metric.series.iter().map(|s| s.labels.clone()).collect())
}

/// Regression (a merge lost counts once a family had overflowed: the overflow series came
/// last, the merge looked series up by binary search, duplicated them, and the encoder
/// dropped the duplicates). Children whose families overflowed, merged in every order,
/// hold exactly what was recorded, in total equal to one registry that recorded
/// everything; the exposition of the merge writes every count once.
fn merges_of_overflowed_families_from_several_processes_lose_nothing_in_any_order() {
    let children = [0u64, 1, 2];
    let snapshots: Vec<RegistrySnapshot> = children
        .iter()
        .map(|i| spawn(&format!("tenants:{i}")))
        .map(|c| collect(c).expect("a tenants child's snapshot"))
        .collect();
    let recorded: u64 = children.iter().map(|&i| tenant_requests(i)).sum();
    // Every child overflowed.
    for s in &snapshots {
        assert_eq!(s.metrics["per_tenant"].series.len(), TENANT_LIMIT + 1, "{s:?}");
    }
    // One registry recording everything (its overflow holds other tenants: compare totals).
    let single = Registry::new();
    let family = register_tenants(&single);
    for &i in &children {
        record_tenants(&family, i);
    }
    assert_eq!(tenant_totals(&single.snapshot()).0, recorded);

    let orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    let mut first: Option<RegistrySnapshot> = None;
    for order in orders {
        let mut merged = RegistrySnapshot::default();
        for i in order {
            merged.try_merge(&snapshots[i]).expect("same schema");
        }
        // A snapshot merged with itself, as `merge(rs, rs)` in Python: twice the counts.
        let mut doubled = merged.clone();
        doubled.try_merge(&merged).expect("same schema");

        for (snap, times) in [(&merged, 1), (&doubled, 2)] {
            let (total, labels) = tenant_totals(snap);
            assert_eq!(total, times * recorded, "order {order:?}");
            assert!(labels.windows(2).all(|w| w[0] < w[1]), "not sorted or duplicated: {labels:?}");
            snap.validate().expect("a merge of valid snapshots is valid");
            // What an exporter writes: every count once.
            let mut text = String::new();
            let report = tally_prometheus::encode(
                snap,
                tally_prometheus::Format::Text,
                &Default::default(),
                &mut text,
            );
            assert!(report.skipped.is_empty(), "{:?}", report.skipped);
            let exposed: u64 = text
                .lines()
                .filter(|l| l.starts_with("per_tenant_requests_total{"))
                .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
                .sum();
            assert_eq!(exposed, times * recorded, "order {order:?}:\n{text}");
        }
        match &first {
            None => first = Some(merged),
            Some(f) => assert_eq!(&merged, f, "the merge depends on the order"),
        }
    }
}

fn frames_that_are_not_snapshots_are_refused_with_what_is_wrong() {
    let cases: [(&[u8], &str); 5] = [
        (b"", "sent nothing"),
        (b"HTTP/1.1 200 OK\r\n\r\n", "header line"),
        (b"tally-snapshot 2 2\n{}", "header line"),
        (b"tally-snapshot 1 2\n{}{}", "2 bytes follow the frame"),
        (b"tally-snapshot 1 13\n{\"metrics\":1}", "not a valid registry snapshot"),
    ];
    for (bytes, says) in cases {
        let err = wire::decode_frame(bytes).unwrap_err().to_string();
        assert!(err.contains(says), "{:?}: {err}", String::from_utf8_lossy(bytes));
    }
    let huge = format!("tally-snapshot 1 {}\n", wire::MAX_FRAME + 1);
    assert!(matches!(wire::decode_frame(huge.as_bytes()), Err(WireError::TooLarge { .. })));
    // And a good one round-trips.
    let registry = Registry::new();
    let (w, m) = register(&registry);
    record(&w, &m, 0, 10);
    let mut buf = Vec::new();
    wire::write_frame(&mut buf, &registry.snapshot()).unwrap();
    assert_eq!(wire::decode_frame(&buf).unwrap(), registry.snapshot());
}

fn main() {
    if let Ok(role) = std::env::var(CHILD_ENV) {
        return child(&role);
    }
    let checks: [(&str, fn()); 5] = [
        (
            "merged_snapshots_of_children_equal_the_sum_of_their_workloads",
            merged_snapshots_of_children_equal_the_sum_of_their_workloads,
        ),
        (
            "a_child_sending_garbage_or_a_cut_off_frame_is_reported_and_the_others_merge_exactly",
            a_child_sending_garbage_or_a_cut_off_frame_is_reported_and_the_others_merge_exactly,
        ),
        (
            "merging_in_any_order_gives_the_same_snapshot",
            merging_in_any_order_gives_the_same_snapshot,
        ),
        (
            "merges_of_overflowed_families_from_several_processes_lose_nothing_in_any_order",
            merges_of_overflowed_families_from_several_processes_lose_nothing_in_any_order,
        ),
        (
            "frames_that_are_not_snapshots_are_refused_with_what_is_wrong",
            frames_that_are_not_snapshots_are_refused_with_what_is_wrong,
        ),
    ];
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let mut ran = 0;
    for (name, check) in checks {
        if filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())) {
            println!("test {name} ...");
            check();
            println!("test {name} ... ok");
            ran += 1;
        }
    }
    println!("test result: ok. {ran} passed (cross-process, own harness)");
}
