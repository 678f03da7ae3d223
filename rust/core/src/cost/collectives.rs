//! Communication: ring all-reduces over the tensor-parallel group (or an attention rank of it) and the
//! attention ranks' gather and scatter, all-to-alls for expert parallelism
//! and point-to-point sends between pipeline stages, over the chip link within a node and the network
//! across nodes.

use super::StepCost;

impl StepCost {
    /// All-reduce of `bytes` over the tensor-parallel group, by the fastest of three algorithms, as the
    /// serving stacks' all-reduce picks by message size (TensorRT-LLM's `AllReduceStrategy.AUTO`, vLLM's
    /// custom all-reduce, NCCL's tuner):
    /// - ring: each chip sends and receives 2 (p-1)/p of the message in 2 (p-1) steps;
    /// - within a node, where every chip reaches every other directly (a switch or full mesh): two-shot, a
    ///   direct reduce-scatter then all-gather (2 (p-1)/p of the message, 2 latencies), and one-shot, each chip
    ///   reading all p-1 peers' messages at once ((p-1) messages, one latency), which wins for small messages.
    ///
    /// Within a node the link has bandwidth W and latency λ. A group spanning nodes of K chips runs one ring
    /// per chip's network port (K channels, as NCCL does): a step is as slow as its slowest edge, so the
    /// bandwidth is min(W, K × network bandwidth) and each of the 2 (p-1) steps pays max(λ, network latency).
    pub fn all_reduce_s(&self, bytes: f64) -> f64 {
        self.ring_s(bytes, self.tp, 2.0)
    }

    /// [`StepCost::all_reduce_s`] over a group of `p` consecutive chips of a stage (an attention rank).
    pub fn all_reduce_over_s(&self, bytes: f64, p: f64) -> f64 {
        self.ring_s(bytes, p, 2.0)
    }

    /// All-gather over a group of `p` consecutive chips of a stage ending with `bytes` on every chip, each
    /// contributing bytes / p: a ring of (p-1) steps of bytes / p or, within a node, a direct gather with one
    /// latency, whichever is faster; for a group spanning nodes, the ring as [`StepCost::all_reduce_s`] runs
    /// it. A reduce-scatter of `bytes` costs the same, and the two make one all-reduce.
    pub fn all_gather_s(&self, bytes: f64, p: f64) -> f64 {
        self.ring_s(bytes, p, 1.0)
    }

    /// `passes` passes (1: all-gather or reduce-scatter, 2: all-reduce) of `bytes` over `p` chips, by the
    /// fastest algorithm the group's fabric allows.
    fn ring_s(&self, bytes: f64, p: f64, passes: f64) -> f64 {
        if p <= 1.0 || bytes <= 0.0 {
            return 0.0;
        }
        if p <= self.node_size {
            let (bw, lat) = (self.link_bw, self.link_latency_s);
            let ring = passes * (p - 1.0) / p * bytes / bw + passes * (p - 1.0) * lat;
            // Direct algorithms over a switch or full mesh: one latency per pass (two-shot for an
            // all-reduce, a direct all-gather or reduce-scatter for one pass), and for an all-reduce the
            // one-shot read of every peer's message.
            let direct = passes * ((p - 1.0) / p * bytes / bw + lat);
            let fastest = ring.min(direct);
            if passes == 2.0 {
                return fastest.min((p - 1.0) * bytes / bw + lat);
            }
            return fastest;
        }
        let bw = self.link_bw.min(self.node_size * self.network_bw);
        let lat = self.link_latency_s.max(self.network_latency_s);
        passes * (p - 1.0) / p * bytes / bw + passes * (p - 1.0) * lat
    }

    /// Attention data parallelism's hand-over around a block that runs on the whole stage (`d` attention
    /// ranks of tp / d chips, `bytes` the activations of the whole batch): an all-gather over the tp chips
    /// gives every chip all the batch's tokens, and after the block a reduce-scatter over the tp chips sums
    /// its partial outputs, each chip keeping 1/tp of the tokens, followed by an all-gather within each
    /// attention rank so that its chips hold the rank's tokens (bytes / d) again.
    pub fn dp_gather_scatter_s(&self, bytes: f64, d: f64) -> f64 {
        2.0 * self.all_gather_s(bytes, self.tp) + self.all_gather_s(bytes / d, self.tp / d)
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
    /// Under attention data parallelism with ep = 1 the all-reduce becomes the ranks' gather and scatter
    /// ([`StepCost::dp_gather_scatter_s`]); with ep > 1 the all-to-alls carry each token straight from and
    /// back to its attention rank, whose chips split its tokens: each chip still sends tokens × k / ep copies.
    pub fn moe_comm_s(&self, bytes_per_token: f64, tokens: f64, k: f64) -> f64 {
        if self.ep <= 1.0 && self.dp > 1.0 {
            self.dp_gather_scatter_s(bytes_per_token * tokens, self.dp)
        } else if self.ep <= 1.0 {
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
}
