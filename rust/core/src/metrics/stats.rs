//! Per-run statistics, computed in the core so that a run can be summarised without keeping a row per
//! request (the `summary` table; `docs/results.md`).

use super::{quantiles, slo};
use crate::engine::{Req, Status};
use crate::plan::{Metric, Slo};

/// Per-run statistics, one entry per run.
#[derive(Default)]
pub struct RunStatsRows {
    pub run: Vec<u32>,
    pub requests: Vec<u64>,
    pub rejected_queue_full: Vec<u64>,
    pub rejected_timeout: Vec<u64>,
    pub first_arrival_s: Vec<f64>,
    pub last_departure_s: Vec<f64>,
    pub prompt_tokens: Vec<u64>,
    pub output_tokens: Vec<u64>,
    pub slo_met_requests: Vec<u64>,
    pub preemptions: Vec<u64>,
    /// (name, values per run) for every quantile column, in output order.
    pub quantiles: Vec<(String, Vec<Option<f64>>)>,
    pub slo_pass: Vec<Option<bool>>,
    /// (name, values per row) of the mean columns (per-class statistics only; empty per run, whose
    /// table keeps its columns).
    pub means: Vec<(String, Vec<Option<f64>>)>,
}

/// Per (run, class) statistics: the per-run statistics of each class's requests, judged by the class's
/// own SLO (or the run's), with the means of TTFT, TPOT and end-to-end latency.
#[derive(Default)]
pub struct ClassStatsRows {
    /// The class, numbered across the plan's workloads in order.
    pub class: Vec<u32>,
    pub priority: Vec<u32>,
    /// Prompt tokens of the class's finished requests found in a prefix cache instead of computed.
    pub cached_tokens: Vec<u64>,
    pub stats: RunStatsRows,
}

/// The metrics whose means the per-class statistics carry (indices into `Metrics::values`).
const MEANS: [(&str, usize); 3] = [("ttft_mean_s", 0), ("tpot_mean_s", 1), ("e2e_mean_s", 2)];

/// The quantile columns of the summary: (metric, percentiles).
pub const SUMMARY_QUANTILES: [(&str, &[u32]); 6] = [
    ("ttft", &[50, 90, 99]),
    ("tpot", &[50, 90, 99]),
    ("e2e", &[50, 90, 99]),
    ("queue", &[50, 90, 99]),
    ("kv_transfer", &[50, 99]),
    ("kv_wait", &[99]),
];

/// A run's per-metric values over its finished requests, in `SUMMARY_QUANTILES` order.
#[derive(Default)]
pub(crate) struct Metrics {
    values: [Vec<f64>; 6],
}

impl Metrics {
    fn add(&mut self, req: &Req, tpot_mean: Option<f64>) {
        let v = &mut self.values;
        v[0].push(req.first_token - req.arrival);
        if let Some(t) = tpot_mean {
            v[1].push(t);
        }
        v[2].push(req.finish - req.arrival);
        v[3].push(req.first_sched - req.arrival);
        if req.transfers > 0 {
            v[4].push(req.kv_transfer_s);
            v[5].push(req.kv_wait_s);
        }
    }

    /// The values of an SLO metric.
    pub fn of(&self, metric: Metric) -> &[f64] {
        let idx = match metric {
            Metric::Ttft => 0,
            Metric::Tpot => 1,
            Metric::E2e => 2,
            Metric::Queue => 3,
        };
        &self.values[idx]
    }
}

/// What a run's statistics are made of, tallied request by request.
pub(crate) struct RunTally {
    metrics: Metrics,
    finished: u64,
    queue_full: u64,
    timed_out: u64,
    slo_met: u64,
    preemptions: u64,
    prompt_tokens: u64,
    output_tokens: u64,
    first_arrival: f64,
    last_departure: f64,
}

impl RunTally {
    pub fn new() -> RunTally {
        RunTally {
            metrics: Metrics::default(),
            finished: 0,
            queue_full: 0,
            timed_out: 0,
            slo_met: 0,
            preemptions: 0,
            prompt_tokens: 0,
            output_tokens: 0,
            first_arrival: f64::INFINITY,
            last_departure: f64::NEG_INFINITY,
        }
    }

    /// Counts a request that left the system; `slo_met` says whether it met its run's thresholds.
    pub fn add(&mut self, req: &Req, tpot_mean: Option<f64>, slo_met: bool) {
        self.first_arrival = self.first_arrival.min(req.arrival);
        self.last_departure = self.last_departure.max(req.finish);
        match req.status {
            Status::Finished => {
                self.finished += 1;
                self.prompt_tokens += req.prompt as u64;
                self.output_tokens += req.output as u64;
                self.metrics.add(req, tpot_mean);
            }
            Status::QueueFull => self.queue_full += 1,
            Status::Timeout => self.timed_out += 1,
        }
        self.slo_met += slo_met as u64;
        self.preemptions += req.preemptions as u64;
    }

    /// Appends one class's statistics, means included (`slos`: the targets its requests are judged by).
    pub fn push_class_into(self, run: u32, slos: &[Slo], stats: &mut RunStatsRows) {
        for (col, (name, m)) in MEANS.iter().enumerate() {
            let v = &self.metrics.values[*m];
            let mean = (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
            if stats.means.len() <= col {
                stats.means.push((name.to_string(), Vec::new()));
            }
            stats.means[col].1.push(mean);
        }
        self.push_into(run, slos, stats);
    }

    /// Appends the run's statistics (`run` is its index; `slos` its objectives) to `stats`.
    pub fn push_into(mut self, run: u32, slos: &[Slo], stats: &mut RunStatsRows) {
        let rejected = (self.queue_full + self.timed_out) as usize;
        let slo_pass = slo::run_passes(slos, &self.metrics, rejected);
        stats.run.push(run);
        stats.requests.push(self.finished);
        stats.rejected_queue_full.push(self.queue_full);
        stats.rejected_timeout.push(self.timed_out);
        stats.first_arrival_s.push(self.first_arrival);
        stats.last_departure_s.push(self.last_departure);
        stats.prompt_tokens.push(self.prompt_tokens);
        stats.output_tokens.push(self.output_tokens);
        stats.slo_met_requests.push(self.slo_met);
        stats.preemptions.push(self.preemptions);
        stats.slo_pass.push(slo_pass);
        let mut col = 0;
        for (m, (name, pcts)) in SUMMARY_QUANTILES.iter().enumerate() {
            let values = quantiles(
                &mut self.metrics.values[m],
                pcts.iter().map(|p| *p as f64 / 100.0),
            );
            for (p, q) in pcts.iter().zip(values) {
                if stats.quantiles.len() <= col {
                    stats.quantiles.push((format!("{name}_p{p}_s"), Vec::new()));
                }
                stats.quantiles[col].1.push(q);
                col += 1;
            }
        }
    }
}
