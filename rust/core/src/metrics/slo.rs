//! Service-level objectives: whether a request meets its run's thresholds, and whether a run meets its
//! percentile targets.

use super::stats::Metrics;
use crate::engine::Req;
use crate::plan::{Metric, Slo};

/// Whether a finished request meets every threshold of `slos` (a one-token request has no TPOT to miss).
pub(crate) fn request_meets(slos: &[Slo], req: &Req, tpot_mean: Option<f64>) -> bool {
    slos.iter().all(|slo| {
        let v = match slo.metric {
            Metric::Ttft => Some(req.first_token - req.arrival),
            Metric::Tpot => tpot_mean,
            Metric::E2e => Some(req.finish - req.arrival),
            Metric::Queue => Some(req.first_sched - req.arrival),
        };
        v.is_none_or(|v| v <= slo.threshold_s)
    })
}

/// Whether every percentile target of `slos` holds over all requests, each of the `rejected` ones counting
/// as infinitely late (and a one-token request having no TPOT); `None` when the run has no SLO.
pub(crate) fn run_passes(slos: &[Slo], metrics: &Metrics, rejected: usize) -> Option<bool> {
    (!slos.is_empty()).then(|| {
        slos.iter().all(|slo| {
            let mut vals = metrics.of(slo.metric).to_vec();
            vals.extend(std::iter::repeat_n(f64::INFINITY, rejected));
            match slo.percentile {
                None => vals.iter().all(|v| *v <= slo.threshold_s),
                Some(p) => {
                    super::quantile(&mut vals, p / 100.0).is_none_or(|v| v <= slo.threshold_s)
                }
            }
        })
    })
}
