//! tally's encoder against `prometheus-client`'s on the same 10,000 series (moved here from
//! `tally-prometheus`, so that the peer stays out of the main workspace). The workloads
//! and what each case measures: `tally_benches::encode_compare`.
//!
//! ```text
//! cargo bench --manifest-path benches/Cargo.toml --bench encode            # 31 runs each
//! cargo bench --manifest-path benches/Cargo.toml --bench encode -- --test  # 100 series, once
//! ```

use tally_benches::{encode_compare, encode_table};

fn main() {
    let test_mode = std::env::args().any(|a| a == "--test");
    let series = if test_mode { 100 } else { 10_000 };
    let runs = if test_mode { 1 } else { 31 };
    println!(
        "{series} series, {runs} runs of each case, interleaved; speed-up = prometheus-client's \
         time / this one's (of the minimum, and of the median)\n"
    );
    print!("{}", encode_table(&encode_compare(series, runs)));
    if test_mode {
        println!("\ntest mode: 1 run of each case on {series} series; both encoders agree");
    }
}
