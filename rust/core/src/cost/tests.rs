//! Plans are built with [`crate::plan::builder`] and decoded, so these tests follow the plan structs as they
//! grow; the expected step times are worked out by hand.
use super::{StepCost, StepStats};
use crate::plan::builder::{single_pool, ChipRow, ModelRow, OperatorRow, PoolRow};
use crate::plan::Plan;
use crate::test_support::close;

type EngineSpec = (&'static str, &'static str, f64, f64);

const BF16_TENSOR: EngineSpec = ("tensor", "bf16", 1e15, 0.5);
const FP8_TENSOR: EngineSpec = ("tensor", "fp8", 2e15, 0.5);
const BF16_VECTOR: EngineSpec = ("vector", "bf16", 1e12, 1.0);

/// A decoded plan: one chip (1 TB/s at 80 % memory efficiency, 100 GB/s links with 2 µs latency,
/// 700 W busy) with `engines` (kind, dtype, FLOP/s, efficiency), one model with `kv_heads` KV heads and
/// operators `ops`, one pool of one instance of `tp` chips with step overhead `overhead`.
fn plan(
    engines: &[EngineSpec],
    kv_heads: u32,
    ops: Vec<OperatorRow>,
    tp: u32,
    overhead: f64,
) -> Plan {
    let chip = ChipRow {
        name: "c".into(),
        memory_bytes: 80e9,
        memory_bw: 1e12,
        memory_efficiency: 0.8,
        link_bw: 1e11,
        link_latency_s: 2e-6,
        power_busy_w: 700.0,
        power_idle_w: 100.0,
        price_per_hour: 2.0,
        kernel_overhead_s: 0.0,
        ..Default::default()
    };
    let model = ModelRow {
        kv_heads,
        ..Default::default()
    };
    let pool = PoolRow {
        chips: tp,
        tp,
        step_overhead_s: overhead,
        ..Default::default()
    };
    let b = single_pool(chip, engines, model, ops, pool);
    Plan::from_batch(&b.build()).expect("test plan is valid")
}

fn cost(
    engines: &[EngineSpec],
    kv_heads: u32,
    ops: Vec<OperatorRow>,
    tp: u32,
    overhead: f64,
) -> StepCost {
    let p = plan(engines, kv_heads, ops, tp, overhead);
    StepCost::new(&p.models[0], &p.chips[0], &p.pools[0])
}

fn op(name: &str, engine: &str, dtype: &str, count: f64) -> OperatorRow {
    OperatorRow {
        name: name.into(),
        engine: engine.into(),
        dtype: dtype.into(),
        count,
        ..Default::default()
    }
}

fn stats(tokens: f64, sampled: f64, attn_pairs: f64, kv_read_tokens: f64) -> StepStats {
    StepStats {
        tokens,
        sampled,
        attn_pairs,
        kv_read_tokens,
        ..Default::default()
    }
}

/// A tensor-engine matmul: 2 per step, 1 GFLOP and 1 kB of activations per token, 1 MB of weights.
fn matmul() -> OperatorRow {
    OperatorRow {
        flops_per_token: 1e9,
        weight_bytes: 1e6,
        bytes_per_token: 1e3,
        ..op("mm", "tensor", "bf16", 2.0)
    }
}

#[test]
fn compute_bound_step_is_flops_over_effective_peak_plus_overhead() {
    let c = cost(&[BF16_TENSOR], 8, vec![matmul()], 1, 1e-4);
    // flops = 2 × 1e9 × 1000 = 2e12 at 5e14 FLOP/s = 4 ms; bytes = 2 × (1e6 + 1e3 × 1000) = 4e6 at
    // 8e11 B/s = 5 µs. Compute wins.
    close(c.step_seconds(&stats(1000.0, 10.0, 0.0, 0.0)), 1e-4 + 4e-3);
}

#[test]
fn memory_bound_step_is_bytes_over_effective_bandwidth_plus_overhead() {
    let heavy = OperatorRow {
        weight_bytes: 1e9,
        ..matmul()
    };
    let c = cost(&[BF16_TENSOR], 8, vec![heavy], 1, 1e-4);
    // One decode token: flops = 2e9 → 4 µs; bytes = 2 × (1e9 + 1e3) = 2.000002e9 at 8e11 B/s = 2.5 ms.
    close(
        c.step_seconds(&stats(1.0, 1.0, 2.0, 2.0)),
        1e-4 + 2.000002e9 / 8e11,
    );
}

#[test]
fn operators_are_priced_separately_and_summed() {
    let attn = OperatorRow {
        flops_per_attn_pair: 100.0,
        bytes_per_kv_token: 50.0,
        ..op("attn", "tensor", "bf16", 3.0)
    };
    let head = OperatorRow {
        flops_per_sampled: 1e6,
        bytes_per_sampled: 2e3,
        tp_shard: false,
        ..op("head", "vector", "bf16", 1.0)
    };
    let c = cost(
        &[BF16_TENSOR, BF16_VECTOR],
        8,
        vec![matmul(), attn, head],
        1,
        0.0,
    );
    let s = stats(100.0, 4.0, 5e6, 3e3);
    // matmul: 2e11 FLOP → 0.4 ms; 2 × (1e6 + 1e5) B → 2.75 µs.
    let mm = (2.0 * 1e9 * 100.0 / 5e14_f64).max(2.0 * (1e6 + 1e3 * 100.0) / 8e11);
    // attention: 3 × 100 × 5e6 = 1.5e9 FLOP → 3 µs; 3 × 50 × 3e3 = 4.5e5 B → 0.5625 µs.
    let at = (1.5e9 / 5e14_f64).max(4.5e5 / 8e11);
    // head on the vector engine: 4e6 FLOP at 1e12 → 4 µs; 8e3 B → 10 ns.
    let hd = (4e6 / 1e12_f64).max(8e3 / 8e11);
    close(c.step_seconds(&s), mm + at + hd);
    close(c.step_seconds(&s), 4e-4 + 3e-6 + 4e-6);
}

#[test]
fn kernel_overhead_is_added_per_compute_occurrence_not_to_collectives() {
    let ar = OperatorRow {
        bytes_per_token: 1e4,
        tp_shard: false,
        ..op("ar", "collective", "bf16", 4.0)
    };
    let norm = OperatorRow {
        flops_per_token: 10.0,
        tp_shard: false,
        ..op("norm", "vector", "bf16", 3.0)
    };
    let at = |kernel: f64| {
        let chip = ChipRow {
            memory_bw: 1e12,
            memory_efficiency: 0.8,
            link_bw: 1e11,
            link_latency_s: 2e-6,
            kernel_overhead_s: kernel,
            ..Default::default()
        };
        let pool = PoolRow {
            chips: 2,
            tp: 2,
            step_overhead_s: 1e-4,
            ..Default::default()
        };
        let ops = vec![matmul(), norm.clone(), ar.clone()];
        let b = single_pool(
            chip,
            &[BF16_TENSOR, BF16_VECTOR],
            ModelRow::default(),
            ops,
            pool,
        );
        let p = Plan::from_batch(&b.build()).expect("valid");
        assert_eq!(p.chips[0].kernel_overhead_s, kernel);
        StepCost::new(&p.models[0], &p.chips[0], &p.pools[0])
    };
    let s = stats(16.0, 1.0, 0.0, 0.0);
    // 2 matmul and 3 norm occurrences per step: 5 kernels; the 4 all-reduces keep their ring price.
    close(
        at(5e-6).step_seconds(&s) - at(0.0).step_seconds(&s),
        5.0 * 5e-6,
    );
    // Without any work in the step nothing is charged (an empty step costs nothing).
    assert_eq!(at(5e-6).step_seconds(&StepStats::default()), 0.0);
}

#[test]
fn empty_step_costs_nothing_even_with_overhead() {
    let c = cost(&[BF16_TENSOR], 8, vec![matmul()], 1, 1e-3);
    assert_eq!(c.step_seconds(&StepStats::default()), 0.0);
    assert_eq!(c.step_seconds(&stats(0.0, 0.0, 0.0, 0.0)), 0.0);
}

#[test]
fn all_reduce_time_takes_the_fastest_algorithm() {
    let at = |tp: u32| cost(&[BF16_TENSOR], 8, vec![matmul()], tp, 0.0);
    let bytes = 4e6;
    assert_eq!(at(1).all_reduce_s(bytes), 0.0);
    assert_eq!(at(2).all_reduce_s(0.0), 0.0);
    // p = 2: one-shot, 1 × bytes / link_bw + latency (the ring and two-shot take 4.4e-5 s).
    close(at(2).all_reduce_s(bytes), 4e6 / 1e11 + 2e-6);
    // p = 4: two-shot, 2 × (3/4 × bytes / link_bw + latency) (ring 7.2e-5 s, one-shot 1.22e-4 s).
    close(at(4).all_reduce_s(bytes), 2.0 * (0.75 * 4e6 / 1e11 + 2e-6));
    // p = 8: two-shot again (ring 9.8e-5 s, one-shot 2.82e-4 s).
    close(at(8).all_reduce_s(bytes), 2.0 * (0.875 * 4e6 / 1e11 + 2e-6));
    // A small message: one-shot beats the ring's 2 (p-1) latencies (14 × 2e-6 s at p = 8).
    close(at(8).all_reduce_s(1e3), 7.0 * 1e3 / 1e11 + 2e-6);
    // A large one: the ring moves the least data per chip, and two-shot matches it with fewer latencies.
    close(at(8).all_reduce_s(1e9), 2.0 * (0.875 * 1e9 / 1e11 + 2e-6));
}

#[test]
fn tensor_parallel_step_shards_work_and_adds_all_reduces() {
    let attn = OperatorRow {
        flops_per_attn_pair: 100.0,
        bytes_per_kv_token: 1e3,
        ..op("attn", "tensor", "bf16", 2.0)
    };
    let ar = OperatorRow {
        bytes_per_token: 1e4,
        tp_shard: false,
        ..op("ar", "collective", "bf16", 4.0)
    };
    let ops = vec![matmul(), attn, ar];
    let s = stats(1000.0, 1.0, 1e6, 2e5);
    let tokens = 1000.0;

    let one = cost(&[BF16_TENSOR], 8, ops.clone(), 1, 1e-4);
    let mm1 = (2.0 * 1e9 * tokens / 5e14_f64).max(2.0 * (1e6 + 1e3 * tokens) / 8e11);
    let at1 = (2.0 * 100.0 * 1e6 / 5e14_f64).max(2.0 * 1e3 * 2e5 / 8e11);
    // tp = 1: the collective costs nothing.
    close(one.step_seconds(&s), 1e-4 + mm1 + at1);

    let two = cost(&[BF16_TENSOR], 8, ops, 2, 1e-4);
    // Sharded operators do half the work per chip; KV heads (8) split two ways as well.
    let mm2 = (1e9 * tokens / 5e14_f64).max((1e6 + 1e3 * tokens) / 8e11);
    let at2 = (100.0 * 1e6 / 5e14_f64).max(1e3 * 2e5 / 8e11);
    // Four all-reduces of the full activations (1e4 B × 1000 tokens = 1e7 B), p = 2.
    // p = 2: one-shot, 1e7 / 1e11 + 2e-6 = 1.02e-4 s (the ring takes 1.04e-4 s).
    let ar = 1e7 / 1e11 + 2e-6;
    close(two.step_seconds(&s), 1e-4 + mm2 + at2 + 4.0 * ar);
    close(two.step_seconds(&s), 1e-4 + 2e-3 + 2.5e-4 + 4.0 * 1.02e-4);
    assert_eq!(two.instance_power_w, 1400.0);
    assert_eq!(one.instance_power_w, 700.0);
}

#[test]
fn kv_reads_are_not_split_finer_than_one_head_per_chip() {
    let attn = OperatorRow {
        bytes_per_kv_token: 1e3,
        ..op("attn", "tensor", "bf16", 1.0)
    };
    let s = stats(1.0, 1.0, 1.0, 1e6);
    let tp4 = |kv_heads: u32| {
        cost(
            &[("tensor", "bf16", 1e15, 1.0)],
            kv_heads,
            vec![attn.clone()],
            4,
            0.0,
        )
    };
    // One KV head: every chip of a tp = 4 group reads the whole cache (1e9 B at 8e11 B/s).
    close(tp4(1).step_seconds(&s), 1e9 / 8e11);
    // Two KV heads over four chips: split two ways; eight heads: four ways.
    close(tp4(2).step_seconds(&s), 0.5e9 / 8e11);
    close(tp4(8).step_seconds(&s), 0.25e9 / 8e11);
}

#[test]
fn unsharded_operators_are_replicated_under_tensor_parallelism() {
    let norm = OperatorRow {
        flops_per_token: 1e3,
        weight_bytes: 1e6,
        tp_shard: false,
        ..op("norm", "vector", "bf16", 2.0)
    };
    let s = stats(1e4, 1.0, 0.0, 0.0);
    let expect = (2.0 * 1e3 * 1e4 / 1e12_f64).max(2.0 * 1e6 / 8e11);
    close(
        cost(&[BF16_VECTOR], 8, vec![norm.clone()], 1, 0.0).step_seconds(&s),
        expect,
    );
    close(
        cost(&[BF16_VECTOR], 8, vec![norm], 4, 0.0).step_seconds(&s),
        expect,
    );
}

#[test]
fn fp8_operator_on_a_chip_without_fp8_runs_at_the_bf16_rate() {
    let fp8_mm = OperatorRow {
        dtype: "fp8".into(),
        ..matmul()
    };
    let s = stats(1000.0, 1.0, 0.0, 0.0);
    // 2e12 FLOP at the bf16 rate (5e14) and at the fp8 rate (1e15).
    close(
        cost(&[BF16_TENSOR], 8, vec![fp8_mm.clone()], 1, 0.0).step_seconds(&s),
        2e12 / 5e14,
    );
    close(
        cost(&[BF16_TENSOR, FP8_TENSOR], 8, vec![fp8_mm], 1, 0.0).step_seconds(&s),
        2e12 / 1e15,
    );
}

#[test]
fn the_per_layer_overhead_adds_once_per_layer_of_a_step() {
    let p = plan(&[BF16_TENSOR], 8, vec![matmul()], 1, 1e-4);
    let mut model = p.models[0].clone();
    model.layers = 10;
    let mut pool = p.pools[0].clone();
    let s = stats(1000.0, 10.0, 0.0, 0.0);
    let base = StepCost::new(&model, &p.chips[0], &pool).step_seconds(&s);
    pool.step_overhead_per_layer_s = 5e-6;
    let with = StepCost::new(&model, &p.chips[0], &pool);
    // 10 layers × 5 µs on top of the step; an empty step still costs nothing.
    close(with.step_seconds(&s) - base, 10.0 * 5e-6);
    close(with.step_seconds(&stats(0.0, 0.0, 0.0, 0.0)), 0.0);
}
