//! Every contender, the peer libraries included, on the same event: writers alone at 1, 2
//! and 4 threads, then writers under 1 and 50 readers. See `tally_benches` for the event
//! and the contenders, `docs/PERFORMANCE.md` for results.
//!
//! ```text
//! cargo bench --manifest-path benches/Cargo.toml --bench peers             # the tables
//! cargo bench --manifest-path benches/Cargo.toml --bench peers -- --test   # quick check
//! ```
//!
//! Options: `tally_benches::USAGE`. The final counts of every run are checked against a
//! replay of the generators; a loss shows in the tables and fails the run.

use std::process;

use tally_benches::{
    Options, USAGE, quick_check, reader_table, readers, throughput, throughput_table,
};

fn main() {
    let o = Options::parse(std::env::args().skip(1), false).unwrap_or_else(|e| {
        eprintln!("peers: {e}\nusage: peers {USAGE}");
        process::exit(2)
    });
    if o.test {
        if quick_check(&o.kinds, &o.threads) {
            println!("peers --test: every contender's final counts are exact");
            return;
        }
        eprintln!(
            "peers --test: a contender lost or invented updates, or tore a snapshot it must not (see above)"
        );
        process::exit(1);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let log = |m: &str| eprintln!("{m}");
    let cells = throughput(&o.kinds, &o.threads, o.reps, o.target, log);
    println!("{}", throughput_table(&cells, cores));
    let rcells = readers(&o.kinds, o.writers, &o.readers, o.reader_reps, o.reader_time, log);
    println!("{}", reader_table(&rcells));
    // A peer's losses are its behaviour, reported in the tables; tally's or a baseline's
    // would be a bug.
    let lost = |peer: bool| {
        cells.iter().any(|c| !c.loss.ok() && c.kind.peer == peer)
            || rcells.iter().any(|c| !c.loss.ok() && c.kind.peer == peer)
    };
    if lost(true) {
        eprintln!("peers: a peer library lost or invented updates (see the tables)");
    }
    if lost(false) {
        eprintln!("peers: tally or a baseline lost or invented updates");
        process::exit(1);
    }
}
