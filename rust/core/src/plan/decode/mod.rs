//! Decoding a packed plan batch into a [`Plan`], one table (or subject) per file, in the order tables
//! refer to one another: chips (with memory tiers and profiles), models, workloads, runs, pools (with
//! memory placement), links, SLOs. Each decoder checks its own rows; cross-table checks are
//! `validate.rs`'s.

mod chips;
mod memories;
mod models;
mod pools;
mod profiles;
mod runs;
mod workloads;

use arrow_array::RecordBatch;

use super::{Plan, PLAN_VERSION, PLAN_VERSION_KEY};
use crate::error::{plan_err, PlanResult};

fn check_format(batch: &RecordBatch) -> PlanResult<()> {
    match batch.schema().metadata().get(PLAN_VERSION_KEY) {
        Some(v) if v == PLAN_VERSION => {}
        Some(v) => {
            return Err(plan_err!(
                "plan format version {} is not supported (this core reads version {})",
                v,
                PLAN_VERSION
            ))
        }
        None => {
            return Err(plan_err!(
                "plan schema lacks the '{}' metadata key",
                PLAN_VERSION_KEY
            ))
        }
    }
    if batch.num_rows() != 1 {
        return Err(plan_err!(
            "a packed plan has exactly one row, this one has {}",
            batch.num_rows()
        ));
    }
    Ok(())
}

/// Every table of a packed plan batch (one row, one `list<struct>` column per table), not yet validated
/// across tables.
pub fn plan(batch: &RecordBatch) -> PlanResult<Plan> {
    check_format(batch)?;
    let mut chips = chips::decode(batch)?;
    memories::decode(batch, &mut chips)?;
    profiles::decode(batch, &mut chips)?;
    chips::check_routes(&chips)?;
    let models = models::decode(batch)?;
    let (workloads, class_rows) = workloads::decode(batch)?;
    let mut runs = runs::decode(batch, models.len(), workloads.len())?;
    let mut pools = pools::decode(batch, runs.len(), chips.len())?;
    memories::place(batch, &chips, &mut pools)?;
    for (i, p) in pools.iter().enumerate() {
        runs[p.run].pools.push(i);
    }
    let links = pools::links(batch, &pools)?;
    for (i, l) in links.iter().enumerate() {
        runs[pools[l.src].run].links.push(i);
    }
    runs::slos(batch, &mut runs, &class_rows)?;
    Ok(Plan {
        chips,
        models,
        workloads,
        pools,
        links,
        runs,
    })
}
