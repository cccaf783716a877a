//! Exact summation of `f64`s: how per-thread float totals are added up into one value.

/// The exact sum of any number of finite `f64`s, rounded once when read (Shewchuk's
/// non-overlapping partials, as in Python's `math.fsum`).
///
/// Collections add the per-thread parts of a float counter or gauge with this, so the
/// total is the one `f64` nearest to the exact sum of the parts: it does not depend on
/// the order threads are visited in, and because rounding to nearest is monotone, a total
/// of parts that only grow never goes backwards.
///
/// ```
/// use tally_snapshot::FloatSum;
/// let mut s = FloatSum::new();
/// for x in [1e100, 1.0, -1e100, 0.1, 0.2] {
///     s.add(x);
/// }
/// // The naive left-to-right sum is 0.30000000000000004 (and loses the 1.0 entirely).
/// assert_eq!(s.value(), 1.3);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FloatSum {
    partials: Vec<f64>,
    /// Infinities and NaNs met (which have no exact sum): added up plainly.
    special: f64,
}

impl FloatSum {
    /// An empty sum (0).
    pub const fn new() -> Self {
        FloatSum { partials: Vec::new(), special: 0.0 }
    }

    /// Empties the sum, keeping its allocation.
    pub fn clear(&mut self) {
        self.partials.clear();
        self.special = 0.0;
    }

    /// Adds `x` exactly.
    pub fn add(&mut self, mut x: f64) {
        if !x.is_finite() {
            self.special += x;
            return;
        }
        let mut i = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            if !hi.is_finite() {
                // Past f64's range: the sum saturates (documented at `GaugeF64`).
                self.special += hi;
                self.partials.truncate(i);
                return;
            }
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[i] = lo;
                i += 1;
            }
            x = hi;
        }
        self.partials.truncate(i);
        self.partials.push(x);
    }

    /// The sum, correctly rounded to the nearest `f64` (ties to even).
    pub fn value(&self) -> f64 {
        if self.special != 0.0 || self.special.is_nan() {
            return self.special;
        }
        let p = &self.partials;
        let Some(mut n) = p.len().checked_sub(1) else { return 0.0 };
        let mut hi = p[n];
        let mut lo = 0.0;
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = p[n];
            hi = x + y;
            let yr = hi - x;
            lo = y - yr;
            if lo != 0.0 {
                break;
            }
        }
        // Half-way cases: the partials below decide which way the rounding goes.
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
        hi
    }
}

/// The exact sum of `values`, rounded once ([`FloatSum`]).
pub fn exact_sum(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut s = FloatSum::new();
    values.into_iter().for_each(|x| s.add(x));
    s.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_dyadic_values_exactly_in_any_order() {
        // Multiples of 2^-20 below 2^30: every partial sum is exact in i128 arithmetic, and
        // the total (below 2^53 units of 2^-20) has an exact f64.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200 {
            let mut values = Vec::new();
            let mut exact: i128 = 0;
            for _ in 0..50 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let k = (seed % (1 << 40)) as i128 - (1 << 39);
                exact += k;
                values.push(k as f64 / (1u64 << 20) as f64);
            }
            let want = exact as f64 / (1u64 << 20) as f64;
            assert_eq!(exact_sum(values.iter().copied()), want);
            assert_eq!(exact_sum(values.iter().rev().copied()), want);
        }
    }

    #[test]
    fn rounds_once_and_half_way_cases_to_even() {
        assert_eq!(exact_sum([0.1; 10]), 1.0);
        assert_eq!(exact_sum([1.0, 1e-16, 1e-16]), 1.0000000000000002);
        // 2^53 + 1 is half-way between 2^53 and 2^53 + 2: to even.
        assert_eq!(exact_sum([9007199254740992.0, 1.0]), 9007199254740992.0);
        assert_eq!(exact_sum([9007199254740992.0, 1.0, 1e-10]), 9007199254740994.0);
        assert_eq!(exact_sum([]), 0.0);
        assert_eq!(exact_sum([f64::MAX, f64::MAX]), f64::INFINITY);
    }
}
