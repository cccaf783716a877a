//! Reading counts back out of a text exposition, as a scraper would.

use crate::event::Counts;

/// The sample names holding each field in one library's exposition.
pub(super) struct Names {
    pub total: &'static str,
    pub outcome: [&'static str; 2],
    pub cache: [&'static str; 2],
    pub latency_count: &'static str,
}

/// The value of the samples named exactly `name`, summed over their label sets; 0 when
/// there is none (the library has not written the series yet).
fn sample(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let series = parts.next()?;
            let value = parts.next()?;
            let metric = series.split('{').next()?;
            (metric == name).then(|| {
                value.parse::<u64>().unwrap_or_else(|_| {
                    value.parse::<f64>().unwrap_or_else(|e| {
                        panic!("sample {name} has value {value:?}, not a number: {e}")
                    }) as u64
                })
            })
        })
        .sum()
}

/// The fields as `text` has them.
pub(super) fn counts(text: &str, names: &Names) -> Counts {
    Counts {
        total: sample(text, names.total),
        outcome: names.outcome.map(|n| sample(text, n)),
        cache: names.cache.map(|n| sample(text, n)),
        latencies: sample(text, names.latency_count),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_matched_by_exact_name_and_summed_over_labels() {
        let text =
            "# TYPE a counter\na_total 3\na_total_x 100\nb{l=\"1\"} 2\nb{l=\"2\"} 5\nc 1.0e3\n";
        assert_eq!(sample(text, "a_total"), 3);
        assert_eq!(sample(text, "b"), 7);
        assert_eq!(sample(text, "c"), 1000);
        assert_eq!(sample(text, "missing"), 0);
    }
}
