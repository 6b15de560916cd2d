//! Small-sample statistics for refusal rates: students run 5 or 10 samples, so intervals must be
//! meaningful at 0/5 and 5/5 (Wilson), and paired comparisons exact (McNemar).

/// z for a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// Wilson score interval for `successes` out of `n` at 95%. `n = 0` gives the whole range.
pub fn wilson_interval(successes: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n_f = n as f64;
    let p = successes as f64 / n_f;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n_f;
    let center = (p + z2 / (2.0 * n_f)) / denom;
    let half = Z95 / denom * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt();
    ((center - half).max(0.0), (center + half).min(1.0))
}

/// Two-sided exact McNemar test on paired outcomes: `b` pairs changed one way, `c` the other.
/// Returns the p-value (1 when there are no discordant pairs).
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // P(X <= k) for X ~ Binomial(n, 1/2), summed in log space to stay finite for large n.
    let log_half_n = -(n as f64) * std::f64::consts::LN_2;
    let tail: f64 = (0..=k).map(|i| (ln_choose(n, i) + log_half_n).exp()).sum();
    (2.0 * tail).min(1.0)
}

fn ln_choose(n: u64, k: u64) -> f64 {
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}

fn ln_factorial(n: u64) -> f64 {
    (2..=n).map(|i| (i as f64).ln()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn wilson_known_values() {
        let (lo, hi) = wilson_interval(0, 5);
        assert!(close(lo, 0.0) && close(hi, 0.4345), "{lo} {hi}");
        let (lo, hi) = wilson_interval(5, 5);
        assert!(close(lo, 0.5655) && close(hi, 1.0), "{lo} {hi}");
        let (lo, hi) = wilson_interval(1, 5);
        assert!(close(lo, 0.0362) && close(hi, 0.6245), "{lo} {hi}");
        let (lo, hi) = wilson_interval(50, 100);
        assert!(close(lo, 0.4038) && close(hi, 0.5962), "{lo} {hi}");
        assert_eq!(wilson_interval(0, 0), (0.0, 1.0));
    }

    #[test]
    fn mcnemar_known_values() {
        assert!(close(mcnemar_exact(5, 0), 0.0625));
        assert!(close(mcnemar_exact(0, 5), 0.0625));
        assert!(close(mcnemar_exact(10, 0), 0.001953));
        assert!(close(mcnemar_exact(3, 3), 1.0));
        assert!(close(mcnemar_exact(6, 1), 0.125));
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        assert!(mcnemar_exact(2000, 1000) < 1e-10);
    }
}
