//! One run of the demo, start to end: set up the registry, the service, the publisher, the
//! endpoint and the readers; load the model; serve for the duration; stop; check.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tally::{InferenceStats, Registry};
use tally_sync::LockStats;
use tally_sync::tokio::{GateStats, ReadyGate, Throttle, ThrottleStats};

use crate::args::Args;
use crate::checks::Checker;
use crate::error::DemoError;
use crate::load::{Load, LoadSetup};
use crate::metrics;
use crate::overhead;
use crate::progress::Progress;
use crate::readers::Readers;
use crate::report::{MetricsReport, Report, RunConfig, SyncSummary};
use crate::resources::{RESOURCES, ResourceStats};
use crate::scrape;
use crate::service::{Service, ServiceConfig};
use crate::view::{BY_MODEL, OVERALL, View};

/// How often the publisher refreshes.
const REFRESH: Duration = Duration::from_millis(100);
/// How often the live view is updated.
const TICK: Duration = Duration::from_millis(100);
/// The longest the model takes to "load" (an eighth of the run when that is shorter).
const MAX_LOAD: Duration = Duration::from_millis(250);
/// Threads of the tokio runtime that runs the async clients.
const RUNTIME_THREADS: usize = 2;
/// Scrapes of /metrics while serving (at 1/3 and 2/3 of the time); one more after.
const LIVE_SCRAPES: u32 = 2;

/// Names for the first few models; `model-<i>` after those.
const MODEL_NAMES: [&str; 8] = [
    "resnet50",
    "bert-base",
    "whisper-small",
    "llama-8b",
    "clip-vit",
    "t5-small",
    "yolo-v8",
    "sdxl-turbo",
];

fn model_name(i: usize) -> String {
    MODEL_NAMES.get(i).map_or_else(|| format!("model-{i}"), |s| (*s).to_owned())
}

/// Runs the demo as `args` say and returns its report (whose `problems` say whether
/// anything was lost or broken). `say` prints the start-up lines.
///
/// # Errors
///
/// [`DemoError`] when the demo could not start (port taken, no threads).
pub fn run(args: &Args, say: &mut dyn FnMut(&str)) -> Result<Report, DemoError> {
    let workers = args.worker_count();
    let models = args.models as usize;
    let model_names: Vec<String> = (0..models).map(model_name).collect();

    // The metrics, all in one registry: what /metrics shows and the readers check.
    let registry = Arc::new(Registry::new());
    let overall = registry
        .metric(OVERALL)
        .help("Every request the simulated inference service served.")
        .set::<InferenceStats>()?;
    let family = registry
        .metric(BY_MODEL)
        .help("The same requests, by model.")
        .cardinality_limit(models)
        .family::<InferenceStats>(&["model"])?;
    let model_sets = model_names
        .iter()
        .map(|m| family.bind(&[m]).expect("one value for the one label"))
        .collect();
    let lock_stats =
        registry.metric("cache_lock").help("The result cache's mutex.").set::<LockStats>()?;
    let throttle_stats = registry
        .metric("client_throttle")
        .help("The throttle in front of the async clients.")
        .set::<ThrottleStats>()?;
    let gate_stats =
        registry.metric("model_ready").help("Waits for the model to load.").set::<GateStats>()?;
    let resources = registry
        .metric(RESOURCES)
        .help("The simulated accelerator, the result cache and the responses.")
        .set::<ResourceStats>()?;

    let service = Arc::new(Service::new(
        ServiceConfig {
            seed: args.seed,
            models,
            cache_size: args.cache_size,
            hit_rate: args.hit_rate,
            failure_rate: args.failure_rate,
            spin: args.spin,
        },
        Arc::clone(&overall),
        model_sets,
        resources,
        Arc::clone(&lock_stats),
    ));

    // One publisher for the endpoint, the refresher and the readers: one epoch each time.
    let publisher = registry.publisher();
    let server =
        if args.no_metrics { None } else { Some(metrics::serve(publisher.clone(), args.port)?) };
    let metrics_addr = server.as_ref().map(|s| s.local_addr());

    say(&format!(
        "tally-demo: {workers} workers, {} async clients (throttle {}), {} readers, {models} models, \
         failure rate {}, {} run",
        args.clients,
        args.concurrency,
        args.readers,
        args.failure_rate,
        humantime::format_duration(args.duration)
    ));
    match metrics_addr {
        Some(addr) => {
            say(&format!("serving http://{addr}/metrics (and /metrics.json) while running"))
        }
        None => say("not serving /metrics (--no-metrics)"),
    }

    let refresher = publisher.spawn_refresher(REFRESH)?;
    // Every thread that serves requests holds at most one in flight in any snapshot.
    let max_in_flight = i64::from(workers) + RUNTIME_THREADS as i64;
    let readers = Readers::spawn(args.readers, &publisher, models, max_in_flight)
        .map_err(|source| DemoError::Start { what: "the reader threads", source })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(RUNTIME_THREADS)
        .thread_name("client")
        .enable_time()
        .build()
        .map_err(|source| DemoError::Start { what: "the tokio runtime", source })?;
    let gate = Arc::new(ReadyGate::with_stats(Arc::clone(&gate_stats)));
    let throttle =
        Arc::new(Throttle::with_stats(args.concurrency as usize, Arc::clone(&throttle_stats)));
    let setup = LoadSetup {
        service: Arc::clone(&service),
        gate: Arc::clone(&gate),
        throttle: Arc::clone(&throttle),
        models,
    };

    let start = Instant::now();
    let load = Load::start(&setup, workers, args.clients, &runtime)
        .map_err(|source| DemoError::Start { what: "the worker threads", source })?;
    let mut progress = Progress::new(args.progress, args.json, args.duration);

    // The model loads; workers and clients wait at the gate.
    let load_time = (args.duration / 8).min(MAX_LOAD);
    while start.elapsed() < load_time {
        thread::sleep(TICK.min(load_time.saturating_sub(start.elapsed())));
        progress.update("loading", start.elapsed(), Duration::ZERO, None);
    }
    gate.set();
    let serving_start = Instant::now();
    let deadline = start + args.duration;

    let serving_time = deadline.saturating_duration_since(serving_start);
    // Live scrapes run on a thread of their own: a scrape slowed by a loaded machine must not
    // hold up the live view, whose lines come once a second.
    let live_scrapes = metrics_addr.map(|addr| {
        thread::spawn(move || {
            let mut scrapes = MetricsReport {
                enabled: true,
                address: Some(addr.to_string()),
                ..Default::default()
            };
            for k in 1..=LIVE_SCRAPES {
                let at = serving_start + serving_time * k / (LIVE_SCRAPES + 1);
                thread::sleep(at.saturating_duration_since(Instant::now()));
                if Instant::now() >= deadline {
                    break;
                }
                scrape_into(addr, &mut scrapes);
                if Instant::now() < deadline {
                    scrapes.answered_while_serving = scrapes.answered;
                }
            }
            scrapes
        })
    });
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        thread::sleep(TICK.min(deadline - now));
        let epoch = publisher.latest();
        let view = View::of(epoch.snapshot()).ok();
        progress.update("serving", start.elapsed(), epoch.collected_at(), view.as_ref());
    }
    let mut scrapes = match live_scrapes {
        Some(handle) => handle.join().unwrap_or_else(|_| MetricsReport {
            enabled: true,
            address: metrics_addr.map(|a| a.to_string()),
            failed: 1,
            errors: vec!["the live scraper thread panicked".to_owned()],
            ..Default::default()
        }),
        None => MetricsReport::default(),
    };

    // Stop the load and count what it issued; then a last refresh that reflects it all.
    let serving = serving_start.elapsed();
    let issued = load.finish(&runtime);
    progress.finish();
    let mut problems = Vec::new();
    if let Err(e) = refresher.stop() {
        problems.push(format!("the refresher failed: {e}"));
    }
    let final_epoch = publisher.refresh();
    let readers = readers.finish();
    let final_broken =
        Checker::new(models, max_in_flight).check(final_epoch.number(), final_epoch.snapshot());
    problems.extend(final_broken.into_iter().map(|b| format!("final snapshot: {b}")));

    if let Some(addr) = metrics_addr {
        // Live scrapes may not have happened in a very short run; one more now, which must
        // show exactly the final count.
        while scrapes.answered + scrapes.failed < u64::from(LIVE_SCRAPES) {
            scrape_into(addr, &mut scrapes);
        }
        if scrape_into(addr, &mut scrapes) {
            scrapes.final_total = scrapes.totals.last().copied();
        }
    }
    if let Some(server) = server
        && let Err(e) = server.shutdown()
    {
        problems.push(format!("the /metrics endpoint did not shut down cleanly: {e}"));
    }
    runtime.shutdown_timeout(Duration::from_secs(5));

    let record_cost = overhead::measure();
    let sync = SyncSummary::new(
        &lock_stats.snapshot(),
        &throttle_stats.snapshot(),
        &gate_stats.snapshot(),
    );
    let config = RunConfig {
        duration_s: args.duration.as_secs_f64(),
        workers,
        clients: args.clients,
        concurrency: args.concurrency,
        readers: args.readers,
        models: args.models,
        failure_rate: args.failure_rate,
        cache_size: args.cache_size,
        hit_rate: args.hit_rate,
        spin: args.spin,
        seed: args.seed,
        refresh_ms: u64::try_from(REFRESH.as_millis()).unwrap_or(u64::MAX),
    };
    Ok(Report::new(
        config,
        problems,
        &model_names,
        &issued,
        final_epoch.snapshot(),
        final_epoch.number(),
        readers,
        scrapes,
        sync,
        record_cost,
        service.inference_cost(),
        load_time,
        serving,
    ))
}

/// Scrapes once, adding the outcome to `report`; whether it answered.
fn scrape_into(addr: SocketAddr, report: &mut MetricsReport) -> bool {
    match scrape::scrape(addr) {
        Ok(s) => {
            report.answered += 1;
            report.totals.push(s.total_inferences);
            report.final_responses = s.responses;
            report.missing_series = s.missing.iter().map(|m| m.trim_end().to_owned()).collect();
            true
        }
        Err(e) => {
            report.failed += 1;
            if report.errors.len() < 4 {
                report.errors.push(e);
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_get_distinct_names() {
        let names: std::collections::BTreeSet<_> = (0..20).map(model_name).collect();
        assert_eq!(names.len(), 20);
        assert_eq!(model_name(0), "resnet50");
        assert_eq!(model_name(12), "model-12");
    }
}
