//! Plans built for the tests, the step prices the cost model gives them, and the plan-error checks.

use arrow_array::RecordBatch;

use infera_core::builder::{
    tiny_dense_plan, ChipRow, ModelRow, OperatorRow, PlanBuilder, PoolRow, RunRow, WorkloadRow,
};
use infera_core::cost::{StepCost, StepStats};
use infera_core::{simulate_batch, InferaError, Plan, SimOptions, SimOutput};

/// Simulates `b` with the default options; the plan must be valid.
pub fn sim(b: &PlanBuilder) -> SimOutput {
    simulate_batch(&b.build(), SimOptions::default()).expect("plan simulates")
}

/// A plan with one chip, one model and one pool where step prices depend visibly on every statistic:
/// a slow chip so that attention and KV reads matter.
pub fn single_request_plan(arrival: f64, prompt: u32, output: u32) -> PlanBuilder {
    let mut b = PlanBuilder::new();
    let chip = b.chip(ChipRow {
        name: "slow".into(),
        memory_bw: 1e11,
        memory_efficiency: 0.5,
        ..Default::default()
    });
    b.engine(chip, "tensor", "bf16", 1e12, 0.5);
    b.engine(chip, "vector", "bf16", 1e11, 1.0);
    let model = b.model(ModelRow {
        name: "m".into(),
        weight_bytes: 3e8,
        kv_bytes_per_token: 4e4,
        ..Default::default()
    });
    b.operator(OperatorRow {
        model,
        name: "mm".into(),
        count: 2.0,
        flops_per_token: 5e8,
        weight_bytes: 1e8,
        bytes_per_token: 1e4,
        ..Default::default()
    });
    b.operator(OperatorRow {
        model,
        name: "attn".into(),
        count: 2.0,
        flops_per_attn_pair: 1e6,
        bytes_per_kv_token: 2e4,
        ..Default::default()
    });
    b.operator(OperatorRow {
        model,
        name: "head".into(),
        engine: "vector".into(),
        flops_per_sampled: 1e8,
        weight_bytes: 1e8,
        bytes_per_sampled: 1e5,
        tp_shard: false,
        ..Default::default()
    });
    let wl = b.workload(WorkloadRow {
        name: "one".into(),
        ..Default::default()
    });
    b.request(wl, Some(arrival), prompt, output);
    let run = b.run(RunRow {
        name: "r".into(),
        model,
        workload: wl,
        ..Default::default()
    });
    b.pool(PoolRow {
        run,
        chip,
        name: "p".into(),
        kv_blocks: 64,
        step_overhead_s: 2e-4,
        ..Default::default()
    });
    b
}

/// `tiny_dense_plan(n)` with every request arriving at time zero.
pub fn burst(n: usize) -> PlanBuilder {
    let mut b = tiny_dense_plan(n);
    for q in &mut b.requests {
        q.arrival_s = Some(0.0);
    }
    b
}

/// `tiny_dense_plan(n)` as closed-loop traffic of `users` users thinking `think` seconds between requests.
pub fn closed_plan(users: u32, think: f64, n: usize) -> PlanBuilder {
    let mut b = tiny_dense_plan(n);
    b.workloads[0] = WorkloadRow {
        name: "users".into(),
        kind: "closed".into(),
        users,
        think_time_s: think,
        ..Default::default()
    };
    for q in &mut b.requests {
        q.arrival_s = None;
    }
    b
}

/// `tiny_dense_plan(3)` with one change to its rows.
pub fn tweaked<R>(f: impl FnOnce(&mut PlanBuilder) -> R) -> RecordBatch {
    let mut b = tiny_dense_plan(3);
    f(&mut b);
    b.build()
}

// ---------------------------------------------------------------------------------------------------------
// Step prices

/// The cost model of pool `pool` of `b`: its chip and its run's model.
pub fn pool_cost(b: &PlanBuilder, pool: usize) -> StepCost {
    let plan = Plan::from_batch(&b.build()).unwrap();
    let p = &plan.pools[pool];
    StepCost::new(&plan.models[plan.runs[p.run].model], &plan.chips[p.chip], p)
}

/// Stats of a prefill chunk of `c` tokens after `p` already prefilled; `last` when it completes the prefill.
pub fn prefill_stats(p: f64, c: f64, last: bool) -> StepStats {
    StepStats {
        tokens: c,
        sampled: if last { 1.0 } else { 0.0 },
        attn_pairs: c * p + c * (c + 1.0) / 2.0,
        kv_read_tokens: p + c,
        ..Default::default()
    }
}

/// Stats of one decode step of a lone request whose context is `c` tokens.
pub fn decode_stats(c: f64) -> StepStats {
    StepStats {
        tokens: 1.0,
        sampled: 1.0,
        attn_pairs: c + 1.0,
        kv_read_tokens: c + 1.0,
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Plan errors

/// The message of a plan error; anything else fails the test.
pub fn plan_msg<T: std::fmt::Debug>(res: infera_core::Result<T>) -> String {
    match res {
        Err(InferaError::Plan(err)) => err.to_string(),
        other => panic!("expected a plan error, got {other:?}"),
    }
}

/// Decodes `batch` (and simulates it, which must fail the same way); returns the plan error message and
/// checks that it mentions every one of `words`.
pub fn rejects(batch: &RecordBatch, words: &[&str]) -> String {
    let msg = plan_msg(Plan::from_batch(batch));
    let msg2 = plan_msg(simulate_batch(batch, SimOptions::default()));
    assert_eq!(msg, msg2);
    for w in words {
        assert!(msg.contains(w), "message {msg:?} does not mention {w:?}");
    }
    msg
}
