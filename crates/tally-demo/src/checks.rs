//! The invariants every published snapshot must satisfy, and the ones between two
//! snapshots a reader observes in turn.

use tally::{InferenceStatsSnapshot, RegistrySnapshot};

use crate::counts::Counts;
use crate::view::View;

/// One reader's checker: it remembers the last epoch it saw to check that nothing goes
/// backwards.
#[derive(Debug)]
pub struct Checker {
    models: usize,
    max_in_flight: i64,
    last: Option<Seen>,
}

/// The counters of the last epoch checked.
#[derive(Debug)]
struct Seen {
    epoch: u64,
    overall: Counts,
    overall_latencies: u64,
    models: Vec<(Counts, u64)>,
}

impl Checker {
    /// A checker for a run with `models` models and at most `max_in_flight` requests in
    /// flight at once.
    pub fn new(models: usize, max_in_flight: i64) -> Self {
        Checker { models, max_in_flight, last: None }
    }

    /// Checks epoch `epoch` holding `snap`; returns what is broken (empty when all holds).
    pub fn check(&mut self, epoch: u64, snap: &RegistrySnapshot) -> Vec<String> {
        let mut broken = Vec::new();
        let view = match View::of(snap) {
            Ok(view) => view,
            Err(e) => {
                broken.push(format!("epoch {epoch}: {e}"));
                return broken;
            }
        };
        check_set(epoch, "overall", &view.overall, &mut broken);
        let in_flight = view.overall.in_flight;
        if !(0..=self.max_in_flight).contains(&in_flight) {
            broken.push(format!(
                "epoch {epoch}: in_flight {in_flight} outside 0..={}",
                self.max_in_flight
            ));
        }
        if view.models.len() != self.models || view.overflow_redirects != 0 {
            broken.push(format!(
                "epoch {epoch}: {} model series and {} overflow redirects, expected {} and 0",
                view.models.len(),
                view.overflow_redirects,
                self.models
            ));
        }
        let mut sum = Counts::default();
        for (model, set) in &view.models {
            check_set(epoch, model, set, &mut broken);
            if set.in_flight != 0 {
                broken.push(format!("epoch {epoch}: model {model} in_flight {}", set.in_flight));
            }
            sum.add(&Counts::of(set));
        }
        // Each request is recorded into its model's series before the overall set, and the
        // family is collected after the overall set: the models cover the overall counts.
        for ((name, overall), (_, models)) in
            Counts::of(&view.overall).fields().into_iter().zip(sum.fields())
        {
            if models < overall {
                broken.push(format!(
                    "epoch {epoch}: {name} summed over models is {models}, below the overall {overall}"
                ));
            }
        }

        let seen = Seen {
            epoch,
            overall: Counts::of(&view.overall),
            overall_latencies: view.overall.latency_ns.count(),
            models: view
                .models
                .iter()
                .map(|(_, s)| (Counts::of(s), s.latency_ns.count()))
                .collect(),
        };
        if let Some(last) = &self.last {
            if epoch < last.epoch {
                broken.push(format!("epoch number went back from {} to {epoch}", last.epoch));
            }
            let pairs = std::iter::once((
                (&last.overall, last.overall_latencies),
                (&seen.overall, seen.overall_latencies),
                "overall",
            ))
            .chain(last.models.iter().zip(&seen.models).zip(&view.models).map(
                |((before, now), (model, _))| {
                    ((&before.0, before.1), (&now.0, now.1), model.as_str())
                },
            ));
            for ((before, lat_before), (now, lat_now), what) in pairs {
                for ((name, b), (_, n)) in before.fields().into_iter().zip(now.fields()) {
                    if n < b {
                        broken.push(format!(
                            "{what} {name} went backwards from {b} (epoch {}) to {n} (epoch {epoch})",
                            last.epoch
                        ));
                    }
                }
                if lat_now < lat_before {
                    broken.push(format!(
                        "{what} latency count went backwards from {lat_before} to {lat_now} (epoch {epoch})"
                    ));
                }
            }
        }
        self.last = Some(seen);
        broken
    }
}

/// The invariants of one `InferenceStats` snapshot on its own.
fn check_set(epoch: u64, what: &str, s: &InferenceStatsSnapshot, broken: &mut Vec<String>) {
    if s.successful_inferences.checked_add(s.failed_inferences) != Some(s.total_inferences) {
        broken.push(format!(
            "epoch {epoch}: {what} successful {} + failed {} != total {}",
            s.successful_inferences, s.failed_inferences, s.total_inferences
        ));
    }
    if s.cache_hits.checked_add(s.cache_misses) != Some(s.total_inferences) {
        broken.push(format!(
            "epoch {epoch}: {what} hits {} + misses {} != total {}",
            s.cache_hits, s.cache_misses, s.total_inferences
        ));
    }
    if s.latency_ns.count() != s.total_inferences {
        broken.push(format!(
            "epoch {epoch}: {what} latency count {} != total {}",
            s.latency_ns.count(),
            s.total_inferences
        ));
    }
    for (name, rate) in [("success rate", s.success_rate()), ("cache hit rate", s.cache_hit_rate())]
    {
        if !(0.0..=1.0).contains(&rate) {
            broken.push(format!("epoch {epoch}: {what} {name} {rate} outside [0, 1]"));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tally::{Cache, InferenceStats, Outcome, Registry};

    use super::*;
    use crate::view::{BY_MODEL, OVERALL};

    fn registry() -> (Registry, std::sync::Arc<InferenceStats>, std::sync::Arc<InferenceStats>) {
        let registry = Registry::new();
        let overall = registry.register::<InferenceStats>(OVERALL, "").unwrap();
        let family = registry.metric(BY_MODEL).family::<InferenceStats>(&["model"]).unwrap();
        let model = family.bind(&["m"]).unwrap();
        (registry, overall, model)
    }

    #[test]
    fn consistent_growing_snapshots_pass() {
        let (registry, overall, model) = registry();
        let mut checker = Checker::new(1, 4);
        for epoch in 0..3 {
            assert_eq!(checker.check(epoch, &registry.snapshot()), Vec::<String>::new());
            model.record_request_with_latency(
                Outcome::Success,
                Cache::Miss,
                Duration::from_micros(3),
            );
            overall.record_request_with_latency(
                Outcome::Success,
                Cache::Miss,
                Duration::from_micros(3),
            );
        }
    }

    #[test]
    fn a_torn_or_shrinking_or_uncovered_snapshot_is_reported() {
        let (registry, overall, model) = registry();
        model.record_request_with_latency(Outcome::Success, Cache::Hit, Duration::from_micros(3));
        overall.record_request_with_latency(Outcome::Success, Cache::Hit, Duration::from_micros(3));
        let mut checker = Checker::new(1, 4);
        let good = registry.snapshot();
        assert!(checker.check(5, &good).is_empty());

        // Torn: a success without its total.
        overall.record(|e| e.successful_inferences().inc());
        let torn = checker.check(6, &registry.snapshot());
        assert!(torn.iter().any(|m| m.contains("!= total")), "{torn:?}");

        // Going backwards: an older snapshot presented as a newer epoch.
        let back = checker.check(7, &good);
        assert!(back.iter().any(|m| m.contains("went backwards")), "{back:?}");

        // Overall ahead of the models.
        overall.record_request_with_latency(
            Outcome::Failure,
            Cache::Miss,
            Duration::from_micros(3),
        );
        let uncovered = checker.check(8, &registry.snapshot());
        assert!(uncovered.iter().any(|m| m.contains("below the overall")), "{uncovered:?}");

        // Epoch numbers going back.
        assert!(checker.check(1, &registry.snapshot()).iter().any(|m| m.contains("epoch number")));
    }
}
