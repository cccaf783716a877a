//! The main job of tally: a simulated inference service recording into tally from worker
//! threads and async tasks, while reader threads check every published snapshot, `/metrics`
//! is served and scraped, and a live view shows the figures (fitted to the terminal); at the end, a table
//! of what was issued against what tally counted.
//!
//! ```text
//! cargo run --release -p tally-demo                   # 10 s, defaults
//! cargo run --release -p tally-demo -- --duration 2s --failure-rate 0.1 --port 0
//! cargo run --release -p tally-demo -- --json         # the final snapshot and checks as JSON
//! ```
//!
//! It exits with status 1, saying what was lost or broken, if any request was not counted
//! exactly once or any invariant broke in any snapshot; 2 if it could not run (bad flag,
//! port taken).

#![forbid(unsafe_code)]

mod args;
mod cache;
mod checks;
mod counts;
mod error;
mod load;
mod metrics;
mod overhead;
mod progress;
mod readers;
mod report;
mod resources;
mod rng;
mod run;
mod scrape;
mod service;
mod view;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = args::Args::parse();
    let json = args.json;
    // With --json, stdout carries the JSON alone: the start-up lines go to stderr. Both
    // are wrapped to the terminal's width.
    let width = progress::width();
    let mut say = |line: &str| {
        let line = progress::wrap(line, width);
        if json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    match run::run(&args, &mut say) {
        Ok(report) => {
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_table());
            }
            if report.ok {
                ExitCode::SUCCESS
            } else {
                eprintln!("tally-demo: FAILED:");
                for problem in &report.problems {
                    eprintln!("  - {problem}");
                }
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("tally-demo: error: {e}");
            ExitCode::from(2)
        }
    }
}
