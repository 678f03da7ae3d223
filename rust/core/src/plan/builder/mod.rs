//! Building plans in Rust: a [`PlanBuilder`] that collects table rows and packs them into the plan batch
//! that [`Plan::from_batch`](super::Plan::from_batch) decodes, and [`write_ipc`] to save it as the Arrow IPC
//! file that [`Plan::read_ipc`](super::Plan::read_ipc) (and Python's `Plan.load`) reads.
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

mod rows;
mod samples;

#[cfg(test)]
mod tests;

pub use rows::{
    ChipRow, EngineRow, LinkRow, ModelRow, OperatorRow, PoolRow, RequestRow, RunRow, SloRow,
    WorkloadRow,
};
pub use samples::{single_pool, tiny_dense_plan};

use crate::error::Result;
use crate::plan::{KernelShape, PLAN_VERSION, PLAN_VERSION_KEY};

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
    /// Requests that wait for others, by request row: (rows waited for, think time). When any is set the
    /// requests table gets the optional `after` and `think_s` columns.
    pub after: Vec<(u32, Vec<u32>, f64)>,
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
                send_delay_s: 0.0,
            },
        )
    }

    /// Makes request row `request` wait for the request rows `after` (of the same workload, added before
    /// it) and be sent `think_s` after the last of them left; give it a `None` arrival. The plan's `after`
    /// column counts each workload's own requests, as the core reads it; the rows are converted on build.
    pub fn after(&mut self, request: u32, after: &[u32], think_s: f64) {
        self.after.push((request, after.to_vec(), think_s));
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
        let chips = table(
            vec![
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
            ]
            .into_iter()
            .chain(KernelShape::COLUMNS.map(|col| (col, f64s(c, |r| r.kernels.get(col)))))
            .collect(),
        );
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
            ("kv_full_groups", u32s(m, |r| r.kv_full_groups)),
            ("kv_window_groups", u32s(m, |r| r.kv_window_groups)),
            ("sliding_window", u32s(m, |r| r.sliding_window)),
            ("state_bytes", f64s(m, |r| r.state_bytes)),
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
            ("window", bools(o, |r| r.window)),
            ("bytes_per_seq", f64s(o, |r| r.bytes_per_seq)),
            ("attention_dp", bools(o, |r| r.attention_dp)),
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
            ("send_delay_s", f64s(q, |r| r.send_delay_s)),
        ]);
        let requests = if self.after.is_empty() {
            requests
        } else {
            self.with_after(requests)
        };
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
            ("state_blocks", u32s(p, |r| r.state_blocks)),
            ("chunked_prefill", bools(p, |r| r.chunked_prefill)),
            ("policy", utf8(p, |r| &r.policy)),
            ("step_overhead_s", f64s(p, |r| r.step_overhead_s)),
            (
                "first_token_at_decode",
                bools(p, |r| r.first_token_at_decode),
            ),
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

    /// The requests table with the `after` and `think_s` columns of [`PlanBuilder::after`].
    fn with_after(&self, requests: StructArray) -> StructArray {
        let q = &self.requests;
        let mut local = vec![0u32; q.len()];
        let mut count: HashMap<u32, u32> = HashMap::new();
        for (i, r) in q.iter().enumerate() {
            let c = count.entry(r.workload).or_insert(0);
            local[i] = *c;
            *c += 1;
        }
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); q.len()];
        let mut think = vec![0.0; q.len()];
        for (r, after, t) in &self.after {
            lists[*r as usize] = after.iter().map(|&p| local[p as usize]).collect();
            think[*r as usize] = *t;
        }
        let mut offsets = OffsetBufferBuilder::<i32>::new(q.len());
        for l in &lists {
            offsets.push_length(l.len());
        }
        let values = UInt32Array::from_iter_values(lists.into_iter().flatten());
        let after = ListArray::new(
            Arc::new(Field::new("item", arrow_schema::DataType::UInt32, false)),
            offsets.finish(),
            Arc::new(values),
            None,
        );
        let (fields, mut cols, _) = requests.into_parts();
        let mut fields: Vec<Field> = fields.iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new("after", after.data_type().clone(), false));
        fields.push(Field::new(
            "think_s",
            arrow_schema::DataType::Float64,
            false,
        ));
        cols.push(Arc::new(after));
        cols.push(Arc::new(Float64Array::from(think)));
        StructArray::new(fields.into(), cols, None)
    }

    /// Packs the plan into one record batch: one row, a `list<struct>` column per table, and the
    /// `infera.plan_version` schema metadata. Decode it with [`Plan::from_batch`](super::Plan::from_batch)
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
/// [`Plan::read_ipc`](super::Plan::read_ipc) reads. The schema metadata (the plan version) is kept.
pub fn write_ipc(batch: &RecordBatch, path: impl AsRef<Path>) -> Result<()> {
    let file = File::create(path)?;
    let mut writer = arrow_ipc::writer::FileWriter::try_new(file, &batch.schema())?;
    writer.write(batch)?;
    writer.finish()?;
    Ok(())
}
