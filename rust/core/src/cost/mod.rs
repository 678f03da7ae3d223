//! The cost model: how long one engine step of one instance takes, and the energy it uses.
//!
//! A step is summarised by a few numbers ([`StepStats`]); every operator of the model is a linear function of
//! them (its coefficients come from the plan's `operators` table), priced with a roofline:
//! `max(flops / (peak × efficiency), bytes / (bandwidth × memory efficiency))`, summed over operators, plus
//! communication (ring all-reduces for tensor parallelism, all-to-alls for expert parallelism, point-to-point
//! sends between pipeline stages, over the chip link within a node and the network across nodes) and a fixed
//! per-step overhead; with pipeline parallelism a step is split into micro-batches that flow through the
//! stages. Expert operators read only the weights of the experts a step's tokens are expected to touch.
//! `docs/cost-model.md` has the formulas.
//! Pricing is O(number of operators), independent of the batch size.
//!
//! `operator.rs` prices one operator (roofline, memory tiers, operand conversion, kernel overhead), with
//! `efficiency.rs` (kernel efficiency by shape), `memory.rs` (tier rates, expert weights touched) and
//! `profile.rs` (measured curves); `collectives.rs` prices communication, `launch.rs` whether a step replays
//! a graph or waits on eager launches, `step.rs` a whole step and `energy.rs` its energy.

mod collectives;
mod efficiency;
mod energy;
mod launch;
mod memory;
mod operator;
mod profile;
mod step;

#[cfg(test)]
mod dp_tests;
#[cfg(test)]
mod efficiency_tests;
#[cfg(test)]
mod hardware_tests;
#[cfg(test)]
mod launch_tests;
#[cfg(test)]
mod parallel_tests;
#[cfg(test)]
mod tests;

pub use memory::touched_expert_share;
pub use operator::OpHw;
pub use profile::Curve;

use launch::Launch;
use operator::PricedOp;

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
    /// `attn_pairs` for a sliding-window layer: each query scores at most `window` keys.
    pub win_attn_pairs: f64,
    /// `kv_read_tokens` for a sliding-window layer: at most `window` context tokens per sequence.
    pub win_kv_read_tokens: f64,
    /// Sequences in the step (decoders and prefill chunks): each reads and writes its recurrent state once.
    pub seqs: f64,
}

impl StepStats {
    /// One of `m` equal micro-batches of the step.
    pub fn split(&self, m: f64) -> StepStats {
        StepStats {
            tokens: self.tokens / m,
            sampled: self.sampled / m,
            attn_pairs: self.attn_pairs / m,
            kv_read_tokens: self.kv_read_tokens / m,
            win_attn_pairs: self.win_attn_pairs / m,
            win_kv_read_tokens: self.win_kv_read_tokens / m,
            seqs: self.seqs / m,
        }
    }
}

/// The cost model of one pool serving one model: prices steps in O(operators).
#[derive(Debug, Clone)]
pub struct StepCost {
    ops: Vec<PricedOp>,
    inv_mem_rate: f64,
    tp: f64,
    pp: f64,
    ep: f64,
    /// Attention data-parallel degree (1: none): the attention block runs on dp ranks of tp / dp chips.
    dp: f64,
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
    /// CPU seconds per step for each scheduled sequence.
    overhead_per_seq_s: f64,
    /// GPU seconds per step of one stage's unpriced per-layer kernels (per layer × the stage's layers).
    stage_layer_s: f64,
    /// Graph replay or eager launches ([`Launch`]).
    launch: Launch,
    /// Busy power of the whole instance (all its `tp × pp` chips), watts.
    pub instance_power_w: f64,
    /// The chip gives energy per FLOP / per byte: a step's energy is static power × time plus each operator's
    /// dynamic energy (see [`StepCost::step_energy_j`]).
    pub energy_model: bool,
    /// Static (idle) power of the whole instance, watts.
    pub static_power_w: f64,
}
