//! Running statistics shared by every layer that summarises a sequence: packet sizes and gaps
//! (features), message sizes and intervals (window rows), record paces (flow exports), job
//! intervals (the mining-protocol dissector). One implementation, one rule for the coefficient
//! of variation.

/// Running mean and variance (Welford), with min and max.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Moments {
    n: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

impl Moments {
    /// Adds one observation.
    #[inline]
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        if self.n == 1 {
            self.min = x;
            self.max = x;
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }
    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.n
    }
    /// `v`, or NaN without observations.
    #[inline]
    fn unless_empty(&self, v: f64) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            v
        }
    }
    /// Mean, or NaN without observations.
    pub fn mean(&self) -> f64 {
        self.unless_empty(self.mean)
    }
    /// Population standard deviation, or NaN without observations.
    pub fn std(&self) -> f64 {
        self.unless_empty((self.m2 / self.n as f64).sqrt())
    }
    /// Smallest observation, or NaN.
    pub fn min(&self) -> f64 {
        self.unless_empty(self.min)
    }
    /// Largest observation, or NaN.
    pub fn max(&self) -> f64 {
        self.unless_empty(self.max)
    }
    /// Coefficient of variation (std / mean): 0 for a perfect rhythm; NaN with < 2 values.
    pub fn cv(&self) -> f64 {
        if self.n < 2 || self.mean <= 0.0 {
            f64::NAN
        } else {
            self.std() / self.mean
        }
    }
}

impl Moments {
    /// The moments of a slice (for statistics of a bounded list, such as one window's
    /// messages).
    pub fn of(xs: &[f64]) -> Moments {
        let mut m = Moments::default();
        for &x in xs {
            m.push(x);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_by_hand() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, population std 2 (the textbook example).
        let m = Moments::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(m.count(), 8);
        assert!((m.mean() - 5.0).abs() < 1e-12);
        assert!((m.std() - 2.0).abs() < 1e-12);
        assert!((m.cv() - 0.4).abs() < 1e-12);
        assert_eq!((m.min(), m.max()), (2.0, 9.0));
        // One value, or a mean of zero: no coefficient of variation.
        assert!(Moments::of(&[3.0]).cv().is_nan());
        assert!(Moments::of(&[0.0, 0.0]).cv().is_nan());
        assert!(Moments::default().mean().is_nan());
    }
}
