//! Prints the exposition of a small registry in both formats:
//! `cargo run -p tally-prometheus --example expose`.

use std::time::Duration;

use tally::{Cache, InferenceStats, Outcome, Registry};

fn main() {
    let registry = Registry::new();
    let stats = registry.register::<InferenceStats>("inference", "The model server.").unwrap();
    stats.record_request_with_latency(Outcome::Success, Cache::Miss, Duration::from_micros(1500));
    let by_model = registry
        .metric("by_model")
        .help("Per model.")
        .family::<InferenceStats>(&["model"])
        .unwrap();
    by_model
        .with(&["bert \"large\"\n\\"], |s| s.record_request(Outcome::Failure, Cache::Hit))
        .unwrap();
    let snapshot = registry.snapshot();
    let mut out = String::new();
    tally_prometheus::encode_text(&snapshot, &mut out);
    println!("{out}");
    out.clear();
    tally_prometheus::encode_openmetrics(&snapshot, &mut out);
    println!("{out}");
}
