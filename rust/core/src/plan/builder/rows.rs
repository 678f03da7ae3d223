//! The rows of each plan table as the builder takes them, with defaults that form a valid plan.

use crate::plan::KernelShape;

/// A row of the `chips` table. The default is a valid, round-numbered chip (1 TB/s memory, 100 GB/s links,
/// no link latency, no power or price) with no engines; add engines with
/// [`PlanBuilder::engine`](super::PlanBuilder::engine).
#[derive(Debug, Clone, PartialEq)]
pub struct ChipRow {
    pub name: String,
    pub memory_bytes: f64,
    pub memory_bw: f64,
    pub memory_efficiency: f64,
    pub link_bw: f64,
    pub link_latency_s: f64,
    pub power_busy_w: f64,
    pub power_idle_w: f64,
    pub price_per_hour: f64,
    /// Fixed seconds per compute kernel (`chips.kernel_overhead_s`).
    pub kernel_overhead_s: f64,
    /// Shape-dependent efficiency (the `chips` columns of [`KernelShape::COLUMNS`]; default: roofline).
    pub kernels: KernelShape,
}

impl Default for ChipRow {
    fn default() -> Self {
        Self {
            name: "chip".into(),
            memory_bytes: 80e9,
            memory_bw: 1e12,
            memory_efficiency: 1.0,
            link_bw: 1e11,
            link_latency_s: 0.0,
            power_busy_w: 0.0,
            power_idle_w: 0.0,
            price_per_hour: 0.0,
            kernel_overhead_s: 0.0,
            kernels: KernelShape::default(),
        }
    }
}

/// A row of the `engines` table: one compute engine of chip `chip`.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineRow {
    pub chip: u32,
    /// `tensor` or `vector`.
    pub kind: String,
    pub dtype: String,
    pub flops: f64,
    pub efficiency: f64,
}

/// A row of the `models` table. The default is a one-layer model with one KV head.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRow {
    pub name: String,
    pub layers: u32,
    pub kv_heads: u32,
    pub weight_bytes: f64,
    /// KV bytes of one token in one block group.
    pub kv_bytes_per_token: f64,
    /// Block groups of full-attention and of sliding-window layers, the window in tokens (0: none) and the
    /// per-request recurrent state's bytes (see [`crate::plan::KvShape`]).
    pub kv_full_groups: u32,
    pub kv_window_groups: u32,
    pub sliding_window: u32,
    pub state_bytes: f64,
}

impl Default for ModelRow {
    fn default() -> Self {
        Self {
            name: "model".into(),
            layers: 1,
            kv_heads: 1,
            weight_bytes: 1e9,
            kv_bytes_per_token: 1e5,
            kv_full_groups: 1,
            kv_window_groups: 0,
            sliding_window: 0,
            state_bytes: 0.0,
        }
    }
}

/// A row of the `operators` table: one operator of model `model`, as linear coefficients of a step's token
/// statistics. The default is a tensor-parallel-sharded `bf16` tensor operator run once per step with all
/// coefficients zero.
#[derive(Debug, Clone, PartialEq)]
pub struct OperatorRow {
    pub model: u32,
    pub name: String,
    /// `tensor`, `vector` or `collective`.
    pub engine: String,
    pub dtype: String,
    pub count: f64,
    pub flops_per_token: f64,
    pub flops_per_sampled: f64,
    pub flops_per_attn_pair: f64,
    pub weight_bytes: f64,
    pub bytes_per_token: f64,
    pub bytes_per_sampled: f64,
    pub bytes_per_kv_token: f64,
    pub tp_shard: bool,
    /// A sliding-window layer's attention (priced on the windowed pairs and KV reads).
    pub window: bool,
    /// Bytes read and written once per scheduled sequence.
    pub bytes_per_seq: f64,
    /// Part of the attention block (data-parallel under `dp_attention`).
    pub attention_dp: bool,
}

impl Default for OperatorRow {
    fn default() -> Self {
        Self {
            model: 0,
            name: "op".into(),
            engine: "tensor".into(),
            dtype: "bf16".into(),
            count: 1.0,
            flops_per_token: 0.0,
            flops_per_sampled: 0.0,
            flops_per_attn_pair: 0.0,
            weight_bytes: 0.0,
            bytes_per_token: 0.0,
            bytes_per_sampled: 0.0,
            bytes_per_kv_token: 0.0,
            tp_shard: true,
            window: false,
            bytes_per_seq: 0.0,
            attention_dp: false,
        }
    }
}

/// A row of the `workloads` table. The default is open-loop traffic with no duration limit.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadRow {
    pub name: String,
    /// `open` (arrival times come from the requests) or `closed` (`users` users, each sending its next
    /// request `think_time_s` after its last one finished).
    pub kind: String,
    pub users: u32,
    pub think_time_s: f64,
    /// May be infinite.
    pub duration_s: f64,
}

impl Default for WorkloadRow {
    fn default() -> Self {
        Self {
            name: "workload".into(),
            kind: "open".into(),
            users: 0,
            think_time_s: 0.0,
            duration_s: f64::INFINITY,
        }
    }
}

/// A row of the `requests` table. `arrival_s` is required for open-loop workloads and ignored for closed ones;
/// `send_delay_s` is a closed-loop request's client-side delay (its user's ramp-up offset plus jitter).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRow {
    pub workload: u32,
    pub arrival_s: Option<f64>,
    pub prompt_tokens: u32,
    pub output_tokens: u32,
    pub send_delay_s: f64,
}

/// A row of the `runs` table. The default routes both stages round-robin.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub name: String,
    pub system: String,
    pub model: u32,
    pub workload: u32,
    pub seed: u64,
    /// How new requests pick a prefill-capable (mixed or prefill) instance: `round_robin`,
    /// `least_tokens` or `power_of_two`.
    pub prefill_router: String,
    /// How a prefilled request picks a decode instance (disaggregated pools); same choices.
    pub decode_router: String,
}

impl RunRow {
    /// Sets both routers.
    pub fn with_router(self, router: &str) -> Self {
        Self {
            prefill_router: router.into(),
            decode_router: router.into(),
            ..self
        }
    }
}

impl Default for RunRow {
    fn default() -> Self {
        Self {
            name: "run".into(),
            system: "system".into(),
            model: 0,
            workload: 0,
            seed: 0,
            prefill_router: "round_robin".into(),
            decode_router: "round_robin".into(),
        }
    }
}

/// A row of the `pools` table. The default is a mixed pool of one single-chip instance (tp = 1) with a
/// 256-request, 8192-token batch, 4096 KV blocks of 16 tokens, chunked prefill, decode-first scheduling and
/// no step overhead.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolRow {
    pub run: u32,
    pub name: String,
    /// `mixed` (prefill and decode in place), `prefill` or `decode` (disaggregated; joined by links).
    pub role: String,
    pub chip: u32,
    /// Must equal `tp × instances`.
    pub chips: u32,
    pub tp: u32,
    pub instances: u32,
    pub max_batch: u32,
    pub max_batched_tokens: u32,
    pub block_size: u32,
    /// KV-cache blocks per instance.
    pub kv_blocks: u32,
    /// Blocks each admitted request holds for its recurrent state.
    pub state_blocks: u32,
    pub chunked_prefill: bool,
    /// `decode_first` or `prefill_first`.
    pub policy: String,
    pub step_overhead_s: f64,
    /// A prefill pool's requests get their first token once they join a decode instance.
    pub first_token_at_decode: bool,
}

impl Default for PoolRow {
    fn default() -> Self {
        Self {
            run: 0,
            name: "pool".into(),
            role: "mixed".into(),
            chip: 0,
            chips: 1,
            tp: 1,
            instances: 1,
            max_batch: 256,
            max_batched_tokens: 8192,
            block_size: 16,
            kv_blocks: 4096,
            state_blocks: 0,
            chunked_prefill: true,
            policy: "decode_first".into(),
            step_overhead_s: 0.0,
            first_token_at_decode: false,
        }
    }
}

/// A row of the `links` table: the link carrying KV caches from pool `src` (prefill) to pool `dst` (decode).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkRow {
    pub src: u32,
    pub dst: u32,
    /// Bytes per second.
    pub bandwidth: f64,
    pub latency_s: f64,
}

/// A row of the `slos` table.
#[derive(Debug, Clone, PartialEq)]
pub struct SloRow {
    pub run: u32,
    /// `ttft`, `tpot`, `e2e` or `queue`.
    pub metric: String,
    pub percentile: Option<f64>,
    pub threshold_s: f64,
}
