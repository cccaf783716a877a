//! What makes a [`RegistrySnapshot`] valid: the rules a registry keeps on the way in,
//! checked again wherever a snapshot arrives from outside (deserialization, a merge), so
//! that an exporter never has to leave a series out.

use std::collections::{BTreeSet, HashMap};

use crate::names::{
    exposed_names, is_valid_label_name, is_valid_metric_name, is_valid_unit, reserved_label_in,
};
use crate::{FieldDesc, MetricSnapshot, RegistrySnapshot};

/// Why a [`RegistrySnapshot`] is not one a registry could have produced. Each names the
/// offending metric (and series, label or field), and says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidSnapshot {
    /// A metric name breaks the metric-name rule ([`is_valid_metric_name`]).
    #[error(
        "metric name {metric:?} is not valid: use ASCII letters, digits, '_' and ':', not \
         starting with a digit or with '__'"
    )]
    MetricName {
        /// The metric.
        metric: String,
    },
    /// A unit has characters outside `[a-zA-Z0-9_]`.
    #[error("metric {metric:?}: unit {unit:?} is not valid: use ASCII letters, digits and '_'")]
    Unit {
        /// The metric.
        metric: String,
        /// The unit.
        unit: String,
    },
    /// A label name breaks the label-name rule, or appears twice.
    #[error(
        "metric {metric:?}: label name {label:?} is not valid or appears twice: use distinct \
         names of ASCII letters, digits and '_', not starting with a digit or with '__'"
    )]
    LabelName {
        /// The metric.
        metric: String,
        /// The label name.
        label: String,
    },
    /// A label name that a field of the metric adds itself (`le` beside a histogram).
    #[error(
        "metric {metric:?}: the label {label:?} is reserved by its fields' exposition \
         (histogram buckets use `le`): rename the label (e.g. to `{label}_`)"
    )]
    ReservedLabel {
        /// The metric.
        metric: String,
        /// The label name.
        label: String,
    },
    /// A series has another number of label values than the metric has label names.
    #[error(
        "metric {metric:?}: series {labels:?} has {got} label values for the {expected} \
         label names {names:?}"
    )]
    LabelCount {
        /// The metric.
        metric: String,
        /// The series' label values.
        labels: Vec<String>,
        /// Its number of values.
        got: usize,
        /// The metric's number of label names.
        expected: usize,
        /// The metric's label names.
        names: Vec<String>,
    },
    /// A series has other fields (names or kinds) than the metric's first series.
    #[error(
        "metric {metric:?}: series {labels:?} has other fields than the metric's other \
         series: every series of a metric is a snapshot of the same set"
    )]
    SeriesSchema {
        /// The metric.
        metric: String,
        /// The series' label values.
        labels: Vec<String>,
    },
    /// Two series of a metric have the same label values.
    #[error("metric {metric:?}: series {labels:?} appears twice: merge the two into one")]
    DuplicateSeries {
        /// The metric.
        metric: String,
        /// The label values.
        labels: Vec<String>,
    },
    /// A field would be exposed under a name that is not a valid metric name (a metric
    /// called `_` with a field `requests` is exposed as `__requests`, and names starting
    /// `__` are reserved).
    #[error(
        "metric {metric:?}, field {field:?}: exposed as {name:?}, which is not a valid metric \
         name (names starting with '__' are reserved): rename the metric or the field"
    )]
    ExposedName {
        /// The metric.
        metric: String,
        /// The field.
        field: String,
        /// The name it would be exposed under.
        name: String,
    },
    /// Two fields (of one metric, or of two) would be exposed under the same sample name.
    #[error(
        "metric {metric:?}, field {field:?}: exposed as {name:?}, a name that {taken_by} \
         already uses: rename the field or the metric"
    )]
    NameClash {
        /// The metric.
        metric: String,
        /// The field.
        field: String,
        /// The sample name both would use.
        name: String,
        /// Who uses it already, as `metric "m", field "f"`.
        taken_by: String,
    },
}

/// The sample names claimed so far by the fields of a registry's metrics: what refuses a
/// field whose exposed names ([`exposed_names`]) another field already uses
/// ([`InvalidSnapshot::NameClash`]). A registry keeps one; [`RegistrySnapshot::validate`]
/// builds one.
///
/// ```
/// use tally_snapshot::{ExposedNames, FieldDesc, FieldKind, HistogramConfig};
/// let mut names = ExposedNames::default();
/// let h = FieldKind::Histogram(HistogramConfig::DEFAULT);
/// names.claim("rpc", &[FieldDesc::new("latency_ns", h, "")]).unwrap();
/// // `rpc_latency_seconds` is taken by the histogram above (exposed in seconds).
/// let clash = names.claim("rpc_latency", &[FieldDesc::new("seconds", FieldKind::Gauge, "")]);
/// assert!(clash.is_err());
/// ```
#[derive(Debug, Default, Clone)]
pub struct ExposedNames {
    taken: HashMap<String, (String, String)>,
}

impl ExposedNames {
    /// Claims the names every field of `fields` of `metric` is exposed under, all or none:
    /// refused if one is taken already, by another metric or by another of these fields,
    /// or is not a valid metric name.
    ///
    /// # Errors
    ///
    /// [`InvalidSnapshot::NameClash`], naming both fields; [`InvalidSnapshot::ExposedName`].
    pub fn claim(&mut self, metric: &str, fields: &[FieldDesc]) -> Result<(), InvalidSnapshot> {
        let mut mine: HashMap<String, &str> = HashMap::new();
        for field in fields {
            for name in exposed_names(metric, field) {
                if !is_valid_metric_name(&name) {
                    return Err(InvalidSnapshot::ExposedName {
                        metric: metric.to_owned(),
                        field: field.name.to_string(),
                        name,
                    });
                }
                let taken_by = match (self.taken.get(&name), mine.get(&name)) {
                    (Some((m, f)), _) => Some(format!("metric {m:?}, field {f:?},")),
                    (None, Some(f)) if *f != &*field.name => {
                        Some(format!("metric {metric:?}, field {f:?},"))
                    }
                    _ => None,
                };
                if let Some(taken_by) = taken_by {
                    return Err(InvalidSnapshot::NameClash {
                        metric: metric.to_owned(),
                        field: field.name.to_string(),
                        name,
                        taken_by,
                    });
                }
                mine.insert(name, &field.name);
            }
        }
        for (name, field) in mine {
            self.taken.insert(name, (metric.to_owned(), field.to_owned()));
        }
        Ok(())
    }

    /// Gives back the names `metric` claimed (when it is unregistered).
    pub fn release(&mut self, metric: &str) {
        self.taken.retain(|_, (m, _)| m != metric);
    }
}

/// Checks one metric on its own (names, labels, series), not its exposed names.
pub(crate) fn check_metric(name: &str, metric: &MetricSnapshot) -> Result<(), InvalidSnapshot> {
    let m = || name.to_owned();
    if !is_valid_metric_name(name) {
        return Err(InvalidSnapshot::MetricName { metric: m() });
    }
    if let Some(unit) = &metric.unit
        && !is_valid_unit(unit)
    {
        return Err(InvalidSnapshot::Unit { metric: m(), unit: unit.clone() });
    }
    let names = &metric.label_names;
    for (i, l) in names.iter().enumerate() {
        if !is_valid_label_name(l) || names[..i].contains(l) {
            return Err(InvalidSnapshot::LabelName { metric: m(), label: l.clone() });
        }
    }
    let Some(first) = metric.series.first() else { return Ok(()) };
    let schema = first.snapshot.fields();
    let kinds = schema.iter().map(|f| f.kind);
    if let Some(label) = reserved_label_in(kinds, names.iter().map(String::as_str)) {
        return Err(InvalidSnapshot::ReservedLabel { metric: m(), label: label.to_owned() });
    }
    let mut seen = BTreeSet::new();
    for series in &metric.series {
        if series.labels.len() != names.len() {
            return Err(InvalidSnapshot::LabelCount {
                metric: m(),
                labels: series.labels.clone(),
                got: series.labels.len(),
                expected: names.len(),
                names: names.clone(),
            });
        }
        let fields = series.snapshot.fields();
        let same = fields.len() == schema.len()
            && fields.iter().zip(schema).all(|(a, b)| a.name == b.name && a.kind == b.kind);
        if !same {
            return Err(InvalidSnapshot::SeriesSchema {
                metric: m(),
                labels: series.labels.clone(),
            });
        }
        if !seen.insert(&series.labels) {
            return Err(InvalidSnapshot::DuplicateSeries {
                metric: m(),
                labels: series.labels.clone(),
            });
        }
    }
    Ok(())
}

impl RegistrySnapshot {
    /// Checks that this snapshot is one a registry could have produced: valid metric,
    /// label and field names, no label that a field reserves, one label value per label
    /// name, the same fields in every series of a metric, no series twice, and no two
    /// fields exposed under the same sample name. Series may be in any order.
    ///
    /// Snapshots of a `tally::Registry` are always valid (registration refuses what would
    /// break these rules), and deserialization and [`try_merge`](Self::try_merge) check
    /// them, so an exporter never has to leave a series out.
    ///
    /// # Errors
    ///
    /// The first rule broken, naming the metric and series.
    ///
    /// ```
    /// use tally_snapshot::{InvalidSnapshot, MetricSnapshot, RegistrySnapshot};
    /// let mut r = RegistrySnapshot::default();
    /// r.metrics.insert("bad name".into(), MetricSnapshot {
    ///     help: String::new(),
    ///     unit: None,
    ///     label_names: vec![],
    ///     series: vec![],
    ///     overflow_redirects: 0,
    /// });
    /// assert!(matches!(r.validate(), Err(InvalidSnapshot::MetricName { .. })));
    /// ```
    pub fn validate(&self) -> Result<(), InvalidSnapshot> {
        let mut exposed = ExposedNames::default();
        for (name, metric) in &self.metrics {
            check_metric(name, metric)?;
            if let Some(first) = metric.series.first() {
                exposed.claim(name, first.snapshot.fields())?;
            }
        }
        Ok(())
    }
}
