//! The exporter: snapshots in, encoded batches queued (boundedly), batches posted oldest
//! first, and an account of everything that happened to them.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;
use tally_snapshot::RegistrySnapshot;

use crate::ExportError;
use crate::config::{Builder, unix_ns};
use crate::convert::{Converter, Refused, Temporality};
use crate::transport::Client;

/// The most refused values a report lists (all are counted).
const REFUSED_LISTED: usize = 16;

/// Sends registry snapshots to an OTLP/HTTP receiver.
///
/// [`collect`](Self::collect) turns a snapshot into a batch (an encoded
/// `ExportMetricsServiceRequest`) and queues it; [`flush`](Self::flush) posts the queued
/// batches, oldest first. While the receiver is down or overloaded the queue keeps up to
/// [`Builder::buffer`] batches; beyond that the oldest is dropped and recorded in the
/// [`ExportReport`]. [`every`](Self::every) does both on an interval from a thread of its
/// own, with backoff.
#[derive(Debug)]
pub struct OtlpExporter {
    client: Client,
    converter: Converter,
    resource: Vec<(String, String)>,
    queue: VecDeque<Batch>,
    capacity: usize,
    flush_timeout: Duration,
    report: ExportReport,
}

/// One collected snapshot, encoded, waiting to be posted.
#[derive(Debug)]
struct Batch {
    body: Vec<u8>,
    points: u64,
    start_ns: u64,
    time_ns: u64,
}

/// Why batches were dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// The buffer was full (the receiver down or overloaded for longer than it holds):
    /// the oldest batch made room for the newest.
    BufferFull,
    /// The receiver refused the batch (a status other than 429, 502, 503, 504), which no
    /// retry changes.
    Refused {
        /// The status it answered.
        status: u16,
        /// What it said.
        message: String,
    },
    /// The exporter finished with the batch still undelivered (the flush timeout passed).
    Unsent,
}

/// Batches that were dropped, undelivered: consecutive ones dropped for the same reason
/// are one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// Why.
    pub reason: DropReason,
    /// How many batches.
    pub batches: u64,
    /// How many points they held.
    pub points: u64,
    /// The first batch's points' start time: with delta temporality, the counts recorded
    /// from here to [`to`](Self::to) never reached the receiver.
    pub from: SystemTime,
    /// The last batch's time.
    pub to: SystemTime,
}

/// What an exporter did: what it delivered, what it retried, and exactly what it lost.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ExportReport {
    /// Snapshots collected into batches.
    pub collected: u64,
    /// Batches the receiver accepted.
    pub exported: u64,
    /// Points in those batches.
    pub points_exported: u64,
    /// Posts that failed in a way that may pass (unreachable, 429, 502-504); the batch
    /// stayed queued.
    pub failed_attempts: u64,
    /// Batches dropped, undelivered, and why.
    pub dropped: Vec<Dropped>,
    /// Points the receiver accepted the batch of but said it rejected (OTLP partial
    /// success).
    pub rejected_points: u64,
    /// Values OTLP cannot carry unchanged (an integer counter above 2^63 - 1), left out of
    /// their batch rather than rounded: how many times.
    pub refused_values: u64,
    /// The first few of them.
    pub refused: Vec<Refused>,
    /// The last error, for a log line.
    pub last_error: Option<String>,
}

impl ExportReport {
    /// Batches dropped, all reasons.
    pub fn dropped_batches(&self) -> u64 {
        self.dropped.iter().map(|d| d.batches).sum()
    }

    /// Points in dropped batches, all reasons.
    pub fn dropped_points(&self) -> u64 {
        self.dropped.iter().map(|d| d.points).sum()
    }

    fn drop_batch(&mut self, batch: &Batch, reason: DropReason) {
        let from = UNIX_EPOCH + Duration::from_nanos(batch.start_ns);
        let to = UNIX_EPOCH + Duration::from_nanos(batch.time_ns);
        if let Some(last) = self.dropped.last_mut()
            && last.reason == reason
            && from <= last.to
        {
            last.batches += 1;
            last.points += batch.points;
            last.to = to;
            return;
        }
        self.dropped.push(Dropped { reason, batches: 1, points: batch.points, from, to });
    }
}

impl OtlpExporter {
    /// A [`Builder`], with every setting at its default.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// An exporter posting to `<endpoint>/v1/metrics` with the default settings.
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    pub fn new(endpoint: &str) -> Result<OtlpExporter, ExportError> {
        Builder::default().endpoint(endpoint).build()
    }

    pub(crate) fn new_from_parts(
        client: Client,
        converter: Converter,
        capacity: usize,
        flush_timeout: Duration,
    ) -> OtlpExporter {
        let resource = converter.resource_pairs();
        OtlpExporter {
            client,
            converter,
            resource,
            queue: VecDeque::new(),
            capacity,
            flush_timeout,
            report: ExportReport::default(),
        }
    }

    /// Where metrics are posted.
    pub fn url(&self) -> &str {
        self.client.url()
    }

    /// Cumulative or delta.
    pub fn temporality(&self) -> Temporality {
        self.converter.temporality()
    }

    /// The resource attributes every batch carries.
    pub fn resource(&self) -> &[(String, String)] {
        &self.resource
    }

    /// Batches waiting to be posted.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// What the exporter has done so far.
    pub fn report(&self) -> &ExportReport {
        &self.report
    }

    /// The request `snapshot` becomes, taken now, without queueing it (for inspection and
    /// tests). With delta temporality this advances the baseline, as
    /// [`collect`](Self::collect) does. The request is yours: the points the exporter
    /// reuses between collections go with it, and its next collection builds them anew.
    pub fn request(&mut self, snapshot: &RegistrySnapshot) -> ExportMetricsServiceRequest {
        self.converter.convert(snapshot, unix_ns(SystemTime::now())).request
    }

    /// Turns `snapshot` (taken now) into a batch and queues it; if the queue is full, the
    /// oldest batch is dropped and reported.
    pub fn collect(&mut self, snapshot: &RegistrySnapshot) {
        self.collect_at(snapshot, SystemTime::now());
    }

    /// [`collect`](Self::collect) for a snapshot taken at `time`.
    pub fn collect_at(&mut self, snapshot: &RegistrySnapshot, time: SystemTime) {
        let converted = self.converter.convert(snapshot, unix_ns(time));
        self.report.collected += 1;
        for refused in converted.refused {
            self.report.refused_values += 1;
            if self.report.refused.len() < REFUSED_LISTED {
                self.report.refused.push(refused);
            }
        }
        let batch = Batch {
            body: converted.request.encode_to_vec(),
            points: converted.points,
            start_ns: converted.start_ns,
            time_ns: unix_ns(time),
        };
        // Encoded: its metrics go back to the converter, to be updated in place next time.
        self.converter.give_back(converted.request);
        self.queue.push_back(batch);
        while self.queue.len() > self.capacity {
            if let Some(oldest) = self.queue.pop_front() {
                self.report.drop_batch(&oldest, DropReason::BufferFull);
            }
        }
    }

    /// Posts the queued batches, oldest first, until the queue is empty or a post fails in
    /// a way that may pass (that batch stays queued, first). A batch the receiver refuses
    /// is dropped and reported, and the rest are still posted.
    ///
    /// # Errors
    ///
    /// The failure that stopped it: [`ExportError::is_transient`] holds for it.
    pub fn flush(&mut self) -> Result<(), ExportError> {
        self.flush_until(None)
    }

    /// [`flush`](Self::flush), each post bounded by the time left before `deadline`.
    pub(crate) fn flush_until(&mut self, deadline: Option<Instant>) -> Result<(), ExportError> {
        while let Some(batch) = self.queue.front() {
            let limit = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if limit.is_some_and(|l| l.is_zero()) {
                break;
            }
            match self.client.post(&batch.body, limit) {
                Ok(accepted) => {
                    self.report.exported += 1;
                    self.report.points_exported += batch.points;
                    self.report.rejected_points += accepted.rejected_points;
                    if !accepted.message.is_empty() {
                        self.report.last_error = Some(accepted.message);
                    }
                    self.queue.pop_front();
                }
                Err(e) if e.is_transient() => {
                    self.report.failed_attempts += 1;
                    self.report.last_error = Some(e.to_string());
                    return Err(e);
                }
                Err(e) => {
                    let reason = match &e {
                        ExportError::Status { status, message, .. } => {
                            DropReason::Refused { status: *status, message: message.clone() }
                        }
                        other => DropReason::Refused { status: 0, message: other.to_string() },
                    };
                    self.report.last_error = Some(e.to_string());
                    if let Some(batch) = self.queue.pop_front() {
                        self.report.drop_batch(&batch, reason);
                    }
                }
            }
        }
        Ok(())
    }

    /// Collects `snapshot` one last time and keeps posting what is queued, with backoff,
    /// until all is delivered or the flush timeout passes; what is left is dropped as
    /// [`DropReason::Unsent`]. The report says what happened.
    pub fn finish(mut self, snapshot: &RegistrySnapshot) -> ExportReport {
        self.collect(snapshot);
        self.drain();
        self.report
    }

    /// Posts what is queued until all is delivered or the flush timeout passes.
    pub(crate) fn drain(&mut self) {
        let deadline = Instant::now() + self.flush_timeout;
        let mut backoff = crate::schedule::FIRST_BACKOFF;
        while !self.queue.is_empty() && Instant::now() < deadline {
            match self.flush_until(Some(deadline)) {
                Ok(()) => {}
                Err(e) => {
                    let wait = retry_wait(&e, backoff);
                    backoff = (backoff * 2).min(crate::schedule::MAX_BACKOFF);
                    std::thread::sleep(
                        wait.min(deadline.saturating_duration_since(Instant::now())),
                    );
                }
            }
        }
        while let Some(batch) = self.queue.pop_front() {
            self.report.drop_batch(&batch, DropReason::Unsent);
        }
    }
}

/// How long to wait before retrying after `e`: what the receiver asked for, else `backoff`.
pub(crate) fn retry_wait(e: &ExportError, backoff: Duration) -> Duration {
    match e {
        ExportError::Status { retry_after: Some(wait), .. } => (*wait).max(backoff),
        _ => backoff,
    }
}
