//! The valid plans every case starts from, as builder rows and as tables (with every optional column and
//! table for a `Hardware` base).

use arrow_array::{Array, ArrayRef, StructArray};
use proptest::prelude::*;

use infera_core::builder::{tiny_dense_plan, PlanBuilder, PoolRow, WorkloadRow};

use super::tweaks::PoolExtras;
use crate::common::{bool_array, columns, f64_array, rebuild, str_array, u32_array};

#[derive(Debug, Clone)]
pub enum Base {
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

pub fn base_strategy() -> impl Strategy<Value = Base> {
    prop_oneof![
        (1usize..6, any::<bool>()).prop_map(|(requests, slos)| Base::Dense { requests, slos }),
        (1usize..5).prop_map(|requests| Base::Disaggregated { requests }),
        (1usize..5, 1u32..4).prop_map(|(requests, users)| Base::Closed { requests, users }),
        (1usize..5).prop_map(|requests| Base::Hardware { requests }),
    ]
}

/// A table of the named columns (all of one length).
fn struct_of(cols: Vec<(&str, ArrayRef)>) -> StructArray {
    let len = cols[0].1.len();
    let cols = cols.into_iter().map(|(n, a)| (n.to_string(), a)).collect();
    rebuild(cols, len).expect("columns of one length")
}

/// `sa` with the named columns added.
fn extend(sa: &StructArray, extra: Vec<(&str, ArrayRef)>) -> StructArray {
    let mut cols = columns(sa);
    cols.extend(extra.into_iter().map(|(n, a)| (n.to_string(), a)));
    rebuild(cols, sa.len()).expect("columns of one length")
}

pub fn base_builder(base: &Base) -> PlanBuilder {
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

pub fn base_tables(base: &Base) -> Vec<(String, StructArray)> {
    tables_of(base, &base_builder(base), &PoolExtras::default())
}

/// The tables of builder `b` (made from `base`), with the optional hardware columns and tables of a
/// `Hardware` base and the pool columns of `extras`.
pub fn tables_of(base: &Base, b: &PlanBuilder, extras: &PoolExtras) -> Vec<(String, StructArray)> {
    let mut tables: Vec<(String, StructArray)> = b
        .tables()
        .into_iter()
        .map(|(n, t)| (n.to_string(), t))
        .collect();
    let n_pools = b.pools.len();
    for (name, t) in tables.iter_mut() {
        if name == "pools" {
            let mut extra: Vec<(&str, ArrayRef)> = Vec::new();
            let col = |v: f64| -> ArrayRef { f64_array(&vec![v; n_pools]) };
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
                    ("matmul_engine", str_array(&["tensor"])),
                    ("attention_engine", str_array(&[""])),
                ],
                "engines" if b.engines.len() == 2 => vec![
                    ("name", str_array(&["tensor", "vector"])),
                    ("energy_per_flop", f64_array(&[5e-13, 1e-12])),
                    ("conversion_bw", f64_array(&[0.0, 0.0])),
                    ("conversion_energy_per_byte", f64_array(&[0.0, 0.0])),
                ],
                "operators" => {
                    let n = b.operators.len();
                    vec![
                        ("experts", f64_array(&vec![0.0; n])),
                        ("experts_per_token", f64_array(&vec![0.0; n])),
                    ]
                }
                "runs" => {
                    let n = b.runs.len();
                    vec![
                        ("keep_requests", bool_array(&vec![true; n])),
                        ("keep_iterations", bool_array(&vec![false; n])),
                        ("keep_token_stats", bool_array(&vec![true; n])),
                    ]
                }
                "pools" => vec![
                    ("weights_memory", u32_array(&vec![0; n_pools])),
                    ("kv_memory", u32_array(&vec![1; n_pools])),
                ],
                _ => continue,
            };
            *t = extend(t, extra);
        }
        tables.push((
            "memories".into(),
            struct_of(vec![
                ("chip", u32_array(&[0, 0])),
                ("name", str_array(&["hbm", "sram"])),
                ("capacity_bytes", f64_array(&[16e9, 1e9])),
                ("bandwidth", f64_array(&[1e12, 1e13])),
                ("efficiency", f64_array(&[1.0, 0.9])),
                ("energy_per_byte", f64_array(&[5e-12, 1e-12])),
            ]),
        ));
        tables.push((
            "profiles".into(),
            struct_of(vec![
                ("chip", u32_array(&[0, 0])),
                ("model", str_array(&["", "tiny-dense"])),
                ("operator", str_array(&["mlp", "mlp"])),
                ("tp", u32_array(&[1, 1])),
                ("stat", str_array(&["tokens", "tokens"])),
                ("x", f64_array(&[1.0, 512.0])),
                ("seconds", f64_array(&[1e-5, 1e-4])),
            ]),
        ));
    }
    tables
}
