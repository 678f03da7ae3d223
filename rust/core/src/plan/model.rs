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
}

impl Operator {
    /// Whether a tensor operator is attention (it scores query–key pairs or reads the KV cache) rather than
    /// a weight matmul; the two are routed separately (`attention_engine`, `matmul_engine`).
    pub fn is_attention(&self) -> bool {
        self.flops_per_attn_pair > 0.0 || self.bytes_per_kv_token > 0.0
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
    pub kv_bytes_per_token: f64,
    pub operators: Vec<Operator>,
}
