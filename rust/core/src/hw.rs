//! Chip hardware beyond one tensor engine and one memory: engine routing (matmuls on a tensor or an optical
//! engine), optical operand conversion, memory tiers (weights and KV in SRAM or HBM), per-operation energy, and
//! calibration profiles that override the roofline where measurements exist.
//!
//! Everything here is optional in the plan: the `engines` columns `name`, `energy_per_flop`, `conversion_bw`,
//! `conversion_energy_per_byte`; the `chips` columns `matmul_engine`, `attention_engine`; the `pools` columns
//! `weights_memory`, `kv_memory`; the `memories` and `profiles` tables. A plan without them prices steps
//! exactly as before (one engine kind per operator, one memory, busy power × time). `docs/cost-model.md`
//! ("Multi-engine chips", "Memory tiers", "Energy") and `docs/calibration.md` give the formulas.

use std::collections::HashMap;

use arrow_array::RecordBatch;

use crate::cost::{fallbacks, StepStats};
use crate::error::{plan_err, Result};
use crate::plan::{with_table, Chip, Engine, Memory, Operator, Pool, ProfilePoint};

/// The step statistics a profile may be keyed by.
pub const PROFILE_STATS: [&str; 4] = ["tokens", "sampled", "attn_pairs", "kv_tokens"];

/// Whether a tensor operator is attention (it scores query–key pairs or reads the KV cache) rather than a
/// weight matmul; the two are routed separately (`attention_engine`, `matmul_engine`).
pub fn is_attention(op: &Operator) -> bool {
    op.flops_per_attn_pair > 0.0 || op.bytes_per_kv_token > 0.0
}

/// The engines (names or kinds, in preference order) that may run `op` on `chip`.
pub fn route(chip: &Chip, op: &Operator) -> Vec<String> {
    if op.engine != "tensor" {
        return vec![op.engine.clone()];
    }
    let r = if is_attention(op) {
        &chip.attention_route
    } else {
        &chip.matmul_route
    };
    if r.is_empty() {
        vec!["tensor".to_string()]
    } else {
        r.clone()
    }
}

/// The engine among those whose name or kind is `which` that runs `dtype`, at that precision or the next
/// wider one (never narrower: see [`crate::cost::find_engine`]).
fn find_named<'a>(chip: &'a Chip, which: &str, dtype: &str) -> Option<&'a Engine> {
    let ok = |e: &&'a Engine| e.name == which || e.kind == which;
    chip.engines
        .iter()
        .filter(ok)
        .find(|e| e.dtype == dtype)
        .or_else(|| {
            fallbacks(dtype)
                .iter()
                .find_map(|d| chip.engines.iter().filter(ok).find(|e| e.dtype == *d))
        })
}

/// The engine that runs `op` on `chip`: the first engine of its route that can run its precision.
pub fn engine_for<'a>(chip: &'a Chip, op: &Operator) -> Option<&'a Engine> {
    if op.engine != "tensor" {
        return crate::cost::find_engine(chip, &op.engine, &op.dtype);
    }
    route(chip, op)
        .iter()
        .find_map(|r| find_named(chip, r, &op.dtype))
}

// ---------------------------------------------------------------------------------------------------------
// Pricing one operator

/// A piecewise-linear curve of measured seconds per occurrence against one step statistic.
#[derive(Debug, Clone)]
pub struct Curve {
    stat: usize,
    xs: Vec<f64>,
    ys: Vec<f64>,
}

impl Curve {
    fn x(&self, s: &StepStats) -> f64 {
        match self.stat {
            0 => s.tokens,
            1 => s.sampled,
            2 => s.attn_pairs,
            _ => s.kv_read_tokens,
        }
    }

    /// Measured seconds at the step's statistic: exact at a measured point, linear between two, `None` outside
    /// the measured range (the roofline applies there).
    pub fn at(&self, s: &StepStats) -> Option<f64> {
        let x = self.x(s);
        let n = self.xs.len();
        if n == 0 || !(x >= self.xs[0] && x <= self.xs[n - 1]) {
            return None;
        }
        let j = self.xs.partition_point(|&v| v < x);
        if self.xs[j] == x {
            return Some(self.ys[j]);
        }
        let (x0, x1, y0, y1) = (self.xs[j - 1], self.xs[j], self.ys[j - 1], self.ys[j]);
        Some(y0 + (y1 - y0) * (x - x0) / (x1 - x0))
    }
}

/// How one operator uses the chip's memory tiers, converters and energy (built once per pool).
#[derive(Debug, Clone, Default)]
pub struct OpHw {
    /// Weights (and activations) and KV are read at different rates than the chip's one memory.
    tiered: bool,
    /// Seconds per byte of weights and activations (their tier), and of KV reads (the KV tier).
    inv_weights: f64,
    inv_kv: f64,
    /// Seconds per operand byte through the engine's converters (0: none).
    inv_conv: f64,
    /// Joules per FLOP, per weight/activation byte, per KV byte, per converted byte.
    e_flop: f64,
    e_weights: f64,
    e_kv: f64,
    e_conv: f64,
    /// Measured times (per occurrence) overriding the roofline where they have data.
    profile: Option<Curve>,
    /// Fixed seconds per occurrence added to the roofline (the chip's `kernel_overhead_s`). Only compute
    /// operators are priced through [`OpHw::seconds`]; communication keeps its own latency terms.
    kernel_s: f64,
}

fn tier(chip: &Chip, idx: Option<usize>) -> (f64, f64) {
    match idx.and_then(|i| chip.memories.get(i)) {
        Some(m) => (1.0 / (m.bandwidth * m.efficiency), m.energy_per_byte),
        None => (1.0 / (chip.memory_bw * chip.memory_efficiency), 0.0),
    }
}

impl OpHw {
    /// The hardware view of `op` (of model `model`) on `chip` in `pool`, run on `engine` (`None` for
    /// communication operators).
    pub fn new(
        chip: &Chip,
        pool: &Pool,
        model: &str,
        op: &Operator,
        engine: Option<&Engine>,
    ) -> OpHw {
        let inv_mem = 1.0 / (chip.memory_bw * chip.memory_efficiency);
        let (inv_weights, e_weights) = tier(chip, pool.weights_memory);
        let (inv_kv, e_kv) = tier(chip, pool.kv_memory);
        let (inv_conv, e_flop, e_conv) = match engine {
            Some(e) => (
                if e.conversion_bw > 0.0 {
                    1.0 / e.conversion_bw
                } else {
                    0.0
                },
                e.energy_per_flop,
                e.conversion_energy_per_byte,
            ),
            None => (0.0, 0.0, 0.0),
        };
        OpHw {
            tiered: inv_weights != inv_mem || inv_kv != inv_mem,
            inv_weights,
            inv_kv,
            inv_conv,
            e_flop,
            e_weights,
            e_kv,
            e_conv,
            profile: profile_curve(chip, model, &op.name, pool.tp),
            kernel_s: chip.kernel_overhead_s,
        }
    }

    /// Seconds for `count` occurrences of the operator in a step with statistics `s`: the profile where it
    /// has data, else `max(compute, memory, conversion) + count × kernel overhead`. `compute_s` is FLOPs
    /// over the engine's effective rate; `weights`, `act`, `kv` the bytes read from each tier (per chip, all
    /// occurrences), `bytes` their sum and `inv_mem` seconds per byte of the chip's one memory.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn seconds(
        &self,
        s: &StepStats,
        count: f64,
        compute_s: f64,
        weights: f64,
        act: f64,
        kv: f64,
        bytes: f64,
        inv_mem: f64,
    ) -> f64 {
        if let Some(t) = self.profile.as_ref().and_then(|c| c.at(s)) {
            return count * t;
        }
        let mem = if self.tiered {
            (weights + act) * self.inv_weights + kv * self.inv_kv
        } else {
            bytes * inv_mem
        };
        compute_s.max(mem).max(bytes * self.inv_conv) + count * self.kernel_s
    }

    /// Dynamic joules of the operator on one chip: FLOPs, bytes from each tier, converted bytes.
    #[inline]
    pub fn joules(&self, flops: f64, weights: f64, act: f64, kv: f64, bytes: f64) -> f64 {
        flops * self.e_flop
            + (weights + act) * self.e_weights
            + kv * self.e_kv
            + bytes * self.e_conv
    }

    /// Whether the operator draws any per-operation energy.
    pub fn has_energy(&self) -> bool {
        self.e_flop > 0.0 || self.e_weights > 0.0 || self.e_kv > 0.0 || self.e_conv > 0.0
    }
}

/// The profile points of `chip` for `operator` of `model` at tensor-parallel degree `tp`: the model's own
/// measurements if it has any, else the model-independent ones.
fn profile_curve(chip: &Chip, model: &str, operator: &str, tp: u64) -> Option<Curve> {
    let pick = |m: &str| -> Vec<&ProfilePoint> {
        chip.profile
            .iter()
            .filter(|p| p.operator == operator && p.tp == tp && p.model == m)
            .collect()
    };
    let mut pts = pick(model);
    if pts.is_empty() {
        pts = pick("");
    }
    if pts.is_empty() {
        return None;
    }
    pts.sort_by(|a, b| a.x.total_cmp(&b.x));
    let stat = PROFILE_STATS
        .iter()
        .position(|s| *s == pts[0].stat)
        .unwrap_or(0);
    Some(Curve {
        stat,
        xs: pts.iter().map(|p| p.x).collect(),
        ys: pts.iter().map(|p| p.seconds).collect(),
    })
}

// ---------------------------------------------------------------------------------------------------------
// Decoding

fn split_route(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

/// Reads the optional hardware columns of `chips` and `engines` and the optional `memories` and `profiles`
/// tables into `chips`, and checks them.
pub fn decode_chip_hardware(batch: &RecordBatch, chips: &mut [Chip]) -> Result<()> {
    with_table(batch, "chips", |t| {
        if t.has("kernel_overhead_s") {
            for (i, v) in t.nonneg("kernel_overhead_s")?.into_iter().enumerate() {
                chips[i].kernel_overhead_s = v;
            }
        }
        for (col, matmul) in [("matmul_engine", true), ("attention_engine", false)] {
            if !t.has(col) {
                continue;
            }
            for (i, v) in t.strings(col)?.into_iter().enumerate() {
                let r = split_route(&v);
                if matmul {
                    chips[i].matmul_route = r;
                } else {
                    chips[i].attention_route = r;
                }
            }
        }
        Ok(())
    })?;

    with_table(batch, "engines", |t| {
        let n = t.len();
        let chip = t.index("chip", "chips", chips.len())?;
        let opt = |col: &str| -> Result<Vec<f64>> {
            if t.has(col) {
                t.nonneg(col)
            } else {
                Ok(vec![0.0; n])
            }
        };
        let e_flop = opt("energy_per_flop")?;
        let conv_bw = if t.has("conversion_bw") {
            t.f64_checked("conversion_bw", true)?
        } else {
            vec![0.0; n]
        };
        let e_conv = opt("conversion_energy_per_byte")?;
        let names = if t.has("name") {
            Some(t.strings("name")?)
        } else {
            None
        };
        // Engines were appended per chip in row order; find each row's engine again the same way.
        let mut seen: HashMap<usize, usize> = HashMap::new();
        for i in 0..n {
            let k = seen.entry(chip[i]).or_insert(0);
            let e = &mut chips[chip[i]].engines[*k];
            *k += 1;
            if conv_bw[i].is_nan() || conv_bw[i] < 0.0 {
                return Err(plan_err!("engines row {}: conversion_bw must be >= 0", i));
            }
            e.energy_per_flop = e_flop[i];
            e.conversion_bw = if conv_bw[i].is_infinite() {
                0.0
            } else {
                conv_bw[i]
            };
            e.conversion_energy_per_byte = e_conv[i];
            if let Some(names) = &names {
                if !names[i].is_empty() {
                    e.name = names[i].clone();
                }
            }
        }
        Ok(())
    })?;

    if batch.column_by_name("memories").is_some() {
        with_table(batch, "memories", |t| {
            let chip = t.index("chip", "chips", chips.len())?;
            let name = t.strings("name")?;
            let cap = t.nonneg("capacity_bytes")?;
            let bw = t.positive("bandwidth")?;
            let eff = t.positive("efficiency")?;
            let energy = if t.has("energy_per_byte") {
                t.nonneg("energy_per_byte")?
            } else {
                vec![0.0; t.len()]
            };
            for i in 0..t.len() {
                if eff[i] > 1.0 {
                    return Err(plan_err!(
                        "memories row {}: efficiency must be in (0, 1]",
                        i
                    ));
                }
                let c = &mut chips[chip[i]];
                if c.memories.iter().any(|m| m.name == name[i]) {
                    return Err(plan_err!(
                        "chip '{}': two memories named '{}'",
                        c.name,
                        name[i]
                    ));
                }
                c.memories.push(Memory {
                    name: name[i].clone(),
                    capacity_bytes: cap[i],
                    bandwidth: bw[i],
                    efficiency: eff[i],
                    energy_per_byte: energy[i],
                });
            }
            Ok(())
        })?;
    }

    if batch.column_by_name("profiles").is_some() {
        with_table(batch, "profiles", |t| {
            let chip = t.index("chip", "chips", chips.len())?;
            let model = t.strings("model")?;
            let operator = t.strings("operator")?;
            let tp = t.int_in("tp", 1, 65_536)?;
            let stat = t.choice("stat", &PROFILE_STATS)?;
            let x = t.nonneg("x")?;
            let seconds = t.positive("seconds")?;
            for i in 0..t.len() {
                let c = &mut chips[chip[i]];
                for p in &c.profile {
                    if p.model == model[i] && p.operator == operator[i] && p.tp == tp[i] {
                        if p.stat != stat[i] {
                            return Err(plan_err!(
                                "profiles row {}: chip '{}' operator '{}' (tp={}) is measured against both '{}' and '{}'",
                                i, c.name, operator[i], tp[i], p.stat, stat[i]
                            ));
                        }
                        if p.x == x[i] {
                            return Err(plan_err!(
                                "profiles row {}: chip '{}' operator '{}' (tp={}) has two times at {} = {}",
                                i, c.name, operator[i], tp[i], stat[i], x[i]
                            ));
                        }
                    }
                }
                c.profile.push(ProfilePoint {
                    model: model[i].clone(),
                    operator: operator[i].clone(),
                    tp: tp[i],
                    stat: stat[i].clone(),
                    x: x[i],
                    seconds: seconds[i],
                });
            }
            Ok(())
        })?;
    }

    for c in chips.iter() {
        for (what, r) in [
            ("matmul_engine", &c.matmul_route),
            ("attention_engine", &c.attention_route),
        ] {
            for name in r {
                if !c.engines.iter().any(|e| &e.name == name || &e.kind == name) {
                    return Err(plan_err!(
                        "chip '{}': {} names '{}' but the chip has no such engine",
                        c.name,
                        what,
                        name
                    ));
                }
            }
        }
        for e in &c.engines {
            if e.kind == "optical" && e.conversion_bw <= 0.0 {
                return Err(plan_err!(
                    "chip '{}': optical engine '{}' needs a conversion rate (conversion_bw > 0)",
                    c.name,
                    e.name
                ));
            }
        }
    }
    Ok(())
}

/// Reads the optional `pools` columns `weights_memory` and `kv_memory` (rows of `memories`, which must belong
/// to the pool's chip) into each pool as indices into its chip's memories.
pub fn decode_placement(batch: &RecordBatch, chips: &[Chip], pools: &mut [Pool]) -> Result<()> {
    let mem_rows: Vec<(usize, usize)> = if batch.column_by_name("memories").is_some() {
        with_table(batch, "memories", |t| {
            let chip = t.index("chip", "chips", chips.len())?;
            let mut seen: HashMap<usize, usize> = HashMap::new();
            Ok(chip
                .into_iter()
                .map(|c| {
                    let k = seen.entry(c).or_insert(0);
                    *k += 1;
                    (c, *k - 1)
                })
                .collect())
        })?
    } else {
        Vec::new()
    };
    with_table(batch, "pools", |t| {
        for (col, weights) in [("weights_memory", true), ("kv_memory", false)] {
            if !t.has(col) {
                continue;
            }
            let idx = t.index(col, "memories", mem_rows.len())?;
            for (i, &m) in idx.iter().enumerate() {
                let (chip, local) = mem_rows[m];
                if chip != pools[i].chip {
                    return Err(plan_err!(
                        "pools row {}: {} refers to a memory of chip '{}', not of the pool's chip '{}'",
                        i,
                        col,
                        chips[chip].name,
                        chips[pools[i].chip].name
                    ));
                }
                if weights {
                    pools[i].weights_memory = Some(local);
                } else {
                    pools[i].kv_memory = Some(local);
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    //! Plans come from [`crate::builder`] with this module's optional columns and tables added, so they are
    //! decoded the way a compiled plan is; expected times and energies are worked out by hand.
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, StringArray, StructArray, UInt32Array};
    use arrow_schema::{Field, Fields};

    use super::*;
    use crate::builder::{pack, single_pool, ChipRow, ModelRow, OperatorRow, PlanBuilder, PoolRow};
    use crate::cost::StepCost;
    use crate::plan::Plan;

    fn close(actual: f64, expected: f64) {
        let tol = 1e-12 * expected.abs().max(1e-300);
        assert!(
            (actual - expected).abs() <= tol,
            "expected {expected:e}, got {actual:e}"
        );
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

    fn table(cols: Vec<(&str, ArrayRef)>) -> StructArray {
        let fields: Fields = cols
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), false))
            .collect();
        StructArray::new(fields, cols.into_iter().map(|(_, a)| a).collect(), None)
    }

    fn extend(sa: &StructArray, extra: &[(&str, ArrayRef)]) -> StructArray {
        let mut fields: Vec<Arc<Field>> = sa.fields().iter().cloned().collect();
        let mut cols: Vec<ArrayRef> = sa.columns().to_vec();
        for (n, a) in extra {
            let field = Arc::new(Field::new(*n, a.data_type().clone(), false));
            // A column the builder already writes is replaced; others are appended.
            match fields.iter().position(|f| f.name() == n) {
                Some(i) => {
                    fields[i] = field;
                    cols[i] = a.clone();
                }
                None => {
                    fields.push(field);
                    cols.push(a.clone());
                }
            }
        }
        StructArray::new(Fields::from(fields), cols, None)
    }

    /// The optional hardware columns and tables added to a builder's plan.
    #[derive(Default)]
    struct Extra {
        chips: Vec<(&'static str, ArrayRef)>,
        engines: Vec<(&'static str, ArrayRef)>,
        pools: Vec<(&'static str, ArrayRef)>,
        memories: Option<StructArray>,
        profiles: Option<StructArray>,
    }

    fn decode(b: &PlanBuilder, x: &Extra) -> crate::Result<Plan> {
        let mut tables: Vec<(String, StructArray)> = b
            .tables()
            .into_iter()
            .map(|(name, sa)| {
                let extra = match name {
                    "chips" => &x.chips,
                    "engines" => &x.engines,
                    "pools" => &x.pools,
                    _ => return (name.to_string(), sa),
                };
                (name.to_string(), extend(&sa, extra))
            })
            .collect();
        if let Some(m) = &x.memories {
            tables.push(("memories".into(), m.clone()));
        }
        if let Some(p) = &x.profiles {
            tables.push(("profiles".into(), p.clone()));
        }
        Plan::from_batch(&pack(tables)?)
    }

    fn op(name: &str, dtype: &str, count: f64) -> OperatorRow {
        OperatorRow {
            name: name.into(),
            dtype: dtype.into(),
            count,
            ..Default::default()
        }
    }

    /// One chip (1 TB/s at 100 %, 50 W idle) with `engines` (kind, dtype, FLOP/s, efficiency), a model with
    /// operators `ops`, and one single-chip pool with 0.1 ms of step overhead.
    fn builder(engines: &[(&str, &str, f64, f64)], ops: Vec<OperatorRow>) -> PlanBuilder {
        let chip = ChipRow {
            name: "c".into(),
            memory_bw: 1e12,
            power_idle_w: 50.0,
            ..Default::default()
        };
        let model = ModelRow {
            name: "m".into(),
            ..Default::default()
        };
        let pool = PoolRow {
            step_overhead_s: 1e-4,
            ..Default::default()
        };
        single_pool(chip, engines, model, ops, pool)
    }

    fn cost_of(p: &Plan) -> StepCost {
        StepCost::new(&p.models[0], &p.chips[0], &p.pools[0])
    }

    const OPTICAL_CHIP: [(&str, &str, f64, f64); 3] = [
        ("tensor", "bf16", 1e14, 1.0),
        ("vector", "bf16", 1e13, 1.0),
        ("optical", "int8", 4e14, 0.5),
    ];

    /// The optical chip: matmuls routed to the optical engine (0.1 pJ/FLOP, converters at 10 GB/s and
    /// 2 pJ/B), tensor engine at 0.5 pJ/FLOP, one HBM tier at 5 pJ/B.
    fn optical_extra(matmul: &str) -> Extra {
        Extra {
            chips: vec![
                ("matmul_engine", strs(&[matmul])),
                ("attention_engine", strs(&[""])),
            ],
            engines: vec![
                ("name", strs(&["tensor", "vector", "optical"])),
                ("energy_per_flop", f64s(&[5e-13, 0.0, 1e-13])),
                ("conversion_bw", f64s(&[0.0, 0.0, 1e10])),
                ("conversion_energy_per_byte", f64s(&[0.0, 0.0, 2e-12])),
            ],
            pools: vec![("weights_memory", u32s(&[0])), ("kv_memory", u32s(&[0]))],
            memories: Some(table(vec![
                ("chip", u32s(&[0])),
                ("name", strs(&["hbm"])),
                ("capacity_bytes", f64s(&[80e9])),
                ("bandwidth", f64s(&[1e12])),
                ("efficiency", f64s(&[1.0])),
                ("energy_per_byte", f64s(&[5e-12])),
            ])),
            profiles: None,
        }
    }

    fn optical_ops() -> Vec<OperatorRow> {
        vec![
            OperatorRow {
                flops_per_token: 1e9,
                weight_bytes: 1e6,
                bytes_per_token: 1e3,
                ..op("mm", "int8", 2.0)
            },
            OperatorRow {
                flops_per_attn_pair: 100.0,
                bytes_per_kv_token: 50.0,
                ..op("attention", "bf16", 2.0)
            },
        ]
    }

    #[test]
    fn optical_matmul_pays_operand_conversion_time_and_energy() {
        let p = decode(
            &builder(&OPTICAL_CHIP, optical_ops()),
            &optical_extra("optical"),
        )
        .unwrap();
        let c = cost_of(&p);
        let s = StepStats {
            tokens: 10.0,
            sampled: 1.0,
            attn_pairs: 5e4,
            kv_read_tokens: 3e3,
        };
        // mm on the optical engine: 2 × 1e9 × 10 = 2e10 FLOP at 4e14 × 0.5 → 100 µs; 2 × (1e6 + 1e3 × 10)
        // = 2.02e6 B from HBM at 1e12 → 2.02 µs; the same bytes through 1e10 B/s converters → 202 µs: wins.
        let mm = (2e10 / 2e14_f64).max(2.02e6 / 1e12).max(2.02e6 / 1e10);
        close(mm, 2.02e-4);
        // attention on the tensor engine (no converters): 2 × 100 × 5e4 = 1e7 FLOP → 0.1 µs; 2 × 50 × 3e3
        // = 3e5 B → 0.3 µs.
        let at = (1e7 / 1e14_f64).max(3e5 / 1e12);
        let d = c.step_seconds(&s);
        close(d, 1e-4 + mm + at);
        // Energy: static 50 W × d, plus mm 2e10 FLOP × 0.1 pJ + 2.02e6 B × (5 pJ HBM + 2 pJ conversion), plus
        // attention 1e7 FLOP × 0.5 pJ + 3e5 B × 5 pJ.
        assert!(c.energy_model);
        let dynamic = 2e10 * 1e-13 + 2.02e6 * 5e-12 + 2.02e6 * 2e-12 + 1e7 * 5e-13 + 3e5 * 5e-12;
        close(c.step_energy_j(&s, d), 50.0 * d + dynamic);
        close(c.stage_joules(&s), dynamic);
    }

    #[test]
    fn routes_pick_the_engine_by_name_or_kind_and_never_narrow_the_precision() {
        let ops = vec![
            op("mm", "bf16", 1.0),
            OperatorRow {
                flops_per_attn_pair: 1.0,
                ..op("attention", "bf16", 1.0)
            },
        ];
        let p = decode(
            &builder(&OPTICAL_CHIP, ops.clone()),
            &optical_extra("optical,tensor"),
        )
        .unwrap();
        let chip = &p.chips[0];
        let (mm, attn) = (&p.models[0].operators[0], &p.models[0].operators[1]);
        assert_eq!(chip.matmul_route, vec!["optical", "tensor"]);
        // A bf16 matmul cannot run on the int8-only optical engine: it falls back to the tensor engine.
        assert_eq!(
            engine_for(chip, mm).map(|e| e.name.as_str()),
            Some("tensor")
        );
        assert_eq!(
            engine_for(chip, attn).map(|e| e.name.as_str()),
            Some("tensor")
        );
        let int8 = Operator {
            dtype: "int8".into(),
            ..mm.clone()
        };
        assert_eq!(
            engine_for(chip, &int8).map(|e| e.name.as_str()),
            Some("optical")
        );
        // With matmuls routed to the optical engine alone, the bf16 matmul has no engine: the plan is rejected.
        let err = decode(&builder(&OPTICAL_CHIP, ops), &optical_extra("optical"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no 'optical' engine for operator 'mm' (bf16)"),
            "{err}"
        );
    }

    #[test]
    fn weights_and_kv_are_read_at_the_bandwidth_and_energy_of_their_tiers() {
        let ops = vec![
            OperatorRow {
                flops_per_token: 1e3,
                weight_bytes: 1e8,
                bytes_per_token: 1e3,
                ..op("mm", "bf16", 1.0)
            },
            OperatorRow {
                bytes_per_token: 10.0,
                bytes_per_kv_token: 1e3,
                ..op("attention", "bf16", 1.0)
            },
        ];
        let b = builder(&[("tensor", "bf16", 1e14, 1.0)], ops);
        let tiers = |w: u32, kv: u32| Extra {
            pools: vec![("weights_memory", u32s(&[w])), ("kv_memory", u32s(&[kv]))],
            memories: Some(table(vec![
                ("chip", u32s(&[0, 0])),
                ("name", strs(&["sram", "hbm"])),
                ("capacity_bytes", f64s(&[1e9, 80e9])),
                ("bandwidth", f64s(&[1e14, 1e12])),
                ("efficiency", f64s(&[1.0, 0.5])),
                ("energy_per_byte", f64s(&[1e-13, 4e-12])),
            ])),
            ..Default::default()
        };
        let s = StepStats {
            tokens: 1.0,
            sampled: 1.0,
            attn_pairs: 1e5,
            kv_read_tokens: 1e5,
        };
        // Weights (and activations) in SRAM at 1e14 B/s, KV in HBM at 1e12 × 0.5.
        let c = cost_of(&decode(&b, &tiers(0, 1)).unwrap());
        let mm = (1e3 / 1e14_f64).max((1e8 + 1e3) / 1e14);
        let at = 10.0 / 1e14 + 1e8 / 5e11;
        close(c.step_seconds(&s), 1e-4 + mm + at);
        let dynamic = (1e8 + 1e3) * 1e-13 + 10.0 * 1e-13 + 1e8 * 4e-12;
        let d = c.step_seconds(&s);
        close(c.step_energy_j(&s, d), 50.0 * d + dynamic);
        // Everything in HBM: every byte at 5e11 B/s and 4 pJ.
        let c = cost_of(&decode(&b, &tiers(1, 1)).unwrap());
        close(
            c.step_seconds(&s),
            1e-4 + (1e8 + 1e3) / 5e11 + (10.0 + 1e8) / 5e11,
        );
        // Without placement columns the chips row's memory (1 TB/s) is used and no per-byte energy is drawn:
        // the power model (busy power 0 W here) applies.
        let c = cost_of(&decode(&b, &Extra::default()).unwrap());
        close(
            c.step_seconds(&s),
            1e-4 + (1e8 + 1e3) / 1e12 + (10.0 + 1e8) / 1e12,
        );
        assert!(!c.energy_model);
        assert_eq!(c.step_energy_j(&s, 1.0), 0.0);
    }

    #[test]
    fn profile_overrides_the_roofline_exactly_at_measured_points_and_interpolates_between() {
        let mm = OperatorRow {
            flops_per_token: 1e9,
            weight_bytes: 1e6,
            bytes_per_token: 1e3,
            ..op("mm", "bf16", 2.0)
        };
        let b = builder(&[("tensor", "bf16", 1e14, 1.0)], vec![mm]);
        let profile = |tp: u32| Extra {
            profiles: Some(table(vec![
                ("chip", u32s(&[0, 0, 0, 0])),
                ("model", strs(&["", "", "", "other"])),
                ("operator", strs(&["mm", "mm", "mm", "mm"])),
                ("tp", u32s(&[tp, tp, tp, tp])),
                ("stat", strs(&["tokens", "tokens", "tokens", "tokens"])),
                ("x", f64s(&[64.0, 16.0, 256.0, 16.0])),
                ("seconds", f64s(&[3e-4, 1e-4, 7e-4, 9.0])),
            ])),
            ..Default::default()
        };
        let c = cost_of(&decode(&b, &profile(1)).unwrap());
        let at = |t: f64| {
            c.step_seconds(&StepStats {
                tokens: t,
                ..Default::default()
            })
        };
        // Measured points: the overhead plus count (2) × the measured time, exactly (the row for model
        // 'other' is ignored).
        assert_eq!(at(16.0), 1e-4 + 2.0 * 1e-4);
        assert_eq!(at(64.0), 1e-4 + 2.0 * 3e-4);
        assert_eq!(at(256.0), 1e-4 + 2.0 * 7e-4);
        // Between: linear in tokens.
        close(at(40.0), 1e-4 + 2.0 * 2e-4);
        close(at(160.0), 1e-4 + 2.0 * 5e-4);
        // Outside the measured range: the roofline, max(2e9 t / 1e14, 2 (1e6 + 1e3 t) / 1e12).
        let roof = |t: f64| 1e-4 + (2e9 * t / 1e14_f64).max(2.0 * (1e6 + 1e3 * t) / 1e12);
        close(at(8.0), roof(8.0));
        close(at(1000.0), roof(1000.0));
        // Measurements at another tensor-parallel degree do not apply.
        let c = cost_of(&decode(&b, &profile(2)).unwrap());
        close(
            c.step_seconds(&StepStats {
                tokens: 16.0,
                ..Default::default()
            }),
            roof(16.0),
        );
        // A chip's kernel overhead is part of what a profile measured: measured points stay exact, and the
        // roofline outside the range pays it per occurrence (2 here).
        let with_kernel = Extra {
            chips: vec![("kernel_overhead_s", f64s(&[5e-6]))],
            ..profile(1)
        };
        let c = cost_of(&decode(&b, &with_kernel).unwrap());
        let at = |t: f64| {
            c.step_seconds(&StepStats {
                tokens: t,
                ..Default::default()
            })
        };
        assert_eq!(at(64.0), 1e-4 + 2.0 * 3e-4);
        close(at(1000.0), roof(1000.0) + 2.0 * 5e-6);
    }

    #[test]
    fn malformed_hardware_is_rejected_when_the_plan_is_decoded() {
        let b = builder(&OPTICAL_CHIP, optical_ops());
        let err = |x: Extra| decode(&b, &x).unwrap_err().to_string();
        let e = err(Extra {
            chips: vec![("matmul_engine", strs(&["photonic"]))],
            ..optical_extra("optical")
        });
        assert!(e.contains("matmul_engine names 'photonic'"), "{e}");
        let e = err(Extra {
            chips: vec![("kernel_overhead_s", f64s(&[-1e-6]))],
            ..optical_extra("optical")
        });
        assert!(e.contains("kernel_overhead_s"), "{e}");
        let mut x = optical_extra("optical");
        x.engines[2] = ("conversion_bw", f64s(&[0.0, 0.0, 0.0]));
        assert!(err(x).contains("needs a conversion rate"));
        let mut x = optical_extra("optical");
        x.pools = vec![("weights_memory", u32s(&[3]))];
        assert!(err(x).contains("refers to memories row 3"));
        let mut x = optical_extra("optical");
        x.profiles = Some(table(vec![
            ("chip", u32s(&[0, 0])),
            ("model", strs(&["", ""])),
            ("operator", strs(&["mm", "mm"])),
            ("tp", u32s(&[1, 1])),
            ("stat", strs(&["tokens", "sampled"])),
            ("x", f64s(&[1.0, 2.0])),
            ("seconds", f64s(&[1e-4, 2e-4])),
        ]));
        assert!(err(x).contains("measured against both"));
    }

    fn curve(xs: &[f64], ys: &[f64]) -> Curve {
        Curve {
            stat: 0,
            xs: xs.to_vec(),
            ys: ys.to_vec(),
        }
    }

    fn at(c: &Curve, tokens: f64) -> Option<f64> {
        c.at(&StepStats {
            tokens,
            ..Default::default()
        })
    }

    #[test]
    fn curve_is_exact_at_measured_points_linear_between_and_absent_outside() {
        let c = curve(&[16.0, 64.0, 256.0], &[1.0e-4, 1.7e-4, 5.3e-4]);
        assert_eq!(at(&c, 16.0), Some(1.0e-4));
        assert_eq!(at(&c, 64.0), Some(1.7e-4));
        assert_eq!(at(&c, 256.0), Some(5.3e-4));
        let mid = at(&c, 40.0).unwrap();
        assert!((mid - (1.0e-4 + 0.7e-4 * 0.5)).abs() < 1e-18, "{mid}");
        let hi = at(&c, 160.0).unwrap();
        assert!((hi - (1.7e-4 + 3.6e-4 * 0.5)).abs() < 1e-18, "{hi}");
        assert_eq!(at(&c, 15.0), None);
        assert_eq!(at(&c, 257.0), None);
        let one = curve(&[8.0], &[2e-5]);
        assert_eq!(at(&one, 8.0), Some(2e-5));
        assert_eq!(at(&one, 9.0), None);
    }
}
