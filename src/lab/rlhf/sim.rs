//! Four small, deterministic simulations, one per card. Each returns the plotted series, the
//! parameters, fitted or derived numbers, and a caption that says what to notice and which
//! numbers are teaching assumptions.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal, StandardNormal};
use serde_json::{json, Value};

use crate::display::plot::Series;

pub struct Simulation {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub y_range: Option<(f64, f64)>,
    pub series: Vec<Series>,
    pub parameters: Value,
    pub results: Value,
    pub caption: String,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn normals(rng: &mut StdRng, n: usize) -> Vec<f64> {
    (0..n).map(|_| StandardNormal.sample(rng)).collect()
}

/// Ranks with ties averaged (1-based).
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            r[idx[k]] = avg;
        }
        i = j + 1;
    }
    r
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    if va == 0.0 || vb == 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}

/// Spearman rank correlation.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&ranks(a), &ranks(b))
}

/// Bradley–Terry scores from (winner-probability) comparisons by gradient ascent on the
/// log-likelihood with a small ridge penalty (keeps scores finite when an item always wins).
/// `comparisons`: (i, j, p) meaning "i beat j" with weight p and "j beat i" with weight 1 − p.
fn bradley_terry(n: usize, comparisons: &[(usize, usize, f64)]) -> Vec<f64> {
    let mut r = vec![0.0; n];
    let ridge = 0.01;
    let lr = 4.0 / (comparisons.len().max(1) as f64 / n as f64 + 1.0);
    for _ in 0..400 {
        let mut grad: Vec<f64> = r.iter().map(|x| -ridge * x).collect();
        for &(i, j, p) in comparisons {
            let q = sigmoid(r[i] - r[j]);
            grad[i] += p - q;
            grad[j] -= p - q;
        }
        for k in 0..n {
            r[k] += lr * grad[k];
        }
    }
    r
}

/// misaligned-humans: a share of raters rewards a superficial "style" feature.
pub fn misaligned_humans(biased_fraction: f64, bias: f64, seed: u64) -> Simulation {
    const ITEMS: usize = 30;
    const TEMPERATURE: f64 = 1.0;
    let mut rng = StdRng::seed_from_u64(seed);
    let quality = normals(&mut rng, ITEMS);
    let style = normals(&mut rng, ITEMS);
    // Pooled preferences over every pair, in expectation (no sampling noise: the point is that
    // systematic bias survives any amount of data).
    let fit = |f: f64| {
        let mut comps = Vec::new();
        for i in 0..ITEMS {
            for j in (i + 1)..ITEMS {
                let du = quality[i] - quality[j];
                let ds = style[i] - style[j];
                let p = (1.0 - f) * sigmoid(du / TEMPERATURE)
                    + f * sigmoid((du + bias * ds) / TEMPERATURE);
                comps.push((i, j, p));
            }
        }
        let reward = bradley_terry(ITEMS, &comps);
        (spearman(&reward, &quality), spearman(&reward, &style))
    };
    let fractions: Vec<f64> = (0..=10).map(|k| k as f64 / 10.0).collect();
    let curves: Vec<(f64, f64)> = fractions.iter().map(|&f| fit(f)).collect();
    let (at_true, at_style) = fit(biased_fraction);
    // How often two honest raters agree on a pair: E[p² + (1 − p)²].
    let mut agree = 0.0;
    let mut pairs = 0.0;
    for i in 0..ITEMS {
        for j in (i + 1)..ITEMS {
            let p = sigmoid((quality[i] - quality[j]) / TEMPERATURE);
            agree += p * p + (1.0 - p) * (1.0 - p);
            pairs += 1.0;
        }
    }
    let agreement = agree / pairs;
    let pts = |k: usize| -> Vec<(f64, f64)> {
        fractions
            .iter()
            .zip(&curves)
            .map(|(f, c)| (*f, if k == 0 { c.0 } else { c.1 }))
            .collect()
    };
    Simulation {
        title: "Learned reward vs. share of style-biased raters".into(),
        x_label: "fraction of biased raters f".into(),
        y_label: "rank correlation of learned reward".into(),
        y_range: Some((-1.0, 1.05)),
        series: vec![
            Series { name: "with true quality".into(), points: pts(0), line: true },
            Series { name: "with style".into(), points: pts(1), line: true },
            Series { name: format!("your f = {biased_fraction}"), points: vec![(biased_fraction, at_true), (biased_fraction, at_style)], line: false },
        ],
        parameters: json!({"items": ITEMS, "biased_fraction": biased_fraction, "bias": bias, "temperature": TEMPERATURE, "seed": seed}),
        results: json!({
            "fractions": fractions,
            "corr_true": curves.iter().map(|c| c.0).collect::<Vec<_>>(),
            "corr_style": curves.iter().map(|c| c.1).collect::<Vec<_>>(),
            "at_biased_fraction": {"corr_true": at_true, "corr_style": at_style},
            "honest_agreement": agreement,
        }),
        caption: format!(
            "30 answers with a true quality and an unrelated style, both standard normal. Honest raters prefer the better answer with probability σ(Δquality); a fraction f of raters uses σ(Δquality + {bias}·Δstyle). A Bradley–Terry reward model is fitted to the pooled preferences — in expectation, i.e. with unlimited labels. **Notice:** as f grows, the reward tracks style more and quality less (at f = {biased_fraction}: ρ = {at_true:.2} with quality, {at_style:.2} with style). Systematic bias does not average out, however many labels you collect. Two honest raters agree on {:.0}% of pairs. *Teaching assumptions (our addition, not from the paper):* the bias strength {bias}, the temperature 1 and the normal distributions.",
            agreement * 100.0
        ),
    }
}

/// feedback-types: recovering hidden utilities under a label budget with four feedback formats.
pub fn feedback_types(seed: u64) -> Simulation {
    const ITEMS: usize = 50;
    const REPS: usize = 20;
    const COST_COMPARISON: usize = 1;
    const COST_RATING: usize = 2;
    const COST_CORRECTION: usize = 5;
    let budgets = [50usize, 100, 200, 300, 400, 600, 800];
    let methods = [
        "comparisons (cost 1)",
        "calibrated 7-point ratings (cost 2)",
        "ratings, raters differ (cost 2)",
        "corrections (cost 5)",
    ];
    let mut totals = vec![vec![0.0; budgets.len()]; methods.len()];
    let mut rng = StdRng::seed_from_u64(seed);
    let noise = Normal::new(0.0, 0.7).expect("valid normal");
    let fine = Normal::new(0.0, 0.2).expect("valid normal");
    for _ in 0..REPS {
        let u = normals(&mut rng, ITEMS);
        // Ten raters with their own offset and scale for the drifting-ratings format.
        let raters: Vec<(f64, f64)> = (0..10)
            .map(|_| (StandardNormal.sample(&mut rng), rng.random_range(0.5..1.5)))
            .collect();
        for (b, &budget) in budgets.iter().enumerate() {
            // Comparisons of random pairs, outcome drawn from σ(Δu).
            let comps: Vec<(usize, usize, f64)> = (0..budget / COST_COMPARISON)
                .map(|_| {
                    let i = rng.random_range(0..ITEMS);
                    let mut j = rng.random_range(0..ITEMS - 1);
                    if j >= i {
                        j += 1;
                    }
                    let won = rng.random::<f64>() < sigmoid(u[i] - u[j]);
                    (i, j, if won { 1.0 } else { 0.0 })
                })
                .collect();
            totals[0][b] += spearman(&bradley_terry(ITEMS, &comps), &u);
            // Ratings: mean of the ratings each item received; unrated items sit at the middle.
            let rate = |drift: bool, rng: &mut StdRng| {
                let mut sum = vec![0.0; ITEMS];
                let mut count = vec![0.0; ITEMS];
                for _ in 0..budget / COST_RATING {
                    let i = rng.random_range(0..ITEMS);
                    let (offset, scale) = if drift {
                        raters[rng.random_range(0..raters.len())]
                    } else {
                        (0.0, 1.0)
                    };
                    let x: f64 = 4.0 + scale * u[i] + offset + noise.sample(rng);
                    sum[i] += x.round().clamp(1.0, 7.0);
                    count[i] += 1.0;
                }
                let est: Vec<f64> = (0..ITEMS)
                    .map(|i| {
                        if count[i] > 0.0 {
                            sum[i] / count[i]
                        } else {
                            4.0
                        }
                    })
                    .collect();
                spearman(&est, &u)
            };
            totals[1][b] += rate(false, &mut rng);
            totals[2][b] += rate(true, &mut rng);
            // Corrections: an expert says how good an answer really is, nearly exactly.
            let mut est = vec![0.0; ITEMS];
            for _ in 0..budget / COST_CORRECTION {
                let i = rng.random_range(0..ITEMS);
                est[i] = u[i] + fine.sample(&mut rng);
            }
            totals[3][b] += spearman(&est, &u);
        }
    }
    let means: Vec<Vec<f64>> = totals
        .iter()
        .map(|m| m.iter().map(|t| t / REPS as f64).collect())
        .collect();
    let series = methods
        .iter()
        .zip(&means)
        .map(|(name, m)| Series {
            name: name.to_string(),
            points: budgets
                .iter()
                .zip(m)
                .map(|(b, c)| (*b as f64, *c))
                .collect(),
            line: true,
        })
        .collect();
    Simulation {
        title: "Recovering 50 hidden utilities under a label budget".into(),
        // The costs per label are ours, not the paper's: say so on the plot itself.
        x_label: format!(
            "label budget (cost units; costs {COST_COMPARISON} : {COST_RATING} : {COST_CORRECTION} are our assumption)"
        ),
        y_label: "rank correlation with true utility".into(),
        y_range: Some((0.0, 1.3)),
        series,
        parameters: json!({"items": ITEMS, "repetitions": REPS, "budgets": budgets, "costs": {"comparison": COST_COMPARISON, "rating": COST_RATING, "correction": COST_CORRECTION}, "rating_noise_sd": 0.7, "correction_noise_sd": 0.2, "raters": 10, "seed": seed}),
        results: json!({"methods": methods, "mean_rank_correlation": means}),
        caption: format!(
            "50 answers with hidden utilities; each format spends the same budget ({REPS} repetitions averaged). Comparisons say only which of two is better (Bradley–Terry fit); calibrated ratings give a 1–7 score with noise; 'raters differ' adds a per-rater offset and scale; corrections reveal an answer's utility almost exactly but cover few answers. **Notice:** the ranking of formats changes with the budget, and ratings lose much of their advantage when raters use the scale differently. *Teaching assumptions (our addition, not from the paper):* the costs 1 : {COST_RATING} : {COST_CORRECTION}, the noise levels and the rater spread — change them and the winner changes, which is the paper's point about a fundamental trade-off."
        ),
    }
}

/// E[Z] and E[Z²] for the maximum Z of n independent standard normals (numerical integration).
fn max_normal_moments(n: u64) -> (f64, f64) {
    let (lo, hi, steps) = (-12.0, 12.0, 24_000);
    let h = (hi - lo) / steps as f64;
    let (mut m1, mut m2) = (0.0, 0.0);
    for k in 0..=steps {
        let z = lo + k as f64 * h;
        let cdf = 0.5 * (1.0 + libm::erf(z / std::f64::consts::SQRT_2));
        let pdf = (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let density = n as f64 * pdf * cdf.powf(n as f64 - 1.0);
        let w = if k == 0 || k == steps { 0.5 } else { 1.0 };
        m1 += w * z * density * h;
        m2 += w * z * z * density * h;
    }
    (m1, m2)
}

/// Least-squares fit of y = d(α − βd) through the origin. Returns (α, β, R²).
pub fn fit_gao(d: &[f64], y: &[f64]) -> (f64, f64, f64) {
    // Features x1 = d, x2 = −d²: y = α x1 + β x2.
    let (mut s11, mut s12, mut s22, mut t1, mut t2) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (&d, &y) in d.iter().zip(y) {
        let (x1, x2) = (d, -d * d);
        s11 += x1 * x1;
        s12 += x1 * x2;
        s22 += x2 * x2;
        t1 += x1 * y;
        t2 += x2 * y;
    }
    let det = s11 * s22 - s12 * s12;
    let alpha = (t1 * s22 - t2 * s12) / det;
    let beta = (s11 * t2 - s12 * t1) / det;
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let ss_res: f64 = d
        .iter()
        .zip(y)
        .map(|(&d, &y)| (y - d * (alpha - beta * d)).powi(2))
        .sum();
    let ss_tot: f64 = y.iter().map(|&y| (y - mean).powi(2)).sum();
    (alpha, beta, 1.0 - ss_res / ss_tot)
}

/// reward-hacking: best-of-n against proxy = q + e while the gold reward is q − λe².
pub fn reward_hacking(lambda: f64) -> Simulation {
    let ns: Vec<u64> = (0..=16).map(|k| 1u64 << k).collect();
    let mut d = Vec::new();
    let mut proxy = Vec::new();
    let mut gold = Vec::new();
    for &n in &ns {
        let (m1, m2) = max_normal_moments(n);
        // The chosen sample's proxy is √2·Z; given it, q and e are each N(proxy/2, 1/2).
        // Gold gain over n = 1: E[Z]/√2 − λ(E[Z²] − 1)/2.
        d.push(
            ((n as f64).ln() - (n as f64 - 1.0) / n as f64)
                .max(0.0)
                .sqrt(),
        );
        proxy.push(std::f64::consts::SQRT_2 * m1);
        gold.push(m1 / std::f64::consts::SQRT_2 - lambda * (m2 - 1.0) / 2.0);
    }
    let (alpha, beta, r2) = fit_gao(&d, &gold);
    let peak = gold
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, g)| (ns[i], *g))
        .expect("non-empty");
    let max_err = d
        .iter()
        .zip(&gold)
        .map(|(&d, &g)| (g - d * (alpha - beta * d)).abs())
        .fold(0.0, f64::max);
    let dmax = d.last().copied().unwrap_or(1.0);
    let fit_curve: Vec<(f64, f64)> = (0..=60)
        .map(|k| {
            let x = dmax * k as f64 / 60.0;
            (x, x * (alpha - beta * x))
        })
        .collect();
    Simulation {
        title: "Best-of-n against a proxy: the gold reward rises, then falls".into(),
        x_label: "d = sqrt(KL(best-of-n || initial))".into(),
        y_label: "reward gain over n = 1".into(),
        y_range: None,
        series: vec![
            Series { name: "proxy reward (what is optimised)".into(), points: d.iter().copied().zip(proxy.iter().copied()).collect(), line: true },
            Series { name: "gold reward (what we want)".into(), points: d.iter().copied().zip(gold.iter().copied()).collect(), line: false },
            Series { name: format!("fit d(α − βd): α = {alpha:.2}, β = {beta:.2}"), points: fit_curve, line: true },
        ],
        parameters: json!({"lambda": lambda, "n": ns}),
        results: json!({
            "d": d, "proxy": proxy, "gold": gold,
            "fit": {"alpha": alpha, "beta": beta, "r2": r2, "max_abs_error": max_err},
            "gold_peak": {"n": peak.0, "gain": peak.1},
        }),
        caption: format!(
            "Candidate answers have a true quality q and an exploitable feature e (both standard normal). The proxy reward model scores q + e; the gold reward — standing in for what people actually want — is q − {lambda}·e². Picking the best of n by the proxy (n = 1 … 65,536, exact expectations) pushes the proxy up without end, while the gold reward peaks at n = {} (gain {:.2}) and then falls. **Notice:** the gold curve follows Gao et al.'s form d(α − βd) (α = {alpha:.2}, β = {beta:.2}, R² = {r2:.4}). d is the usual upper bound sqrt(ln n − (n−1)/n) on best-of-n's KL. *Teaching assumptions (our addition, not from the paper):* the additive proxy, λ = {lambda} and the normal distributions.",
            peak.0, peak.1
        ),
    }
}

/// Proxy rewards of the ten arms; the second is only 3% worse than the first.
pub const BANDIT_REWARDS: [f64; 10] = [1.0, 0.97, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.0];
pub const BANDIT_STEPS: usize = 5000;
const BANDIT_LR: f64 = 2.0;

fn softmax(theta: &[f64]) -> Vec<f64> {
    let m = theta.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = theta.iter().map(|t| (t - m).exp()).collect();
    let s: f64 = w.iter().sum();
    w.iter().map(|x| x / s).collect()
}

pub fn entropy(p: &[f64]) -> f64 {
    -p.iter()
        .filter(|&&x| x > 0.0)
        .map(|x| x * x.ln())
        .sum::<f64>()
}

/// The KL-regularised optimum π* ∝ π_ref·exp(r/β) for a uniform reference.
pub fn kl_optimum(beta: f64) -> Vec<f64> {
    let theta: Vec<f64> = BANDIT_REWARDS.iter().map(|r| r / beta).collect();
    softmax(&theta)
}

/// Exact policy gradient on E[r] − β·KL(π‖uniform); returns the entropy every few steps and the final policy.
pub fn bandit_policy_gradient(beta: f64) -> (Vec<(f64, f64)>, Vec<f64>) {
    let k = BANDIT_REWARDS.len();
    let log_ref = (1.0 / k as f64).ln();
    let mut theta = vec![0.0; k];
    let mut trace = Vec::new();
    for step in 0..=BANDIT_STEPS {
        let p = softmax(&theta);
        if step % 50 == 0 {
            trace.push((step as f64, entropy(&p)));
        }
        if step == BANDIT_STEPS {
            return (trace, p);
        }
        let g: Vec<f64> = (0..k)
            .map(|a| BANDIT_REWARDS[a] - beta * (p[a].ln() - log_ref))
            .collect();
        let avg: f64 = (0..k).map(|a| p[a] * g[a]).sum();
        for a in 0..k {
            theta[a] += BANDIT_LR * p[a] * (g[a] - avg);
        }
    }
    unreachable!("the loop returns at the last step")
}

/// robust-rl: entropy collapse without a KL penalty on a 10-armed bandit.
pub fn robust_rl(beta: f64) -> Simulation {
    let mut betas = vec![0.0, beta, 0.2];
    betas.sort_by(f64::total_cmp);
    betas.dedup();
    let mut series = Vec::new();
    let mut results = Vec::new();
    for &b in &betas {
        let (trace, p) = bandit_policy_gradient(b);
        let final_entropy = entropy(&p);
        let optimum = (b > 0.0).then(|| entropy(&kl_optimum(b)));
        results.push(json!({"beta": b, "final_entropy": final_entropy, "closed_form_entropy": optimum, "p_second_arm": p[1], "final_policy": p}));
        series.push(Series {
            name: format!("β = {b}"),
            points: trace,
            line: true,
        });
    }
    for &b in betas.iter().filter(|b| **b > 0.0) {
        let e = entropy(&kl_optimum(b));
        series.push(Series {
            name: format!("optimum π* for β = {b}"),
            points: vec![(0.0, e), (BANDIT_STEPS as f64, e)],
            line: false,
        });
    }
    let start = (BANDIT_REWARDS.len() as f64).ln();
    let collapsed = results.first().cloned().unwrap_or(Value::Null);
    Simulation {
        title: "Policy entropy under RL, with and without a KL penalty".into(),
        x_label: "policy-gradient step".into(),
        y_label: "entropy of the policy (nats)".into(),
        // Head-room above the curves for the legend.
        y_range: Some((0.0, start * 1.45)),
        series,
        parameters: json!({"rewards": BANDIT_REWARDS, "reference": "uniform", "learning_rate": BANDIT_LR, "steps": BANDIT_STEPS, "betas": betas}),
        results: json!({"runs": results, "initial_entropy": start}),
        caption: format!(
            "Exact policy gradient on a 10-armed bandit with proxy rewards {:?}, starting from the uniform policy (entropy {start:.2}), objective E[r] − β·KL(π‖uniform), learning rate {BANDIT_LR}, {BANDIT_STEPS} steps. **Notice:** at β = 0 the entropy collapses to {:.3} and the arm that is only 3% worse ends with probability {:.2}% — mode collapse. With β > 0 the policy settles at the closed-form optimum π* ∝ π_ref·exp(r/β) (the markers), a standard result of KL-regularised RL (e.g. Korbak et al. 2022; Rafailov et al. 2023). Casper et al. discuss mode collapse under distributional challenges (§3.3.3). *Teaching assumptions (our addition, not from the paper):* the reward values, the step size and the number of steps.",
            BANDIT_REWARDS,
            collapsed["final_entropy"].as_f64().unwrap_or(f64::NAN),
            collapsed["p_second_arm"].as_f64().unwrap_or(f64::NAN) * 100.0
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_basics() {
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert_eq!(ranks(&[1.0, 1.0, 2.0]), vec![1.5, 1.5, 3.0]);
    }

    #[test]
    fn reward_hacking_matches_gao_form() {
        let sim = reward_hacking(0.35);
        let fit = &sim.results["fit"];
        let (a, b, r2) = (
            fit["alpha"].as_f64().unwrap(),
            fit["beta"].as_f64().unwrap(),
            fit["r2"].as_f64().unwrap(),
        );
        assert!((a - 1.07).abs() < 0.01, "alpha {a}");
        assert!((b - 0.34).abs() < 0.01, "beta {b}");
        assert!(r2 > 0.99, "r2 {r2}");
        assert!(fit["max_abs_error"].as_f64().unwrap() < 0.015);
        assert_eq!(sim.results["gold_peak"]["n"], 32);
        let proxy = sim.results["proxy"].as_array().unwrap();
        assert!((proxy.last().unwrap().as_f64().unwrap() - 6.07).abs() < 0.05);
        let gold = sim.results["gold"].as_array().unwrap();
        assert!(gold.last().unwrap().as_f64().unwrap() < 0.0);
    }

    #[test]
    fn robust_rl_matches_closed_form_for_positive_beta() {
        for beta in [0.05, 0.2] {
            let (_, p) = bandit_policy_gradient(beta);
            let got = entropy(&p);
            let want = entropy(&kl_optimum(beta));
            assert!(
                (got - want).abs() / want < 0.01,
                "beta {beta}: {got} vs {want}"
            );
        }
        let (_, p) = bandit_policy_gradient(0.0);
        assert!(entropy(&p) < 0.02);
        assert!(p[1] < 0.002, "second arm keeps {}", p[1]);
        assert!((entropy(&kl_optimum(0.2)) - 1.27).abs() < 0.01);
    }

    #[test]
    fn misaligned_humans_bias_moves_reward_to_style() {
        let sim = misaligned_humans(0.3, 2.0, 7);
        let t = sim.results["corr_true"].as_array().unwrap();
        let s = sim.results["corr_style"].as_array().unwrap();
        assert!(t[0].as_f64().unwrap() > 0.99);
        assert!(t[7].as_f64().unwrap() < t[0].as_f64().unwrap() - 0.2);
        assert!(s[7].as_f64().unwrap() > s[0].as_f64().unwrap() + 0.3);
        let agreement = sim.results["honest_agreement"].as_f64().unwrap();
        assert!((0.55..0.8).contains(&agreement), "{agreement}");
    }

    #[test]
    fn feedback_types_improve_with_budget_and_are_deterministic() {
        let a = feedback_types(3);
        let b = feedback_types(3);
        assert_eq!(a.results, b.results);
        for m in a.results["mean_rank_correlation"].as_array().unwrap() {
            let m = m.as_array().unwrap();
            assert!(
                m.last().unwrap().as_f64().unwrap() > m[0].as_f64().unwrap(),
                "{m:?}"
            );
        }
    }
}
