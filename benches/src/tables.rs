//! The markdown tables of the results.

use std::fmt::Write as _;

use crate::encode::EncodeTimes;
use crate::harness::{ReaderCell, ThroughputCell, median};

fn ratio(a: Option<f64>, b: f64) -> String {
    a.map_or("-".into(), |a| format!("{:.2}×", b / a))
}

/// The throughput table: one row per (threads, contender), the median, min and max wall
/// ns per event per thread, events/s over all threads, the ratios to the floor and to
/// tally at the same thread count, and lost updates. `cores` marks oversubscribed rows.
pub fn throughput_table(cells: &[ThroughputCell], cores: usize) -> String {
    let mut out = String::from(
        "| threads | contender | ns/event/thread (median) | min | max | M events/s (all threads) | vs floor | vs tally | lost updates |\n\
         |--:|:--|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for c in cells {
        let same = |name: &str| {
            cells
                .iter()
                .find(|o| o.kind.name == name && o.threads == c.threads)
                .map(ThroughputCell::median_ns)
        };
        let med = c.median_ns();
        let min = c.ns.iter().copied().fold(f64::INFINITY, f64::min);
        let max = c.ns.iter().copied().fold(0.0, f64::max);
        let threads = if c.threads > cores {
            format!("{} (oversubscribed)", c.threads)
        } else {
            c.threads.to_string()
        };
        let _ = writeln!(
            out,
            "| {threads} | `{}` | {med:.1} | {min:.1} | {max:.1} | {:.1} | {} | {} | {} |",
            c.kind.name,
            c.events_per_second() / 1e6,
            ratio(same("floor"), med),
            ratio(same("tally"), med),
            c.loss.describe(),
        );
    }
    out
}

/// The reader table: per contender and reader count, the writers' rate alone and with the
/// readers, the slowdown, the readers' rate, the torn shares and lost updates.
pub fn reader_table(cells: &[ReaderCell]) -> String {
    let mut out = String::from(
        "| contender | writers | readers | alone (M events/s) | with readers (M events/s) | with/alone | reads/s | torn (`successful + failed != total`) | any field torn | lost updates |\n\
         |:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for c in cells {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} |",
            c.kind.name,
            c.writers,
            c.readers,
            median(&c.alone) / 1e6,
            median(&c.with) / 1e6,
            c.ratio(),
            si(median(&c.reads_per_second)),
            percent(c.torn_share(), c.outcome_torn),
            percent(c.any_torn_share(), c.any_torn),
            c.loss.describe(),
        );
    }
    out
}

/// The encoding table: time per encode and the speed-up over `prometheus-client`.
pub fn encode_table(results: &[EncodeTimes]) -> String {
    let mut out = String::from(
        "| workload | encoder | min per encode | ns/series (min) | ns/series (median) | speed-up (min) | speed-up (median) |\n\
         |:--|:--|--:|--:|--:|--:|--:|\n",
    );
    for w in results {
        let (_, peer_min, peer_med) = w.cases[0];
        for &(name, min, med) in &w.cases {
            let per = |t: std::time::Duration| t.as_nanos() as f64 / w.series as f64;
            let _ = writeln!(
                out,
                "| {} | {name} | {:.2} ms | {:.0} | {:.0} | {:.1}× | {:.1}× |",
                w.workload,
                min.as_secs_f64() * 1e3,
                per(min),
                per(med),
                peer_min.as_secs_f64() / min.as_secs_f64(),
                peer_med.as_secs_f64() / med.as_secs_f64(),
            );
        }
    }
    out
}

fn si(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.1} M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

fn percent(share: f64, n: u64) -> String {
    if n == 0 { "0".into() } else { format!("{:.2}% ({n})", share * 100.0) }
}
