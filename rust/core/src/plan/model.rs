//! A model: its size, its KV cache per token, and its operators as linear coefficients of a step's token
//! statistics (see `docs/cost-model.md`).

/// What an operator may run on: a compute engine kind (`tensor`, `vector`) or a communication pattern.
pub const OPERATOR_ENGINES: [&str; 5] = ["tensor", "vector", "collective", "alltoall", "p2p"];

/// Operator engines that are communication, not compute (no chip engine needed).
pub const COMM_ENGINES: &[&str] = OPERATOR_ENGINES.split_at(2).1;

/// One operator of a model.
#[derive(Debug, Clone)]
pub struct Operator {
    pub name: String,
    /// `tensor`, `vector`, `collective` (an all-reduce over the tensor-parallel group), `alltoall` (a
    /// mixture-of-experts block's communication) or `p2p` (activations handed between pipeline stages).
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
    /// Routed experts whose weights `weight_bytes` holds; a step reads the expected share it touches
    /// (0: not an expert operator; optional column, 0 when absent).
    pub experts: f64,
    /// Experts each token is routed to (expert operators and `alltoall`; optional column, 0 when absent).
    pub experts_per_token: f64,
    /// A sliding-window layer's attention: its pairs and KV reads are the step's windowed sums (optional
    /// column, false when absent).
    pub window: bool,
    /// Bytes read and written once per sequence the step schedules, e.g. a linear-attention layer's
    /// recurrent state (optional column, 0 when absent).
    pub bytes_per_seq: f64,
    /// Part of the attention block: under attention data parallelism it runs on each attention rank's
    /// share of the batch, sharded over the rank's `tp / dp_attention` chips (optional column
    /// `attention_dp`, false when absent).
    pub attention_dp: bool,
}

impl Operator {
    /// Whether a tensor operator is attention (it scores query–key pairs, reads the KV cache or a
    /// recurrent state) rather than a weight matmul; the two are routed separately (`attention_engine`,
    /// `matmul_engine`).
    pub fn is_attention(&self) -> bool {
        self.flops_per_attn_pair > 0.0 || self.bytes_per_kv_token > 0.0 || self.bytes_per_seq > 0.0
    }

    /// Whether the operator is communication, priced by its pattern rather than on a chip engine.
    pub fn is_communication(&self) -> bool {
        COMM_ENGINES.contains(&self.engine.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub layers: u64,
    pub kv_heads: u64,
    pub weight_bytes: f64,
    /// KV bytes of one token in one block group (all the layers for a model with one kind of attention).
    pub kv_bytes_per_token: f64,
    pub kv: KvShape,
    pub operators: Vec<Operator>,
}

/// How a model's cache is laid out in KV blocks, after vLLM's hybrid KV cache manager (one block table per
/// attention type, every block the same bytes): the layers that cache keys and values are split into block
/// groups of equal size; a block holds `block_size` tokens of one group. A request with context `n` holds
/// `full_groups × ⌈n / block_size⌉ + window_groups × ⌈min(n, window) / block_size⌉` blocks, plus its pool's
/// `state_blocks` for fixed-size recurrent state (linear-attention layers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KvShape {
    /// Block groups of full-attention layers (optional column `kv_full_groups`, 1 when absent).
    pub full_groups: u64,
    /// Block groups of sliding-window layers (optional column `kv_window_groups`, 0 when absent).
    pub window_groups: u64,
    /// The sliding window in tokens (optional column `sliding_window`; 0: none).
    pub window: u64,
    /// Bytes of fixed-size per-request state (linear attention), moved with the KV cache (optional column
    /// `state_bytes`, 0 when absent).
    pub state_bytes: f64,
}

impl Default for KvShape {
    fn default() -> Self {
        KvShape {
            full_groups: 1,
            window_groups: 0,
            window: 0,
            state_bytes: 0.0,
        }
    }
}

impl KvShape {
    /// Tokens of a context of `n` tokens that one group of each kind holds: (full, windowed).
    pub fn cached_tokens(&self, n: u64) -> (u64, u64) {
        (n, n.min(self.window))
    }

    /// KV blocks of `block_size` tokens that a context of `n` tokens holds, with `state_blocks` for its
    /// recurrent state.
    pub fn blocks(&self, n: u64, block_size: u64, state_blocks: u64) -> u64 {
        let (full, win) = self.cached_tokens(n);
        self.full_groups * full.div_ceil(block_size)
            + self.window_groups * win.div_ceil(block_size)
            + state_blocks
    }

    /// Bytes of the cache of a context of `n` tokens (`kv_bytes_per_token` per token and group).
    pub fn bytes(&self, n: u64, kv_bytes_per_token: f64) -> f64 {
        let (full, win) = self.cached_tokens(n);
        kv_bytes_per_token * (self.full_groups * full + self.window_groups * win) as f64
            + self.state_bytes
    }
}
