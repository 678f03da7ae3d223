//! Decoding the `chips` and `engines` tables: each chip with its engines, kernel overhead and engine
//! routes (`matmul_engine`, `attention_engine`), and the checks that the routes name engines the chip has.

use std::collections::HashMap;

use arrow_array::RecordBatch;

use crate::error::{plan_err, PlanResult};
use crate::plan::chip::{Chip, Engine, KernelShape};
use crate::plan::table::with_table;

/// The chips with their engines (memory tiers and profiles are added by their own tables).
pub fn decode(batch: &RecordBatch) -> PlanResult<Vec<Chip>> {
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
        let chips = (0..t.len())
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
                kernels: KernelShape::default(),
            })
            .collect::<Vec<_>>();
        for (i, c) in chips.iter().enumerate() {
            if c.memory_efficiency > 1.0 {
                return Err(t.in_cell(
                    "memory_efficiency",
                    i,
                    plan_err!("chip '{}': memory_efficiency must be in (0, 1]", c.name),
                ));
            }
        }
        Ok(chips)
    })?;

    with_table(batch, "engines", |t| {
        let chip = t.index("chip", "chips", chips.len())?;
        let kind = t.strings("kind")?;
        let dtype = t.strings("dtype")?;
        let flops = t.positive("flops")?;
        let eff = t.positive("efficiency")?;
        for i in 0..t.len() {
            if eff[i] > 1.0 {
                return Err(t.in_cell(
                    "efficiency",
                    i,
                    plan_err!("engines row {}: efficiency must be in (0, 1]", i),
                ));
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
    hardware(batch, &mut chips)?;
    Ok(chips)
}

fn split_route(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

/// Reads the optional hardware columns of `chips` (kernel overhead, engine routes) and of `engines`
/// (names, energy, operand converters). A plan without them prices steps with one engine kind per
/// operator and busy power × time.
fn hardware(batch: &RecordBatch, chips: &mut [Chip]) -> PlanResult<()> {
    with_table(batch, "chips", |t| {
        if t.has("kernel_overhead_s") {
            for (i, v) in t.nonneg("kernel_overhead_s")?.into_iter().enumerate() {
                chips[i].kernel_overhead_s = v;
            }
        }
        for col in KernelShape::COLUMNS {
            if !t.has(col) {
                continue;
            }
            for (i, v) in t.nonneg(col)?.into_iter().enumerate() {
                if col.ends_with("_efficiency") && v > 1.0 {
                    return Err(t.in_cell(
                        col,
                        i,
                        plan_err!(
                            "chip '{}': {} must be in [0, 1] (0: unset)",
                            chips[i].name,
                            col
                        ),
                    ));
                }
                chips[i].kernels.set(col, v);
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
        let opt = |col: &str| -> PlanResult<Vec<f64>> {
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
                return Err(t.in_cell(
                    "conversion_bw",
                    i,
                    plan_err!("engines row {}: conversion_bw must be >= 0", i),
                ));
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
    })
}

/// Checks, once every engine is known, that each chip's routes name engines it has and that each optical
/// engine has operand converters.
pub fn check_routes(chips: &[Chip]) -> PlanResult<()> {
    for (i, c) in chips.iter().enumerate() {
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
                    )
                    .table("chips")
                    .column(what)
                    .row(i));
                }
            }
        }
        for e in &c.engines {
            if e.kind == "optical" && e.conversion_bw <= 0.0 {
                return Err(plan_err!(
                    "chip '{}': optical engine '{}' needs a conversion rate (conversion_bw > 0)",
                    c.name,
                    e.name
                )
                .table("engines")
                .column("conversion_bw"));
            }
        }
    }
    Ok(())
}
