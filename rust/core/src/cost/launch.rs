//! How a step's kernels reach the GPU: replayed as one captured graph (CUDA graphs), or launched one by one
//! from the CPU (eager mode). Serving stacks capture graphs for a set of batch sizes up to a limit, often for
//! decode-only batches alone; any other step runs eagerly, and then the GPU waits on the CPU whenever
//! launching the kernels takes longer than running them. That is what sets the floor of a short prefill's
//! latency on a large model (docs/cost-model.md, "Graphs and eager steps").

use super::StepStats;
use crate::plan::Pool;

/// The launch mode of one pool's steps.
#[derive(Debug, Clone)]
pub(super) struct Launch {
    /// Steps of at most this many tokens per attention rank replay a graph.
    graph_max_tokens: f64,
    /// Attention data-parallel ranks: each captures graphs for its own share of the batch (1 without).
    dp: f64,
    /// Whether a step with prefill tokens may replay a graph.
    graph_prefill: bool,
    /// Graphs are captured for batch sizes in steps of this many tokens: a decode batch replays the next
    /// captured size up, its padding rows computed like real ones (1: every size is captured).
    graph_pad: f64,
    /// CPU seconds for all of one stage's operator launches in an eager step (operators × per-operator launch).
    eager_s: f64,
    /// No step ever waits on eager launches (the stack captures every step, or launching is free): known per
    /// pool, so the step loop tests one flag.
    graph_only: bool,
}

impl Launch {
    /// `launches` is how many operator occurrences one pipeline stage runs per step.
    pub(super) fn new(pool: &Pool, launches: f64) -> Launch {
        let eager_s = launches * pool.eager_launch_s;
        Launch {
            graph_max_tokens: pool.graph_max_tokens as f64,
            dp: pool.dp_attention.max(1) as f64,
            graph_prefill: pool.graph_prefill,
            graph_pad: pool.graph_pad_tokens.max(1) as f64,
            eager_s,
            graph_only: eager_s == 0.0 || (pool.graph_prefill && pool.graph_max_tokens == u64::MAX),
        }
    }

    /// Whether no step ever waits on eager launches.
    #[inline]
    pub(super) fn is_graph_only(&self) -> bool {
        self.graph_only
    }

    /// Whether the step runs as a graph. A step whose every token is sampled carries no prefill chunk (a
    /// one-token prompt's prefill costs what a decode does, so counting it as one changes nothing). Under
    /// attention data parallelism the capture limit is a rank's batch, not the instance's: TensorRT-LLM's
    /// ranks gather their local batch sizes and replay the graph of the largest (`cuda_graph_runner.py`,
    /// `_get_padded_batch`), as SGLang's do against its captured sizes (`cuda_graph_runner.py`,
    /// `replay_prepare`); infera's ranks hold equal shares.
    #[inline]
    fn graphed(&self, s: &StepStats) -> bool {
        s.tokens <= self.graph_max_tokens * self.dp && (self.graph_prefill || s.tokens <= s.sampled)
    }

    /// The step as the graph runs it: a decode-only batch replayed in a graph is padded up to the next
    /// captured size (its tokens and LM-head rows; the padding rows attend to nothing). Below `graph_pad` the
    /// stacks capture the powers of two (1, 2, 4: vLLM's `cudagraph_capture_sizes`, TensorRT-LLM's padded
    /// `batch_sizes`, SGLang's `capture_bs`), then every `graph_pad`, and the largest captured size is the
    /// limit itself (TensorRT-LLM adds its `max_batch_size` to the sizes it captures; vLLM's and SGLang's
    /// default limits are multiples of the step), so a batch near the limit never pads past it.
    #[inline]
    pub(super) fn padded(&self, s: &StepStats) -> StepStats {
        if self.graph_pad <= 1.0 || s.tokens > s.sampled || !self.graphed(s) {
            return *s;
        }
        // Each rank pads its own share up to a captured size.
        let share = s.tokens / self.dp;
        let size = if share < self.graph_pad {
            share.max(1.0).log2().ceil().exp2().min(self.graph_pad)
        } else {
            ((share / self.graph_pad).ceil() * self.graph_pad).min(self.graph_max_tokens)
        };
        let up = size * self.dp;
        StepStats {
            tokens: up,
            sampled: up,
            ..*s
        }
    }

    /// Seconds of one stage whose kernels take `gpu_s` on the GPU: in eager mode, no less than the CPU needs
    /// to launch them (launches run ahead of the GPU, so the longer of the two sets the time).
    #[inline]
    pub(super) fn stage_seconds(&self, s: &StepStats, gpu_s: f64) -> f64 {
        if self.is_graph_only() || self.graphed(s) {
            gpu_s
        } else {
            gpu_s.max(self.eager_s)
        }
    }
}
