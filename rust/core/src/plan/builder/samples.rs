//! Ready-made plans for tests, benchmarks and examples: the smallest plan around one chip
//! ([`single_pool`]) and a small complete dense-model plan ([`tiny_dense_plan`]).

use super::{ChipRow, ModelRow, OperatorRow, PlanBuilder, PoolRow, RunRow, WorkloadRow};

/// Hidden size of the model in [`tiny_dense_plan`].
const TINY_HIDDEN: f64 = 256.0;
/// Vocabulary size of the model in [`tiny_dense_plan`].
const TINY_VOCAB: f64 = 1000.0;

/// The smallest plan around one chip: the `chip` row with `engines` (kind, dtype, FLOP/s, efficiency), the
/// `model` row with its operators `ops`, one workload holding a single request (1 prompt and 1 output token
/// at time 0), one run and the `pool` row. The rows are given whole so a caller sets only what it tests; the
/// indices linking them (chip, model, run, workload) are filled in here.
pub fn single_pool(
    chip: ChipRow,
    engines: &[(&str, &str, f64, f64)],
    model: ModelRow,
    ops: Vec<OperatorRow>,
    pool: PoolRow,
) -> PlanBuilder {
    let mut b = PlanBuilder::new();
    let chip = b.chip(chip);
    for &(kind, dtype, flops, eff) in engines {
        b.engine(chip, kind, dtype, flops, eff);
    }
    let model = b.model(model);
    for op in ops {
        b.operator(OperatorRow { model, ..op });
    }
    let wl = b.workload(WorkloadRow::default());
    b.request(wl, Some(0.0), 1, 1);
    let run = b.run(RunRow {
        model,
        workload: wl,
        ..Default::default()
    });
    b.pool(PoolRow { run, chip, ..pool });
    b
}

/// A small, complete, valid plan for tests and examples.
///
/// * one chip `tiny-chip`: 1 TB/s memory, 100 GB/s links with 1 µs latency, 500 W busy, a `bf16` tensor
///   engine of 100 TFLOP/s and a `bf16` vector engine of 10 TFLOP/s (both at efficiency 1);
/// * one model `tiny-dense`: a 2-layer dense transformer (hidden 256, 2 KV heads of 128, vocabulary 1000,
///   bf16 weights and activations) described by seven operators (norm, QKV projection, attention, output
///   projection, all-reduce, MLP, LM head);
/// * one open-loop workload `tiny-open` with `requests` requests, request `i` arriving at `5 ms × i` with
///   `32 + (37 i mod 97)` prompt tokens and `4 + (13 i mod 29)` output tokens;
/// * one run `tiny` (system `tiny-system`, round-robin) with one pool `tiny-pool`: one instance, tp = 1,
///   max batch 64, 2048 batched tokens, 1024 KV blocks of 16 tokens, chunked prefill, decode-first,
///   100 µs step overhead;
/// * no SLOs.
///
/// The builder is returned so a caller can change any row (e.g. `b.pools[0].kv_blocks = 24`) first.
pub fn tiny_dense_plan(requests: usize) -> PlanBuilder {
    let (h, v, layers, act) = (TINY_HIDDEN, TINY_VOCAB, 2.0, 2.0);
    let mut b = PlanBuilder::new();
    let chip = b.chip(ChipRow {
        name: "tiny-chip".into(),
        memory_bytes: 16e9,
        memory_bw: 1e12,
        memory_efficiency: 1.0,
        link_bw: 1e11,
        link_latency_s: 1e-6,
        power_busy_w: 500.0,
        power_idle_w: 100.0,
        price_per_hour: 1.0,
        kernel_overhead_s: 0.0,
        ..Default::default()
    });
    b.engine(chip, "tensor", "bf16", 1e14, 1.0);
    b.engine(chip, "vector", "bf16", 1e13, 1.0);

    let ops = [
        OperatorRow {
            name: "norm".into(),
            engine: "vector".into(),
            count: 2.0 * layers,
            flops_per_token: 4.0 * h,
            weight_bytes: h * act,
            bytes_per_token: 2.0 * h * act,
            tp_shard: false,
            ..Default::default()
        },
        OperatorRow {
            name: "qkv_proj".into(),
            count: layers,
            flops_per_token: 2.0 * h * 2.0 * h,
            weight_bytes: 2.0 * h * h * act,
            bytes_per_token: 3.0 * h * act,
            ..Default::default()
        },
        OperatorRow {
            name: "attention".into(),
            count: layers,
            flops_per_attn_pair: 4.0 * h,
            bytes_per_token: 2.0 * h * act,
            bytes_per_kv_token: h * act,
            ..Default::default()
        },
        OperatorRow {
            name: "o_proj".into(),
            count: layers,
            flops_per_token: 2.0 * h * h,
            weight_bytes: h * h * act,
            bytes_per_token: 2.0 * h * act,
            ..Default::default()
        },
        OperatorRow {
            name: "allreduce".into(),
            engine: "collective".into(),
            count: 2.0 * layers,
            bytes_per_token: h * act,
            tp_shard: false,
            ..Default::default()
        },
        OperatorRow {
            name: "mlp".into(),
            count: layers,
            flops_per_token: 2.0 * h * 8.0 * h,
            weight_bytes: 8.0 * h * h * act,
            bytes_per_token: 6.0 * h * act,
            ..Default::default()
        },
        OperatorRow {
            name: "lm_head".into(),
            flops_per_sampled: 2.0 * h * v,
            weight_bytes: h * v * act,
            bytes_per_sampled: (h + v) * act,
            ..Default::default()
        },
    ];
    let weight_bytes: f64 = ops.iter().map(|o| o.count * o.weight_bytes).sum();
    let model = b.model(ModelRow {
        name: "tiny-dense".into(),
        layers: layers as u32,
        kv_heads: 2,
        weight_bytes,
        kv_bytes_per_token: layers * h * act,
        ..Default::default()
    });
    for op in ops {
        b.operator(OperatorRow { model, ..op });
    }

    let wl = b.workload(WorkloadRow {
        name: "tiny-open".into(),
        ..Default::default()
    });
    for i in 0..requests {
        let k = i as u64;
        b.request(
            wl,
            Some(0.005 * i as f64),
            32 + (37 * k % 97) as u32,
            4 + (13 * k % 29) as u32,
        );
    }
    let run = b.run(RunRow {
        name: "tiny".into(),
        system: "tiny-system".into(),
        model,
        workload: wl,
        ..Default::default()
    });
    b.pool(PoolRow {
        run,
        name: "tiny-pool".into(),
        chip,
        max_batch: 64,
        max_batched_tokens: 2048,
        kv_blocks: 1024,
        step_overhead_s: 1e-4,
        ..Default::default()
    });
    b
}
