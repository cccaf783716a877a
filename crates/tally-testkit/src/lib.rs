//! Test support shared by the workspace's integration tests: real external programs started
//! by a test and stopped when it ends (also when it panics), and a plain HTTP/1.1 client to
//! talk to them.
//!
//! ```
//! use tally_testkit::TempDir;
//! let dir = TempDir::new("doc");
//! assert!(dir.0.is_dir());
//! ```
//!
//! A missing program skips a test with a message on stderr, unless
//! `TALLY_REQUIRE_EXTERNAL=1` (as CI sets it), which makes it a failure ([`has_program`]).

#![deny(missing_docs)]

mod external;
mod http;
mod prometheus;
mod pushgateway;

pub use external::{TempDir, available, free_addr, has_program, required};
pub use http::{Reply, request};
pub use prometheus::{Prometheus, Vector, value_of};
pub use pushgateway::{PROGRAM as PUSHGATEWAY, Pushgateway};
