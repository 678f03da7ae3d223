//! The plan: what to simulate, decoded from Arrow and validated.
//!
//! On the wire a plan is one Arrow record batch with a single row. Each column is one table, typed
//! `list<struct<...>>`, so a whole plan travels as one batch (through the C data interface or one Arrow IPC
//! file) and every table keeps its own schema. The schema's metadata carries `infera.plan_version`.
//! `docs/plan.md` documents every table and column; this module is the authority on what is accepted.
//!
//! The types are split by subject (`chip`, `model`, `workload`, `system`, `run`, with `precision` for
//! the dtype fallbacks), `decode/` reads one table (or subject) per file through the column reader in
//! `table.rs`, `validate.rs` holds the cross-table checks, `ipc.rs` reads plan files and `builder/` writes
//! plans from Rust.

pub mod builder;
mod chip;
mod decode;
mod ipc;
mod model;
mod precision;
mod run;
mod system;
mod table;
mod validate;
mod workload;

#[cfg(test)]
mod tests;

use arrow_array::RecordBatch;

pub use chip::{Chip, Engine, KernelShape, Memory, ProfilePoint, PROFILE_STATS};
pub use model::{KvShape, Model, Operator, COMM_ENGINES, OPERATOR_ENGINES};
pub use precision::{fallbacks, PRECISIONS};
pub use run::{Keep, Metric, Run, Slo};
pub use system::{Link, Pool, Role};

pub use workload::{Prefixes, TrafficClass, Workload};

use crate::error::Result;

/// The plan format version this crate reads and writes.
pub const PLAN_VERSION: &str = "1";
/// Most instances one run may have: each costs the engine about a kilobyte of state, so this bounds a run's
/// memory (10,000 instances are benchmarked in benches/RESULTS.md).
pub const MAX_INSTANCES: u64 = 1_000_000;
/// Schema metadata key holding the plan format version.
pub const PLAN_VERSION_KEY: &str = "infera.plan_version";

/// A decoded, validated plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub chips: Vec<Chip>,
    pub models: Vec<Model>,
    pub workloads: Vec<Workload>,
    pub pools: Vec<Pool>,
    pub links: Vec<Link>,
    pub runs: Vec<Run>,
}

impl Plan {
    /// Decodes and validates a packed plan batch (one row, one `list<struct>` column per table). The names
    /// of routers, policies and arrival processes are the engine's to resolve: `Plan::from_batch` (in
    /// `lib.rs`, above the engine) does both.
    pub(crate) fn decode(batch: &RecordBatch) -> Result<Plan> {
        let plan = decode::plan(batch)?;
        plan.validate()?;
        Ok(plan)
    }
}
