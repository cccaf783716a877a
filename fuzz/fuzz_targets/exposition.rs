//! Arbitrary metric names, help texts, units, field names and kinds, label names and label
//! values, registered in a `Registry` (plain sets and families, typed and run-time) and
//! recorded into.
//!
//! Each registration either returns an error whose reason holds (an invalid metric name,
//! field name, unit or label name, a repeated name, a zero limit, a label `le` on a set
//! with histograms), or the metric is registered; then the registry's snapshot, encoded in
//! the Prometheus text format and in OpenMetrics, is read back by the strict parser of
//! `crates/tally-prometheus/tests/common/parse.rs` into exactly the families, help texts,
//! units, labels and values that the documented rules
//! (`crates/tally-prometheus/tests/common/mod.rs`, `expected`) give for that snapshot.
//! A registration whose fields would be exposed under a sample name that an earlier field
//! (of this metric or of one registered before) uses, or under a name that is not a valid
//! metric name, is refused (`RegistryError::ExposedNames`), and the refusal must name a
//! clash, or an invalid name, that holds. So the encoder never leaves anything out of
//! a registry's snapshot: any `Skipped` in its report is a failure, and the snapshot passes
//! `RegistrySnapshot::validate`.
#![no_main]

#[path = "../../crates/tally-prometheus/tests/common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tally::{
    FamilyError, FieldDesc, FieldKind, HistogramConfig, Layout, LayoutError, RawSet, Registry,
    RegistryError, Unit, is_valid_label_name, is_valid_metric_name, kind,
};
use tally_core::is_valid_field_name;
use tally_prometheus::{EncodeOptions, Format, encode};
use tally_snapshot::{InvalidSnapshot, exposed_names};

use common::{Api, HOSTILE, expected, parse};

/// A string, usually from a dictionary (valid names, names that clash once exposed,
/// reserved words), sometimes arbitrary.
#[derive(Debug, Clone, Arbitrary)]
enum Text {
    Pick(u8),
    Any(String),
}

impl Text {
    fn get<'a>(&'a self, dictionary: &[&'static str]) -> &'a str {
        match self {
            Text::Pick(i) => dictionary[usize::from(*i) % dictionary.len()],
            Text::Any(s) => s,
        }
    }
}

const METRIC_NAMES: &[&str] = &[
    "api",
    "api_requests",
    "api_latency",
    "x",
    "x_a",
    "x_a_total",
    "a:b",
    "_under",
    "inference",
    "api_latency_seconds",
    "",
    "9x",
    "__reserved",
    "spa ce",
    "dash-ed",
];
const FIELD_NAMES: &[&str] = &[
    "a",
    "busy_ratio",
    "cpu_seconds_total",
    "a_total",
    "requests",
    "requests_total",
    "latency_ns",
    "latency_seconds",
    "size_bytes",
    "bucket",
    "count",
    "sum",
    "created",
    "a_bucket",
    "in_flight",
    "_x",
    "",
    "9",
    "no-dash",
];
const HELPS: &[&str] =
    &["", "Requests.", " leading blank", "line\nbreak", "back\\slash \"quoted\"", "tab\there"];
const UNITS: &[&str] = &["", "bytes", "seconds", "total", "a", "no-dash", "ü"];
const LABEL_NAMES: &[&str] = &["model", "device", "le", "quantile", "_x", "", "__r", "a-b"];

#[derive(Debug, Arbitrary)]
enum Kind {
    Counter(u8),
    Gauge(u8),
    LastValue(u8),
    CounterF64(u8),
    GaugeF64(u8),
    LastValueF64(u8),
    /// Default, or (bits, max, unit, decimals).
    Histogram(Option<(u8, u64, u8, u8)>),
}

/// A unit, by index into `Unit::ALL`.
fn unit(u: u8) -> Unit {
    Unit::ALL[usize::from(u) % Unit::ALL.len()]
}

#[derive(Debug, Arbitrary)]
enum SetSpec {
    /// `common::Api`: every kind, help texts with characters to escape.
    Typed,
    /// A run-time layout.
    Raw(Vec<(Text, Kind, Text)>),
}

#[derive(Debug, Arbitrary)]
struct Metric {
    name: Text,
    help: Text,
    unit: Option<Text>,
    set: SetSpec,
    /// A family with these label names and cardinality limit, or a plain set.
    family: Option<(Vec<Text>, u8)>,
    /// Per record: label values (ignored for a plain set) and the values to record, one per
    /// field in order (cycled).
    records: Vec<(Vec<Text>, Vec<u64>)>,
}

#[derive(Debug, Arbitrary)]
struct Input {
    metrics: Vec<Metric>,
}

const MAX_METRICS: usize = 3;
const MAX_FIELDS: usize = 6;
const MAX_LABELS: usize = 3;
const MAX_RECORDS: usize = 8;

/// The field's kind and unit, or `None` for a histogram configuration that is refused
/// (its reason checked).
fn kind(k: &Kind) -> Option<(FieldKind, Unit)> {
    Some(match *k {
        Kind::Counter(u) => (FieldKind::Counter, unit(u)),
        Kind::Gauge(u) => (FieldKind::Gauge, unit(u)),
        Kind::LastValue(u) => (FieldKind::LastValue, unit(u)),
        Kind::CounterF64(u) => (FieldKind::CounterF64, unit(u)),
        Kind::GaugeF64(u) => (FieldKind::GaugeF64, unit(u)),
        Kind::LastValueF64(u) => (FieldKind::LastValueF64, unit(u)),
        Kind::Histogram(None) => (FieldKind::Histogram(HistogramConfig::DEFAULT), Unit::Seconds),
        Kind::Histogram(Some((bits, max, u, decimals))) => {
            let config = match HistogramConfig::new(bits, max) {
                Ok(c) => c,
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    return None;
                }
            };
            let config = match config.in_unit(unit(u), decimals) {
                Ok(c) => c,
                Err(e) => {
                    assert!(decimals > HistogramConfig::MAX_DECIMALS, "{e}");
                    return None;
                }
            };
            (FieldKind::Histogram(config), config.unit())
        }
    })
}

/// The layout of a metric, or `None` if `Layout::new` refused it (with a true reason).
fn layout(spec: &SetSpec) -> Option<Layout> {
    let fields: Vec<FieldDesc> = match spec {
        SetSpec::Typed => return Some(Layout::from_static(Api::FIELDS)),
        SetSpec::Raw(fields) => fields
            .iter()
            .take(MAX_FIELDS)
            .filter_map(|(name, k, help)| {
                let (kind, unit) = kind(k)?;
                Some(FieldDesc {
                    name: name.get(FIELD_NAMES).to_owned().into(),
                    kind,
                    help: help.get(HELPS).to_owned().into(),
                    unit,
                })
            })
            .collect(),
    };
    match Layout::new(fields.clone()) {
        Ok(layout) => Some(layout),
        Err(LayoutError::InvalidName { name }) => {
            assert!(!is_valid_field_name(&name) && fields.iter().any(|f| f.name == name));
            None
        }
        Err(LayoutError::DuplicateName { name }) => {
            assert!(fields.iter().filter(|f| f.name == name).count() >= 2);
            None
        }
        Err(e) => panic!("unexpected layout error: {e}"),
    }
}

/// Records `values` into `set`, one per field in order, cycling.
fn record(set: &RawSet, values: &[u64]) {
    let fields = set.layout().fields().to_vec();
    if fields.is_empty() {
        return;
    }
    set.record(|e| {
        for (i, &v) in values.iter().take(2 * MAX_FIELDS).enumerate() {
            let f = &fields[i % fields.len()];
            let id = set.field(&f.name).expect("a field of the layout");
            match f.kind {
                FieldKind::Counter => e.add_counter(id, v),
                FieldKind::Gauge => e.add_gauge(id, v as i64),
                FieldKind::LastValue => e.set_last(id, v as i64),
                FieldKind::Histogram(_) if v % 2 == 0 => e.observe(id, v / 2),
                // Any f64: in the unit, refused (and recorded nowhere) when it cannot be.
                FieldKind::Histogram(_) => {
                    let _ = e.handle::<kind::Histogram>(id).try_record_f64(f64::from_bits(v));
                }
                // Quarters: exact, so every order of adding them gives the same total.
                FieldKind::CounterF64 => {
                    e.handle::<kind::CounterF64>(id).add((v >> 12) as f64 / 4.0)
                }
                FieldKind::GaugeF64 => {
                    e.handle::<kind::GaugeF64>(id).add((v as i64 >> 12) as f64 / 4.0)
                }
                // Any f64 but NaN (refused) is a value: infinities, subnormals, -0.0.
                FieldKind::LastValueF64 => {
                    let _ = e.handle::<kind::LastValueF64>(id).try_set(f64::from_bits(v));
                }
                other => panic!("a kind this target does not record: {other:?}"),
            }
        }
    });
}

/// Sample names claimed by the fields of the metrics registered so far → the metric.
type Claimed = BTreeMap<String, String>;

/// Checks that a refused registration was refused for a reason that holds.
fn check_refusal(
    err: &RegistryError,
    name: &str,
    unit: Option<&str>,
    labels: &[&str],
    layout: &Layout,
    taken: &BTreeSet<String>,
    claimed: &Claimed,
) {
    assert!(!err.to_string().is_empty());
    match err {
        RegistryError::InvalidName { name: n } => {
            assert_eq!(n, name);
            assert!(!is_valid_metric_name(name), "{name:?} refused as invalid");
        }
        RegistryError::InvalidUnit { unit: u } => {
            assert_eq!(Some(u.as_str()), unit);
            assert!(!u.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "{u:?} refused");
        }
        RegistryError::Duplicate { name: n } => {
            assert!(n == name && taken.contains(name), "{name:?} refused as a duplicate");
        }
        RegistryError::ExposedNames(InvalidSnapshot::ExposedName {
            metric,
            field,
            name: sample,
        }) => {
            assert_eq!(metric, name);
            let f = layout.fields().iter().find(|f| f.name == **field).expect("a field");
            assert!(exposed_names(name, f).contains(sample), "{sample:?}");
            assert!(!is_valid_metric_name(sample), "{sample:?} refused as invalid");
        }
        RegistryError::ExposedNames(InvalidSnapshot::NameClash {
            metric,
            field,
            name: sample,
            ..
        }) => {
            assert_eq!(metric, name);
            let fields = layout.fields();
            let f = fields.iter().find(|f| f.name == **field).expect("the clash names a field");
            assert!(exposed_names(name, f).contains(sample), "{sample:?}");
            // Claimed by a metric registered before, or by another field of this one.
            let by_other_field = fields
                .iter()
                .filter(|g| g.name != f.name)
                .any(|g| exposed_names(name, g).contains(sample));
            assert!(claimed.contains_key(sample) || by_other_field, "{sample:?} refused");
        }
        RegistryError::ReservedLabel { label, .. } => {
            assert!(labels.contains(&label.as_str()));
            assert!(layout.fields().iter().any(|f| matches!(f.kind, FieldKind::Histogram(_))));
        }
        RegistryError::Family { source, .. } => match source {
            FamilyError::InvalidLabelName { name } => assert!(!is_valid_label_name(name)),
            FamilyError::DuplicateLabelName { name } => {
                assert!(labels.iter().filter(|l| *l == name).count() >= 2)
            }
            FamilyError::ZeroLimit => {}
            e => panic!("unexpected family error at registration: {e}"),
        },
        e => panic!("unexpected registration error: {e}"),
    }
}

/// Records one set of values into a registered plain set.
type Recorder = Box<dyn Fn(&[u64])>;

/// Registers `m` and records into it; returns its name if it was registered.
fn register(
    registry: &Registry,
    m: &Metric,
    taken: &BTreeSet<String>,
    claimed: &mut Claimed,
) -> Option<String> {
    let layout = layout(&m.set)?;
    let name = m.name.get(METRIC_NAMES);
    let unit = m.unit.as_ref().map(|u| u.get(UNITS));
    let mut reg = registry.metric(name).help(m.help.get(HELPS));
    if let Some(unit) = unit {
        reg = reg.unit(unit);
    }
    let records = || m.records.iter().take(MAX_RECORDS);
    let result = match &m.family {
        None => {
            let set: Result<Recorder, _> = match m.set {
                SetSpec::Typed => reg
                    .set::<Api>()
                    .map(|s| Box::new(move |v: &[u64]| record(s.raw(), v)) as Recorder),
                SetSpec::Raw(_) => reg
                    .raw(layout.clone())
                    .map(|s| Box::new(move |v: &[u64]| record(&s, v)) as Recorder),
            };
            set.map(|set| records().for_each(|(_, values)| set(values)))
                .map_err(|e| (e, Vec::new()))
        }
        Some((label_names, limit)) => {
            let labels: Vec<&str> =
                label_names.iter().take(MAX_LABELS).map(|l| l.get(LABEL_NAMES)).collect();
            let reg = reg.cardinality_limit(usize::from(limit % 4));
            let values_of = |vs: &[Text]| -> Vec<String> {
                vs.iter().take(MAX_LABELS + 1).map(|v| v.get(HOSTILE).to_owned()).collect()
            };
            let done = match m.set {
                SetSpec::Typed => reg.family::<Api>(&labels).map(|f| {
                    for (vs, values) in records() {
                        let vs = values_of(vs);
                        let vs: Vec<&str> = vs.iter().map(String::as_str).collect();
                        // Wrong arity and reserved values are the family target's concern.
                        let _ = f.with(&vs, |s| record(s.raw(), values));
                    }
                }),
                SetSpec::Raw(_) => reg.raw_family(layout.clone(), &labels).map(|f| {
                    for (vs, values) in records() {
                        let vs = values_of(vs);
                        let vs: Vec<&str> = vs.iter().map(String::as_str).collect();
                        let _ = f.with(&vs, |s| record(s, values));
                    }
                }),
            };
            done.map_err(|e| (e, labels.iter().map(|s| s.to_string()).collect()))
        }
    };
    match result {
        Ok(()) => {
            assert!(!taken.contains(name), "{name:?} registered twice");
            for f in layout.fields() {
                for sample in exposed_names(name, f) {
                    let before = claimed.insert(sample.clone(), name.to_owned());
                    assert!(before.is_none(), "{sample:?} registered twice");
                }
            }
            Some(name.to_owned())
        }
        Err((e, labels)) => {
            let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
            check_refusal(&e, name, unit, &labels, &layout, taken, claimed);
            None
        }
    }
}

fuzz_target!(|input: Input| {
    let registry = Registry::new();
    let mut taken = BTreeSet::new();
    let mut claimed = Claimed::new();
    for m in input.metrics.iter().take(MAX_METRICS) {
        if let Some(name) = register(&registry, m, &taken, &mut claimed) {
            taken.insert(name);
        }
    }
    let snapshot = registry.snapshot();
    assert_eq!(snapshot.metrics.keys().cloned().collect::<BTreeSet<_>>(), taken);
    snapshot.validate().expect("a registry's snapshot is valid");

    for format in [Format::Text, Format::OpenMetrics] {
        let mut out = String::new();
        let report = encode(&snapshot, format, &EncodeOptions::default(), &mut out);
        assert!(report.skipped.is_empty(), "a registry's snapshot lost {:?}", report.skipped);
        let parsed = parse(&out, format)
            .unwrap_or_else(|e| panic!("{format:?} output does not parse: {e}\n{out}"));
        let want = expected(&snapshot, format);
        assert_eq!(report.families, want.len());
        assert_eq!(report.samples, want.iter().map(|f| f.samples.len()).sum::<usize>());
        assert_eq!(parsed, want, "{format:?} output read back differs:\n{out}");
    }
});
