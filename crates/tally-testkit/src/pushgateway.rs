//! A real Prometheus Pushgateway (Debian package `prometheus-pushgateway`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{Reply, TempDir, free_addr, request};

/// The program's name as Debian installs it.
pub const PROGRAM: &str = "prometheus-pushgateway";

/// The Pushgateway process, killed when dropped (also when the test panics).
#[derive(Debug)]
pub struct Pushgateway {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Pushgateway {
    /// A Pushgateway on a free port, its log in `dir`; returns once it answers.
    pub fn start(dir: &TempDir) -> Pushgateway {
        Pushgateway::start_on(dir, free_addr())
    }

    /// A Pushgateway on `addr`, its log in `dir`; returns once it answers.
    pub fn start_on(dir: &TempDir, addr: SocketAddr) -> Pushgateway {
        let log = dir.0.join("pushgateway.log");
        let child = Command::new(PROGRAM)
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("prometheus-pushgateway could not start");
        let mut gateway = Pushgateway { child, addr, log };
        // Polled a bounded number of times (600 × 50 ms), not against a clock.
        for _ in 0..600 {
            if gateway.get("/-/ready").is_some_and(|r| r.status == 200) {
                return gateway;
            }
            if let Ok(Some(status)) = gateway.child.try_wait() {
                panic!("the pushgateway exited with {status}:\n{}", gateway.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the pushgateway never answered /-/ready:\n{}", gateway.log())
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `GET path`.
    pub fn get(&mut self, path: &str) -> Option<Reply> {
        request(self.addr, "GET", path, &[], b"")
    }

    /// Its `/metrics` page: what Prometheus scrapes from it.
    pub fn metrics(&mut self) -> String {
        self.get("/metrics").expect("the pushgateway answers").text()
    }

    /// What it logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
