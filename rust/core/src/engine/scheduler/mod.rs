//! Scheduling policies: what a step of an instance carries. Every step is formed the same way — the running
//! decodes (one token each) if the policy says so, then prefill chunks of admitted and queued requests
//! (FCFS) up to the pool's token budget — and the policy decides whether the decodes ride along.
//!
//! A policy is one file here exporting `ENTRY` (a [`NewScheduler`]) and one name in the `registry!` line.

use super::registry::{lookup, registry};
use crate::error::Result;

/// Decides the composition of an instance's next step.
pub trait Scheduler {
    /// Whether the next step carries the instance's `decoders` running decodes. `prefill_ready` tells
    /// whether a prefill chunk could be scheduled now with the full token budget.
    fn carries_decodes(&self, decoders: u64, prefill_ready: &mut dyn FnMut() -> bool) -> bool;
}

/// Makes the scheduling policy of one pool.
pub type NewScheduler = fn() -> Box<dyn Scheduler>;

registry!(NewScheduler: decode_first, prefill_first);

/// The policy named in row `row` of the `pools` table.
pub(crate) fn resolve(name: &str, row: usize) -> Result<NewScheduler> {
    lookup(REGISTRY, name, "pools", "policy", row)
}
