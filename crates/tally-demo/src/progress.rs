//! The live progress line: elapsed and total time, requests per second, success rate and
//! p99, all from the published epoch (what a dashboard would show).

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::view::View;

/// The window requests per second are measured over.
const RATE_WINDOW: Duration = Duration::from_secs(1);

/// The progress line, or nothing when output is not a terminal or JSON was asked for.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    total: Duration,
    /// `(collected_at, total_inferences)` of recent epochs, oldest first.
    recent: VecDeque<(Duration, u64)>,
}

impl Progress {
    /// A line for a run of `total`, shown only when `wanted` and both stdout and stderr
    /// are terminals.
    pub fn new(wanted: bool, total: Duration) -> Self {
        let shown = wanted && std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
        let bar = shown.then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(total.as_millis() as u64),
                ProgressDrawTarget::stderr_with_hz(10),
            );
            bar.set_style(
                ProgressStyle::with_template("{bar:24.cyan/blue} {msg}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar
        });
        Progress { bar, total, recent: VecDeque::new() }
    }

    /// Updates the line: `phase` (loading, serving), time since the start, and the epoch
    /// published at `collected_at`.
    pub fn update(
        &mut self,
        phase: &str,
        elapsed: Duration,
        collected_at: Duration,
        view: Option<&View>,
    ) {
        let Some(bar) = &self.bar else { return };
        let mut msg =
            format!("{phase} {:>5.1}/{:.1} s", elapsed.as_secs_f64(), self.total.as_secs_f64());
        if let Some(view) = view {
            let total = view.overall.total_inferences;
            if self.recent.back().is_none_or(|&(at, _)| at != collected_at) {
                self.recent.push_back((collected_at, total));
            }
            while self.recent.len() > 2
                && collected_at.saturating_sub(self.recent[1].0) >= RATE_WINDOW
            {
                self.recent.pop_front();
            }
            let (at, before) = self.recent[0];
            let span = collected_at.saturating_sub(at).as_secs_f64();
            let rate = if span > 0.0 { (total - before) as f64 / span } else { 0.0 };
            msg.push_str(&format!(
                " | {} req/s | success {:.2}% | p99 {}",
                human_count(rate),
                100.0 * view.overall.success_rate(),
                view.overall.latency_quantile(0.99).map_or("-".to_owned(), human_duration)
            ));
        }
        bar.set_position(elapsed.as_millis().min(self.total.as_millis()) as u64);
        bar.set_message(msg);
    }

    /// Removes the line.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `1234567.0` → `1.23M`.
pub fn human_count(v: f64) -> String {
    match v {
        v if v >= 1e9 => format!("{:.2}G", v / 1e9),
        v if v >= 1e6 => format!("{:.2}M", v / 1e6),
        v if v >= 1e3 => format!("{:.1}k", v / 1e3),
        v => format!("{v:.0}"),
    }
}

/// A latency with a unit that keeps three significant figures or so.
pub fn human_duration(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    match ns {
        ns if ns >= 1e9 => format!("{:.2} s", ns / 1e9),
        ns if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        ns if ns >= 1e3 => format!("{:.1} µs", ns / 1e3),
        ns => format!("{ns:.0} ns"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_printed_with_units() {
        assert_eq!(human_count(1_234_567.0), "1.23M");
        assert_eq!(human_count(999.0), "999");
        assert_eq!(human_duration(Duration::from_nanos(12_345)), "12.3 µs");
        assert_eq!(human_duration(Duration::from_millis(3)), "3.00 ms");
    }
}
