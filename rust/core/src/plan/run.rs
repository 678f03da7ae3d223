//! A run: one system serving one model under one workload, with its routers, the outputs it keeps and
//! its service-level objectives.

use crate::error::{plan_err, PlanResult};

/// A latency an SLO bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Ttft,
    Tpot,
    E2e,
    Queue,
}

impl Metric {
    /// The names a plan spells metrics with (`slos.metric`).
    pub const NAMES: [&'static str; 4] = ["ttft", "tpot", "e2e", "queue"];

    /// The metric named `name`; any other name is an error.
    pub fn parse(name: &str) -> PlanResult<Metric> {
        match name {
            "ttft" => Ok(Metric::Ttft),
            "tpot" => Ok(Metric::Tpot),
            "e2e" => Ok(Metric::E2e),
            "queue" => Ok(Metric::Queue),
            other => Err(plan_err!(
                "unknown metric '{}', expected one of {:?}",
                other,
                Metric::NAMES
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Slo {
    pub metric: Metric,
    pub percentile: Option<f64>,
    pub threshold_s: f64,
    /// The traffic class (an index into the run's workload's classes) the target is for; `None`: the run's,
    /// which also judges the requests of every class without targets of its own.
    pub class: Option<u32>,
}

/// Which outputs a run keeps (the `runs` columns `keep_requests`, `keep_iterations`, `keep_token_stats`;
/// all kept when absent). The engine keeps an output only when both the run and the caller ask for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep {
    /// One row per request.
    pub requests: bool,
    /// One row per engine step.
    pub iterations: bool,
    /// Each request's token emission times (for its TPOT percentile).
    pub token_stats: bool,
}

#[derive(Debug, Clone)]
pub struct Run {
    pub name: String,
    pub system: String,
    pub model: usize,
    pub workload: usize,
    pub seed: u64,
    /// Routers, by their names in the engine's registry (`infera_core::engine::router`).
    pub prefill_router: String,
    pub decode_router: String,
    /// The prefix-aware router's weight on the prefill tokens a cached prefix saves, against the load in
    /// tokens (optional column `prefix_weight`, 1 when absent).
    pub prefix_weight: f64,
    /// Which outputs the run keeps (all by default).
    pub keep: Keep,
    pub pools: Vec<usize>,
    pub links: Vec<usize>,
    pub slos: Vec<Slo>,
}
