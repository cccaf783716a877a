//! The encodings read by real parsers: `promtool check metrics` (client_golang's text
//! parser and Prometheus' linter), Prometheus' own OpenMetrics parser (through `promtool
//! tsdb create-blocks-from openmetrics`, then `promtool tsdb dump` to read back what it
//! stored), and the Python `prometheus_client`'s text and OpenMetrics parsers. Every value
//! and label value they read must equal the snapshot's.
//!
//! A missing tool skips its test with a message on stderr, unless `TALLY_REQUIRE_EXTERNAL=1`,
//! which makes it a failure (as CI sets it). Install the tools with
//! `apt-get install -y prometheus` (for `promtool`) and `pip install prometheus_client`.

mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tally::RegistrySnapshot;
use tally_prometheus::Format;

use common::{encode, expected, hostile_snapshot};
use tally_testkit::available;

fn has_promtool(test: &str) -> bool {
    available(
        test,
        "promtool",
        Command::new("promtool").arg("--version"),
        "apt-get install -y prometheus",
    )
}

fn has_python_client(test: &str) -> bool {
    available(
        test,
        "python3 with prometheus_client",
        Command::new("python3").args(["-c", "import prometheus_client"]),
        "pip install prometheus_client",
    )
}

/// A fresh directory for one test's files, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("tally-prometheus-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(command: &mut Command, stdin: Option<&str>) -> Output {
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn describe(output: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The hostile snapshot with a help on every family, so that the linter has nothing to say.
fn lint_clean_snapshot() -> RegistrySnapshot {
    let mut snapshot = hostile_snapshot();
    snapshot.metrics.get_mut("extreme").unwrap().help = "Extremes.".to_owned();
    snapshot
}

#[test]
fn promtool_check_metrics_accepts_the_text_format_without_a_lint_problem() {
    let test = "promtool_check_metrics";
    if !has_promtool(test) {
        return;
    }
    let text = encode(&lint_clean_snapshot(), Format::Text);
    let output = run(Command::new("promtool").args(["check", "metrics"]), Some(&text));
    assert!(output.status.success(), "promtool refused:\n{}\n{text}", describe(&output));
    assert!(output.stdout.is_empty() && output.stderr.is_empty(), "{}", describe(&output));

    // The original, whose `extreme_lowest` has no help at all: parsed, and linted only for
    // that (promtool exits 3 for lint problems, 1 for a parse error).
    let text = encode(&hostile_snapshot(), Format::Text);
    let output = run(Command::new("promtool").args(["check", "metrics"]), Some(&text));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    assert_eq!(said.trim(), "extreme_lowest no help text", "{}", describe(&output));
}

/// Decodes a string as Go's `strconv.Quote` writes it (what `promtool tsdb dump` prints).
fn go_unquote(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    let hex = |chars: &mut std::str::Chars<'_>, n: usize| -> u32 {
        let digits: String = chars.take(n).collect();
        u32::from_str_radix(&digits, 16).unwrap_or_else(|_| panic!("bad escape in {s:?}"))
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let c = match chars.next().unwrap() {
            'a' => '\x07',
            'b' => '\x08',
            'f' => '\x0c',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\x0b',
            '\\' => '\\',
            '"' => '"',
            'x' => char::from_u32(hex(&mut chars, 2)).unwrap(),
            'u' => char::from_u32(hex(&mut chars, 4)).unwrap(),
            'U' => char::from_u32(hex(&mut chars, 8)).unwrap(),
            other => panic!("unexpected escape \\{other} in {s:?}"),
        };
        out.push(c);
    }
    out
}

type Series = Vec<(String, String)>;

/// Parses `promtool tsdb dump` lines: `{__name__="…", label="…"} value timestamp_ms`.
fn parse_dump(dump: &str) -> BTreeMap<Series, f64> {
    let mut series = BTreeMap::new();
    for line in dump.lines() {
        let mut rest = line.strip_prefix('{').unwrap_or_else(|| panic!("bad dump line {line:?}"));
        let mut labels = Vec::new();
        loop {
            let (name, after) = rest.split_once("=\"").unwrap();
            // The closing quote: the first `"` not escaped.
            let bytes = after.as_bytes();
            let mut i = 0;
            while bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            labels.push((name.to_owned(), go_unquote(&after[..i])));
            rest = &after[i + 1..];
            if let Some(r) = rest.strip_prefix("} ") {
                rest = r;
                break;
            }
            rest = rest.strip_prefix(", ").unwrap();
        }
        let (value, _timestamp) = rest.split_once(' ').unwrap();
        labels.sort();
        let previous = series.insert(labels, value.parse::<f64>().unwrap());
        assert!(previous.is_none(), "series twice in the dump: {line:?}");
    }
    series
}

#[test]
fn prometheus_openmetrics_parser_stores_every_sample_exactly() {
    let test = "prometheus_openmetrics_parser";
    if !has_promtool(test) {
        return;
    }
    let snapshot = hostile_snapshot();
    let exposition = encode(&snapshot, Format::OpenMetrics);
    // Backfilling needs a timestamp on every sample (seconds in OpenMetrics).
    let mut stamped = String::new();
    for line in exposition.lines() {
        stamped.push_str(line);
        if !line.starts_with('#') {
            stamped.push_str(" 1700000000");
        }
        stamped.push('\n');
    }
    let dir = TempDir::new(test);
    std::fs::write(dir.path("in.om"), &stamped).unwrap();
    let output = run(
        Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .args([dir.path("in.om"), dir.path("db")]),
        None,
    );
    assert!(
        output.status.success(),
        "Prometheus' parser refused:\n{}\n{stamped}",
        describe(&output)
    );
    std::fs::create_dir_all(dir.path("db").join("wal")).unwrap();
    let output = run(Command::new("promtool").args(["tsdb", "dump"]).arg(dir.path("db")), None);
    assert!(output.status.success(), "{}", describe(&output));
    let stored = parse_dump(&String::from_utf8(output.stdout).unwrap());

    // What should be there: every sample, with its name as `__name__`; Prometheus drops
    // labels with empty values, and stores values as f64.
    let mut want = BTreeMap::new();
    for family in expected(&snapshot, Format::OpenMetrics) {
        for sample in family.samples {
            let mut labels: Series =
                sample.labels.into_iter().filter(|(_, v)| !v.is_empty()).collect();
            labels.push(("__name__".to_owned(), sample.name));
            labels.sort();
            assert!(want.insert(labels, sample.value.parse::<f64>().unwrap()).is_none());
        }
    }
    assert_eq!(stored.len(), want.len());
    for ((got_labels, got), (want_labels, want)) in stored.iter().zip(&want) {
        assert_eq!(got_labels, want_labels);
        assert_eq!(got.to_bits(), want.to_bits(), "{want_labels:?}");
    }
}

fn python_check(format: Format) {
    let (test, arg) = match format {
        Format::Text => ("python_text_parser", "text"),
        Format::OpenMetrics => ("python_openmetrics_parser", "openmetrics"),
        other => panic!("a format these tests do not know: {other:?}"),
    };
    if !has_python_client(test) {
        return;
    }
    let snapshot = hostile_snapshot();
    let exposition = encode(&snapshot, format);
    // The script compares OpenMetrics-style family names (the Python text parser also
    // names a counter family without `_total`).
    let families: Vec<serde_json::Value> = expected(&snapshot, format)
        .into_iter()
        .map(|f| {
            let name = match (format, f.kind.as_str()) {
                (Format::Text, "counter") => f.name.strip_suffix("_total").unwrap().to_owned(),
                _ => f.name,
            };
            let samples: Vec<serde_json::Value> = f
                .samples
                .into_iter()
                .map(|s| serde_json::json!({"name": s.name, "labels": s.labels, "value": s.value}))
                .collect();
            serde_json::json!({
                "name": name, "type": f.kind, "help": f.help, "unit": f.unit, "samples": samples,
            })
        })
        .collect();
    let dir = TempDir::new(test);
    std::fs::write(dir.path("exposition"), &exposition).unwrap();
    std::fs::write(dir.path("expected.json"), serde_json::to_string(&families).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/external/check_python.py");
    let output = run(
        Command::new("python3")
            .arg(script)
            .arg(arg)
            .arg(dir.path("exposition"))
            .arg(dir.path("expected.json")),
        None,
    );
    assert!(output.status.success(), "{}\n{exposition}", describe(&output));
}

#[test]
fn python_client_text_parser_reads_every_value_and_label_exactly() {
    python_check(Format::Text);
}

#[test]
fn python_client_openmetrics_parser_reads_every_value_and_label_exactly() {
    python_check(Format::OpenMetrics);
}
