//! How far a topic's own quiet windows stray above their expectation: the line a window's
//! deviation must cross before it is news.
//!
//! Real comment volume is bursty far beyond Poisson noise: a retweet storm can put forty
//! comments into a minute on a topic that averages two, several times a day, and none of
//! those is a crisis for that topic. A fixed z threshold either fires on every such burst or
//! sleeps through a real surge on a calm topic. So each topic keeps the distribution of its
//! own deviations (the `z` of every window it has measured, weighted with an exponential
//! decay so the last week counts most) and extrapolates its upper tail: above a high
//! percentile `u` (the 95th, and the 99th once twenty windows lie above it), exceedances of
//! a light- or exponential-tailed distribution are close to exponential with the mean
//! excess `m` seen above `u` (peaks over threshold, as in extreme-value streaming
//! detectors), so the level exceeded with probability `p` is `u + m · ln((1 − q) / p)`.
//! When the tail is a bump rather than a slope (storms of one typical size), the fit from
//! the 95th percentile overshoots far beyond the storms; the fit from the 99th does not, so
//! the lower of the two lines counts. With `p` at one in ten thousand windows, a topic whose
//! bursts are routine sets its own bar just above them; a Poisson-quiet topic's bar stays
//! below `min_z`, which then decides as before.
//!
//! Memory is a fixed histogram per window length (600 bins of 0.2 from −10), so a topic
//! costs a few kilobytes whatever its history.

use serde::{Deserialize, Serialize};

const LOW: f64 = -10.0;
const STEP: f64 = 0.2;
const BINS: usize = 600;
/// Where the body of the distribution may end, the tail being extrapolated beyond it: from
/// the 95th percentile always, and from the 99th once `MIN_EXCEEDANCES` (weighted) windows
/// lie above it; the lower of the two lines counts.
const BODY_QUANTILES: [f64; 2] = [0.95, 0.99];
const MIN_EXCEEDANCES: f64 = 20.0;
/// Probability, per measured window, that a quiet topic crosses the line.
const FALSE_ALARM: f64 = 1e-4;
/// Samples between recomputations of the line (a scan of the histogram).
const REFRESH_EVERY: u64 = 15;

/// Decayed histogram of one window length's deviations, and the line it implies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tail {
    bins: Vec<f64>,
    /// Weight of the next sample: grows by `1/decay` per sample instead of decaying every
    /// bin, and everything is rescaled when it gets large.
    weight: f64,
    growth: f64,
    samples: u64,
    min_samples: u64,
    line: Option<f64>,
}

impl Tail {
    /// `half_life` and `min_samples` in samples (one per closed bucket).
    pub fn new(half_life: f64, min_samples: u64) -> Self {
        Self {
            bins: vec![0.0; BINS],
            weight: 1.0,
            growth: 0.5f64.powf(-1.0 / half_life.max(1.0)),
            samples: 0,
            min_samples: min_samples.max(REFRESH_EVERY),
            line: None,
        }
    }

    /// The deviation a window must reach to stand out from this topic's own bursts; `None`
    /// until enough windows have been seen.
    pub fn line(&self) -> Option<f64> {
        self.line
    }

    /// Windows measured so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    pub fn add(&mut self, z: f64) {
        if !z.is_finite() {
            return;
        }
        let i = (((z - LOW) / STEP).floor().max(0.0) as usize).min(BINS - 1);
        self.bins[i] += self.weight;
        self.weight *= self.growth;
        if self.weight > 1e100 {
            let scale = 1.0 / self.weight;
            self.bins.iter_mut().for_each(|b| *b *= scale);
            self.weight = 1.0;
        }
        self.samples += 1;
        if self.samples >= self.min_samples && self.samples % REFRESH_EVERY == 0 {
            self.line = self.extrapolate();
        }
    }

    fn extrapolate(&self) -> Option<f64> {
        let total: f64 = self.bins.iter().sum();
        if total <= 0.0 {
            return None;
        }
        // Samples' weights relative to the newest: how many windows the histogram is worth.
        let effective = total / (self.weight / self.growth);
        BODY_QUANTILES
            .into_iter()
            .filter(|q| effective * (1.0 - q) >= MIN_EXCEEDANCES || *q == BODY_QUANTILES[0])
            .map(|q| self.extrapolate_from(q, total))
            .min_by(f64::total_cmp)
    }

    /// The line extrapolated from the body ending at quantile `body`.
    fn extrapolate_from(&self, body: f64, total: f64) -> f64 {
        let mut below = 0.0;
        let mut body_end = BINS - 1;
        for (i, b) in self.bins.iter().enumerate() {
            below += b;
            if below >= body * total {
                body_end = i;
                break;
            }
        }
        let edge = LOW + (body_end + 1) as f64 * STEP;
        let (mut mass, mut excess) = (0.0, 0.0);
        for (i, b) in self.bins.iter().enumerate().skip(body_end + 1) {
            let centre = LOW + (i as f64 + 0.5) * STEP;
            mass += b;
            excess += b * (centre - edge);
        }
        let mean_excess = if mass > 0.0 { excess / mass } else { 0.0 };
        edge + mean_excess * ((1.0 - body) / FALSE_ALARM).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::stats::poisson_z;
    use crate::detect::testing::Noise;

    #[test]
    fn a_poisson_topic_keeps_its_line_near_the_normal_tail() {
        let mut t = Tail::new(10_000.0, 360);
        let mut noise = Noise::new(4);
        for _ in 0..5_000 {
            let x = noise.poisson(20.0);
            t.add(poisson_z(f64::from(x), 20.0));
        }
        let line = t.line().expect("enough samples");
        // A normal's 1-in-10,000 point is 3.7; the exponential extrapolation of a normal
        // tail overshoots a little.
        assert!((3.0..5.0).contains(&line), "{line}");
    }

    #[test]
    fn a_bursty_topic_raises_its_own_line_and_forgets_slowly() {
        let mut t = Tail::new(2_000.0, 360);
        let mut noise = Noise::new(5);
        for i in 0..5_000u32 {
            // Twice a day (every 720 samples) a burst ten times the level.
            let mean = if i % 720 < 3 { 200.0 } else { 20.0 };
            let x = noise.poisson(mean);
            t.add(poisson_z(f64::from(x), 20.0));
        }
        let bursty = t.line().expect("enough samples");
        assert!(bursty > 12.0, "{bursty}");
        for _ in 0..20_000 {
            let x = noise.poisson(20.0);
            t.add(poisson_z(f64::from(x), 20.0));
        }
        let calm = t.line().expect("enough samples");
        assert!(calm < 6.0, "ten half-lives of calm: {calm}");
    }

    #[test]
    fn says_nothing_before_enough_samples_and_ignores_nan() {
        let mut t = Tail::new(100.0, 100);
        for _ in 0..99 {
            t.add(0.5);
        }
        t.add(f64::NAN);
        assert!(t.line().is_none());
    }
}
