//! The cost model: how long one engine step of one instance takes, and the energy it uses.
//!
//! A step is summarised by five numbers ([`StepStats`]); every operator of the model is a linear function of
//! them (its coefficients come from the plan's `operators` table), priced with a roofline:
//! `max(flops / (peak × efficiency), bytes / (bandwidth × memory efficiency))`, summed over operators, plus
//! ring all-reduce time for collectives and a fixed per-step overhead. `docs/cost-model.md` has the formulas.
//! Pricing is O(number of operators), independent of the batch size.

use crate::plan::{Chip, Engine, Model, Pool};

/// What one step of one instance processes, aggregated over its batch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepStats {
    /// Tokens whose activations pass through the model: prefill chunk tokens + one per decoding request.
    pub tokens: f64,
    /// Tokens that reach the LM head: one per decoding request and one per prefill that completes.
    pub sampled: f64,
    /// Query–key pairs scored by attention (prefill's quadratic term and decode's context length).
    pub attn_pairs: f64,
    /// Context tokens whose K and V are read from the KV cache.
    pub kv_read_tokens: f64,
}

/// Precision fallback order: an operator in `fp8` may run on a `bf16` engine if the chip has no fp8 one.
fn fallbacks(dtype: &str) -> &'static [&'static str] {
    match dtype {
        "int4" => &["int4", "int8", "fp8", "bf16", "fp16", "fp32"],
        "int8" => &["int8", "fp8", "bf16", "fp16", "fp32"],
        "fp8" => &["fp8", "bf16", "fp16", "fp32"],
        "bf16" => &["bf16", "fp16", "fp32"],
        "fp16" => &["fp16", "bf16", "fp32"],
        "fp32" => &["fp32"],
        _ => &[],
    }
}

/// The engine of `chip` that runs work of `kind` at `dtype`, falling back to a wider precision.
pub fn find_engine<'a>(chip: &'a Chip, kind: &str, dtype: &str) -> Option<&'a Engine> {
    let exact = chip.engines.iter().find(|e| e.kind == kind && e.dtype == dtype);
    exact.or_else(|| {
        fallbacks(dtype)
            .iter()
            .find_map(|d| chip.engines.iter().find(|e| e.kind == kind && e.dtype == *d))
    })
}

/// One operator with its per-chip coefficients and resolved rates.
#[derive(Debug, Clone)]
struct PricedOp {
    collective: bool,
    /// How many times the operator runs per step (layers × occurrences per layer).
    count: f64,
    // Per-chip coefficients (already divided by the tensor-parallel degree where the op is sharded, and
    // multiplied by the operator's repeat count).
    flops_per_token: f64,
    flops_per_sampled: f64,
    flops_per_attn_pair: f64,
    fixed_bytes: f64,
    bytes_per_token: f64,
    bytes_per_sampled: f64,
    bytes_per_kv_token: f64,
    /// 1 / (engine FLOP/s × efficiency); 0 for collectives.
    inv_flops_rate: f64,
}

/// The cost model of one pool serving one model: prices steps in O(operators).
#[derive(Debug, Clone)]
pub struct StepCost {
    ops: Vec<PricedOp>,
    inv_mem_rate: f64,
    tp: f64,
    link_bw: f64,
    link_latency_s: f64,
    overhead_s: f64,
    /// Busy power of the whole instance (all its chips), watts.
    pub instance_power_w: f64,
}

impl StepCost {
    /// Builds the pricing table. The plan has been validated, so every non-collective operator has an engine.
    pub fn new(model: &Model, chip: &Chip, pool: &Pool) -> StepCost {
        let tp = pool.tp as f64;
        // KV heads are split across the tensor-parallel group, but never finer than one head per chip:
        // with more chips than KV heads, heads are replicated.
        let kv_split = (pool.tp.min(model.kv_heads)) as f64;
        let ops = model
            .operators
            .iter()
            .map(|op| {
                let shard = if op.tp_shard { tp } else { 1.0 };
                let k = op.count / shard;
                let inv_flops_rate = if op.engine == "collective" {
                    0.0
                } else {
                    let e = find_engine(chip, &op.engine, &op.dtype).expect("validated plan has the engine");
                    1.0 / (e.flops * e.efficiency)
                };
                PricedOp {
                    count: op.count,
                    collective: op.engine == "collective",
                    flops_per_token: k * op.flops_per_token,
                    flops_per_sampled: k * op.flops_per_sampled,
                    flops_per_attn_pair: k * op.flops_per_attn_pair,
                    fixed_bytes: k * op.weight_bytes,
                    // A collective's message is the full activation (not sharded): its size per token is
                    // taken as written, and `count` all-reduces happen per step.
                    bytes_per_token: if op.engine == "collective" { op.bytes_per_token } else { k * op.bytes_per_token },
                    bytes_per_sampled: k * op.bytes_per_sampled,
                    bytes_per_kv_token: if op.tp_shard { op.count * op.bytes_per_kv_token / kv_split } else { op.count * op.bytes_per_kv_token },
                    inv_flops_rate,
                }
            })
            .collect();
        StepCost {
            ops,
            inv_mem_rate: 1.0 / (chip.memory_bw * chip.memory_efficiency),
            tp,
            link_bw: chip.link_bw,
            link_latency_s: chip.link_latency_s,
            overhead_s: pool.step_overhead_s,
            instance_power_w: chip.power_busy_w * tp,
        }
    }

    /// Ring all-reduce of `bytes` over the tensor-parallel group: each chip sends and receives
    /// 2 (p-1)/p of the message, in 2 (p-1) latency-bound hops.
    pub fn all_reduce_s(&self, bytes: f64) -> f64 {
        if self.tp <= 1.0 || bytes <= 0.0 {
            return 0.0;
        }
        let p = self.tp;
        2.0 * (p - 1.0) / p * bytes / self.link_bw + 2.0 * (p - 1.0) * self.link_latency_s
    }

    /// Seconds one step takes, overhead included. A step with no tokens costs nothing.
    pub fn step_seconds(&self, s: &StepStats) -> f64 {
        if s.tokens <= 0.0 {
            return 0.0;
        }
        let mut total = self.overhead_s;
        for op in &self.ops {
            if op.collective {
                // One all-reduce of the step's activations per occurrence (`count` of them per step).
                total += op.count * self.all_reduce_s(op.bytes_per_token * s.tokens);
                continue;
            }
            let flops = op.flops_per_token * s.tokens + op.flops_per_sampled * s.sampled + op.flops_per_attn_pair * s.attn_pairs;
            let bytes = op.fixed_bytes
                + op.bytes_per_token * s.tokens
                + op.bytes_per_sampled * s.sampled
                + op.bytes_per_kv_token * s.kv_read_tokens;
            total += (flops * op.inv_flops_rate).max(bytes * self.inv_mem_rate);
        }
        total
    }
}
