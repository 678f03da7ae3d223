//! End-to-end tests of the core: plans built with `infera_core::builder`, simulated, and checked against
//! hand-computed step prices, serving invariants, and the plan validation rules.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::OffsetBufferBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt32Type, UInt64Type};
use arrow_array::{
    Array, ArrayRef, Float64Array, Int32Array, Int64Array, ListArray, RecordBatch, StringArray,
    StructArray, UInt32Array,
};
use arrow_schema::{DataType, Field, Fields, Schema};

use infera_core::builder::{
    self, tiny_dense_plan, ChipRow, ModelRow, OperatorRow, PlanBuilder, PoolRow, RunRow,
    WorkloadRow,
};
use infera_core::cost::{StepCost, StepStats};
use infera_core::{simulate, simulate_batch, InferaError, Plan, SimOptions, SimOutput};

// ---------------------------------------------------------------------------------------------------------
// Helpers

fn sim(b: &PlanBuilder) -> SimOutput {
    simulate_batch(&b.build(), SimOptions::default()).expect("plan simulates")
}

fn f64s(batch: &RecordBatch, col: &str) -> Vec<f64> {
    let a = batch
        .column_by_name(col)
        .unwrap_or_else(|| panic!("no column {col}"));
    a.as_primitive::<Float64Type>()
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect()
}

fn opt_f64s(batch: &RecordBatch, col: &str) -> Vec<Option<f64>> {
    batch
        .column_by_name(col)
        .unwrap()
        .as_primitive::<Float64Type>()
        .iter()
        .collect()
}

fn u32s(batch: &RecordBatch, col: &str) -> Vec<u32> {
    batch
        .column_by_name(col)
        .unwrap()
        .as_primitive::<UInt32Type>()
        .values()
        .to_vec()
}

fn u64s(batch: &RecordBatch, col: &str) -> Vec<u64> {
    batch
        .column_by_name(col)
        .unwrap()
        .as_primitive::<UInt64Type>()
        .values()
        .to_vec()
}

fn bools(batch: &RecordBatch, col: &str) -> Vec<bool> {
    batch
        .column_by_name(col)
        .unwrap()
        .as_boolean()
        .iter()
        .map(|v| v.unwrap())
        .collect()
}

/// A dictionary-encoded name column, decoded.
fn names(batch: &RecordBatch, col: &str) -> Vec<String> {
    let d = batch
        .column_by_name(col)
        .unwrap()
        .as_dictionary::<UInt32Type>();
    let values = d.values().as_string::<i32>();
    d.keys()
        .values()
        .iter()
        .map(|&k| values.value(k as usize).to_string())
        .collect()
}

fn close(actual: f64, expected: f64, what: &str) {
    let tol = 1e-9 * expected.abs().max(1e-12);
    assert!(
        (actual - expected).abs() <= tol,
        "{what}: expected {expected:e}, got {actual:e}"
    );
}

fn ceil_div(a: u64, b: u64) -> u64 {
    a.div_ceil(b)
}

/// The cost model of the first pool of the first run of `b`.
fn step_cost(b: &PlanBuilder) -> StepCost {
    let plan = Plan::from_batch(&b.build()).unwrap();
    let pool = &plan.pools[0];
    StepCost::new(
        &plan.models[plan.runs[pool.run].model],
        &plan.chips[pool.chip],
        pool,
    )
}

/// Stats of a prefill chunk of `c` tokens after `p` already prefilled; `last` when it completes the prefill.
fn prefill_stats(p: f64, c: f64, last: bool) -> StepStats {
    StepStats {
        tokens: c,
        sampled: if last { 1.0 } else { 0.0 },
        attn_pairs: c * p + c * (c + 1.0) / 2.0,
        kv_read_tokens: p + c,
    }
}

/// Stats of one decode step of a lone request whose context is `c` tokens.
fn decode_stats(c: f64) -> StepStats {
    StepStats {
        tokens: 1.0,
        sampled: 1.0,
        attn_pairs: c + 1.0,
        kv_read_tokens: c + 1.0,
    }
}

/// A plan with one chip, one model and one pool where step prices depend visibly on every statistic:
/// a slow chip so that attention and KV reads matter.
fn single_request_plan(arrival: f64, prompt: u32, output: u32) -> PlanBuilder {
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

/// Checks the per-request invariants of a simulation of `b` and returns its output.
fn check_invariants(b: &PlanBuilder, out: &SimOutput) {
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

// ---------------------------------------------------------------------------------------------------------
// One request: its times are sums of hand-described step prices.

#[test]
fn single_request_ttft_is_the_prefill_price_and_decodes_follow_back_to_back() {
    let (arrival, prompt, output) = (0.25, 30u32, 6u32);
    let b = single_request_plan(arrival, prompt, output);
    let cost = step_cost(&b);
    let out = sim(&b);
    let r = &out.requests;
    assert_eq!(r.num_rows(), 1);

    let p = prompt as f64;
    let prefill = cost.step_seconds(&StepStats {
        tokens: p,
        sampled: 1.0,
        attn_pairs: p * (p + 1.0) / 2.0,
        kv_read_tokens: p,
    });
    let decodes: Vec<f64> = (0..output - 1)
        .map(|k| cost.step_seconds(&decode_stats(p + k as f64)))
        .collect();
    assert!(
        decodes.windows(2).all(|w| w[1] > w[0]),
        "decode steps grow with the context"
    );

    assert_eq!(f64s(r, "arrival_s"), [arrival]);
    assert_eq!(f64s(r, "first_scheduled_s"), [arrival]);
    close(
        f64s(r, "first_token_s")[0],
        arrival + prefill,
        "first token",
    );
    close(f64s(r, "ttft_s")[0], prefill, "TTFT");
    close(f64s(r, "queue_s")[0], 0.0, "queue");
    let first = f64s(r, "first_token_s")[0];
    let decode_sum: f64 = decodes.iter().sum();
    close(
        f64s(r, "finish_s")[0] - first,
        decode_sum,
        "finish - first token",
    );
    close(f64s(r, "e2e_s")[0], prefill + decode_sum, "e2e");
    close(
        opt_f64s(r, "tpot_mean_s")[0].unwrap(),
        decode_sum / (output - 1) as f64,
        "TPOT mean",
    );
    // TPOT p99 over the five gaps (numpy's linear interpolation: 0.99 × 4 = 3.96 between the 4th and 5th).
    let p99 = decodes[3] + (decodes[4] - decodes[3]) * 0.96;
    let got = opt_f64s(r, "tpot_p99_s")[0].unwrap();
    assert!(
        (got - p99).abs() <= 1e-12,
        "TPOT p99: expected {p99:e}, got {got:e}"
    );
    assert_eq!(u32s(r, "prompt_tokens"), [prompt]);
    assert_eq!(u32s(r, "output_tokens"), [output]);
    assert_eq!(u32s(r, "preemptions"), [0]);
    assert_eq!(names(r, "run"), ["r"]);
    assert_eq!(names(r, "prefill_pool"), ["p"]);
    assert_eq!(names(r, "decode_pool"), ["p"]);
    assert_eq!(u32s(r, "prefills"), [1]);
    assert_eq!(u32s(r, "transfers"), [0]);

    // The iterations table shows the same steps.
    let it = &out.iterations;
    assert_eq!(it.num_rows(), output as usize);
    let dur = f64s(it, "duration_s");
    close(dur[0], prefill, "prefill step");
    for k in 0..decodes.len() {
        close(dur[k + 1], decodes[k], "decode step");
    }
    assert_eq!(u32s(it, "prefill_tokens"), [30, 0, 0, 0, 0, 0]);
    assert_eq!(u32s(it, "decode_tokens"), [0, 1, 1, 1, 1, 1]);
    assert_eq!(u32s(it, "batch_size"), [1, 1, 1, 1, 1, 1]);
    // 16-token blocks: 30 prompt tokens take 2; the decode with context 32 writes the 33rd token and a 3rd block.
    let expect_blocks: Vec<u32> = std::iter::once(ceil_div(30, 16))
        .chain((0..output as u64 - 1).map(|k| ceil_div(30 + k + 1, 16)))
        .map(|x| x as u32)
        .collect();
    assert_eq!(expect_blocks, [2, 2, 2, 3, 3, 3]);
    assert_eq!(u32s(it, "kv_blocks_used"), expect_blocks);
    let start = f64s(it, "start_s");
    assert_eq!(start[0], arrival);
    close(start[1], arrival + prefill, "first decode start");
    // The chip has no busy power: no energy.
    assert!(f64s(it, "energy_j").iter().all(|&e| e == 0.0));

    let ins = &out.instances;
    assert_eq!(u64s(ins, "kv_blocks"), [64]);
    assert_eq!(u64s(ins, "steps"), [output as u64]);
    close(f64s(ins, "busy_s")[0], prefill + decode_sum, "busy time");
}

#[test]
fn single_token_request_finishes_at_its_first_token() {
    let b = single_request_plan(1.0, 50, 1);
    let cost = step_cost(&b);
    let out = sim(&b);
    let r = &out.requests;
    let prefill = cost.step_seconds(&prefill_stats(0.0, 50.0, true));
    close(f64s(r, "first_token_s")[0], 1.0 + prefill, "first token");
    assert_eq!(f64s(r, "finish_s"), f64s(r, "first_token_s"));
    assert_eq!(opt_f64s(r, "tpot_mean_s"), [None]);
    assert_eq!(opt_f64s(r, "tpot_p99_s"), [None]);
    assert_eq!(out.iterations.num_rows(), 1);
}

#[test]
fn chunked_prefill_splits_the_prompt_at_the_token_budget() {
    let (prompt, output) = (100u32, 3u32);
    let mut b = single_request_plan(0.0, prompt, output);
    b.pools[0].max_batched_tokens = 32;
    let cost = step_cost(&b);
    let out = sim(&b);
    // Chunks of 32, 32, 32 and 4 tokens; only the last samples a token.
    let chunks = [
        (0.0, 32.0, false),
        (32.0, 32.0, false),
        (64.0, 32.0, false),
        (96.0, 4.0, true),
    ];
    let prices: Vec<f64> = chunks
        .iter()
        .map(|&(p, c, last)| cost.step_seconds(&prefill_stats(p, c, last)))
        .collect();
    let ttft: f64 = prices.iter().sum();
    let r = &out.requests;
    close(f64s(r, "ttft_s")[0], ttft, "TTFT of a chunked prefill");
    let decodes = cost.step_seconds(&decode_stats(100.0)) + cost.step_seconds(&decode_stats(101.0));
    close(
        f64s(r, "finish_s")[0] - f64s(r, "first_token_s")[0],
        decodes,
        "decode time",
    );
    let it = &out.iterations;
    assert_eq!(u32s(it, "prefill_tokens"), [32, 32, 32, 4, 0, 0]);
    assert_eq!(u32s(it, "decode_tokens"), [0, 0, 0, 0, 1, 1]);
    // The whole prompt's blocks are reserved at admission.
    assert_eq!(u32s(it, "kv_blocks_used"), [7, 7, 7, 7, 7, 7]);
    for (k, p) in prices.iter().enumerate() {
        close(f64s(it, "duration_s")[k], *p, "chunk price");
    }
}

#[test]
fn energy_is_busy_power_of_all_chips_times_step_time() {
    let mut b = single_request_plan(0.0, 20, 4);
    b.chips[0].power_busy_w = 300.0;
    b.pools[0].tp = 2;
    b.pools[0].chips = 2;
    let out = sim(&b);
    let it = &out.iterations;
    let (dur, energy) = (f64s(it, "duration_s"), f64s(it, "energy_j"));
    assert_eq!(dur.len(), 4);
    for k in 0..dur.len() {
        close(energy[k], 600.0 * dur[k], "step energy");
    }
}

#[test]
fn two_simultaneous_requests_share_their_steps() {
    // Two identical requests arriving together: one prefill step for both, then shared decode steps.
    let mut b = single_request_plan(0.5, 16, 4);
    b.request(0, Some(0.5), 16, 4);
    let cost = step_cost(&b);
    let out = sim(&b);
    let p = 16.0;
    let prefill = cost.step_seconds(&StepStats {
        tokens: 2.0 * p,
        sampled: 2.0,
        attn_pairs: 2.0 * p * (p + 1.0) / 2.0,
        kv_read_tokens: 2.0 * p,
    });
    let decode = |c: f64| {
        cost.step_seconds(&StepStats {
            tokens: 2.0,
            sampled: 2.0,
            attn_pairs: 2.0 * (c + 1.0),
            kv_read_tokens: 2.0 * (c + 1.0),
        })
    };
    let r = &out.requests;
    for k in 0..2 {
        close(f64s(r, "first_token_s")[k], 0.5 + prefill, "shared prefill");
        close(
            f64s(r, "finish_s")[k],
            0.5 + prefill + decode(16.0) + decode(17.0) + decode(18.0),
            "shared decode",
        );
    }
    assert_eq!(u32s(&out.iterations, "batch_size"), [2, 2, 2, 2]);
    assert_eq!(u32s(&out.iterations, "prefill_tokens"), [32, 0, 0, 0]);
    assert_eq!(u32s(&out.iterations, "decode_tokens"), [0, 2, 2, 2]);
}

// ---------------------------------------------------------------------------------------------------------
// Many requests: invariants

#[test]
fn every_request_finishes_in_order_within_kv_capacity() {
    let b = tiny_dense_plan(300);
    let out = sim(&b);
    check_invariants(&b, &out);
    let r = &out.requests;
    // With ample KV cache nothing is preempted: every prompt token is prefilled once and every output
    // token after the first is one decode token.
    assert!(u32s(r, "preemptions").iter().all(|&p| p == 0));
    let prompts: u64 = b.requests.iter().map(|q| q.prompt_tokens as u64).sum();
    let decodes: u64 = b.requests.iter().map(|q| q.output_tokens as u64 - 1).sum();
    let it = &out.iterations;
    assert_eq!(
        u32s(it, "prefill_tokens")
            .iter()
            .map(|&x| x as u64)
            .sum::<u64>(),
        prompts
    );
    assert_eq!(
        u32s(it, "decode_tokens")
            .iter()
            .map(|&x| x as u64)
            .sum::<u64>(),
        decodes
    );
    // Results keep the plan's per-request facts.
    for (k, id) in u64s(r, "request_id").into_iter().enumerate() {
        let q = &b.requests[id as usize];
        assert_eq!(f64s(r, "arrival_s")[k], q.arrival_s.unwrap());
        assert_eq!(u32s(r, "prompt_tokens")[k], q.prompt_tokens);
        assert_eq!(u32s(r, "output_tokens")[k], q.output_tokens);
    }
}

fn burst(n: usize) -> PlanBuilder {
    let mut b = tiny_dense_plan(n);
    for q in &mut b.requests {
        q.arrival_s = Some(0.0);
    }
    b
}

#[test]
fn small_kv_cache_preempts_and_still_finishes_everything() {
    let mut b = burst(120);
    // 10 blocks of 16 = 160 tokens: exactly the longest request (128 prompt + 32 output).
    b.pools[0].kv_blocks = 10;
    let out = sim(&b);
    check_invariants(&b, &out);
    let pre: u64 = u32s(&out.requests, "preemptions")
        .iter()
        .map(|&p| p as u64)
        .sum();
    assert!(
        pre > 0,
        "a 160-token KV cache under a 120-request burst must preempt"
    );
    // Preempted requests recompute: more prefill tokens than prompt tokens.
    let prompts: u64 = b.requests.iter().map(|q| q.prompt_tokens as u64).sum();
    let prefilled: u64 = u32s(&out.iterations, "prefill_tokens")
        .iter()
        .map(|&x| x as u64)
        .sum();
    assert!(
        prefilled > prompts,
        "{prefilled} prefill tokens for {prompts} prompt tokens"
    );
    assert!(
        u32s(&out.iterations, "kv_blocks_used").contains(&10),
        "the cache fills up"
    );
}

#[test]
fn invariants_hold_across_scheduler_configurations() {
    type Tweak = fn(&mut PlanBuilder);
    let tweaks: [(&str, Tweak); 7] = [
        ("prefill_first", |b| {
            b.pools[0].policy = "prefill_first".into()
        }),
        ("prefill_first small kv", |b| {
            b.pools[0].policy = "prefill_first".into();
            b.pools[0].kv_blocks = 12;
        }),
        ("no chunked prefill", |b| {
            b.pools[0].chunked_prefill = false;
            b.pools[0].max_batched_tokens = 160;
            b.pools[0].kv_blocks = 16;
        }),
        ("tiny batch", |b| {
            b.pools[0].max_batch = 2;
            b.pools[0].max_batched_tokens = 7;
        }),
        ("block size 1", |b| {
            b.pools[0].block_size = 1;
            b.pools[0].kv_blocks = 200;
        }),
        ("four instances, least tokens", |b| {
            b.pools[0].instances = 4;
            b.pools[0].chips = 4;
            b.pools[0].kv_blocks = 12;
            b.runs[0] = b.runs[0].clone().with_router("least_tokens");
        }),
        ("tp 2 x 2 instances, round robin", |b| {
            b.pools[0].tp = 2;
            b.pools[0].instances = 2;
            b.pools[0].chips = 4;
            b.pools[0].kv_blocks = 11;
        }),
    ];
    for (name, tweak) in tweaks {
        let mut b = burst(80);
        tweak(&mut b);
        let out = simulate_batch(&b.build(), SimOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        check_invariants(&b, &out);
    }
}

#[test]
fn round_robin_spreads_requests_over_instances_in_turn() {
    let mut b = tiny_dense_plan(12);
    b.pools[0].instances = 3;
    b.pools[0].chips = 3;
    let out = sim(&b);
    let r = &out.requests;
    for (k, id) in u64s(r, "request_id").into_iter().enumerate() {
        assert_eq!(
            u32s(r, "prefill_instance")[k] as u64,
            id % 3,
            "request {id}"
        );
        assert_eq!(u32s(r, "decode_instance")[k] as u64, id % 3, "request {id}");
    }
    assert_eq!(out.instances.num_rows(), 3);
    assert_eq!(u32s(&out.instances, "instance"), [0, 1, 2]);
}

#[test]
fn turning_off_iterations_and_token_stats_changes_only_those_outputs() {
    let b = tiny_dense_plan(40);
    let full = sim(&b);
    let lean = simulate_batch(
        &b.build(),
        SimOptions {
            iterations: false,
            token_stats: false,
            ..SimOptions::default()
        },
    )
    .unwrap();
    assert_eq!(lean.iterations.num_rows(), 0);
    assert_eq!(lean.instances, full.instances);
    for col in [
        "request_id",
        "arrival_s",
        "first_token_s",
        "finish_s",
        "tpot_mean_s",
    ] {
        assert_eq!(
            lean.requests.column_by_name(col),
            full.requests.column_by_name(col),
            "{col}"
        );
    }
    assert_eq!(
        lean.requests
            .column_by_name("tpot_p99_s")
            .unwrap()
            .null_count(),
        lean.requests.num_rows()
    );
}

#[test]
fn slo_flags_follow_thresholds() {
    let mut b = tiny_dense_plan(20);
    b.slo(0, "ttft", None, 1e3);
    b.slo(0, "e2e", Some(99.0), 1e3);
    let out = sim(&b);
    assert!(bools(&out.requests, "slo_met").iter().all(|&m| m));

    let mut strict = tiny_dense_plan(20);
    strict.slo(0, "ttft", None, 1e-9);
    assert!(bools(&sim(&strict).requests, "slo_met").iter().all(|&m| !m));

    // A TPOT SLO does not apply to single-token requests.
    let mut one = single_request_plan(0.0, 10, 1);
    one.slo(0, "tpot", None, 1e-12);
    assert_eq!(bools(&sim(&one).requests, "slo_met"), [true]);
}

#[test]
fn runs_are_simulated_independently() {
    // Two runs over the same traffic; the second alone gives the same rows as within the pair.
    let mut pair = tiny_dense_plan(60);
    let r2 = pair.run(RunRow {
        name: "second".into(),
        system: "other".into(),
        ..Default::default()
    });
    pair.pool(PoolRow {
        run: r2,
        name: "big".into(),
        chips: 2,
        instances: 2,
        kv_blocks: 20,
        ..Default::default()
    });
    let both = sim(&pair);
    let run_names = names(&both.requests, "run");
    assert_eq!(run_names.iter().filter(|n| *n == "tiny").count(), 60);
    assert_eq!(run_names.iter().filter(|n| *n == "second").count(), 60);
    assert_eq!(names(&both.instances, "pool"), ["tiny-pool", "big", "big"]);

    let mut alone = tiny_dense_plan(60);
    alone.pools[0] = PoolRow {
        run: 0,
        name: "big".into(),
        chips: 2,
        instances: 2,
        kv_blocks: 20,
        ..Default::default()
    };
    let single = sim(&alone);
    let second: Vec<usize> = (0..run_names.len())
        .filter(|&k| run_names[k] == "second")
        .collect();
    for col in [
        "arrival_s",
        "first_scheduled_s",
        "first_token_s",
        "finish_s",
    ] {
        let all = f64s(&both.requests, col);
        let picked: Vec<f64> = second.iter().map(|&k| all[k]).collect();
        assert_eq!(picked, f64s(&single.requests, col), "{col}");
    }
}

// ---------------------------------------------------------------------------------------------------------
// Determinism

#[test]
fn simulation_is_deterministic() {
    let mut b = burst(150);
    b.pools[0].kv_blocks = 12;
    b.pools[0].instances = 2;
    b.pools[0].chips = 2;
    b.runs[0] = b.runs[0].clone().with_router("least_tokens");
    let batch = b.build();
    assert_eq!(batch, b.build(), "building is deterministic");
    let one = simulate_batch(&batch, SimOptions::default()).unwrap();
    let two = simulate_batch(&batch, SimOptions::default()).unwrap();
    assert_eq!(one.requests, two.requests);
    assert_eq!(one.iterations, two.iterations);
    assert_eq!(one.instances, two.instances);
    let plan = Plan::from_batch(&batch).unwrap();
    let three = simulate(&plan, SimOptions::default()).unwrap();
    assert_eq!(one.requests, three.requests);
    assert_eq!(one.iterations, three.iterations);
}

// ---------------------------------------------------------------------------------------------------------
// Closed-loop traffic

fn closed_plan(users: u32, think: f64, n: usize) -> PlanBuilder {
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

/// Most requests in the system at once, from arrival and finish times (a finish at the same instant as
/// an arrival counts first).
fn max_in_system(arrival: &[f64], finish: &[f64]) -> usize {
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

#[test]
fn closed_loop_keeps_at_most_users_requests_in_flight() {
    let (users, think, n) = (4u32, 0.002, 50usize);
    let b = closed_plan(users, think, n);
    let out = sim(&b);
    check_invariants(&b, &out);
    let r = &out.requests;
    assert_eq!(r.num_rows(), n, "every request is issued");
    let (arr, fin) = (f64s(r, "arrival_s"), f64s(r, "finish_s"));
    assert_eq!(max_in_system(&arr, &fin), users as usize);
    // The first `users` requests start at time zero; every later one arrives `think` after a finish.
    let mut a = arr.clone();
    a.sort_by(f64::total_cmp);
    assert!(a[..users as usize].iter().all(|&t| t == 0.0));
    assert!(a[users as usize] > 0.0);
    let mut f = fin.clone();
    f.sort_by(f64::total_cmp);
    for k in 0..n - users as usize {
        close(a[users as usize + k], f[k] + think, "closed-loop arrival");
    }
}

#[test]
fn closed_loop_with_more_users_than_requests_issues_all_at_once() {
    let b = closed_plan(100, 1.0, 10);
    let out = sim(&b);
    check_invariants(&b, &out);
    assert!(f64s(&out.requests, "arrival_s").iter().all(|&t| t == 0.0));
}

#[test]
fn closed_loop_stops_issuing_at_the_duration() {
    let mut b = closed_plan(2, 0.001, 1000);
    b.workloads[0].duration_s = 0.05;
    let out = sim(&b);
    let n = out.requests.num_rows();
    assert!(n > 2 && n < 1000, "{n} requests issued before the duration");
    assert!(f64s(&out.requests, "arrival_s").iter().all(|&t| t < 0.05));
    assert!(
        max_in_system(
            &f64s(&out.requests, "arrival_s"),
            &f64s(&out.requests, "finish_s")
        ) <= 2
    );
}

// ---------------------------------------------------------------------------------------------------------
// IPC round trip

#[test]
fn ipc_round_trip_gives_the_same_results() {
    let mut b = burst(60);
    b.pools[0].kv_blocks = 12;
    b.slo(0, "ttft", Some(50.0), 0.01);
    let batch = b.build();
    let path = std::env::temp_dir().join(format!(
        "infera-core-test-{}-roundtrip.arrow",
        std::process::id()
    ));
    builder::write_ipc(&batch, &path).unwrap();
    let read = Plan::read_ipc(&path);
    std::fs::remove_file(&path).unwrap();
    let plan = read.unwrap();
    let from_file = simulate(&plan, SimOptions::default()).unwrap();
    let direct = simulate_batch(&batch, SimOptions::default()).unwrap();
    assert_eq!(from_file.requests, direct.requests);
    assert_eq!(from_file.iterations, direct.iterations);
    assert_eq!(from_file.instances, direct.instances);
}

#[test]
fn reading_a_missing_or_garbage_file_is_an_error() {
    let dir = std::env::temp_dir();
    let missing = dir.join(format!(
        "infera-core-test-{}-missing.arrow",
        std::process::id()
    ));
    assert!(matches!(Plan::read_ipc(&missing), Err(InferaError::Io(_))));
    let garbage = dir.join(format!(
        "infera-core-test-{}-garbage.arrow",
        std::process::id()
    ));
    std::fs::write(&garbage, b"not an arrow file").unwrap();
    let res = Plan::read_ipc(&garbage);
    std::fs::remove_file(&garbage).unwrap();
    assert!(matches!(res, Err(InferaError::Arrow(_))), "{res:?}");
}

#[test]
fn ipc_file_with_two_batches_is_rejected() {
    let batch = tiny_dense_plan(2).build();
    let path =
        std::env::temp_dir().join(format!("infera-core-test-{}-two.arrow", std::process::id()));
    {
        let file = std::fs::File::create(&path).unwrap();
        let mut w = arrow_ipc::writer::FileWriter::try_new(file, &batch.schema()).unwrap();
        w.write(&batch).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
    }
    let res = Plan::read_ipc(&path);
    std::fs::remove_file(&path).unwrap();
    let msg = plan_msg(res);
    assert!(msg.contains("exactly one record batch"), "{msg}");
}

// ---------------------------------------------------------------------------------------------------------
// Plan validation: every malformed plan is an `InferaError::Plan` naming what is wrong.

fn plan_msg<T: std::fmt::Debug>(res: infera_core::Result<T>) -> String {
    match res {
        Err(InferaError::Plan(msg)) => msg,
        other => panic!("expected a plan error, got {other:?}"),
    }
}

/// Decodes `batch` (and simulates it, which must fail the same way); returns the plan error message and
/// checks that it mentions every one of `words`.
fn rejects(batch: &RecordBatch, words: &[&str]) -> String {
    let msg = plan_msg(Plan::from_batch(batch));
    let msg2 = plan_msg(simulate_batch(batch, SimOptions::default()));
    assert_eq!(msg, msg2);
    for w in words {
        assert!(msg.contains(w), "message {msg:?} does not mention {w:?}");
    }
    msg
}

/// `tiny_dense_plan(3)` with one change to its rows.
fn tweaked<R>(f: impl FnOnce(&mut PlanBuilder) -> R) -> RecordBatch {
    let mut b = tiny_dense_plan(3);
    f(&mut b);
    b.build()
}

/// `tiny_dense_plan(3)` with table `table` replaced by `f(table)`.
fn with_table(table: &str, f: impl FnOnce(StructArray) -> StructArray) -> RecordBatch {
    let mut f = Some(f);
    let tables = tiny_dense_plan(3)
        .tables()
        .into_iter()
        .map(|(n, t)| {
            if n == table {
                (n, (f.take().unwrap())(t))
            } else {
                (n, t)
            }
        })
        .collect();
    builder::pack(tables).unwrap()
}

/// A struct array with column `col` dropped, or replaced when `with` is given.
fn set_column(t: StructArray, col: &str, with: Option<ArrayRef>) -> StructArray {
    let (fields, arrays, nulls) = t.into_parts();
    let mut f2 = Vec::new();
    let mut a2 = Vec::new();
    for (f, a) in fields.iter().zip(arrays) {
        if f.name() == col {
            if let Some(w) = &with {
                f2.push(Field::new(col, w.data_type().clone(), true));
                a2.push(w.clone());
            }
        } else {
            f2.push(f.as_ref().clone());
            a2.push(a);
        }
    }
    StructArray::new(Fields::from(f2), a2, nulls)
}

/// The batch with its plan-level columns changed: `f` maps the (name, column) pairs.
fn with_columns(
    batch: &RecordBatch,
    f: impl FnOnce(Vec<(String, ArrayRef)>) -> Vec<(String, ArrayRef)>,
) -> RecordBatch {
    let cols: Vec<(String, ArrayRef)> = batch
        .schema()
        .fields()
        .iter()
        .map(|x| x.name().clone())
        .zip(batch.columns().iter().cloned())
        .collect();
    let cols = f(cols);
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(n, a.data_type().clone(), true))
        .collect();
    let schema = Schema::new_with_metadata(fields, batch.schema().metadata().clone());
    RecordBatch::try_new(Arc::new(schema), cols.into_iter().map(|(_, a)| a).collect()).unwrap()
}

#[test]
fn the_tiny_plan_is_valid() {
    let plan = Plan::from_batch(&tiny_dense_plan(3).build()).unwrap();
    assert_eq!(plan.workloads[0].prompt_tokens.len(), 3);
}

#[test]
fn rejects_missing_or_wrong_metadata() {
    let batch = tiny_dense_plan(3).build();
    let with_metadata = |md: HashMap<String, String>| {
        let schema = Schema::new_with_metadata(batch.schema().fields().clone(), md);
        RecordBatch::try_new(Arc::new(schema), batch.columns().to_vec()).unwrap()
    };
    rejects(&with_metadata(HashMap::new()), &["infera.plan_version"]);
    let other_key = HashMap::from([("plan_version".to_string(), "1".to_string())]);
    rejects(&with_metadata(other_key), &["infera.plan_version"]);
    let v2 = HashMap::from([("infera.plan_version".to_string(), "2".to_string())]);
    rejects(&with_metadata(v2), &["version 2", "not supported"]);
}

#[test]
fn rejects_more_than_one_row() {
    let batch = tiny_dense_plan(3).build();
    let two = with_columns(&batch, |cols| {
        cols.into_iter()
            .map(|(n, a)| {
                let list = a.as_list::<i32>();
                let values = list.values().clone();
                let mut offsets = OffsetBufferBuilder::<i32>::new(2);
                offsets.push_length(values.len());
                offsets.push_length(0);
                let DataType::List(item) = list.data_type().clone() else {
                    unreachable!()
                };
                (
                    n,
                    Arc::new(ListArray::try_new(item, offsets.finish(), values, None).unwrap())
                        as ArrayRef,
                )
            })
            .collect()
    });
    assert_eq!(two.num_rows(), 2);
    rejects(&two, &["exactly one row", "2"]);
}

#[test]
fn rejects_a_missing_table() {
    for table in [
        "chips",
        "engines",
        "models",
        "operators",
        "workloads",
        "requests",
        "runs",
        "pools",
        "slos",
    ] {
        let batch = tiny_dense_plan(3).build();
        let without = with_columns(&batch, |cols| {
            cols.into_iter().filter(|(n, _)| n != table).collect()
        });
        rejects(&without, &["no table", table]);
    }
}

#[test]
fn rejects_a_null_table_or_a_table_of_the_wrong_shape() {
    let batch = tiny_dense_plan(3).build();
    let null_slos = with_columns(&batch, |cols| {
        cols.into_iter()
            .map(|(n, a)| {
                if n == "slos" {
                    let DataType::List(item) = a.data_type().clone() else {
                        unreachable!()
                    };
                    (n, Arc::new(ListArray::new_null(item, 1)) as ArrayRef)
                } else {
                    (n, a)
                }
            })
            .collect()
    });
    rejects(&null_slos, &["'slos'", "missing"]);

    let not_a_list = with_columns(&batch, |cols| {
        cols.into_iter()
            .map(|(n, a)| {
                if n == "chips" {
                    (n, Arc::new(Int32Array::from(vec![1])) as ArrayRef)
                } else {
                    (n, a)
                }
            })
            .collect()
    });
    rejects(&not_a_list, &["'chips'", "list<struct>"]);

    let list_of_ints = with_columns(&batch, |cols| {
        cols.into_iter()
            .map(|(n, a)| {
                if n == "models" {
                    let item = Arc::new(Field::new("item", DataType::Int32, true));
                    let mut offsets = OffsetBufferBuilder::<i32>::new(1);
                    offsets.push_length(2);
                    let values = Arc::new(Int32Array::from(vec![1, 2]));
                    (
                        n,
                        Arc::new(ListArray::try_new(item, offsets.finish(), values, None).unwrap())
                            as ArrayRef,
                    )
                } else {
                    (n, a)
                }
            })
            .collect()
    });
    rejects(&list_of_ints, &["'models'", "struct"]);
}

#[test]
fn rejects_a_missing_column() {
    let cases = [
        ("chips", "memory_bw"),
        ("chips", "name"),
        ("engines", "flops"),
        ("models", "kv_bytes_per_token"),
        ("operators", "tp_shard"),
        ("operators", "bytes_per_kv_token"),
        ("workloads", "duration_s"),
        ("requests", "output_tokens"),
        ("runs", "decode_router"),
        ("pools", "kv_blocks"),
        ("pools", "policy"),
        ("slos", "threshold_s"),
    ];
    for (table, col) in cases {
        let batch = with_table(table, |t| set_column(t, col, None));
        let msg = rejects(&batch, &[table, col]);
        assert!(msg.contains("has no column"), "{msg}");
    }
}

#[test]
fn rejects_a_column_of_the_wrong_type() {
    let batch = with_table("chips", |t| {
        set_column(t, "name", Some(Arc::new(Float64Array::from(vec![1.0]))))
    });
    rejects(&batch, &["chips.name", "string"]);

    let batch = with_table("pools", |t| {
        set_column(
            t,
            "chunked_prefill",
            Some(Arc::new(UInt32Array::from(vec![1]))),
        )
    });
    rejects(&batch, &["pools.chunked_prefill", "boolean"]);

    let batch = with_table("engines", |t| {
        set_column(
            t,
            "flops",
            Some(Arc::new(StringArray::from(vec!["1e14", "1e13"]))),
        )
    });
    rejects(&batch, &["engines.flops", "numeric"]);

    let batch = with_table("requests", |t| {
        set_column(
            t,
            "prompt_tokens",
            Some(Arc::new(StringArray::from(vec!["a", "b", "c"]))),
        )
    });
    rejects(&batch, &["requests.prompt_tokens", "numeric"]);
}

#[test]
fn accepts_other_numeric_types_for_numeric_columns() {
    // pyarrow infers int64; any integer or float type is read.
    let batch = with_table("pools", |t| {
        set_column(t, "kv_blocks", Some(Arc::new(Int64Array::from(vec![1024]))))
    });
    assert_eq!(Plan::from_batch(&batch).unwrap().pools[0].kv_blocks, 1024);
    let batch = with_table("models", |t| {
        set_column(t, "layers", Some(Arc::new(Float64Array::from(vec![2.0]))))
    });
    assert_eq!(Plan::from_batch(&batch).unwrap().models[0].layers, 2);
    let batch = with_table("models", |t| {
        set_column(t, "layers", Some(Arc::new(Float64Array::from(vec![2.5]))))
    });
    rejects(&batch, &["models.layers", "whole number"]);
}

#[test]
fn rejects_nulls_in_required_columns() {
    let batch = with_table("requests", |t| {
        set_column(
            t,
            "prompt_tokens",
            Some(Arc::new(UInt32Array::from(vec![Some(5), None, Some(7)]))),
        )
    });
    rejects(&batch, &["requests.prompt_tokens", "row 1", "null"]);
    let batch = with_table("chips", |t| {
        set_column(
            t,
            "name",
            Some(Arc::new(StringArray::from(vec![None::<&str>]))),
        )
    });
    rejects(&batch, &["chips.name", "null"]);
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

#[test]
fn a_single_router_column_from_older_writers_sets_both_stages() {
    let batch = with_table("runs", |t| {
        let t = set_column(t, "decode_router", None);
        let t = set_column(t, "prefill_router", None);
        let (fields, mut arrays, nulls) = t.into_parts();
        let mut fields: Vec<Field> = fields.iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new("router", DataType::Utf8, false));
        arrays.push(Arc::new(StringArray::from(vec!["least_tokens"])));
        StructArray::new(Fields::from(fields), arrays, nulls)
    });
    let plan = Plan::from_batch(&batch).unwrap();
    let modern = Plan::from_batch(&tweaked(|b| {
        b.runs[0] = b.runs[0].clone().with_router("least_tokens")
    }))
    .unwrap();
    assert_eq!(
        format!("{:?}", plan.runs[0]),
        format!("{:?}", modern.runs[0])
    );
    let out = simulate(&plan, SimOptions::default()).unwrap();
    assert_eq!(
        out.requests,
        simulate(&modern, SimOptions::default()).unwrap().requests
    );
}

// ---------------------------------------------------------------------------------------------------------
// A sweep over scheduler configurations and traffic shapes (deterministic pseudo-random)

/// SplitMix64: a small deterministic generator for the sweep.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn sweep_plan(seed: u64) -> PlanBuilder {
    let mut g = Mix(seed);
    let n = 20 + g.below(60) as usize;
    let mut b = tiny_dense_plan(n);
    let mut max_ctx = 0u64;
    let burst = g.below(3) == 0;
    for (k, q) in b.requests.iter_mut().enumerate() {
        let (long_prompt, long_output) = (g.below(4) == 0, g.below(4) == 0);
        q.prompt_tokens = 1 + g.below(if long_prompt { 400 } else { 60 }) as u32;
        q.output_tokens = 1 + g.below(if long_output { 200 } else { 20 }) as u32;
        q.arrival_s = Some(if burst {
            0.0
        } else {
            k as f64 * 1e-4 * g.below(20) as f64
        });
        max_ctx = max_ctx.max(q.prompt_tokens as u64 + q.output_tokens as u64);
    }
    if g.below(3) == 0 {
        b.workloads[0].kind = "closed".into();
        b.workloads[0].users = 1 + g.below(12) as u32;
        b.workloads[0].think_time_s = [0.0, 1e-4, 1e-2][g.below(3) as usize];
        for q in &mut b.requests {
            q.arrival_s = None;
        }
    }
    let p = &mut b.pools[0];
    p.block_size = [1, 4, 16, 32][g.below(4) as usize];
    let min_blocks = max_ctx.div_ceil(p.block_size as u64) as u32;
    let tight = g.below(2) == 0;
    p.kv_blocks = min_blocks + g.below(if tight { 3 } else { 3 * min_blocks as u64 }) as u32;
    p.chunked_prefill = g.below(3) != 0;
    p.max_batched_tokens = if p.chunked_prefill {
        1 + g.below(600) as u32
    } else {
        max_ctx as u32 + g.below(300) as u32
    };
    p.max_batch = 1 + g.below(40) as u32;
    p.policy = g.pick(&["decode_first", "prefill_first"]).into();
    p.instances = 1 + g.below(3) as u32;
    p.tp = 1 + g.below(2) as u32;
    p.chips = p.instances * p.tp;
    b.runs[0] =
        b.runs[0]
            .clone()
            .with_router(g.pick(&["round_robin", "least_tokens", "power_of_two"]));
    b.runs[0].seed = g.next();
    b
}

#[test]
fn sweep_of_configurations_keeps_the_invariants() {
    let seeds: u64 = std::env::var("INFERA_SWEEP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    let mut preempted = 0;
    for seed in 0..seeds {
        let b = sweep_plan(seed);
        let out = match simulate_batch(&b.build(), SimOptions::default()) {
            Ok(out) => out,
            Err(e) => panic!("sweep seed {seed}: {e}\n{:?}", b.pools[0]),
        };
        check_invariants(&b, &out);
        if u32s(&out.requests, "preemptions").iter().any(|&p| p > 0) {
            preempted += 1;
        }
        if b.workloads[0].kind == "closed" {
            let r = &out.requests;
            let users = b.workloads[0].users as usize;
            assert_eq!(
                max_in_system(&f64s(r, "arrival_s"), &f64s(r, "finish_s")),
                users.min(b.requests.len()),
                "seed {seed}"
            );
        }
    }
    // The sweep is meant to stress the KV cache: a good share of its plans preempt.
    assert!(
        preempted * 5 >= seeds,
        "only {preempted} of {seeds} plans preempted"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Disaggregated prefill and decode pools

/// `single_request_plan` with its pool split into a prefill pool `pre` and a decode pool `dec` (same chip),
/// joined by a 10 GB/s link with 50 µs latency.
fn disaggregated(arrival: f64, prompt: u32, output: u32) -> PlanBuilder {
    let mut b = single_request_plan(arrival, prompt, output);
    b.pools[0].name = "pre".into();
    b.pools[0].role = "prefill".into();
    let dec = PoolRow {
        name: "dec".into(),
        role: "decode".into(),
        step_overhead_s: 1e-4,
        ..b.pools[0].clone()
    };
    b.pool(dec);
    b.link(0, 1, 1e10, 5e-5);
    b
}

fn pool_cost(b: &PlanBuilder, pool: usize) -> StepCost {
    let plan = Plan::from_batch(&b.build()).unwrap();
    let p = &plan.pools[pool];
    StepCost::new(&plan.models[plan.runs[p.run].model], &plan.chips[p.chip], p)
}

#[test]
fn disaggregated_request_prefills_moves_its_kv_cache_then_decodes() {
    let (arrival, prompt, output) = (0.1, 30u32, 5u32);
    let b = disaggregated(arrival, prompt, output);
    let (pre, dec) = (pool_cost(&b, 0), pool_cost(&b, 1));
    let out = sim(&b);
    let r = &out.requests;
    let p = prompt as f64;
    let prefill = pre.step_seconds(&prefill_stats(0.0, p, true));
    // 4e4 B of KV per token × 30 tokens over 10 GB/s, plus the latency.
    let transfer = 4e4 * p / 1e10 + 5e-5;
    let decodes: f64 = (0..output - 1)
        .map(|k| dec.step_seconds(&decode_stats(p + k as f64)))
        .sum();
    close(
        f64s(r, "first_token_s")[0],
        arrival + prefill,
        "first token",
    );
    close(f64s(r, "kv_transfer_s")[0], transfer, "transfer time");
    assert_eq!(f64s(r, "kv_wait_s"), [0.0]);
    close(
        f64s(r, "finish_s")[0],
        arrival + prefill + transfer + decodes,
        "finish",
    );
    assert_eq!(names(r, "prefill_pool"), ["pre"]);
    assert_eq!(names(r, "decode_pool"), ["dec"]);
    assert_eq!(u32s(r, "transfers"), [1]);
    assert_eq!(u32s(r, "prefills"), [1]);
    let it = &out.iterations;
    assert_eq!(names(it, "pool"), ["pre", "dec", "dec", "dec", "dec"]);
    assert_eq!(u32s(it, "prefill_tokens"), [30, 0, 0, 0, 0]);
    assert_eq!(u32s(it, "decode_tokens"), [0, 1, 1, 1, 1]);
}

#[test]
fn disaggregated_single_token_request_never_moves() {
    let b = disaggregated(0.0, 30, 1);
    let out = sim(&b);
    let r = &out.requests;
    assert_eq!(u32s(r, "transfers"), [0]);
    assert_eq!(f64s(r, "finish_s"), f64s(r, "first_token_s"));
    assert_eq!(out.iterations.num_rows(), 1);
}

fn disaggregated_sweep_plan(seed: u64) -> PlanBuilder {
    let mut b = sweep_plan(seed);
    let mut g = Mix(seed ^ 0xD15A);
    let mixed = b.pools[0].clone();
    b.pools[0].name = "pre".into();
    b.pools[0].role = "prefill".into();
    let mut dec = PoolRow {
        name: "dec".into(),
        role: "decode".into(),
        ..mixed.clone()
    };
    dec.instances = 1 + g.below(3) as u32;
    dec.chips = dec.instances * dec.tp;
    dec.max_batch = 1 + g.below(40) as u32;
    b.pool(dec);
    b.link(0, 1, [1e9, 1e11][g.below(2) as usize], 1e-5);
    if g.below(2) == 0 {
        // A mixed pool alongside.
        b.pool(PoolRow {
            name: "mix".into(),
            ..mixed
        });
    }
    b.runs[0].decode_router = g
        .pick(&["round_robin", "least_tokens", "power_of_two"])
        .into();
    b
}

#[test]
fn disaggregated_sweep_keeps_the_invariants() {
    let seeds: u64 = std::env::var("INFERA_SWEEP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    for seed in 0..seeds {
        let b = disaggregated_sweep_plan(seed);
        let out = match simulate_batch(&b.build(), SimOptions::default()) {
            Ok(out) => out,
            Err(e) => panic!("sweep seed {seed}: {e}\n{:?}", b.pools),
        };
        check_invariants(&b, &out);
        let r = &out.requests;
        let (pools, outputs, transfers) = (
            names(r, "decode_pool"),
            u32s(r, "output_tokens"),
            u32s(r, "transfers"),
        );
        for k in 0..r.num_rows() {
            if names(r, "prefill_pool")[k] == "pre" && outputs[k] > 1 {
                assert_eq!(
                    pools[k], "dec",
                    "seed {seed}: a request prefilled on 'pre' decodes on 'dec'"
                );
                assert!(transfers[k] >= 1, "seed {seed}");
            }
        }
    }
}
