//! Encode, then parse back with a strict parser of each format: every family, help text,
//! unit, label value (any UTF-8) and value comes back exactly as the snapshot has it.

mod common;

use std::collections::BTreeMap;

use proptest::prelude::*;
use tally_prometheus::{EncodeOptions, Format, encode};
use tally_snapshot::{
    FieldDesc, FieldKind, HistogramConfig, HistogramSnapshot, Last, MetricSnapshot,
    RegistrySnapshot, SeriesSnapshot, SetSnapshot, Value,
};

use common::{expected, hostile_snapshot, parse};

const FORMATS: [Format; 2] = [Format::Text, Format::OpenMetrics];

fn check_round_trip(snapshot: &RegistrySnapshot) -> Result<(), TestCaseError> {
    for format in FORMATS {
        let mut out = String::new();
        let report = encode(snapshot, format, &EncodeOptions::default(), &mut out);
        prop_assert!(report.skipped.is_empty(), "{:?}", report.skipped);
        let parsed = parse(&out, format).map_err(|e| {
            TestCaseError::fail(format!("{format:?} output does not parse: {e}\n{out}"))
        })?;
        let want = expected(snapshot, format);
        prop_assert_eq!(report.families, want.len());
        prop_assert_eq!(report.samples, want.iter().map(|f| f.samples.len()).sum::<usize>());
        prop_assert_eq!(parsed, want, "{:?}", format);
    }
    Ok(())
}

#[test]
fn hostile_label_values_and_extreme_numbers_survive_both_formats() {
    check_round_trip(&hostile_snapshot()).unwrap();
}

/// Any UTF-8, biased towards what needs escaping.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        3 => "[\\\\\"\n\r\t a-zé✓\u{2028}]{0,8}",
        1 => Just(String::new()),
        1 => Just("__overflow__".to_owned()),
    ]
}

fn value(kind: u8) -> BoxedStrategy<Value> {
    match kind {
        0 => any::<u64>().prop_map(Value::Counter).boxed(),
        1 => any::<i64>().prop_map(Value::Gauge).boxed(),
        2 => (any::<i64>(), any::<u64>())
            .prop_map(|(v, stamp)| Value::LastValue(Last::new(v, stamp)))
            .boxed(),
        _ => proptest::collection::vec(
            prop_oneof![0..2_000u64, 0..20_000_000_000u64, any::<u64>()],
            0..12,
        )
        .prop_map(|values| {
            Value::Histogram(Box::new(
                HistogramSnapshot::from_values(HistogramConfig::DEFAULT, values).unwrap(),
            ))
        })
        .boxed(),
    }
}

const SUFFIXES: [&str; 5] = ["", "_total", "_ns", "_bytes", "_seconds"];
const LABELS: [&str; 3] = ["model", "device", "region"];
const UNITS: [Option<&str>; 4] = [None, Some("bytes"), Some("seconds"), Some("")];

/// One metric: fields `f<j><suffix>` of random kinds and help, 0–3 label names, series with
/// distinct label values (one unlabelled series if there are no labels).
fn metric() -> impl Strategy<Value = MetricSnapshot> {
    let fields = proptest::collection::vec((0..4u8, 0..SUFFIXES.len(), text()), 1..5);
    (fields, 0..=LABELS.len(), text(), 0..UNITS.len()).prop_flat_map(
        |(fields, label_count, help, unit)| {
            let descs: Vec<FieldDesc> = fields
                .iter()
                .enumerate()
                .map(|(j, (kind, suffix, help))| {
                    let kind = match kind {
                        0 => FieldKind::Counter,
                        1 => FieldKind::Gauge,
                        2 => FieldKind::LastValue,
                        _ => FieldKind::Histogram(HistogramConfig::DEFAULT),
                    };
                    let mut d = FieldDesc::new("", kind, "");
                    d.name = format!("f{j}{}", SUFFIXES[*suffix]).into();
                    d.help = help.clone().into();
                    d
                })
                .collect();
            let values: Vec<BoxedStrategy<Value>> =
                fields.iter().map(|(kind, _, _)| value(*kind)).collect();
            let series_count = if label_count == 0 { 1..2 } else { 0..6 };
            let series = proptest::collection::vec(
                (proptest::collection::vec(text(), label_count), values),
                series_count,
            );
            series.prop_map(move |series| {
                // Distinct label values (a registry never has two series with the same).
                let series: BTreeMap<Vec<String>, Vec<Value>> = series.into_iter().collect();
                MetricSnapshot {
                    help: help.clone(),
                    unit: UNITS[unit].map(str::to_owned),
                    label_names: LABELS[..label_count].iter().map(|s| (*s).to_owned()).collect(),
                    series: series
                        .into_iter()
                        .map(|(labels, values)| SeriesSnapshot {
                            labels,
                            snapshot: SetSnapshot::new(descs.clone(), values).unwrap(),
                        })
                        .collect(),
                    overflow_redirects: 0,
                }
            })
        },
    )
}

fn registry() -> impl Strategy<Value = RegistrySnapshot> {
    proptest::collection::vec(metric(), 1..4).prop_map(|metrics| RegistrySnapshot {
        // `m<i>` and `app:m<i>`: no two metrics' family names can clash.
        metrics: metrics
            .into_iter()
            .enumerate()
            .map(|(i, m)| (if i % 2 == 0 { format!("m{i}") } else { format!("app:m{i}") }, m))
            .collect(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_label_values_help_and_values_survive_encode_then_parse(snapshot in registry()) {
        check_round_trip(&snapshot)?;
    }
}
