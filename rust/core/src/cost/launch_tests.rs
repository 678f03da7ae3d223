//! Graph replay against eager launches (`launch.rs`, docs/cost-model.md "Graphs and eager steps"), by hand.
use super::{StepCost, StepStats};
use crate::plan::builder::{single_pool, ChipRow, ModelRow, OperatorRow, PoolRow};
use crate::plan::{Plan, Pool};
use crate::test_support::close;

/// One chip (1 TB/s, 1e15 FLOP/s), a model of one operator that runs 10 times per step and reads 1e6 B of
/// weights each time (1 µs) plus 1 kFLOP per token, and a one-chip pool with a 0.1 ms step overhead.
fn plan() -> Plan {
    let chip = ChipRow {
        name: "c".into(),
        memory_bw: 1e12,
        memory_efficiency: 1.0,
        ..Default::default()
    };
    let ops = vec![OperatorRow {
        name: "mm".into(),
        engine: "tensor".into(),
        count: 10.0,
        flops_per_token: 1e3,
        weight_bytes: 1e6,
        ..Default::default()
    }];
    let pool = PoolRow {
        step_overhead_s: 1e-4,
        ..Default::default()
    };
    let engines = [("tensor", "bf16", 1e15, 1.0)];
    Plan::from_batch(&single_pool(chip, &engines, ModelRow::default(), ops, pool).build())
        .expect("test plan is valid")
}

fn cost(set: impl FnOnce(&mut Pool)) -> StepCost {
    let p = plan();
    let mut pool = p.pools[0].clone();
    set(&mut pool);
    StepCost::new(&p.models[0], &p.chips[0], &pool)
}

/// `cost` with the operator made compute-bound (1e12 FLOP per token per occurrence, no weights), so that a
/// step's time is proportional to its tokens: `PER_TOKEN` seconds each, plus the 0.1 ms overhead.
fn compute_bound(set: impl FnOnce(&mut Pool)) -> StepCost {
    let p = plan();
    let mut pool = p.pools[0].clone();
    set(&mut pool);
    let mut model = p.models[0].clone();
    model.operators[0].flops_per_token = 1e12;
    model.operators[0].weight_bytes = 0.0;
    StepCost::new(&model, &p.chips[0], &pool)
}

const PER_TOKEN: f64 = 10.0 * 1e12 / 1e15;

fn step(tokens: f64, sampled: f64) -> StepStats {
    StepStats {
        tokens,
        sampled,
        ..Default::default()
    }
}

#[test]
fn graphed_steps_cost_the_gpu_time_and_eager_ones_wait_on_the_cpu() {
    // Captured up to 64 tokens, decode-only; 20 µs of CPU per operator launched eagerly: 10 × 20 µs = 0.2 ms.
    let c = cost(|p| {
        p.graph_max_tokens = 64;
        p.graph_prefill = false;
        p.eager_launch_s = 20e-6;
    });
    let gpu = |t: f64| 10.0 * (1e6 / 1e12_f64).max(1e3 * t / 10.0 / 1e15);
    // A decode-only step of 32 tokens replays the graph: overhead + 10 × 1 µs.
    close(c.step_seconds(&step(32.0, 32.0)), 1e-4 + gpu(32.0));
    // A step with a prefill chunk runs eagerly: the CPU's 0.2 ms outlasts the GPU's 10 µs.
    close(c.step_seconds(&step(32.0, 1.0)), 1e-4 + 2e-4);
    // So does a decode-only step past the largest captured size.
    close(c.step_seconds(&step(100.0, 100.0)), 1e-4 + 2e-4);
    // Prefill may replay piecewise graphs where the stack captures them.
    let piecewise = cost(|p| {
        p.graph_max_tokens = 64;
        p.eager_launch_s = 20e-6;
    });
    close(piecewise.step_seconds(&step(32.0, 1.0)), 1e-4 + gpu(32.0));
}

#[test]
fn without_a_launch_cost_every_step_is_priced_as_before() {
    let plain = cost(|_| {});
    let limited = cost(|p| {
        p.graph_max_tokens = 1;
        p.graph_prefill = false;
    });
    for s in [step(1.0, 1.0), step(512.0, 3.0), step(1e5, 1.0)] {
        assert_eq!(plain.step_seconds(&s), limited.step_seconds(&s));
    }
}

#[test]
fn an_eager_step_slower_on_the_gpu_than_its_launches_costs_the_gpu_time() {
    // 1e9 tokens × 1 kFLOP / 1e15 FLOP/s = 1 ms per occurrence, far above the 20 µs launch.
    let c = cost(|p| {
        p.graph_max_tokens = 0;
        p.eager_launch_s = 20e-6;
    });
    close(c.step_seconds(&step(1e9, 1.0)), 1e-4 + 10.0 * 1e-3);
}

#[test]
fn a_graphed_decode_batch_is_priced_at_its_padded_size() {
    let c = compute_bound(|p| {
        p.graph_max_tokens = 256;
        p.graph_pad_tokens = 8;
    });
    // 33 decodes replay the graph captured for 40.
    close(c.step_seconds(&step(33.0, 33.0)), 1e-4 + 40.0 * PER_TOKEN);
    close(c.step_seconds(&step(40.0, 40.0)), 1e-4 + 40.0 * PER_TOKEN);
    // A step with a prefill chunk, or one past the largest graph, is not padded.
    close(c.step_seconds(&step(33.0, 1.0)), 1e-4 + 33.0 * PER_TOKEN);
    close(
        c.step_seconds(&step(300.0, 300.0)),
        1e-4 + 300.0 * PER_TOKEN,
    );
}

#[test]
fn under_attention_dp_the_capture_limit_and_padding_are_per_rank() {
    // 4 ranks, graphs captured up to 64 tokens each in steps of 8: a 200-token decode batch is 50 per rank,
    // replayed as 56 per rank; 300 (75 per rank) is past every rank's graphs and waits on the launches.
    let p = plan();
    let mut pool = p.pools[0].clone();
    pool.tp = 4;
    pool.dp_attention = 4;
    pool.graph_max_tokens = 64;
    pool.graph_prefill = false;
    pool.graph_pad_tokens = 8;
    pool.eager_launch_s = 1e-3;
    let mut model = p.models[0].clone();
    // 1e9 FLOP per token per occurrence: the GPU's time, proportional to the tokens, stays far below the
    // launches' 10 ms.
    model.operators[0].flops_per_token = 1e9;
    model.operators[0].weight_bytes = 0.0;
    let dp = StepCost::new(&model, &p.chips[0], &pool);
    pool.dp_attention = 1;
    let plain = StepCost::new(&model, &p.chips[0], &pool);
    // Without attention DP the same 200 decodes are past the 64-token graphs: 10 launches of 1 ms.
    assert!(plain.step_seconds(&step(200.0, 200.0)) >= 1e-4 + 10.0 * 1e-3);
    let graphed = dp.step_seconds(&step(200.0, 200.0));
    assert!(graphed < 1e-4 + 10.0 * 1e-3, "{graphed}");
    // Padded per rank: priced as 224 tokens, above the 200 of the batch itself.
    close(graphed, dp.step_seconds(&step(224.0, 224.0)));
    assert!(graphed > dp.step_seconds(&step(192.0, 192.0)));
    assert!(dp.step_seconds(&step(300.0, 300.0)) >= 1e-4 + 10.0 * 1e-3);
}

#[test]
fn below_the_padding_step_a_batch_replays_the_next_power_of_two() {
    let c = compute_bound(|p| {
        p.graph_max_tokens = 256;
        p.graph_pad_tokens = 8;
    });
    for (batch, captured) in [
        (1.0, 1.0),
        (2.0, 2.0),
        (3.0, 4.0),
        (4.0, 4.0),
        (5.0, 8.0),
        (9.0, 16.0),
    ] {
        close(
            c.step_seconds(&step(batch, batch)),
            1e-4 + captured * PER_TOKEN,
        );
    }
}

#[test]
fn a_batch_near_the_capture_limit_pads_to_the_limit_not_past_it() {
    // Graphs up to 35 tokens in steps of 8: 34 decodes replay the graph of 35 (not 40, which was never
    // captured), and 36 run eagerly.
    let c = compute_bound(|p| {
        p.graph_max_tokens = 35;
        p.graph_pad_tokens = 8;
        p.graph_prefill = false;
        p.eager_launch_s = 1.0;
    });
    close(c.step_seconds(&step(34.0, 34.0)), 1e-4 + 35.0 * PER_TOKEN);
    assert!(c.step_seconds(&step(36.0, 36.0)) >= 10.0);
}
