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
pub mod plan;
pub mod results;
#[cfg(test)]
mod test_support;

pub use engine::SimOptions;
pub use error::{InferaError, PlanError, Result};
pub use plan::builder;
pub use plan::Plan;
pub use results::SimOutput;

use arrow_array::RecordBatch;

/// Simulates every run of a decoded plan.
pub fn simulate(plan: &Plan, opts: SimOptions) -> Result<SimOutput> {
    let rows = engine::simulate_rows(plan, opts)?;
    results::build(plan, rows)
}

/// Decodes a packed plan batch and simulates it.
pub fn simulate_batch(batch: &RecordBatch, opts: SimOptions) -> Result<SimOutput> {
    let plan = Plan::from_batch(batch)?;
    simulate(&plan, opts)
}
