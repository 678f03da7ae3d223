//! Many requests: every one finishes within the KV capacity under every scheduler configuration, routers
//! spread them, outputs can be turned off, SLO flags follow thresholds, runs are independent, and the
//! simulation is deterministic.

use arrow_array::Array;

use infera_core::builder::{tiny_dense_plan, PlanBuilder, PoolRow, RunRow};
use infera_core::{simulate, simulate_batch, Plan, SimOptions};

use crate::common::{
    bools, burst, check_invariants, f64s, names, sim, single_request_plan, u32s, u64s,
};

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
