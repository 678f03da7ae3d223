//! Checks of a simulation's output: floats equal to a hand-computed price, and the per-request and per-step
//! invariants every simulation keeps.

use std::collections::HashMap;

use infera_core::builder::PlanBuilder;
use infera_core::SimOutput;

use super::{f64s, names, u32s, u64s};

pub fn close(actual: f64, expected: f64, what: &str) {
    let tol = 1e-9 * expected.abs().max(1e-12);
    assert!(
        (actual - expected).abs() <= tol,
        "{what}: expected {expected:e}, got {actual:e}"
    );
}

/// Checks the per-request invariants of a simulation of `b` and returns its output.
pub fn check_invariants(b: &PlanBuilder, out: &SimOutput) {
    let req = &out.requests;
    assert_eq!(req.num_rows(), b.requests.len(), "every request finishes");
    let (arr, sched, first, fin) = (
        f64s(req, "arrival_s"),
        f64s(req, "first_scheduled_s"),
        f64s(req, "first_token_s"),
        f64s(req, "finish_s"),
    );
    for k in 0..req.num_rows() {
        assert!(
            arr[k].is_finite() && fin[k].is_finite(),
            "request {k} has finite times"
        );
        assert!(
            arr[k] <= sched[k],
            "request {k}: arrival {} > first scheduled {}",
            arr[k],
            sched[k]
        );
        assert!(
            sched[k] < first[k],
            "request {k}: first scheduled {} >= first token {}",
            sched[k],
            first[k]
        );
        assert!(
            first[k] <= fin[k],
            "request {k}: first token {} > finish {}",
            first[k],
            fin[k]
        );
    }
    let ids = u64s(req, "request_id");
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "request ids are unique");

    // KV use per step never exceeds the instance's capacity.
    let ins = &out.instances;
    let mut cap = HashMap::new();
    for (k, ((run, pool), inst)) in names(ins, "run")
        .into_iter()
        .zip(names(ins, "pool"))
        .zip(u32s(ins, "instance"))
        .enumerate()
    {
        cap.insert((run, pool, inst), u64s(ins, "kv_blocks")[k]);
    }
    let it = &out.iterations;
    let used = u32s(it, "kv_blocks_used");
    for (k, ((run, pool), inst)) in names(it, "run")
        .into_iter()
        .zip(names(it, "pool"))
        .zip(u32s(it, "instance"))
        .enumerate()
    {
        let c = cap[&(run.clone(), pool.clone(), inst)];
        assert!(
            used[k] as u64 <= c,
            "step {k} of {run}/{pool}/{inst} uses {} of {c} KV blocks",
            used[k]
        );
    }

    // Steps of one instance run back to back, never overlapping, numbered from 0.
    let (start, dur, step) = (
        f64s(it, "start_s"),
        f64s(it, "duration_s"),
        u64s(it, "step"),
    );
    let mut last: HashMap<(String, String, u32), (u64, f64)> = HashMap::new();
    for (k, ((run, pool), inst)) in names(it, "run")
        .into_iter()
        .zip(names(it, "pool"))
        .zip(u32s(it, "instance"))
        .enumerate()
    {
        assert!(dur[k] > 0.0, "step {k} has a positive duration");
        match last.get(&(run.clone(), pool.clone(), inst)) {
            None => assert_eq!(step[k], 0),
            Some(&(s, end)) => {
                assert_eq!(step[k], s + 1);
                assert!(
                    start[k] >= end,
                    "step {k} starts at {} before the previous one ends at {end}",
                    start[k]
                );
            }
        }
        last.insert((run, pool, inst), (step[k], start[k] + dur[k]));
    }
    let steps_total: u64 = u64s(ins, "steps").iter().sum();
    assert_eq!(steps_total, it.num_rows() as u64);
}

/// Most requests in the system at once, from arrival and finish times (a finish at the same instant as
/// an arrival counts first).
pub fn max_in_system(arrival: &[f64], finish: &[f64]) -> usize {
    let mut ev: Vec<(f64, i32)> = arrival
        .iter()
        .map(|&a| (a, 1))
        .chain(finish.iter().map(|&f| (f, -1)))
        .collect();
    ev.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut cur, mut max) = (0i32, 0i32);
    for (_, d) in ev {
        cur += d;
        max = max.max(cur);
    }
    max as usize
}
