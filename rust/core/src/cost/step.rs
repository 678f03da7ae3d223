//! A whole step: building a pool's pricing table from the plan, and a step's duration as the overhead
//! plus its operators in order, with micro-batches flowing through the pipeline stages when pp > 1.

use super::launch::Launch;
use super::memory::touched_expert_share;
use super::operator::{OpKind, PricedOp};
use super::{StepCost, StepStats};
use crate::plan::{Chip, Model, Pool};

impl StepCost {
    /// Builds the pricing table. The plan has been validated, so every compute operator has an engine.
    pub fn new(model: &Model, chip: &Chip, pool: &Pool) -> StepCost {
        let tp = pool.tp as f64;
        let pp = pool.pp.max(1) as f64;
        let ops = model
            .operators
            .iter()
            .map(|op| PricedOp::new(&model.name, model.kv_heads, chip, pool, op, pp))
            .collect::<Vec<PricedOp>>();
        let energy_model = ops.iter().any(|op| op.hw.has_energy());
        // Kernel launches per stage: every operator occurrence but the pipeline hand-off, which is priced per step.
        let launches: f64 = ops
            .iter()
            .filter(|op| op.kind != OpKind::P2p)
            .map(|op| op.count)
            .sum();
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
            dp: pool.dp_attention.max(1) as f64,
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
            overhead_per_seq_s: pool.step_overhead_per_seq_s,
            stage_layer_s: pool.step_overhead_per_layer_s * model.layers as f64 / pp,
            launch: Launch::new(pool, launches),
            instance_power_w: chip.power_busy_w * tp * pp,
            energy_model,
            static_power_w: chip.power_idle_w * tp * pp,
        }
    }

    /// `start` plus the seconds one pipeline stage takes on a batch (all of the step when pp = 1; one
    /// micro-batch otherwise). Operators are added to `start` one by one, in order.
    fn stage_seconds(&self, batch: &StepStats, start: f64) -> f64 {
        let mut total = start;
        // The busiest attention rank's share of the batch (the batch itself without attention data parallelism).
        let rank = self.busiest_rank(batch);
        for op in &self.ops {
            let s = if op.rank_local { &rank } else { batch };
            match op.kind {
                OpKind::Compute => {}
                // One all-reduce of the batch's activations per occurrence: within an attention rank for
                // the attention block's, the ranks' gather and scatter around a block run on the whole stage.
                OpKind::AllReduce => {
                    let bytes = op.bytes_per_token * s.tokens;
                    total += op.count
                        * if op.rank_local {
                            self.all_reduce_over_s(bytes, self.tp / self.dp)
                        } else if self.dp > 1.0 {
                            self.dp_gather_scatter_s(bytes, self.dp)
                        } else {
                            self.all_reduce_s(bytes)
                        };
                    continue;
                }
                OpKind::MoeComm => {
                    total += op.count
                        * self.moe_comm_s(op.bytes_per_token, s.tokens, op.experts_per_token);
                    continue;
                }
                OpKind::P2p => continue,
            }
            let (pairs, kv_tokens) = op.pairs_and_kv(s);
            let flops = op.flops_per_token * s.tokens
                + op.flops_per_sampled * s.sampled
                + op.flops_per_attn_pair * pairs;
            // Expert weights: only the experts this batch's tokens are routed to are read.
            let share = if op.experts > 0.0 {
                touched_expert_share(op.experts, op.experts_per_token, s.tokens)
            } else {
                1.0
            };
            let weights = op.fixed_bytes * share;
            let seq_bytes = op.bytes_per_seq * s.seqs;
            let bytes = weights
                + op.bytes_per_token * s.tokens
                + op.bytes_per_sampled * s.sampled
                + op.bytes_per_kv_token * kv_tokens
                + seq_bytes;
            let act = op.bytes_per_token * s.tokens + op.bytes_per_sampled * s.sampled + seq_bytes;
            let kv = op.bytes_per_kv_token * kv_tokens;
            let compute_s = flops * op.inv_flops_rate + op.hw.pad_s(s, share);
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

    /// One attention rank's share of a batch under attention data parallelism: 1/dp of every statistic
    /// (the batch's requests spread evenly over the ranks); the batch itself when dp = 1. The average rank,
    /// which is what the step's energy counts.
    pub(super) fn rank_share(&self, s: &StepStats) -> StepStats {
        if self.dp > 1.0 {
            s.split(self.dp)
        } else {
            *s
        }
    }

    /// The busiest attention rank's share of a batch, which the step waits for: a request runs whole on one
    /// rank and the ranks meet at every gather around the MLP, so the rank holding ⌈n / dp⌉ of the step's n
    /// sequences sets the time, with that share of every statistic (a lone prefill is all on one rank). The
    /// even split when the step counts no sequences.
    pub(super) fn busiest_rank(&self, s: &StepStats) -> StepStats {
        if self.dp <= 1.0 {
            return *s;
        }
        if s.seqs < 1.0 {
            return s.split(self.dp);
        }
        let held = (s.seqs / self.dp).ceil().min(s.seqs);
        s.split(s.seqs / held)
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
        let s = &self.launch.padded(s);
        // The CPU's share of a step: fixed, plus its work per scheduled sequence (inputs, sampling, outputs).
        // Each attention-DP rank schedules its own requests in its own process, in parallel with the others
        // (SGLang's scheduler per DP rank, TensorRT-LLM's executor per MPI rank, vLLM's engine core per DP
        // rank), so the per-sequence work is the busiest rank's share, not the whole batch's.
        let overhead = self.overhead_s + self.overhead_per_seq_s * self.busiest_rank(s).seqs;
        if self.pp <= 1.0 {
            if self.launch.is_graph_only() {
                return self.stage_seconds(s, overhead + self.stage_layer_s);
            }
            return overhead
                + self
                    .launch
                    .stage_seconds(s, self.stage_seconds(s, self.stage_layer_s));
        }
        let m = self.microbatches.min(s.tokens.floor()).max(1.0);
        let mb = s.split(m);
        let send: f64 = self
            .ops
            .iter()
            .filter(|op| op.kind == OpKind::P2p)
            .map(|op| op.count * self.pipeline_transfer_s(op.bytes_per_token * mb.tokens))
            .sum();
        let stage = self
            .launch
            .stage_seconds(&mb, self.stage_seconds(&mb, self.stage_layer_s));
        overhead + (m + self.pp - 1.0) * stage + send
    }
}
