//! Small-sample statistics for refusal rates. Students run 5 or 10 samples, so intervals must be
//! meaningful at 0/5 and 5/5 (Wilson), comparisons exact (Fisher), several comparisons in one
//! cell corrected (Holm), and the output must say when the sample size cannot show a difference
//! at all (the smallest reachable p-value).
//!
//! Two strategies' samples are independent draws, not pairs: the prompts differ, so sample i of
//! one strategy has nothing in common with sample i of another even when the seeds match. That is
//! why the comparison is Fisher's exact test on the 2×2 table and not McNemar's paired test.

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

fn ln_factorial(n: u64) -> f64 {
    (2..=n).map(|i| (i as f64).ln()).sum()
}

fn ln_choose(n: u64, k: u64) -> f64 {
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}

/// Two-sided Fisher exact test for `x1` of `n1` against `x2` of `n2`: the probability, given the
/// margins, of a table at most as likely as the observed one. 1 when either group is empty.
pub fn fisher_exact(x1: u64, n1: u64, x2: u64, n2: u64) -> f64 {
    if n1 == 0 || n2 == 0 {
        return 1.0;
    }
    let total = n1 + n2;
    let successes = x1 + x2;
    let ln_denominator = ln_choose(total, successes);
    // P(X = k) for the count in group 1, hypergeometric.
    let ln_p = |k: u64| ln_choose(n1, k) + ln_choose(n2, successes - k) - ln_denominator;
    let low = successes.saturating_sub(n2);
    let high = successes.min(n1);
    let observed = ln_p(x1);
    // Tables within a relative 1e-7 of the observed probability count as "as extreme" (the
    // tolerance R's fisher.test uses), so ties are not lost to rounding.
    let p: f64 = (low..=high)
        .map(ln_p)
        .filter(|lp| *lp <= observed + 1e-7)
        .map(f64::exp)
        .sum();
    p.min(1.0)
}

/// Holm's step-down adjustment of several p-values, in their original order.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|a, b| p_values[*a].total_cmp(&p_values[*b]));
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        let a = ((m - rank) as f64 * p_values[i]).min(1.0);
        running = running.max(a);
        adjusted[i] = running;
    }
    adjusted
}

/// The smallest two-sided Fisher p-value two groups of `n1` and `n2` samples can produce (all of
/// one group refusing, none of the other).
pub fn smallest_fisher_p(n1: u64, n2: u64) -> f64 {
    if n1 == 0 || n2 == 0 {
        return 1.0;
    }
    fisher_exact(n1, n1, 0, n2).min(fisher_exact(0, n1, n2, n2))
}

/// The fewest samples per group with which `comparisons` Holm-adjusted Fisher tests could reach
/// `alpha` (their smallest p-value times the number of comparisons).
pub fn samples_needed(comparisons: usize, alpha: f64) -> u64 {
    let m = comparisons.max(1) as f64;
    (1..=1000)
        .find(|&n| smallest_fisher_p(n, n) * m < alpha)
        .unwrap_or(1000)
}

/// Exact McNemar (sign) test for two methods on the same items: `only_first` items right for
/// the first method alone, `only_second` for the second alone. Two-sided p-value; items both got
/// right or both got wrong say nothing about which is better.
pub fn mcnemar_exact(only_first: u64, only_second: u64) -> f64 {
    let n = only_first + only_second;
    if n == 0 {
        return 1.0;
    }
    let k = only_first.min(only_second);
    // P(X <= k) for X ~ Binomial(n, 1/2), summed in logs so large n does not overflow.
    let ln_half_n = n as f64 * 0.5f64.ln();
    let tail: f64 = (0..=k).map(|i| (ln_choose(n, i) + ln_half_n).exp()).sum();
    (2.0 * tail).min(1.0)
}

/// The smallest p-value [`mcnemar_exact`] can give on `items` paired items (one method right on
/// all of them, the other on none).
pub fn smallest_mcnemar_p(items: u64) -> f64 {
    mcnemar_exact(items, 0)
}

/// Cohen's kappa between two raters' labels of the same items: 1 is perfect agreement, 0 is what
/// chance would give. `None` with no items, or when both raters used a single label (undefined).
pub fn cohen_kappa<T: PartialEq + Copy>(pairs: &[(T, T)]) -> Option<f64> {
    let n = pairs.len() as f64;
    if pairs.is_empty() {
        return None;
    }
    let mut labels: Vec<T> = Vec::new();
    for (a, b) in pairs {
        for x in [a, b] {
            if !labels.contains(x) {
                labels.push(*x);
            }
        }
    }
    let observed = pairs.iter().filter(|(a, b)| a == b).count() as f64 / n;
    let expected: f64 = labels
        .iter()
        .map(|l| {
            let pa = pairs.iter().filter(|(a, _)| a == l).count() as f64 / n;
            let pb = pairs.iter().filter(|(_, b)| b == l).count() as f64 / n;
            pa * pb
        })
        .sum();
    if (1.0 - expected).abs() < 1e-12 {
        return None;
    }
    Some((observed - expected) / (1.0 - expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn mcnemar_matches_the_binomial_by_hand() {
        // 5 discordant pairs all one way: 2 * (1/2)^5.
        assert!(close(mcnemar_exact(5, 0), 0.0625));
        assert!(close(mcnemar_exact(0, 5), 0.0625));
        // 6 vs 1 of 7: 2 * (1 + 7) / 128.
        assert!(close(mcnemar_exact(6, 1), 0.125));
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        assert_eq!(mcnemar_exact(3, 3), 1.0);
        // Five paired questions can never reach 0.05; six can.
        assert!(smallest_mcnemar_p(5) > 0.05 && smallest_mcnemar_p(6) < 0.05);
        // Large counts do not overflow.
        assert!(mcnemar_exact(600, 400) < 1e-9);
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
    fn fisher_known_values() {
        // Values from R: fisher.test(matrix(c(x1, n1 - x1, x2, n2 - x2), 2))$p.value
        assert!(close(fisher_exact(5, 5, 0, 5), 0.007937));
        assert!(close(fisher_exact(3, 5, 0, 5), 0.1667));
        assert!(close(fisher_exact(1, 3, 3, 3), 0.4));
        assert!(close(fisher_exact(8, 10, 2, 10), 0.02301));
        assert!(close(fisher_exact(3, 3, 0, 3), 0.1));
        assert!(close(fisher_exact(2, 5, 2, 5), 1.0));
        assert_eq!(fisher_exact(0, 0, 3, 5), 1.0);
        // Large counts stay finite.
        assert!(fisher_exact(150, 200, 50, 200) < 1e-10);
    }

    #[test]
    fn holm_adjustment() {
        let adj = holm(&[0.01, 0.04, 0.03, 0.5]);
        // sorted: 0.01×4 = 0.04, 0.03×3 = 0.09, 0.04×2 = 0.08 → 0.09 (monotone), 0.5×1 = 0.5
        assert!(
            close(adj[0], 0.04) && close(adj[2], 0.09) && close(adj[1], 0.09) && close(adj[3], 0.5)
        );
        assert!(holm(&[]).is_empty());
    }

    #[test]
    fn what_a_sample_size_can_show() {
        // 3 samples per strategy can never give p < 0.05; 5 can (0.0079), but not after Holm over 10.
        assert!(close(smallest_fisher_p(3, 3), 0.1));
        assert!(close(smallest_fisher_p(5, 5), 0.007937));
        assert!(smallest_fisher_p(5, 5) * 10.0 > 0.05);
        assert_eq!(samples_needed(1, 0.05), 4);
        assert_eq!(samples_needed(10, 0.05), 6);
    }

    #[test]
    fn kappa() {
        let perfect = [(1, 1), (2, 2), (1, 1), (2, 2)];
        assert!(close(cohen_kappa(&perfect).unwrap(), 1.0));
        // Chance agreement only.
        let chance = [(1, 1), (1, 2), (2, 1), (2, 2)];
        assert!(close(cohen_kappa(&chance).unwrap(), 0.0));
        assert_eq!(cohen_kappa::<u8>(&[]), None);
        assert_eq!(cohen_kappa(&[(1, 1), (1, 1)]), None);
    }
}
