//! Decoding the optional `memories` table (each chip's memory tiers) and the optional `pools` columns
//! `weights_memory` and `kv_memory` that place a pool's weights and KV cache on those tiers.

use std::collections::HashMap;

use arrow_array::RecordBatch;

use crate::error::{plan_err, PlanResult};
use crate::plan::chip::{Chip, Memory};
use crate::plan::system::Pool;
use crate::plan::table::{has_table, with_table};

/// Adds each `memories` row to its chip's tiers (a plan without the table keeps one memory per chip).
pub fn decode(batch: &RecordBatch, chips: &mut [Chip]) -> PlanResult<()> {
    if !has_table(batch, "memories") {
        return Ok(());
    }
    with_table(batch, "memories", |t| {
        let chip = t.index("chip", "chips", chips.len())?;
        let name = t.strings("name")?;
        let cap = t.nonneg("capacity_bytes")?;
        let bw = t.positive("bandwidth")?;
        let eff = t.positive("efficiency")?;
        let energy = t.optional("energy_per_byte", 0.0, |t, c| t.nonneg(c))?;
        for i in 0..t.len() {
            if eff[i] > 1.0 {
                return Err(t.in_cell(
                    "efficiency",
                    i,
                    plan_err!("memories row {}: efficiency must be in (0, 1]", i),
                ));
            }
            let c = &mut chips[chip[i]];
            if c.memories.iter().any(|m| m.name == name[i]) {
                return Err(t.in_cell(
                    "name",
                    i,
                    plan_err!("chip '{}': two memories named '{}'", c.name, name[i]),
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
    })
}

/// Reads the optional `pools` columns `weights_memory` and `kv_memory` (rows of `memories`, which must
/// belong to the pool's chip) into each pool as indices into its chip's memories.
pub fn place(batch: &RecordBatch, chips: &[Chip], pools: &mut [Pool]) -> PlanResult<()> {
    let mem_rows: Vec<(usize, usize)> = if has_table(batch, "memories") {
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
                    return Err(t.in_cell(
                        col,
                        i,
                        plan_err!(
                            "pools row {}: {} refers to a memory of chip '{}', not of the pool's chip '{}'",
                            i,
                            col,
                            chips[chip].name,
                            chips[pools[i].chip].name
                        ),
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
