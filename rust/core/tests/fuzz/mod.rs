//! Plan fuzzing: valid plan batches from `infera_core::builder`, malformed at random (columns dropped, added,
//! retyped or nulled; NaN, ±inf, negative, enormous values; dangling indices; empty, missing, duplicated or
//! null tables; tables that are not lists of structs; wrong metadata; zero- or two-row batches), then decoded
//! with `Plan::from_batch` and, when that succeeds and the plan is small, simulated. A second property first
//! pushes the rows to extremes that often stay valid (pool shapes up to a million instances or tp = 65536,
//! budgets of one token, u32::MAX KV blocks, 1e-300 or 1e300 speeds, unsorted or enormous arrivals, closed
//! loops, pipelines, overload limits) so the engine, not only the decoder, meets them.
//!
//! Properties: decoding and simulating return `Ok` or `Err` and never panic (a panic is caught with
//! `catch_unwind` and reported with the case), never hang (each case's simulation has a time limit), and an
//! unmodified base plan always decodes and simulates. Plans with more than 64 instances or 100,000 tokens
//! are decoded but not simulated (see `small`).
//!
//! CI runs `DEFAULT_CASES` cases of each fuzz property (about 10 s for both in a debug build); proptest's
//! `PROPTEST_CASES` environment variable overrides it, e.g. `PROPTEST_CASES=300000 cargo test -p infera-core
//! --release --test fuzz_plan` (about 3 minutes).

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use arrow_array::builder::OffsetBufferBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, DictionaryArray,
    FixedSizeListArray, Float32Array, Float64Array, Int32Array, Int64Array, Int8Array,
    LargeListArray, LargeStringArray, ListArray, NullArray, RecordBatch, RecordBatchOptions,
    StringArray, StringViewArray, StructArray, UInt32Array, UInt64Array, UInt8Array,
};
use arrow_schema::{DataType, Field, Fields, Schema};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::Config;

use infera_core::builder::{tiny_dense_plan, PlanBuilder, PoolRow, WorkloadRow};
use infera_core::{simulate_batch, Plan, SimOptions};

/// Cases per fuzz property in CI when `PROPTEST_CASES` is not set (about 10 s for both in a debug build).
const DEFAULT_CASES: u32 = 4000;
/// Cases of the base-plan check (there are only a few dozen distinct base plans).
const BASE_CASES: u32 = 64;
/// A simulation of a small plan that takes longer than this is reported as a hang.
const SIM_TIME_LIMIT: Duration = Duration::from_secs(20);

fn config(default_cases: u32) -> Config {
    // `Config::default()` reads PROPTEST_CASES; only fall back to our count when it is not set.
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() {
        Config::default().cases
    } else {
        default_cases
    };
    // No regression files: a failure prints its case (base, tweaks, mutations), which is the reproducer.
    Config {
        cases,
        max_shrink_iters: 2_000,
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Base plans (all valid)

#[derive(Debug, Clone)]
enum Base {
    /// `tiny_dense_plan(requests)`, optionally with SLOs.
    Dense { requests: usize, slos: bool },
    /// A prefill pool and a decode pool joined by a link.
    Disaggregated { requests: usize },
    /// Closed-loop traffic (no arrival times).
    Closed { requests: usize, users: u32 },
    /// The dense plan with every optional column and table: engine names and energies, routes, memory tiers
    /// with placement, a calibration profile, parallelism and overload columns, keep flags, expert columns.
    Hardware { requests: usize },
}

fn base_strategy() -> impl Strategy<Value = Base> {
    prop_oneof![
        (1usize..6, any::<bool>()).prop_map(|(requests, slos)| Base::Dense { requests, slos }),
        (1usize..5).prop_map(|requests| Base::Disaggregated { requests }),
        (1usize..5, 1u32..4).prop_map(|(requests, users)| Base::Closed { requests, users }),
        (1usize..5).prop_map(|requests| Base::Hardware { requests }),
    ]
}

fn strs(v: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}
fn f64s(v: &[f64]) -> ArrayRef {
    Arc::new(Float64Array::from(v.to_vec()))
}
fn u32s(v: &[u32]) -> ArrayRef {
    Arc::new(UInt32Array::from(v.to_vec()))
}
fn bools(v: &[bool]) -> ArrayRef {
    Arc::new(BooleanArray::from(v.to_vec()))
}

fn struct_of(cols: Vec<(&str, ArrayRef)>) -> StructArray {
    let fields: Fields = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    StructArray::new(fields, cols.into_iter().map(|(_, a)| a).collect(), None)
}

fn extend(sa: &StructArray, extra: Vec<(&str, ArrayRef)>) -> StructArray {
    let mut cols: Vec<(String, ArrayRef)> = sa
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .zip(sa.columns().iter().cloned())
        .collect();
    cols.extend(extra.into_iter().map(|(n, a)| (n.to_string(), a)));
    let fields: Fields = cols
        .iter()
        .map(|(n, a)| Field::new(n, a.data_type().clone(), true))
        .collect();
    StructArray::new(fields, cols.into_iter().map(|(_, a)| a).collect(), None)
}

fn base_builder(base: &Base) -> PlanBuilder {
    match *base {
        Base::Dense { requests, slos } => {
            let mut b = tiny_dense_plan(requests);
            if slos {
                b.slo(0, "ttft", Some(99.0), 1.0);
                b.slo(0, "tpot", None, 0.1);
            }
            b
        }
        Base::Disaggregated { requests } => {
            let mut b = tiny_dense_plan(requests);
            b.pools[0].role = "prefill".into();
            let dec = b.pool(PoolRow {
                role: "decode".into(),
                name: "dec".into(),
                ..b.pools[0].clone()
            });
            b.link(0, dec, 1e10, 1e-6);
            b
        }
        Base::Closed { requests, users } => {
            let mut b = tiny_dense_plan(requests);
            b.workloads[0] = WorkloadRow {
                name: "closed".into(),
                kind: "closed".into(),
                users,
                think_time_s: 0.01,
                duration_s: f64::INFINITY,
            };
            for q in &mut b.requests {
                q.arrival_s = None;
            }
            b
        }
        Base::Hardware { requests } => tiny_dense_plan(requests),
    }
}

fn base_tables(base: &Base) -> Vec<(String, StructArray)> {
    tables_of(base, &base_builder(base), &PoolExtras::default())
}

/// The tables of builder `b` (made from `base`), with the optional hardware columns and tables of a
/// `Hardware` base and the pool columns of `extras`.
fn tables_of(base: &Base, b: &PlanBuilder, extras: &PoolExtras) -> Vec<(String, StructArray)> {
    let mut tables: Vec<(String, StructArray)> = b
        .tables()
        .into_iter()
        .map(|(n, t)| (n.to_string(), t))
        .collect();
    let n_pools = b.pools.len();
    for (name, t) in tables.iter_mut() {
        if name == "pools" {
            let mut extra: Vec<(&str, ArrayRef)> = Vec::new();
            let col = |v: f64| -> ArrayRef { f64s(&vec![v; n_pools]) };
            for (key, v) in [
                ("pp", extras.pp.map(f64::from)),
                ("ep", extras.ep.map(f64::from)),
                ("microbatches", extras.microbatches.map(f64::from)),
                ("node_size", extras.node_size.map(f64::from)),
                ("network_bw", extras.network_bw),
                ("network_latency_s", extras.network_latency_s),
                ("max_queue", extras.max_queue.map(f64::from)),
                ("queue_timeout_s", extras.queue_timeout_s),
            ] {
                if let Some(v) = v {
                    extra.push((key, col(v)));
                }
            }
            *t = extend(t, extra);
        }
    }
    if let Base::Hardware { .. } = base {
        for (name, t) in tables.iter_mut() {
            let extra: Vec<(&str, ArrayRef)> = match name.as_str() {
                "chips" => vec![
                    ("matmul_engine", strs(&["tensor"])),
                    ("attention_engine", strs(&[""])),
                ],
                "engines" if b.engines.len() == 2 => vec![
                    ("name", strs(&["tensor", "vector"])),
                    ("energy_per_flop", f64s(&[5e-13, 1e-12])),
                    ("conversion_bw", f64s(&[0.0, 0.0])),
                    ("conversion_energy_per_byte", f64s(&[0.0, 0.0])),
                ],
                "operators" => {
                    let n = b.operators.len();
                    vec![
                        ("experts", f64s(&vec![0.0; n])),
                        ("experts_per_token", f64s(&vec![0.0; n])),
                    ]
                }
                "runs" => {
                    let n = b.runs.len();
                    vec![
                        ("keep_requests", bools(&vec![true; n])),
                        ("keep_iterations", bools(&vec![false; n])),
                        ("keep_token_stats", bools(&vec![true; n])),
                    ]
                }
                "pools" => vec![
                    ("weights_memory", u32s(&vec![0; n_pools])),
                    ("kv_memory", u32s(&vec![1; n_pools])),
                ],
                _ => continue,
            };
            *t = extend(t, extra);
        }
        tables.push((
            "memories".into(),
            struct_of(vec![
                ("chip", u32s(&[0, 0])),
                ("name", strs(&["hbm", "sram"])),
                ("capacity_bytes", f64s(&[16e9, 1e9])),
                ("bandwidth", f64s(&[1e12, 1e13])),
                ("efficiency", f64s(&[1.0, 0.9])),
                ("energy_per_byte", f64s(&[5e-12, 1e-12])),
            ]),
        ));
        tables.push((
            "profiles".into(),
            struct_of(vec![
                ("chip", u32s(&[0, 0])),
                ("model", strs(&["", "tiny-dense"])),
                ("operator", strs(&["mlp", "mlp"])),
                ("tp", u32s(&[1, 1])),
                ("stat", strs(&["tokens", "tokens"])),
                ("x", f64s(&[1.0, 512.0])),
                ("seconds", f64s(&[1e-5, 1e-4])),
            ]),
        ));
    }
    tables
}

// ---------------------------------------------------------------------------------------------------------
// Tweaks: typed changes to the builder's rows that keep the plan's shape (and often its validity) but push
// the engine to extremes: parallel shapes, tiny or huge budgets, odd arrivals, glacial or instant hardware.

/// Optional `pools` columns written for every pool (absent when `None`).
#[derive(Debug, Clone, Default)]
struct PoolExtras {
    pp: Option<u32>,
    ep: Option<u32>,
    microbatches: Option<u32>,
    node_size: Option<u32>,
    network_bw: Option<f64>,
    network_latency_s: Option<f64>,
    max_queue: Option<u32>,
    queue_timeout_s: Option<f64>,
}

#[derive(Debug, Clone)]
enum Tweak {
    /// Pool `pool` gets `tp` x `instances` (chips = tp x pp x instances, saturating at u32::MAX).
    Shape {
        pool: usize,
        tp: u32,
        instances: u32,
    },
    Pipeline {
        pp: u32,
        ep: u32,
        microbatches: u32,
        node_size: u32,
        network_bw: f64,
        network_latency_s: f64,
    },
    Overload {
        max_queue: u32,
        queue_timeout_s: f64,
    },
    Tokens {
        row: usize,
        prompt: u32,
        output: u32,
    },
    Arrival {
        row: usize,
        at: f64,
    },
    KvBlocks {
        pool: usize,
        blocks: u32,
    },
    BlockSize {
        pool: usize,
        size: u32,
    },
    MaxBatch {
        pool: usize,
        n: u32,
    },
    Budget {
        pool: usize,
        tokens: u32,
        chunked: bool,
    },
    PrefillFirst {
        pool: usize,
    },
    Routers {
        prefill: &'static str,
        decode: &'static str,
    },
    Overhead {
        pool: usize,
        s: f64,
    },
    /// Multiplies every rate of the chip (memory, links, engines).
    Speed {
        factor: f64,
    },
    Closed {
        users: u32,
        think_s: f64,
    },
    Duration {
        s: f64,
    },
    Slo {
        metric: &'static str,
        percentile: Option<f64>,
        threshold_s: f64,
    },
    LinkSpeed {
        bandwidth: f64,
        latency_s: f64,
    },
    Seed {
        seed: u64,
    },
}

const EXTREMES: [f64; 8] = [0.0, 1e-300, 1e-9, 1e-3, 1.0, 1e9, 1e300, f64::INFINITY];

fn tweak_strategy() -> impl Strategy<Value = Tweak> {
    use proptest::sample::select;
    let p = 0usize..3;
    let r = 0usize..8;
    let extreme = select(EXTREMES.to_vec());
    prop_oneof![
        (
            p.clone(),
            select(vec![1u32, 2, 3, 4, 8, 16, 65_536]),
            select(vec![1u32, 2, 3, 17, 64, 1_000_000])
        )
            .prop_map(|(pool, tp, instances)| Tweak::Shape {
                pool,
                tp,
                instances
            }),
        (
            select(vec![1u32, 2, 3, 65_536]),
            select(vec![1u32, 2, 3]),
            select(vec![0u32, 1, 3, 1 << 20]),
            select(vec![0u32, 1, 2, 8]),
            extreme.clone(),
            extreme.clone()
        )
            .prop_map(
                |(pp, ep, microbatches, node_size, network_bw, network_latency_s)| {
                    Tweak::Pipeline {
                        pp,
                        ep,
                        microbatches,
                        node_size,
                        network_bw,
                        network_latency_s,
                    }
                }
            ),
        (select(vec![0u32, 1, 2, u32::MAX]), extreme.clone()).prop_map(
            |(max_queue, queue_timeout_s)| Tweak::Overload {
                max_queue,
                queue_timeout_s
            }
        ),
        (
            r.clone(),
            select(vec![1u32, 2, 15, 16, 17, 100, 4096, 100_000_000]),
            select(vec![1u32, 2, 16, 17, 300])
        )
            .prop_map(|(row, prompt, output)| Tweak::Tokens {
                row,
                prompt,
                output
            }),
        (
            r.clone(),
            prop_oneof![extreme.clone(), Just(f64::MAX), Just(0.0049), Just(-0.0)]
        )
            .prop_map(|(row, at)| Tweak::Arrival { row, at }),
        (p.clone(), select(vec![1u32, 2, 9, 10, 24, 100, u32::MAX]))
            .prop_map(|(pool, blocks)| Tweak::KvBlocks { pool, blocks }),
        (p.clone(), select(vec![1u32, 2, 3, 1 << 16, 1 << 20]))
            .prop_map(|(pool, size)| Tweak::BlockSize { pool, size }),
        (p.clone(), select(vec![1u32, 2, u32::MAX]))
            .prop_map(|(pool, n)| Tweak::MaxBatch { pool, n }),
        (
            p.clone(),
            select(vec![1u32, 2, 16, 137, u32::MAX]),
            any::<bool>()
        )
            .prop_map(|(pool, tokens, chunked)| Tweak::Budget {
                pool,
                tokens,
                chunked
            }),
        p.clone().prop_map(|pool| Tweak::PrefillFirst { pool }),
        (select(Vec::from(ROUTERS)), select(Vec::from(ROUTERS)))
            .prop_map(|(prefill, decode)| Tweak::Routers { prefill, decode }),
        (p.clone(), extreme.clone()).prop_map(|(pool, s)| Tweak::Overhead { pool, s }),
        select(vec![1e-300, 1e-12, 1e12, 1e300]).prop_map(|factor| Tweak::Speed { factor }),
        (select(vec![1u32, 2, u32::MAX]), extreme.clone())
            .prop_map(|(users, think_s)| Tweak::Closed { users, think_s }),
        extreme.clone().prop_map(|s| Tweak::Duration { s }),
        (
            select(vec!["ttft", "tpot", "e2e", "queue"]),
            prop_oneof![
                Just(None),
                Just(Some(1e-300)),
                Just(Some(50.0)),
                Just(Some(100.0))
            ],
            extreme.clone(),
        )
            .prop_map(|(metric, percentile, threshold_s)| Tweak::Slo {
                metric,
                percentile,
                threshold_s
            }),
        (extreme.clone(), extreme).prop_map(|(bandwidth, latency_s)| Tweak::LinkSpeed {
            bandwidth,
            latency_s
        }),
        prop_oneof![Just(0u64), Just(u64::MAX)].prop_map(|seed| Tweak::Seed { seed }),
    ]
}

const ROUTERS: [&str; 3] = ["round_robin", "least_tokens", "power_of_two"];

/// Applies `t` to the builder's rows and the pools' optional columns. Indices wrap around what exists.
fn tweak(b: &mut PlanBuilder, x: &mut PoolExtras, t: &Tweak) {
    fn at<T>(v: &mut [T], i: usize) -> Option<&mut T> {
        let n = v.len();
        (n > 0).then(|| &mut v[i % n])
    }
    let pp = x.pp.unwrap_or(1) as u64;
    match *t {
        Tweak::Shape {
            pool,
            tp,
            instances,
        } => {
            if let Some(p) = at(&mut b.pools, pool) {
                p.tp = tp;
                p.instances = instances;
                p.chips = (tp as u64 * pp * instances as u64).min(u32::MAX as u64) as u32;
            }
        }
        Tweak::Pipeline {
            pp,
            ep,
            microbatches,
            node_size,
            network_bw,
            network_latency_s,
        } => {
            *x = PoolExtras {
                pp: Some(pp),
                ep: Some(ep),
                microbatches: Some(microbatches),
                node_size: Some(node_size),
                network_bw: Some(network_bw),
                network_latency_s: Some(network_latency_s),
                ..x.clone()
            };
            for p in &mut b.pools {
                p.chips =
                    (p.tp as u64 * pp as u64 * p.instances as u64).min(u32::MAX as u64) as u32;
            }
        }
        Tweak::Overload {
            max_queue,
            queue_timeout_s,
        } => {
            x.max_queue = Some(max_queue);
            x.queue_timeout_s = Some(queue_timeout_s);
        }
        Tweak::Tokens {
            row,
            prompt,
            output,
        } => {
            if let Some(q) = at(&mut b.requests, row) {
                q.prompt_tokens = prompt;
                q.output_tokens = output;
            }
        }
        Tweak::Arrival { row, at: when } => {
            if let Some(q) = at(&mut b.requests, row) {
                q.arrival_s = Some(when);
            }
        }
        Tweak::KvBlocks { pool, blocks } => {
            if let Some(p) = at(&mut b.pools, pool) {
                p.kv_blocks = blocks;
            }
        }
        Tweak::BlockSize { pool, size } => {
            if let Some(p) = at(&mut b.pools, pool) {
                p.block_size = size;
            }
        }
        Tweak::MaxBatch { pool, n } => {
            if let Some(p) = at(&mut b.pools, pool) {
                p.max_batch = n;
            }
        }
        Tweak::Budget {
            pool,
            tokens,
            chunked,
        } => {
            if let Some(p) = at(&mut b.pools, pool) {
                p.max_batched_tokens = tokens;
                p.chunked_prefill = chunked;
            }
        }
        Tweak::PrefillFirst { pool } => {
            if let Some(p) = at(&mut b.pools, pool) {
                p.policy = "prefill_first".into();
            }
        }
        Tweak::Routers { prefill, decode } => {
            for r in &mut b.runs {
                r.prefill_router = prefill.into();
                r.decode_router = decode.into();
            }
        }
        Tweak::Overhead { pool, s } => {
            if let Some(p) = at(&mut b.pools, pool) {
                p.step_overhead_s = s;
            }
        }
        Tweak::Speed { factor } => {
            for c in &mut b.chips {
                c.memory_bw *= factor;
                c.link_bw *= factor;
            }
            for e in &mut b.engines {
                e.flops *= factor;
            }
        }
        Tweak::Closed { users, think_s } => {
            for w in &mut b.workloads {
                w.kind = "closed".into();
                w.users = users;
                w.think_time_s = think_s;
            }
            for q in &mut b.requests {
                q.arrival_s = None;
            }
        }
        Tweak::Duration { s } => {
            for w in &mut b.workloads {
                w.duration_s = s;
            }
        }
        Tweak::Slo {
            metric,
            percentile,
            threshold_s,
        } => {
            b.slo(0, metric, percentile, threshold_s);
        }
        Tweak::LinkSpeed {
            bandwidth,
            latency_s,
        } => {
            for l in &mut b.links {
                l.bandwidth = bandwidth;
                l.latency_s = latency_s;
            }
        }
        Tweak::Seed { seed } => {
            for r in &mut b.runs {
                r.seed = seed;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Malformations

/// Numbers written into numeric columns.
const NUMBERS: [f64; 22] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    -1.0,
    -0.0,
    0.0,
    0.5,
    1.0,
    2.0,
    3.0,
    7.0,
    1e-300,
    1e300,
    f64::MAX,
    u32::MAX as f64,
    u32::MAX as f64 + 1.0,
    u64::MAX as f64,
    9_007_199_254_740_993.0, // 2^53 + 1 (rounds to 2^53)
    1e9,
    100_000_000.0,
    65_536.0,
    -2_147_483_648.0,
];

/// Strings written into string columns: the plan's choices, near misses, routes, odd text.
const STRINGS: [&str; 30] = [
    "",
    "tensor",
    "vector",
    "optical",
    "collective",
    "alltoall",
    "p2p",
    "bf16",
    "fp8",
    "int4",
    "fp4",
    "open",
    "closed",
    "mixed",
    "prefill",
    "decode",
    "round_robin",
    "least_tokens",
    "power_of_two",
    "random",
    "decode_first",
    "prefill_first",
    "ttft",
    "e2e",
    "tokens",
    "tensor,vector",
    ",,",
    "hbm",
    "tiny-chip\0\u{1F600}",
    "éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé",
];

/// Names of columns added to a table: the optional columns the core knows, the required ones (so a table
/// gets a duplicate), and a stranger.
const EXTRA_COLUMNS: [&str; 27] = [
    "matmul_engine",
    "attention_engine",
    "name",
    "energy_per_flop",
    "conversion_bw",
    "conversion_energy_per_byte",
    "experts",
    "experts_per_token",
    "keep_requests",
    "keep_iterations",
    "keep_token_stats",
    "router",
    "role",
    "max_queue",
    "queue_timeout_s",
    "pp",
    "ep",
    "microbatches",
    "node_size",
    "network_bw",
    "network_latency_s",
    "weights_memory",
    "kv_memory",
    "chip",
    "run",
    "kv_blocks",
    "zzz_unknown",
];

/// Names of tables added to a plan.
const EXTRA_TABLES: [&str; 5] = ["memories", "profiles", "links", "chips", "zzz_unknown"];

/// Arrow types a column is replaced with (or an added column is made of).
#[derive(Debug, Clone, Copy)]
enum Kind {
    Utf8,
    LargeUtf8,
    Utf8View,
    Binary,
    Bool,
    Int8,
    Int32,
    Int64,
    UInt8,
    UInt32,
    UInt64,
    Float32,
    Float64,
    Decimal,
    Date,
    Null,
    Dictionary,
    ListOfF64,
    EmptyStruct,
}

const KINDS: [Kind; 19] = [
    Kind::Utf8,
    Kind::LargeUtf8,
    Kind::Utf8View,
    Kind::Binary,
    Kind::Bool,
    Kind::Int8,
    Kind::Int32,
    Kind::Int64,
    Kind::UInt8,
    Kind::UInt32,
    Kind::UInt64,
    Kind::Float32,
    Kind::Float64,
    Kind::Decimal,
    Kind::Date,
    Kind::Null,
    Kind::Dictionary,
    Kind::ListOfF64,
    Kind::EmptyStruct,
];

/// How a table is packed into its plan column.
#[derive(Debug, Clone, Copy)]
enum Packing {
    /// `large_list<struct>` (accepted).
    LargeList,
    /// A null list element.
    NullElement,
    /// An `int32` column, not a list.
    NotAList,
    /// A list of `int32`, not of structs.
    ListOfInts,
    /// `fixed_size_list<struct>`.
    FixedSizeList,
    /// A list of structs whose struct rows are all null (the child columns still hold values).
    NullStructRows,
}

const PACKINGS: [Packing; 6] = [
    Packing::LargeList,
    Packing::NullElement,
    Packing::NotAList,
    Packing::ListOfInts,
    Packing::FixedSizeList,
    Packing::NullStructRows,
];

#[derive(Debug, Clone)]
enum Meta {
    Missing,
    Version(&'static str),
    ExtraKey,
}

/// One malformation. Table, column and row numbers are reduced modulo what exists when it is applied.
#[derive(Debug, Clone)]
enum Mutation {
    /// Writes a number into a numeric column (in the column's type when it holds the number, else as f64).
    SetNumber {
        table: usize,
        col: usize,
        row: usize,
        value: f64,
    },
    /// Sets an index-like (integer) column to the row count of the table plus `past` (dangling).
    Dangle {
        table: usize,
        col: usize,
        row: usize,
        past: u32,
    },
    SetString {
        table: usize,
        col: usize,
        row: usize,
        value: &'static str,
    },
    DropColumn {
        table: usize,
        col: usize,
    },
    AddColumn {
        table: usize,
        name: &'static str,
        kind: Kind,
        value: f64,
    },
    Retype {
        table: usize,
        col: usize,
        kind: Kind,
        value: f64,
    },
    /// Makes one value of a column null.
    Null {
        table: usize,
        col: usize,
        row: usize,
    },
    /// Keeps the table's columns but no rows.
    EmptyTable {
        table: usize,
    },
    /// A struct with rows but no columns.
    NoColumns {
        table: usize,
    },
    /// Every row twice.
    DuplicateRows {
        table: usize,
    },
    /// Keeps only the first `keep` rows.
    Truncate {
        table: usize,
        keep: usize,
    },
    DropTable {
        table: usize,
    },
    AddTable {
        name: &'static str,
        rows: usize,
        kind: Kind,
        value: f64,
    },
    DuplicateTable {
        table: usize,
    },
    Pack {
        table: usize,
        how: Packing,
    },
    Metadata(Meta),
    /// The packed batch has this many rows (0 or 2) instead of 1.
    Rows(usize),
}

fn mutation_strategy() -> impl Strategy<Value = Mutation> {
    let t = 0usize..16;
    let c = 0usize..32;
    let r = 0usize..8;
    let number = prop_oneof![
        4 => proptest::sample::select(NUMBERS.to_vec()),
        1 => any::<f64>(),
        1 => any::<u32>().prop_map(f64::from),
        1 => any::<i64>().prop_map(|x| x as f64),
    ];
    let kind = proptest::sample::select(KINDS.to_vec());
    prop_oneof![
        8 => (t.clone(), c.clone(), r.clone(), number.clone())
            .prop_map(|(table, col, row, value)| Mutation::SetNumber { table, col, row, value }),
        3 => (t.clone(), c.clone(), r.clone(), prop_oneof![Just(0u32), Just(1), Just(7), Just(u32::MAX - 1)])
            .prop_map(|(table, col, row, past)| Mutation::Dangle { table, col, row, past }),
        4 => (t.clone(), c.clone(), r.clone(), proptest::sample::select(STRINGS.to_vec()))
            .prop_map(|(table, col, row, value)| Mutation::SetString { table, col, row, value }),
        3 => (t.clone(), c.clone()).prop_map(|(table, col)| Mutation::DropColumn { table, col }),
        3 => (t.clone(), proptest::sample::select(EXTRA_COLUMNS.to_vec()), kind.clone(), number.clone())
            .prop_map(|(table, name, kind, value)| Mutation::AddColumn { table, name, kind, value }),
        3 => (t.clone(), c.clone(), kind.clone(), number.clone())
            .prop_map(|(table, col, kind, value)| Mutation::Retype { table, col, kind, value }),
        2 => (t.clone(), c.clone(), r.clone()).prop_map(|(table, col, row)| Mutation::Null { table, col, row }),
        1 => t.clone().prop_map(|table| Mutation::EmptyTable { table }),
        1 => t.clone().prop_map(|table| Mutation::NoColumns { table }),
        1 => t.clone().prop_map(|table| Mutation::DuplicateRows { table }),
        1 => (t.clone(), 0usize..4).prop_map(|(table, keep)| Mutation::Truncate { table, keep }),
        1 => t.clone().prop_map(|table| Mutation::DropTable { table }),
        1 => (proptest::sample::select(EXTRA_TABLES.to_vec()), 0usize..3, kind, number)
            .prop_map(|(name, rows, kind, value)| Mutation::AddTable { name, rows, kind, value }),
        1 => t.clone().prop_map(|table| Mutation::DuplicateTable { table }),
        2 => (t, proptest::sample::select(PACKINGS.to_vec())).prop_map(|(table, how)| Mutation::Pack { table, how }),
        1 => prop_oneof![
            Just(Meta::Missing),
            Just(Meta::Version("2")),
            Just(Meta::Version("")),
            Just(Meta::Version(" 1")),
            Just(Meta::ExtraKey),
        ]
        .prop_map(Mutation::Metadata),
        1 => prop_oneof![Just(0usize), Just(2)].prop_map(Mutation::Rows),
    ]
}

/// An array of `n` values of `kind`, each derived from `value` (rows alternate with a second value so that
/// not every row is the same).
fn array_of(kind: Kind, n: usize, value: f64) -> ArrayRef {
    let v = |i: usize| if i.is_multiple_of(2) { value } else { 1.0 };
    match kind {
        Kind::Utf8 => Arc::new(StringArray::from_iter_values(
            (0..n).map(|i| format!("{}", v(i))),
        )),
        Kind::LargeUtf8 => Arc::new(LargeStringArray::from_iter_values(
            (0..n).map(|i| format!("{}", v(i))),
        )),
        Kind::Utf8View => Arc::new(StringViewArray::from_iter_values(
            (0..n).map(|i| format!("{}", v(i))),
        )),
        Kind::Binary => Arc::new(BinaryArray::from_iter_values(
            (0..n).map(|i| v(i).to_le_bytes()),
        )),
        Kind::Bool => Arc::new(BooleanArray::from(
            (0..n).map(|i| v(i) != 0.0).collect::<Vec<_>>(),
        )),
        Kind::Int8 => Arc::new(Int8Array::from_iter_values((0..n).map(|i| v(i) as i8))),
        Kind::Int32 => Arc::new(Int32Array::from_iter_values((0..n).map(|i| v(i) as i32))),
        Kind::Int64 => Arc::new(Int64Array::from_iter_values((0..n).map(|i| v(i) as i64))),
        Kind::UInt8 => Arc::new(UInt8Array::from_iter_values((0..n).map(|i| v(i) as u8))),
        Kind::UInt32 => Arc::new(UInt32Array::from_iter_values((0..n).map(|i| v(i) as u32))),
        Kind::UInt64 => Arc::new(UInt64Array::from_iter_values((0..n).map(|i| v(i) as u64))),
        Kind::Float32 => Arc::new(Float32Array::from_iter_values((0..n).map(|i| v(i) as f32))),
        Kind::Float64 => Arc::new(Float64Array::from_iter_values((0..n).map(v))),
        Kind::Decimal => Arc::new(Decimal128Array::from_iter_values(
            (0..n).map(|i| v(i) as i128),
        )),
        Kind::Date => Arc::new(Date32Array::from_iter_values((0..n).map(|i| v(i) as i32))),
        Kind::Null => Arc::new(NullArray::new(n)),
        Kind::Dictionary => {
            let d: DictionaryArray<Int32Type> = (0..n)
                .map(|i| if i % 2 == 0 { "tensor" } else { "bf16" })
                .collect();
            Arc::new(d)
        }
        Kind::ListOfF64 => {
            let mut offsets = OffsetBufferBuilder::<i32>::new(n);
            for _ in 0..n {
                offsets.push_length(1);
            }
            let values = Arc::new(Float64Array::from_iter_values((0..n).map(v)));
            Arc::new(ListArray::new(
                Arc::new(Field::new("item", DataType::Float64, true)),
                offsets.finish(),
                values,
                None,
            ))
        }
        Kind::EmptyStruct => Arc::new(StructArray::new_empty_fields(n, None)),
    }
}

/// A column's values as f64 when it is a primitive numeric column (`None` for other types).
fn numbers(a: &ArrayRef) -> Option<Vec<Option<f64>>> {
    macro_rules! read {
        ($t:ty) => {
            Some(
                a.as_primitive::<$t>()
                    .iter()
                    .map(|x| x.map(|x| x as f64))
                    .collect(),
            )
        };
    }
    match a.data_type() {
        DataType::Float64 => read!(Float64Type),
        DataType::Float32 => read!(Float32Type),
        DataType::Int8 => read!(Int8Type),
        DataType::Int32 => read!(Int32Type),
        DataType::Int64 => read!(Int64Type),
        DataType::UInt8 => read!(UInt8Type),
        DataType::UInt32 => read!(UInt32Type),
        DataType::UInt64 => read!(UInt64Type),
        _ => None,
    }
}

/// `a` with row `row` set to `value`: kept in its type when it is an unsigned/f64 column that holds the value
/// exactly, otherwise the whole column becomes f64.
fn set_number(a: &ArrayRef, row: usize, value: f64) -> Option<ArrayRef> {
    let mut vals = numbers(a)?;
    if vals.is_empty() {
        return None;
    }
    let row = row % vals.len();
    vals[row] = Some(value);
    let exact = |max: f64| {
        vals.iter()
            .all(|v| v.is_none_or(|x| x >= 0.0 && x <= max && x.fract() == 0.0))
    };
    Some(match a.data_type() {
        DataType::UInt32 if exact(u32::MAX as f64) => Arc::new(
            vals.iter()
                .map(|v| v.map(|x| x as u32))
                .collect::<UInt32Array>(),
        ),
        DataType::UInt64 if exact(u64::MAX as f64) => Arc::new(
            vals.iter()
                .map(|v| v.map(|x| x as u64))
                .collect::<UInt64Array>(),
        ),
        _ => Arc::new(vals.into_iter().collect::<Float64Array>()),
    })
}

/// `a` (a string column) with row `row` set to `value`.
fn set_string(a: &ArrayRef, row: usize, value: &str) -> Option<ArrayRef> {
    if a.data_type() != &DataType::Utf8 || a.is_empty() {
        return None;
    }
    let s = a.as_string::<i32>();
    let row = row % s.len();
    Some(Arc::new(
        (0..s.len())
            .map(|i| {
                if i == row {
                    Some(value)
                } else {
                    s.is_valid(i).then(|| s.value(i))
                }
            })
            .collect::<StringArray>(),
    ))
}

/// `a` with row `row` null (for the types the builder writes).
fn set_null(a: &ArrayRef, row: usize) -> Option<ArrayRef> {
    if a.is_empty() {
        return None;
    }
    let row = row % a.len();
    let keep = |i: usize| i != row && a.is_valid(i);
    Some(match a.data_type() {
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            Arc::new(
                (0..s.len())
                    .map(|i| keep(i).then(|| s.value(i)))
                    .collect::<StringArray>(),
            )
        }
        DataType::Boolean => {
            let b = a.as_boolean();
            Arc::new(
                (0..b.len())
                    .map(|i| keep(i).then(|| b.value(i)))
                    .collect::<BooleanArray>(),
            )
        }
        DataType::UInt32 => {
            let p = a.as_primitive::<UInt32Type>();
            Arc::new(
                (0..p.len())
                    .map(|i| keep(i).then(|| p.value(i)))
                    .collect::<UInt32Array>(),
            )
        }
        _ => {
            let vals = numbers(a)?;
            Arc::new(
                vals.into_iter()
                    .enumerate()
                    .map(|(i, v)| if i == row { None } else { v })
                    .collect::<Float64Array>(),
            )
        }
    })
}

fn columns(t: &StructArray) -> Vec<(String, ArrayRef)> {
    t.fields()
        .iter()
        .map(|f| f.name().clone())
        .zip(t.columns().iter().cloned())
        .collect()
}

/// A struct array from columns; `None` when Arrow rejects them (columns of different lengths).
fn rebuild(cols: Vec<(String, ArrayRef)>, len: usize) -> Option<StructArray> {
    if cols.is_empty() {
        return Some(StructArray::new_empty_fields(len, None));
    }
    let fields: Fields = cols
        .iter()
        .map(|(n, a)| Field::new(n, a.data_type().clone(), true))
        .collect();
    StructArray::try_new(fields, cols.into_iter().map(|(_, a)| a).collect(), None).ok()
}

/// The rows `idx` of a table.
fn take_rows(t: &StructArray, idx: &[usize]) -> Option<StructArray> {
    let cols = columns(t)
        .into_iter()
        .map(|(n, a)| {
            let parts: Vec<ArrayRef> = idx.iter().map(|&i| a.slice(i, 1)).collect();
            let refs: Vec<&dyn Array> = parts.iter().map(|p| p.as_ref()).collect();
            let joined = if refs.is_empty() {
                a.slice(0, 0)
            } else {
                arrow_select_concat(&refs)?
            };
            Some((n, joined))
        })
        .collect::<Option<Vec<_>>>()?;
    rebuild(cols, idx.len())
}

/// Concatenation for the column types the base plans hold (no arrow-select dependency).
fn arrow_select_concat(parts: &[&dyn Array]) -> Option<ArrayRef> {
    let first = parts[0];
    macro_rules! prim {
        ($t:ty, $arr:ty) => {
            Some(Arc::new(
                parts
                    .iter()
                    .flat_map(|p| p.as_primitive::<$t>().iter().collect::<Vec<_>>())
                    .collect::<$arr>(),
            ))
        };
    }
    match first.data_type() {
        DataType::Float64 => prim!(Float64Type, Float64Array),
        DataType::UInt32 => prim!(UInt32Type, UInt32Array),
        DataType::UInt64 => prim!(UInt64Type, UInt64Array),
        DataType::Utf8 => Some(Arc::new(
            parts
                .iter()
                .flat_map(|p| {
                    p.as_string::<i32>()
                        .iter()
                        .map(|s| s.map(str::to_string))
                        .collect::<Vec<_>>()
                })
                .collect::<StringArray>(),
        )),
        DataType::Boolean => Some(Arc::new(
            parts
                .iter()
                .flat_map(|p| p.as_boolean().iter().collect::<Vec<_>>())
                .collect::<BooleanArray>(),
        )),
        _ => None,
    }
}

/// The plan under construction: named tables, how each is packed, metadata, row count.
struct Draft {
    tables: Vec<(String, StructArray)>,
    packing: HashMap<usize, Packing>,
    metadata: HashMap<String, String>,
    rows: usize,
}

impl Draft {
    fn new(tables: Vec<(String, StructArray)>) -> Self {
        let metadata = HashMap::from([("infera.plan_version".to_string(), "1".to_string())]);
        Draft {
            tables,
            packing: HashMap::new(),
            metadata,
            rows: 1,
        }
    }

    /// Replaces table `ti` with `f(table)` unless `f` gives up.
    fn edit(&mut self, ti: usize, f: impl FnOnce(&StructArray) -> Option<StructArray>) {
        if self.tables.is_empty() {
            return;
        }
        let ti = ti % self.tables.len();
        if let Some(t) = f(&self.tables[ti].1) {
            self.tables[ti].1 = t;
        }
    }

    /// Replaces column `ci` of table `ti` with `f(column)` unless `f` gives up.
    fn edit_column(&mut self, ti: usize, ci: usize, f: impl FnOnce(&ArrayRef) -> Option<ArrayRef>) {
        self.edit(ti, |t| {
            let mut cols = columns(t);
            if cols.is_empty() {
                return None;
            }
            let ci = ci % cols.len();
            cols[ci].1 = f(&cols[ci].1)?;
            rebuild(cols, t.len())
        })
    }

    fn apply(&mut self, m: &Mutation) {
        match *m {
            Mutation::SetNumber {
                table,
                col,
                row,
                value,
            } => self.edit_column(table, col, |a| set_number(a, row, value)),
            Mutation::Dangle {
                table,
                col,
                row,
                past,
            } => {
                let n = self
                    .tables
                    .get(table % self.tables.len().max(1))
                    .map_or(0, |(_, t)| t.len());
                let value = n as f64 + past as f64;
                self.edit_column(table, col, |a| {
                    matches!(a.data_type(), DataType::UInt32).then_some(())?;
                    set_number(a, row, value)
                })
            }
            Mutation::SetString {
                table,
                col,
                row,
                value,
            } => self.edit_column(table, col, |a| set_string(a, row, value)),
            Mutation::DropColumn { table, col } => self.edit(table, |t| {
                let mut cols = columns(t);
                if cols.is_empty() {
                    return None;
                }
                cols.remove(col % cols.len());
                rebuild(cols, t.len())
            }),
            Mutation::AddColumn {
                table,
                name,
                kind,
                value,
            } => self.edit(table, |t| {
                let mut cols = columns(t);
                cols.push((name.to_string(), array_of(kind, t.len(), value)));
                rebuild(cols, t.len())
            }),
            Mutation::Retype {
                table,
                col,
                kind,
                value,
            } => self.edit_column(table, col, |a| Some(array_of(kind, a.len(), value))),
            Mutation::Null { table, col, row } => {
                self.edit_column(table, col, |a| set_null(a, row))
            }
            Mutation::EmptyTable { table } => self.edit(table, |t| Some(t.slice(0, 0))),
            Mutation::NoColumns { table } => self.edit(table, |t| {
                Some(StructArray::new_empty_fields(t.len(), None))
            }),
            Mutation::DuplicateRows { table } => self.edit(table, |t| {
                let idx: Vec<usize> = (0..t.len()).chain(0..t.len()).collect();
                take_rows(t, &idx)
            }),
            Mutation::Truncate { table, keep } => {
                self.edit(table, |t| Some(t.slice(0, keep.min(t.len()))))
            }
            Mutation::DropTable { table } => {
                if !self.tables.is_empty() {
                    let ti = table % self.tables.len();
                    self.tables.remove(ti);
                    self.packing = self
                        .packing
                        .drain()
                        .filter(|(k, _)| *k != ti)
                        .map(|(k, v)| (if k > ti { k - 1 } else { k }, v))
                        .collect();
                }
            }
            Mutation::AddTable {
                name,
                rows,
                kind,
                value,
            } => {
                let cols = vec![
                    ("chip".to_string(), array_of(Kind::UInt32, rows, 0.0)),
                    ("name".to_string(), array_of(Kind::Utf8, rows, value)),
                    ("capacity_bytes".to_string(), array_of(kind, rows, value)),
                    (
                        "bandwidth".to_string(),
                        array_of(Kind::Float64, rows, value),
                    ),
                    ("efficiency".to_string(), array_of(Kind::Float64, rows, 1.0)),
                    ("src".to_string(), array_of(Kind::UInt32, rows, 0.0)),
                    ("dst".to_string(), array_of(Kind::UInt32, rows, 1.0)),
                    ("latency_s".to_string(), array_of(Kind::Float64, rows, 0.0)),
                ];
                if let Some(t) = rebuild(cols, rows) {
                    self.tables.push((name.to_string(), t));
                }
            }
            Mutation::DuplicateTable { table } => {
                if !self.tables.is_empty() {
                    let t = self.tables[table % self.tables.len()].clone();
                    self.tables.push(t);
                }
            }
            Mutation::Pack { table, how } => {
                if !self.tables.is_empty() {
                    self.packing.insert(table % self.tables.len(), how);
                }
            }
            Mutation::Metadata(ref meta) => match meta {
                Meta::Missing => self.metadata.clear(),
                Meta::Version(v) => {
                    self.metadata
                        .insert("infera.plan_version".into(), v.to_string());
                }
                Meta::ExtraKey => {
                    self.metadata.insert("infera.other".into(), "x".into());
                }
            },
            Mutation::Rows(n) => self.rows = n,
        }
    }

    /// The packed batch, or `None` when Arrow itself refuses the shape (nothing to decode then).
    fn batch(&self) -> Option<RecordBatch> {
        let n = self.rows;
        let mut fields = Vec::new();
        let mut cols: Vec<ArrayRef> = Vec::new();
        for (i, (name, t)) in self.tables.iter().enumerate() {
            let len = t.len();
            // Row 0 holds the table; further rows (when `rows` is 2) are empty lists.
            let offsets32 = |first: usize| {
                let mut o = OffsetBufferBuilder::<i32>::new(n);
                (0..n).for_each(|r| o.push_length(if r == 0 { first } else { 0 }));
                o.finish()
            };
            let offsets64 = |first: usize| {
                let mut o = OffsetBufferBuilder::<i64>::new(n);
                (0..n).for_each(|r| o.push_length(if r == 0 { first } else { 0 }));
                o.finish()
            };
            // A validity buffer with every element null.
            let all_null = |k: usize| Int32Array::from(vec![None::<i32>; k]).nulls().cloned();
            let list = |values: ArrayRef| -> Option<ArrayRef> {
                let item = Arc::new(Field::new("item", values.data_type().clone(), true));
                let offsets = offsets32(values.len());
                Some(Arc::new(
                    ListArray::try_new(item, offsets, values, None).ok()?,
                ))
            };
            let col: ArrayRef = match self.packing.get(&i) {
                None => list(Arc::new(t.clone()))?,
                Some(Packing::LargeList) => {
                    let item = Arc::new(Field::new("item", t.data_type().clone(), true));
                    Arc::new(
                        LargeListArray::try_new(item, offsets64(len), Arc::new(t.clone()), None)
                            .ok()?,
                    )
                }
                Some(Packing::NullElement) => {
                    let item = Arc::new(Field::new("item", t.data_type().clone(), true));
                    Arc::new(
                        ListArray::try_new(item, offsets32(len), Arc::new(t.clone()), all_null(n))
                            .ok()?,
                    )
                }
                Some(Packing::NotAList) => {
                    Arc::new(Int32Array::from_iter_values((0..n).map(|_| 1)))
                }
                Some(Packing::ListOfInts) => list(Arc::new(Int32Array::from_iter_values(
                    (0..len).map(|x| x as i32),
                )))?,
                Some(Packing::FixedSizeList) => {
                    if n != 1 || len == 0 {
                        return None;
                    }
                    let item = Arc::new(Field::new("item", t.data_type().clone(), true));
                    Arc::new(
                        FixedSizeListArray::try_new(item, len as i32, Arc::new(t.clone()), None)
                            .ok()?,
                    )
                }
                Some(Packing::NullStructRows) => {
                    let (f, c, _) = t.clone().into_parts();
                    let s = if f.is_empty() {
                        StructArray::new_empty_fields(len, all_null(len))
                    } else {
                        StructArray::try_new(f, c, all_null(len)).ok()?
                    };
                    list(Arc::new(s))?
                }
            };
            fields.push(Field::new(name, col.data_type().clone(), true));
            cols.push(col);
        }
        let schema = Arc::new(Schema::new_with_metadata(fields, self.metadata.clone()));
        RecordBatch::try_new_with_options(
            schema,
            cols,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )
        .ok()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Running a case

/// Whether a decoded plan is small enough to simulate in a test (few instances, few tokens).
fn small(plan: &Plan) -> bool {
    let instances: u64 = plan.pools.iter().map(|p| p.instances).sum();
    let tokens: u64 = plan
        .workloads
        .iter()
        .flat_map(|w| {
            w.prompt_tokens
                .iter()
                .zip(&w.output_tokens)
                .map(|(p, o)| *p as u64 + *o as u64)
        })
        .sum();
    let requests: usize = plan.workloads.iter().map(|w| w.prompt_tokens.len()).sum();
    instances <= 64
        && plan.pools.iter().all(|p| p.block_size <= 1 << 16)
        && requests <= 200
        && tokens <= 100_000
        && plan.runs.len() <= 8
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-string panic)".into())
}

#[derive(Debug)]
#[allow(dead_code)] // the messages are read through Debug, in failure reports
enum Outcome {
    Rejected(String),
    Simulated,
    SimulationFailed(String),
    TooLargeToSimulate,
}

/// Decodes the batch and, if it decodes to a small plan, simulates it (on another thread, with a time
/// limit). A panic or a hang is an `Err` describing it.
fn run_case(batch: &RecordBatch) -> Result<Outcome, String> {
    let decoded = catch_unwind(AssertUnwindSafe(|| Plan::from_batch(batch)))
        .map_err(|p| format!("Plan::from_batch panicked: {}", panic_text(p)))?;
    let plan = match decoded {
        Err(e) => return Ok(Outcome::Rejected(e.to_string())),
        Ok(plan) => plan,
    };
    if !small(&plan) {
        return Ok(Outcome::TooLargeToSimulate);
    }
    let (tx, rx) = mpsc::channel();
    let batch = batch.clone();
    std::thread::spawn(move || {
        let r = catch_unwind(AssertUnwindSafe(|| {
            simulate_batch(&batch, SimOptions::default())
        }));
        let _ = tx.send(
            r.map(|r| r.map(|_| ()).map_err(|e| e.to_string()))
                .map_err(panic_text),
        );
    });
    match rx.recv_timeout(SIM_TIME_LIMIT) {
        Err(_) => Err(format!(
            "simulate_batch did not finish within {SIM_TIME_LIMIT:?}"
        )),
        Ok(Err(p)) => Err(format!("simulate_batch panicked: {p}")),
        Ok(Ok(Ok(()))) => Ok(Outcome::Simulated),
        Ok(Ok(Err(e))) => {
            if std::env::var_os("INFERA_FUZZ_VERBOSE").is_some() {
                eprintln!("decoded, then simulation failed: {e}");
            }
            Ok(Outcome::SimulationFailed(e))
        }
    }
}

fn silence_panics() {
    // Panics are caught and reported with the case; the default hook would print each one as well.
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::env::var_os("INFERA_FUZZ_VERBOSE").is_some() {
                default(info);
            }
        }));
    });
}

/// The batch of one case: `base`, its rows changed by `tweaks`, then malformed by `mutations`.
fn case_batch(base: &Base, tweaks: &[Tweak], mutations: &[Mutation]) -> Option<RecordBatch> {
    let mut b = base_builder(base);
    let mut extras = PoolExtras::default();
    for t in tweaks {
        tweak(&mut b, &mut extras, t);
    }
    let mut draft = Draft::new(tables_of(base, &b, &extras));
    for m in mutations {
        draft.apply(m);
    }
    draft.batch()
}

// ---------------------------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(config(DEFAULT_CASES))]

    /// Any malformation of a valid plan is decoded to `Ok` or `Err` and (if small) simulated without a
    /// panic or a hang.
    #[test]
    fn malformed_plans_never_panic(base in base_strategy(), mutations in prop::collection::vec(mutation_strategy(), 1..4)) {
        silence_panics();
        let mut draft = Draft::new(base_tables(&base));
        for m in &mutations {
            draft.apply(m);
        }
        let Some(batch) = draft.batch() else { return Ok(()) };
        if let Err(problem) = run_case(&batch) {
            prop_assert!(false, "{problem}\nbase: {base:?}\nmutations: {mutations:#?}");
        }
    }

    /// Typed changes to the rows (extreme shapes, budgets, arrivals, speeds), then possibly a malformation:
    /// decoding and simulating never panic or hang.
    #[test]
    fn extreme_plans_never_panic(
        base in base_strategy(),
        tweaks in prop::collection::vec(tweak_strategy(), 1..5),
        mutations in prop::collection::vec(mutation_strategy(), 0..2),
    ) {
        silence_panics();
        let batch = case_batch(&base, &tweaks, &mutations);
        let Some(batch) = batch else { return Ok(()) };
        if let Err(problem) = run_case(&batch) {
            prop_assert!(false, "{problem}\nbase: {base:?}\ntweaks: {tweaks:#?}\nmutations: {mutations:#?}");
        }
    }

}

proptest! {
    #![proptest_config(config(BASE_CASES))]

    /// Every base plan is valid and simulates.
    #[test]
    fn base_plans_simulate(base in base_strategy()) {
        silence_panics();
        let batch = Draft::new(base_tables(&base)).batch().expect("a base plan packs");
        match run_case(&batch) {
            Ok(Outcome::Simulated) => {}
            other => prop_assert!(false, "base plan {base:?} did not simulate: {other:?}"),
        }
    }
}

/// Outcome counts of `n` cases drawn from `strategy` and turned into batches by `make`: (packed, rejected,
/// simulated, too large).
fn tally<S: Strategy>(
    n: usize,
    strategy: S,
    make: impl Fn(&S::Value) -> Option<RecordBatch>,
) -> [usize; 4]
where
    S::Value: std::fmt::Debug,
{
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut counts = [0; 4];
    for _ in 0..n {
        let case = strategy.new_tree(&mut runner).unwrap().current();
        let Some(batch) = make(&case) else { continue };
        counts[0] += 1;
        match run_case(&batch) {
            Ok(Outcome::Rejected(_)) => counts[1] += 1,
            Ok(Outcome::Simulated) | Ok(Outcome::SimulationFailed(_)) => counts[2] += 1,
            Ok(Outcome::TooLargeToSimulate) => counts[3] += 1,
            Err(problem) => panic!("{problem}\ncase: {case:#?}"),
        }
    }
    if std::env::var_os("INFERA_FUZZ_VERBOSE").is_some() {
        eprintln!("of {n} cases: {counts:?} (packed, rejected, simulated, too large)");
    }
    counts
}

/// A guard against a fuzzer that silently stops exercising the core: malformations must mostly be
/// rejected, and a fair share of cases of both properties must get as far as a simulation.
#[test]
fn the_fuzzer_reaches_both_decoding_and_simulation() {
    silence_panics();
    let malformed = (
        base_strategy(),
        prop::collection::vec(mutation_strategy(), 1..4),
    );
    let [packed, rejected, simulated, _] = tally(300, malformed, |(base, mutations)| {
        case_batch(base, &[], mutations)
    });
    assert!(
        packed >= 250,
        "only {packed} of 300 malformed cases packed into a batch"
    );
    assert!(
        rejected >= 100,
        "only {rejected} of {packed} malformed plans were rejected"
    );
    assert!(
        simulated >= 20,
        "only {simulated} of {packed} malformed plans got as far as a simulation"
    );

    let extreme = (
        base_strategy(),
        prop::collection::vec(tweak_strategy(), 1..5),
    );
    let [packed, rejected, simulated, _] =
        tally(300, extreme, |(base, tweaks)| case_batch(base, tweaks, &[]));
    assert!(
        packed >= 290,
        "only {packed} of 300 extreme cases packed into a batch"
    );
    assert!(
        rejected >= 30,
        "only {rejected} of {packed} extreme plans were rejected"
    );
    assert!(
        simulated >= 60,
        "only {simulated} of {packed} extreme plans got as far as a simulation"
    );
}
