//! `closed` arrivals: a fixed number of users; each sends its first request at the start and its next one a
//! think time after its last one leaves, until the workload's requests or its duration run out. Each request
//! reaches the system its send delay later (the client's ramp-up and jitter, drawn by the compiler), which is
//! what keeps identical requests from moving in lockstep as they would with an ideal client.

use super::{Arrivals, Kind};
use crate::error::{plan_err, Result};
use crate::plan::Workload;

pub(super) const ENTRY: Kind = Kind { new, check };

fn new(wl: &Workload) -> Box<dyn Arrivals + '_> {
    Box::new(Closed {
        wl,
        requests: wl.prompt_tokens.len(),
        next: 0,
    })
}

fn check(wl: &Workload, row: usize) -> Result<()> {
    if wl.has_dependencies() {
        return Err(plan_err!(
            "workload '{}': closed-loop users issue requests in order; requests.after (sessions) needs open arrivals (workloads.kind 'open')",
            wl.name
        )
        .table("workloads")
        .column("kind")
        .row(row)
        .into());
    }
    if wl.users == 0 {
        return Err(plan_err!(
            "workload '{}': closed-loop traffic needs users >= 1",
            wl.name
        )
        .table("workloads")
        .column("users")
        .row(row)
        .into());
    }
    Ok(())
}

struct Closed<'w> {
    wl: &'w Workload,
    requests: usize,
    /// The next request to issue (requests are issued in order).
    next: usize,
}

impl Closed<'_> {
    /// The next request, sent by a user ready at `t`: it arrives its send delay later, if the workload has
    /// one left and that arrival is within its duration.
    fn issue(&mut self, t: f64) -> Option<(f64, u32)> {
        if self.next < self.requests {
            let at = t + self.wl.send_delay_s[self.next];
            if at < self.wl.duration_s {
                let r = self.next as u32;
                self.next += 1;
                return Some((at, r));
            }
        }
        None
    }
}

impl Arrivals for Closed<'_> {
    fn start(&mut self) -> Vec<(f64, u32)> {
        (0..self.wl.users.min(self.requests as u64))
            .filter_map(|_| self.issue(0.0))
            .collect()
    }

    fn scheduled(&mut self) -> Option<(f64, u32)> {
        None
    }

    fn departed(&mut self, t: f64, _r: u32, _finished: bool, issue: &mut Vec<(f64, u32)>) {
        issue.extend(self.issue(t + self.wl.think_time_s));
    }
}
