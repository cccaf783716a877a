//! The command line: what to simulate, for how long, and how to report it.

use std::time::Duration;

use clap::Parser;

use crate::progress::ProgressMode;

/// A simulated inference service that records every request into tally, from worker
/// threads and async tasks, while reader threads check every published snapshot and
/// `/metrics` is served and scraped. It shows live figures as it runs, then a table of the
/// requests it issued against what tally counted, and exits with 1 if any request was not
/// counted exactly once or any snapshot broke an invariant (2 if it could not run).
#[derive(Debug, Clone, Parser)]
#[command(name = "tally-demo", version, about, long_about = None)]
pub struct Args {
    /// How long to run, model loading included (`10s`, `2s`, `500ms`, `1m`; 1ms to 30 days).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,

    /// Worker threads serving requests (default: the number of CPUs).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub workers: Option<u32>,

    /// Async client tasks sending requests through the throttle, on a tokio runtime.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub clients: u32,

    /// Requests the throttle lets the async clients have in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,

    /// Reader threads reading the published epoch continuously and checking invariants.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub readers: u32,

    /// Models served; each has its series in the per-model family (label `model`).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub models: u32,

    /// Fraction of requests that fail, in 0..=1.
    #[arg(long, default_value_t = 0.03, value_parser = parse_fraction)]
    pub failure_rate: f64,

    /// Entries the result cache holds.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub cache_size: u64,

    /// Cache hit rate to aim for once the cache is warm, in 0..=1 (sets how many distinct
    /// inputs requests draw from: cache size / hit rate).
    #[arg(long, default_value_t = 0.6, value_parser = parse_fraction)]
    pub hit_rate: f64,

    /// Rounds of the CPU spin that stands for one inference on a cache miss.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(0..=100_000_000))]
    pub spin: u64,

    /// Seed of the per-request random draws (model, input, failure).
    #[arg(long, default_value_t = 0x7A11_7A11)]
    pub seed: u64,

    /// Port for /metrics on 127.0.0.1 (0: any free port; the one chosen is printed).
    #[arg(long, default_value_t = 9464)]
    pub port: u16,

    /// Do not serve /metrics.
    #[arg(long)]
    pub no_metrics: bool,

    /// Print the final snapshot and the check results as JSON on stdout instead of the
    /// table (no live figures unless --progress asks for them, on stderr).
    #[arg(long)]
    pub json: bool,

    /// Live figures while running: `live` redraws one line on the terminal, `lines` prints
    /// a line per second (for logs and pipes), `auto` picks `live` on a terminal and
    /// `lines` otherwise. Width: the terminal's, or `COLUMNS`.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

impl Args {
    /// Worker threads: the flag, or the number of CPUs.
    pub fn worker_count(&self) -> u32 {
        self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(2, |n| u32::try_from(n.get()).unwrap_or(u32::MAX))
                .min(1024)
        })
    }
}

/// The longest run accepted (far beyond any use, well within `Instant`'s range).
const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// `2s`, `500ms`, `1m 30s` (humantime), from one millisecond to 30 days.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("{e}: give a duration such as `10s`, `2s` or `500ms`"))?;
    if d < Duration::from_millis(1) {
        return Err("the duration must be at least 1ms (e.g. `2s`)".to_owned());
    }
    if d > MAX_DURATION {
        return Err("the duration must be at most 30 days (e.g. `1h`)".to_owned());
    }
    Ok(d)
}

/// A number in 0..=1.
fn parse_fraction(s: &str) -> Result<f64, String> {
    let v: f64 =
        s.parse().map_err(|_| format!("`{s}` is not a number: give a fraction such as 0.05"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside 0..=1: give a fraction such as 0.05 (5%)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humane_durations_parse() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("1000years").unwrap_err().contains("at most 30 days"));
        assert!(parse_duration("soon").unwrap_err().contains("such as `10s`"));
    }

    #[test]
    fn fractions_outside_zero_to_one_are_rejected() {
        assert_eq!(parse_fraction("0"), Ok(0.0));
        assert_eq!(parse_fraction("1"), Ok(1.0));
        assert!(parse_fraction("2").unwrap_err().contains("outside 0..=1"));
        assert!(parse_fraction("-0.1").is_err());
        assert!(parse_fraction("NaN").is_err());
        assert!(parse_fraction("x").unwrap_err().contains("not a number"));
    }

    #[test]
    fn defaults_need_no_flags() {
        let args = Args::try_parse_from(["tally-demo"]).unwrap();
        assert_eq!(args.duration, Duration::from_secs(10));
        assert_eq!((args.readers, args.port, args.json), (50, 9464, false));
        assert!(args.worker_count() >= 1);
    }
}
