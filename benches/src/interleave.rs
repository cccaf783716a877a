//! Timing cases interleaved round by round, so that load from other processes falls on
//! every case alike.

use std::time::{Duration, Instant};

/// Times each case `runs` times, the cases interleaved round by round, after one warm-up
/// round; returns the minimum and the median of each, in the cases' order.
///
/// ```
/// use tally_benches::time_cases;
///
/// let (mut a, mut b) = (0, 0);
/// let times = time_cases(3, &mut [&mut || a += 1, &mut || b += 2]);
/// assert_eq!(times.len(), 2);
/// assert_eq!((a, b), (4, 8)); // the warm-up round and 3 timed rounds
/// assert!(times.iter().all(|(min, median)| min <= median));
/// ```
pub fn time_cases(runs: usize, cases: &mut [&mut dyn FnMut()]) -> Vec<(Duration, Duration)> {
    for case in cases.iter_mut() {
        case();
    }
    let mut times = vec![Vec::with_capacity(runs); cases.len()];
    for _ in 0..runs {
        for (case, times) in cases.iter_mut().zip(&mut times) {
            let start = Instant::now();
            case();
            times.push(start.elapsed());
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort();
            (t[0], t[t.len() / 2])
        })
        .collect()
}
