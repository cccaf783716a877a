//! A real Prometheus server (Debian package `prometheus`), from `tally-testkit`.
//!
//! A missing `prometheus` binary skips a test with a message on stderr ([`has_prometheus`]),
//! unless `TALLY_REQUIRE_EXTERNAL=1` (as CI sets it), which makes it a failure.

#[allow(unused_imports)] // each test binary uses a part
pub use tally_testkit::{Prometheus, TempDir, value_of};

/// Whether `prometheus --version` runs (see `tally_testkit::has_program`).
pub fn has_prometheus(test: &str) -> bool {
    tally_testkit::has_program(test, "prometheus", "apt-get install -y prometheus")
}
