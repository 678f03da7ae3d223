//! Energy: the per-operation model (docs/cost-model.md, "Energy"). Chips without per-operation energy
//! draw busy power for the step's duration.

use super::memory::touched_expert_share;
use super::operator::OpKind;
use super::{StepCost, StepStats};

impl StepCost {
    /// The micro-batches a step is split into under pipeline parallelism (1 and the step itself when pp = 1).
    fn energy_micro_batches(&self, s: &StepStats) -> (f64, StepStats) {
        if self.pp <= 1.0 {
            return (1.0, *s);
        }
        let m = self.microbatches.min(s.tokens.floor()).max(1.0);
        (m, s.split(m))
    }

    /// Dynamic joules one chip of one pipeline stage spends on a batch with statistics `s`: per compute
    /// operator, FLOPs × J/FLOP of its engine + bytes × J/B of the tier each comes from + converted bytes ×
    /// the engine's conversion J/B. Communication draws no dynamic energy here.
    pub fn stage_joules(&self, batch: &StepStats) -> f64 {
        let mut total = 0.0;
        let rank = self.rank_share(batch);
        for op in self.ops.iter().filter(|op| op.kind == OpKind::Compute) {
            let s = if op.rank_local { &rank } else { batch };
            let (pairs, kv_tokens) = op.pairs_and_kv(s);
            let flops = op.flops_per_token * s.tokens
                + op.flops_per_sampled * s.sampled
                + op.flops_per_attn_pair * pairs;
            let weights = if op.experts > 0.0 {
                op.fixed_bytes * touched_expert_share(op.experts, op.experts_per_token, s.tokens)
            } else {
                op.fixed_bytes
            };
            let act = op.bytes_per_token * s.tokens
                + op.bytes_per_sampled * s.sampled
                + op.bytes_per_seq * s.seqs;
            let kv = op.bytes_per_kv_token * kv_tokens;
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
