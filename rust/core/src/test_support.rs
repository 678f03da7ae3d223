//! Fixtures shared by the crate's unit tests: Arrow column builders, a float comparison, and plans from
//! the builder with the optional hardware columns and tables (engine names, routes, converters, memory
//! tiers, profiles) added, decoded the way a compiled plan is.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, StringArray, StructArray, UInt32Array};
use arrow_schema::{Field, Fields};

use crate::error::Result;
use crate::plan::builder::{
    pack, single_pool, ChipRow, ModelRow, OperatorRow, PlanBuilder, PoolRow,
};
use crate::plan::Plan;

/// Asserts `actual` is `expected` to 1e-12 relative.
/// Hand count of an all-reduce of `m` bytes over `p` chips of one node (link bandwidth `bw`, latency `lat`): the
/// fastest of a ring, a two-shot (direct reduce-scatter + all-gather) and a one-shot (read every peer).
pub fn in_node_all_reduce(p: f64, m: f64, bw: f64, lat: f64) -> f64 {
    let ring = 2.0 * (p - 1.0) / p * m / bw + 2.0 * (p - 1.0) * lat;
    let two_shot = 2.0 * ((p - 1.0) / p * m / bw + lat);
    let one_shot = (p - 1.0) * m / bw + lat;
    ring.min(two_shot).min(one_shot)
}

pub fn close(actual: f64, expected: f64) {
    let tol = 1e-12 * expected.abs().max(1e-300);
    assert!(
        (actual - expected).abs() <= tol,
        "expected {expected:e}, got {actual:e}"
    );
}

pub fn strs(v: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}
pub fn f64s(v: &[f64]) -> ArrayRef {
    Arc::new(Float64Array::from(v.to_vec()))
}
pub fn u32s(v: &[u32]) -> ArrayRef {
    Arc::new(UInt32Array::from(v.to_vec()))
}

/// A table from named columns, none nullable.
pub fn table(cols: Vec<(&str, ArrayRef)>) -> StructArray {
    let fields: Fields = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), false))
        .collect();
    StructArray::new(fields, cols.into_iter().map(|(_, a)| a).collect(), None)
}

pub fn extend(sa: &StructArray, extra: &[(&str, ArrayRef)]) -> StructArray {
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
pub struct Extra {
    pub chips: Vec<(&'static str, ArrayRef)>,
    pub engines: Vec<(&'static str, ArrayRef)>,
    pub pools: Vec<(&'static str, ArrayRef)>,
    pub memories: Option<StructArray>,
    pub profiles: Option<StructArray>,
}

/// The builder's plan with `x` added, decoded.
pub fn decode(b: &PlanBuilder, x: &Extra) -> Result<Plan> {
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

pub fn op(name: &str, dtype: &str, count: f64) -> OperatorRow {
    OperatorRow {
        name: name.into(),
        dtype: dtype.into(),
        count,
        ..Default::default()
    }
}

/// One chip (1 TB/s at 100 %, 50 W idle) with `engines` (kind, dtype, FLOP/s, efficiency), a model with
/// operators `ops`, and one single-chip pool with 0.1 ms of step overhead.
pub fn builder(engines: &[(&str, &str, f64, f64)], ops: Vec<OperatorRow>) -> PlanBuilder {
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

pub const OPTICAL_CHIP: [(&str, &str, f64, f64); 3] = [
    ("tensor", "bf16", 1e14, 1.0),
    ("vector", "bf16", 1e13, 1.0),
    ("optical", "int8", 4e14, 0.5),
];

/// The optical chip: matmuls routed to the optical engine (0.1 pJ/FLOP, converters at 10 GB/s and
/// 2 pJ/B), tensor engine at 0.5 pJ/FLOP, one HBM tier at 5 pJ/B.
pub fn optical_extra(matmul: &str) -> Extra {
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

pub fn optical_ops() -> Vec<OperatorRow> {
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
