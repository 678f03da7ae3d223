//! Kernel efficiency by shape (`efficiency.rs`): each curve at a few shapes against hand-counted times, the
//! all-zero shape giving the plain roofline exactly, and a small-M matmul priced slower per FLOP.
use super::{StepCost, StepStats};
use crate::plan::builder::{single_pool, ChipRow, ModelRow, OperatorRow, PoolRow};
use crate::plan::{KernelShape, Plan};
use crate::test_support::close;

/// One chip (1 TB/s memory at efficiency 0.5, a 1e15 FLOP/s bf16 tensor engine at 0.5 and a 1e13 vector
/// engine), no kernel overhead, a pool of one chip with no step overhead, and operators `ops`.
fn cost(ops: Vec<OperatorRow>, kernels: KernelShape) -> StepCost {
    let chip = ChipRow {
        memory_bw: 1e12,
        memory_efficiency: 0.5,
        kernels,
        ..Default::default()
    };
    let pool = PoolRow {
        chips: 1,
        tp: 1,
        step_overhead_s: 0.0,
        ..Default::default()
    };
    let engines = [("tensor", "bf16", 1e15, 0.5), ("vector", "bf16", 1e13, 0.5)];
    let p = Plan::from_batch(&single_pool(chip, &engines, ModelRow::default(), ops, pool).build())
        .expect("test plan is valid");
    StepCost::new(&p.models[0], &p.chips[0], &p.pools[0])
}

/// A matmul of 2e9 FLOPs per token over 1e8 weight bytes.
fn matmul() -> OperatorRow {
    OperatorRow {
        name: "mm".into(),
        flops_per_token: 2e9,
        weight_bytes: 1e8,
        ..Default::default()
    }
}

/// Attention: 1e5 FLOPs per query-key pair, 1e3 KV bytes per context token.
fn attention() -> OperatorRow {
    OperatorRow {
        name: "attention".into(),
        flops_per_attn_pair: 1e5,
        bytes_per_kv_token: 1e3,
        ..Default::default()
    }
}

fn tokens(t: f64) -> StepStats {
    StepStats {
        tokens: t,
        ..Default::default()
    }
}

#[test]
fn matmul_compute_pads_half_tokens_rows_per_kernel() {
    let k = KernelShape {
        gemm_half_tokens: 100.0,
        ..Default::default()
    };
    let c = cost(vec![matmul()], k);
    // 1000 tokens: 2e9 × (1000 + 100) FLOP at 1e15 × 0.5 = 4.4 ms (memory: 1e8 B at 5e11 = 0.2 ms).
    close(c.step_seconds(&tokens(1000.0)), 2e9 * 1100.0 / 5e14);
    // 100 tokens: compute at half the peak rate, 2e9 × 200 / 5e14 = 0.8 ms, still above memory.
    close(c.step_seconds(&tokens(100.0)), 0.8e-3);
    // 10 tokens: 2e9 × 110 / 5e14 = 0.44 ms, memory 0.2 ms: the padded compute still wins.
    close(c.step_seconds(&tokens(10.0)), 0.44e-3);
    // One token: 0.404 ms of padded compute against 0.2 ms of weights.
    close(c.step_seconds(&tokens(1.0)), 2e9 * 101.0 / 5e14);
}

#[test]
fn a_small_m_matmul_is_priced_slower_per_flop_than_a_large_m_one() {
    let k = KernelShape {
        gemm_half_tokens: 64.0,
        ..Default::default()
    };
    let c = cost(vec![matmul()], k);
    let per_flop = |t: f64| c.step_seconds(&tokens(t)) / (2e9 * t);
    assert!(per_flop(16.0) > 2.0 * per_flop(4096.0));
    // Large M approaches the peak: within 2% of 1 / 5e14 s per FLOP.
    assert!(per_flop(4096.0) < 1.02 / 5e14);
}

#[test]
fn read_efficiency_and_half_bytes_set_the_matmul_stream() {
    let k = KernelShape {
        read_efficiency: 0.8,
        read_half_bytes: 1e7,
        ..Default::default()
    };
    let c = cost(vec![matmul()], k);
    // One token: (1e8 + 1e7) B at 1e12 × 0.8 = 137.5 µs (compute 4 µs).
    close(c.step_seconds(&tokens(1.0)), 1.1e8 / 8e11);
}

#[test]
fn attention_pads_half_context_keys_per_query_and_fills_its_cache_read() {
    let k = KernelShape {
        attention_efficiency: 0.25,
        attention_half_context: 1000.0,
        attention_half_bytes: 2e7,
        ..Default::default()
    };
    let c = cost(vec![attention()], k);
    // Prefill of 4000 tokens: 8.002e6 pairs; (8.002e6 + 1000 × 4000) × 1e5 FLOP at 1e15 × 0.25 = 4.8 ms;
    // memory (4000 × 1e3 + 2e7) B at 5e11 = 48 µs.
    let prefill = StepStats {
        tokens: 4000.0,
        attn_pairs: 4000.0 * 4001.0 / 2.0,
        kv_read_tokens: 4000.0,
        ..Default::default()
    };
    close(c.step_seconds(&prefill), (8.002e6 + 4e6) * 1e5 / 2.5e14);
    // Decode of 8 sequences at 1000 keys: compute (8e3 + 8e3) × 1e5 / 2.5e14 = 6.4 µs; memory (8e6 + 2e7) B
    // at 5e11 = 56 µs: the fill dominates a small batch.
    let decode = StepStats {
        tokens: 8.0,
        sampled: 8.0,
        attn_pairs: 8e3,
        kv_read_tokens: 8e3,
        ..Default::default()
    };
    close(c.step_seconds(&decode), 2.8e7 / 5e11);
}

#[test]
fn vector_kernels_stream_at_the_copy_efficiency_without_a_fill() {
    let norm = OperatorRow {
        name: "norm".into(),
        engine: "vector".into(),
        flops_per_token: 10.0,
        bytes_per_token: 1e4,
        ..Default::default()
    };
    let k = KernelShape {
        copy_efficiency: 0.25,
        read_half_bytes: 1e9,
        gemm_half_tokens: 1e6,
        ..Default::default()
    };
    // 1000 tokens: 1e7 B at 1e12 × 0.25 = 40 µs; no padded rows, no fill.
    close(cost(vec![norm], k).step_seconds(&tokens(1000.0)), 4e-5);
}

#[test]
fn the_all_zero_shape_is_the_plain_roofline_exactly() {
    let c = cost(vec![matmul(), attention()], KernelShape::default());
    let s = StepStats {
        tokens: 300.0,
        sampled: 7.0,
        attn_pairs: 12345.0,
        kv_read_tokens: 6789.0,
        ..Default::default()
    };
    // The roofline as the core computed it before shapes existed: FLOPs × 1/(rate × efficiency), bytes ×
    // 1/(bandwidth × efficiency), bit for bit.
    let (inv_flops, inv_mem): (f64, f64) = (1.0 / (1e15 * 0.5), 1.0 / (1e12 * 0.5));
    let mm = (2e9 * 300.0 * inv_flops).max(1e8 * inv_mem);
    let at = (1e5 * 12345.0 * inv_flops).max(1e3 * 6789.0 * inv_mem);
    assert_eq!(c.step_seconds(&s), 0.0 + mm + at);
}
