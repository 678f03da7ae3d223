//! `open` arrivals: each request arrives at its time in the requests table (Poisson, bursts, traces),
//! whatever the system does. The times are known ahead, so they are merged into the event stream from a
//! sorted array instead of going through the event heap. Requests that wait for others (sessions,
//! `requests.after`) have no time of their own: they are sent as those leave (see `after`).

use super::after::After;
use super::{Arrivals, Kind};
use crate::error::{plan_err, Result};
use crate::plan::Workload;

pub(super) const ENTRY: Kind = Kind { new, check };

fn new(wl: &Workload) -> Box<dyn Arrivals + '_> {
    let after = After::new(wl);
    // Requests arriving at or after the workload's duration are never issued.
    let mut order: Vec<u32> = (0..wl.arrival_s.len() as u32)
        .filter(|&r| {
            wl.arrival_s[r as usize] < wl.duration_s
                && !after.as_ref().is_some_and(|a| a.waits(r as usize))
        })
        .collect();
    let arr = &wl.arrival_s;
    order.sort_by(|&a, &b| arr[a as usize].total_cmp(&arr[b as usize]).then(a.cmp(&b)));
    Box::new(Open {
        arrival_s: arr,
        order,
        next: 0,
        after,
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
    after: Option<After<'w>>,
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

    fn departed(&mut self, t: f64, r: u32, finished: bool, issue: &mut Vec<(f64, u32)>) {
        if let Some(after) = &mut self.after {
            after.departed(t, r, finished, issue);
        }
    }
}
