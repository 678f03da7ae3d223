//! The plan: what to simulate, decoded from Arrow and validated.
//!
//! On the wire a plan is one Arrow record batch with a single row. Each column is one table, typed
//! `list<struct<...>>`, so a whole plan travels as one batch (through the C data interface or one Arrow IPC
//! file) and every table keeps its own schema. The schema's metadata carries `infera.plan_version`.
//! `docs/plan.md` documents every table and column; this module is the authority on what is accepted.
//!
//! The types are split by subject (`chip`, `model`, `workload`, `system`, `run`, with `precision` for
//! the dtype fallbacks), `decode/` reads one table (or subject) per file through the column reader in
//! `table.rs`, `validate.rs` holds the cross-table checks, and `builder/` writes plans from Rust.

pub mod builder;
mod chip;
mod decode;
mod model;
mod precision;
mod run;
mod system;
mod table;
mod validate;
mod workload;

#[cfg(test)]
mod tests;

use std::fs::File;
use std::path::Path;

use arrow_array::RecordBatch;

pub use chip::{Chip, Engine, Memory, ProfilePoint, PROFILE_STATS};
pub use model::{Model, Operator, COMM_ENGINES, OPERATOR_ENGINES};
pub use precision::{fallbacks, PRECISIONS};
pub use run::{Keep, Metric, Run, Slo};
pub use system::{Link, Pool, Role};
pub use workload::Workload;

use crate::error::{plan_err, Result};

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

    /// Reads the packed plan batch of an Arrow IPC file (`infera compile -o plan.arrow`).
    pub(crate) fn read_ipc_batch(path: impl AsRef<Path>) -> Result<RecordBatch> {
        let file = File::open(path)?;
        let reader = arrow_ipc::reader::FileReader::try_new(file, None)?;
        let schema = reader.schema();
        let mut batches = Vec::new();
        for b in reader {
            batches.push(b?);
        }
        match batches.len() {
            1 => {
                // The IPC reader attaches file-level metadata to the schema it returns; make sure the batch
                // sees it even if the writer put it only on the file schema.
                let batch = batches.pop().expect("one batch");
                if batch.schema().metadata().is_empty() {
                    Ok(batch.with_schema(schema)?)
                } else {
                    Ok(batch)
                }
            }
            n => Err(plan_err!(
                "a plan file holds exactly one record batch, this one has {}",
                n
            )
            .into()),
        }
    }
}
