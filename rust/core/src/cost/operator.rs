//! Pricing one operator: its per-chip, per-stage coefficients of a step's statistics ([`PricedOp`]) and
//! how it uses the chip's memory tiers, operand converters and energy ([`OpHw`]): the roofline
//! `max(compute, memory, conversion)` plus a kernel overhead per occurrence, with the shape terms of
//! `efficiency.rs`, or a measured profile.

use super::efficiency::{self, stream_rates, Shape};
use super::profile::{profile_curve, Curve};
use super::StepStats;
use crate::plan::{Chip, Engine, Operator, Pool};

/// What kind of work an operator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OpKind {
    /// Runs on a compute engine; priced with the roofline.
    Compute,
    /// A ring all-reduce of the step's activations over the tensor-parallel group (`collective`).
    AllReduce,
    /// A mixture-of-experts block's communication (`alltoall`): an all-reduce over the tensor-parallel group
    /// when `ep = 1`, a dispatch and a combine all-to-all of each token's `k` copies when `ep > 1`.
    MoeComm,
    /// Activations handed from one pipeline stage to the next (`p2p`).
    P2p,
}

/// One operator with its per-chip coefficients and resolved rates.
#[derive(Debug, Clone)]
pub(super) struct PricedOp {
    pub(super) kind: OpKind,
    /// How many times the operator runs per pipeline stage and micro-batch (layers / pp × occurrences).
    pub(super) count: f64,
    // Per-chip, per-stage coefficients (already divided by the tensor-parallel degree where the op is
    // sharded and by the pipeline degree, and multiplied by the operator's repeat count).
    pub(super) flops_per_token: f64,
    pub(super) flops_per_sampled: f64,
    pub(super) flops_per_attn_pair: f64,
    pub(super) fixed_bytes: f64,
    pub(super) bytes_per_token: f64,
    pub(super) bytes_per_sampled: f64,
    pub(super) bytes_per_kv_token: f64,
    /// Per-chip bytes read and written once per scheduled sequence (recurrent state).
    pub(super) bytes_per_seq: f64,
    /// A sliding-window layer's attention: priced on the step's windowed pairs and KV reads.
    pub(super) window: bool,
    /// Runs on an attention rank (`attention_dp` with dp_attention > 1): priced on the rank's share of the
    /// step and sharded over the rank's tp / dp_attention chips.
    pub(super) rank_local: bool,
    /// Routed experts behind `fixed_bytes` (0: not an expert operator).
    pub(super) experts: f64,
    /// Experts per token (expert operators and the MoE communication).
    pub(super) experts_per_token: f64,
    /// 1 / (engine FLOP/s × efficiency); 0 for communication.
    pub(super) inv_flops_rate: f64,
    /// Memory tiers, operand conversion, per-operation energy and calibration profile ([`OpHw`]).
    pub(super) hw: OpHw,
}

impl PricedOp {
    /// `op` of model `model` (with `kv_heads` KV heads) on `chip` in `pool`, with the pool's pipeline
    /// degree `pp`. An operator of the attention block under attention data parallelism is sharded over an
    /// attention rank's tp / dp_attention chips, any other over the stage's tp. KV heads are split across
    /// the operator's chips, but never finer than one head per chip: with more chips than KV heads, heads
    /// are replicated. The plan has been validated, so a compute operator has an engine.
    pub(super) fn new(
        model: &str,
        kv_heads: u64,
        chip: &Chip,
        pool: &Pool,
        op: &Operator,
        pp: f64,
    ) -> PricedOp {
        let rank_local = op.attention_dp && pool.dp_attention > 1;
        let group = if rank_local {
            pool.tp / pool.dp_attention
        } else {
            pool.tp
        };
        let tp = group as f64;
        let kv_split = (group.min(kv_heads)) as f64;
        let kind = match op.engine.as_str() {
            "collective" => OpKind::AllReduce,
            "alltoall" => OpKind::MoeComm,
            "p2p" => OpKind::P2p,
            _ => OpKind::Compute,
        };
        let shard = if op.tp_shard { tp } else { 1.0 };
        // Each pipeline stage holds 1/pp of every operator (a balanced partition of the layers).
        let k = op.count / (shard * pp);
        // The engine the chip routes the operator to (matmuls may go to an optical engine).
        let engine = if kind == OpKind::Compute {
            Some(chip.engine_for(op).expect("validated plan has the engine"))
        } else {
            None
        };
        let inv_flops_rate = engine.map_or(0.0, |e| efficiency::inv_flops_rate(chip, op, e));
        let mut hw = OpHw::new(chip, pool, model, op, engine, group);
        if let Some(e) = engine {
            let coeffs = (
                k * op.flops_per_token,
                k * op.flops_per_sampled,
                k * op.flops_per_attn_pair,
            );
            hw.shape = Shape::new(
                chip,
                op,
                e,
                op.count / pp,
                coeffs,
                inv_flops_rate,
                hw.inv_weights,
                hw.inv_kv,
            );
        }
        let comm = kind != OpKind::Compute;
        PricedOp {
            kind,
            count: if kind == OpKind::P2p {
                op.count
            } else {
                op.count / pp
            },
            flops_per_token: k * op.flops_per_token,
            flops_per_sampled: k * op.flops_per_sampled,
            flops_per_attn_pair: k * op.flops_per_attn_pair,
            fixed_bytes: k * op.weight_bytes,
            // A communication operator's message is the full activation (not sharded): its size per
            // token is taken as written, and `count` of them happen per step.
            bytes_per_token: if comm {
                op.bytes_per_token
            } else {
                k * op.bytes_per_token
            },
            bytes_per_sampled: k * op.bytes_per_sampled,
            bytes_per_kv_token: if op.tp_shard {
                op.count * op.bytes_per_kv_token / (kv_split * pp)
            } else {
                op.count * op.bytes_per_kv_token / pp
            },
            bytes_per_seq: k * op.bytes_per_seq,
            window: op.window,
            rank_local,
            experts: op.experts,
            experts_per_token: op.experts_per_token,
            inv_flops_rate,
            hw,
        }
    }
}

impl PricedOp {
    /// The query–key pairs and context tokens read that the operator sees in step `s`: the windowed sums
    /// for a sliding-window layer's attention.
    #[inline]
    pub(super) fn pairs_and_kv(&self, s: &StepStats) -> (f64, f64) {
        if self.window {
            (s.win_attn_pairs, s.win_kv_read_tokens)
        } else {
            (s.attn_pairs, s.kv_read_tokens)
        }
    }
}

/// How one operator uses the chip's memory tiers, converters and energy (built once per pool).
#[derive(Debug, Clone, Default)]
pub struct OpHw {
    /// Weights (and activations) and KV are read at different rates than the chip's one memory.
    tiered: bool,
    /// Seconds per byte of weights and activations (their tier), and of KV reads (the KV tier).
    inv_weights: f64,
    inv_kv: f64,
    /// Seconds per operand byte through the engine's converters (0: none).
    inv_conv: f64,
    /// Joules per FLOP, per weight/activation byte, per KV byte, per converted byte.
    e_flop: f64,
    e_weights: f64,
    e_kv: f64,
    e_conv: f64,
    /// Measured times (per occurrence) overriding the roofline where they have data.
    profile: Option<Curve>,
    /// Fixed seconds per occurrence added to the roofline (the chip's `kernel_overhead_s`). Only compute
    /// operators are priced through [`OpHw::seconds`]; communication keeps its own latency terms.
    kernel_s: f64,
    /// Shape-dependent padding and fill terms (all zero on the plain roofline).
    shape: Shape,
}

impl OpHw {
    /// The hardware view of `op` (of model `model`) on `chip` in `pool`, run on `engine` (`None` for
    /// communication operators) and sharded over `group` chips (its profile is the one measured there).
    pub fn new(
        chip: &Chip,
        pool: &Pool,
        model: &str,
        op: &Operator,
        engine: Option<&Engine>,
        group: u64,
    ) -> OpHw {
        let inv_mem = 1.0 / (chip.memory_bw * chip.memory_efficiency);
        let (inv_weights, e_weights, inv_kv, e_kv) = stream_rates(chip, pool, engine);
        let (inv_conv, e_flop, e_conv) = match engine {
            Some(e) => (
                if e.conversion_bw > 0.0 {
                    1.0 / e.conversion_bw
                } else {
                    0.0
                },
                e.energy_per_flop,
                e.conversion_energy_per_byte,
            ),
            None => (0.0, 0.0, 0.0),
        };
        OpHw {
            tiered: inv_weights != inv_mem || inv_kv != inv_mem,
            inv_weights,
            inv_kv,
            inv_conv,
            e_flop,
            e_weights,
            e_kv,
            e_conv,
            profile: profile_curve(chip, model, &op.name, group),
            kernel_s: chip.kernel_overhead_s,
            shape: Shape::default(),
        }
    }

    /// Compute seconds the step's shape adds to the operator's FLOPs at peak (padded matmul rows and
    /// attention keys; see `efficiency.rs`); `share` is the touched-expert share.
    #[inline]
    pub(super) fn pad_s(&self, s: &StepStats, share: f64) -> f64 {
        self.shape.pad_s(s, share)
    }

    /// Seconds for `count` occurrences of the operator in a step with statistics `s`: the profile where it
    /// has data, else `max(compute, memory, conversion) + count × kernel overhead`. `compute_s` is FLOPs
    /// over the engine's effective rate; `weights`, `act`, `kv` the bytes read from each tier (per chip, all
    /// occurrences), `bytes` their sum and `inv_mem` seconds per byte of the chip's one memory.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn seconds(
        &self,
        s: &StepStats,
        count: f64,
        compute_s: f64,
        weights: f64,
        act: f64,
        kv: f64,
        bytes: f64,
        inv_mem: f64,
    ) -> f64 {
        if let Some(t) = self.profile.as_ref().and_then(|c| c.at(s)) {
            return count * t;
        }
        let mem = if self.tiered {
            (weights + act) * self.inv_weights + kv * self.inv_kv
        } else {
            bytes * inv_mem
        } + self.shape.fill_s;
        compute_s.max(mem).max(bytes * self.inv_conv) + count * self.kernel_s
    }

    /// Dynamic joules of the operator on one chip: FLOPs, bytes from each tier, converted bytes.
    #[inline]
    pub fn joules(&self, flops: f64, weights: f64, act: f64, kv: f64, bytes: f64) -> f64 {
        flops * self.e_flop
            + (weights + act) * self.e_weights
            + kv * self.e_kv
            + bytes * self.e_conv
    }

    /// Whether the operator draws any per-operation energy.
    pub fn has_energy(&self) -> bool {
        self.e_flop > 0.0 || self.e_weights > 0.0 || self.e_kv > 0.0 || self.e_conv > 0.0
    }
}
