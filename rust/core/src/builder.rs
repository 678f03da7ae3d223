//! Building plans in Rust: a [`PlanBuilder`] that collects table rows and packs them into the plan batch
//! that [`Plan::from_batch`](crate::Plan::from_batch) decodes, and [`write_ipc`] to save it as the Arrow IPC
//! file that [`Plan::read_ipc`](crate::Plan::read_ipc) (and Python's `Plan.load`) reads.
//!
//! The builder writes the tables and columns the core decodes (`docs/plan.md`) — chips, engines, models,
//! operators, workloads, requests, runs, pools, links, slos — with the types Python's compiler uses: strings
//! as `Utf8`, counts and row indices as `UInt32` (`runs.seed` as `UInt64`), quantities as `Float64`,
//! `operators.tp_shard` and `pools.chunked_prefill` as `Boolean`; `requests.arrival_s` and
//! `slos.percentile` are nullable. It does not validate anything: rows that make an invalid plan (a NaN
//! rate, a dangling index, an unknown policy) are packed as given, so tests can check that decoding rejects
//! them. Indices are row numbers in the referenced table, as returned by the adding methods.
//!
//! ```
//! use infera_core::builder::{ChipRow, ModelRow, OperatorRow, PlanBuilder, PoolRow, RunRow, WorkloadRow};
//!
//! let mut b = PlanBuilder::new();
//! let chip = b.chip(ChipRow { name: "acc".into(), memory_bw: 2e12, ..Default::default() });
//! b.engine(chip, "tensor", "bf16", 4e14, 0.7);
//! let model = b.model(ModelRow { name: "m".into(), weight_bytes: 2e9, kv_bytes_per_token: 1e5, ..Default::default() });
//! b.operator(OperatorRow { model, name: "matmuls".into(), flops_per_token: 2e9, weight_bytes: 2e9, ..Default::default() });
//! let wl = b.workload(WorkloadRow { name: "w".into(), ..Default::default() });
//! for i in 0..10 {
//!     b.request(wl, Some(i as f64 * 0.1), 128, 32);
//! }
//! let run = b.run(RunRow { name: "r".into(), model, workload: wl, ..Default::default() });
//! b.pool(PoolRow { run, chip, name: "p".into(), ..Default::default() });
//!
//! let out = infera_core::simulate_batch(&b.build(), Default::default()).unwrap();
//! assert_eq!(out.requests.num_rows(), 10);
//! ```

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::OffsetBufferBuilder;
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, ListArray, RecordBatch, StringArray, StructArray,
    UInt32Array, UInt64Array,
};
use arrow_schema::{Field, Fields, Schema};

use crate::error::Result;
use crate::plan::{PLAN_VERSION, PLAN_VERSION_KEY};

/// A row of the `chips` table. The default is a valid, round-numbered chip (1 TB/s memory, 100 GB/s links,
/// no link latency, no power or price) with no engines; add engines with [`PlanBuilder::engine`].
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
    pub kv_bytes_per_token: f64,
}

impl Default for ModelRow {
    fn default() -> Self {
        Self {
            name: "model".into(),
            layers: 1,
            kv_heads: 1,
            weight_bytes: 1e9,
            kv_bytes_per_token: 1e5,
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

/// A row of the `requests` table. `arrival_s` is required for open-loop workloads and ignored for closed ones.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRow {
    pub workload: u32,
    pub arrival_s: Option<f64>,
    pub prompt_tokens: u32,
    pub output_tokens: u32,
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
    pub chunked_prefill: bool,
    /// `decode_first` or `prefill_first`.
    pub policy: String,
    pub step_overhead_s: f64,
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
            chunked_prefill: true,
            policy: "decode_first".into(),
            step_overhead_s: 0.0,
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

/// Collects the rows of every plan table and packs them into a plan batch.
///
/// The tables are public so a test can change one row after a helper such as [`tiny_dense_plan`] built the
/// rest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanBuilder {
    pub chips: Vec<ChipRow>,
    pub engines: Vec<EngineRow>,
    pub models: Vec<ModelRow>,
    pub operators: Vec<OperatorRow>,
    pub workloads: Vec<WorkloadRow>,
    pub requests: Vec<RequestRow>,
    pub runs: Vec<RunRow>,
    pub pools: Vec<PoolRow>,
    pub links: Vec<LinkRow>,
    pub slos: Vec<SloRow>,
}

fn push<T>(rows: &mut Vec<T>, row: T) -> u32 {
    rows.push(row);
    (rows.len() - 1) as u32
}

fn utf8<T>(rows: &[T], f: impl Fn(&T) -> &str) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
}

fn u32s<T>(rows: &[T], f: impl Fn(&T) -> u32) -> ArrayRef {
    Arc::new(UInt32Array::from_iter_values(rows.iter().map(f)))
}

fn f64s<T>(rows: &[T], f: impl Fn(&T) -> f64) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values(rows.iter().map(f)))
}

fn f64s_opt<T>(rows: &[T], f: impl Fn(&T) -> Option<f64>) -> ArrayRef {
    Arc::new(rows.iter().map(f).collect::<Float64Array>())
}

fn bools<T>(rows: &[T], f: impl Fn(&T) -> bool) -> ArrayRef {
    Arc::new(rows.iter().map(|r| Some(f(r))).collect::<BooleanArray>())
}

/// A struct array from named columns; a column is nullable exactly when it holds nulls.
fn table(cols: Vec<(&str, ArrayRef)>) -> StructArray {
    let fields: Fields = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), a.null_count() > 0))
        .collect();
    StructArray::new(fields, cols.into_iter().map(|(_, a)| a).collect(), None)
}

impl PlanBuilder {
    /// An empty plan: every table present, with no rows.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a chip; returns its row index.
    pub fn chip(&mut self, row: ChipRow) -> u32 {
        push(&mut self.chips, row)
    }

    /// Adds a compute engine (`kind` `tensor` or `vector`) to chip `chip`; returns its row index.
    pub fn engine(
        &mut self,
        chip: u32,
        kind: &str,
        dtype: &str,
        flops: f64,
        efficiency: f64,
    ) -> u32 {
        push(
            &mut self.engines,
            EngineRow {
                chip,
                kind: kind.into(),
                dtype: dtype.into(),
                flops,
                efficiency,
            },
        )
    }

    /// Adds a model; returns its row index.
    pub fn model(&mut self, row: ModelRow) -> u32 {
        push(&mut self.models, row)
    }

    /// Adds an operator to model `row.model`; returns its row index.
    pub fn operator(&mut self, row: OperatorRow) -> u32 {
        push(&mut self.operators, row)
    }

    /// Adds a workload; returns its row index.
    pub fn workload(&mut self, row: WorkloadRow) -> u32 {
        push(&mut self.workloads, row)
    }

    /// Adds a request to workload `workload`; returns its row index.
    pub fn request(
        &mut self,
        workload: u32,
        arrival_s: Option<f64>,
        prompt_tokens: u32,
        output_tokens: u32,
    ) -> u32 {
        push(
            &mut self.requests,
            RequestRow {
                workload,
                arrival_s,
                prompt_tokens,
                output_tokens,
            },
        )
    }

    /// Adds a run; returns its row index.
    pub fn run(&mut self, row: RunRow) -> u32 {
        push(&mut self.runs, row)
    }

    /// Adds a pool of run `row.run`; returns its row index.
    pub fn pool(&mut self, row: PoolRow) -> u32 {
        push(&mut self.pools, row)
    }

    /// Adds a KV-cache link from pool `src` to pool `dst`; returns its row index.
    pub fn link(&mut self, src: u32, dst: u32, bandwidth: f64, latency_s: f64) -> u32 {
        push(
            &mut self.links,
            LinkRow {
                src,
                dst,
                bandwidth,
                latency_s,
            },
        )
    }

    /// Adds a service-level objective (`metric` `ttft`, `tpot`, `e2e` or `queue`) to run `run`; returns its
    /// row index.
    pub fn slo(
        &mut self,
        run: u32,
        metric: &str,
        percentile: Option<f64>,
        threshold_s: f64,
    ) -> u32 {
        push(
            &mut self.slos,
            SloRow {
                run,
                metric: metric.into(),
                percentile,
                threshold_s,
            },
        )
    }

    /// Every table as a struct array (one element per row), in plan order, before packing. Useful to alter
    /// one table (drop or retype a column) and [`pack`] the result.
    pub fn tables(&self) -> Vec<(&'static str, StructArray)> {
        let c = &self.chips;
        let chips = table(vec![
            ("name", utf8(c, |r| &r.name)),
            ("memory_bytes", f64s(c, |r| r.memory_bytes)),
            ("memory_bw", f64s(c, |r| r.memory_bw)),
            ("memory_efficiency", f64s(c, |r| r.memory_efficiency)),
            ("link_bw", f64s(c, |r| r.link_bw)),
            ("link_latency_s", f64s(c, |r| r.link_latency_s)),
            ("power_busy_w", f64s(c, |r| r.power_busy_w)),
            ("power_idle_w", f64s(c, |r| r.power_idle_w)),
            ("price_per_hour", f64s(c, |r| r.price_per_hour)),
            ("kernel_overhead_s", f64s(c, |r| r.kernel_overhead_s)),
        ]);
        let e = &self.engines;
        let engines = table(vec![
            ("chip", u32s(e, |r| r.chip)),
            ("kind", utf8(e, |r| &r.kind)),
            ("dtype", utf8(e, |r| &r.dtype)),
            ("flops", f64s(e, |r| r.flops)),
            ("efficiency", f64s(e, |r| r.efficiency)),
        ]);
        let m = &self.models;
        let models = table(vec![
            ("name", utf8(m, |r| &r.name)),
            ("layers", u32s(m, |r| r.layers)),
            ("kv_heads", u32s(m, |r| r.kv_heads)),
            ("weight_bytes", f64s(m, |r| r.weight_bytes)),
            ("kv_bytes_per_token", f64s(m, |r| r.kv_bytes_per_token)),
        ]);
        let o = &self.operators;
        let operators = table(vec![
            ("model", u32s(o, |r| r.model)),
            ("name", utf8(o, |r| &r.name)),
            ("engine", utf8(o, |r| &r.engine)),
            ("dtype", utf8(o, |r| &r.dtype)),
            ("count", f64s(o, |r| r.count)),
            ("flops_per_token", f64s(o, |r| r.flops_per_token)),
            ("flops_per_sampled", f64s(o, |r| r.flops_per_sampled)),
            ("flops_per_attn_pair", f64s(o, |r| r.flops_per_attn_pair)),
            ("weight_bytes", f64s(o, |r| r.weight_bytes)),
            ("bytes_per_token", f64s(o, |r| r.bytes_per_token)),
            ("bytes_per_sampled", f64s(o, |r| r.bytes_per_sampled)),
            ("bytes_per_kv_token", f64s(o, |r| r.bytes_per_kv_token)),
            ("tp_shard", bools(o, |r| r.tp_shard)),
        ]);
        let w = &self.workloads;
        let workloads = table(vec![
            ("name", utf8(w, |r| &r.name)),
            ("kind", utf8(w, |r| &r.kind)),
            ("users", u32s(w, |r| r.users)),
            ("think_time_s", f64s(w, |r| r.think_time_s)),
            ("duration_s", f64s(w, |r| r.duration_s)),
        ]);
        let q = &self.requests;
        let requests = table(vec![
            ("workload", u32s(q, |r| r.workload)),
            ("arrival_s", f64s_opt(q, |r| r.arrival_s)),
            ("prompt_tokens", u32s(q, |r| r.prompt_tokens)),
            ("output_tokens", u32s(q, |r| r.output_tokens)),
        ]);
        let r = &self.runs;
        let runs = table(vec![
            ("name", utf8(r, |r| &r.name)),
            ("system", utf8(r, |r| &r.system)),
            ("model", u32s(r, |r| r.model)),
            ("workload", u32s(r, |r| r.workload)),
            (
                "seed",
                Arc::new(UInt64Array::from_iter_values(r.iter().map(|r| r.seed))) as ArrayRef,
            ),
            ("prefill_router", utf8(r, |r| &r.prefill_router)),
            ("decode_router", utf8(r, |r| &r.decode_router)),
        ]);
        let p = &self.pools;
        let pools = table(vec![
            ("run", u32s(p, |r| r.run)),
            ("name", utf8(p, |r| &r.name)),
            ("role", utf8(p, |r| &r.role)),
            ("chip", u32s(p, |r| r.chip)),
            ("chips", u32s(p, |r| r.chips)),
            ("tp", u32s(p, |r| r.tp)),
            ("instances", u32s(p, |r| r.instances)),
            ("max_batch", u32s(p, |r| r.max_batch)),
            ("max_batched_tokens", u32s(p, |r| r.max_batched_tokens)),
            ("block_size", u32s(p, |r| r.block_size)),
            ("kv_blocks", u32s(p, |r| r.kv_blocks)),
            ("chunked_prefill", bools(p, |r| r.chunked_prefill)),
            ("policy", utf8(p, |r| &r.policy)),
            ("step_overhead_s", f64s(p, |r| r.step_overhead_s)),
        ]);
        let l = &self.links;
        let links = table(vec![
            ("src", u32s(l, |r| r.src)),
            ("dst", u32s(l, |r| r.dst)),
            ("bandwidth", f64s(l, |r| r.bandwidth)),
            ("latency_s", f64s(l, |r| r.latency_s)),
        ]);
        let s = &self.slos;
        let slos = table(vec![
            ("run", u32s(s, |r| r.run)),
            ("metric", utf8(s, |r| &r.metric)),
            ("percentile", f64s_opt(s, |r| r.percentile)),
            ("threshold_s", f64s(s, |r| r.threshold_s)),
        ]);
        vec![
            ("chips", chips),
            ("engines", engines),
            ("models", models),
            ("operators", operators),
            ("workloads", workloads),
            ("requests", requests),
            ("runs", runs),
            ("pools", pools),
            ("links", links),
            ("slos", slos),
        ]
    }

    /// Packs the plan into one record batch: one row, a `list<struct>` column per table, and the
    /// `infera.plan_version` schema metadata. Decode it with [`Plan::from_batch`](crate::Plan::from_batch)
    /// or simulate it with [`simulate_batch`](crate::simulate_batch).
    pub fn build(&self) -> RecordBatch {
        pack(self.tables()).expect("every table of a builder packs into one list element")
    }
}

/// Packs tables into a plan batch: one row whose columns are `list<struct>`, one per table, with the
/// `infera.plan_version` metadata. Tables are taken as given, so a test can pack a malformed one.
pub fn pack<N: Into<String>>(tables: Vec<(N, StructArray)>) -> Result<RecordBatch> {
    let mut fields = Vec::with_capacity(tables.len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(tables.len());
    for (name, values) in tables {
        let item = Arc::new(Field::new("item", values.data_type().clone(), true));
        let mut offsets = OffsetBufferBuilder::<i32>::new(1);
        offsets.push_length(values.len());
        let list = ListArray::try_new(item, offsets.finish(), Arc::new(values), None)?;
        fields.push(Field::new(name, list.data_type().clone(), false));
        columns.push(Arc::new(list));
    }
    let metadata = HashMap::from([(PLAN_VERSION_KEY.to_string(), PLAN_VERSION.to_string())]);
    let schema = Arc::new(Schema::new_with_metadata(fields, metadata));
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// Writes a packed plan batch as an Arrow IPC file, the format `infera compile -o plan.arrow` writes and
/// [`Plan::read_ipc`](crate::Plan::read_ipc) reads. The schema metadata (the plan version) is kept.
pub fn write_ipc(batch: &RecordBatch, path: impl AsRef<Path>) -> Result<()> {
    let file = File::create(path)?;
    let mut writer = arrow_ipc::writer::FileWriter::try_new(file, &batch.schema())?;
    writer.write(batch)?;
    writer.finish()?;
    Ok(())
}

/// Hidden size of the model in [`tiny_dense_plan`].
const TINY_HIDDEN: f64 = 256.0;
/// Vocabulary size of the model in [`tiny_dense_plan`].
const TINY_VOCAB: f64 = 1000.0;

/// The smallest plan around one chip: the `chip` row with `engines` (kind, dtype, FLOP/s, efficiency), the
/// `model` row with its operators `ops`, one workload holding a single request (1 prompt and 1 output token
/// at time 0), one run and the `pool` row. The rows are given whole so a caller sets only what it tests; the
/// indices linking them (chip, model, run, workload) are filled in here.
pub fn single_pool(
    chip: ChipRow,
    engines: &[(&str, &str, f64, f64)],
    model: ModelRow,
    ops: Vec<OperatorRow>,
    pool: PoolRow,
) -> PlanBuilder {
    let mut b = PlanBuilder::new();
    let chip = b.chip(chip);
    for &(kind, dtype, flops, eff) in engines {
        b.engine(chip, kind, dtype, flops, eff);
    }
    let model = b.model(model);
    for op in ops {
        b.operator(OperatorRow { model, ..op });
    }
    let wl = b.workload(WorkloadRow::default());
    b.request(wl, Some(0.0), 1, 1);
    let run = b.run(RunRow {
        model,
        workload: wl,
        ..Default::default()
    });
    b.pool(PoolRow { run, chip, ..pool });
    b
}

/// A small, complete, valid plan for tests and examples.
///
/// * one chip `tiny-chip`: 1 TB/s memory, 100 GB/s links with 1 µs latency, 500 W busy, a `bf16` tensor
///   engine of 100 TFLOP/s and a `bf16` vector engine of 10 TFLOP/s (both at efficiency 1);
/// * one model `tiny-dense`: a 2-layer dense transformer (hidden 256, 2 KV heads of 128, vocabulary 1000,
///   bf16 weights and activations) described by seven operators (norm, QKV projection, attention, output
///   projection, all-reduce, MLP, LM head);
/// * one open-loop workload `tiny-open` with `requests` requests, request `i` arriving at `5 ms × i` with
///   `32 + (37 i mod 97)` prompt tokens and `4 + (13 i mod 29)` output tokens;
/// * one run `tiny` (system `tiny-system`, round-robin) with one pool `tiny-pool`: one instance, tp = 1,
///   max batch 64, 2048 batched tokens, 1024 KV blocks of 16 tokens, chunked prefill, decode-first,
///   100 µs step overhead;
/// * no SLOs.
///
/// The builder is returned so a caller can change any row (e.g. `b.pools[0].kv_blocks = 24`) first.
pub fn tiny_dense_plan(requests: usize) -> PlanBuilder {
    let (h, v, layers, act) = (TINY_HIDDEN, TINY_VOCAB, 2.0, 2.0);
    let mut b = PlanBuilder::new();
    let chip = b.chip(ChipRow {
        name: "tiny-chip".into(),
        memory_bytes: 16e9,
        memory_bw: 1e12,
        memory_efficiency: 1.0,
        link_bw: 1e11,
        link_latency_s: 1e-6,
        power_busy_w: 500.0,
        power_idle_w: 100.0,
        price_per_hour: 1.0,
        kernel_overhead_s: 0.0,
    });
    b.engine(chip, "tensor", "bf16", 1e14, 1.0);
    b.engine(chip, "vector", "bf16", 1e13, 1.0);

    let ops = [
        OperatorRow {
            name: "norm".into(),
            engine: "vector".into(),
            count: 2.0 * layers,
            flops_per_token: 4.0 * h,
            weight_bytes: h * act,
            bytes_per_token: 2.0 * h * act,
            tp_shard: false,
            ..Default::default()
        },
        OperatorRow {
            name: "qkv_proj".into(),
            count: layers,
            flops_per_token: 2.0 * h * 2.0 * h,
            weight_bytes: 2.0 * h * h * act,
            bytes_per_token: 3.0 * h * act,
            ..Default::default()
        },
        OperatorRow {
            name: "attention".into(),
            count: layers,
            flops_per_attn_pair: 4.0 * h,
            bytes_per_token: 2.0 * h * act,
            bytes_per_kv_token: h * act,
            ..Default::default()
        },
        OperatorRow {
            name: "o_proj".into(),
            count: layers,
            flops_per_token: 2.0 * h * h,
            weight_bytes: h * h * act,
            bytes_per_token: 2.0 * h * act,
            ..Default::default()
        },
        OperatorRow {
            name: "allreduce".into(),
            engine: "collective".into(),
            count: 2.0 * layers,
            bytes_per_token: h * act,
            tp_shard: false,
            ..Default::default()
        },
        OperatorRow {
            name: "mlp".into(),
            count: layers,
            flops_per_token: 2.0 * h * 8.0 * h,
            weight_bytes: 8.0 * h * h * act,
            bytes_per_token: 6.0 * h * act,
            ..Default::default()
        },
        OperatorRow {
            name: "lm_head".into(),
            flops_per_sampled: 2.0 * h * v,
            weight_bytes: h * v * act,
            bytes_per_sampled: (h + v) * act,
            ..Default::default()
        },
    ];
    let weight_bytes: f64 = ops.iter().map(|o| o.count * o.weight_bytes).sum();
    let model = b.model(ModelRow {
        name: "tiny-dense".into(),
        layers: layers as u32,
        kv_heads: 2,
        weight_bytes,
        kv_bytes_per_token: layers * h * act,
    });
    for op in ops {
        b.operator(OperatorRow { model, ..op });
    }

    let wl = b.workload(WorkloadRow {
        name: "tiny-open".into(),
        ..Default::default()
    });
    for i in 0..requests {
        let k = i as u64;
        b.request(
            wl,
            Some(0.005 * i as f64),
            32 + (37 * k % 97) as u32,
            4 + (13 * k % 29) as u32,
        );
    }
    let run = b.run(RunRow {
        name: "tiny".into(),
        system: "tiny-system".into(),
        model,
        workload: wl,
        ..Default::default()
    });
    b.pool(PoolRow {
        run,
        name: "tiny-pool".into(),
        chip,
        max_batch: 64,
        max_batched_tokens: 2048,
        kv_blocks: 1024,
        step_overhead_s: 1e-4,
        ..Default::default()
    });
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Plan;
    use arrow_array::cast::AsArray;
    use arrow_schema::DataType;

    #[test]
    fn empty_builder_packs_every_table_with_no_rows() {
        let batch = PlanBuilder::new().build();
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(
            batch
                .schema()
                .metadata()
                .get(PLAN_VERSION_KEY)
                .map(String::as_str),
            Some("1")
        );
        let names: Vec<String> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(
            names,
            [
                "chips",
                "engines",
                "models",
                "operators",
                "workloads",
                "requests",
                "runs",
                "pools",
                "links",
                "slos"
            ]
        );
        for col in batch.columns() {
            assert_eq!(col.as_list::<i32>().value(0).len(), 0);
        }
    }

    #[test]
    fn column_types_match_the_plan_schema() {
        let tables = tiny_dense_plan(1).tables();
        let ty = |t: &str, c: &str| -> DataType {
            let (_, s) = tables.iter().find(|(n, _)| *n == t).unwrap();
            s.column_by_name(c).unwrap().data_type().clone()
        };
        assert_eq!(ty("chips", "name"), DataType::Utf8);
        assert_eq!(ty("chips", "memory_bw"), DataType::Float64);
        assert_eq!(ty("engines", "chip"), DataType::UInt32);
        assert_eq!(ty("models", "layers"), DataType::UInt32);
        assert_eq!(ty("operators", "tp_shard"), DataType::Boolean);
        assert_eq!(ty("requests", "arrival_s"), DataType::Float64);
        assert_eq!(ty("requests", "prompt_tokens"), DataType::UInt32);
        assert_eq!(ty("runs", "seed"), DataType::UInt64);
        assert_eq!(ty("pools", "chunked_prefill"), DataType::Boolean);
        assert_eq!(ty("pools", "kv_blocks"), DataType::UInt32);
        assert_eq!(ty("slos", "percentile"), DataType::Float64);
    }

    #[test]
    fn optional_columns_hold_nulls() {
        let mut b = tiny_dense_plan(0);
        b.request(0, None, 8, 2);
        b.request(0, Some(1.5), 8, 2);
        b.slo(0, "ttft", None, 1.0);
        b.slo(0, "tpot", Some(99.0), 0.1);
        let tables = b.tables();
        let col = |t: &str, c: &str| {
            let (_, s) = tables.iter().find(|(n, _)| *n == t).unwrap();
            s.column_by_name(c).unwrap().clone()
        };
        let arrival = col("requests", "arrival_s");
        assert!(arrival.is_null(0));
        assert_eq!(
            arrival
                .as_primitive::<arrow_array::types::Float64Type>()
                .value(1),
            1.5
        );
        let pct = col("slos", "percentile");
        assert!(pct.is_null(0));
        assert_eq!(
            pct.as_primitive::<arrow_array::types::Float64Type>()
                .value(1),
            99.0
        );
    }

    #[test]
    fn adders_return_row_indices() {
        let mut b = PlanBuilder::new();
        assert_eq!(b.chip(ChipRow::default()), 0);
        assert_eq!(b.chip(ChipRow::default()), 1);
        assert_eq!(b.engine(1, "tensor", "fp8", 1e15, 0.5), 0);
        assert_eq!(b.model(ModelRow::default()), 0);
        assert_eq!(b.operator(OperatorRow::default()), 0);
        assert_eq!(b.operator(OperatorRow::default()), 1);
        assert_eq!(b.workload(WorkloadRow::default()), 0);
        assert_eq!(b.request(0, Some(0.0), 1, 1), 0);
        assert_eq!(b.request(0, Some(0.0), 1, 1), 1);
        assert_eq!(b.request(0, Some(0.0), 1, 1), 2);
        assert_eq!(b.run(RunRow::default()), 0);
        assert_eq!(b.pool(PoolRow::default()), 0);
        assert_eq!(b.slo(0, "e2e", None, 1.0), 0);
        assert_eq!(b.engines[0].chip, 1);
        assert_eq!(b.requests.len(), 3);
    }

    #[test]
    fn tiny_plan_decodes_to_what_was_built() {
        let mut b = tiny_dense_plan(5);
        b.slo(0, "ttft", Some(90.0), 0.5);
        let plan = Plan::from_batch(&b.build()).unwrap();
        assert_eq!(plan.chips.len(), 1);
        let chip = &plan.chips[0];
        assert_eq!(chip.name, "tiny-chip");
        assert_eq!(
            (chip.memory_bw, chip.link_bw, chip.link_latency_s),
            (1e12, 1e11, 1e-6)
        );
        assert_eq!(chip.engines.len(), 2);
        assert_eq!(
            (chip.engines[0].kind.as_str(), chip.engines[0].flops),
            ("tensor", 1e14)
        );
        assert_eq!(
            (chip.engines[1].kind.as_str(), chip.engines[1].flops),
            ("vector", 1e13)
        );

        let m = &plan.models[0];
        assert_eq!(
            (m.name.as_str(), m.layers, m.kv_heads),
            ("tiny-dense", 2, 2)
        );
        assert_eq!(m.operators.len(), 7);
        let names: Vec<&str> = m.operators.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "norm",
                "qkv_proj",
                "attention",
                "o_proj",
                "allreduce",
                "mlp",
                "lm_head"
            ]
        );
        // 2 norms × 2 layers × 512 B + 2 layers × (262144 + 131072 + 1048576) B + 512000 B (LM head).
        assert_eq!(
            m.weight_bytes,
            4.0 * 512.0 + 2.0 * (262_144.0 + 131_072.0 + 1_048_576.0) + 512_000.0
        );
        assert_eq!(m.kv_bytes_per_token, 1024.0);

        let w = &plan.workloads[0];
        assert_eq!(w.kind, "open");
        assert_eq!(w.duration_s, f64::INFINITY);
        assert_eq!(w.arrival_s, [0.0, 0.005, 0.01, 0.015, 0.02]);
        assert_eq!(w.prompt_tokens, [32, 69, 106, 46, 83]);
        assert_eq!(w.output_tokens, [4, 17, 30, 14, 27]);

        let run = &plan.runs[0];
        assert_eq!(
            (
                run.name.as_str(),
                run.system.as_str(),
                run.model,
                run.workload
            ),
            ("tiny", "tiny-system", 0, 0)
        );
        assert_eq!(run.pools, [0]);
        assert_eq!(run.slos.len(), 1);
        assert_eq!(
            (run.slos[0].percentile, run.slos[0].threshold_s),
            (Some(90.0), 0.5)
        );

        let p = &plan.pools[0];
        assert_eq!(
            (
                p.chips,
                p.tp,
                p.instances,
                p.max_batch,
                p.max_batched_tokens
            ),
            (1, 1, 1, 64, 2048)
        );
        assert_eq!(
            (p.block_size, p.kv_blocks, p.chunked_prefill),
            (16, 1024, true)
        );
        assert_eq!(
            (p.policy.as_str(), p.step_overhead_s),
            ("decode_first", 1e-4)
        );
    }

    #[test]
    fn builder_defaults_form_a_valid_plan() {
        let mut b = PlanBuilder::new();
        let chip = b.chip(ChipRow::default());
        b.engine(chip, "tensor", "bf16", 1e14, 1.0);
        let model = b.model(ModelRow::default());
        b.operator(OperatorRow {
            model,
            flops_per_token: 1e9,
            weight_bytes: 1e9,
            ..Default::default()
        });
        let wl = b.workload(WorkloadRow::default());
        b.request(wl, Some(0.0), 16, 4);
        let run = b.run(RunRow::default());
        b.pool(PoolRow {
            run,
            chip,
            ..Default::default()
        });
        let plan = Plan::from_batch(&b.build()).unwrap();
        assert_eq!(plan.pools[0].kv_blocks, 4096);
        assert_eq!(plan.runs[0].seed, 0);
    }

    #[test]
    fn seeds_survive_packing() {
        let mut b = tiny_dense_plan(1);
        b.runs[0].seed = 123_456_789;
        let plan = Plan::from_batch(&b.build()).unwrap();
        assert_eq!(plan.runs[0].seed, 123_456_789);
    }

    #[test]
    fn ipc_file_keeps_the_batch_and_its_metadata() {
        let batch = tiny_dense_plan(3).build();
        let path =
            std::env::temp_dir().join(format!("infera-builder-{}-ipc.arrow", std::process::id()));
        write_ipc(&batch, &path).unwrap();
        let file = File::open(&path).unwrap();
        let reader = arrow_ipc::reader::FileReader::try_new(file, None).unwrap();
        assert_eq!(
            reader
                .schema()
                .metadata()
                .get(PLAN_VERSION_KEY)
                .map(String::as_str),
            Some(PLAN_VERSION)
        );
        let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].columns(), batch.columns());
    }

    #[test]
    fn write_ipc_reports_io_errors() {
        let batch = tiny_dense_plan(1).build();
        let dir =
            std::env::temp_dir().join(format!("infera-builder-{}-no-such-dir", std::process::id()));
        let err = write_ipc(&batch, dir.join("sub").join("plan.arrow")).unwrap_err();
        assert!(matches!(err, crate::InferaError::Io(_)), "{err:?}");
    }
}
