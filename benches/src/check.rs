//! The quick correctness pass (`--test`, what CI runs).

use std::time::Duration;

use crate::contender::Kind;
use crate::event::Counts;
use crate::harness::{Loss, run_fixed, run_with_readers};

/// Contenders whose every read must be coherent: tally's snapshots, and a lock held for
/// the whole event.
pub const COHERENT: [&str; 3] = ["tally", "tally-labelled", "mutex"];

/// Runs every contender once at each thread count with 10,000 events per thread and
/// checks the final counts field by field against a replay of the generators; then once
/// with 2 writers and 2 readers for 20 ms, checking the final counts again and that the
/// [`COHERENT`] contenders' readers never saw a torn snapshot. Prints a line per check;
/// returns whether all passed. Under readers a peer's losses are printed (`LOSS`) but do
/// not fail the check; without readers every contender must be exact.
pub fn quick_check(kinds: &[Kind], threads: &[usize]) -> bool {
    const EVENTS: u64 = 10_000;
    let mut ok = true;
    for &t in threads {
        let expected = Counts::expected(&vec![EVENTS; t]);
        for &k in kinds {
            let (_, _, got) = run_fixed(k, t, EVENTS);
            let pass = got == expected;
            ok &= pass;
            println!(
                "{} {:<18} threads={t} events/thread={EVENTS} total={} (expected {})",
                if pass { "ok  " } else { "FAIL" },
                k.name,
                got.total,
                expected.total
            );
            if !pass {
                println!("     got      {got:?}\n     expected {expected:?}");
            }
        }
    }
    for &k in kinds {
        let mut loss = Loss::default();
        let run = run_with_readers(k, 2, 2, Duration::from_millis(20), &mut loss);
        let must_be_coherent = COHERENT.contains(&k.name);
        // A peer that loses updates while read is reported, not failed: that is the peer's
        // behaviour, which the report exists to show (see docs/PERFORMANCE.md).
        let pass = (loss.ok() || k.peer) && !(must_be_coherent && run.any_torn > 0);
        ok &= pass;
        let status = match (pass, loss.ok()) {
            (false, _) => "FAIL",
            (true, false) => "LOSS",
            (true, true) => "ok  ",
        };
        println!(
            "{status} {:<18} 2 writers + 2 readers: {} reads, {} torn ({} any field), lost: {}{}",
            k.name,
            run.reads,
            run.outcome_torn,
            run.any_torn,
            loss.describe(),
            if must_be_coherent { " (must be coherent)" } else { "" },
        );
    }
    ok
}
