//! External programs: whether they are there, and where they keep their files.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Whether external programs are required rather than optional (`TALLY_REQUIRE_EXTERNAL=1`).
pub fn required() -> bool {
    std::env::var("TALLY_REQUIRE_EXTERNAL").is_ok_and(|v| v == "1")
}

/// Whether `program --version` runs (see [`available`]).
pub fn has_program(test: &str, program: &str, install: &str) -> bool {
    available(test, program, Command::new(program).arg("--version"), install)
}

/// Whether `probe` runs and succeeds. If not: panics when external programs are required,
/// and otherwise says on stderr (uncaptured, so it shows in `cargo test` output) that
/// `test` is skipped and how to install `tool` (`install`, e.g. `apt-get install -y
/// prometheus`).
pub fn available(test: &str, tool: &str, probe: &mut Command, install: &str) -> bool {
    let why = match probe.stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(status) if status.success() => return true,
        Ok(status) => format!("`{probe:?}` exited with {status}"),
        Err(e) => format!("`{probe:?}` could not run: {e}"),
    };
    assert!(
        !required(),
        "{test}: {tool} is required (TALLY_REQUIRE_EXTERNAL=1) but {why}; install it with `{install}`"
    );
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {tool} is not available ({why}); install it with `{install}`, or \
         set TALLY_REQUIRE_EXTERNAL=1 to make this a failure"
    );
    false
}

/// A free port on 127.0.0.1: bound to port 0, noted, let go (a program started next binds
/// it; another could in between, which is rare enough for tests).
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// A fresh directory, removed when dropped.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory for `test` (emptied if it was there).
    pub fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("tally-test-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
