//! Calibration profiles: measured seconds per occurrence of an operator as a piecewise-linear curve of one
//! step statistic, used instead of the roofline within the measured range (`docs/calibration.md`).

use super::StepStats;
use crate::plan::{Chip, ProfilePoint, PROFILE_STATS};

/// A piecewise-linear curve of measured seconds per occurrence against one step statistic.
#[derive(Debug, Clone)]
pub struct Curve {
    pub(super) stat: usize,
    pub(super) xs: Vec<f64>,
    pub(super) ys: Vec<f64>,
}

impl Curve {
    fn x(&self, s: &StepStats) -> f64 {
        match self.stat {
            0 => s.tokens,
            1 => s.sampled,
            2 => s.attn_pairs,
            _ => s.kv_read_tokens,
        }
    }

    /// Measured seconds at the step's statistic: exact at a measured point, linear between two, `None` outside
    /// the measured range (the roofline applies there).
    pub fn at(&self, s: &StepStats) -> Option<f64> {
        let x = self.x(s);
        let n = self.xs.len();
        if n == 0 || !(x >= self.xs[0] && x <= self.xs[n - 1]) {
            return None;
        }
        let j = self.xs.partition_point(|&v| v < x);
        if self.xs[j] == x {
            return Some(self.ys[j]);
        }
        let (x0, x1, y0, y1) = (self.xs[j - 1], self.xs[j], self.ys[j - 1], self.ys[j]);
        Some(y0 + (y1 - y0) * (x - x0) / (x1 - x0))
    }
}

/// The profile points of `chip` for `operator` of `model` at tensor-parallel degree `tp`: the model's own
/// measurements if it has any, else the model-independent ones.
pub(super) fn profile_curve(chip: &Chip, model: &str, operator: &str, tp: u64) -> Option<Curve> {
    let pick = |m: &str| -> Vec<&ProfilePoint> {
        chip.profile
            .iter()
            .filter(|p| p.operator == operator && p.tp == tp && p.model == m)
            .collect()
    };
    let mut pts = pick(model);
    if pts.is_empty() {
        pts = pick("");
    }
    if pts.is_empty() {
        return None;
    }
    pts.sort_by(|a, b| a.x.total_cmp(&b.x));
    let stat = PROFILE_STATS
        .iter()
        .position(|s| *s == pts[0].stat)
        .unwrap_or(0);
    Some(Curve {
        stat,
        xs: pts.iter().map(|p| p.x).collect(),
        ys: pts.iter().map(|p| p.seconds).collect(),
    })
}
