//! The live view: elapsed time, requests per second, success rate and latency, all from the
//! published epoch (what a dashboard would show), each figure labelled with its window
//! (`last 1 s` or `all`: since the start). It fits the terminal: figures are shortened, then
//! dropped, least important first, never cut. On a terminal it is one line redrawn in place
//! (on stderr); otherwise a plain line per second (on stdout, or on stderr with `--json`).

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tally::HistogramSnapshot;

use crate::view::View;

/// The window the rate and the windowed quantile are measured over.
const WINDOW: Duration = Duration::from_secs(1);

/// Width assumed where there is no terminal and no `COLUMNS`.
pub const DEFAULT_WIDTH: usize = 100;

/// Narrowest width the view and the tables are laid out for.
const MIN_WIDTH: usize = 40;

/// How the live figures are shown (`--progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// A line redrawn in place when stderr is a terminal, a line per second otherwise
    /// (none with `--json` unless asked for).
    Auto,
    /// A line redrawn in place on stderr.
    Live,
    /// A plain line per second (stdout; stderr with `--json`).
    Lines,
    /// Nothing until the final report.
    Off,
}

/// The width to lay output out for: `COLUMNS` when set to a number, else the terminal's
/// (stdout's, then stderr's), else [`DEFAULT_WIDTH`]; never below 40.
pub fn width() -> usize {
    let from_env = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok());
    let from_terminal = || {
        [console::Term::stdout(), console::Term::stderr()]
            .iter()
            .find_map(|t| t.size_checked().map(|(_, w)| usize::from(w)).filter(|&w| w > 0))
    };
    from_env.or_else(from_terminal).unwrap_or(DEFAULT_WIDTH).max(MIN_WIDTH)
}

/// Where the figures go.
#[derive(Debug)]
enum Shown {
    Live(ProgressBar),
    Lines { to_stderr: bool, next: Duration },
    Off,
}

/// One published epoch's figures kept for the window.
#[derive(Debug)]
struct Sample {
    at: Duration,
    total: u64,
    latency: HistogramSnapshot,
}

/// The live view.
#[derive(Debug)]
pub struct Progress {
    shown: Shown,
    width: usize,
    total: Duration,
    /// Recent epochs, oldest first: the oldest at least [`WINDOW`] before the newest when
    /// the run is that old.
    recent: VecDeque<Sample>,
}

impl Progress {
    /// The view for a run of `total`, shown as `mode` says (`json`: stdout carries JSON).
    pub fn new(mode: ProgressMode, json: bool, total: Duration) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let mode = match mode {
            ProgressMode::Auto if json => ProgressMode::Off,
            ProgressMode::Auto if terminal => ProgressMode::Live,
            ProgressMode::Auto => ProgressMode::Lines,
            other => other,
        };
        let shown = match mode {
            ProgressMode::Live => {
                let bar =
                    ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
                bar.set_style(ProgressStyle::with_template("{msg}").expect("a valid template"));
                Shown::Live(bar)
            }
            ProgressMode::Lines => Shown::Lines { to_stderr: json, next: Duration::from_secs(1) },
            _ => Shown::Off,
        };
        Progress { shown, width: width(), total, recent: VecDeque::new() }
    }

    /// Updates the view: `phase` (loading, serving), time since the start, and the epoch
    /// published at `collected_at`.
    pub fn update(
        &mut self,
        phase: &str,
        elapsed: Duration,
        collected_at: Duration,
        view: Option<&View>,
    ) {
        if matches!(self.shown, Shown::Off) {
            return;
        }
        if let Some(view) = view
            && self.recent.back().is_none_or(|s| s.at != collected_at)
        {
            self.recent.push_back(Sample {
                at: collected_at,
                total: view.overall.total_inferences,
                latency: view.overall.latency_ns.clone(),
            });
            while self.recent.len() > 2 && collected_at.saturating_sub(self.recent[1].at) >= WINDOW
            {
                self.recent.pop_front();
            }
        }
        match &self.shown {
            Shown::Live(bar) => {
                // One column spare: a line as wide as the terminal wraps on some of them.
                bar.set_message(self.line(phase, elapsed, view, self.width - 1, true));
            }
            &Shown::Lines { to_stderr, next } => {
                if elapsed < next {
                    return;
                }
                let line = self.line(phase, elapsed, view, self.width, false);
                // The next line on the next whole second: a late line does not push the
                // ones after it later.
                let mut next = next;
                while next <= elapsed {
                    next += Duration::from_secs(1);
                }
                self.shown = Shown::Lines { to_stderr, next };
                // A closed pipe ends the lines, not the run.
                let _ = if to_stderr {
                    writeln!(std::io::stderr(), "{line}")
                } else {
                    writeln!(std::io::stdout(), "{line}")
                };
            }
            Shown::Off => {}
        }
    }

    /// The figures as one line of at most `width` columns.
    fn line(
        &self,
        phase: &str,
        elapsed: Duration,
        view: Option<&View>,
        width: usize,
        bar: bool,
    ) -> String {
        let head =
            format!("{phase} {:>5.1}/{:.1} s", elapsed.as_secs_f64(), self.total.as_secs_f64());
        let mut items: Vec<Item> = Vec::new();
        if let (Some(view), Some(oldest), Some(newest)) =
            (view, self.recent.front(), self.recent.back())
        {
            let o = &view.overall;
            let span = newest.at.saturating_sub(oldest.at);
            if !span.is_zero() {
                let rate = (newest.total - oldest.total) as f64 / span.as_secs_f64();
                let secs = span.as_secs_f64();
                items.push(Item::new(
                    format!("{} req/s (last {secs:.1} s)", human_count(rate)),
                    format!("{} req/s ({secs:.0}s)", human_count(rate)),
                ));
            }
            items.push(Item::new(
                format!("success {:.2}% (all)", 100.0 * o.success_rate()),
                format!("ok {:.1}%", 100.0 * o.success_rate()),
            ));
            if !span.is_zero()
                && let Ok(window) = HistogramSnapshot::delta(&newest.latency, &oldest.latency)
            {
                let p99 = window.quantile(0.99).map_or("-".to_owned(), ns);
                items.push(Item::new(
                    format!("p99 {p99} (last {:.1} s)", span.as_secs_f64()),
                    format!("p99 {p99} (1s)"),
                ));
            }
            let p99 = o.latency_ns.quantile(0.99).map_or("-".to_owned(), ns);
            items.push(Item::new(format!("p99 {p99} (all)"), format!("p99 {p99} (all)")));
            items.push(Item::new(
                format!("cache hits {:.1}% (all)", 100.0 * o.cache_hit_rate()),
                format!("hits {:.1}%", 100.0 * o.cache_hit_rate()),
            ));
            items.push(Item::new(
                format!("in flight {}", o.in_flight),
                format!("in flight {}", o.in_flight),
            ));
        }
        let mut line = fit(&head, &mut items, width);
        if bar {
            // A bar for the time gone, where there is room for one of 10 columns or more.
            let room = width.saturating_sub(line.chars().count() + 3).min(24);
            if room >= 10 {
                let done = elapsed.as_secs_f64() / self.total.as_secs_f64().max(1e-9);
                let filled = ((done.min(1.0)) * room as f64) as usize;
                let bar = "=".repeat(filled) + &" ".repeat(room - filled);
                line = format!("[{bar}] {line}");
            }
        }
        line
    }

    /// Removes the live line.
    pub fn finish(&self) {
        if let Shown::Live(bar) = &self.shown {
            bar.finish_and_clear();
        }
    }
}

/// A figure of the view, long and short.
#[derive(Debug)]
struct Item {
    long: String,
    short: String,
    use_short: bool,
}

impl Item {
    fn new(long: String, short: String) -> Self {
        Item { long, short, use_short: false }
    }

    fn text(&self) -> &str {
        if self.use_short { &self.short } else { &self.long }
    }
}

/// `head | item | item …` in at most `width` columns: items (most important first) are
/// shortened from the last up, then dropped from the last, until the line fits; `head`
/// is cut only if it alone does not fit.
fn fit(head: &str, items: &mut Vec<Item>, width: usize) -> String {
    let joined = |items: &[Item]| {
        std::iter::once(head).chain(items.iter().map(Item::text)).collect::<Vec<_>>().join(" | ")
    };
    for i in (0..items.len()).rev() {
        if joined(items).chars().count() <= width {
            break;
        }
        items[i].use_short = true;
    }
    while !items.is_empty() && joined(items).chars().count() > width {
        items.pop();
    }
    joined(items).chars().take(width).collect()
}

/// Nanoseconds as a latency with its unit.
fn ns(n: u64) -> String {
    human_duration(Duration::from_nanos(n))
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

/// `text` wrapped at spaces into lines of at most `width` columns (a word longer than that
/// is cut).
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let extra = usize::from(!line.is_empty()) + word.chars().count();
        if !line.is_empty() && line.chars().count() + extra > width {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        while line.chars().count() > width {
            let head: String = line.chars().take(width).collect();
            out.push_str(&head);
            out.push('\n');
            line = line.chars().skip(width).collect();
        }
    }
    out.push_str(&line);
    out
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

    fn items() -> Vec<Item> {
        vec![
            Item::new("1.23M req/s (last 1.0 s)".into(), "1.23M req/s (1s)".into()),
            Item::new("success 96.97% (all)".into(), "ok 97.0%".into()),
            Item::new("p99 1.23 ms (last 1.0 s)".into(), "p99 1.23 ms (1s)".into()),
            Item::new("p99 1.30 ms (all)".into(), "p99 1.30 ms (all)".into()),
        ]
    }

    #[test]
    fn a_line_that_fits_keeps_every_figure_whole() {
        let line = fit("serving   3.2/10.0 s", &mut items(), 120);
        assert_eq!(
            line,
            "serving   3.2/10.0 s | 1.23M req/s (last 1.0 s) | success 96.97% (all) | \
             p99 1.23 ms (last 1.0 s) | p99 1.30 ms (all)"
        );
    }

    #[test]
    fn a_narrow_line_shortens_then_drops_figures_never_cuts_them() {
        for width in [40, 60, 80, 100] {
            let line = fit("serving   3.2/10.0 s", &mut items(), width);
            assert!(line.chars().count() <= width, "{width}: {line}");
            for part in line.split(" | ").skip(1) {
                assert!(
                    items().iter().any(|i| i.long == part || i.short == part),
                    "{width}: a cut figure `{part}` in {line}"
                );
            }
        }
        assert_eq!(
            fit("serving   3.2/10.0 s", &mut items(), 60),
            "serving   3.2/10.0 s | 1.23M req/s (1s) | ok 97.0%"
        );
    }

    #[test]
    fn wrapped_text_stays_within_the_width() {
        let text =
            "Requests issued (counted by the workers themselves) against tally's final snapshot";
        let wrapped = wrap(text, 40);
        assert!(wrapped.lines().all(|l| l.chars().count() <= 40), "{wrapped}");
        assert_eq!(wrapped.replace('\n', " "), text);
    }
}
