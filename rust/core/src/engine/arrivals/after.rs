//! Requests that wait for others (`requests.after`, sessions and agents): each is sent its think time (plus
//! its send delay) after the last request it waits for has left. Kept apart from any one arrival process so
//! that `open` can issue its roots by time and these on departures.
//!
//! A request whose every dependency finished is issued; one with a dependency that was turned away (queue
//! full, timeout) is never sent, and neither is anything that waits for it: the session ends there. Those
//! requests stay unissued, like closed-loop requests past the duration, and appear in no results.
//!
//! Cost is O(requests + dependencies) per run: a counter of unmet dependencies per request and the
//! children of each request in CSR form, built once; a departure touches only its own children.

use crate::plan::Workload;

pub(super) struct After<'w> {
    wl: &'w Workload,
    /// Children of request `r`: `children[child_offsets[r]..child_offsets[r + 1]]`, in request order.
    child_offsets: Vec<u32>,
    children: Vec<u32>,
    /// Dependencies of each request that have not left yet.
    unmet: Vec<u32>,
    /// The latest departure among each request's dependencies so far.
    ready_at: Vec<f64>,
    /// Whether a dependency of the request was turned away (so it is never sent).
    broken: Vec<bool>,
}

impl<'w> After<'w> {
    /// The dependency graph of `wl`, or None when no request waits for another.
    pub fn new(wl: &'w Workload) -> Option<After<'w>> {
        if !wl.has_dependencies() {
            return None;
        }
        let n = wl.prompt_tokens.len();
        let mut child_offsets = vec![0u32; n + 1];
        for &p in &wl.after {
            child_offsets[p as usize + 1] += 1;
        }
        for r in 0..n {
            child_offsets[r + 1] += child_offsets[r];
        }
        let mut fill = child_offsets.clone();
        let mut children = vec![0u32; wl.after.len()];
        let mut unmet = vec![0u32; n];
        for (c, slot) in unmet.iter_mut().enumerate() {
            let parents = wl.after_of(c);
            *slot = parents.len() as u32;
            for &p in parents {
                children[fill[p as usize] as usize] = c as u32;
                fill[p as usize] += 1;
            }
        }
        Some(After {
            wl,
            child_offsets,
            children,
            unmet,
            ready_at: vec![f64::NEG_INFINITY; n],
            broken: vec![false; n],
        })
    }

    /// Whether request `r` waits for others (so it has no arrival time of its own).
    pub fn waits(&self, r: usize) -> bool {
        !self.wl.after_of(r).is_empty()
    }

    /// Request `r` left at `t`: each child whose last dependency this was is issued, unless one of its
    /// dependencies was turned away or its send time is past the workload's duration.
    pub fn departed(&mut self, t: f64, r: u32, finished: bool, issue: &mut Vec<(f64, u32)>) {
        let (lo, hi) = (
            self.child_offsets[r as usize] as usize,
            self.child_offsets[r as usize + 1] as usize,
        );
        for &c in &self.children[lo..hi] {
            let ci = c as usize;
            self.broken[ci] |= !finished;
            self.ready_at[ci] = self.ready_at[ci].max(t);
            self.unmet[ci] -= 1;
            if self.unmet[ci] == 0 && !self.broken[ci] {
                let at = self.ready_at[ci] + self.wl.think_s[ci] + self.wl.send_delay_s[ci];
                if at < self.wl.duration_s {
                    issue.push((at, c));
                }
            }
        }
    }
}
