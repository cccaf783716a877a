//! Recording is not slowed by an OTLP receiver that never answers: one thread records the
//! inference event flat out for a while with no exporter, then as long again while an
//! [`OtlpLoop`](tally_otlp::OtlpLoop) exports every 100 ms to a receiver that accepts
//! connections and never answers (each post waits its whole timeout, the batches pile up
//! in the buffer and the oldest are dropped), and the two rates are printed.
//!
//! ```text
//! cargo run --release -p tally-otlp --example blackhole
//! ```

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tally::{Cache, InferenceStats, Outcome, Registry};
use tally_otlp::OtlpExporter;

/// How long each half records.
const RUN: Duration = Duration::from_secs(2);

/// Events per second one thread records for `RUN`.
fn rate(stats: &InferenceStats) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < RUN {
        for i in 0..1_000u64 {
            stats.record_request_with_latency(
                Outcome::success_if(i % 10 != 0),
                Cache::hit_if(i % 3 == 0),
                Duration::from_nanos(50_000 + i),
            );
        }
        n += 1_000;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let registry = Arc::new(Registry::new());
    let stats = registry.register::<InferenceStats>("batch", "The batch's requests.")?;
    let without = rate(&stats);

    // A receiver that accepts and never answers: the listener's backlog takes the
    // connections, nobody reads them.
    let blackhole = TcpListener::bind("127.0.0.1:0")?;
    let exporter = OtlpExporter::builder()
        .endpoint(&format!("http://{}", blackhole.local_addr()?))
        .service_name("blackhole")
        .timeout(Duration::from_millis(500))
        .flush_timeout(Duration::from_millis(500))
        .build()?;
    let exporting = exporter.every(Duration::from_millis(100), {
        let registry = Arc::clone(&registry);
        move || registry.snapshot()
    })?;
    let with = rate(&stats);
    let report = exporting.finish();
    assert_eq!(report.exported, 0, "a receiver that never answers took an export");
    println!(
        "events/s, one recording thread: {without:.0} without an exporter, {with:.0} with an \
         OtlpLoop exporting every 100 ms to a receiver that never answers ({:.1}%); {} \
         collections, {} posts timed out, {} batches dropped ({} points)",
        100.0 * with / without,
        report.collected,
        report.failed_attempts,
        report.dropped_batches(),
        report.dropped_points(),
    );
    Ok(())
}
