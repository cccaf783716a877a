//! One OTLP push of 10,000 series: `tally-otlp` against the OpenTelemetry SDK's own OTLP
//! exporter (`opentelemetry-otlp`, HTTP/protobuf) on the same data, both posting to the
//! same local receiver.
//!
//! The workload is [`encode`](crate::encode)'s: one series per value of a `model` label,
//! five counters and a gauge each (60,000 points). tally: `OtlpExporter::collect` of the
//! registry's snapshot (convert and encode) and `flush` (post), the snapshot taken inside
//! the timed case. OpenTelemetry: `ManualReader::collect` (the SDK's collection) and
//! `MetricExporter::export` (its conversion to the OTLP types, encoding and post), with
//! the exporter's HTTP client a blocking `ureq` post, so that both pay the same transport.
//! The receiver reads each body and answers 200; the first round of each is decoded and
//! its points counted and summed, so both are checked to send the same data.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{Instrument, ManualReader, SdkMeterProvider, Stream, Temporality};
use prost::Message;

use crate::contenders::SharedReader;
use crate::tally_registry;
use crate::time_cases;

/// One push's times: the SDK first.
#[derive(Debug, Clone)]
pub struct OtlpTimes {
    /// Series pushed.
    pub series: usize,
    /// Case name, (min, median) per push, and the body size in bytes.
    pub cases: Vec<(&'static str, Duration, Duration, usize)>,
    /// Parts of a push: name, (min, median).
    pub parts: Vec<(&'static str, Duration, Duration)>,
}

/// What the receiver got: bodies, and the first body of each sender decoded.
#[derive(Default)]
struct Received {
    last_len: usize,
    decode_next: bool,
    decoded: Option<ExportMetricsServiceRequest>,
}

/// A local OTLP/HTTP receiver: reads each body, answers 200.
struct Sink {
    url: String,
    server: Arc<tiny_http::Server>,
    state: Arc<Mutex<Received>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sink {
    fn start() -> Sink {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("a free port"));
        let url = format!("http://{}/v1/metrics", server.server_addr().to_ip().expect("IP"));
        let state = Arc::new(Mutex::new(Received::default()));
        let thread = {
            let (server, state) = (Arc::clone(&server), Arc::clone(&state));
            std::thread::spawn(move || {
                let mut body = Vec::with_capacity(1 << 22);
                for mut request in server.incoming_requests() {
                    body.clear();
                    let _ = request.as_reader().read_to_end(&mut body);
                    let mut s = state.lock().expect("not poisoned");
                    s.last_len = body.len();
                    if s.decode_next {
                        s.decode_next = false;
                        s.decoded = ExportMetricsServiceRequest::decode(body.as_slice()).ok();
                    }
                    drop(s);
                    let _ = request.respond(tiny_http::Response::empty(200));
                }
            })
        };
        Sink { url, server, state, thread: Some(thread) }
    }

    /// Decodes the next body received.
    fn decode_next(&self) {
        self.state.lock().expect("not poisoned").decode_next = true;
    }

    fn take_decoded(&self) -> ExportMetricsServiceRequest {
        self.state.lock().expect("not poisoned").decoded.take().expect("a decodable body")
    }

    fn last_len(&self) -> usize {
        self.state.lock().expect("not poisoned").last_len
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The SDK exporter's HTTP client: a blocking `ureq` post, as `tally-otlp` makes.
#[derive(Debug)]
struct UreqClient(ureq::Agent);

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for UreqClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let (parts, body) = request.into_parts();
        let mut post = self.0.post(parts.uri.to_string());
        for (name, value) in &parts.headers {
            post = post.header(name.as_str(), value.to_str()?);
        }
        let mut response = post.send(&body[..])?;
        let status = response.status();
        let bytes = response.body_mut().read_to_vec()?;
        Ok(http::Response::builder().status(status).body(bytes::Bytes::from(bytes))?)
    }
}

const COUNTERS: [&str; 5] = ["requests", "ok", "failed", "hits", "misses"];

/// The OpenTelemetry side: the same series and values as [`tally_registry`]`(series, false)`.
fn otel_provider(series: usize) -> (SdkMeterProvider, SharedReader) {
    let reader = SharedReader(Arc::new(
        ManualReader::builder().with_temporality(Temporality::Cumulative).build(),
    ));
    // The SDK keeps 2,000 series per instrument unless told otherwise (the rest go to one
    // overflow series): a view raises the limit to the workload's.
    let provider = SdkMeterProvider::builder()
        .with_reader(reader.clone())
        .with_view(move |_: &Instrument| {
            Stream::builder().with_cardinality_limit(series + 1).build().ok()
        })
        .build();
    let meter = provider.meter("tally-benches");
    let counters = COUNTERS.map(|n| meter.u64_counter(format!("app_{n}")).build());
    let in_flight = meter.i64_up_down_counter("app_in_flight").build();
    for i in 0..series {
        let attrs = [KeyValue::new("model", format!("model-{i:05}"))];
        let values = [i as u64 + 10, i as u64 + 7, 3, i as u64, 10];
        for (c, v) in counters.iter().zip(values) {
            c.add(v, &attrs);
        }
        in_flight.add(i as i64 % 5, &attrs);
    }
    (provider, reader)
}

/// Points and the sum of their integer values, over every metric of a request.
fn points_and_sum(request: &ExportMetricsServiceRequest) -> (usize, i128) {
    let (mut points, mut sum) = (0, 0i128);
    for rm in &request.resource_metrics {
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                let numbers = match &m.data {
                    Some(Data::Sum(s)) => &s.data_points,
                    Some(Data::Gauge(g)) => &g.data_points,
                    _ => continue,
                };
                for p in numbers {
                    points += 1;
                    if let Some(number_data_point::Value::AsInt(v)) = p.value {
                        sum += i128::from(v);
                    }
                }
            }
        }
    }
    (points, sum)
}

/// Both exporters on `series` series, `runs` interleaved pushes each. Panics if they do
/// not send the same points with the same values.
pub fn otlp_compare(series: usize, runs: usize) -> OtlpTimes {
    let sink = Sink::start();
    let registry = tally_registry(series, false);
    let mut tally = tally_otlp::OtlpExporter::builder()
        .metrics_endpoint(&sink.url)
        .service_name("bench")
        .build()
        .expect("a valid endpoint");
    let (_provider, reader) = otel_provider(series);
    let otel = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_http_client(UreqClient(ureq::Agent::new_with_defaults()))
        .with_endpoint(sink.url.clone())
        .build()
        .expect("an exporter");
    let failed = AtomicBool::new(false);
    let mut rm = ResourceMetrics::default();

    // Check first: both send the same points and values.
    sink.decode_next();
    tally.collect(&registry.snapshot());
    tally.flush().expect("the sink accepts");
    let tally_sent = points_and_sum(&sink.take_decoded());
    sink.decode_next();
    reader.collect(&mut rm).expect("the provider is alive");
    futures_executor::block_on(otel.export(&rm)).expect("the sink accepts");
    let otel_sent = points_and_sum(&sink.take_decoded());
    assert_eq!(tally_sent, otel_sent, "(points, sum of values): tally vs OpenTelemetry");
    assert_eq!(tally_sent.0, series * 6);

    let (mut tally_len, mut otel_len) = (0, 0);
    let mut parts_rm = ResourceMetrics::default();
    let snapshot = registry.snapshot();
    let mut converter = tally_otlp::OtlpExporter::builder()
        .metrics_endpoint(&sink.url)
        .service_name("bench")
        .build()
        .expect("a valid endpoint");
    let times = time_cases(
        runs,
        &mut [
            &mut || {
                reader.collect(&mut rm).expect("the provider is alive");
                if futures_executor::block_on(otel.export(&rm)).is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                otel_len = sink.last_len();
            },
            &mut || {
                tally.collect(&registry.snapshot());
                if tally.flush().is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                tally_len = sink.last_len();
            },
            // The parts, for the breakdown.
            &mut || {
                reader.collect(&mut parts_rm).expect("the provider is alive");
            },
            &mut || {
                std::hint::black_box(registry.snapshot());
            },
            &mut || {
                // Converted and encoded into a queued batch, never posted (the queue keeps
                // the newest 16; older batches are dropped as they would be).
                converter.collect(std::hint::black_box(&snapshot));
            },
        ],
    );
    assert!(!failed.load(Ordering::Relaxed), "every push was accepted");
    OtlpTimes {
        series,
        cases: vec![
            (
                "OpenTelemetry SDK 0.33: `collect` + `opentelemetry-otlp` `export`",
                times[0].0,
                times[0].1,
                otel_len,
            ),
            ("tally-otlp: `snapshot` + `collect` + `flush`", times[1].0, times[1].1, tally_len),
        ],
        parts: vec![
            ("OpenTelemetry: `ManualReader::collect` alone", times[2].0, times[2].1),
            ("tally: `Registry::snapshot` alone", times[3].0, times[3].1),
            (
                "tally-otlp: convert + encode a snapshot into a batch (`collect`, no post)",
                times[4].0,
                times[4].1,
            ),
        ],
    }
}

/// The comparison as a Markdown table.
pub fn otlp_table(t: &OtlpTimes) -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "| exporter | min per push | median per push | ns/series (min) | body | speed-up (min) | speed-up (median) |\n\
         |:--|--:|--:|--:|--:|--:|--:|\n",
    );
    let (_, sdk_min, sdk_med, _) = t.cases[0];
    for &(name, min, med, len) in &t.cases {
        let _ = writeln!(
            out,
            "| {name} | {:.2} ms | {:.2} ms | {:.0} | {:.0} KiB | {:.1}× | {:.1}× |",
            min.as_secs_f64() * 1e3,
            med.as_secs_f64() * 1e3,
            min.as_nanos() as f64 / t.series as f64,
            len as f64 / 1024.0,
            sdk_min.as_secs_f64() / min.as_secs_f64(),
            sdk_med.as_secs_f64() / med.as_secs_f64(),
        );
    }
    for &(name, min, med) in &t.parts {
        let _ = writeln!(
            out,
            "| part: {name} | {:.2} ms | {:.2} ms | {:.0} | | | |",
            min.as_secs_f64() * 1e3,
            med.as_secs_f64() * 1e3,
            min.as_nanos() as f64 / t.series as f64,
        );
    }
    out
}
