//! Decoding the optional `profiles` table: measured operator times that override the roofline of a chip
//! where they have data (`docs/calibration.md`).

use arrow_array::RecordBatch;

use crate::error::{plan_err, PlanResult};
use crate::plan::chip::{Chip, ProfilePoint, PROFILE_STATS};
use crate::plan::table::{has_table, with_table};

/// Adds each `profiles` row to its chip's profile; one operator (of one model, at one tp) is measured
/// against one statistic, once per point.
pub fn decode(batch: &RecordBatch, chips: &mut [Chip]) -> PlanResult<()> {
    if !has_table(batch, "profiles") {
        return Ok(());
    }
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
                        return Err(t.in_cell("stat", i, plan_err!(
                            "profiles row {}: chip '{}' operator '{}' (tp={}) is measured against both '{}' and '{}'",
                            i, c.name, operator[i], tp[i], p.stat, stat[i]
                        )));
                    }
                    if p.x == x[i] {
                        return Err(t.in_cell("x", i, plan_err!(
                            "profiles row {}: chip '{}' operator '{}' (tp={}) has two times at {} = {}",
                            i, c.name, operator[i], tp[i], stat[i], x[i]
                        )));
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
    })
}
