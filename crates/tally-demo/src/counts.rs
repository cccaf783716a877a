//! What the load generators issued, counted in plain local variables by the thread or task
//! that issued it: the expected figures that tally's snapshots must match exactly.

use serde::Serialize;
use tally::InferenceStatsSnapshot;

/// The counters of one `InferenceStats` set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Requests.
    pub total_inferences: u64,
    /// Requests that succeeded.
    pub successful_inferences: u64,
    /// Requests that failed.
    pub failed_inferences: u64,
    /// Requests answered from the cache.
    pub cache_hits: u64,
    /// Requests that missed the cache.
    pub cache_misses: u64,
}

impl Counts {
    /// The field names and values, in the set's order.
    pub fn fields(&self) -> [(&'static str, u64); 5] {
        [
            ("total_inferences", self.total_inferences),
            ("successful_inferences", self.successful_inferences),
            ("failed_inferences", self.failed_inferences),
            ("cache_hits", self.cache_hits),
            ("cache_misses", self.cache_misses),
        ]
    }

    /// The counters of a snapshot.
    pub fn of(snap: &InferenceStatsSnapshot) -> Self {
        Counts {
            total_inferences: snap.total_inferences,
            successful_inferences: snap.successful_inferences,
            failed_inferences: snap.failed_inferences,
            cache_hits: snap.cache_hits,
            cache_misses: snap.cache_misses,
        }
    }

    /// Counts one request.
    #[inline]
    pub fn count(&mut self, success: bool, hit: bool) {
        self.total_inferences += 1;
        if success {
            self.successful_inferences += 1;
        } else {
            self.failed_inferences += 1;
        }
        if hit {
            self.cache_hits += 1;
        } else {
            self.cache_misses += 1;
        }
    }

    /// Adds another generator's counts.
    pub fn add(&mut self, other: &Counts) {
        self.total_inferences += other.total_inferences;
        self.successful_inferences += other.successful_inferences;
        self.failed_inferences += other.failed_inferences;
        self.cache_hits += other.cache_hits;
        self.cache_misses += other.cache_misses;
    }
}

/// One generator's counts: overall and per model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Issued {
    /// Every request.
    pub overall: Counts,
    /// By model index.
    pub per_model: Vec<Counts>,
}

impl Issued {
    /// Zero counts for `models` models.
    pub fn new(models: usize) -> Self {
        Issued { overall: Counts::default(), per_model: vec![Counts::default(); models] }
    }

    /// Counts one request to `model`.
    #[inline]
    pub fn count(&mut self, model: usize, success: bool, hit: bool) {
        self.overall.count(success, hit);
        self.per_model[model].count(success, hit);
    }

    /// Adds another generator's counts.
    pub fn add(&mut self, other: &Issued) {
        self.overall.add(&other.overall);
        for (mine, theirs) in self.per_model.iter_mut().zip(&other.per_model) {
            mine.add(theirs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_partitions_the_total() {
        let mut a = Issued::new(2);
        a.count(0, true, false);
        a.count(1, false, true);
        let mut b = Issued::new(2);
        b.count(1, true, true);
        a.add(&b);
        assert_eq!(a.overall.total_inferences, 3);
        assert_eq!(a.overall.successful_inferences + a.overall.failed_inferences, 3);
        assert_eq!(a.overall.cache_hits + a.overall.cache_misses, 3);
        assert_eq!(a.per_model[1].total_inferences, 2);
        assert_eq!(a.per_model[1].cache_hits, 2);
    }
}
