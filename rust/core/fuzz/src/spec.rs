//! A plan described by fuzzer bytes: chips, models, operators, workloads, requests, runs, pools, links and
//! SLOs in small bounded numbers, written with the public `PlanBuilder`.
//!
//! Each quantity is drawn as a factor of a typical value, so most inputs are plans the core accepts and the
//! engine, not only the decoder, gets exercised; now and then a value is any `f64` or `u32` (NaN,
//! infinities, negatives, zero, the extremes), a name is one the core does not know, or an index points
//! past its table. Exhausted input reads as zeros, which draw the typical value of every field.

use arbitrary::{Arbitrary, Result, Unstructured};
use infera_core::builder::{
    ChipRow, ModelRow, OperatorRow, PlanBuilder, PoolRow, RunRow, WorkloadRow,
};
use infera_core::{vocabulary, SimOptions};

/// Most rows drawn per table (per chip for engines, per model for operators, per workload for requests,
/// per run for pools and SLOs).
const MAX_CHIPS: usize = 3;
const MAX_ENGINES: usize = 4;
const MAX_MODELS: usize = 2;
const MAX_OPERATORS: usize = 8;
const MAX_WORKLOADS: usize = 2;
const MAX_REQUESTS: usize = 32;
const MAX_RUNS: usize = 3;
const MAX_POOLS: usize = 3;
const MAX_LINKS: usize = 4;
const MAX_SLOS: usize = 4;

/// Factors a typical value is scaled by; 1 comes first so that the empty input gives typical values.
const FACTORS: [f64; 16] = [
    1.0, 2.0, 0.5, 0.0, 4.0, 0.25, 10.0, 0.1, 3.0, 1e3, 1e-3, 16.0, 1.5, 1e6, 1e-6, 64.0,
];

/// A float: a factor of the field's typical value, or (rarely) any `f64` at all.
#[derive(Debug, Clone, Copy)]
pub enum Num {
    Times(f64),
    Exactly(f64),
}

impl<'a> Arbitrary<'a> for Num {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let tag = u8::arbitrary(u)?;
        Ok(match tag {
            0..=199 => Num::Times(FACTORS[usize::from(tag) % FACTORS.len()]),
            200..=243 => {
                let mantissa = f64::from(u16::arbitrary(u)?) / 4096.0;
                Num::Times(mantissa * 10f64.powi(i32::from(i8::arbitrary(u)? % 16)))
            }
            _ => Num::Exactly(f64::arbitrary(u)?),
        })
    }
}

impl Num {
    fn of(self, typical: f64) -> f64 {
        match self {
            Num::Times(k) => typical * k,
            Num::Exactly(x) => x,
        }
    }
}

/// A count: a factor of the field's typical count (truncated), or (rarely) any `u32`.
#[derive(Debug, Clone, Copy)]
pub struct Count(Num);

impl<'a> Arbitrary<'a> for Count {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Count(match u8::arbitrary(u)? {
            0..=239 => Num::Times(FACTORS[usize::from(u8::arbitrary(u)?) % FACTORS.len()]),
            _ => Num::Exactly(f64::from(u32::arbitrary(u)?)),
        }))
    }
}

impl Count {
    fn of(self, typical: u32) -> u32 {
        // `as` saturates: a factor past u32::MAX gives u32::MAX.
        self.0.of(f64::from(typical)) as u32
    }
}

/// A name: mostly the first of the names a field takes (its default), else any of them, rarely one the
/// core does not know.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct Name(u8);

impl Name {
    fn of(self, names: &[&str]) -> String {
        match self.0 {
            0..=127 => names[0].to_string(),
            128..=247 => names[usize::from(self.0) % names.len()].to_string(),
            _ => ["", "bogus", "Mixed"][usize::from(self.0) % 3].to_string(),
        }
    }
}

/// A row index into a table of `len` rows: mostly a row of it, rarely one past its end.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub struct Index(u8);

impl Index {
    fn of(self, len: usize) -> u32 {
        match (self.0, len) {
            (0..=243, 1..) => (usize::from(self.0) % len) as u32,
            _ => (len + usize::from(self.0 % 4)) as u32,
        }
    }
}

/// Something that is usually absent: present in 16 of 256 draws (absent on exhausted input).
#[derive(Debug, Clone, Copy)]
pub struct Rare<T>(Option<T>);

impl<'a, T: Arbitrary<'a>> Arbitrary<'a> for Rare<T> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Rare(if u8::arbitrary(u)? < 240 {
            None
        } else {
            Some(T::arbitrary(u)?)
        }))
    }
}

/// At least one row, then more.
#[derive(Debug, Clone, Arbitrary)]
pub struct Rows<T> {
    first: T,
    rest: Vec<T>,
}

impl<T> Rows<T> {
    fn take(&self, most: usize) -> impl Iterator<Item = &T> {
        std::iter::once(&self.first).chain(&self.rest).take(most)
    }
}

#[derive(Debug, Clone, Arbitrary)]
pub struct EngineSpec {
    kind: Name,
    dtype: Name,
    flops: Num,
    efficiency: Num,
}

#[derive(Debug, Clone, Arbitrary)]
pub struct ChipSpec {
    memory_bytes: Num,
    memory_bw: Num,
    memory_efficiency: Num,
    link_bw: Num,
    link_latency_s: Num,
    power_busy_w: Num,
    power_idle_w: Num,
    price_per_hour: Num,
    kernel_overhead_s: Rare<Num>,
    engines: Rows<EngineSpec>,
}

#[derive(Debug, Clone, Arbitrary)]
pub struct OperatorSpec {
    engine: Name,
    dtype: Name,
    count: Num,
    /// flops per token, per sampled token and per attention pair; weight bytes; bytes per token, per
    /// sampled token and per KV token.
    coefficients: [Num; 7],
    sharded: bool,
}

#[derive(Debug, Clone, Arbitrary)]
pub struct ModelSpec {
    layers: Count,
    kv_heads: Count,
    weight_bytes: Num,
    kv_bytes_per_token: Num,
    operators: Rows<OperatorSpec>,
}

#[derive(Debug, Clone, Arbitrary)]
pub struct RequestSpec {
    /// Seconds after the previous request; absent (no arrival time) rarely.
    gap_s: Num,
    no_arrival: Rare<()>,
    prompt_tokens: Count,
    output_tokens: Count,
}

#[derive(Debug, Clone, Arbitrary)]
pub struct WorkloadSpec {
    kind: Name,
    users: Count,
    think_time_s: Num,
    /// Unlimited unless drawn.
    duration_s: Rare<Num>,
    requests: Vec<RequestSpec>,
}

#[derive(Debug, Clone, Arbitrary)]
pub struct PoolSpec {
    role: Name,
    chip: Index,
    /// `tp × instances` unless drawn.
    chips: Rare<Count>,
    tp: Count,
    instances: Count,
    max_batch: Count,
    max_batched_tokens: Count,
    block_size: Count,
    kv_blocks: Count,
    whole_prefill: bool,
    policy: Name,
    step_overhead_s: Num,
}

#[derive(Debug, Clone, Arbitrary)]
pub struct SloSpec {
    metric: Name,
    /// The mean unless drawn.
    percentile: Rare<Num>,
    threshold_s: Num,
}

#[derive(Debug, Clone, Arbitrary)]
pub struct RunSpec {
    model: Index,
    workload: Index,
    seed: u64,
    prefill_router: Name,
    decode_router: Name,
    pools: Rows<PoolSpec>,
    slos: Vec<SloSpec>,
}

#[derive(Debug, Clone, Arbitrary)]
pub struct LinkSpec {
    src: Index,
    dst: Index,
    bandwidth: Num,
    latency_s: Num,
}

/// A whole plan, and the options it is simulated with.
#[derive(Debug, Clone, Arbitrary)]
pub struct Spec {
    chips: Rows<ChipSpec>,
    models: Rows<ModelSpec>,
    workloads: Rows<WorkloadSpec>,
    runs: Rows<RunSpec>,
    links: Vec<LinkSpec>,
    drop_requests: bool,
    drop_iterations: bool,
    drop_token_stats: bool,
}

impl Spec {
    /// What the simulation keeps.
    pub fn options(&self) -> SimOptions {
        SimOptions {
            requests: !self.drop_requests,
            iterations: !self.drop_iterations,
            token_stats: !self.drop_token_stats,
        }
    }

    /// The plan's rows, as given (the builder validates nothing).
    pub fn builder(&self) -> PlanBuilder {
        let v = vocabulary();
        let dtypes: Vec<&str> = std::iter::once("bf16")
            .chain(v.precisions.iter().map(|&(p, _)| p))
            .collect();
        let mut b = PlanBuilder::new();
        let chips: Vec<&ChipSpec> = self.chips.take(MAX_CHIPS).collect();
        for (i, c) in chips.iter().enumerate() {
            let chip = b.chip(ChipRow {
                name: format!("chip{i}"),
                memory_bytes: c.memory_bytes.of(16e9),
                memory_bw: c.memory_bw.of(1e12),
                memory_efficiency: c.memory_efficiency.of(1.0),
                link_bw: c.link_bw.of(1e11),
                link_latency_s: c.link_latency_s.of(1e-6),
                power_busy_w: c.power_busy_w.of(500.0),
                power_idle_w: c.power_idle_w.of(100.0),
                price_per_hour: c.price_per_hour.of(1.0),
                kernel_overhead_s: c.kernel_overhead_s.0.map_or(0.0, |n| n.of(1e-6)),
                ..Default::default()
            });
            for e in c.engines.take(MAX_ENGINES) {
                b.engine(
                    chip,
                    &e.kind.of(v.operator_engines),
                    &e.dtype.of(&dtypes),
                    e.flops.of(1e14),
                    e.efficiency.of(1.0),
                );
            }
        }
        let models: Vec<&ModelSpec> = self.models.take(MAX_MODELS).collect();
        for (i, m) in models.iter().enumerate() {
            let model = b.model(ModelRow {
                name: format!("model{i}"),
                layers: m.layers.of(2),
                kv_heads: m.kv_heads.of(2),
                weight_bytes: m.weight_bytes.of(1e9),
                kv_bytes_per_token: m.kv_bytes_per_token.of(1024.0),
                ..Default::default()
            });
            for (j, o) in m.operators.take(MAX_OPERATORS).enumerate() {
                let [fpt, fps, fpa, wb, bpt, bps, bpk] = o.coefficients;
                b.operator(OperatorRow {
                    model,
                    name: format!("op{j}"),
                    engine: o.engine.of(v.operator_engines),
                    dtype: o.dtype.of(&dtypes),
                    count: o.count.of(2.0),
                    flops_per_token: fpt.of(1e6),
                    flops_per_sampled: fps.of(5e5),
                    flops_per_attn_pair: fpa.of(1e3),
                    weight_bytes: wb.of(1e6),
                    bytes_per_token: bpt.of(1e3),
                    bytes_per_sampled: bps.of(2e3),
                    bytes_per_kv_token: bpk.of(512.0),
                    tp_shard: o.sharded,
                    ..Default::default()
                });
            }
        }
        let workloads: Vec<&WorkloadSpec> = self.workloads.take(MAX_WORKLOADS).collect();
        for (i, w) in workloads.iter().enumerate() {
            let wl = b.workload(WorkloadRow {
                name: format!("workload{i}"),
                kind: w.kind.of(v.arrivals),
                users: w.users.of(4),
                think_time_s: w.think_time_s.of(0.01),
                duration_s: w.duration_s.0.map_or(f64::INFINITY, |n| n.of(1.0)),
            });
            let mut t = 0.0;
            for r in w.requests.iter().take(MAX_REQUESTS) {
                t += r.gap_s.of(0.005);
                let arrival = r.no_arrival.0.map_or(Some(t), |()| None);
                b.request(wl, arrival, r.prompt_tokens.of(64), r.output_tokens.of(8));
            }
        }
        let runs: Vec<&RunSpec> = self.runs.take(MAX_RUNS).collect();
        for (i, r) in runs.iter().enumerate() {
            let run = b.run(RunRow {
                name: format!("run{i}"),
                system: format!("system{i}"),
                model: r.model.of(models.len()),
                workload: r.workload.of(workloads.len()),
                seed: r.seed,
                prefill_router: r.prefill_router.of(v.routers),
                decode_router: r.decode_router.of(v.routers),
            });
            for (j, p) in r.pools.take(MAX_POOLS).enumerate() {
                let (tp, instances) = (p.tp.of(1), p.instances.of(1));
                b.pool(PoolRow {
                    run,
                    name: format!("pool{j}"),
                    role: p.role.of(v.roles),
                    chip: p.chip.of(chips.len()),
                    chips: p.chips.0.map_or(tp.saturating_mul(instances), |c| c.of(1)),
                    tp,
                    instances,
                    max_batch: p.max_batch.of(64),
                    max_batched_tokens: p.max_batched_tokens.of(2048),
                    block_size: p.block_size.of(16),
                    kv_blocks: p.kv_blocks.of(1024),
                    chunked_prefill: !p.whole_prefill,
                    policy: p.policy.of(v.policies),
                    step_overhead_s: p.step_overhead_s.of(1e-4),
                    ..Default::default()
                });
            }
            for s in r.slos.iter().take(MAX_SLOS) {
                b.slo(
                    run,
                    &s.metric.of(v.metrics),
                    s.percentile.0.map(|n| n.of(50.0)),
                    s.threshold_s.of(1.0),
                );
            }
        }
        let pools = b.pools.len();
        for l in self.links.iter().take(MAX_LINKS) {
            b.link(
                l.src.of(pools),
                l.dst.of(pools),
                l.bandwidth.of(1e10),
                l.latency_s.of(1e-6),
            );
        }
        b
    }
}
