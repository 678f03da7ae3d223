//! Priority admission: an instance's waiting requests are admitted lowest priority first, in arrival order
//! within a priority, with recomputed requests ahead of the others of their priority.

use super::instance::Instance;
use super::request::Req;
use crate::cost::StepStats;
use crate::plan::builder::tiny_dense_plan;
use crate::plan::{Plan, Prefixes};

/// Enqueues requests (priority, recomputed?) in order and returns the order they are admitted in.
fn admitted(queue: &[(u32, bool)]) -> Vec<u32> {
    let mut b = tiny_dense_plan(1);
    b.pools[0].kv_blocks = 1 << 20;
    b.pools[0].max_batch = 1 << 10;
    b.pools[0].max_batched_tokens = 1 << 20;
    let plan = Plan::from_batch(&b.build()).unwrap();
    let mut inst = Instance::new(0, 0, 0, &plan.pools[0], &plan.models[0]);
    let mut reqs: Vec<Req> = Vec::new();
    for (r, &(priority, front)) in queue.iter().enumerate() {
        let mut req = Req::new(8, 4, r as f64);
        req.priority = priority;
        reqs.push(req);
        inst.enqueue(r as u32, priority, front);
    }
    let mut stats = StepStats::default();
    inst.form_prefill(0, &mut reqs, &Prefixes::default(), 1 << 20, 0.0, &mut stats);
    inst.prefilling.iter().copied().collect()
}

#[test]
fn one_priority_is_first_come_first_served_with_recomputed_requests_first() {
    let order = admitted(&[(0, false), (0, false), (0, true), (0, false), (0, true)]);
    assert_eq!(order, vec![4, 2, 0, 1, 3]);
}

#[test]
fn lower_priority_numbers_are_admitted_first_ties_by_arrival() {
    let order = admitted(&[
        (2, false),
        (1, false),
        (0, false),
        (1, false),
        (0, false),
        (2, false),
    ]);
    assert_eq!(order, vec![2, 4, 1, 3, 0, 5]);
}

#[test]
fn a_recomputed_request_goes_ahead_of_its_own_priority_only() {
    let order = admitted(&[(0, false), (1, false), (1, false), (1, true), (2, true)]);
    assert_eq!(order, vec![0, 3, 1, 2, 4]);
}
