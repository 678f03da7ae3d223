//! Communication: ring all-reduces over the tensor-parallel group, all-to-alls for expert parallelism
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
        if self.tp <= 1.0 || bytes <= 0.0 {
            return 0.0;
        }
        let p = self.tp;
        if p <= self.node_size {
            let (bw, lat) = (self.link_bw, self.link_latency_s);
            let ring = 2.0 * (p - 1.0) / p * bytes / bw + 2.0 * (p - 1.0) * lat;
            let two_shot = 2.0 * ((p - 1.0) / p * bytes / bw + lat);
            let one_shot = (p - 1.0) * bytes / bw + lat;
            return ring.min(two_shot).min(one_shot);
        }
        let bw = self.link_bw.min(self.node_size * self.network_bw);
        let lat = self.link_latency_s.max(self.network_latency_s);
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
}
