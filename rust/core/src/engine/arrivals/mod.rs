//! Arrival processes: when a workload's requests enter the system.
//!
//! A process is one file here exporting `ENTRY` (a [`Kind`]) and one name in the `registry!` line.

mod after;

use super::registry::{lookup, registry};
use crate::error::Result;
use crate::plan::Workload;

/// Issues a workload's requests, each at most once, in request order for requests issued at one instant.
pub trait Arrivals {
    /// The arrivals issued as the run starts: (time, request), to be queued as arrival events.
    fn start(&mut self) -> Vec<(f64, u32)>;

    /// Takes the next arrival whose time is known ahead (so it needs no event): (time, request), in time
    /// order.
    fn scheduled(&mut self) -> Option<(f64, u32)>;

    /// Request `r` left the system at `t`, `finished` or turned away: pushes the arrivals this sets off
    /// onto `issue` (in request order), to be queued as arrival events.
    fn departed(&mut self, t: f64, r: u32, finished: bool, issue: &mut Vec<(f64, u32)>);
}

/// An arrival process as registered.
#[derive(Clone, Copy)]
pub struct Kind {
    /// Makes the process of a workload.
    pub new: for<'w> fn(&'w Workload) -> Box<dyn Arrivals + 'w>,
    /// Checks that a workload (row `row` of the `workloads` table) has what the process needs.
    pub check: fn(wl: &Workload, row: usize) -> Result<()>,
}

registry!(Kind: open, closed);

/// The process named in row `row` of the `workloads` table.
pub(crate) fn resolve(name: &str, row: usize) -> Result<Kind> {
    lookup(REGISTRY, name, "workloads", "kind", row)
}
