//! Deterministic per-request random draws: the same seed and request id always give the
//! same model, input and outcome, whichever thread serves the request.

/// SplitMix64: a tiny, well-mixed generator; one per request.
#[derive(Debug, Clone)]
pub struct RequestRng(u64);

impl RequestRng {
    /// The generator of request `id` under `seed`.
    pub fn new(seed: u64, id: u64) -> Self {
        let mut rng = RequestRng(seed ^ id.wrapping_mul(0xD1B5_4A32_D192_ED03));
        rng.next_u64();
        rng
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), by multiply-shift.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p` (in 0..=1): exactly never for 0, always for 1.
    pub fn chance(&mut self, p: f64) -> bool {
        // 53 random bits as a float in [0, 1).
        let u = (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        u < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_draws_the_same_values_every_time() {
        let draws = |id| {
            let mut r = RequestRng::new(7, id);
            (r.below(10), r.below(1000), r.chance(0.5))
        };
        assert_eq!(draws(42), draws(42));
        assert_ne!((0..16).map(draws).collect::<Vec<_>>(), (16..32).map(draws).collect::<Vec<_>>());
    }

    #[test]
    fn chance_matches_its_probability() {
        let mut hits = 0u32;
        for id in 0..100_000 {
            let mut r = RequestRng::new(1, id);
            assert!(r.below(3) < 3);
            hits += u32::from(r.chance(0.25));
            assert!(!r.chance(0.0));
            assert!(r.chance(1.0));
        }
        // 4.5 standard deviations of a binomial(100000, 0.25): ~616.
        assert!((hits as i64 - 25_000).abs() < 616, "{hits}");
    }
}
