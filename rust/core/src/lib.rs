//! # infera-core
//!
//! The simulation core of infera: takes a plan (Arrow tables describing chips, models, serving systems and
//! traffic), simulates LLM serving token by token with an iteration-level discrete-event engine, and returns
//! results as Arrow record batches. Pure Rust: no Python is needed to use it.
//!
//! ```no_run
//! let plan = infera_core::Plan::read_ipc("plan.arrow").unwrap();
//! let out = infera_core::simulate(&plan, infera_core::SimOptions::default()).unwrap();
//! println!("{} requests simulated", out.requests.num_rows());
//! ```

pub mod cost;
pub mod engine;
pub mod error;
pub mod metrics;
pub mod plan;
pub mod results;
#[cfg(test)]
mod test_support;

pub use engine::{check, SimOptions};
pub use error::{InferaError, PlanError, Result};
pub use plan::builder;
pub use plan::Plan;
pub use results::SimOutput;

use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;

use arrow_array::RecordBatch;

impl Plan {
    /// Decodes and validates a packed plan batch (one row, one `list<struct>` column per table), including
    /// the names of the routers, scheduling policies and arrival processes it uses.
    pub fn from_batch(batch: &RecordBatch) -> Result<Plan> {
        let plan = Plan::decode(batch)?;
        check(&plan)?;
        Ok(plan)
    }

    /// Reads a plan written as an Arrow IPC file (`infera compile -o plan.arrow`).
    pub fn read_ipc(path: impl AsRef<Path>) -> Result<Plan> {
        Plan::read_ipc_from(File::open(path)?)
    }

    /// Reads a plan in the Arrow IPC file format from any seekable source, such as a
    /// `std::io::Cursor` over bytes received from elsewhere.
    pub fn read_ipc_from(source: impl Read + Seek) -> Result<Plan> {
        Plan::from_batch(&Plan::read_ipc_batch(source)?)
    }
}

/// Simulates every run of a decoded plan.
pub fn simulate(plan: &Plan, opts: SimOptions) -> Result<SimOutput> {
    check(plan)?;
    let rows = metrics::simulate_rows(plan, opts)?;
    results::build(plan, rows)
}

/// The names a plan may use and its format's constants, for embedders that build or check plans (the Python
/// binding exports them, so the compiler never keeps its own copy).
#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    pub plan_version: &'static str,
    pub max_instances: u64,
    pub routers: &'static [&'static str],
    pub policies: &'static [&'static str],
    /// Workload kinds: open-loop arrivals from the requests table, or a closed loop of users.
    pub arrivals: &'static [&'static str],
    pub roles: &'static [&'static str],
    pub metrics: &'static [&'static str],
    pub operator_engines: &'static [&'static str],
    /// Each precision, widest first, with the precisions it may run at in order (itself first).
    pub precisions: Vec<(&'static str, &'static [&'static str])>,
}

/// The vocabulary of plans this crate reads.
pub fn vocabulary() -> Vocabulary {
    Vocabulary {
        plan_version: plan::PLAN_VERSION,
        max_instances: plan::MAX_INSTANCES,
        routers: engine::router::NAMES,
        policies: engine::scheduler::NAMES,
        arrivals: engine::arrivals::NAMES,
        roles: &plan::Role::NAMES,
        metrics: &plan::Metric::NAMES,
        operator_engines: &plan::OPERATOR_ENGINES,
        precisions: plan::PRECISIONS
            .iter()
            .map(|&p| (p, plan::fallbacks(p)))
            .collect(),
    }
}

/// Decodes a packed plan batch and simulates it.
pub fn simulate_batch(batch: &RecordBatch, opts: SimOptions) -> Result<SimOutput> {
    let plan = Plan::from_batch(batch)?;
    simulate(&plan, opts)
}
