//! The ready-made set for an inference service.

use std::time::Duration;

use tally_core::ratio_or_zero;

tally_core::metric_set! {
    /// What an inference service did: the `get_stats()` of an inference manager, with
    /// every figure from one coherent snapshot.
    ///
    /// Record each request as one event ([`InferenceStats::record_inference`]) so that
    /// `successful + failed == total` and `cache_hits + cache_misses == total` hold in
    /// every snapshot.
    pub struct InferenceStats {
        /// Inference requests completed.
        total_inferences: Counter,
        /// Requests that produced a result.
        successful_inferences: Counter,
        /// Requests that failed.
        failed_inferences: Counter,
        /// Requests answered from the cache.
        cache_hits: Counter,
        /// Requests that missed the cache.
        cache_misses: Counter,
        /// Requests being served right now.
        in_flight: Gauge,
        /// Request latency: from a request's arrival to its answer.
        latency_ns: Histogram,
    }
}

impl InferenceStats {
    /// Records one finished request: `total_inferences`, one outcome and one cache result,
    /// as one event.
    ///
    /// ```
    /// let stats = tally::InferenceStats::new();
    /// stats.record_inference(true, false);
    /// let snap = stats.snapshot();
    /// assert_eq!((snap.total_inferences, snap.successful_inferences, snap.cache_misses), (1, 1, 1));
    /// ```
    #[inline(always)]
    pub fn record_inference(&self, success: bool, cache_hit: bool) {
        self.record(
            #[inline(always)]
            |e| count_request(e, success, cache_hit),
        );
    }

    /// Records one finished request with its latency: `total_inferences`, one outcome, one
    /// cache result and the latency, as one event, so that `latency_ns.count()` equals
    /// `total_inferences` in every snapshot (if every request is recorded this way).
    ///
    /// ```
    /// use std::time::Duration;
    /// let stats = tally::InferenceStats::new();
    /// stats.record_inference_with_latency(true, true, Duration::from_millis(12));
    /// let snap = stats.snapshot();
    /// assert_eq!(snap.latency_ns.count(), snap.total_inferences);
    /// let p50 = snap.latency_ns.quantile(0.5).unwrap();
    /// assert!((p50 as f64 - 12e6).abs() <= 12e6 / 32.0);
    /// ```
    #[inline(always)]
    pub fn record_inference_with_latency(&self, success: bool, cache_hit: bool, latency: Duration) {
        let latency_ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.record(
            #[inline(always)]
            |e| {
                count_request(e, success, cache_hit);
                e.latency_ns().record(latency_ns);
            },
        );
    }
}

/// The counters of one request: total, one outcome, one cache result.
#[inline(always)]
fn count_request(e: InferenceStatsEvent<'_>, success: bool, cache_hit: bool) {
    e.total_inferences().inc();
    if success {
        e.successful_inferences().inc();
    } else {
        e.failed_inferences().inc();
    }
    if cache_hit {
        e.cache_hits().inc();
    } else {
        e.cache_misses().inc();
    }
}

impl InferenceStatsSnapshot {
    /// The `q`-quantile of request latency (`q` in `[0, 1]`), within the histogram's
    /// relative error (2^-5 by default); `None` before the first timed request.
    pub fn latency_quantile(&self, q: f64) -> Option<Duration> {
        self.latency_ns.quantile(q).map(Duration::from_nanos)
    }

    /// `successful / total`, from this one snapshot; 0.0 before the first request.
    pub fn success_rate(&self) -> f64 {
        ratio_or_zero(self.successful_inferences, self.total_inferences)
    }

    /// `cache_hits / total`, from this one snapshot; 0.0 before the first request.
    pub fn cache_hit_rate(&self) -> f64 {
        ratio_or_zero(self.cache_hits, self.total_inferences)
    }

    /// Whether the snapshot is coherent: both partitions of `total_inferences` add up and
    /// nothing is in flight below zero. Always true for snapshots of sets recorded with
    /// [`InferenceStats::record_inference`]; a check for tests and dashboards.
    pub fn is_coherent(&self) -> bool {
        self.successful_inferences.checked_add(self.failed_inferences)
            == Some(self.total_inferences)
            && self.cache_hits.checked_add(self.cache_misses) == Some(self.total_inferences)
    }
}
