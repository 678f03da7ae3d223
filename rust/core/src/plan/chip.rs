//! A chip: its memory, links, power and price, its compute engines, its memory tiers and calibration
//! profile, and which engine runs which operator (routing, with precision fallbacks).

use super::model::Operator;
use super::precision::fallbacks;

/// A chip's compute engine: a rate for one kind of work at one precision.
#[derive(Debug, Clone)]
pub struct Engine {
    pub kind: String,
    pub dtype: String,
    pub flops: f64,
    pub efficiency: f64,
    /// The engine block's name (`tensor` / `vector` for the shorthand rates; optional column, the kind when
    /// absent). A chip's `matmul_engine` / `attention_engine` routes name engines by name or kind.
    pub name: String,
    /// Dynamic energy per FLOP, J (optional column, 0 when absent).
    pub energy_per_flop: f64,
    /// Rate of the engine's operand converters (DAC/ADC of an optical engine), B/s; 0: no conversion stage
    /// (optional column).
    pub conversion_bw: f64,
    /// Energy per operand byte converted, J/B (optional column, 0 when absent).
    pub conversion_energy_per_byte: f64,
}

/// One memory tier of a chip (the optional `memories` table): HBM, on-chip SRAM, DRAM...
#[derive(Debug, Clone)]
pub struct Memory {
    pub name: String,
    pub capacity_bytes: f64,
    pub bandwidth: f64,
    pub efficiency: f64,
    /// Energy per byte read or written, J/B.
    pub energy_per_byte: f64,
}

/// The step statistics a profile may be keyed by.
pub const PROFILE_STATS: [&str; 4] = ["tokens", "sampled", "attn_pairs", "kv_tokens"];

/// One measured point of a chip's calibration profile (the optional `profiles` table): one occurrence of
/// `operator` took `seconds` when the step statistic `stat` was `x`, on an instance of `tp` chips.
#[derive(Debug, Clone)]
pub struct ProfilePoint {
    /// Model name the measurement applies to; empty: any model.
    pub model: String,
    pub operator: String,
    pub tp: u64,
    /// One of [`PROFILE_STATS`].
    pub stat: String,
    pub x: f64,
    pub seconds: f64,
}

/// How a chip's kernels fall short of its peaks as a function of their shape (the optional `chips` columns
/// of the same names; every field 0: the plain roofline). `docs/cost-model.md`, "Kernel efficiency by
/// shape", gives each curve and where its default comes from; `cost/efficiency.rs` prices them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct KernelShape {
    /// Tokens at which a weight matmul reaches half its peak FLOP rate (tile and wave quantisation).
    pub gemm_half_tokens: f64,
    /// Fraction of each memory's bandwidth that kernels which mostly read (matmuls, attention) sustain;
    /// 0: the memory's own efficiency.
    pub read_efficiency: f64,
    /// Fraction that kernels writing as much as they read (vector-engine norms and activations) sustain;
    /// 0: the memory's own efficiency.
    pub copy_efficiency: f64,
    /// Bytes at which a matmul's weight/activation stream reaches half its sustained bandwidth.
    pub read_half_bytes: f64,
    /// Fraction of the engine's peak that attention's query-key work reaches; 0: the engine's efficiency.
    pub attention_efficiency: f64,
    /// Keys per query at which attention's compute reaches half of `attention_efficiency`.
    pub attention_half_context: f64,
    /// KV-cache bytes at which attention's cache read reaches half its sustained bandwidth.
    pub attention_half_bytes: f64,
}

impl KernelShape {
    /// The optional `chips` columns, in the order of the fields.
    pub const COLUMNS: [&'static str; 7] = [
        "gemm_half_tokens",
        "read_efficiency",
        "copy_efficiency",
        "read_half_bytes",
        "attention_efficiency",
        "attention_half_context",
        "attention_half_bytes",
    ];

    /// Sets the field of column `col` (one of [`KernelShape::COLUMNS`]).
    pub fn set(&mut self, col: &str, v: f64) {
        match col {
            "gemm_half_tokens" => self.gemm_half_tokens = v,
            "read_efficiency" => self.read_efficiency = v,
            "copy_efficiency" => self.copy_efficiency = v,
            "read_half_bytes" => self.read_half_bytes = v,
            "attention_efficiency" => self.attention_efficiency = v,
            "attention_half_context" => self.attention_half_context = v,
            _ => self.attention_half_bytes = v,
        }
    }

    /// The field of column `col` (one of [`KernelShape::COLUMNS`]).
    pub fn get(&self, col: &str) -> f64 {
        match col {
            "gemm_half_tokens" => self.gemm_half_tokens,
            "read_efficiency" => self.read_efficiency,
            "copy_efficiency" => self.copy_efficiency,
            "read_half_bytes" => self.read_half_bytes,
            "attention_efficiency" => self.attention_efficiency,
            "attention_half_context" => self.attention_half_context,
            _ => self.attention_half_bytes,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Chip {
    pub name: String,
    pub memory_bytes: f64,
    pub memory_bw: f64,
    pub memory_efficiency: f64,
    pub link_bw: f64,
    pub link_latency_s: f64,
    pub power_busy_w: f64,
    pub power_idle_w: f64,
    pub price_per_hour: f64,
    pub engines: Vec<Engine>,
    /// Memory tiers (empty when the plan has no `memories` table: the chip's one memory is the row above).
    pub memories: Vec<Memory>,
    /// Engines (names or kinds, in preference order) that run weight matmuls; empty: `tensor`.
    pub matmul_route: Vec<String>,
    /// Engines (names or kinds, in preference order) that run attention; empty: `tensor`.
    pub attention_route: Vec<String>,
    /// Measured operator times overriding the roofline where they have data (see `docs/calibration.md`).
    pub profile: Vec<ProfilePoint>,
    /// Fixed seconds each compute operator occurrence (one kernel) costs on top of its roofline time:
    /// launch, ramp-up and tail of a kernel (optional `chips.kernel_overhead_s` column; 0 when absent).
    pub kernel_overhead_s: f64,
    /// Shape-dependent efficiency curves (all zero: the plain roofline).
    pub kernels: KernelShape,
}

impl Chip {
    /// The engine that runs work of `kind` at `dtype`, falling back to a wider precision.
    pub fn find_engine(&self, kind: &str, dtype: &str) -> Option<&Engine> {
        let exact = self
            .engines
            .iter()
            .find(|e| e.kind == kind && e.dtype == dtype);
        exact.or_else(|| {
            fallbacks(dtype).iter().find_map(|d| {
                self.engines
                    .iter()
                    .find(|e| e.kind == kind && e.dtype == *d)
            })
        })
    }

    /// The engines (names or kinds, in preference order) that may run `op`.
    pub fn route(&self, op: &Operator) -> Vec<String> {
        if op.engine != "tensor" {
            return vec![op.engine.clone()];
        }
        let r = if op.is_attention() {
            &self.attention_route
        } else {
            &self.matmul_route
        };
        if r.is_empty() {
            vec!["tensor".to_string()]
        } else {
            r.clone()
        }
    }

    /// The engine among those whose name or kind is `which` that runs `dtype`, at that precision or the
    /// next wider one (never narrower: see [`Chip::find_engine`]).
    fn find_named(&self, which: &str, dtype: &str) -> Option<&Engine> {
        let ok = |e: &&Engine| e.name == which || e.kind == which;
        self.engines
            .iter()
            .filter(ok)
            .find(|e| e.dtype == dtype)
            .or_else(|| {
                fallbacks(dtype)
                    .iter()
                    .find_map(|d| self.engines.iter().filter(ok).find(|e| e.dtype == *d))
            })
    }

    /// The engine that runs `op`: the first engine of its route that can run its precision.
    pub fn engine_for(&self, op: &Operator) -> Option<&Engine> {
        if op.engine != "tensor" {
            return self.find_engine(&op.engine, &op.dtype);
        }
        self.route(op)
            .iter()
            .find_map(|r| self.find_named(r, &op.dtype))
    }
}
