//! The command line shared by the `peers` bench and the `report` binary.

use std::time::Duration;

use crate::contender::{ALL, Kind};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The quick correctness pass instead of measuring.
    pub test: bool,
    /// Repetitions of every throughput cell.
    pub reps: usize,
    /// Wall time of one throughput run.
    pub target: Duration,
    /// Writer thread counts of the throughput table.
    pub threads: Vec<usize>,
    /// The contenders, in table order (`floor` and `tally` always kept: the ratios need
    /// them).
    pub kinds: Vec<Kind>,
    /// Reader counts of the reader table.
    pub readers: Vec<usize>,
    /// Writers in the reader table.
    pub writers: usize,
    /// Repetitions of every reader row.
    pub reader_reps: usize,
    /// Wall time of one reader run.
    pub reader_time: Duration,
    /// Series of the encoding comparison.
    pub series: usize,
    /// Where the report writes (the repository root); `None`: the default.
    pub root: Option<String>,
}

/// The options' usage line.
pub const USAGE: &str = "[--bench] [--test] [--reps N] [--target-ms N] [--threads 1,2,4] \
    [--contenders tally,mutex,...] [--readers 1,50] [--writers N] [--reader-reps N] \
    [--reader-ms N] [--series N] [--root PATH]";

impl Options {
    /// Parses `args` (without the program name). `cargo bench` passes `--bench`; without
    /// it (a bare run, `cargo test --benches`) the quick check runs.
    ///
    /// # Errors
    ///
    /// A message naming the bad argument and what it takes.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        bench_by_default: bool,
    ) -> Result<Options, String> {
        let mut o = Options {
            test: false,
            reps: 7,
            target: Duration::from_millis(300),
            threads: vec![1, 2, 4],
            kinds: ALL.to_vec(),
            readers: vec![1, 50],
            writers: 1,
            reader_reps: 3,
            reader_time: Duration::from_millis(300),
            series: 10_000,
            root: None,
        };
        let mut bench = bench_by_default;
        let mut args = args.into_iter();
        while let Some(a) = args.next() {
            let mut value = |what: &str| args.next().ok_or_else(|| format!("{a} needs {what}"));
            let positive = |v: String, name: &str| {
                v.parse::<u64>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("{name} takes a positive integer, not {v:?}"))
            };
            let list = |v: String, name: &str| {
                v.split(',')
                    .map(|t| t.trim().parse::<usize>().ok())
                    .collect::<Option<Vec<_>>>()
                    .filter(|l| !l.is_empty())
                    .ok_or_else(|| format!("{name} takes a list of counts like 1,2,4, not {v:?}"))
            };
            match a.as_str() {
                "--bench" => bench = true,
                "--test" => o.test = true,
                "--reps" => o.reps = positive(value("a count")?, "--reps")? as usize,
                "--target-ms" => {
                    o.target =
                        Duration::from_millis(positive(value("milliseconds")?, "--target-ms")?)
                }
                "--threads" => {
                    o.threads = list(value("a list")?, "--threads")?;
                    if o.threads.contains(&0) {
                        return Err("--threads: every count must be at least 1".into());
                    }
                }
                "--contenders" => {
                    let v = value("a list")?;
                    let wanted: Vec<&str> = v.split(',').map(str::trim).collect();
                    if let Some(bad) = wanted.iter().find(|w| Kind::by_name(w).is_none()) {
                        let names: Vec<&str> = ALL.iter().map(|k| k.name).collect();
                        return Err(format!(
                            "unknown contender {bad:?}; they are {}",
                            names.join(", ")
                        ));
                    }
                    o.kinds = ALL
                        .iter()
                        .copied()
                        .filter(|k| {
                            k.name == "floor" || k.name == "tally" || wanted.contains(&k.name)
                        })
                        .collect();
                }
                "--readers" => o.readers = list(value("a list")?, "--readers")?,
                "--writers" => o.writers = positive(value("a count")?, "--writers")? as usize,
                "--reader-reps" => {
                    o.reader_reps = positive(value("a count")?, "--reader-reps")? as usize
                }
                "--reader-ms" => {
                    o.reader_time =
                        Duration::from_millis(positive(value("milliseconds")?, "--reader-ms")?)
                }
                "--series" => o.series = positive(value("a count")?, "--series")? as usize,
                "--root" => o.root = Some(value("a path")?),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        o.test |= !bench;
        Ok(o)
    }
}
