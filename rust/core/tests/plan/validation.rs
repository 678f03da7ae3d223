//! Validating a decoded plan: values in range, indices that point at rows, known choices, and tables that
//! agree with one another.

use infera_core::builder::{tiny_dense_plan, PlanBuilder, PoolRow, WorkloadRow};
use infera_core::Plan;

use crate::common::{closed_plan, rejects, tweaked};

#[test]
fn the_tiny_plan_is_valid() {
    let plan = Plan::from_batch(&tiny_dense_plan(3).build()).unwrap();
    assert_eq!(plan.workloads[0].prompt_tokens.len(), 3);
}

#[test]
fn rejects_nan_negative_and_infinite_values() {
    rejects(
        &tweaked(|b| b.chips[0].memory_bw = f64::NAN),
        &["chips.memory_bw", "NaN"],
    );
    rejects(
        &tweaked(|b| b.chips[0].memory_bw = 0.0),
        &["chips.memory_bw", "> 0"],
    );
    rejects(
        &tweaked(|b| b.chips[0].link_bw = f64::INFINITY),
        &["chips.link_bw", "infinite"],
    );
    rejects(
        &tweaked(|b| b.chips[0].power_busy_w = -1.0),
        &["chips.power_busy_w", "negative"],
    );
    rejects(
        &tweaked(|b| b.chips[0].link_latency_s = -1e-6),
        &["chips.link_latency_s", "negative"],
    );
    rejects(
        &tweaked(|b| b.chips[0].memory_efficiency = 1.5),
        &["memory_efficiency"],
    );
    rejects(
        &tweaked(|b| b.engines[1].flops = -1e12),
        &["engines.flops", "row 1"],
    );
    rejects(
        &tweaked(|b| b.engines[0].efficiency = 1.01),
        &["engines row 0", "efficiency"],
    );
    rejects(
        &tweaked(|b| b.models[0].weight_bytes = f64::NAN),
        &["models.weight_bytes", "NaN"],
    );
    rejects(&tweaked(|b| b.models[0].layers = 0), &["models.layers"]);
    rejects(
        &tweaked(|b| b.operators[2].flops_per_attn_pair = -4.0),
        &["operators.flops_per_attn_pair", "row 2"],
    );
    rejects(
        &tweaked(|b| b.operators[0].count = f64::INFINITY),
        &["operators.count", "infinite"],
    );
    rejects(
        &tweaked(|b| b.workloads[0].think_time_s = f64::NAN),
        &["workloads.think_time_s", "NaN"],
    );
    rejects(
        &tweaked(|b| b.workloads[0].duration_s = f64::NAN),
        &["workloads.duration_s", "NaN"],
    );
    rejects(
        &tweaked(|b| b.workloads[0].duration_s = 0.0),
        &["duration_s", "> 0"],
    );
    rejects(
        &tweaked(|b| b.workloads[0].duration_s = -1.0),
        &["duration_s"],
    );
    rejects(
        &tweaked(|b| b.requests[1].arrival_s = Some(f64::NAN)),
        &["requests row 1", "arrival_s"],
    );
    rejects(
        &tweaked(|b| b.requests[1].arrival_s = Some(-0.5)),
        &["requests row 1", "arrival_s"],
    );
    rejects(
        &tweaked(|b| b.requests[2].arrival_s = Some(f64::INFINITY)),
        &["requests row 2", "arrival_s"],
    );
    rejects(
        &tweaked(|b| b.requests[0].arrival_s = None),
        &["requests row 0", "arrival_s", "tiny-open"],
    );
    rejects(
        &tweaked(|b| b.requests[0].prompt_tokens = 0),
        &["requests.prompt_tokens"],
    );
    rejects(
        &tweaked(|b| b.requests[0].output_tokens = 0),
        &["requests.output_tokens"],
    );
    rejects(
        &tweaked(|b| b.pools[0].step_overhead_s = f64::INFINITY),
        &["pools.step_overhead_s", "infinite"],
    );
    rejects(
        &tweaked(|b| b.pools[0].step_overhead_s = -1e-3),
        &["pools.step_overhead_s", "negative"],
    );
    rejects(&tweaked(|b| b.pools[0].tp = 0), &["pools.tp"]);
    rejects(&tweaked(|b| b.pools[0].max_batch = 0), &["pools.max_batch"]);
    rejects(
        &tweaked(|b| b.pools[0].block_size = 0),
        &["pools.block_size"],
    );
    rejects(
        &tweaked(|b| b.slo(0, "ttft", None, 0.0)),
        &["slos.threshold_s"],
    );
    rejects(
        &tweaked(|b| b.slo(0, "ttft", Some(f64::NAN), 1.0)),
        &["slos"],
    );
    rejects(
        &tweaked(|b| b.slo(0, "ttft", Some(0.0), 1.0)),
        &["slos row 0", "percentile"],
    );
    rejects(
        &tweaked(|b| b.slo(0, "ttft", Some(100.5), 1.0)),
        &["slos row 0", "percentile"],
    );
    // Infinite duration is how count-bounded traffic is written.
    assert!(Plan::from_batch(&tweaked(|b| b.workloads[0].duration_s = f64::INFINITY)).is_ok());
}

#[test]
fn rejects_dangling_indices() {
    rejects(
        &tweaked(|b| b.pools[0].chip = 99),
        &["pools.chip", "99", "chips"],
    );
    rejects(&tweaked(|b| b.pools[0].run = 1), &["pools.run", "runs"]);
    rejects(&tweaked(|b| b.engines[0].chip = 1), &["engines.chip"]);
    rejects(
        &tweaked(|b| b.operators[3].model = 5),
        &["operators.model", "row 3", "models"],
    );
    rejects(
        &tweaked(|b| b.requests[2].workload = 1),
        &["requests.workload", "row 2"],
    );
    rejects(&tweaked(|b| b.runs[0].model = 7), &["runs.model"]);
    rejects(&tweaked(|b| b.runs[0].workload = 7), &["runs.workload"]);
    rejects(&tweaked(|b| b.slo(3, "e2e", None, 1.0)), &["slos.run"]);
}

#[test]
fn rejects_unknown_choices() {
    rejects(
        &tweaked(|b| b.pools[0].policy = "lifo".into()),
        &["pools.policy", "lifo"],
    );
    rejects(
        &tweaked(|b| b.runs[0].prefill_router = "random".into()),
        &["runs.prefill_router", "random"],
    );
    rejects(
        &tweaked(|b| b.runs[0].decode_router = "random".into()),
        &["runs.decode_router", "random"],
    );
    rejects(
        &tweaked(|b| b.pools[0].role = "both".into()),
        &["pools.role", "both"],
    );
    rejects(
        &tweaked(|b| b.workloads[0].kind = "poisson".into()),
        &["workloads.kind"],
    );
    rejects(
        &tweaked(|b| b.operators[0].engine = "gpu".into()),
        &["operators.engine"],
    );
    rejects(
        &tweaked(|b| b.slo(0, "latency", None, 1.0)),
        &["slos.metric", "latency"],
    );
}

#[test]
fn rejects_a_workload_with_no_requests() {
    rejects(
        &tiny_dense_plan(0).build(),
        &["tiny", "tiny-open", "no requests"],
    );
    // Requests that all belong to another workload leave this one empty.
    let batch = tweaked(|b| {
        let other = b.workload(WorkloadRow {
            name: "other".into(),
            ..Default::default()
        });
        for q in &mut b.requests {
            q.workload = other;
        }
    });
    rejects(&batch, &["tiny-open", "no requests"]);
}

#[test]
fn rejects_kv_capacity_below_the_longest_request() {
    // The longest request is 106 prompt + 30 output tokens; 8 blocks of 16 hold 128.
    rejects(
        &tweaked(|b| b.pools[0].kv_blocks = 8),
        &["tiny-pool", "KV cache", "128", "136"],
    );
    assert!(Plan::from_batch(&tweaked(|b| b.pools[0].kv_blocks = 9)).is_ok());
}

#[test]
fn without_chunks_a_prefill_only_pool_needs_a_budget_for_its_prompts_alone() {
    // 106 prompt + 30 output tokens: a decoding pool may recompute both at once, a prefill-only pool hands the
    // KV cache on after the prompt.
    let unchunked = |b: &mut PlanBuilder, budget: u32| {
        b.pools[0].chunked_prefill = false;
        b.pools[0].max_batched_tokens = budget;
    };
    rejects(
        &tweaked(|b| unchunked(b, 135)),
        &[
            "tiny-pool",
            "max_batched_tokens (135)",
            "longest context (136)",
        ],
    );
    let split = |budget: u32| {
        tweaked(|b| {
            unchunked(b, budget);
            b.pools[0].role = "prefill".into();
            let dec = PoolRow {
                name: "dec".into(),
                role: "decode".into(),
                max_batched_tokens: 136,
                ..b.pools[0].clone()
            };
            b.pool(dec);
            b.link(0, 1, 1e10, 5e-5);
        })
    };
    assert!(Plan::from_batch(&split(106)).is_ok());
    rejects(
        &split(105),
        &["max_batched_tokens (105)", "longest context (106)"],
    );
}

#[test]
fn rejects_other_cross_table_inconsistencies() {
    rejects(
        &tweaked(|b| b.pools[0].chips = 2),
        &["tiny-pool", "2 chips", "tp=1"],
    );
    rejects(
        &tweaked(|b| b.workloads[0].kind = "closed".into()),
        &["tiny-open", "users"],
    );
    rejects(&tweaked(|b| b.pools.clear()), &["run 'tiny'", "no pools"]);
    rejects(
        &tweaked(|b| b.operators.clear()),
        &["tiny-dense", "no operators"],
    );
    // The chip has bf16 engines only; fp8 falls back to them, an unknown precision does not.
    assert!(Plan::from_batch(&tweaked(|b| b.operators[1].dtype = "fp8".into())).is_ok());
    rejects(
        &tweaked(|b| b.operators[1].dtype = "fp4".into()),
        &["tiny-chip", "tensor", "qkv_proj", "fp4"],
    );
    rejects(
        &tweaked(|b| b.engines.retain(|e| e.kind != "vector")),
        &["tiny-chip", "vector", "norm"],
    );
    // Without chunked prefill the token budget must cover a whole (recomputed) context.
    rejects(
        &tweaked(|b| {
            b.pools[0].chunked_prefill = false;
            b.pools[0].max_batched_tokens = 100;
        }),
        &["tiny-pool", "max_batched_tokens"],
    );
}

#[test]
fn closed_loop_requests_need_no_arrival_times() {
    let plan = Plan::from_batch(&closed_plan(3, 0.5, 4).build()).unwrap();
    assert_eq!(plan.workloads[0].users, 3);
    assert_eq!(plan.workloads[0].think_time_s, 0.5);
    assert_eq!(plan.workloads[0].prompt_tokens.len(), 4);
}
