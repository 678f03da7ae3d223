//! The cost model: how long one engine step of one instance takes, and the energy it uses.
//!
//! A step is summarised by five numbers ([`StepStats`]); every operator of the model is a linear function of
//! them (its coefficients come from the plan's `operators` table), priced with a roofline:
//! `max(flops / (peak × efficiency), bytes / (bandwidth × memory efficiency))`, summed over operators, plus
//! communication (ring all-reduces for tensor parallelism, all-to-alls for expert parallelism, point-to-point
//! sends between pipeline stages, over the chip link within a node and the network across nodes) and a fixed
//! per-step overhead; with pipeline parallelism a step is split into micro-batches that flow through the
//! stages. Expert operators read only the weights of the experts a step's tokens are expected to touch.
//! `docs/cost-model.md` has the formulas.
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

/// Every precision an operator or an engine may name, widest first.
pub const PRECISIONS: [&str; 6] = ["fp32", "bf16", "fp16", "fp8", "int8", "int4"];

/// Precision fallback order: an operator in `fp8` may run on a `bf16` engine if the chip has no fp8 one.
pub fn fallbacks(dtype: &str) -> &'static [&'static str] {
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
    let exact = chip
        .engines
        .iter()
        .find(|e| e.kind == kind && e.dtype == dtype);
    exact.or_else(|| {
        fallbacks(dtype).iter().find_map(|d| {
            chip.engines
                .iter()
                .find(|e| e.kind == kind && e.dtype == *d)
        })
    })
}

/// What kind of work an operator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
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
struct PricedOp {
    kind: OpKind,
    /// How many times the operator runs per pipeline stage and micro-batch (layers / pp × occurrences).
    count: f64,
    // Per-chip, per-stage coefficients (already divided by the tensor-parallel degree where the op is
    // sharded and by the pipeline degree, and multiplied by the operator's repeat count).
    flops_per_token: f64,
    flops_per_sampled: f64,
    flops_per_attn_pair: f64,
    fixed_bytes: f64,
    bytes_per_token: f64,
    bytes_per_sampled: f64,
    bytes_per_kv_token: f64,
    /// Routed experts behind `fixed_bytes` (0: not an expert operator).
    experts: f64,
    /// Experts per token (expert operators and the MoE communication).
    experts_per_token: f64,
    /// 1 / (engine FLOP/s × efficiency); 0 for communication.
    inv_flops_rate: f64,
    /// Memory tiers, operand conversion, per-operation energy and calibration profile (`hw.rs`).
    hw: crate::hw::OpHw,
}

/// Expected share of `experts` routed experts that at least one of `tokens` tokens uses when each picks `k`
/// of them uniformly: `1 − (1 − k/E)^tokens` (the expected number of distinct experts touched, over `E`).
pub fn touched_expert_share(experts: f64, k: f64, tokens: f64) -> f64 {
    if experts <= 0.0 || tokens <= 0.0 {
        return 0.0;
    }
    if k >= experts {
        return 1.0;
    }
    1.0 - (1.0 - k / experts).powf(tokens)
}

/// The cost model of one pool serving one model: prices steps in O(operators).
#[derive(Debug, Clone)]
pub struct StepCost {
    ops: Vec<PricedOp>,
    inv_mem_rate: f64,
    tp: f64,
    pp: f64,
    ep: f64,
    microbatches: f64,
    link_bw: f64,
    link_latency_s: f64,
    /// Chips per node (≥ 1); the tensor-parallel group lies within a node or spans whole nodes.
    node_size: f64,
    network_bw: f64,
    network_latency_s: f64,
    /// Pipeline stage boundaries within a node (over the chip link) and across nodes (over the network).
    boundaries_link: f64,
    boundaries_network: f64,
    overhead_s: f64,
    /// Busy power of the whole instance (all its `tp × pp` chips), watts.
    pub instance_power_w: f64,
    /// The chip gives energy per FLOP / per byte: a step's energy is static power × time plus each operator's
    /// dynamic energy (see [`StepCost::step_energy_j`]).
    pub energy_model: bool,
    /// Static (idle) power of the whole instance, watts.
    pub static_power_w: f64,
}

impl StepCost {
    /// Builds the pricing table. The plan has been validated, so every compute operator has an engine.
    pub fn new(model: &Model, chip: &Chip, pool: &Pool) -> StepCost {
        let tp = pool.tp as f64;
        let pp = pool.pp.max(1) as f64;
        // KV heads are split across the tensor-parallel group, but never finer than one head per chip:
        // with more chips than KV heads, heads are replicated.
        let kv_split = (pool.tp.min(model.kv_heads)) as f64;
        let ops = model
            .operators
            .iter()
            .map(|op| {
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
                    Some(crate::hw::engine_for(chip, op).expect("validated plan has the engine"))
                } else {
                    None
                };
                let inv_flops_rate = engine.map_or(0.0, |e| 1.0 / (e.flops * e.efficiency));
                let hw = crate::hw::OpHw::new(chip, pool, &model.name, op, engine);
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
                    experts: op.experts,
                    experts_per_token: op.experts_per_token,
                    inv_flops_rate,
                    hw,
                }
            })
            .collect::<Vec<PricedOp>>();
        let energy_model = ops.iter().any(|op| op.hw.has_energy());
        // Stage j of an instance holds chips [j·tp, (j+1)·tp), nodes are consecutive blocks of node_size
        // chips and an instance starts a node: the boundary before stage j crosses nodes when j·tp is a
        // multiple of node_size.
        let node = if pool.node_size == 0 {
            pool.tp * pool.pp.max(1)
        } else {
            pool.node_size
        };
        let crossing = (1..pool.pp.max(1))
            .filter(|j| (j * pool.tp).is_multiple_of(node))
            .count() as f64;
        StepCost {
            ops,
            inv_mem_rate: 1.0 / (chip.memory_bw * chip.memory_efficiency),
            tp,
            pp,
            ep: pool.ep.max(1) as f64,
            microbatches: if pool.pp > 1 {
                pool.microbatches.max(1) as f64
            } else {
                1.0
            },
            link_bw: chip.link_bw,
            link_latency_s: chip.link_latency_s,
            node_size: node as f64,
            network_bw: pool.network_bw,
            network_latency_s: pool.network_latency_s,
            boundaries_link: pp - 1.0 - crossing,
            boundaries_network: crossing,
            overhead_s: pool.step_overhead_s,
            instance_power_w: chip.power_busy_w * tp * pp,
            energy_model,
            static_power_w: chip.power_idle_w * tp * pp,
        }
    }

    /// Ring all-reduce of `bytes` over the tensor-parallel group: each chip sends and receives 2 (p-1)/p of
    /// the message, in 2 (p-1) steps. Within a node the ring runs over the chip link (bandwidth W, latency λ).
    /// A group spanning nodes of K chips runs one ring per chip's network port (K channels, as NCCL does):
    /// a step is as slow as its slowest edge, so the bandwidth is min(W, K × network bandwidth) and each of
    /// the 2 (p-1) steps pays max(λ, network latency).
    pub fn all_reduce_s(&self, bytes: f64) -> f64 {
        if self.tp <= 1.0 || bytes <= 0.0 {
            return 0.0;
        }
        let p = self.tp;
        let (bw, lat) = if p <= self.node_size {
            (self.link_bw, self.link_latency_s)
        } else {
            (
                self.link_bw.min(self.node_size * self.network_bw),
                self.link_latency_s.max(self.network_latency_s),
            )
        };
        2.0 * (p - 1.0) / p * bytes / bw + 2.0 * (p - 1.0) * lat
    }

    /// All-to-all over the p = tp chips of a pipeline stage in which each chip sends `bytes` (its share to
    /// itself included): pairwise exchange, p − 1 rounds each moving bytes / p, K' − 1 of them to chips of
    /// the same node (link) and p − K' across nodes (network), K' = min(p, node_size).
    pub fn all_to_all_s(&self, bytes: f64) -> f64 {
        if self.tp <= 1.0 || bytes <= 0.0 {
            return 0.0;
        }
        let p = self.tp;
        let local = p.min(self.node_size);
        let piece = bytes / p;
        let mut t = (local - 1.0) * (piece / self.link_bw + self.link_latency_s);
        if p > local {
            t += (p - local) * (piece / self.network_bw + self.network_latency_s);
        }
        t
    }

    /// A mixture-of-experts block's communication for `tokens` tokens of `bytes_per_token` activations, each
    /// routed to `k` experts: with ep = 1 (experts sliced like a dense MLP) one all-reduce of the activations;
    /// with ep > 1 a dispatch and a combine all-to-all, each chip sending the tokens × k copies bound for
    /// (or returning from) one of the ep expert groups: 2 × all_to_all(tokens × k × bytes_per_token / ep).
    pub fn moe_comm_s(&self, bytes_per_token: f64, tokens: f64, k: f64) -> f64 {
        if self.ep <= 1.0 {
            self.all_reduce_s(bytes_per_token * tokens)
        } else {
            2.0 * self.all_to_all_s(tokens * k * bytes_per_token / self.ep)
        }
    }

    /// Handing `bytes` of activations through the pp − 1 stage boundaries of one micro-batch: each boundary
    /// a point-to-point send over the chip link (`bytes / link_bw + latency`) or, across nodes, the network.
    pub fn pipeline_transfer_s(&self, bytes: f64) -> f64 {
        if self.pp <= 1.0 || bytes <= 0.0 {
            return 0.0;
        }
        let mut t = self.boundaries_link * (bytes / self.link_bw + self.link_latency_s);
        if self.boundaries_network > 0.0 {
            t += self.boundaries_network * (bytes / self.network_bw + self.network_latency_s);
        }
        t
    }

    /// `start` plus the seconds one pipeline stage takes on a batch (all of the step when pp = 1; one
    /// micro-batch otherwise). Operators are added to `start` one by one, in order.
    fn stage_seconds(&self, s: &StepStats, start: f64) -> f64 {
        let mut total = start;
        for op in &self.ops {
            match op.kind {
                OpKind::Compute => {}
                // One all-reduce of the batch's activations per occurrence.
                OpKind::AllReduce => {
                    total += op.count * self.all_reduce_s(op.bytes_per_token * s.tokens);
                    continue;
                }
                OpKind::MoeComm => {
                    total += op.count
                        * self.moe_comm_s(op.bytes_per_token, s.tokens, op.experts_per_token);
                    continue;
                }
                OpKind::P2p => continue,
            }
            let flops = op.flops_per_token * s.tokens
                + op.flops_per_sampled * s.sampled
                + op.flops_per_attn_pair * s.attn_pairs;
            // Expert weights: only the experts this batch's tokens are routed to are read.
            let weights = if op.experts > 0.0 {
                op.fixed_bytes * touched_expert_share(op.experts, op.experts_per_token, s.tokens)
            } else {
                op.fixed_bytes
            };
            let bytes = weights
                + op.bytes_per_token * s.tokens
                + op.bytes_per_sampled * s.sampled
                + op.bytes_per_kv_token * s.kv_read_tokens;
            let act = op.bytes_per_token * s.tokens + op.bytes_per_sampled * s.sampled;
            let kv = op.bytes_per_kv_token * s.kv_read_tokens;
            let compute_s = flops * op.inv_flops_rate;
            total += op.hw.seconds(
                s,
                op.count,
                compute_s,
                weights,
                act,
                kv,
                bytes,
                self.inv_mem_rate,
            );
        }
        total
    }

    /// Seconds one step takes, overhead included. A step with no tokens costs nothing.
    ///
    /// With pp = 1 it is the overhead plus the sum over operators. With pp > 1 the step's batch is split
    /// into m = min(microbatches, tokens) equal micro-batches that flow through the pp stages:
    /// `overhead + (m + pp − 1) × stage(batch / m) + transfers(batch / m)`, where each stage holds 1/pp of
    /// every operator and reads its weights once per micro-batch (bubble share (pp − 1) / (m + pp − 1)).
    pub fn step_seconds(&self, s: &StepStats) -> f64 {
        if s.tokens <= 0.0 {
            return 0.0;
        }
        if self.pp <= 1.0 {
            return self.stage_seconds(s, self.overhead_s);
        }
        let m = self.microbatches.min(s.tokens.floor()).max(1.0);
        let mb = StepStats {
            tokens: s.tokens / m,
            sampled: s.sampled / m,
            attn_pairs: s.attn_pairs / m,
            kv_read_tokens: s.kv_read_tokens / m,
        };
        let send: f64 = self
            .ops
            .iter()
            .filter(|op| op.kind == OpKind::P2p)
            .map(|op| op.count * self.pipeline_transfer_s(op.bytes_per_token * mb.tokens))
            .sum();
        self.overhead_s + (m + self.pp - 1.0) * self.stage_seconds(&mb, 0.0) + send
    }
}

// ---------------------------------------------------------------------------------------------------------
// Energy: the per-operation model (docs/cost-model.md, "Energy")

impl StepCost {
    /// The micro-batches a step is split into under pipeline parallelism (1 and the step itself when pp = 1).
    fn energy_micro_batches(&self, s: &StepStats) -> (f64, StepStats) {
        if self.pp <= 1.0 {
            return (1.0, *s);
        }
        let m = self.microbatches.min(s.tokens.floor()).max(1.0);
        let mb = StepStats {
            tokens: s.tokens / m,
            sampled: s.sampled / m,
            attn_pairs: s.attn_pairs / m,
            kv_read_tokens: s.kv_read_tokens / m,
        };
        (m, mb)
    }

    /// Dynamic joules one chip of one pipeline stage spends on a batch with statistics `s`: per compute
    /// operator, FLOPs × J/FLOP of its engine + bytes × J/B of the tier each comes from + converted bytes ×
    /// the engine's conversion J/B. Communication draws no dynamic energy here.
    pub fn stage_joules(&self, s: &StepStats) -> f64 {
        let mut total = 0.0;
        for op in self.ops.iter().filter(|op| op.kind == OpKind::Compute) {
            let flops = op.flops_per_token * s.tokens
                + op.flops_per_sampled * s.sampled
                + op.flops_per_attn_pair * s.attn_pairs;
            let weights = if op.experts > 0.0 {
                op.fixed_bytes * touched_expert_share(op.experts, op.experts_per_token, s.tokens)
            } else {
                op.fixed_bytes
            };
            let act = op.bytes_per_token * s.tokens + op.bytes_per_sampled * s.sampled;
            let kv = op.bytes_per_kv_token * s.kv_read_tokens;
            total += op.hw.joules(flops, weights, act, kv, weights + act + kv);
        }
        total
    }

    /// Energy of one step of the whole instance, joules, given its statistics and its `duration`
    /// ([`StepCost::step_seconds`]). Chips without per-operation energy: busy power × duration. Otherwise
    /// static (idle) power × duration + the dynamic energy of every chip (tp × pp of them), every
    /// micro-batch and every operator ([`StepCost::stage_joules`]).
    pub fn step_energy_j(&self, s: &StepStats, duration: f64) -> f64 {
        if !self.energy_model {
            return self.instance_power_w * duration;
        }
        if s.tokens <= 0.0 {
            return 0.0;
        }
        let (m, mb) = self.energy_micro_batches(s);
        self.static_power_w * duration + self.tp * self.pp * m * self.stage_joules(&mb)
    }
}

#[cfg(test)]
mod tests {
    //! Plans are built with [`crate::builder`] and decoded, so these tests follow the plan structs as they
    //! grow; the expected step times are worked out by hand.
    use super::*;
    use crate::builder::{single_pool, ChipRow, ModelRow, OperatorRow, PoolRow};
    use crate::plan::Plan;

    type EngineSpec = (&'static str, &'static str, f64, f64);

    const BF16_TENSOR: EngineSpec = ("tensor", "bf16", 1e15, 0.5);
    const FP8_TENSOR: EngineSpec = ("tensor", "fp8", 2e15, 0.5);
    const BF16_VECTOR: EngineSpec = ("vector", "bf16", 1e12, 1.0);

    fn close(actual: f64, expected: f64) {
        let tol = 1e-12 * expected.abs().max(1e-300);
        assert!(
            (actual - expected).abs() <= tol,
            "expected {expected:e}, got {actual:e}"
        );
    }

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

    /// The decoded chip with `engines` (its model needs none of them).
    fn chip(engines: &[EngineSpec]) -> Chip {
        plan(
            engines,
            1,
            vec![op("ar", "collective", "bf16", 1.0)],
            1,
            0.0,
        )
        .chips
        .remove(0)
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
    fn ring_all_reduce_time() {
        let at = |tp: u32| cost(&[BF16_TENSOR], 8, vec![matmul()], tp, 0.0);
        let bytes = 4e6;
        assert_eq!(at(1).all_reduce_s(bytes), 0.0);
        assert_eq!(at(2).all_reduce_s(0.0), 0.0);
        // 2 (p-1)/p × bytes / link_bw + 2 (p-1) × latency.
        close(at(2).all_reduce_s(bytes), 1.0 * 4e6 / 1e11 + 2.0 * 2e-6);
        close(at(4).all_reduce_s(bytes), 1.5 * 4e6 / 1e11 + 6.0 * 2e-6);
        close(at(8).all_reduce_s(bytes), 1.75 * 4e6 / 1e11 + 14.0 * 2e-6);
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
        let ring = 2.0 * (2.0 - 1.0) / 2.0 * 1e7 / 1e11 + 2.0 * (2.0 - 1.0) * 2e-6;
        close(two.step_seconds(&s), 1e-4 + mm2 + at2 + 4.0 * ring);
        close(two.step_seconds(&s), 1e-4 + 2e-3 + 2.5e-4 + 4.0 * 1.04e-4);
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
    fn find_engine_prefers_exact_precision_then_falls_back_wider() {
        let both = chip(&[BF16_TENSOR, FP8_TENSOR, ("vector", "fp32", 1e12, 1.0)]);
        assert_eq!(
            find_engine(&both, "tensor", "fp8").map(|e| e.flops),
            Some(2e15)
        );
        assert_eq!(
            find_engine(&both, "tensor", "bf16").map(|e| e.flops),
            Some(1e15)
        );
        assert_eq!(
            find_engine(&both, "tensor", "int8").map(|e| e.dtype.as_str()),
            Some("fp8")
        );
        assert_eq!(
            find_engine(&both, "tensor", "int4").map(|e| e.dtype.as_str()),
            Some("fp8")
        );
        assert_eq!(
            find_engine(&both, "tensor", "fp16").map(|e| e.dtype.as_str()),
            Some("bf16")
        );
        assert_eq!(
            find_engine(&both, "vector", "bf16").map(|e| e.dtype.as_str()),
            Some("fp32")
        );
        assert!(
            find_engine(&both, "tensor", "fp32").is_none(),
            "never falls back to a narrower precision"
        );
        assert!(find_engine(&both, "tensor", "fp4").is_none());
        assert!(find_engine(&both, "collective", "bf16").is_none());

        let bf16_only = chip(&[BF16_TENSOR]);
        assert_eq!(
            find_engine(&bf16_only, "tensor", "fp8").map(|e| e.dtype.as_str()),
            Some("bf16")
        );
        assert_eq!(
            find_engine(&bf16_only, "tensor", "int4").map(|e| e.dtype.as_str()),
            Some("bf16")
        );
        assert!(find_engine(&bf16_only, "vector", "bf16").is_none());
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
}

#[cfg(test)]
mod parallel_tests {
    //! Pipeline, expert and cross-node parallelism: step times against the formulas of
    //! `docs/cost-model.md` ("Mixture of experts", "Parallelism"), worked out by hand.
    use super::*;
    use crate::builder::{single_pool, ChipRow, ModelRow, OperatorRow, PoolRow};
    use crate::plan::Plan;

    const LINK_BW: f64 = 1e11;
    const LINK_LAT: f64 = 2e-6;
    const NET_BW: f64 = 1e10;
    const NET_LAT: f64 = 5e-6;

    fn close(actual: f64, expected: f64) {
        let tol = 1e-12 * expected.abs().max(1e-300);
        assert!(
            (actual - expected).abs() <= tol,
            "expected {expected:e}, got {actual:e}"
        );
    }

    /// A decoded plan: one chip (1 TB/s memory at efficiency 1, a 1e15 FLOP/s bf16 tensor engine, 100 GB/s
    /// links with 2 µs latency), one model with 8 KV heads and operators `ops`, one single-instance pool of
    /// `tp` chips. Parallelism fields are set on the decoded pool by the tests.
    fn plan(ops: Vec<OperatorRow>, tp: u32) -> Plan {
        let chip = ChipRow {
            name: "c".into(),
            memory_bw: 1e12,
            memory_efficiency: 1.0,
            link_bw: LINK_BW,
            link_latency_s: LINK_LAT,
            power_busy_w: 100.0,
            ..Default::default()
        };
        let model = ModelRow {
            kv_heads: 8,
            ..Default::default()
        };
        let pool = PoolRow {
            chips: tp,
            tp,
            step_overhead_s: 1e-4,
            ..Default::default()
        };
        let engines = [("tensor", "bf16", 1e15, 1.0)];
        Plan::from_batch(&single_pool(chip, &engines, model, ops, pool).build())
            .expect("test plan is valid")
    }

    fn cost(p: &Plan, set: impl FnOnce(&mut Pool)) -> StepCost {
        let mut pool = p.pools[0].clone();
        set(&mut pool);
        StepCost::new(&p.models[0], &p.chips[0], &pool)
    }

    fn op(name: &str, engine: &str, count: f64) -> OperatorRow {
        OperatorRow {
            name: name.into(),
            engine: engine.into(),
            count,
            ..Default::default()
        }
    }

    fn matmul() -> OperatorRow {
        OperatorRow {
            flops_per_token: 1e9,
            weight_bytes: 1e9,
            bytes_per_token: 1e3,
            ..op("mm", "tensor", 2.0)
        }
    }

    fn send() -> OperatorRow {
        OperatorRow {
            bytes_per_token: 8192.0,
            tp_shard: false,
            ..op("send", "p2p", 1.0)
        }
    }

    fn stats(tokens: f64, sampled: f64) -> StepStats {
        StepStats {
            tokens,
            sampled,
            attn_pairs: 0.0,
            kv_read_tokens: 0.0,
        }
    }

    /// One stage of the matmul at pp = 2 on `t` tokens: half its count, weights read once.
    fn mm_stage(t: f64) -> f64 {
        (1e9 * t / 1e15_f64).max((1e9 + 1e3 * t) / 1e12)
    }

    #[test]
    fn pipeline_step_is_microbatches_plus_bubble_times_stage_plus_transfers() {
        let p = plan(vec![matmul(), send()], 1);
        let one = cost(&p, |_| {});
        let two = cost(&p, |q| {
            q.pp = 2;
            q.microbatches = 2;
            q.node_size = 8;
        });
        // pp = 1: as before, overhead + the operator (both counts, one weight read of 2 GB).
        close(
            one.step_seconds(&stats(100.0, 4.0)),
            1e-4 + (2e9 * 100.0 / 1e15_f64).max((2e9 + 2e3 * 100.0) / 1e12),
        );
        // 100 tokens in m = 2 micro-batches of 50: (m + pp − 1) = 3 stage times, one boundary inside the node.
        let transfer = 50.0 * 8192.0 / LINK_BW + LINK_LAT;
        close(
            two.step_seconds(&stats(100.0, 4.0)),
            1e-4 + 3.0 * mm_stage(50.0) + transfer,
        );
        // One decode token cannot be split: m = 1, the token crosses both stages.
        close(
            two.step_seconds(&stats(1.0, 1.0)),
            1e-4 + 2.0 * mm_stage(1.0) + 8192.0 / LINK_BW + LINK_LAT,
        );
        // More micro-batches shrink the bubble share (pp − 1) / (m + pp − 1) but re-read the weights.
        let eight = cost(&p, |q| {
            q.pp = 2;
            q.microbatches = 8;
            q.node_size = 8;
        });
        close(
            eight.step_seconds(&stats(800.0, 8.0)),
            1e-4 + 9.0 * mm_stage(100.0) + 100.0 * 8192.0 / LINK_BW + LINK_LAT,
        );
        assert_eq!(two.instance_power_w, 200.0);
    }

    #[test]
    fn pipeline_boundaries_across_nodes_use_the_network() {
        let p = plan(vec![matmul(), send()], 4);
        let set = |node: u64| {
            move |q: &mut Pool| {
                q.pp = 4;
                q.microbatches = 1;
                q.node_size = node;
                q.network_bw = NET_BW;
                q.network_latency_s = NET_LAT;
            }
        };
        // tp = 4, pp = 4: 16 chips. Nodes of 8 hold two stages each: boundary 2 crosses nodes (j·tp = 8).
        let bytes = 10.0 * 8192.0;
        let c8 = cost(&p, set(8));
        close(
            c8.pipeline_transfer_s(bytes),
            2.0 * (bytes / LINK_BW + LINK_LAT) + bytes / NET_BW + NET_LAT,
        );
        // Nodes of 4 chips: every boundary crosses; nodes of 16: none does.
        close(
            cost(&p, set(4)).pipeline_transfer_s(bytes),
            3.0 * (bytes / NET_BW + NET_LAT),
        );
        close(
            cost(&p, set(16)).pipeline_transfer_s(bytes),
            3.0 * (bytes / LINK_BW + LINK_LAT),
        );
    }

    #[test]
    fn cross_node_tensor_parallel_all_reduce_is_hierarchical() {
        let ar = OperatorRow {
            bytes_per_token: 1e4,
            tp_shard: false,
            ..op("ar", "collective", 4.0)
        };
        let p = plan(vec![ar], 16);
        let at = |node: u64| {
            cost(&p, |q| {
                q.node_size = node;
                q.network_bw = NET_BW;
                q.network_latency_s = NET_LAT;
            })
        };
        let (intra, cross) = (at(16), at(8));
        let m = 1e4 * 100.0;
        let flat = 2.0 * 15.0 / 16.0 * m / LINK_BW + 30.0 * LINK_LAT;
        // K = 8 chips per node over 2 nodes: 8 rings, one per network port; bandwidth min(W, 8 × 10 GB/s),
        // every step at the network latency.
        let hier = 2.0 * 15.0 / 16.0 * m / 8e10 + 30.0 * NET_LAT;
        close(intra.all_reduce_s(m), flat);
        close(cross.all_reduce_s(m), hier);
        let s = stats(100.0, 1.0);
        close(
            cross.step_seconds(&s) - intra.step_seconds(&s),
            4.0 * (hier - flat),
        );
        assert!(cross.step_seconds(&s) > intra.step_seconds(&s));
        // One chip per node: a plain ring over the network; a fast network is still bound by the chip link.
        close(
            at(1).all_reduce_s(m),
            2.0 * 15.0 / 16.0 * m / NET_BW + 30.0 * NET_LAT,
        );
        let fast = cost(&p, |q| {
            q.node_size = 8;
            q.network_bw = 1e12;
            q.network_latency_s = NET_LAT;
        });
        close(
            fast.all_reduce_s(m),
            2.0 * 15.0 / 16.0 * m / LINK_BW + 30.0 * NET_LAT,
        );
    }

    /// A MoE layer stand-in: 8 experts of 1e8 weight bytes each, 2 per token (1 MFLOP each), sharded; and
    /// its communication, 3 MoE layers of 1e4-byte activations.
    fn moe_plan(tp: u32) -> Plan {
        let experts = OperatorRow {
            flops_per_token: 2e6,
            weight_bytes: 8e8,
            bytes_per_token: 0.0,
            ..op("experts", "tensor", 1.0)
        };
        let comm = OperatorRow {
            bytes_per_token: 1e4,
            tp_shard: false,
            ..op("moe", "alltoall", 3.0)
        };
        let mut p = plan(vec![experts, comm], tp);
        for o in &mut p.models[0].operators {
            if o.name == "experts" {
                o.experts = 8.0;
            }
            o.experts_per_token = 2.0;
        }
        p
    }

    #[test]
    fn expert_parallel_step_adds_dispatch_and_combine_all_to_alls() {
        let p = moe_plan(4);
        let ep1 = cost(&p, |_| {});
        let ep4 = cost(&p, |q| q.ep = 4);
        let t = 64.0;
        // ep = 1: one all-reduce of the activations per MoE layer.
        let ar = 2.0 * 3.0 / 4.0 * (1e4 * t) / LINK_BW + 6.0 * LINK_LAT;
        close(ep1.moe_comm_s(1e4, t, 2.0), ar);
        // ep = 4: each chip sends T·k·h·a / ep bytes in each of two all-to-alls, pairwise over 3 rounds.
        let per_chip = t * 2.0 * 1e4 / 4.0;
        let a2a = 3.0 * (per_chip / 4.0 / LINK_BW + LINK_LAT);
        close(ep4.all_to_all_s(per_chip), a2a);
        close(ep4.moe_comm_s(1e4, t, 2.0), 2.0 * a2a);
        // Compute and weights per chip are the same either way: the step differs by the communication only.
        let s = stats(t, t);
        close(
            ep4.step_seconds(&s) - ep1.step_seconds(&s),
            3.0 * (2.0 * a2a - ar),
        );
    }

    #[test]
    fn decode_reads_only_the_experts_its_tokens_touch() {
        let p = moe_plan(1);
        let c = cost(&p, |_| {});
        close(touched_expert_share(8.0, 2.0, 1.0), 0.25);
        close(touched_expert_share(8.0, 2.0, 2.0), 1.0 - 0.75 * 0.75);
        close(touched_expert_share(8.0, 8.0, 1.0), 1.0);
        assert_eq!(touched_expert_share(0.0, 2.0, 10.0), 0.0);
        // One token: 2 of 8 experts → 2e8 bytes at 1 TB/s; tp = 1 so no communication.
        close(c.step_seconds(&stats(1.0, 1.0)), 1e-4 + 2e8 / 1e12);
        // 16 tokens: E·(1 − (3/4)^16) experts expected.
        let share = 1.0 - 0.75_f64.powi(16);
        close(
            c.step_seconds(&stats(16.0, 16.0)),
            1e-4 + (8e8 * share / 1e12).max(16.0 * 2e6 / 1e15),
        );
    }
}
