//! Recording is not slowed by a gateway that never answers: one thread records the
//! inference event flat out for a while with no pusher, then as long again while a pusher
//! pushes every 10 ms to a gateway that accepts connections and never answers (each push
//! waits its whole timeout), and the two rates are printed.
//!
//! ```text
//! cargo run --release -p tally-push --example blackhole
//! ```

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tally::{Cache, InferenceStats, Outcome, Registry};
use tally_push::{Grouping, Pusher};

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

    // A gateway that accepts and never answers: the listener's backlog takes the
    // connections, nobody reads them.
    let blackhole = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", blackhole.local_addr()?);
    let pusher =
        Pusher::with_timeout(&url, Grouping::new("blackhole")?, Duration::from_millis(500))?;
    let pushing = pusher.every(Duration::from_millis(10), {
        let registry = Arc::clone(&registry);
        move || registry.snapshot()
    })?;
    let with = rate(&stats);
    let report = pushing.finish();
    assert!(report.last.is_err(), "a gateway that never answers took a push");
    println!(
        "events/s, one recording thread: {without:.0} without a pusher, {with:.0} with one \
         pushing every 10 ms to a gateway that never answers ({:.1}%); {} pushes timed out",
        100.0 * with / without,
        report.failed
    );
    Ok(())
}
