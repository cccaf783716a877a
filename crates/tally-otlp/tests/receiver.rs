//! The exporter against a real OTLP/HTTP receiver that decodes every post with the
//! official generated types: what arrives is the snapshot, field for field; deltas add up
//! to the totals exactly; a receiver that fails loses nothing the buffer holds, and what
//! the buffer cannot hold is reported exactly.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Answer, BlackHole, Receiver};
use tally::{Family, HistogramConfig, Registry, RegistrySnapshot, Value};
use tally_otlp::opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use tally_otlp::opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use tally_otlp::opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ExponentialHistogramDataPoint, Metric, NumberDataPoint, metric::Data,
    number_data_point,
};
use tally_otlp::{DropReason, OtlpExporter, Temporality};

tally::metric_set! {
    /// A model's batch work.
    struct Work {
        /// Requests handled.
        requests: Counter,
        /// Requests that failed.
        failed: Counter,
        /// Accelerator time, summed.
        gpu_busy: CounterF64 in Seconds,
        /// Requests waiting.
        queued: Gauge,
        /// Cache fill.
        fill: GaugeF64 in Ratio,
        /// Time per request, in nanoseconds.
        latency_ns: Histogram,
    }
}

const MODELS: [&str; 3] = ["bert", "llama", "resnet"];

/// A registry with a labelled family of `Work`, and the latencies recorded, per model.
struct Workload {
    registry: Registry,
    work: std::sync::Arc<Family<Work>>,
    latencies: BTreeMap<&'static str, Vec<u64>>,
    recorded: u64,
}

impl Workload {
    fn new() -> Workload {
        let registry = Registry::new();
        let work = registry.metric("work").help("Batch work.").family(&["model"]).unwrap();
        Workload { registry, work, latencies: BTreeMap::new(), recorded: 0 }
    }

    /// Records `n` requests, spread over the models.
    fn record(&mut self, n: u64) {
        for _ in 0..n {
            let k = self.recorded;
            self.recorded += 1;
            let model = MODELS[(k % 3) as usize];
            // 0 ns now and then (the zero bucket), else 1 µs to ~1.3 s.
            let latency = if k.is_multiple_of(97) {
                0
            } else {
                1_000 + k.wrapping_mul(2_654_435_761) % 1_000_000_000
            };
            self.latencies.entry(model).or_default().push(latency);
            self.work
                .with(&[model], |w| {
                    w.record(|e| {
                        e.requests().inc();
                        if k % 10 == 3 {
                            e.failed().inc();
                        }
                        e.gpu_busy().add(0.25);
                        e.queued().add(if k.is_multiple_of(2) { 1 } else { -1 });
                        e.fill().add(0.125);
                        e.latency_ns().record(latency);
                    })
                })
                .unwrap();
        }
    }

    fn snapshot(&self) -> RegistrySnapshot {
        self.registry.snapshot()
    }
}

fn metrics(request: &ExportMetricsServiceRequest) -> &[Metric] {
    &request.resource_metrics[0].scope_metrics[0].metrics
}

fn metric<'a>(request: &'a ExportMetricsServiceRequest, name: &str) -> &'a Metric {
    metrics(request)
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name} in {:?}", names(request)))
}

fn names(request: &ExportMetricsServiceRequest) -> Vec<&str> {
    metrics(request).iter().map(|m| m.name.as_str()).collect()
}

fn model_of(attributes: &[KeyValue]) -> String {
    let kv = attributes.iter().find(|kv| kv.key == "model").expect("a model attribute");
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        other => panic!("model is {other:?}"),
    }
}

fn number_points(m: &Metric) -> (&[NumberDataPoint], Option<(i32, bool)>) {
    match &m.data {
        Some(Data::Sum(s)) => (&s.data_points, Some((s.aggregation_temporality, s.is_monotonic))),
        Some(Data::Gauge(g)) => (&g.data_points, None),
        other => panic!("{} is {other:?}", m.name),
    }
}

fn histogram_points(m: &Metric) -> (&[ExponentialHistogramDataPoint], i32) {
    match &m.data {
        Some(Data::ExponentialHistogram(h)) => (&h.data_points, h.aggregation_temporality),
        other => panic!("{} is {other:?}", m.name),
    }
}

fn point_for<'a, P>(points: &'a [P], model: &str, attrs: impl Fn(&P) -> &[KeyValue]) -> &'a P {
    points
        .iter()
        .find(|p| model_of(attrs(p)) == model)
        .unwrap_or_else(|| panic!("no {model} point"))
}

/// The OTLP bucket bounds `(base^i, base^(i+1)]` at `scale`.
fn bucket_upper(scale: i32, index: i32) -> f64 {
    (f64::from(index + 1) * (-f64::from(scale)).exp2()).exp2()
}

/// Buckets `index -> count` of exponential points, summed.
fn summed_buckets<'a>(
    points: impl IntoIterator<Item = &'a ExponentialHistogramDataPoint>,
) -> (i32, BTreeMap<i32, u64>) {
    let mut scale = None;
    let mut buckets = BTreeMap::new();
    for p in points {
        assert!(*scale.get_or_insert(p.scale) == p.scale, "one scale");
        if let Some(b) = &p.positive {
            for (k, &c) in b.bucket_counts.iter().enumerate() {
                *buckets.entry(b.offset + k as i32).or_insert(0) += c;
            }
        }
        assert!(p.negative.as_ref().is_none_or(|n| n.bucket_counts.iter().all(|&c| c == 0)));
    }
    (scale.unwrap_or(0), buckets)
}

/// Each recorded value (in seconds) is counted within the documented bound: the
/// cumulative count at each bucket's upper bound `u` lies between the values
/// `<= u (1 - eps)` and the values `<= u (1 + eps)`.
fn check_buckets_against_values(
    zero: u64,
    scale: i32,
    buckets: &BTreeMap<i32, u64>,
    values_ns: &[u64],
) {
    let eps = HistogramConfig::SECONDS.relative_error() + 1e-12;
    let seconds: Vec<f64> = values_ns.iter().map(|&v| v as f64 / 1e9).collect();
    assert_eq!(zero, values_ns.iter().filter(|&&v| v == 0).count() as u64, "zero_count");
    let mut cumulative = zero;
    for (&i, &c) in buckets {
        cumulative += c;
        let u = bucket_upper(scale, i);
        let hi = seconds.iter().filter(|&&v| v <= u * (1.0 + eps)).count() as u64;
        let lo = seconds.iter().filter(|&&v| v <= u * (1.0 - eps)).count() as u64;
        assert!(
            lo <= cumulative && cumulative <= hi,
            "bucket {i} (.., {u}]: {cumulative} not in [{lo}, {hi}]"
        );
    }
    assert_eq!(cumulative, values_ns.len() as u64, "every value in a bucket");
}

/// A cumulative request is the snapshot, field for field.
fn check_cumulative(
    request: &ExportMetricsServiceRequest,
    snapshot: &RegistrySnapshot,
    w: &Workload,
) {
    let cumulative = AggregationTemporality::Cumulative as i32;
    let work = &snapshot.metrics["work"];
    for series in &work.series {
        let model = series.labels[0].as_str();
        let s = &series.snapshot;
        for (name, field) in [("work_requests", "requests"), ("work_failed", "failed")] {
            let (points, sum) = number_points(metric(request, name));
            assert_eq!(sum, Some((cumulative, true)), "{name} is a cumulative monotonic sum");
            let Some(Value::Counter(v)) = s.get(field) else { panic!("{field}") };
            let p = point_for(points, model, |p| &p.attributes);
            assert_eq!(p.value, Some(number_data_point::Value::AsInt(*v as i64)), "{name} {model}");
        }
        let m = metric(request, "work_gpu_busy_seconds");
        assert_eq!(m.unit, "s");
        let (points, sum) = number_points(m);
        assert_eq!(sum, Some((cumulative, true)));
        let Some(Value::CounterF64(v)) = s.get("gpu_busy") else { panic!("gpu_busy") };
        let p = point_for(points, model, |p| &p.attributes);
        assert_eq!(p.value, Some(number_data_point::Value::AsDouble(*v)), "gpu_busy {model}");
        let (points, sum) = number_points(metric(request, "work_queued"));
        assert_eq!(sum, None, "a gauge");
        let Some(Value::Gauge(v)) = s.get("queued") else { panic!("queued") };
        assert_eq!(
            point_for(points, model, |p| &p.attributes).value,
            Some(number_data_point::Value::AsInt(*v))
        );
        let m = metric(request, "work_fill_ratio");
        assert_eq!(m.unit, "1");
        let Some(Value::GaugeF64(v)) = s.get("fill") else { panic!("fill") };
        let (points, _) = number_points(m);
        assert_eq!(
            point_for(points, model, |p| &p.attributes).value,
            Some(number_data_point::Value::AsDouble(*v))
        );

        let m = metric(request, "work_latency_seconds");
        assert_eq!(
            (m.unit.as_str(), m.description.as_str()),
            ("s", "Time per request, in seconds.")
        );
        let (points, temporality) = histogram_points(m);
        assert_eq!(temporality, cumulative);
        let Some(Value::Histogram(h)) = s.get("latency_ns") else { panic!("latency_ns") };
        let p = point_for(points, model, |p| &p.attributes);
        assert_eq!(p.count, h.count());
        assert_eq!(p.sum, Some(h.config().sum_to_unit(h.sum())));
        assert_eq!(p.min, h.min().map(|v| v as f64 / 1e9));
        assert_eq!(p.max, h.max().map(|v| v as f64 / 1e9));
        assert_eq!(p.scale, 5);
        let (scale, buckets) = summed_buckets([p]);
        check_buckets_against_values(p.zero_count, scale, &buckets, &w.latencies[model]);
    }
}

#[test]
fn a_cumulative_export_decodes_to_the_snapshot_field_for_field() {
    let receiver = Receiver::start();
    let mut w = Workload::new();
    let mut exporter = OtlpExporter::builder()
        .endpoint(&receiver.endpoint)
        .service_name("batch-eval")
        .service_instance_id("worker-3")
        .build()
        .unwrap();
    let mut snapshots = Vec::new();
    for round in 1..=3 {
        w.record(500 * round);
        let snapshot = w.snapshot();
        exporter.collect(&snapshot);
        exporter.flush().unwrap();
        snapshots.push(snapshot);
    }
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 3);
    for (request, snapshot) in accepted.iter().zip(&snapshots) {
        check_cumulative(request, snapshot, &w_at(&w, snapshot));
        let resource = request.resource_metrics[0].resource.as_ref().unwrap();
        let attr =
            |k: &str| resource.attributes.iter().find(|a| a.key == k).and_then(|a| a.value.clone());
        let string = |s: &str| {
            Some(tally_otlp::opentelemetry_proto::tonic::common::v1::AnyValue {
                value: Some(any_value::Value::StringValue(s.to_owned())),
            })
        };
        assert_eq!(attr("service.name"), string("batch-eval"));
        assert_eq!(attr("service.instance.id"), string("worker-3"));
        assert_eq!(
            request.resource_metrics[0].scope_metrics[0].scope.as_ref().unwrap().name,
            "tally"
        );
    }
    // One start for every cumulative point.
    let starts: std::collections::BTreeSet<u64> = accepted
        .iter()
        .flat_map(|r| {
            number_points(metric(r, "work_requests")).0.iter().map(|p| p.start_time_unix_nano)
        })
        .collect();
    assert_eq!(starts.len(), 1, "{starts:?}");
    let report = exporter.report();
    assert_eq!((report.collected, report.exported, report.dropped_batches()), (3, 3, 0));
    assert_eq!(report.points_exported, 3 * 3 * 6, "3 exports of 3 models x 6 fields");
}

/// The workload's latencies as they were when `snapshot` was taken (its counts say how
/// many of each model's values it holds).
fn w_at(w: &Workload, snapshot: &RegistrySnapshot) -> Workload {
    let mut at = Workload::new();
    for series in &snapshot.metrics["work"].series {
        let model = MODELS.iter().find(|m| **m == series.labels[0]).unwrap();
        let Some(Value::Histogram(h)) = series.snapshot.get("latency_ns") else { panic!() };
        at.latencies.insert(model, w.latencies[model][..h.count() as usize].to_vec());
    }
    at
}

/// Sums delta requests per model: counters, float counters, histogram counts and sums
/// and buckets; and checks that the points tile time (each starts where the previous
/// request's ended).
struct DeltaSums {
    requests: BTreeMap<String, i64>,
    failed: BTreeMap<String, i64>,
    gpu_busy: BTreeMap<String, f64>,
    count: BTreeMap<String, u64>,
    sum: BTreeMap<String, f64>,
    zero: BTreeMap<String, u64>,
    points: BTreeMap<String, Vec<ExponentialHistogramDataPoint>>,
}

fn sum_deltas(requests: &[ExportMetricsServiceRequest]) -> DeltaSums {
    let delta = AggregationTemporality::Delta as i32;
    let mut sums = DeltaSums {
        requests: BTreeMap::new(),
        failed: BTreeMap::new(),
        gpu_busy: BTreeMap::new(),
        count: BTreeMap::new(),
        sum: BTreeMap::new(),
        zero: BTreeMap::new(),
        points: BTreeMap::new(),
    };
    for r in requests {
        for (name, into) in
            [("work_requests", &mut sums.requests), ("work_failed", &mut sums.failed)]
        {
            let (points, sum) = number_points(metric(r, name));
            assert_eq!(sum, Some((delta, true)), "{name} is a delta monotonic sum");
            for p in points {
                let Some(number_data_point::Value::AsInt(v)) = p.value else { panic!("{p:?}") };
                *into.entry(model_of(&p.attributes)).or_default() += v;
            }
        }
        for p in number_points(metric(r, "work_gpu_busy_seconds")).0 {
            let Some(number_data_point::Value::AsDouble(v)) = p.value else { panic!("{p:?}") };
            *sums.gpu_busy.entry(model_of(&p.attributes)).or_default() += v;
        }
        let (points, temporality) = histogram_points(metric(r, "work_latency_seconds"));
        assert_eq!(temporality, delta);
        for p in points {
            let model = model_of(&p.attributes);
            assert_eq!((p.min, p.max), (None, None), "a delta's min and max are left out");
            *sums.count.entry(model.clone()).or_default() += p.count;
            *sums.sum.entry(model.clone()).or_default() += p.sum.unwrap();
            *sums.zero.entry(model.clone()).or_default() += p.zero_count;
            sums.points.entry(model).or_default().push(p.clone());
        }
    }
    sums
}

/// The `[start, time]` of each request's points (all points of a request share them).
fn windows(requests: &[ExportMetricsServiceRequest]) -> Vec<(u64, u64)> {
    requests
        .iter()
        .map(|r| {
            let mut w = std::collections::BTreeSet::new();
            for m in metrics(r) {
                match &m.data {
                    Some(Data::Sum(s)) => w.extend(
                        s.data_points.iter().map(|p| (p.start_time_unix_nano, p.time_unix_nano)),
                    ),
                    Some(Data::Gauge(g)) => w.extend(
                        g.data_points.iter().map(|p| (p.start_time_unix_nano, p.time_unix_nano)),
                    ),
                    Some(Data::ExponentialHistogram(h)) => w.extend(
                        h.data_points.iter().map(|p| (p.start_time_unix_nano, p.time_unix_nano)),
                    ),
                    _ => {}
                }
            }
            assert_eq!(w.len(), 1, "one window per request: {w:?}");
            w.into_iter().next().unwrap()
        })
        .collect()
}

#[test]
fn delta_exports_add_up_to_the_final_snapshot_exactly_and_tile_time() {
    let receiver = Receiver::start();
    let mut w = Workload::new();
    let mut exporter = OtlpExporter::builder()
        .endpoint(&receiver.endpoint)
        .temporality(Temporality::Delta)
        .build()
        .unwrap();
    for round in 1..=5 {
        w.record(300 * round + 7);
        exporter.collect(&w.snapshot());
        exporter.flush().unwrap();
    }
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 5);
    let windows = windows(&accepted);
    assert!(
        windows.windows(2).all(|p| p[1].0 == p[0].1),
        "each starts where the previous ended: {windows:?}"
    );
    let sums = sum_deltas(&accepted);
    let last = w.snapshot();
    for series in &last.metrics["work"].series {
        let model = series.labels[0].clone();
        let s = &series.snapshot;
        let Some(Value::Counter(requests)) = s.get("requests") else { panic!() };
        let Some(Value::Counter(failed)) = s.get("failed") else { panic!() };
        let Some(Value::CounterF64(busy)) = s.get("gpu_busy") else { panic!() };
        let Some(Value::Histogram(h)) = s.get("latency_ns") else { panic!() };
        assert_eq!(sums.requests[&model], *requests as i64, "{model}: requests");
        assert_eq!(sums.failed[&model], *failed as i64, "{model}: failed");
        // Quarter seconds: every delta is exact, so the sum is too.
        assert_eq!(sums.gpu_busy[&model], *busy, "{model}: gpu_busy");
        assert_eq!(sums.count[&model], h.count(), "{model}: latency count");
        let exact = h.config().sum_to_unit(h.sum());
        assert!(
            (sums.sum[&model] - exact).abs() <= exact * 1e-12,
            "{model}: sum {} vs {exact}",
            sums.sum[&model]
        );
        let (scale, buckets) = summed_buckets(&sums.points[&model]);
        let model_name = MODELS.iter().find(|m| **m == model).unwrap();
        check_buckets_against_values(sums.zero[&model], scale, &buckets, &w.latencies[model_name]);
    }
}

#[test]
fn a_receiver_that_fails_for_a_while_loses_nothing_the_buffer_holds() {
    let receiver = Receiver::start();
    // 503 and 429 for five posts: the first batch is retried behind them.
    receiver.script([503, 503, 429, 502, 504].map(Answer::Status));
    let mut w = Workload::new();
    let mut exporter = OtlpExporter::builder()
        .endpoint(&receiver.endpoint)
        .temporality(Temporality::Delta)
        .buffer(8)
        .build()
        .unwrap();
    let mut failures = 0;
    for _ in 0..8 {
        w.record(100);
        exporter.collect(&w.snapshot());
        if exporter.flush().is_err() {
            failures += 1;
        }
    }
    assert_eq!(failures, 5);
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 8, "every batch, in order");
    let report = exporter.report();
    assert_eq!((report.exported, report.failed_attempts, report.dropped_batches()), (8, 5, 0));
    let sums = sum_deltas(&accepted);
    assert_eq!(sums.requests.values().sum::<i64>(), 800, "nothing lost");
    assert!(windows(&accepted).windows(2).all(|p| p[1].0 == p[0].1));
}

#[test]
fn beyond_the_buffer_the_oldest_batches_are_dropped_and_reported_exactly() {
    let receiver = Receiver::start();
    receiver.script([503; 6].map(Answer::Status));
    let mut w = Workload::new();
    let mut exporter = OtlpExporter::builder()
        .endpoint(&receiver.endpoint)
        .temporality(Temporality::Delta)
        .buffer(3)
        .build()
        .unwrap();
    // Round r records r + 1 requests, so each batch's count says which it is.
    let mut times = Vec::new();
    for r in 0..10u64 {
        w.record(r + 1);
        let now = std::time::SystemTime::now();
        exporter.collect_at(&w.snapshot(), now);
        times.push(now);
        let _ = exporter.flush();
    }
    let report = exporter.report().clone();
    // Posts 1-6 fail: rounds 0-5 queue up behind them; rounds 0-3 fall out of a 3-batch buffer.
    assert_eq!(report.dropped.len(), 1, "{report:?}");
    let dropped = &report.dropped[0];
    assert_eq!(dropped.reason, DropReason::BufferFull);
    assert_eq!(dropped.batches, 4);
    assert_eq!(dropped.to, times[3], "the last dropped batch is round 3's");
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 6, "rounds 4 to 9");
    let sums = sum_deltas(&accepted);
    let received: i64 = sums.requests.values().sum();
    let dropped_requests: i64 = (0..4).map(|r| r + 1).sum();
    assert_eq!(
        received + dropped_requests,
        w.recorded as i64,
        "received + reported dropped = recorded"
    );
    assert_eq!(received, (4..10).map(|r| r + 1).sum::<i64>());
    // The received windows start where the dropped ones end.
    let windows = windows(&accepted);
    assert_eq!(std::time::UNIX_EPOCH + Duration::from_nanos(windows[0].0), dropped.to);
    assert_eq!(report.dropped_points(), dropped.points);
    assert_eq!(report.exported + report.dropped_batches(), report.collected);
}

#[test]
fn a_refused_batch_is_dropped_and_reported_with_the_receivers_answer() {
    let receiver = Receiver::start();
    receiver.script([Answer::Status(400), Answer::Partial(2, "two points had bad names")]);
    let mut w = Workload::new();
    let mut exporter = OtlpExporter::new(&receiver.endpoint).unwrap();
    for _ in 0..3 {
        w.record(10);
        exporter.collect(&w.snapshot());
    }
    exporter.flush().expect("refusals do not stop the flush");
    let report = exporter.report();
    assert_eq!(report.exported, 2);
    assert_eq!(report.rejected_points, 2);
    assert_eq!(report.dropped.len(), 1);
    let DropReason::Refused { status, message } = &report.dropped[0].reason else {
        panic!("{report:?}")
    };
    assert_eq!((*status, message.as_str()), (400, "scripted 400"));
    assert_eq!(report.last_error.as_deref(), Some("two points had bad names"));
}

#[test]
fn the_loop_exports_on_its_interval_and_its_last_export_holds_the_final_counts() {
    let receiver = Receiver::start();
    let w = std::sync::Arc::new(std::sync::Mutex::new(Workload::new()));
    let exporter = OtlpExporter::new(&receiver.endpoint).unwrap();
    let exporting = exporter
        .every(Duration::from_millis(20), {
            let w = std::sync::Arc::clone(&w);
            move || w.lock().unwrap().snapshot()
        })
        .unwrap();
    // Record until the loop has exported at least twice (bounded by a count of polls).
    let mut polls = 0;
    while exporting.report().exported < 2 {
        w.lock().unwrap().record(50);
        std::thread::sleep(Duration::from_millis(10));
        polls += 1;
        assert!(polls < 3_000, "the loop never exported: {:?}", exporting.report());
    }
    w.lock().unwrap().record(123);
    let report = exporting.finish();
    assert_eq!(report.dropped_batches(), 0, "{report:?}");
    let accepted = receiver.accepted();
    assert_eq!(report.exported as usize, accepted.len());
    let w = w.lock().unwrap();
    check_cumulative(accepted.last().unwrap(), &w.snapshot(), &w);
    let requests: i64 = number_points(metric(accepted.last().unwrap(), "work_requests"))
        .0
        .iter()
        .map(|p| match p.value {
            Some(number_data_point::Value::AsInt(v)) => v,
            _ => panic!(),
        })
        .sum();
    assert_eq!(requests, w.recorded as i64, "the last export has every request");
}

#[test]
fn a_receiver_that_never_answers_costs_the_loop_its_timeouts_and_is_reported_unsent() {
    let hole = BlackHole::start();
    let mut w = Workload::new();
    let exporter = OtlpExporter::builder()
        .endpoint(&hole.endpoint)
        .timeout(Duration::from_millis(100))
        .flush_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    w.record(1_000);
    let snapshot = w.snapshot();
    let report = exporter.finish(&snapshot);
    assert_eq!(report.exported, 0);
    assert!(report.failed_attempts >= 1, "{report:?}");
    assert_eq!(report.dropped.len(), 1, "{report:?}");
    assert_eq!(report.dropped[0].reason, DropReason::Unsent);
    assert_eq!(report.dropped[0].batches, 1);
    assert!(
        report.last_error.as_deref().unwrap_or("").contains("is the OTLP receiver"),
        "{report:?}"
    );
}

tally::metric_set! {
    /// A counter that can exceed what OTLP's signed integers hold.
    struct Big {
        /// Bytes moved.
        moved: Counter,
    }
}

#[test]
fn an_integer_counter_beyond_what_otlp_holds_is_refused_not_rounded() {
    let registry = Registry::new();
    let big = registry.register::<Big>("big", "Big numbers.").unwrap();
    big.record(|e| e.moved().add(u64::MAX - 5));
    let receiver = Receiver::start();
    let mut exporter = OtlpExporter::new(&receiver.endpoint).unwrap();
    exporter.collect(&registry.snapshot());
    exporter.flush().unwrap();
    let report = exporter.report();
    assert_eq!(report.refused_values, 1);
    assert_eq!(report.refused[0].metric, "big_moved");
    assert!(report.refused[0].reason.contains("2^63"), "{:?}", report.refused);
    let accepted = receiver.accepted();
    assert!(metrics(&accepted[0]).iter().all(|m| m.name != "big_moved"), "not sent rounded");
}
