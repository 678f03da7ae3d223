//! A serving system: pools of identical instances (their chips, parallelism, batching, KV cache and
//! scheduling policy, what they do) and the links carrying KV caches between pools.

use crate::error::{plan_err, PlanResult};

/// What a pool's instances do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Prefill and decode on the same instance.
    Mixed,
    /// Prefill only: the KV cache then moves over a link to a decode pool.
    Prefill,
    /// Decode only: requests arrive with their KV cache from a prefill pool.
    Decode,
}

impl Role {
    /// The names a plan spells roles with (`pools.role`).
    pub const NAMES: [&'static str; 3] = ["mixed", "prefill", "decode"];

    /// The role named `name`; any other name is an error.
    pub fn parse(name: &str) -> PlanResult<Role> {
        match name {
            "mixed" => Ok(Role::Mixed),
            "prefill" => Ok(Role::Prefill),
            "decode" => Ok(Role::Decode),
            other => Err(plan_err!(
                "unknown role '{}', expected one of {:?}",
                other,
                Role::NAMES
            )),
        }
    }

    pub fn prefills(self) -> bool {
        self != Role::Decode
    }
    pub fn decodes(self) -> bool {
        self != Role::Prefill
    }
}

/// A link carrying KV caches from one pool to another: one shared channel, transfers served in order.
#[derive(Debug, Clone)]
pub struct Link {
    pub src: usize,
    pub dst: usize,
    pub bandwidth: f64,
    pub latency_s: f64,
}

#[derive(Debug, Clone)]
pub struct Pool {
    pub name: String,
    pub run: usize,
    pub role: Role,
    pub chip: usize,
    pub chips: u64,
    pub tp: u64,
    pub instances: u64,
    pub max_batch: u64,
    pub max_batched_tokens: u64,
    pub block_size: u64,
    pub kv_blocks: u64,
    /// KV blocks each admitted request holds for its fixed-size recurrent state (linear-attention layers),
    /// whatever its context (optional column, 0 when absent).
    pub state_blocks: u64,
    pub chunked_prefill: bool,
    /// The scheduling policy, by its name in the engine's registry (`infera_core::engine::scheduler`).
    pub policy: String,
    pub step_overhead_s: f64,
    /// Most requests waiting in one instance's queue; arrivals beyond it are rejected (`u64::MAX`: no limit).
    pub max_queue: u64,
    /// A request not admitted within this time of arriving is rejected (infinite: never).
    pub queue_timeout_s: f64,
    /// Pipeline stages per instance (an instance is `tp × pp` chips; optional column, 1 when absent).
    pub pp: u64,
    /// Expert-parallel degree: routed experts spread over `ep` of each stage's `tp` chips (divides `tp`;
    /// optional column, 1 when absent).
    pub ep: u64,
    /// Attention data-parallel degree: each stage's `tp` chips form `dp_attention` attention ranks of
    /// `tp / dp_attention` chips, each serving its share of the batch with its own KV cache (divides `tp`;
    /// optional column, 1 when absent).
    pub dp_attention: u64,
    /// Micro-batches a step is split into when `pp > 1` (optional column, `pp` when absent).
    pub microbatches: u64,
    /// Chips per node: groups within a node use the chip link, across nodes the network (optional column;
    /// absent: every instance fits in one node).
    pub node_size: u64,
    /// Per-chip network bandwidth across nodes, B/s (0: none; optional column).
    pub network_bw: f64,
    /// Latency of one network hop (optional column, 0 when absent).
    pub network_latency_s: f64,
    /// Index (into the chip's `memories`) of the tier holding the weights; activations stream from it too
    /// (optional column `weights_memory`; `None`: the chip's one memory).
    pub weights_memory: Option<usize>,
    /// Index (into the chip's `memories`) of the tier holding the KV cache (optional column `kv_memory`).
    pub kv_memory: Option<usize>,
    /// Largest step, in tokens, the serving stack replays as a captured graph (CUDA graphs); larger steps
    /// launch every kernel from the CPU (optional column `graph_max_tokens`; absent: every step is a graph).
    pub graph_max_tokens: u64,
    /// Whether steps that carry prefill tokens may replay a graph too, or only decode-only steps do
    /// (optional column `graph_prefill`, true when absent).
    pub graph_prefill: bool,
    /// CPU seconds to launch one operator's kernels when a step runs eagerly (not as a graph); the GPU cannot
    /// finish an eager step before the CPU has launched it (optional column `eager_launch_s`, 0 when absent).
    pub eager_launch_s: f64,
    /// Captured graph sizes step by this many tokens; a decode batch is padded up to the next one (optional
    /// column `graph_pad_tokens`, 1 when absent: every size captured).
    pub graph_pad_tokens: u64,
    /// CPU seconds each step adds per scheduled sequence: preparing its inputs, sampling, detokenizing and
    /// streaming its token (optional column `step_overhead_per_seq_s`, 0 when absent).
    pub step_overhead_per_seq_s: f64,
    /// GPU seconds each step adds per layer for the small kernels no operator prices (RoPE, residual adds,
    /// KV-cache writes, activation quantization) (optional column `step_overhead_per_layer_s`, 0 when absent).
    pub step_overhead_per_layer_s: f64,
    /// The scheduler takes in newly arrived requests only every this many decode steps (a step with prefill
    /// work, or an idle scheduler, takes them in at once): SGLang's `--scheduler-recv-interval` (optional
    /// column `recv_interval`, 1 when absent: every step).
    pub recv_interval: u64,
    /// Seconds the instance's front end (HTTP server, tokenizer, input processing) spends per prompt token
    /// before the scheduler sees a request; one front end per instance, taking requests in arrival order
    /// (optional column `frontend_per_token_s`, 0 when absent).
    pub frontend_per_token_s: f64,
    /// Requests the front end tokenizes at once, each on its own worker (optional column
    /// `frontend_workers`, 1 when absent).
    pub frontend_workers: u32,
    /// A prefill instance's requests reach the client's first token only once their KV cache has joined a
    /// decode instance, which streams the response, as vLLM, SGLang, TensorRT-LLM and Dynamo serve
    /// disaggregated; otherwise (the prefill side streams it, Splitwise's design) when the prefill ends
    /// (optional column `first_token_at_decode`, false when absent).
    pub first_token_at_decode: bool,
    /// Most KV blocks of each instance its prefix cache may hold (optional column `prefix_cache_blocks`;
    /// 0 when absent: no prefix caching). The cache shares the instance's `kv_blocks` with running requests.
    pub prefix_cache_blocks: u64,
}
