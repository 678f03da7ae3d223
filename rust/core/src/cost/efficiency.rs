//! Kernel efficiency by shape (`docs/cost-model.md`, "Kernel efficiency by shape"). Each curve has the form
//! `efficiency(x) = peak · x / (x + x½)`: a kernel reaches half its peak rate at `x½` units of work. Priced
//! at the peak rate, that is `x½` units of extra work per kernel, so a step pays a few multiply-adds per
//! operator and nothing is divided or branched on per step:
//!
//! * weight matmuls (`gemm_half_tokens`): FLOPs as if every kernel had M½ more rows (per touched expert
//!   for expert matmuls, whose grouped GEMM pads each expert's rows);
//! * attention (`attention_half_context`): FLOPs as if every query scored c½ more keys;
//! * memory streams of matmuls and attention (`read_half_bytes`, `attention_half_bytes`): bytes as if
//!   every kernel read b½ more.
//!
//! The peaks are `read_efficiency` / `copy_efficiency` (memory) and `attention_efficiency` (attention
//! FLOPs); matmul peaks are the engines' own efficiencies. Every field zero gives the plain roofline, and the
//! added terms are then exactly zero.

use super::memory::tier_at;
use super::StepStats;
use crate::plan::{Chip, Engine, KernelShape, Operator, Pool};

/// The shape terms of one operator on one chip, precomputed per pool.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Shape {
    /// Compute seconds for the M½ padded rows of the kernel's token (and sampled) matmul, all occurrences.
    pad_token_s: f64,
    pad_sampled_s: f64,
    /// Compute seconds per query token for its c½ padded keys, all occurrences.
    pad_query_s: f64,
    /// 1 for a dense operator, 0 for an expert one (whose padding is per touched expert).
    dense: f64,
    /// Routed experts / experts per token for an expert operator (0 otherwise): a step's padded groups are
    /// this times the touched-expert share, times the per-token FLOPs of one expert.
    expert_groups: f64,
    /// Memory seconds for the b½ bytes each occurrence streams before it reaches its sustained rate.
    pub(super) fill_s: f64,
}

impl Shape {
    /// `op` on `chip` with per-chip, per-stage coefficients `flops_per_token`, `flops_per_sampled`,
    /// `flops_per_attn_pair` (all occurrences), `count` occurrences per stage, `inv_flops_rate` seconds per
    /// FLOP and `inv_weights` / `inv_kv` seconds per byte of its streams.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        chip: &Chip,
        op: &Operator,
        engine: &Engine,
        count: f64,
        coeffs: (f64, f64, f64),
        inv_flops_rate: f64,
        inv_weights: f64,
        inv_kv: f64,
    ) -> Shape {
        let k = &chip.kernels;
        let (per_token, per_sampled, per_pair) = coeffs;
        let attention = op.is_attention();
        let matmul = engine.kind != "vector" && !attention;
        let expert = op.experts > 0.0 && op.experts_per_token > 0.0;
        let m_half = if matmul { k.gemm_half_tokens } else { 0.0 };
        Shape {
            pad_token_s: m_half * per_token * inv_flops_rate,
            pad_sampled_s: m_half * per_sampled * inv_flops_rate,
            pad_query_s: if attention {
                k.attention_half_context * per_pair * inv_flops_rate
            } else {
                0.0
            },
            dense: if expert { 0.0 } else { 1.0 },
            expert_groups: if expert {
                op.experts / op.experts_per_token
            } else {
                0.0
            },
            // Vector kernels' small streams mostly hit the L2 the previous kernel wrote: no fill term.
            fill_s: if attention {
                count * k.attention_half_bytes * inv_kv
            } else if matmul {
                count * k.read_half_bytes * inv_weights
            } else {
                0.0
            },
        }
    }

    /// Compute seconds a step with statistics `s` adds for padding; `share` is the touched-expert share
    /// (any value for a dense operator).
    #[inline]
    pub(super) fn pad_s(&self, s: &StepStats, share: f64) -> f64 {
        self.pad_token_s * (self.dense + self.expert_groups * share)
            + self.pad_sampled_s * s.sampled.min(1.0)
            + self.pad_query_s * s.tokens
    }
}

/// Seconds per FLOP of `op` on `engine`: attention at the chip's `attention_efficiency` when set, all
/// else at the engine's efficiency.
pub(super) fn inv_flops_rate(chip: &Chip, op: &Operator, engine: &Engine) -> f64 {
    let a = chip.kernels.attention_efficiency;
    let eff = if a > 0.0 && op.is_attention() {
        a
    } else {
        engine.efficiency
    };
    1.0 / (engine.flops * eff)
}

/// The sustained fraction of memory bandwidth `op` streams at on `engine`: kernels of the vector engine
/// write as much as they read (`copy_efficiency`), all others mostly read (`read_efficiency`); `None`
/// (the field is 0): the memory tiers' own efficiencies.
fn stream_efficiency(k: &KernelShape, engine: Option<&Engine>) -> Option<f64> {
    let eff = match engine {
        Some(e) if e.kind == "vector" => k.copy_efficiency,
        Some(_) => k.read_efficiency,
        None => 0.0,
    };
    (eff > 0.0).then_some(eff)
}

/// Seconds and joules per byte of `op`'s weight/activation tier and of its KV tier in `pool`.
pub(super) fn stream_rates(
    chip: &Chip,
    pool: &Pool,
    engine: Option<&Engine>,
) -> (f64, f64, f64, f64) {
    let eff = stream_efficiency(&chip.kernels, engine);
    let (inv_weights, e_weights) = tier_at(chip, pool.weights_memory, eff);
    let (inv_kv, e_kv) = tier_at(chip, pool.kv_memory, eff);
    (inv_weights, e_weights, inv_kv, e_kv)
}
