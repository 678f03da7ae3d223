//! The plan: what to simulate, decoded from Arrow and validated.
//!
//! On the wire a plan is one Arrow record batch with a single row. Each column is one table, typed
//! `list<struct<...>>`, so a whole plan travels as one batch (through the C data interface or one Arrow IPC
//! file) and every table keeps its own schema. The schema's metadata carries `infera.plan_version`.
//! `docs/plan.md` documents every table and column; this module is the authority on what is accepted.

use std::fs::File;
use std::path::Path;

use arrow_array::{cast::AsArray, Array, RecordBatch};
use arrow_schema::DataType;

use crate::error::{plan_err, Result};
use crate::table::Table;

/// The plan format version this crate reads and writes.
pub const PLAN_VERSION: &str = "1";
/// Most instances one run may have: each costs the engine about a kilobyte of state, so this bounds a run's
/// memory (10,000 instances are benchmarked in benches/RESULTS.md).
pub const MAX_INSTANCES: u64 = 1_000_000;
/// Schema metadata key holding the plan format version.
pub const PLAN_VERSION_KEY: &str = "infera.plan_version";

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

/// One measured point of a chip's calibration profile (the optional `profiles` table): one occurrence of
/// `operator` took `seconds` when the step statistic `stat` was `x`, on an instance of `tp` chips.
#[derive(Debug, Clone)]
pub struct ProfilePoint {
    /// Model name the measurement applies to; empty: any model.
    pub model: String,
    pub operator: String,
    pub tp: u64,
    /// `tokens`, `sampled`, `attn_pairs` or `kv_tokens`.
    pub stat: String,
    pub x: f64,
    pub seconds: f64,
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
}

/// One operator of a model, as linear coefficients of a step's token statistics (see `docs/cost-model.md`).
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

/// Operator engines that are communication, not compute (no chip engine needed).
pub const COMM_ENGINES: [&str; 3] = ["collective", "alltoall", "p2p"];
/// Every engine an operator may name: the chip's compute engines, then the communication ones.
pub const OPERATOR_ENGINES: [&str; 5] = ["tensor", "vector", "collective", "alltoall", "p2p"];

#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub layers: u64,
    pub kv_heads: u64,
    pub weight_bytes: f64,
    pub kv_bytes_per_token: f64,
    pub operators: Vec<Operator>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrivalKind {
    /// Arrival times come from the requests table (Poisson, burst, trace).
    Open,
    /// A fixed number of users; each sends its next request when its last one finishes.
    Closed,
}

impl ArrivalKind {
    pub const NAMES: [&'static str; 2] = ["open", "closed"];
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub name: String,
    pub kind: ArrivalKind,
    pub users: u64,
    pub think_time_s: f64,
    /// No request is issued at or after this time (infinite when the traffic is bounded by count).
    pub duration_s: f64,
    pub arrival_s: Vec<f64>,
    pub prompt_tokens: Vec<u32>,
    pub output_tokens: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Router {
    RoundRobin,
    /// The instance with the fewest tokens outstanding (prompt and output tokens not yet served).
    LeastTokens,
    /// Two instances drawn at random (seeded), the one with fewer outstanding tokens wins.
    PowerOfTwo,
}

impl Router {
    pub const NAMES: [&'static str; 3] = ["round_robin", "least_tokens", "power_of_two"];

    fn parse(name: &str) -> Router {
        match name {
            "round_robin" => Router::RoundRobin,
            "least_tokens" => Router::LeastTokens,
            _ => Router::PowerOfTwo,
        }
    }
}

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
    pub const NAMES: [&'static str; 3] = ["mixed", "prefill", "decode"];

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulePolicy {
    /// Every step carries all running decodes, then fills the token budget with prefill (vLLM v1, Sarathi).
    DecodeFirst,
    /// While any prefill waits, steps carry prefill only and decodes stall (vLLM before v0.6 default).
    PrefillFirst,
}

impl SchedulePolicy {
    pub const NAMES: [&'static str; 2] = ["decode_first", "prefill_first"];
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
    pub chunked_prefill: bool,
    pub policy: SchedulePolicy,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Ttft,
    Tpot,
    E2e,
    Queue,
}

impl Metric {
    pub const NAMES: [&'static str; 4] = ["ttft", "tpot", "e2e", "queue"];
}

#[derive(Debug, Clone)]
pub struct Slo {
    pub metric: Metric,
    pub percentile: Option<f64>,
    pub threshold_s: f64,
}

#[derive(Debug, Clone)]
pub struct Run {
    pub name: String,
    pub system: String,
    pub model: usize,
    pub workload: usize,
    pub seed: u64,
    pub prefill_router: Router,
    pub decode_router: Router,
    /// Which outputs the run keeps (all by default).
    pub keep: crate::engine::SimOptions,
    pub pools: Vec<usize>,
    pub links: Vec<usize>,
    pub slos: Vec<Slo>,
}

/// A decoded, validated plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub chips: Vec<Chip>,
    pub models: Vec<Model>,
    pub workloads: Vec<Workload>,
    pub pools: Vec<Pool>,
    pub links: Vec<Link>,
    pub runs: Vec<Run>,
}

/// Calls `f` with the named table of a packed plan batch.
pub(crate) fn with_table<T>(
    batch: &RecordBatch,
    name: &str,
    f: impl FnOnce(Table<'_>) -> Result<T>,
) -> Result<T> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| plan_err!("plan has no table '{}'", name))?;
    if col.is_empty() || col.is_null(0) {
        return Err(plan_err!("plan table '{}' is missing (null)", name));
    }
    let inner = match col.data_type() {
        DataType::List(_) => col.as_list::<i32>().value(0),
        DataType::LargeList(_) => col.as_list::<i64>().value(0),
        other => {
            return Err(plan_err!(
                "plan table '{}' must be list<struct>, found {}",
                name,
                other
            ))
        }
    };
    let structs = inner.as_struct_opt().ok_or_else(|| {
        plan_err!(
            "plan table '{}' must be a list of structs, found {}",
            name,
            inner.data_type()
        )
    })?;
    f(Table::new(name, structs))
}

fn u32_tokens(v: Vec<u64>) -> Vec<u32> {
    v.into_iter().map(|x| x as u32).collect()
}

impl Plan {
    /// Decodes and validates a packed plan batch (one row, one `list<struct>` column per table).
    pub fn from_batch(batch: &RecordBatch) -> Result<Plan> {
        match batch.schema().metadata().get(PLAN_VERSION_KEY) {
            Some(v) if v == PLAN_VERSION => {}
            Some(v) => {
                return Err(plan_err!(
                    "plan format version {} is not supported (this core reads version {})",
                    v,
                    PLAN_VERSION
                ))
            }
            None => {
                return Err(plan_err!(
                    "plan schema lacks the '{}' metadata key",
                    PLAN_VERSION_KEY
                ))
            }
        }
        if batch.num_rows() != 1 {
            return Err(plan_err!(
                "a packed plan has exactly one row, this one has {}",
                batch.num_rows()
            ));
        }

        let mut chips = with_table(batch, "chips", |t| {
            let name = t.strings("name")?;
            let memory_bytes = t.nonneg("memory_bytes")?;
            let memory_bw = t.positive("memory_bw")?;
            let memory_efficiency = t.positive("memory_efficiency")?;
            let link_bw = t.positive("link_bw")?;
            let link_latency_s = t.nonneg("link_latency_s")?;
            let power_busy_w = t.nonneg("power_busy_w")?;
            let power_idle_w = t.nonneg("power_idle_w")?;
            let price_per_hour = t.nonneg("price_per_hour")?;
            Ok((0..t.len())
                .map(|i| Chip {
                    name: name[i].clone(),
                    memory_bytes: memory_bytes[i],
                    memory_bw: memory_bw[i],
                    memory_efficiency: memory_efficiency[i],
                    link_bw: link_bw[i],
                    link_latency_s: link_latency_s[i],
                    power_busy_w: power_busy_w[i],
                    power_idle_w: power_idle_w[i],
                    price_per_hour: price_per_hour[i],
                    engines: Vec::new(),
                    memories: Vec::new(),
                    matmul_route: Vec::new(),
                    attention_route: Vec::new(),
                    profile: Vec::new(),
                    kernel_overhead_s: 0.0,
                })
                .collect::<Vec<_>>())
        })?;
        for c in &chips {
            if c.memory_efficiency > 1.0 {
                return Err(plan_err!(
                    "chip '{}': memory_efficiency must be in (0, 1]",
                    c.name
                ));
            }
        }

        with_table(batch, "engines", |t| {
            let chip = t.index("chip", "chips", chips.len())?;
            let kind = t.strings("kind")?;
            let dtype = t.strings("dtype")?;
            let flops = t.positive("flops")?;
            let eff = t.positive("efficiency")?;
            for i in 0..t.len() {
                if eff[i] > 1.0 {
                    return Err(plan_err!("engines row {}: efficiency must be in (0, 1]", i));
                }
                chips[chip[i]].engines.push(Engine {
                    kind: kind[i].clone(),
                    dtype: dtype[i].clone(),
                    flops: flops[i],
                    efficiency: eff[i],
                    name: kind[i].clone(),
                    energy_per_flop: 0.0,
                    conversion_bw: 0.0,
                    conversion_energy_per_byte: 0.0,
                });
            }
            Ok(())
        })?;
        // Multi-engine chips, memory tiers and calibration profiles (optional columns and tables).
        crate::hw::decode_chip_hardware(batch, &mut chips)?;

        let mut models = with_table(batch, "models", |t| {
            let name = t.strings("name")?;
            let layers = t.int_in("layers", 1, 100_000)?;
            let kv_heads = t.int_in("kv_heads", 1, 1_000_000)?;
            let weight_bytes = t.positive("weight_bytes")?;
            let kvb = t.positive("kv_bytes_per_token")?;
            Ok((0..t.len())
                .map(|i| Model {
                    name: name[i].clone(),
                    layers: layers[i],
                    kv_heads: kv_heads[i],
                    weight_bytes: weight_bytes[i],
                    kv_bytes_per_token: kvb[i],
                    operators: Vec::new(),
                })
                .collect::<Vec<_>>())
        })?;

        with_table(batch, "operators", |t| {
            let model = t.index("model", "models", models.len())?;
            let name = t.strings("name")?;
            let engine = t.choice("engine", &OPERATOR_ENGINES)?;
            let dtype = t.strings("dtype")?;
            let count = t.nonneg("count")?;
            let fpt = t.nonneg("flops_per_token")?;
            let fps = t.nonneg("flops_per_sampled")?;
            let fap = t.nonneg("flops_per_attn_pair")?;
            let wb = t.nonneg("weight_bytes")?;
            let bpt = t.nonneg("bytes_per_token")?;
            let bps = t.nonneg("bytes_per_sampled")?;
            let bkv = t.nonneg("bytes_per_kv_token")?;
            let shard = t.bools("tp_shard")?;
            let experts = if t.has("experts") {
                t.nonneg("experts")?
            } else {
                vec![0.0; t.len()]
            };
            let experts_per_token = if t.has("experts_per_token") {
                t.nonneg("experts_per_token")?
            } else {
                vec![0.0; t.len()]
            };
            for i in 0..t.len() {
                if experts[i] > 0.0
                    && !(experts_per_token[i] > 0.0 && experts_per_token[i] <= experts[i])
                {
                    return Err(plan_err!(
                        "operators row {}: experts_per_token must be in (0, experts] for an expert operator",
                        i
                    ));
                }
                models[model[i]].operators.push(Operator {
                    name: name[i].clone(),
                    engine: engine[i].clone(),
                    dtype: dtype[i].clone(),
                    count: count[i],
                    flops_per_token: fpt[i],
                    flops_per_sampled: fps[i],
                    flops_per_attn_pair: fap[i],
                    weight_bytes: wb[i],
                    bytes_per_token: bpt[i],
                    bytes_per_sampled: bps[i],
                    bytes_per_kv_token: bkv[i],
                    tp_shard: shard[i],
                    experts: experts[i],
                    experts_per_token: experts_per_token[i],
                });
            }
            Ok(())
        })?;
        for m in &models {
            if m.operators.is_empty() {
                return Err(plan_err!("model '{}' has no operators", m.name));
            }
        }

        let mut workloads = with_table(batch, "workloads", |t| {
            let name = t.strings("name")?;
            let kind = t.choice("kind", &ArrivalKind::NAMES)?;
            let users = t.int_in("users", 0, u32::MAX as u64)?;
            let think = t.nonneg("think_time_s")?;
            let duration = t.f64_checked("duration_s", true)?;
            (0..t.len())
                .map(|i| {
                    if duration[i] <= 0.0 {
                        return Err(plan_err!("workloads row {}: duration_s must be > 0", i));
                    }
                    let kind = if kind[i] == "open" {
                        ArrivalKind::Open
                    } else {
                        ArrivalKind::Closed
                    };
                    if kind == ArrivalKind::Closed && users[i] == 0 {
                        return Err(plan_err!(
                            "workload '{}': closed-loop traffic needs users >= 1",
                            name[i]
                        ));
                    }
                    Ok(Workload {
                        name: name[i].clone(),
                        kind,
                        users: users[i],
                        think_time_s: think[i],
                        duration_s: duration[i],
                        arrival_s: Vec::new(),
                        prompt_tokens: Vec::new(),
                        output_tokens: Vec::new(),
                    })
                })
                .collect::<Result<Vec<_>>>()
        })?;

        with_table(batch, "requests", |t| {
            let wl = t.index("workload", "workloads", workloads.len())?;
            let arrival = t.f64_opt("arrival_s")?;
            let prompt = u32_tokens(t.int_in("prompt_tokens", 1, 100_000_000)?);
            let output = u32_tokens(t.int_in("output_tokens", 1, 100_000_000)?);
            for i in 0..t.len() {
                let w = &mut workloads[wl[i]];
                let a = match (w.kind, arrival[i]) {
                    (ArrivalKind::Open, Some(a)) if a.is_finite() && a >= 0.0 => a,
                    (ArrivalKind::Open, _) => {
                        return Err(plan_err!(
                            "requests row {}: arrival_s must be a finite time >= 0 for open-loop workload '{}'",
                            i,
                            w.name
                        ))
                    }
                    (ArrivalKind::Closed, _) => f64::NAN,
                };
                w.arrival_s.push(a);
                w.prompt_tokens.push(prompt[i]);
                w.output_tokens.push(output[i]);
            }
            Ok(())
        })?;

        let mut runs = with_table(batch, "runs", |t| {
            let name = t.strings("name")?;
            let system = t.strings("system")?;
            let model = t.index("model", "models", models.len())?;
            let workload = t.index("workload", "workloads", workloads.len())?;
            let seed = t.u64_exact("seed")?;
            // `router` alone (older writers) sets both stages.
            let (pre_col, dec_col) = if t.has("prefill_router") || t.has("decode_router") {
                ("prefill_router", "decode_router")
            } else {
                ("router", "router")
            };
            let prefill_router = t.choice(pre_col, &Router::NAMES)?;
            let decode_router = t.choice(dec_col, &Router::NAMES)?;
            let flag = |col: &str| -> Result<Vec<bool>> {
                if t.has(col) {
                    t.bools(col)
                } else {
                    Ok(vec![true; t.len()])
                }
            };
            let (keep_req, keep_it, keep_tok) = (
                flag("keep_requests")?,
                flag("keep_iterations")?,
                flag("keep_token_stats")?,
            );
            Ok((0..t.len())
                .map(|i| Run {
                    name: name[i].clone(),
                    system: system[i].clone(),
                    model: model[i],
                    workload: workload[i],
                    seed: seed[i],
                    prefill_router: Router::parse(&prefill_router[i]),
                    decode_router: Router::parse(&decode_router[i]),
                    keep: crate::engine::SimOptions {
                        requests: keep_req[i],
                        iterations: keep_it[i],
                        token_stats: keep_tok[i],
                    },
                    pools: Vec::new(),
                    links: Vec::new(),
                    slos: Vec::new(),
                })
                .collect::<Vec<_>>())
        })?;

        let mut pools = with_table(batch, "pools", |t| {
            let name = t.strings("name")?;
            let run = t.index("run", "runs", runs.len())?;
            let chip = t.index("chip", "chips", chips.len())?;
            let n_chips = t.int_in("chips", 1, u32::MAX as u64)?;
            let tp = t.int_in("tp", 1, 65_536)?;
            let instances = t.int_in("instances", 1, u32::MAX as u64)?;
            let max_batch = t.int_in("max_batch", 1, u32::MAX as u64)?;
            let mbt = t.int_in("max_batched_tokens", 1, u32::MAX as u64)?;
            let block = t.int_in("block_size", 1, 1 << 20)?;
            let kv_blocks = t.int_in("kv_blocks", 1, u32::MAX as u64)?;
            let chunked = t.bools("chunked_prefill")?;
            let policy = t.choice("policy", &SchedulePolicy::NAMES)?;
            let overhead = t.nonneg("step_overhead_s")?;
            let max_queue = if t.has("max_queue") {
                t.int_in("max_queue", 0, u64::MAX)?
            } else {
                vec![0; t.len()]
            };
            let queue_timeout = if t.has("queue_timeout_s") {
                t.f64_checked("queue_timeout_s", true)?
            } else {
                vec![f64::INFINITY; t.len()]
            };
            if let Some(i) = queue_timeout.iter().position(|&x| x <= 0.0) {
                return Err(plan_err!("pools row {}: queue_timeout_s must be > 0", i));
            }
            // Parallelism and topology (optional columns: absent means tp-only instances within one node).
            let ones = || vec![1u64; t.len()];
            let pp = if t.has("pp") {
                t.int_in("pp", 1, 65_536)?
            } else {
                ones()
            };
            let ep = if t.has("ep") {
                t.int_in("ep", 1, 65_536)?
            } else {
                ones()
            };
            let microbatches = if t.has("microbatches") {
                t.int_in("microbatches", 0, 1 << 20)?
            } else {
                vec![0; t.len()]
            };
            let node_size = if t.has("node_size") {
                t.int_in("node_size", 0, u32::MAX as u64)?
            } else {
                vec![0; t.len()]
            };
            let network_bw = if t.has("network_bw") {
                t.nonneg("network_bw")?
            } else {
                vec![0.0; t.len()]
            };
            let network_latency = if t.has("network_latency_s") {
                t.nonneg("network_latency_s")?
            } else {
                vec![0.0; t.len()]
            };
            let role = if t.has("role") {
                t.choice("role", &Role::NAMES)?
            } else {
                vec!["mixed".to_string(); t.len()]
            };
            (0..t.len())
                .map(|i| {
                    if tp[i] * pp[i] * instances[i] != n_chips[i] {
                        return Err(plan_err!(
                            "pool '{}': {} chips cannot form {} instances of tp={} x pp={}",
                            name[i],
                            n_chips[i],
                            instances[i],
                            tp[i],
                            pp[i]
                        ));
                    }
                    if tp[i] % ep[i] != 0 {
                        return Err(plan_err!("pool '{}': ep={} must divide tp={}", name[i], ep[i], tp[i]));
                    }
                    // 0 (or absent) node size: the whole instance is one node.
                    let node = if node_size[i] == 0 { tp[i] * pp[i] } else { node_size[i] };
                    if !(node % tp[i] == 0 || tp[i] % node == 0) {
                        return Err(plan_err!(
                            "pool '{}': node_size={} and tp={} must divide one another",
                            name[i],
                            node,
                            tp[i]
                        ));
                    }
                    if tp[i] * pp[i] > node && network_bw[i] <= 0.0 {
                        return Err(plan_err!(
                            "pool '{}': an instance of {} chips spans nodes of {} but network_bw is not set",
                            name[i],
                            tp[i] * pp[i],
                            node
                        ));
                    }
                    Ok(Pool {
                        name: name[i].clone(),
                        run: run[i],
                        role: match role[i].as_str() {
                            "mixed" => Role::Mixed,
                            "prefill" => Role::Prefill,
                            _ => Role::Decode,
                        },
                        chip: chip[i],
                        chips: n_chips[i],
                        tp: tp[i],
                        instances: instances[i],
                        max_batch: max_batch[i],
                        max_batched_tokens: mbt[i],
                        block_size: block[i],
                        kv_blocks: kv_blocks[i],
                        chunked_prefill: chunked[i],
                        policy: if policy[i] == "decode_first" {
                            SchedulePolicy::DecodeFirst
                        } else {
                            SchedulePolicy::PrefillFirst
                        },
                        step_overhead_s: overhead[i],
                        // 0 means no limit (the compiler writes 0 when none is set).
                        max_queue: if max_queue[i] == 0 { u64::MAX } else { max_queue[i] },
                        queue_timeout_s: queue_timeout[i],
                        pp: pp[i],
                        ep: ep[i],
                        microbatches: if pp[i] == 1 { 1 } else if microbatches[i] == 0 { pp[i] } else { microbatches[i] },
                        node_size: node,
                        network_bw: network_bw[i],
                        network_latency_s: network_latency[i],
                        weights_memory: None,
                        kv_memory: None,
                    })
                })
                .collect::<Result<Vec<_>>>()
        })?;
        // Where each pool keeps weights and KV (optional columns `weights_memory`, `kv_memory`).
        crate::hw::decode_placement(batch, &chips, &mut pools)?;
        for (i, p) in pools.iter().enumerate() {
            runs[p.run].pools.push(i);
        }

        // `links` is optional: a plan without it has no links.
        let has_links = batch.column_by_name("links").is_some();
        let links = if !has_links {
            Vec::new()
        } else {
            with_table(batch, "links", |t| {
                let src = t.index("src", "pools", pools.len())?;
                let dst = t.index("dst", "pools", pools.len())?;
                let bw = t.f64_checked("bandwidth", true)?;
                let lat = t.nonneg("latency_s")?;
                (0..t.len())
                    .map(|i| {
                        if bw[i].is_nan() || bw[i] <= 0.0 {
                            return Err(plan_err!("links row {}: bandwidth must be > 0", i));
                        }
                        if pools[src[i]].run != pools[dst[i]].run {
                            return Err(plan_err!(
                                "links row {}: the two pools belong to different runs",
                                i
                            ));
                        }
                        Ok(Link {
                            src: src[i],
                            dst: dst[i],
                            bandwidth: bw[i],
                            latency_s: lat[i],
                        })
                    })
                    .collect::<Result<Vec<_>>>()
            })?
        };
        for (i, l) in links.iter().enumerate() {
            runs[pools[l.src].run].links.push(i);
        }

        with_table(batch, "slos", |t| {
            let run = t.index("run", "runs", runs.len())?;
            let metric = t.choice("metric", &Metric::NAMES)?;
            let pct = t.f64_opt("percentile")?;
            let thr = t.positive("threshold_s")?;
            for i in 0..t.len() {
                let percentile = match pct[i] {
                    None => None,
                    Some(p) if p > 0.0 && p <= 100.0 => Some(p),
                    Some(p) => {
                        return Err(plan_err!(
                            "slos row {}: percentile {} is not in (0, 100]",
                            i,
                            p
                        ))
                    }
                };
                runs[run[i]].slos.push(Slo {
                    metric: match metric[i].as_str() {
                        "ttft" => Metric::Ttft,
                        "tpot" => Metric::Tpot,
                        "e2e" => Metric::E2e,
                        _ => Metric::Queue,
                    },
                    percentile,
                    threshold_s: thr[i],
                });
            }
            Ok(())
        })?;

        let plan = Plan {
            chips,
            models,
            workloads,
            pools,
            links,
            runs,
        };
        plan.validate()?;
        Ok(plan)
    }

    /// Cross-table checks that no single column can express.
    fn validate(&self) -> Result<()> {
        for run in &self.runs {
            if run.pools.is_empty() {
                return Err(plan_err!("run '{}' has no pools", run.name));
            }
            let instances: u64 = run.pools.iter().map(|&p| self.pools[p].instances).sum();
            if instances > MAX_INSTANCES {
                return Err(plan_err!(
                    "run '{}' has {} instances; the engine simulates at most {} per run",
                    run.name,
                    instances,
                    MAX_INSTANCES
                ));
            }
            if !run.pools.iter().any(|&p| self.pools[p].role.prefills()) {
                return Err(plan_err!("run '{}' has no pool that can prefill", run.name));
            }
            for &pi in &run.pools {
                let pool = &self.pools[pi];
                let out = run
                    .links
                    .iter()
                    .filter(|&&l| {
                        self.links[l].src == pi
                            && self.pools[self.links[l].dst].role == Role::Decode
                    })
                    .count();
                if pool.role == Role::Prefill && out == 0 {
                    return Err(plan_err!(
                        "run '{}': prefill pool '{}' has no link to a decode pool",
                        run.name,
                        pool.name
                    ));
                }
                let inc = run
                    .links
                    .iter()
                    .filter(|&&l| {
                        self.links[l].dst == pi
                            && self.pools[self.links[l].src].role == Role::Prefill
                    })
                    .count();
                if pool.role == Role::Decode && inc == 0 {
                    return Err(plan_err!(
                        "run '{}': decode pool '{}' has no link from a prefill pool",
                        run.name,
                        pool.name
                    ));
                }
            }
            let model = &self.models[run.model];
            let wl = &self.workloads[run.workload];
            if wl.prompt_tokens.is_empty() {
                return Err(plan_err!(
                    "run '{}': workload '{}' has no requests",
                    run.name,
                    wl.name
                ));
            }
            let max_ctx = wl
                .prompt_tokens
                .iter()
                .zip(&wl.output_tokens)
                .map(|(p, o)| *p as u64 + *o as u64)
                .max()
                .unwrap_or(0);
            for &pi in &run.pools {
                let pool = &self.pools[pi];
                let chip = &self.chips[pool.chip];
                for op in &model.operators {
                    if !COMM_ENGINES.contains(&op.engine.as_str())
                        && crate::hw::engine_for(chip, op).is_none()
                    {
                        return Err(plan_err!(
                            "run '{}': chip '{}' has no '{}' engine for operator '{}' ({})",
                            run.name,
                            chip.name,
                            crate::hw::route(chip, op).join("' or '"),
                            op.name,
                            op.dtype
                        ));
                    }
                }
                let capacity_tokens = pool.kv_blocks.saturating_mul(pool.block_size);
                if capacity_tokens < max_ctx {
                    return Err(plan_err!(
                        "run '{}' pool '{}': KV cache holds {} tokens per instance but a request needs {}",
                        run.name,
                        pool.name,
                        capacity_tokens,
                        max_ctx
                    ));
                }
                if !pool.chunked_prefill {
                    let max_prompt = wl
                        .prompt_tokens
                        .iter()
                        .zip(&wl.output_tokens)
                        .map(|(p, o)| *p as u64 + *o as u64)
                        .max()
                        .unwrap_or(0);
                    if max_prompt > pool.max_batched_tokens {
                        return Err(plan_err!(
                            "run '{}' pool '{}': without chunked prefill, max_batched_tokens ({}) must cover the longest context ({})",
                            run.name,
                            pool.name,
                            pool.max_batched_tokens,
                            max_prompt
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads a plan written as an Arrow IPC file (`infera compile -o plan.arrow`).
    pub fn read_ipc(path: impl AsRef<Path>) -> Result<Plan> {
        let file = File::open(path)?;
        let reader = arrow_ipc::reader::FileReader::try_new(file, None)?;
        let schema = reader.schema();
        let mut batches = Vec::new();
        for b in reader {
            batches.push(b?);
        }
        match batches.len() {
            1 => {
                // The IPC reader attaches file-level metadata to the schema it returns; make sure the batch
                // sees it even if the writer put it only on the file schema.
                let batch = batches.pop().expect("one batch");
                let batch = if batch.schema().metadata().is_empty() {
                    batch.with_schema(schema)?
                } else {
                    batch
                };
                Plan::from_batch(&batch)
            }
            n => Err(plan_err!(
                "a plan file holds exactly one record batch, this one has {}",
                n
            )),
        }
    }
}
