//! `open` arrivals: each request arrives at its time in the requests table (Poisson, bursts, traces),
//! whatever the system does. The times are known ahead, so they are merged into the event stream from a
//! sorted array instead of going through the event heap.

use super::{Arrivals, Kind};
use crate::error::{plan_err, Result};
use crate::plan::Workload;

pub(super) const ENTRY: Kind = Kind { new, check };

fn new(wl: &Workload) -> Box<dyn Arrivals + '_> {
    // Requests arriving at or after the workload's duration are never issued.
    let mut order: Vec<u32> = (0..wl.arrival_s.len() as u32)
        .filter(|&r| wl.arrival_s[r as usize] < wl.duration_s)
        .collect();
    let arr = &wl.arrival_s;
    order.sort_by(|&a, &b| arr[a as usize].total_cmp(&arr[b as usize]).then(a.cmp(&b)));
    Box::new(Open {
        arrival_s: arr,
        order,
        next: 0,
    })
}

fn check(wl: &Workload, _row: usize) -> Result<()> {
    match wl.invalid_arrival_row {
        Some(row) => Err(plan_err!(
            "requests row {}: arrival_s must be a finite time >= 0 for open-loop workload '{}'",
            row,
            wl.name
        )
        .table("requests")
        .column("arrival_s")
        .row(row)
        .into()),
        None => Ok(()),
    }
}

struct Open<'w> {
    arrival_s: &'w [f64],
    /// Requests to issue, by arrival time (then request order).
    order: Vec<u32>,
    next: usize,
}

impl Arrivals for Open<'_> {
    fn start(&mut self) -> Vec<(f64, u32)> {
        Vec::new()
    }

    fn scheduled(&mut self) -> Option<(f64, u32)> {
        let &r = self.order.get(self.next)?;
        self.next += 1;
        Some((self.arrival_s[r as usize], r))
    }

    fn departed(&mut self, _t: f64) -> Option<(f64, u32)> {
        None
    }
}
