//! One OTLP push of 10,000 series: `tally-otlp` against the OpenTelemetry SDK's own OTLP
//! exporter on the same data, both posting to one local receiver. What each case
//! measures: `tally_benches::otlp_compare`.
//!
//! ```text
//! cargo bench --manifest-path benches/Cargo.toml --bench otlp            # 31 pushes each
//! cargo bench --manifest-path benches/Cargo.toml --bench otlp -- --test  # 100 series, once
//! ```

use tally_benches::{otlp_compare, otlp_table};

fn main() {
    let test_mode = std::env::args().any(|a| a == "--test");
    let series = if test_mode { 100 } else { 10_000 };
    let runs = if test_mode { 1 } else { 31 };
    println!(
        "{series} series x (5 counters + gauge), {runs} pushes of each, interleaved; speed-up = \
         the SDK's time / this one's\n"
    );
    print!("{}", otlp_table(&otlp_compare(series, runs)));
    if test_mode {
        println!("\ntest mode: 1 push of each on {series} series; both sent the same points");
    }
}
