//! The final report: what was issued against what tally counted, the readers' checks,
//! rates, latency, throughput, the cost of recording; as a table or as JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use comfy_table::presets::{UTF8_FULL_CONDENSED, UTF8_HORIZONTAL_ONLY};
use comfy_table::{
    CellAlignment, ColumnConstraint, ContentArrangement, Table, Width as ComfyWidth,
};
use serde::Serialize;
use tally::RegistrySnapshot;
use tally_sync::LockStatsSnapshot;
use tally_sync::tokio::{GateStatsSnapshot, ThrottleStatsSnapshot};

use crate::counts::{Counts, Issued};
use crate::overhead::RecordCost;
use crate::progress::{human_count, human_duration};
use crate::readers::ReaderReport;
use crate::resources::{ResourceSummary, human_bytes};
use crate::view::View;

/// The options the run used.
#[derive(Debug, Clone, Serialize)]
pub struct RunConfig {
    /// Seconds, loading included.
    pub duration_s: f64,
    /// Worker threads.
    pub workers: u32,
    /// Async client tasks.
    pub clients: u32,
    /// The throttle's bound.
    pub concurrency: u32,
    /// Reader threads.
    pub readers: u32,
    /// Models.
    pub models: u32,
    /// Probability of failure per request.
    pub failure_rate: f64,
    /// Cache entries.
    pub cache_size: u64,
    /// Target cache hit rate.
    pub hit_rate: f64,
    /// Spin rounds per inference.
    pub spin: u64,
    /// Seed.
    pub seed: u64,
    /// How often the publisher refreshed the epoch the readers check, in milliseconds.
    pub refresh_ms: u64,
}

/// Counts overall and by model name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CountsReport {
    /// Every request.
    pub overall: Counts,
    /// By model.
    pub by_model: BTreeMap<String, Counts>,
}

/// What the /metrics endpoint did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MetricsReport {
    /// Whether it was served.
    pub enabled: bool,
    /// Where.
    pub address: Option<String>,
    /// Scrapes answered with 200 and a readable count.
    pub answered: u64,
    /// Of those, the ones made while requests were being served.
    pub answered_while_serving: u64,
    /// Scrapes that failed.
    pub failed: u64,
    /// Why, for the first few.
    pub errors: Vec<String>,
    /// The request count each answered scrape showed, in order.
    pub totals: Vec<u64>,
    /// The count the scrape after the run showed (must equal the final count).
    pub final_total: Option<u64>,
    /// The response-size histogram's count in the last scrape (must equal it too).
    pub final_responses: Option<u64>,
    /// Float and unit-carrying series the last scrape lacked (must be none).
    pub missing_series: Vec<String>,
}

/// The rates from the final snapshot, with what was aimed at.
#[derive(Debug, Clone, Serialize)]
pub struct Rates {
    /// successful / total.
    pub success_rate: f64,
    /// 1 − the failure rate asked for.
    pub expected_success_rate: f64,
    /// cache hits / total.
    pub cache_hit_rate: f64,
    /// The hit rate aimed at once the cache is warm.
    pub target_cache_hit_rate: f64,
}

/// Latency quantiles (nanoseconds, within the histogram's 2^-5 relative error).
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: Option<u64>,
    /// 90th percentile.
    pub p90: Option<u64>,
    /// 99th percentile.
    pub p99: Option<u64>,
    /// 99.9th percentile.
    pub p999: Option<u64>,
    /// Largest.
    pub max: Option<u64>,
    /// Mean.
    pub mean: Option<f64>,
}

/// The synchronisation primitives' own figures.
#[derive(Debug, Clone, Serialize)]
pub struct SyncSummary {
    /// Cache lock acquisitions.
    pub cache_lock_acquisitions: u64,
    /// Of those, contended.
    pub cache_lock_contended: u64,
    /// p99 wait for the cache lock (ns).
    pub cache_lock_wait_p99_ns: Option<u64>,
    /// Permits the throttle handed out.
    pub throttle_acquired: u64,
    /// p99 wait for a permit (ns).
    pub throttle_wait_p99_ns: Option<u64>,
    /// Waits at the ready gate that found it shut.
    pub gate_waited: u64,
    /// Of those, woken when the model loaded.
    pub gate_woken: u64,
}

impl SyncSummary {
    /// From the primitives' final snapshots.
    pub fn new(
        lock: &LockStatsSnapshot,
        throttle: &ThrottleStatsSnapshot,
        gate: &GateStatsSnapshot,
    ) -> Self {
        SyncSummary {
            cache_lock_acquisitions: lock.acquisitions,
            cache_lock_contended: lock.contended,
            cache_lock_wait_p99_ns: lock.wait_ns.quantile(0.99),
            throttle_acquired: throttle.acquired,
            throttle_wait_p99_ns: throttle.queue_wait_ns.quantile(0.99),
            gate_waited: gate.waited,
            gate_woken: gate.woken,
        }
    }
}

/// Everything the run found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// No count lost, no invariant broken, /metrics answered (when served).
    pub ok: bool,
    /// What was lost or broken, in words (empty when `ok`).
    pub problems: Vec<String>,
    /// The options.
    pub config: RunConfig,
    /// Time the model took to "load" (ms).
    pub load_ms: f64,
    /// Time spent serving (s).
    pub serving_s: f64,
    /// Requests issued, counted by the workers and clients themselves.
    pub expected: CountsReport,
    /// Requests counted by tally (final snapshot).
    pub observed: CountsReport,
    /// Rates.
    pub rates: Rates,
    /// Latency quantiles.
    pub latency_ns: Latency,
    /// Requests per second while serving.
    pub throughput_per_s: f64,
    /// The reader threads' checks.
    pub checks: ReaderReport,
    /// Epochs published (the final one's number + 1).
    pub epochs_published: u64,
    /// /metrics.
    pub metrics: MetricsReport,
    /// The cost of recording, measured after the run.
    pub record_cost: RecordCost,
    /// One inference spin (cache miss), measured after the run (ns).
    pub inference_spin_ns: f64,
    /// The locks', throttle's and gate's figures.
    pub sync: SyncSummary,
    /// The accelerator's, cache's and responses' figures (float and byte-sized fields).
    pub resources: ResourceSummary,
    /// The final published snapshot of the whole registry.
    pub final_snapshot: RegistrySnapshot,
}

impl Report {
    /// Compares and summarises; `problems` holds what the run itself found so far.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: RunConfig,
        mut problems: Vec<String>,
        model_names: &[String],
        issued: &Issued,
        snapshot: &RegistrySnapshot,
        epoch: u64,
        checks: ReaderReport,
        metrics: MetricsReport,
        sync: SyncSummary,
        record_cost: RecordCost,
        inference_spin: Duration,
        load_time: Duration,
        serving: Duration,
    ) -> Report {
        let expected = CountsReport {
            overall: issued.overall,
            by_model: model_names.iter().cloned().zip(issued.per_model.iter().copied()).collect(),
        };
        let view = View::of(snapshot);
        let (observed, overall) = match &view {
            Ok(view) => (
                CountsReport {
                    overall: Counts::of(&view.overall),
                    by_model: view.models.iter().map(|(m, s)| (m.clone(), Counts::of(s))).collect(),
                },
                view.overall.clone(),
            ),
            Err(e) => {
                problems.push(format!("the final snapshot is unreadable: {e}"));
                (CountsReport::default(), Default::default())
            }
        };
        compare("overall", &expected.overall, &observed.overall, &mut problems);
        for (model, want) in &expected.by_model {
            match observed.by_model.get(model) {
                Some(got) => compare(&format!("model {model}"), want, got, &mut problems),
                None => problems.push(format!("model {model}: no series in the final snapshot")),
            }
        }
        for model in observed.by_model.keys().filter(|m| !expected.by_model.contains_key(*m)) {
            problems.push(format!("model {model}: a series no request was issued for"));
        }
        if overall.in_flight != 0 {
            problems.push(format!(
                "{} requests still in flight after every worker stopped",
                overall.in_flight
            ));
        }
        if checks.violations > 0 {
            problems.push(format!(
                "{} invariant violations in {} snapshots the readers checked; first: {}",
                checks.violations,
                checks.snapshots_checked,
                checks.samples.join("; ")
            ));
        }
        if metrics.enabled {
            if metrics.failed > 0 || metrics.answered == 0 {
                problems.push(format!(
                    "/metrics answered {} of {} scrapes: {}",
                    metrics.answered,
                    metrics.answered + metrics.failed,
                    metrics.errors.join("; ")
                ));
            }
            if metrics.totals.windows(2).any(|w| w[1] < w[0]) {
                problems.push(format!(
                    "the request count /metrics showed went backwards: {:?}",
                    metrics.totals
                ));
            }
            if metrics.answered > 0
                && metrics.final_total != Some(expected.overall.total_inferences)
            {
                problems.push(format!(
                    "/metrics showed {:?} requests after the run, not the {} issued",
                    metrics.final_total, expected.overall.total_inferences
                ));
            }
            if metrics.answered > 0
                && metrics.final_responses != Some(expected.overall.total_inferences)
            {
                problems.push(format!(
                    "/metrics showed {:?} response sizes after the run, not the {} issued",
                    metrics.final_responses, expected.overall.total_inferences
                ));
            }
            if metrics.answered > 0 && !metrics.missing_series.is_empty() {
                problems.push(format!(
                    "/metrics lacks the unit-carrying series {}",
                    metrics.missing_series.join(", ")
                ));
            }
        }
        let resources = match ResourceSummary::of(snapshot) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("the final snapshot's resources are unreadable: {e}"));
                ResourceSummary::default()
            }
        };
        let total = observed.overall.total_inferences;
        if resources.responses != total {
            problems.push(format!(
                "{} response sizes recorded for {total} requests counted",
                resources.responses
            ));
        }
        if !(0.0..=1.0).contains(&resources.cache_fill) {
            problems.push(format!("a cache fill ratio of {} (not in 0..=1)", resources.cache_fill));
        }
        let h = &overall.latency_ns;
        Report {
            ok: problems.is_empty(),
            problems,
            rates: Rates {
                success_rate: overall.success_rate(),
                expected_success_rate: 1.0 - config.failure_rate,
                cache_hit_rate: overall.cache_hit_rate(),
                target_cache_hit_rate: config.hit_rate,
            },
            config,
            load_ms: load_time.as_secs_f64() * 1e3,
            serving_s: serving.as_secs_f64(),
            throughput_per_s: expected.overall.total_inferences as f64
                / serving.as_secs_f64().max(1e-9),
            latency_ns: Latency {
                p50: h.quantile(0.5),
                p90: h.quantile(0.9),
                p99: h.quantile(0.99),
                p999: h.quantile(0.999),
                max: h.max(),
                mean: h.mean(),
            },
            expected,
            observed,
            checks,
            epochs_published: epoch + 1,
            metrics,
            record_cost,
            inference_spin_ns: inference_spin.as_nanos() as f64,
            sync,
            resources,
            final_snapshot: snapshot.clone(),
        }
    }

    /// The report as JSON, on one line (pipe it through `jq` to read it).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("the report serializes")
    }

    /// The report as tables, laid out for the terminal's width (`COLUMNS`, or 100 columns
    /// where there is no terminal).
    pub fn to_table(&self) -> String {
        self.to_table_in(crate::progress::width())
    }

    /// The report as tables of at most `width` columns: below 100, short headers and no
    /// inner borders, so that a row of counts (9 digits each) fits 80 columns.
    pub fn to_table_in(&self, width: usize) -> String {
        let wide = width >= 100;
        let mut counts = Table::new();
        counts
            .load_preset(if wide { UTF8_FULL_CONDENSED } else { UTF8_HORIZONTAL_ONLY })
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(width as u16)
            .set_header(if wide {
                [
                    "series",
                    "total",
                    "successful",
                    "failed",
                    "cache hits",
                    "cache misses",
                    "issued = counted",
                ]
            } else {
                ["series", "total", "ok", "failed", "hits", "misses", "exact"]
            });
        let mut row = |name: &str, want: &Counts, got: Option<&Counts>| {
            let mut cells = vec![name.to_owned()];
            let got_fields = got.map(Counts::fields);
            for (i, (_, w)) in want.fields().into_iter().enumerate() {
                cells.push(match got_fields.map(|f| f[i].1) {
                    Some(g) if g == w => g.to_string(),
                    Some(g) => format!("{g} (issued {w})"),
                    None => format!("- (issued {w})"),
                });
            }
            cells.push(if got == Some(want) { "yes".to_owned() } else { "NO".to_owned() });
            counts.add_row(cells);
        };
        row("all models", &self.expected.overall, Some(&self.observed.overall));
        for (model, want) in &self.expected.by_model {
            row(&format!("  {model}"), want, self.observed.by_model.get(model));
        }
        // Model names are not wrapped mid-word: the column is as wide as the longest.
        let longest = self.expected.by_model.keys().map(|m| m.chars().count() + 2).max();
        if let Some(column) = counts.column_mut(0) {
            let least = longest.unwrap_or(0).max("all models".len()) as u16;
            column.set_constraint(ColumnConstraint::LowerBoundary(ComfyWidth::Fixed(least)));
        }
        for i in 1..=6 {
            if let Some(column) = counts.column_mut(i) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }

        let ms = |ns: Option<u64>| {
            ns.map_or("-".to_owned(), |n| human_duration(Duration::from_nanos(n)))
        };
        let c = &self.config;
        let mut summary = Table::new();
        summary
            .load_preset(if wide { UTF8_FULL_CONDENSED } else { UTF8_HORIZONTAL_ONLY })
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(width as u16);
        let mut line = |k: &str, v: String| {
            summary.add_row([k.to_owned(), v]);
        };
        line(
            "run",
            format!(
                "{} workers + {} async clients (throttle {}), {} models, {:.2} s serving after a {:.0} ms model load",
                c.workers, c.clients, c.concurrency, c.models, self.serving_s, self.load_ms
            ),
        );
        line(
            "requests",
            format!(
                "{} ({} per second)",
                self.observed.overall.total_inferences,
                human_count(self.throughput_per_s)
            ),
        );
        line(
            "success rate",
            format!("{:.4} (failure rate asked: {})", self.rates.success_rate, c.failure_rate),
        );
        line(
            "cache hit rate",
            format!(
                "{:.4} (target once warm: {}, {} entries)",
                self.rates.cache_hit_rate, c.hit_rate, c.cache_size
            ),
        );
        let l = &self.latency_ns;
        line(
            "latency p50 / p90 / p99 / p999",
            format!(
                "{} / {} / {} / {} (max {})",
                ms(l.p50),
                ms(l.p90),
                ms(l.p99),
                ms(l.p999),
                ms(l.max)
            ),
        );
        line(
            "live snapshots checked",
            format!(
                "{} by {} readers ({} reads of {} epochs published every {} ms)",
                self.checks.snapshots_checked,
                self.checks.readers,
                self.checks.reads,
                self.epochs_published,
                self.config.refresh_ms
            ),
        );
        line("invariant violations", self.checks.violations.to_string());
        line(
            "/metrics",
            if self.metrics.enabled {
                format!(
                    "answered {} times on {} ({} while serving, {} failed); after the run it showed {} requests",
                    self.metrics.answered,
                    self.metrics.address.as_deref().unwrap_or("?"),
                    self.metrics.answered_while_serving,
                    self.metrics.failed,
                    self.metrics.final_total.map_or("nothing".to_owned(), |t| t.to_string())
                )
            } else {
                "not served (--no-metrics)".to_owned()
            },
        );
        let r = &self.record_cost;
        line(
            "cost of recording",
            format!(
                "{:.1} ns per event, {:.1} ns per request (its 3 events: {:.1}% of the mean request's {}); one thread, bursts of {}, empty loop subtracted",
                r.event_ns,
                r.request_ns,
                100.0 * r.request_ns / (l.mean.unwrap_or(0.0) + r.request_ns).max(1e-9),
                human_duration(Duration::from_nanos(l.mean.unwrap_or(0.0) as u64)),
                r.events_per_burst
            ),
        );
        line(
            "one inference (cache miss)",
            format!(
                "{} of spin ({} rounds)",
                human_duration(Duration::from_nanos(self.inference_spin_ns as u64)),
                c.spin
            ),
        );
        let r = &self.resources;
        line(
            "accelerator (simulated)",
            format!(
                "{} busy (inference time, f64 seconds summed over workers); utilisation {} \
                 (a worker's busy fraction over its last 256 requests, the last sampled)",
                human_duration(Duration::from_secs_f64(r.gpu_busy_s.max(0.0))),
                r.gpu_utilization
                    .map_or("not sampled yet".to_owned(), |u| format!("{:.1}%", 100.0 * u))
            ),
        );
        line(
            "cache fill",
            format!(
                "{:.1}% of {} entries (an f64 gauge: 1/capacity added per new entry)",
                100.0 * r.cache_fill,
                c.cache_size
            ),
        );
        let bytes = |n: Option<u64>| n.map_or("-".to_owned(), human_bytes);
        line(
            "response size p50 / p99",
            format!(
                "{} / {} (max {}; a histogram in bytes, {} responses)",
                bytes(r.response_bytes_p50),
                bytes(r.response_bytes_p99),
                bytes(r.response_bytes_max),
                r.responses
            ),
        );
        let s = &self.sync;
        // What a person reads as wrong without a word: more acquisitions than requests,
        // and a wait of 0 ns.
        let wait = match s.cache_lock_wait_p99_ns {
            Some(0) => "p99 wait 0 ns (99% of acquisitions did not wait: an uncontended \
                        lock is taken at once and its wait recorded as 0)"
                .to_owned(),
            other => format!("p99 wait {}", ms(other)),
        };
        line(
            "cache lock",
            format!(
                "{} acquisitions for {} requests (a lookup each, and an insert per successful \
                 miss), {} contended, {wait}",
                s.cache_lock_acquisitions,
                self.observed.overall.total_inferences,
                s.cache_lock_contended,
            ),
        );
        line(
            "throttle / ready gate",
            format!(
                "{} permits, p99 queue wait {}; {} waited for the model, {} woken",
                s.throttle_acquired,
                ms(s.throttle_wait_p99_ns),
                s.gate_waited,
                s.gate_woken
            ),
        );
        line(
            "verdict",
            if self.ok {
                "OK: every request counted exactly once, no invariant broken".to_owned()
            } else {
                format!("FAILED: {}", self.problems.join("; "))
            },
        );

        let heading = crate::progress::wrap(
            "Requests issued (counted by the workers themselves) against tally's final snapshot",
            width,
        );
        format!("{heading}\n{counts}\n\n{summary}\n")
    }
}

/// Adds a problem per field where `got` differs from `want`.
fn compare(what: &str, want: &Counts, got: &Counts, problems: &mut Vec<String>) {
    for ((name, w), (_, g)) in want.fields().into_iter().zip(got.fields()) {
        if w != g {
            let how = if g < w { format!("{} lost", w - g) } else { format!("{} extra", g - w) };
            problems.push(format!("{what} {name}: issued {w}, counted {g} ({how})"));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tally::{Cache, InferenceStats, Outcome, Registry};

    use super::*;
    use crate::resources::{RESOURCES, ResourceStats};
    use crate::view::{BY_MODEL, OVERALL};

    fn config() -> RunConfig {
        RunConfig {
            duration_s: 1.0,
            workers: 1,
            clients: 0,
            concurrency: 1,
            readers: 0,
            models: 1,
            failure_rate: 0.0,
            cache_size: 1,
            hit_rate: 0.5,
            spin: 0,
            seed: 0,
            refresh_ms: 100,
        }
    }

    /// A registry holding `recorded` requests to model "m", and the report of a run that
    /// issued `issued` of them.
    fn report(recorded: u64, issued: u64, metrics: MetricsReport) -> Report {
        let registry = Registry::new();
        let overall = registry.register::<InferenceStats>(OVERALL, "").unwrap();
        let model = registry
            .metric(BY_MODEL)
            .family::<InferenceStats>(&["model"])
            .unwrap()
            .bind(&["m"])
            .unwrap();
        let resources = registry.register::<ResourceStats>(RESOURCES, "").unwrap();
        let mut counts = Issued::new(1);
        for i in 0..issued {
            counts.count(0, true, false);
            if i < recorded {
                model.record_request_with_latency(
                    Outcome::Success,
                    Cache::Miss,
                    Duration::from_micros(1),
                );
                overall.record_request_with_latency(
                    Outcome::Success,
                    Cache::Miss,
                    Duration::from_micros(1),
                );
                resources.record(|e| e.response_size().record_units(1_000 + i));
            }
        }
        let sync = SyncSummary::new(&Default::default(), &Default::default(), &Default::default());
        let cost =
            RecordCost { events_per_burst: 1, baseline_ns: 0.0, event_ns: 0.0, request_ns: 0.0 };
        Report::new(
            config(),
            Vec::new(),
            &["m".to_owned()],
            &counts,
            &registry.snapshot(),
            3,
            ReaderReport::default(),
            metrics,
            sync,
            cost,
            Duration::ZERO,
            Duration::ZERO,
            Duration::from_secs(1),
        )
    }

    #[test]
    fn exact_counts_make_an_ok_report() {
        let r = report(10, 10, MetricsReport::default());
        assert!(r.ok, "{:?}", r.problems);
        assert_eq!(r.expected, r.observed);
        assert!(r.to_table_in(120).contains("OK: every request counted exactly once"));
        assert!(r.to_json().starts_with("{\"ok\":true"));
    }

    #[test]
    fn the_table_fits_the_width_it_is_laid_out_for() {
        let r = report(10, 10, MetricsReport::default());
        for width in [60, 80, 100, 120] {
            let table = r.to_table_in(width);
            for line in table.lines() {
                assert!(line.chars().count() <= width, "{width}: {line}\n{table}");
            }
        }
    }

    #[test]
    fn a_lost_request_fails_the_run_and_says_where() {
        let r = report(9, 10, MetricsReport::default());
        assert!(!r.ok);
        assert!(
            r.problems
                .iter()
                .any(|p| p == "overall total_inferences: issued 10, counted 9 (1 lost)"),
            "{:?}",
            r.problems
        );
        assert!(
            r.problems.iter().any(|p| p.starts_with("model m total_inferences")),
            "{:?}",
            r.problems
        );
        assert!(r.to_table().contains("FAILED"));
    }

    #[test]
    fn metrics_that_never_answered_or_showed_another_count_fail_the_run() {
        let silent = MetricsReport { enabled: true, failed: 2, ..Default::default() };
        assert!(report(5, 5, silent).problems.iter().any(|p| p.contains("answered 0 of 2")));
        let stale = MetricsReport {
            enabled: true,
            answered: 2,
            totals: vec![4, 3],
            final_total: Some(3),
            ..Default::default()
        };
        let problems = report(5, 5, stale).problems;
        assert!(problems.iter().any(|p| p.contains("went backwards")), "{problems:?}");
        assert!(
            problems.iter().any(|p| p.contains("showed Some(3) requests after the run, not the 5")),
            "{problems:?}"
        );
    }
}
