//! A real Prometheus server (Debian package `prometheus`) that scrapes one target every
//! second, and its HTTP query API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{TempDir, free_addr, request};

/// One query result: an instant vector, as (labels, value) pairs.
pub type Vector = Vec<(serde_json::Value, String)>;

/// The Prometheus process, killed when dropped (also when the test panics). It scrapes its
/// target every second, with a 1 s scrape timeout.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Prometheus {
    /// Prometheus scraping `target` (job `tally`), its files in `dir`.
    pub fn start(dir: &TempDir, target: SocketAddr) -> Prometheus {
        Prometheus::start_with(dir, target, false, &[])
    }

    /// Prometheus scraping `target` with `honor_labels: true`, as a Pushgateway is scraped
    /// (the pushed `job` and grouping labels are kept).
    pub fn start_honoring_labels(dir: &TempDir, target: SocketAddr) -> Prometheus {
        Prometheus::start_with(dir, target, true, &[])
    }

    /// Prometheus scraping `target` with `--enable-feature=native-histograms`: it asks for
    /// the protobuf format first (its `Accept` header then starts with
    /// `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`)
    /// and stores histograms sent with native buckets as native histograms, which
    /// `histogram_count`, `histogram_sum` and `histogram_quantile` read.
    pub fn start_with_native_histograms(dir: &TempDir, target: SocketAddr) -> Prometheus {
        Prometheus::start_with(dir, target, false, &["native-histograms"])
    }

    fn start_with(
        dir: &TempDir,
        target: SocketAddr,
        honor_labels: bool,
        features: &[&str],
    ) -> Prometheus {
        let config = dir.0.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: tally\n    honor_labels: {honor_labels}\n    \
                 static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let addr = free_addr();
        let log = dir.0.join("prometheus.log");
        let child = Command::new("prometheus")
            .args(features.iter().map(|f| format!("--enable-feature={f}")))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.0.join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.0.join("stdout.log")).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("prometheus could not start");
        Prometheus { child, addr, log }
    }

    /// The instant vector for `query` now; `None` while Prometheus is not up yet or has no
    /// result.
    pub fn query(&mut self, query: &str) -> Option<Vector> {
        self.query_at(query, None)
    }

    /// The instant vector for `query`, evaluated at `at` (default: now); `None` while
    /// Prometheus is not up yet or has no result.
    pub fn query_at(&mut self, query: &str, at: Option<SystemTime>) -> Option<Vector> {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("prometheus exited with {status}:\n{}", self.log());
        }
        let encoded: String = query
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let mut path = format!("/api/v1/query?query={encoded}");
        if let Some(at) = at {
            let seconds = at.duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
            path.push_str(&format!("&time={seconds:.3}"));
        }
        // Prometheus may not listen yet: a refused connection is "not yet".
        let reply = request(self.addr, "GET", &path, &[], b"")?;
        if reply.status != 200 {
            return None;
        }
        let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        let result = json["data"]["result"].as_array()?;
        if result.is_empty() {
            return None;
        }
        Some(
            result
                .iter()
                .map(|r| (r["metric"].clone(), r["value"][1].as_str().unwrap().to_owned()))
                .collect(),
        )
    }

    /// Polls `query` until `check` accepts its result; at most 300 polls, 200 ms apart.
    pub fn wait_for(
        &mut self,
        query: &str,
        mut check: impl FnMut(&[(serde_json::Value, String)]) -> bool,
    ) {
        // Polled a bounded number of times (300 × 200 ms), not against a clock.
        let mut last = None;
        for _ in 0..300 {
            if let Some(result) = self.query(query) {
                if check(&result) {
                    return;
                }
                last = Some(result);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "{query}: no expected result after 300 polls; last {last:?}\n{}",
            self.diagnostics()
        );
    }

    /// Its targets' state and its log, for a failure message.
    pub fn diagnostics(&self) -> String {
        let targets = request(self.addr, "GET", "/api/v1/targets", &[], b"")
            .map_or_else(|| "(no answer)".to_owned(), |r| r.text());
        format!("targets: {targets}\nlog:\n{}", self.log())
    }

    /// What it logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of a one-series result.
pub fn value_of(result: &[(serde_json::Value, String)]) -> Option<&str> {
    match result {
        [(_, value)] => Some(value),
        _ => None,
    }
}
