//! A snapshot of a whole registry: every metric set and family, by name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{InvalidSnapshot, MergeError, SetSnapshot};

/// One series of a metric: its label values (in the order of the metric's label names) and
/// its snapshot. A metric without labels has one series with no label values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesSnapshot {
    /// Label values, one per label name of the metric.
    pub labels: Vec<String>,
    /// The series' coherent snapshot.
    pub snapshot: SetSnapshot,
}

/// A registered metric (a set, or a family of sets by label values), collected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricSnapshot {
    /// Help text given at registration.
    pub help: String,
    /// Unit given at registration (`seconds`, `bytes`, …), if any.
    pub unit: Option<String>,
    /// Label names (empty for a plain set).
    pub label_names: Vec<String>,
    /// The series, in label-value order.
    pub series: Vec<SeriesSnapshot>,
    /// Records redirected to the overflow series because the family's cardinality limit was
    /// reached (0 for plain sets).
    pub overflow_redirects: u64,
}

/// A snapshot of every metric in a registry, by name, in name order. Each series is
/// coherent on its own; the registry snapshot is a collection of them, not one instant.
///
/// A registry produces only valid snapshots ([`validate`](Self::validate) says what that
/// means), with each metric's series in label-value order. Deserialization puts the series
/// in that order and refuses an invalid snapshot with an error that names the offending
/// metric and series ([`InvalidSnapshot`]), so that nothing accepted is ever left out on
/// the way out.
///
/// Snapshots of registries in several processes merge exactly:
///
/// ```
/// use tally_snapshot::{FieldDesc, FieldKind, MetricSnapshot, RegistrySnapshot, SeriesSnapshot, SetSnapshot, Value};
///
/// let one = |n| {
///     let snapshot = SetSnapshot::new(
///         vec![FieldDesc::new("requests", FieldKind::Counter, "")],
///         vec![Value::Counter(n)],
///     )
///     .unwrap();
///     let mut r = RegistrySnapshot::default();
///     r.metrics.insert("api".into(), MetricSnapshot {
///         help: "API".into(),
///         unit: None,
///         label_names: vec![],
///         series: vec![SeriesSnapshot { labels: vec![], snapshot }],
///         overflow_redirects: 0,
///     });
///     r
/// };
/// let mut total = one(3);
/// total.try_merge(&one(4)).unwrap();
/// assert_eq!(total.metrics["api"].series[0].snapshot.get("requests"), Some(&Value::Counter(7)));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "UncheckedRegistrySnapshot")]
pub struct RegistrySnapshot {
    /// The metrics, by registered name.
    pub metrics: BTreeMap<String, MetricSnapshot>,
}

/// Serde's view of a [`RegistrySnapshot`], checked and put in order on the way in.
#[derive(Deserialize)]
struct UncheckedRegistrySnapshot {
    metrics: BTreeMap<String, MetricSnapshot>,
}

impl TryFrom<UncheckedRegistrySnapshot> for RegistrySnapshot {
    type Error = InvalidSnapshot;
    fn try_from(raw: UncheckedRegistrySnapshot) -> Result<Self, InvalidSnapshot> {
        let mut snapshot = RegistrySnapshot { metrics: raw.metrics };
        snapshot.validate()?;
        for metric in snapshot.metrics.values_mut() {
            // Label order, as a registry collects them (older versions put a family's
            // overflow series last). Stable; no two series are equal after `validate`.
            metric.series.sort_by(|a, b| a.labels.cmp(&b.labels));
        }
        Ok(snapshot)
    }
}

impl RegistrySnapshot {
    /// Merges `other` into `self`: metrics and series missing here are added, series with
    /// the same name and label values are merged field by field (exact). Series are
    /// matched by their label values, whatever order either side holds them in; the result
    /// has each metric's series in label-value order.
    ///
    /// # Errors
    ///
    /// [`MergeError::InvalidSnapshot`] when either side, or the result, is not a valid
    /// snapshot ([`validate`](Self::validate); the result can clash where two processes
    /// registered different metrics whose exposed names meet);
    /// [`MergeError::SchemaMismatch`] when a metric of the same name has other label names
    /// or a series has other fields. `self` is then unchanged.
    pub fn try_merge(&mut self, other: &RegistrySnapshot) -> Result<(), MergeError> {
        self.validate()?;
        other.validate()?;
        let mut merged = self.clone();
        for (name, theirs) in &other.metrics {
            let Some(ours) = merged.metrics.get_mut(name) else {
                merged.metrics.insert(name.clone(), theirs.clone());
                continue;
            };
            if ours.label_names != theirs.label_names {
                return Err(MergeError::SchemaMismatch {
                    reason: format!(
                        "metric `{name}` has labels {:?} here and {:?} there",
                        ours.label_names, theirs.label_names
                    ),
                });
            }
            ours.overflow_redirects =
                ours.overflow_redirects.wrapping_add(theirs.overflow_redirects);
            // By key: both sides are free of duplicates (validated), in any order.
            let mut by_labels: BTreeMap<Vec<String>, SetSnapshot> =
                std::mem::take(&mut ours.series)
                    .into_iter()
                    .map(|s| (s.labels, s.snapshot))
                    .collect();
            for series in &theirs.series {
                match by_labels.get_mut(&series.labels) {
                    Some(snapshot) => snapshot.try_merge(&series.snapshot).map_err(|e| {
                        let reason = match e {
                            MergeError::SchemaMismatch { reason } => reason,
                            other => other.to_string(),
                        };
                        MergeError::SchemaMismatch {
                            reason: format!("metric `{name}` series {:?}: {reason}", series.labels),
                        }
                    })?,
                    None => {
                        by_labels.insert(series.labels.clone(), series.snapshot.clone());
                    }
                }
            }
            ours.series = by_labels
                .into_iter()
                .map(|(labels, snapshot)| SeriesSnapshot { labels, snapshot })
                .collect();
        }
        merged.validate()?;
        *self = merged;
        Ok(())
    }
}
