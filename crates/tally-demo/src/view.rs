//! Reading a published registry snapshot back as typed `InferenceStats` snapshots: what a
//! dashboard's `get_stats()` does with the epoch it is handed.

use tally::{InferenceStatsSnapshot, RegistrySnapshot, SetSnapshot, Value};

/// The name of the overall set in the registry.
pub const OVERALL: &str = "inference";
/// The name of the per-model family (label `model`); it sorts after [`OVERALL`], so the
/// registry collects it later in every snapshot.
pub const BY_MODEL: &str = "inference_by_model";

/// The demo's metrics in one published snapshot.
#[derive(Debug, Clone)]
pub struct View {
    /// The overall set.
    pub overall: InferenceStatsSnapshot,
    /// `(model, snapshot)` in label order.
    pub models: Vec<(String, InferenceStatsSnapshot)>,
    /// Records the family redirected to its overflow series.
    pub overflow_redirects: u64,
}

impl View {
    /// The demo's metrics in `snap`, or what is missing or malformed.
    pub fn of(snap: &RegistrySnapshot) -> Result<View, String> {
        let overall =
            snap.metrics.get(OVERALL).ok_or_else(|| format!("metric `{OVERALL}` missing"))?;
        let [series] = overall.series.as_slice() else {
            return Err(format!("metric `{OVERALL}` has {} series, not 1", overall.series.len()));
        };
        let overall = typed(&series.snapshot).map_err(|e| format!("`{OVERALL}`: {e}"))?;
        let family =
            snap.metrics.get(BY_MODEL).ok_or_else(|| format!("metric `{BY_MODEL}` missing"))?;
        if family.label_names != ["model"] {
            return Err(format!(
                "`{BY_MODEL}` has labels {:?}, not [\"model\"]",
                family.label_names
            ));
        }
        let models = family
            .series
            .iter()
            .map(|s| {
                let [label] = s.labels.as_slice() else {
                    return Err(format!("`{BY_MODEL}` series with labels {:?}", s.labels));
                };
                let set = typed(&s.snapshot)
                    .map_err(|e| format!("`{BY_MODEL}{{model={label}}}`: {e}"))?;
                Ok((label.clone(), set))
            })
            .collect::<Result<_, String>>()?;
        Ok(View { overall, models, overflow_redirects: family.overflow_redirects })
    }
}

/// An `InferenceStatsSnapshot` from the run-time form exporters see.
fn typed(set: &SetSnapshot) -> Result<InferenceStatsSnapshot, String> {
    let counter = |name: &str| match set.get(name) {
        Some(Value::Counter(v)) => Ok(*v),
        other => Err(format!("field `{name}` is {other:?}, not a counter")),
    };
    let in_flight = match set.get("in_flight") {
        Some(Value::Gauge(v)) => *v,
        other => return Err(format!("field `in_flight` is {other:?}, not a gauge")),
    };
    let latency_ns = match set.get("latency_ns") {
        Some(Value::Histogram(h)) => (**h).clone(),
        other => return Err(format!("field `latency_ns` is {other:?}, not a histogram")),
    };
    Ok(InferenceStatsSnapshot {
        total_inferences: counter("total_inferences")?,
        successful_inferences: counter("successful_inferences")?,
        failed_inferences: counter("failed_inferences")?,
        cache_hits: counter("cache_hits")?,
        cache_misses: counter("cache_misses")?,
        in_flight,
        latency_ns,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tally::{Cache, InferenceStats, Outcome, Registry};

    use super::*;

    #[test]
    fn a_registry_snapshot_reads_back_as_the_typed_snapshots() {
        let registry = Registry::new();
        let overall = registry.register::<InferenceStats>(OVERALL, "all").unwrap();
        let family = registry.metric(BY_MODEL).family::<InferenceStats>(&["model"]).unwrap();
        overall.record_request_with_latency(
            Outcome::Success,
            Cache::Miss,
            Duration::from_micros(5),
        );
        family.bind(&["m1"]).unwrap().record_request(Outcome::Failure, Cache::Hit);
        let view = View::of(&registry.snapshot()).unwrap();
        assert_eq!(view.overall, overall.snapshot());
        assert_eq!(view.models.len(), 1);
        assert_eq!(view.models[0].0, "m1");
        assert_eq!(view.models[0].1.failed_inferences, 1);
    }

    #[test]
    fn a_missing_metric_is_reported_by_name() {
        let err = View::of(&RegistrySnapshot::default()).unwrap_err();
        assert!(err.contains("`inference` missing"), "{err}");
    }
}
