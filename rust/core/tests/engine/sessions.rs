//! Requests that wait for others (`requests.after`, `requests.think_s`): chains, fan-out, fan-in, a parent
//! turned away, the duration, and the plan errors of bad dependencies.

use arrow_array::{Array, RecordBatch};
use infera_core::builder::{pack, tiny_dense_plan, PlanBuilder};
use infera_core::{simulate_batch, SimOptions};

use crate::common::{
    check_invariants, close, columns, f64s, names, plan_msg, rebuild, rejects, sim, u32_array, u64s,
};

/// `tiny_dense_plan(n)` with request `r`'s arrival cleared for each `(r, after, think)` of `deps`.
fn with_deps(n: usize, deps: &[(u32, &[u32], f64)]) -> PlanBuilder {
    let mut b = tiny_dense_plan(n);
    for &(r, after, think) in deps {
        b.requests[r as usize].arrival_s = None;
        b.after(r, after, think);
    }
    b
}

/// Results by request index: (arrival, finish) of each request that was sent, None for the others.
fn times(b: &PlanBuilder) -> Vec<Option<(f64, f64)>> {
    let out = sim(b);
    check_invariants(b, &out);
    let r = &out.requests;
    let mut t = vec![None; b.requests.len()];
    for ((id, a), f) in u64s(r, "request_id")
        .into_iter()
        .zip(f64s(r, "arrival_s"))
        .zip(f64s(r, "finish_s"))
    {
        t[id as usize] = Some((a, f));
    }
    t
}

#[test]
fn a_chain_sends_each_request_a_think_time_after_its_parent_finished() {
    let b = with_deps(3, &[(1, &[0], 0.01), (2, &[1], 0.002)]);
    let t = times(&b);
    let (a0, f0) = t[0].unwrap();
    let (a1, f1) = t[1].unwrap();
    let (a2, _) = t[2].unwrap();
    assert_eq!(a0, 0.0);
    close(a1, f0 + 0.01, "second turn");
    close(a2, f1 + 0.002, "third turn");
}

#[test]
fn fan_out_sends_every_child_at_once_and_fan_in_waits_for_the_last_parent() {
    // 0 -> {1, 2, 3} -> 4; request 5 arrives on its own.
    let b = with_deps(
        6,
        &[
            (1, &[0], 0.003),
            (2, &[0], 0.003),
            (3, &[0], 0.003),
            (4, &[1, 2, 3], 0.001),
        ],
    );
    let t = times(&b);
    let f0 = t[0].unwrap().1;
    for child in &t[1..4] {
        close(child.unwrap().0, f0 + 0.003, "fan-out child");
    }
    let last = (1..4).map(|c| t[c].unwrap().1).fold(0.0, f64::max);
    let first = (1..4)
        .map(|c| t[c].unwrap().1)
        .fold(f64::INFINITY, f64::min);
    assert!(
        last > first,
        "the children differ in length, so they finish apart"
    );
    close(t[4].unwrap().0, last + 0.001, "fan-in");
    assert!(t[5].is_some());
}

#[test]
fn a_send_delay_adds_to_the_think_time() {
    let mut b = with_deps(2, &[(1, &[0], 0.01)]);
    b.requests[1].send_delay_s = 0.004;
    let t = times(&b);
    close(t[1].unwrap().0, t[0].unwrap().1 + 0.014, "think plus delay");
}

/// `b` with every pool's queue holding at most `max_queue` requests.
fn with_max_queue(b: &PlanBuilder, max_queue: u32) -> RecordBatch {
    let tables = b
        .tables()
        .into_iter()
        .map(|(name, t)| {
            if name != "pools" {
                return (name, t);
            }
            let mut cols = columns(&t);
            cols.push(("max_queue".into(), u32_array(&vec![max_queue; t.len()])));
            (name, rebuild(cols, t.len()).unwrap())
        })
        .collect();
    pack(tables).unwrap()
}

#[test]
fn a_rejected_parent_ends_its_session() {
    // Four sessions of three turns start together; a queue of one turns three first turns away.
    let mut b = tiny_dense_plan(12);
    for s in 0..4u32 {
        b.requests[s as usize].arrival_s = Some(0.0);
        for k in 1..3u32 {
            let r = 4 * k + s;
            b.requests[r as usize].arrival_s = None;
            b.after(r, &[r - 4], 0.001);
        }
    }
    let out = simulate_batch(&with_max_queue(&b, 1), SimOptions::default()).unwrap();
    let ids = u64s(&out.requests, "request_id");
    // The first session runs to its end; the others' later turns are never sent.
    assert_eq!(ids, vec![0, 1, 2, 3, 4, 8]);
    let shown = names(&out.requests, "status");
    assert_eq!(shown[0], "finished");
    assert!(shown[1..4].iter().all(|s| s == "rejected_queue_full"));
    assert!(shown[4..].iter().all(|s| s == "finished"));
}

#[test]
fn a_request_due_after_the_duration_is_not_sent() {
    let mut b = with_deps(2, &[(1, &[0], 10.0)]);
    b.workloads[0].duration_s = 5.0;
    assert_eq!(u64s(&sim(&b).requests, "request_id"), vec![0]);
}

#[test]
fn bad_dependencies_are_plan_errors() {
    let deps = |after: &[u32], think: f64| {
        let mut b = tiny_dense_plan(3);
        b.requests[1].arrival_s = None;
        b.after(1, after, think);
        b.build()
    };
    rejects(&deps(&[1], 0.0), &["requests.after", "row 1", "earlier"]);
    rejects(&deps(&[2], 0.0), &["requests.after", "row 1", "earlier"]);
    rejects(
        &deps(&[0], -1.0),
        &["requests.think_s", "row 1", "negative"],
    );
    rejects(&deps(&[0], f64::NAN), &["requests.think_s", "row 1", "NaN"]);
    // A request that waits has no time of its own.
    let mut b = tiny_dense_plan(3);
    b.after(2, &[0, 1], 0.0);
    rejects(&b.build(), &["requests.arrival_s", "row 2", "null"]);
}

#[test]
fn closed_loop_workloads_cannot_wait_for_requests() {
    let mut b = crate::common::closed_plan(2, 0.0, 3);
    b.after(2, &[0], 0.0);
    let msg = plan_msg(simulate_batch(&b.build(), SimOptions::default()));
    assert!(
        msg.contains("workloads.kind") && msg.contains("open arrivals"),
        "{msg}"
    );
}
