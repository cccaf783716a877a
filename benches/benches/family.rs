//! A family's cost against its size: creating new series, and looking up existing ones.
//!
//! - printed first, `fill_curve`: one family filled from one thread, with the time at
//!   1,000, 2,000, 4,000, ... 100,000 series, so that the cost of a new series can be read
//!   against the size of the family it joins (it stops at a 60 s deadline, reporting how
//!   far it got);
//! - `family_fill`: filling a fresh family with 100,000 series (cap raised to 100,000) from
//!   one thread, each series created by `with` and recorded into once;
//! - `family_with`: `with` on an existing series of a family of 2,000, 16,000 and 100,000
//!   series: cycling through 8 series (`hot`: the lookup itself, cache-resident), or through
//!   every series in a scrambled order (`spread`: what a large family costs in cache misses).
//!
//! ```text
//! cargo bench --manifest-path benches/Cargo.toml --bench family
//! cargo bench --manifest-path benches/Cargo.toml --bench family -- family_with   # lookups only
//! cargo bench --manifest-path benches/Cargo.toml --bench family -- --test        # each once (CI)
//! ```
//!
//! A filter (criterion's first argument) skips the fill curve unless it is `fill_curve`.

use std::cell::OnceCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group};
use tally::{Cache, Family, InferenceStats, Outcome};
use tally_benches::XorShift;

/// The series of the largest family: the cap the issue's users raise it to.
const LARGE: usize = 100_000;

/// The label values of series `i`: two labels, as in the other benches, each value distinct
/// per series (1,000 models × as many devices as needed).
fn key(i: usize) -> [String; 2] {
    [format!("model-{:03}", i % 1_000), format!("gpu{}", i / 1_000)]
}

fn keys(n: usize) -> Vec<[String; 2]> {
    (0..n).map(key).collect()
}

fn new_family(limit: usize) -> Family<InferenceStats> {
    Family::with_limit(&["model", "device"], limit).expect("valid labels")
}

/// Creates the series of every key, in order (each recorded into once).
fn fill(family: &Family<InferenceStats>, keys: &[[String; 2]]) {
    for [m, d] in keys {
        family
            .with(&[m, d], |s| s.record_request(Outcome::Success, Cache::Miss))
            .expect("two values");
    }
}

/// One fill, timed at each doubling of the family's size, until `deadline`.
fn fill_curve(sizes: &[usize], deadline: Duration) {
    let largest = *sizes.last().expect("sizes");
    let keys = keys(largest);
    let family = new_family(largest);
    println!(
        "fill_curve: one family filled from one thread (cap {largest}), deadline {deadline:?}"
    );
    println!("  {:>8}  {:>10}  {:>26}", "series", "elapsed", "per new series in the step");
    let start = Instant::now();
    let (mut done, mut last) = (0usize, Duration::ZERO);
    for &size in sizes {
        let before = done;
        for [m, d] in &keys[done..size] {
            family
                .with(&[m, d], |s| s.record_request(Outcome::Success, Cache::Miss))
                .expect("two values");
            done += 1;
            if start.elapsed() > deadline {
                break;
            }
        }
        let elapsed = start.elapsed();
        let per = (elapsed - last).as_secs_f64() / (done - before).max(1) as f64;
        println!("  {done:>8}  {:>9.3}s  {:>23.1} µs", elapsed.as_secs_f64(), per * 1e6);
        last = elapsed;
        if done < size {
            println!("  stopped at the {deadline:?} deadline after {done} series");
            break;
        }
    }
    assert_eq!(family.len(), done, "every key made one series");
}

fn family_fill(c: &mut Criterion) {
    let mut g = c.benchmark_group("family_fill");
    g.sample_size(10);
    let keys = keys(LARGE);
    g.bench_function(BenchmarkId::new("new series from one thread", LARGE), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let family = new_family(LARGE);
                let start = Instant::now();
                fill(&family, &keys);
                total += start.elapsed();
                assert_eq!(family.len(), LARGE);
                drop(black_box(family)); // outside the timing
            }
            total
        })
    });
    g.finish();
}

fn family_with(c: &mut Criterion) {
    let mut g = c.benchmark_group("family_with");
    for size in [2_000usize, 16_000, LARGE] {
        let keys = keys(size);
        // The fill runs only when one of this size's benches is selected (old code took
        // minutes to fill 100,000 series).
        let family = OnceCell::new();
        let family = || {
            family.get_or_init(|| {
                let family = new_family(size.max(tally::DEFAULT_CARDINALITY_LIMIT));
                fill(&family, &keys);
                assert_eq!(family.len(), size);
                family
            })
        };
        let hot: Vec<[&str; 2]> =
            (0..8).map(|i| i * (size / 8)).map(|i| [&*keys[i][0], &*keys[i][1]]).collect();
        let mut spread: Vec<[&str; 2]> = keys.iter().map(|[m, d]| [&**m, &**d]).collect();
        let mut rng = XorShift::for_thread(7);
        for i in (1..spread.len()).rev() {
            spread.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        for (pattern, order) in [("hot", &hot), ("spread", &spread)] {
            g.bench_function(BenchmarkId::new(pattern, size), |b| {
                let family = family();
                let mut i = 0usize;
                b.iter(|| {
                    i += 1;
                    if i == order.len() {
                        i = 0;
                    }
                    family
                        .with(&order[i], |s| black_box(s as *const InferenceStats))
                        .expect("two values")
                })
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = family_fill, family_with
}

/// Criterion's options that take a value (the value is not a filter).
const VALUE_OPTIONS: &[&str] = &[
    "-b",
    "--baseline",
    "--baseline-lenient",
    "-s",
    "--save-baseline",
    "--load-baseline",
    "-c",
    "--color",
    "--output-format",
    "--plotting-backend",
    "--profile-time",
    "--sample-size",
    "--warm-up-time",
    "--measurement-time",
    "--nresamples",
    "--noise-threshold",
    "--confidence-level",
    "--significance-level",
    "--format",
];

/// Criterion's filter: its first argument that is neither an option nor an option's value.
fn filter() -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if VALUE_OPTIONS.contains(&a.as_str()) {
            args.next();
        } else if !a.starts_with('-') {
            return Some(a);
        }
    }
    None
}

fn main() {
    let test = std::env::args().any(|a| a == "--test");
    let filter = filter();
    if filter.as_deref().is_none_or(|f| "fill_curve".contains(f)) {
        if test {
            fill_curve(&[1_000, 2_000], Duration::from_secs(60));
        } else {
            let sizes = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, LARGE];
            fill_curve(&sizes, Duration::from_secs(60));
        }
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
