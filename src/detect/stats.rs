//! Small statistics used by the detectors, kept here so each formula is written once.

/// Poisson deviation on the variance-stabilised square-root scale: for counts drawn from
/// Poisson(expected), `2(√observed − √expected)` is close to a standard normal, so the same
/// threshold means the same false-alarm rate at 3 comments a minute or at 3,000.
pub fn poisson_z(observed: f64, expected: f64) -> f64 {
    2.0 * (observed.max(0.0).sqrt() - expected.max(0.0).sqrt())
}

/// Wilson score interval for `successes` out of `trials` at normal quantile `z`.
/// Unlike the raw ratio (or the Wald interval) it stays honest at small counts.
pub fn wilson_interval(successes: f64, trials: f64, z: f64) -> (f64, f64) {
    if trials <= 0.0 {
        return (0.0, 1.0);
    }
    let p = successes / trials;
    let z2 = z * z;
    let denom = 1.0 + z2 / trials;
    let centre = (p + z2 / (2.0 * trials)) / denom;
    let half = z * ((p * (1.0 - p) / trials) + z2 / (4.0 * trials * trials)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Per-step smoothing factor of an exponentially weighted average with this half-life.
pub fn ewma_alpha(half_life_steps: f64) -> f64 {
    1.0 - 0.5f64.powf(1.0 / half_life_steps.max(1e-9))
}

/// Rounds for display in alerts, so output stays short and stable.
pub fn round_to(value: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (value * f).round() / f
}

/// Lower median of a small sample: with two values, the smaller, so one earlier day that
/// was itself an incident does not inflate what "normal" means.
pub fn lower_median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    Some(values[(values.len() - 1) / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_brackets_the_ratio_and_narrows_with_more_trials() {
        let (lo_small, hi_small) = wilson_interval(5.0, 10.0, 1.96);
        let (lo_big, hi_big) = wilson_interval(500.0, 1000.0, 1.96);
        assert!(lo_small < 0.5 && hi_small > 0.5);
        assert!(lo_big > lo_small && hi_big < hi_small);
        // Known value: 5/10 at 95% is about [0.237, 0.763].
        assert!((lo_small - 0.2366).abs() < 1e-3, "{lo_small}");
    }

    #[test]
    fn poisson_z_is_calm_at_small_counts() {
        // 6 seen where 2 expected is a 3x ratio but not significant.
        assert!(poisson_z(6.0, 2.0) < 2.5);
        // 300 where 100 expected is.
        assert!(poisson_z(300.0, 100.0) > 10.0);
    }

    #[test]
    fn ewma_alpha_halves_weight_after_half_life() {
        let a = ewma_alpha(10.0);
        assert!(((1.0 - a).powi(10) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn lower_median_prefers_the_smaller_middle() {
        assert_eq!(lower_median(&mut [3.0, 1.0]), Some(1.0));
        assert_eq!(lower_median(&mut [5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(lower_median(&mut []), None);
    }
}
